"""Reading what an import takes in: Maildirs, mboxes and folders of .eml files, lazily.

``find_folders(source)`` says what a path holds, as :class:`SourceFolder`s (one per folder of
mail, with its name's parts relative to the source); each folder's ``iter_messages()`` yields
:class:`SourceMessage`s one at a time, never reading a message before it is wanted:

- a directory with ``cur/`` and ``new/`` is a Maildir; under it, ``.A.B`` directories are
  Maildir++ subfolders (``A/B``, names in modified UTF-7 as Dovecot writes them), and the
  root itself is INBOX; flags are the info letters and ``dovecot-keywords``, the internal
  date the file's modification time (what Dovecot and mutt read);
- a file is an mbox (mboxo or mboxrd, LF or CRLF): each message a byte range between
  ``From `` lines, its date from that line, its flags from ``Status``/``X-Status``/
  ``X-Keywords`` (headers a mail program or the export added, removed again on import);
- a directory of ``*.eml`` files is one folder; an ``index.json`` beside them (the export's,
  with the ``index.jsonl`` a killed export left) gives flags and internal dates, else the
  files' modification times do;
- any other directory is a tree of these, walked; folder names come back from the export's
  escapes (``_layout.unescape``).

Bytes go to the server as IMAP wants them (RFC 3501: CRLF line ends): a message already in
CRLF goes as it is, byte for byte, straight from its file; one with LF line ends, and every
mbox message (unquoted, its mbox headers removed), is rewritten through a bounded buffer into
a temporary file first, since APPEND announces the size before the bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO, Literal, cast

from o365imap.errors import UsageError
from o365imap.protocol.utf7 import decode_utf7

from ._layout import unescape
from ._store import SYSTEM_FLAGS

__all__ = ["SourceFolder", "SourceMessage", "find_folders", "message_id"]

Kind = Literal["maildir", "mbox", "eml"]

_CHUNK = 64 * 1024
_LINE = 64 * 1024  # an mbox is read a line at a time, at most this much of a line at once
_HEAD = 64 * 1024  # bytes read for a message's headers (Message-ID, Date)
_SPOOL = 1 << 20  # a rewritten message stays in memory up to this, then goes to a file
_LETTER_FLAGS = {letter: flag for flag, letter in SYSTEM_FLAGS.items()}
_KEYWORD_LETTERS = "abcdefghijklmnopqrstuvwxyz"
# Headers an mbox carries for its mail programs, not the message's own (Dovecot hides the same).
_MBOX_HEADERS = (b"status", b"x-status", b"x-keywords", b"x-uid", b"x-imap", b"x-imapbase")
_MBOX_HEADERS_OURS = (b"x-o365imap-uid",)
_FROM_DATE = re.compile(
    rb"([A-Z][a-z]{2}) +([A-Z][a-z]{2}) +(\d{1,2}) +(\d{1,2}:\d{2}(?::\d{2})?) +(\d{4})"
)
_QUOTED_FROM = re.compile(rb"^>+From ")
_EXPORTED = re.compile(r"^\d+\.M(\d+)U(\d+)\.o365imap,")  # the export's Maildir file names


@dataclass
class SourceMessage:
    """One message of a source: where its bytes are, its flags and internal date."""

    key: str  # stable across runs: what the import's journal remembers it by
    flags: tuple[str, ...]
    internaldate: datetime | None
    path: Path
    offset: int = 0  # an mbox message: a byte range of its file
    length: int | None = None  # None: the whole file
    mbox: bool = False
    _head: bytes | None = field(default=None, repr=False)

    @property
    def disk_size(self) -> int:
        """Its bytes in the source (before line ends are made CRLF)."""
        return self.length if self.length is not None else self.path.stat().st_size

    def head(self) -> bytes:
        """The message's first bytes: its headers, for Message-ID and Date."""
        if self._head is None:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                self._head = handle.read(min(_HEAD, self.length or _HEAD))
        return self._head

    @contextlib.contextmanager
    def open(self) -> Iterator[BinaryIO | Path]:
        """The message as APPEND takes it: the file itself when its bytes are already what
        the server gets (CRLF), else a temporary copy rewritten so (mbox, LF line ends)."""
        if not self.mbox and _is_crlf(self.head()):
            yield self.path
            return
        with (
            open(self.path, "rb") as handle,
            tempfile.SpooledTemporaryFile(max_size=_SPOOL) as spooled,
        ):
            spool = cast("BinaryIO", spooled)  # it reads and seeks as one
            handle.seek(self.offset)
            if self.mbox:
                _copy_mbox_message(handle, self.length or 0, spool)
            else:
                _copy_crlf(handle, spool)
            spool.seek(0)
            yield spool


