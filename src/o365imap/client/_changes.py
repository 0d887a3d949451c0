"""Changing the mailbox: flags, copy, move, delete, and folders (RFC 3501 6.3-6.4, RFC 4315
UIDPLUS, RFC 6851 MOVE, RFC 6154 SPECIAL-USE).

Everything here works on UIDs. Sets are sent as ranges and split so that no command line grows
long (Office 365 refuses those). Deleting is what Outlook does: a move to the folder whose
special use is \\Trash ("Deleted Items" on Office 365, named in the mailbox's language);
deleting permanently expunges exactly the given UIDs (UID EXPUNGE), and is refused where the
server cannot do that rather than expunging every message someone marked \\Deleted.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable

from o365imap._replies import copy_uids
from o365imap.client._args import Messages, flag_list, sequence_arg, uid_batches
from o365imap.client._connection import Connection, mailbox_arg
from o365imap.client._driver import _Answer
from o365imap.client._policy import folder_error
from o365imap.errors import CapabilityMissing, CommandError, O365ImapError, UsageError
from o365imap.limits import check_folder_name, check_uid
from o365imap.models import CopyResult
from o365imap.protocol import Atom, SequenceSet
from o365imap.protocol.commands import Argument

__all__ = ["Changes"]

log = logging.getLogger("o365imap.client")


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
        if not permanently:
            trash = self.special_folder("\\Trash")
            if trash is None:
                raise UsageError(
                    f"{self.host} names no folder \\Trash: delete permanently, or move the "
                    "messages to a folder of your choice"
                )
            if trash.name == self._open_name():
                raise UsageError(
                    f"the messages are in {trash.name} already: delete them permanently"
                )
            return self.move(wanted, trash.name)
        self._require_writable("delete messages")
        if "UIDPLUS" not in self.capabilities:
            raise CapabilityMissing(
                f"{self.host} lacks UIDPLUS: EXPUNGE would also remove other messages marked "
                "deleted, so nothing was deleted",
                capability="UIDPLUS",
            )
        for batch in uid_batches(wanted):
            self._expunge_exactly(batch)
        return CopyResult(self._open_name(), tuple(wanted), None)

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

    # ------------------------------------------------------------ folders

    def create_folder(self, name: str) -> None:
        """CREATE a folder (``Parent/Child`` with the server's delimiter makes the parents)."""
        self._folder_command("CREATE", name)

    def delete_folder(self, name: str) -> None:
        """DELETE a folder and the messages in it. Office 365 refuses its special folders."""
        self._folder_command("DELETE", name)

    def rename_folder(self, old: str, new: str) -> None:
        """RENAME a folder (RFC 3501 6.3.5)."""
        try:
            self._run(
                "RENAME", mailbox_arg(check_folder_name(old)), mailbox_arg(check_folder_name(new))
            )
        except CommandError as exc:
            raise folder_error(old, exc) from None

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
    return [SequenceSet(batch) for batch in uid_batches(messages)]
