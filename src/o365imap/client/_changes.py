"""Changing the mailbox: flags, copy, move, delete, and folders (RFC 3501 6.3-6.4, RFC 4315
UIDPLUS, RFC 6851 MOVE, RFC 6154 SPECIAL-USE).

Everything here works on UIDs. Sets are sent as ranges and split so that no command line grows
long (Office 365 refuses those). Deleting is what Outlook does: a move to the folder whose
special use is \\Trash ("Deleted Items" on Office 365, named in the mailbox's language);
deleting permanently expunges exactly the given UIDs (UID EXPUNGE), and is refused where the
server cannot do that rather than expunging every message someone marked \\Deleted.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import BinaryIO, cast

from o365imap._replies import append_uid, copy_uids
from o365imap.client._args import Messages, flag_list, imap_datetime, sequence_arg, uid_batches
from o365imap.client._connection import Connection, mailbox_arg
from o365imap.client._driver import _Answer
from o365imap.client._policy import folder_error, refusal_error
from o365imap.errors import (
    CapabilityMissing,
    CommandError,
    FolderNotFound,
    O365ImapError,
    UsageError,
)
from o365imap.limits import check_folder_name, check_uid
from o365imap.models import CopyResult
from o365imap.protocol import Atom, SequenceSet, Tagged
from o365imap.protocol.commands import Argument

__all__ = ["Changes"]

log = logging.getLogger("o365imap.client")

_CHUNK = 1 << 20  # bytes of a message sent (or spooled) at a time


class Changes(Connection):
    """The connection with the commands that change the mailbox; see ImapClient."""

    # ------------------------------------------------------------ flags

    def add_flags(self, uids: Messages, flags: Iterable[str]) -> None:
        """Add flags (``\\Seen``, ``\\Flagged``, keywords) to messages by UID (RFC 3501 6.4.6)."""
        self._store(uids, "+FLAGS", flags)

    def remove_flags(self, uids: Messages, flags: Iterable[str]) -> None:
        """Take flags off messages by UID."""
        self._store(uids, "-FLAGS", flags)

    def set_flags(self, uids: Messages, flags: Iterable[str]) -> None:
        """Replace the flags of messages by UID with exactly ``flags``."""
        self._store(uids, "FLAGS", flags)

    def store(
        self, messages: Messages, action: str, flags: Iterable[str], *, uid: bool = False
    ) -> None:
        """Deprecated: ``add_flags``, ``remove_flags`` or ``set_flags`` (by UID)."""
        warnings.warn(
            "ImapClient.store() is now add_flags/remove_flags/set_flags",
            DeprecationWarning,
            stacklevel=2,
        )
        self._store(messages, action, flags, uid=uid)

    def _store(
        self, messages: Messages, action: str, flags: Iterable[str], *, uid: bool = True
    ) -> None:
        verb = action.upper().removesuffix(".SILENT")
        if verb not in ("+FLAGS", "-FLAGS", "FLAGS"):
            raise UsageError(f"STORE takes +FLAGS, -FLAGS or FLAGS, not {action!r}")
        self._require_writable("change flags")
        names = flag_list(flags)
        name = "UID STORE" if uid else "STORE"
        for batch in _uid_sets(messages) if uid else [sequence_arg(messages)]:
            self._run(name, batch, Atom(verb + ".SILENT"), names)

    # ------------------------------------------------------------ copy, move, delete

    def copy(self, uids: Iterable[int], folder: str) -> CopyResult:
        """Copy messages of the open folder to ``folder`` (UID COPY); their new UIDs where the
        server says (COPYUID)."""
        wanted = _checked_uids(uids)
        target = check_folder_name(folder)
        result = _Collector(self._open_name(), wanted, target)
        for batch in uid_batches(wanted):
            answer = self._transfer("UID COPY", batch, target)
            result.note(answer.tagged.code, answer.tagged.code_data, len(batch))
        return result.done()

    def move(self, uids: Iterable[int], folder: str) -> CopyResult:
        """Move messages of the open folder to ``folder``: UID MOVE (RFC 6851) where offered,
        else UID COPY, then \\Deleted and UID EXPUNGE of exactly those messages (UIDPLUS).

        A connection lost between the copy and the delete loses nothing: the copies are in
        ``folder``, the originals still here, and the result says ``copies_left``."""
        wanted = _checked_uids(uids)
        target = check_folder_name(folder)
        self._require_writable("move messages")
        caps = self.capabilities
        if "MOVE" not in caps and "UIDPLUS" not in caps:
            raise CapabilityMissing(
                f"{self.host} offers neither MOVE nor UIDPLUS: moving would expunge other "
                "messages marked deleted too; copy them, and delete the originals yourself",
                capability="MOVE",
            )
        result = _Collector(self._open_name(), wanted, target)
        for batch in uid_batches(wanted):
            if "MOVE" in caps:
                answer = self._transfer("UID MOVE", batch, target)
                # RFC 6851 4.3: COPYUID comes in an untagged OK before the EXPUNGEs.
                for code, data in [(r.code, r.code_data) for r in answer.untagged] + [
                    (answer.tagged.code, answer.tagged.code_data)
                ]:
                    result.note(code, data, len(batch))
                continue
            answer = self._transfer("UID COPY", batch, target)
            result.note(answer.tagged.code, answer.tagged.code_data, len(batch))
            try:
                self._expunge_exactly(batch)
            except O365ImapError as exc:
                log.warning(
                    "moving to %s: copied, but deleting the originals failed: %s", folder, exc
                )
                result.copies_left = True
                break
        return result.done()

    def delete(self, uids: Iterable[int], *, permanently: bool = False) -> CopyResult:
        """Delete messages of the open folder as Outlook does: move them to the folder whose
        special use is \\Trash. ``permanently``: mark them \\Deleted and expunge exactly those
        (UID EXPUNGE, RFC 4315); refused without UIDPLUS, where EXPUNGE would also remove
        every other message marked \\Deleted."""
        wanted = _checked_uids(uids)
        to = self.delete_target(permanently=permanently)
        if to is not None:
            return self.move(wanted, to)
        self._require_writable("delete messages")
        for batch in uid_batches(wanted):
            self._expunge_exactly(batch)
        return CopyResult(self._open_name(), tuple(wanted), None)

    def delete_target(self, *, permanently: bool = False) -> str | None:
        """Where ``delete`` would put the open folder's messages: the \\Trash folder's name,
        or None for ``permanently``; raises what ``delete`` would refuse with, before anything
        changes (a dry run asks this)."""
        if permanently:
            if "UIDPLUS" not in self.capabilities:
                raise CapabilityMissing(
                    f"{self.host} lacks UIDPLUS: EXPUNGE would also remove other messages "
                    "marked deleted, so nothing was deleted",
                    capability="UIDPLUS",
                )
            return None
        trash = self.special_folder("\\Trash")
        if trash is None:
            raise UsageError(
                f"{self.host} names no folder \\Trash: delete permanently, or move the "
                "messages to a folder of your choice"
            )
        if trash.name == self._open_name():
            raise UsageError(f"the messages are in {trash.name} already: delete them permanently")
        return trash.name

    def _expunge_exactly(self, batch: list[int]) -> None:
        uid_set = SequenceSet(batch)
        self._run("UID STORE", uid_set, Atom("+FLAGS.SILENT"), flag_list(["\\Deleted"]))
        self._run("UID EXPUNGE", uid_set)

    def _transfer(self, command: str, batch: list[int], folder: str) -> _Answer:
        self._require_selected()
        try:
            return self._run(command, SequenceSet(batch), mailbox_arg(folder))
        except CommandError as exc:
            raise folder_error(folder, exc) from None

    def _open_name(self) -> str:
        self._require_selected()
        assert self.selected is not None  # (for the type checker: _require_selected says so)
        return self.selected.name

    def _require_writable(self, what: str) -> None:
        if self.selected is not None and self.selected.read_only:
            # Servers may answer OK and change nothing (Dovecot does): say so instead.
            raise UsageError(
                f"{self.selected.name} is open read-only: select() it without readonly=True "
                f"to {what}"
            )

    # ------------------------------------------------------------ append

    def append(
        self,
        folder: str,
        message: bytes | str | os.PathLike[str] | BinaryIO,
        *,
        flags: Iterable[str] = (),
        date: datetime | None = None,
    ) -> int | None:
        """Upload a message (RFC 3501 6.3.11): bytes, a file's path, or a binary stream. The
        bytes stream to the server (LITERAL+ where offered), never held whole; a stream of
        unknown length goes through a temporary file first. ``date`` sets the internal date
        (default: the server's now). Returns the new UID where the server says (APPENDUID)."""
        target = check_folder_name(folder)
        names = list(flags)
        args: list[Argument] = [mailbox_arg(target)]
        if names:
            args.append(flag_list(names))
        if date is not None:
            args.append(imap_datetime(date))
        self._require_signed_in("APPEND")
        with _message_source(message) as (source, size):
            if size == 0:
                raise UsageError("an empty message cannot be appended")
            tag = self._send("APPEND", tuple(args), body=size)
            tagged = self._send_body(tag, source, size)
        if tagged.status != "OK":
            refused = refusal_error("APPEND", tagged)
            raise folder_error(target, refused) if isinstance(refused, CommandError) else refused
        found = append_uid(tagged.code, tagged.code_data)
        return found[1] if found is not None else None

    def _send_body(self, tag: str, source: BinaryIO, size: int) -> Tagged:
        """Stream the message once the server may have it; the command's completion."""
        while not self._session.ready_for_body:
            event = self._next_for(tag)
            if isinstance(event, Tagged):
                return event  # refused before the message (TRYCREATE, too big)
        left = size
        while left:
            chunk = source.read(min(left, _CHUNK))
            if not chunk:
                self.close()  # the server waits for bytes that will never come
                raise UsageError(f"the message ended {left} bytes before its size")
            self._session.send_body(chunk)
            self._flush()
            left -= len(chunk)
        while not isinstance(event := self._next_for(tag), Tagged):
            pass
        return event

    # ------------------------------------------------------------ folders

    def create_folder(self, name: str, *, exist_ok: bool = False) -> None:
        """CREATE a folder (``Parent/Child`` with the server's delimiter makes the parents).
        ``exist_ok``: a folder already there is not an error (RFC 5530 ALREADYEXISTS, or the
        server's words), so a script can run again."""
        try:
            self._folder_command("CREATE", name)
        except CommandError as exc:
            exists = exc.code == "ALREADYEXISTS" or "already exist" in exc.text.lower()
            if not (exist_ok and exists):
                raise

    def delete_folder(self, name: str) -> None:
        """DELETE a folder and the messages in it. Servers keep INBOX, and Office 365 its
        special folders (Deleted Items, Sent Items, ...): that refusal is said as such."""
        try:
            self._folder_command("DELETE", name)
        except CommandError as exc:
            raise self._kept(name, "deleted", exc) from None

    def rename_folder(self, old: str, new: str) -> None:
        """RENAME a folder (RFC 3501 6.3.5); special folders as for ``delete_folder``."""
        try:
            self._run(
                "RENAME", mailbox_arg(check_folder_name(old)), mailbox_arg(check_folder_name(new))
            )
        except CommandError as exc:
            raise self._kept(old, "renamed", folder_error(old, exc)) from None

    def _kept(self, name: str, what: str, exc: CommandError) -> CommandError:
        """One sentence when the refused folder is INBOX or a special folder, else ``exc``."""
        if isinstance(exc, FolderNotFound) or not self.connected:
            return exc
        use = "INBOX" if name.upper() == "INBOX" else None
        if use is None:
            found = next((f for f in self.list_folders() if f.name == name), None)
            use = found.special_use if found is not None else None
        if use is None:
            return exc
        message = f"{self.host} keeps {name} ({use}): a special folder cannot be {what}"
        return folder_error(name, exc, message=message)

    def subscribe(self, name: str) -> None:
        """SUBSCRIBE: mail clients that show only subscribed folders will show it."""
        self._folder_command("SUBSCRIBE", name)

    def unsubscribe(self, name: str) -> None:
        """UNSUBSCRIBE."""
        self._folder_command("UNSUBSCRIBE", name)

    def _folder_command(self, command: str, name: str) -> None:
        try:
            self._run(command, mailbox_arg(check_folder_name(name)))
        except CommandError as exc:
            if command == "CREATE":
                raise
            raise folder_error(name, exc) from None


@contextlib.contextmanager
def _message_source(
    message: bytes | str | os.PathLike[str] | BinaryIO,
) -> Iterator[tuple[BinaryIO, int]]:
    """A readable binary stream of the message and its size in bytes."""
    if isinstance(message, bytes | bytearray):
        yield io.BytesIO(message), len(message)
        return
    if isinstance(message, str | os.PathLike):
        try:
            handle = open(message, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise UsageError(f"cannot read {os.fsdecode(message)!r}: {exc.strerror}") from exc
        with handle:
            yield handle, os.fstat(handle.fileno()).st_size
        return
    try:
        start = message.tell()
        size = message.seek(0, io.SEEK_END) - start
        message.seek(start)
    except (OSError, ValueError, AttributeError):  # a pipe: spooled to learn its size
        with tempfile.SpooledTemporaryFile(max_size=_CHUNK) as spool:
            shutil.copyfileobj(message, spool, _CHUNK)
            size = spool.tell()
            spool.seek(0)
            yield cast("BinaryIO", spool), size
        return
    yield message, size


class _Collector:
    """A CopyResult put together batch by batch."""

    def __init__(self, folder: str, uids: list[int], to: str) -> None:
        self.folder, self.uids, self.to = folder, uids, to
        self.new_uids: dict[int, int] = {}
        self.uidvalidity: int | None = None
        self.copies_left = False

    def note(self, code: str | None, data: bytes | None, sent: int) -> None:
        found = copy_uids(code, data, sent)
        if found is not None:
            self.uidvalidity, mapping = found
            self.new_uids.update(mapping)

    def done(self) -> CopyResult:
        return CopyResult(
            self.folder,
            tuple(self.uids),
            self.to,
            self.new_uids,
            self.uidvalidity,
            self.copies_left,
        )


def _checked_uids(uids: Iterable[int]) -> list[int]:
    found = sorted({check_uid(uid) for uid in uids})
    if not found:
        raise UsageError("no messages given")
    return found


def _uid_sets(messages: Messages) -> list[Argument]:
    """UIDs as one set each command, split where the list is long."""
    if isinstance(messages, SequenceSet | str):
        return [sequence_arg(messages)]
    return [SequenceSet(batch) for batch in uid_batches(check_uid(uid) for uid in messages)]