@dataclass(frozen=True)
class SourceFolder:
    """One folder of mail in a source."""

    kind: Kind
    path: Path
    parts: tuple[str, ...]  # its name, relative to the source ("INBOX", or ("Work", "2024"))

    def iter_messages(self) -> Iterator[SourceMessage]:
        if self.kind == "maildir":
            return _maildir_messages(self.path)
        if self.kind == "mbox":
            return _mbox_messages(self.path)
        return _eml_messages(self.path)

    def size(self) -> int:
        """Its bytes on disk (what a progress bar counts)."""
        if self.kind == "mbox":
            return self.path.stat().st_size
        total = 0
        subs = ("cur", "new") if self.kind == "maildir" else (".",)
        for sub in subs:
            with os.scandir(self.path / sub) as entries:
                for entry in entries:
                    if entry.is_file() and (self.kind == "maildir" or entry.name.endswith(".eml")):
                        total += entry.stat().st_size
        return total


# -- finding folders ---------------------------------------------------------------------------


def find_folders(source: Path) -> list[SourceFolder]:
    """Every folder of mail at ``source``; UsageError when it is none of the kinds read."""
    try:
        if source.is_file():
            return [SourceFolder("mbox", source, (_mbox_name(source),))]
        if not source.is_dir():
            raise UsageError(f"{source} is neither a file nor a directory")
        found = list(_walk(source, ()))
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}") from exc
    if not found:
        raise UsageError(f"{source} holds no Maildir, mbox or .eml files")
    return found


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


def _walk(path: Path, parts: tuple[str, ...]) -> Iterator[SourceFolder]:
    if _is_maildir(path):
        yield SourceFolder("maildir", path, parts or ("INBOX",))
        yield from _maildir_plus(path, parts)
    entries = sorted(os.scandir(path), key=lambda e: e.name)
    if any(e.name.endswith(".eml") and e.is_file() for e in entries):
        yield SourceFolder("eml", path, parts or (unescape(path.name),))
    for entry in entries:
        if entry.name.startswith(".") or "~uidvalidity-" in entry.name:
            continue  # hidden (the export's own .o365imap), or an old copy the export retired
        if entry.is_dir(follow_symlinks=False):
            if entry.name in ("cur", "new", "tmp") and _is_maildir(path):
                continue
            yield from _walk(Path(entry.path), (*parts, unescape(entry.name)))
        elif entry.name.endswith(".mbox") and entry.is_file():
            yield SourceFolder("mbox", Path(entry.path), (*parts, _mbox_name(Path(entry.path))))


def _maildir_plus(root: Path, parts: tuple[str, ...]) -> Iterator[SourceFolder]:
    """Maildir++ subfolders: ``.A.B`` beside ``cur/`` is the folder ``A/B``."""
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.name.startswith(".") and entry.is_dir() and _is_maildir(Path(entry.path)):
            names = [_maildir_plus_name(n) for n in entry.name[1:].split(".")]
            yield SourceFolder("maildir", Path(entry.path), (*parts, *names))


def _maildir_plus_name(text: str) -> str:
    if "&" in text:  # Dovecot keeps names in modified UTF-7 (RFC 3501 5.1.3)
        with contextlib.suppress(ValueError, UnicodeError):
            return decode_utf7(text.encode("ascii"))
    return unescape(text)


def _mbox_name(path: Path) -> str:
    return unescape(path.name[: -len(".mbox")] if path.name.endswith(".mbox") else path.name)


# -- Maildir -----------------------------------------------------------------------------------


def _maildir_messages(path: Path) -> Iterator[SourceMessage]:
    keywords = _maildir_keywords(path)
    names: list[tuple[str, str]] = []
    for sub in ("cur", "new"):
        with os.scandir(path / sub) as entries:
            names += [(e.name, sub) for e in entries if e.is_file() and not e.name.startswith(".")]
    for name, sub in sorted(names, key=_maildir_order):
        base, sep, info = name.partition(":2,")
        flags: list[str] = []
        if sep:
            for letter in info:
                if letter in _LETTER_FLAGS:
                    flags.append(_LETTER_FLAGS[letter])
                elif letter in _KEYWORD_LETTERS:
                    index = _KEYWORD_LETTERS.index(letter)
                    if index < len(keywords):
                        flags.append(keywords[index])
        file = path / sub / name
        try:
            stamp = file.stat().st_mtime
        except FileNotFoundError:
            continue  # a mail program moved it meanwhile (flags changed): its new name is read
        yield SourceMessage(base, tuple(flags), datetime.fromtimestamp(int(stamp), UTC), file)


