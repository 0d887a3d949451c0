"""Fill a sandbox user's Maildir with realistic mail, fast, and keep the answer key.

Messages are written straight into Dovecot's Maildir++ layout (``cur/`` files, ``.Name``
folders in modified UTF-7, ``.`` as the on-disk separator), which is ~200 times faster than
APPENDing them: 20,000 messages take a second or two. Each file's mtime is the message's
``date``, which Dovecot reports as INTERNALDATE; its name carries the flags (``:2,FS``) and the
size (``S=``/``W=``, so Dovecot need not read the file to answer RFC822.SIZE). File names start
with a strictly increasing number because Dovecot gives new files their UIDs in file-name
order: a folder's messages get UIDs 1, 2, 3 ... in the order they were written.

:func:`seed_testbed` builds the shared test mailbox from the hand-written messages of
``mailcatalog``, ``mailfolders`` and ``mailsamples`` and the bulk generator of ``mailgen``
(re-exported here: :func:`inbox_messages`, :func:`small_folders`, :func:`bulk_messages`).
Every :class:`SeedMessage` keeps the values a client must decode from it.
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from .dovecot_config import SPECIAL_USE
from .mailbuild import build_message
from .mailcatalog import inbox_messages
from .mailfolders import small_folders
from .mailgen import BULK_COUNT, BULK_SEED, bulk_messages
from .mailmodel import AddressEntry, SeedAddress, SeedAttachment, SeedGroup, SeedMessage, Wire
from .mailsamples import attachment_messages

if TYPE_CHECKING:
    from .dovecot import DovecotServer

__all__ = [
    "BULK_COUNT",
    "BULK_SEED",
    "SPECIAL_USE",
    "AddressEntry",
    "MaildirWriter",
    "SeedAddress",
    "SeedAttachment",
    "SeedGroup",
    "SeedMessage",
    "Testbed",
    "Wire",
    "build_message",
    "bulk_messages",
    "encode_mutf7",
    "inbox_messages",
    "seed_testbed",
    "small_folders",
]

# Maildir file names start at this number; it only orders files, it is not a date.
_NAME_BASE = 1_000_000_000


# -- modified UTF-7 (RFC 3501 section 5.1.3) -----------------------------------------------------


def encode_mutf7(name: str) -> str:
    """A folder name in modified UTF-7: printable ASCII as itself (``&`` as ``&-``), the rest as
    ``&`` + base64 of UTF-16BE with ``,`` for ``/`` + ``-``."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            b64 = binascii.b2a_base64(raw, newline=False).decode("ascii").rstrip("=")
            out.append("&" + b64.replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


# -- writing Maildir++ -----------------------------------------------------------------------------


class MaildirWriter:
    """Writes folders and message files into one user's Maildir++ root, as Dovecot lays it out.

    ``owner`` is the (uid, gid) to give every created file and folder (the sandbox's mail user
    when running as root), or None to leave ownership alone.
    """

    def __init__(self, maildir: Path, owner: tuple[int, int] | None = None) -> None:
        self.maildir = maildir
        self.owner = owner

    def folder_path(self, folder: str) -> Path:
        """``INBOX`` is the root; ``Archive/2024`` is ``.Archive.2024`` (names in mUTF-7)."""
        if folder.upper() == "INBOX":
            return self.maildir
        parts = folder.split("/")
        for part in parts:
            # Maildir++ uses "." as its separator on disk, so a name cannot contain one
            if not part or "." in part:
                raise ValueError(f"folder name not representable in Maildir++: {folder!r}")
        return self.maildir / ("." + ".".join(encode_mutf7(p) for p in parts))

    def _mkdir(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self.owner is not None:
            os.chown(path, *self.owner)

    def create_folder(self, folder: str) -> Path:
        path = self.folder_path(folder)
        self._mkdir(self.maildir)
        self._mkdir(path)
        for sub in ("cur", "new", "tmp"):
            self._mkdir(path / sub)
        if path != self.maildir:
            marker = path / "maildirfolder"
            marker.touch()
            if self.owner is not None:
                os.chown(marker, *self.owner)
        return path

    def count(self, folder: str) -> int:
        """How many messages ``folder`` holds on disk now (``cur/`` and ``new/``)."""
        path = self.folder_path(folder)
        return sum(
            1
            for sub in ("cur", "new")
            if (path / sub).is_dir()
            for name in os.listdir(path / sub)
            if not name.startswith(".")
        )

    def write(self, folder: str, messages: Iterable[SeedMessage]) -> list[SeedMessage]:
        """Write ``messages`` into ``folder``'s ``cur/``, in order, and fill in their uid, size,
        folder and filename. Messages already in the folder keep their UIDs; new ones follow."""
        cur = self.create_folder(folder) / "cur"
        existing = [name for name in os.listdir(cur) if not name.startswith(".")]
        number = max((int(n.split(".", 1)[0]) for n in existing), default=_NAME_BASE - 1) + 1
        uid = len(existing) + 1
        written = []
        owner = self.owner
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        for msg in messages:
            data = build_message(msg)
            size = len(data)
            # S= and W= (physical and virtual size: equal, as every line ends in CRLF) let
            # Dovecot answer RFC822.SIZE without reading the file.
            name = f"{number}.{uid}.sandbox,S={size},W={size}:2,{msg.flag_letters}"
            fd = os.open(cur / name, flags, 0o600)
            try:
                os.write(fd, data)
                if owner is not None:
                    os.fchown(fd, *owner)
                stamp = msg.date.timestamp()
                os.utime(fd, (stamp, stamp))  # Dovecot's INTERNALDATE for Maildir is the mtime
            finally:
                os.close(fd)
            msg.uid, msg.size, msg.folder, msg.filename = uid, size, folder, name
            written.append(msg)
            number += 1
            uid += 1
        return written

    def subscribe(self, folders: Iterable[str]) -> None:
        """Write Dovecot's ``subscriptions`` file (version 2: tab-separated hierarchy, mUTF-7)."""
        names = sorted({f for f in folders if f.upper() != "INBOX"})
        lines = "".join("\t".join(encode_mutf7(p) for p in f.split("/")) + "\n" for f in names)
        path = self.maildir / "subscriptions"
        path.write_text("V\t2\n\n" + lines, encoding="ascii")
        if self.owner is not None:
            os.chown(path, *self.owner)


# -- the test bed ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Testbed:
    """A seeded user: every folder's messages in UID order (``folders["INBOX"][0].uid == 1``).

    Folder keys are the names a client shows (decoded, ``/``-separated): ``"Отчёты/2024"``.
    """

    __test__: ClassVar[bool] = False  # not a pytest test class, despite its name

    user: str
    folders: dict[str, list[SeedMessage]] = field(default_factory=dict)

    @property
    def inbox(self) -> list[SeedMessage]:
        return self.folders["INBOX"]

    @property
    def bulk(self) -> list[SeedMessage]:
        return self.folders["Bulk"]

    def with_tag(self, tag: str, folder: str = "INBOX") -> list[SeedMessage]:
        """The messages of ``folder`` carrying ``tag``, in UID order."""
        return [m for m in self.folders[folder] if tag in m.tags]

    def tagged(self, tag: str, folder: str = "INBOX") -> SeedMessage:
        """The one message of ``folder`` tagged ``tag`` (tags: see :func:`inbox_messages`)."""
        found = self.with_tag(tag, folder)
        if len(found) != 1:
            raise KeyError(f"{len(found)} messages tagged {tag!r} in {folder}")
        return found[0]

    def special_use(self) -> dict[str, str]:
        return {name: flag for name, flag in SPECIAL_USE.items() if name in self.folders}


def seed_testbed(
    server: DovecotServer, user: str, *, bulk_count: int = BULK_COUNT, seed: int = BULK_SEED
) -> Testbed:
    """Seed ``user`` (added without a password if the server does not know it yet).

    INBOX gets :func:`inbox_messages`; ``Bulk`` gets ``bulk_count`` generated messages; the
    special-use folders, ``Entwürfe``, ``Отчёты`` (with ``Отчёты/2024``), ``日本語``,
    ``Projects`` (with ``Projects/Alpha``) and ``Archive/2024`` get a few each; ``Attachments``
    gets one message per kind of part (see ``mailsamples``). Call it before
    a client opens those folders (messages must be new to Dovecot to get UIDs in order).
    """
    if user.lower() not in server.users:
        server.add_user(user)
    writer = MaildirWriter(server.maildir(user), server.mail_owner)
    bed = Testbed(user)
    contents = {
        "INBOX": inbox_messages(user),
        **small_folders(user),
        "Attachments": attachment_messages(user),
    }
    for folder, messages in contents.items():
        bed.folders[folder] = writer.write(folder, messages)
    bed.folders["Bulk"] = writer.write("Bulk", bulk_messages(user, bulk_count, seed=seed))
    writer.subscribe(bed.folders)
    return bed