def _maildir_order(item: tuple[str, str]) -> tuple[int, int, int, str]:
    """The export's files in UID order (the order the messages had); others by name (which
    Maildir writers begin with the delivery time)."""
    ours = _EXPORTED.match(item[0])
    if ours is not None:
        return (0, int(ours.group(2)), int(ours.group(1)), "")
    return (1, 0, 0, item[0])


def _maildir_keywords(path: Path) -> list[str]:
    try:
        lines = (path / "dovecot-keywords").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    found: dict[int, str] = {}
    for line in lines:
        index, _, name = line.partition(" ")
        if index.isdigit() and name:
            found[int(index)] = name
    return [found.get(i, "") for i in range(max(found, default=-1) + 1)]


# -- folders of .eml files ---------------------------------------------------------------------


def _eml_messages(path: Path) -> Iterator[SourceMessage]:
    index = _eml_index(path)
    with os.scandir(path) as entries:
        names = sorted(e.name for e in entries if e.name.endswith(".eml") and e.is_file())
    for name in names:
        file = path / name
        try:
            info = file.stat()
        except FileNotFoundError:
            continue
        entry = index.get(name) or index.get(name[: -len(".eml")]) or {}
        listed = entry.get("flags")
        flags = (
            tuple(str(f) for f in listed if str(f) != "\\Recent")
            if isinstance(listed, list)
            else ()
        )
        when = _iso(entry.get("internaldate") or entry.get("internal_date") or entry.get("date"))
        if when is None:
            when = datetime.fromtimestamp(int(info.st_mtime), UTC)
        yield SourceMessage(f"{name}:{info.st_size}", flags, when, file)


def _eml_index(path: Path) -> dict[str, dict[str, object]]:
    """The export's ``index.json``: by file name or UID, each message's flags and date. Its
    exact shape belongs to the eml store; what is read here is kept lenient."""
    try:
        data = json.loads((path / "index.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path / 'index.json'}: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("messages"), dict | list):
        data = data["messages"]
    found: dict[str, dict[str, object]] = {}
    items = data.items() if isinstance(data, dict) else ((None, v) for v in data or ())
    for key, value in items:
        if not isinstance(value, dict):
            continue
        name = value.get("file") or value.get("name") or value.get("uid") or key
        if name is not None:
            found[Path(str(name)).name] = value
    _eml_journal(path, found)
    return found


def _eml_journal(path: Path, found: dict[str, dict[str, object]]) -> None:
    """What a killed export appended after index.json (``index.jsonl``, see _eml): entries,
    flags and removals, a line each, later lines winning; a line cut short is skipped."""
    try:
        handle = open(path / "index.jsonl", encoding="utf-8", newline="\n")  # noqa: SIM115
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"cannot read {path / 'index.jsonl'}: {exc}") from exc
    with handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict) or not isinstance(record.get("uid"), int):
                continue
            name = Path(str(record.get("file") or f"{record['uid']}.eml")).name
            if "file" in record:
                found[name] = record
            elif record.get("removed") is True:
                found.pop(name, None)
            elif name in found and isinstance(record.get("flags"), list):
                found[name] = {**found[name], "flags": record["flags"]}


def _iso(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


# -- mbox --------------------------------------------------------------------------------------


def _mbox_messages(path: Path) -> Iterator[SourceMessage]:
    """Each message's byte range, found in one pass of bounded reads (never the whole file).

    A message begins after a ``From `` line that follows an empty line (or opens the file) and
    ends before the empty line that separates it from the next one."""
    with open(path, "rb") as handle:
        start: int | None = None  # where the current message's bytes begin
        from_line = b""
        offset = 0
        line_start = True  # this read begins a line (a line longer than _LINE takes several)
        blank_before = True  # the line before was empty, or there was none
        blank_at = -1  # where the latest empty line began
        while line := handle.readline(_LINE):
            begins, line_start = line_start, line.endswith(b"\n")
            if begins and blank_before and line.startswith(b"From "):
                if start is not None:
                    yield _mbox_message(path, handle, start, blank_at - start, from_line)
                start, from_line = offset + len(line), line
            elif start is None and begins and line.strip():
                raise UsageError(f"{path} is not an mbox: it does not begin with a From line")
            blank_before = begins and line in (b"\n", b"\r\n")
            if blank_before:
                blank_at = offset
            offset += len(line)
        if start is not None:
            end = blank_at if blank_before and blank_at >= start else offset
            yield _mbox_message(path, handle, start, end - start, from_line)


def _mbox_message(
    path: Path, handle: BinaryIO, offset: int, length: int, from_line: bytes
) -> SourceMessage:
    back = handle.tell()
    handle.seek(offset)
    head = handle.read(min(_HEAD, length))
    handle.seek(back)
    digest = hashlib.sha256(head[:4096]).hexdigest()[:16]
    headers = _header_block(head)
    flags = _mbox_flags(headers)
    when = _from_line_date(from_line) or _date_header(head)
    return SourceMessage(
        f"{offset}+{length}:{digest}", flags, when, path, offset, length, mbox=True, _head=head
    )


def _header_block(head: bytes) -> dict[bytes, bytes]:
    """The first occurrence of each header in ``head``, names lowercased, folded lines joined."""
    found: dict[bytes, bytes] = {}
    current: bytes | None = None  # the header a continuation line belongs to, if kept
    for raw in head.split(b"\n"):
        line = raw.rstrip(b"\r")
        if not line:
            break
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                found[current] = (found[current] + b" " + line.strip()).strip()
            continue
        name, sep, value = line.partition(b":")
        name = name.strip().lower()
        current = name if sep and name not in found else None
        if current is not None:
            found[current] = value.strip()
    return found


def _mbox_flags(headers: dict[bytes, bytes]) -> tuple[str, ...]:
    flags: list[str] = []
    status = headers.get(b"status", b"") + headers.get(b"x-status", b"")
    for letter, flag in ((b"R", "\\Seen"), (b"A", "\\Answered"), (b"F", "\\Flagged"),
                         (b"T", "\\Draft"), (b"D", "\\Deleted")):  # fmt: skip
        if letter in status:
            flags.append(flag)
    keywords = headers.get(b"x-keywords", b"").replace(b",", b" ").split()
    flags += [k.decode("utf-8", "replace") for k in keywords]
    return tuple(flags)


def _from_line_date(line: bytes) -> datetime | None:
    """``From sender Wed Jan  1 12:00:00 2026``: asctime, in UTC by the mbox convention."""
    match = _FROM_DATE.search(line)
    if match is None:
        return None
    _, month, day, clock, year = (g.decode("ascii") for g in match.groups())
    text = f"{day} {month} {year} {clock if clock.count(':') == 2 else clock + ':00'}"
    try:
        return datetime.strptime(text, "%d %b %Y %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def message_id(head: bytes) -> str | None:
    """The Message-ID in a message's first bytes, as written (``<...>``), or None."""
    value = _header_block(head).get(b"message-id", b"").decode("latin-1").strip()
    return value or None


def _date_header(head: bytes) -> datetime | None:
    value = _header_block(head).get(b"date")
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value.decode("latin-1"))
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _copy_mbox_message(source: BinaryIO, length: int, out: BinaryIO) -> None:
    """The message's bytes as the server gets them: the mbox's own headers out, ``>From``
    unquoted (mboxrd: one ``>`` less), line ends CRLF. Line by line, at most _LINE at once."""
    left = length
    in_headers = True
    skipping = False  # inside a removed header's continuation lines
    at_line_start = True
    after_cr = False  # a long line's read ended with CR: a LF read next ends that line
    while left > 0:
        line = source.readline(min(_LINE, left))
        if not line:
            break
        left -= len(line)
        complete = line.endswith(b"\n")
        if at_line_start and in_headers:
            if line in (b"\n", b"\r\n"):
                in_headers = False
            elif line[:1] in (b" ", b"\t") and skipping:
                at_line_start = complete
                continue
            else:
                name = line.partition(b":")[0].strip().lower()
                skipping = name in _MBOX_HEADERS or name in _MBOX_HEADERS_OURS
                if skipping:
                    at_line_start = complete
                    continue
        elif not at_line_start and skipping:
            at_line_start = complete
            continue
        if at_line_start and _QUOTED_FROM.match(line):
            line = line[1:]
        if complete and not line.endswith(b"\r\n") and not (after_cr and line == b"\n"):
            line = line[:-1] + b"\r\n"
        out.write(line)
        at_line_start = complete
        after_cr = line.endswith(b"\r")


def _is_crlf(head: bytes) -> bool:
    end = head.find(b"\n")
    return end > 0 and head[end - 1 : end] == b"\r"


def _copy_crlf(source: BinaryIO, out: BinaryIO) -> None:
    """Bare LF made CRLF, in chunks (a CR ending one chunk and LF opening the next stay one)."""
    after_cr = False
    while chunk := source.read(_CHUNK):
        fixed = re.sub(rb"(?<!\r)\n", b"\r\n", chunk)
        if after_cr and chunk.startswith(b"\n"):
            fixed = fixed[1:]  # "\r" + "\n" across chunks: already CRLF, not "\r\r\n"
        out.write(fixed)
        after_cr = chunk.endswith(b"\r")
