"""The mbox format: one file per folder (``Projects/Alpha`` -> ``Projects/Alpha.mbox``), mboxrd.

Each message is stored as::

    From <Return-Path address, or MAILER-DAEMON> <internal date, asctime, UTC>
    Status: RO
    X-Status: AF                                   (only when one of A F T D is set)
    X-O365imap-UID: <uidvalidity>/<uid>; size=<bytes received>; length=<n><spaces>
    <the message's header lines, less its own Status, X-Status, X-O365imap-UID>
    <blank line, body>                             (ending with a line end, added if missing)
    <blank line>                                   (the separator)

Line ends become LF (mbox readers, Python's ``mailbox`` and mutt included, expect LF; the
byte-for-byte copy is the Maildir or eml export's), and every line beginning ``From `` or
``>From ``, ``>>From ``... gets one more ``>`` (mboxrd). A reader gets the message back by
cutting the ``From `` line and the separator, dropping the three headers above and removing one
``>`` from each line matching ``^>+From `` (Python's ``mailbox.mbox`` does the cutting only: its
``get_bytes`` still holds the quoted lines and our headers). ``Status``: ``R`` seen, ``O`` old;
``X-Status``: ``A`` answered, ``F`` flagged, ``T`` draft, ``D`` deleted. Keywords (``$Junk``)
are kept in the folder's state only. The message's own ``Status``/``X-Status`` headers (another
tool's) give way to ours, so that a reader sees one of each.

Flags change in place: the three headers above take a fixed number of bytes (the UID header is
padded with spaces to the width of the widest ``Status``/``X-Status`` pair; trailing spaces in
a value of their own would show up in ``mailbox.mboxMessage.get_flags()``), so a change is one
``pwrite``, never a rewrite. ``length=`` is the whole entry's size, ``From`` line to separator:
the store finds its entries by hopping from one to the next (a few bytes read per message, none
of the bodies), and a cut-off entry shows itself. ``size=`` is the message as the server sent it.

Crash safety: a message's bytes are converted as they arrive into a spool (memory up to 1 MB,
an unnamed temporary file beyond: nothing to clean up after a kill) and appended at ``commit``
(the ``From`` line needs the internal date, ``length=`` the whole). ``checkpoint`` fsyncs the
mbox and puts its committed length and inode in the folder's state; ``recover`` cuts the mbox
back to the committed length (what a killed run appended after its last checkpoint is fetched
again: it was not fsynced) and reads the index from the file. Without a state to trust (none
saved yet, or lost; the file replaced), it keeps every whole entry and cuts off the first one
that is not. ``--mirror`` removals need a rewrite: only when something was removed,
``checkpoint`` copies the kept entries into a hidden file beside the mbox, fsyncs it and renames
it over the mbox (killed before the rename: the hidden file is removed at the next recover;
after it, before the state is saved: the inode differs from the state's, and the file, whole,
is read as it is). A file o365imap did not write, or written for another UIDVALIDITY, is
refused (StorageError), never cut.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from o365imap._files import fsync_directory
from o365imap.errors import StorageError

from ._state import FolderState
from ._store import Incoming, MessageMeta, StoredMessage

__all__ = ["MboxStore", "MboxrdWriter"]

_STATUS = {"\\Seen": "R"}
_X_STATUS = {"\\Answered": "A", "\\Flagged": "F", "\\Draft": "T", "\\Deleted": "D"}
_WIDEST = len("Status: RO\nX-Status: AFTD\n")
_OURS = re.compile(rb"^(?:status|x-status|x-o365imap-uid)[ \t]*:", re.IGNORECASE)
_QUOTE = re.compile(rb"^(>*From )", re.MULTILINE)
_MAYBE_FROM = re.compile(rb">*(?:F(?:r(?:om?)?)?)?\Z")  # a line start that may still be one
_RETURN_PATH = re.compile(rb"^return-path:[ \t]*<?([^>\s]*)", re.IGNORECASE | re.MULTILINE)
_ENTRY = re.compile(
    rb"From [^\n]*\nStatus: ([RO]*)\n(?:X-Status: ([AFTD]*)\n)?"
    rb"X-O365imap-UID: (\d+)/(\d+); size=(\d+); length=(\d+) *\n"
)
_HEAD_LIMIT = 8 * 1024 * 1024  # a header block longer than this is left as it is
_CHUNK = 1024 * 1024
_SPOOL = 1024 * 1024  # a message larger than this spools to disk
_SENDER_MAX = 320  # characters of a From line's address (RFC 5321: 256 at most)


class MboxrdWriter:
    """Bytes as the server sent them -> mboxrd body bytes, chunk by chunk (any split)."""

    def __init__(self) -> None:
        self._held = b""  # a line start that may become ``>*From ``, or a CR before a LF
        self._mid_line = False
        self.ends_with_newline = False

    def feed(self, data: bytes) -> bytes:
        data = self._held + data
        self._held = b""
        out: list[bytes] = []
        if self._mid_line:
            end = data.find(b"\n") + 1
            if end == 0:
                return self._emit_part(data, out)
            out.append(data[:end].replace(b"\r\n", b"\n"))
            data = data[end:]
            self._mid_line = False
        cut = data.rfind(b"\n") + 1
        whole, rest = data[:cut], data[cut:]
        out.append(_QUOTE.sub(rb">\1", whole.replace(b"\r\n", b"\n")))
        if rest:
            if _MAYBE_FROM.match(rest):
                self._held = rest
            else:
                self._mid_line = True
                self._emit_part(_QUOTE.sub(rb">\1", rest), out)
        return self._done(out)

    def _emit_part(self, part: bytes, out: list[bytes]) -> bytes:
        if part.endswith(b"\r"):  # its LF may come in the next chunk
            part, self._held = part[:-1], b"\r"
        out.append(part.replace(b"\r\n", b"\n"))
        return self._done(out)

    def _done(self, out: list[bytes]) -> bytes:
        data = b"".join(out)
        if data:
            self.ends_with_newline = data.endswith(b"\n")
        return data

    def end(self) -> bytes:
        rest, self._held = self._held, b""
        if rest:
            self.ends_with_newline = False
        return rest


def unquote(body: bytes) -> bytes:
    """mboxrd's quoting undone (one ``>`` off each ``>+From `` line)."""
    return re.sub(rb"^>(>*From )", rb"\1", body, flags=re.MULTILINE)


class _MboxIncoming(Incoming):
    """A message on its way into the mbox, converted as it arrives, in memory up to
    ``_SPOOL`` bytes and in an unnamed temporary file beyond (nothing left after a kill).
    ``size`` stays the server's byte count, for the engine's RFC822.SIZE check."""

    def __init__(self, directory: Path) -> None:
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL, mode="w+b", dir=str(directory))  # noqa: SIM115
        super().__init__(directory, cast(BinaryIO, spool))
        self.writer = MboxrdWriter()
        self.converted = 0

    def write(self, data: bytes) -> None:
        out = self.writer.feed(data)
        self.handle.write(out)
        self.size += len(data)
        self.converted += len(out)

    def close(self) -> None:
        if not self.handle.closed:
            out = self.writer.end()
            self.handle.write(out)
            self.converted += len(out)

    def discard(self) -> None:
        self.handle.close()  # no file of its own to remove


@dataclass
class _Entry:
    offset: int  # of the From line
    length: int  # From line to separator, included
    size: int  # the message as the server sent it (its RFC822.SIZE when all went well)
    flags: tuple[str, ...]
    removed: bool = False


def _status(flags: tuple[str, ...] | frozenset[str]) -> tuple[str, str]:
    status = "".join(letter for flag, letter in _STATUS.items() if flag in flags) + "O"
    x_status = "".join(letter for flag, letter in _X_STATUS.items() if flag in flags)
    return status, x_status


def _from_line(head: bytes, meta: MessageMeta) -> bytes:
    found = _RETURN_PATH.search(head)
    sender = found.group(1).decode("ascii", "replace") if found and found.group(1) else ""
    sender = "".join(c for c in sender if c.isprintable() and not c.isspace())
    if not sender or len(sender) > _SENDER_MAX:  # the index reads a head of 4096 bytes
        sender = "MAILER-DAEMON"
    stamp = meta.internaldate.timestamp() if meta.internaldate else time.time()
    return f"From {sender} {time.asctime(time.gmtime(stamp))}\n".encode("ascii", "replace")


class MboxStore:
    """One folder as the mbox file ``<path>.mbox``."""

    format = "mbox"

    def __init__(self, path: Path, uidvalidity: int) -> None:
        self.uidvalidity = uidvalidity
        self.file = path.with_name(path.name + ".mbox")
        self._hidden = f".{self.file.name}.o365imap-"
        self._index: dict[int, _Entry] = {}
        self._end = 0  # where the next entry goes
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.file, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StorageError(f"cannot open the mbox {self.file}: {exc.strerror}") from exc

    # -- resuming ------------------------------------------------------------------------------

    def recover(self, state: FolderState) -> None:
        for found in os.scandir(self.file.parent):
            if found.name.startswith(self._hidden):
                os.unlink(found.path)  # a rewrite (--mirror) killed before its rename
        saved = state.store
        info = os.fstat(self._fd)
        length = saved.get("length")
        if not isinstance(length, int):
            length = -1  # no state yet, or lost
        trusted = (
            length >= 0
            and saved.get("inode") == info.st_ino
            and saved.get("uidvalidity") == self.uidvalidity
            and info.st_size >= length
        )
        end = self._read_index(length if trusted else info.st_size)
        if trusted and end != length:
            raise StorageError(
                f"{self.file} is not as o365imap left it (at byte {end}): move it aside"
            )
        if saved.get("uidvalidity") == self.uidvalidity:
            # Untrusted too (a --mirror rewrite killed before its state was saved): the file
            # has no keywords, and with CONDSTORE unchanged messages are not compared again.
            for uid, keywords in saved.get("keywords", {}).items():
                if int(uid) in self._index:
                    entry = self._index[int(uid)]
                    entry.flags = tuple(sorted({*entry.flags, *keywords}))
        self._truncate(end)

    def _read_index(self, limit: int) -> int:
        """The index read from the file, hopping from entry to entry up to ``limit`` or the
        first entry that is not whole (cut off by a crash: it is fetched again); where the
        whole entries end. Flags come from Status and X-Status, keywords from the state."""
        self._index.clear()
        offset = 0
        while offset < limit:
            head = os.pread(self._fd, 4096, offset)
            match = _ENTRY.match(head)
            if match is None:
                if len(head) < 4096 and b"From ".startswith(head[:5]):
                    break  # a head cut off by a crash
                raise StorageError(
                    f"{self.file} holds what o365imap did not write at byte {offset}: move it aside"
                )
            if int(match.group(3)) != self.uidvalidity:
                raise StorageError(
                    f"{self.file} holds messages of UIDVALIDITY {int(match.group(3))}, the "
                    f"folder's is now {self.uidvalidity}: move it aside"
                )
            length = int(match.group(6))
            after = os.pread(self._fd, 5, offset + length)
            if offset + length > limit or not b"From ".startswith(after):
                break  # cut off
            status, x_status = match.group(1).decode(), (match.group(2) or b"").decode()
            flags = [f for f, letter in _STATUS.items() if letter in status]
            flags += [f for f, letter in _X_STATUS.items() if letter in x_status]
            uid, received = int(match.group(4)), int(match.group(5))
            self._index[uid] = _Entry(offset, length, received, tuple(sorted(flags)))
            offset += length
        self._end = offset
        return offset

    def _truncate(self, length: int) -> None:
        try:
            if os.fstat(self._fd).st_size != length:
                os.ftruncate(self._fd, length)
        except OSError as exc:
            raise StorageError(f"cannot cut back {self.file}: {exc.strerror}") from exc

    def stored(self) -> Mapping[int, StoredMessage]:
        return {
            uid: StoredMessage(uid, frozenset(entry.flags), entry.size)
            for uid, entry in self._index.items()
            if not entry.removed
        }

    # -- writing -------------------------------------------------------------------------------

    def incoming(self) -> Incoming:
        try:
            return _MboxIncoming(self.file.parent)
        except OSError as exc:  # (the spool's file is made later, by a write: see commit)
            raise StorageError(f"cannot write in {self.file.parent}: {exc.strerror}") from exc

    def commit(self, incoming: Incoming, meta: MessageMeta) -> None:
        assert isinstance(incoming, _MboxIncoming)
        try:
            incoming.close()
            incoming.handle.seek(0)
            self._append(incoming.handle, incoming, meta)
        except OSError as exc:
            self._truncate(self._end)  # the part appended goes
            raise StorageError(f"cannot append to {self.file}: {exc.strerror}") from exc
        finally:
            incoming.discard()

    def _append(self, source: Any, incoming: _MboxIncoming, meta: MessageMeta) -> None:
        head, body_at = _head(source)
        kept = b"".join(
            line for line in _header_lines(head) if not _OURS.match(line)
        )  # a header of ours the message had goes: one of each, ours
        from_line = _from_line(head, meta)
        tail = b"" if incoming.writer.ends_with_newline else b"\n"  # then the separator
        fixed = len(from_line) + len(kept) + incoming.converted - body_at + len(tail) + 1
        region_width = _WIDEST + len(self._uid_line(meta.uid, incoming.size, 0)) - 1
        digits = 1
        while len(str(fixed + region_width + digits)) != digits:
            digits += 1
        length = fixed + region_width + digits
        region = self._region(meta.uid, incoming.size, length, meta.flags)
        offset = self._end
        self._write(from_line + region + kept, offset)
        at = offset + len(from_line) + len(region) + len(kept)
        source.seek(body_at)
        while chunk := source.read(_CHUNK):
            self._write(chunk, at)
            at += len(chunk)
        self._write(tail + b"\n", at)
        assert at + len(tail) + 1 == offset + length
        self._end = offset + length
        self._index[meta.uid] = _Entry(offset, length, incoming.size, meta.flags)

    def _uid_line(self, uid: int, size: int, length: int) -> bytes:
        return f"X-O365imap-UID: {self.uidvalidity}/{uid}; size={size}; length={length}\n".encode()

    def _region(self, uid: int, size: int, length: int, flags: tuple[str, ...]) -> bytes:
        status, x_status = _status(flags)
        lines = f"Status: {status}\n" + (f"X-Status: {x_status}\n" if x_status else "")
        uid_line = self._uid_line(uid, size, length)
        pad = _WIDEST - len(lines)
        return lines.encode() + uid_line[:-1] + b" " * pad + b"\n"

    def _write(self, data: bytes, offset: int) -> None:
        view = memoryview(data)
        while view:
            written = os.pwrite(self._fd, view, offset)
            view, offset = view[written:], offset + written

    def set_flags(self, uid: int, flags: tuple[str, ...]) -> None:
        entry = self._index.get(uid)
        if entry is None:
            return
        flags = tuple(f for f in flags if f != "\\Recent")
        if _status(flags) != _status(entry.flags):
            region = self._region(uid, entry.size, entry.length, flags)
            head = os.pread(self._fd, 4096, entry.offset)
            at = entry.offset + head.index(b"\n") + 1  # after the From line
            try:
                self._write(region, at)
            except OSError as exc:
                raise StorageError(f"cannot update flags in {self.file}: {exc.strerror}") from exc
        entry.flags = flags

    def remove(self, uid: int) -> None:
        entry = self._index.get(uid)
        if entry is not None:
            entry.removed = True

    def checkpoint(self, state: FolderState) -> None:
        try:
            if any(entry.removed for entry in self._index.values()):
                self._rewrite()
            os.fsync(self._fd)
            inode = os.fstat(self._fd).st_ino
        except OSError as exc:
            raise StorageError(f"cannot write {self.file}: {exc.strerror}") from exc
        keywords = {
            str(uid): [f for f in e.flags if not f.startswith("\\")]
            for uid, e in sorted(self._index.items())
            if any(not f.startswith("\\") for f in e.flags)
        }
        state.store = {
            "uidvalidity": self.uidvalidity,
            "length": self._end,
            "inode": inode,
            "keywords": keywords,  # the file has the system flags, not these
        }

    def _rewrite(self) -> None:
        """The kept entries, in order, into a new file renamed over the mbox. Killed before
        the rename: the temporary file goes at the next recover; after it and before the state
        is saved: the inode differs from the state's and the index is rebuilt from the file."""
        new = self.file.with_name(f"{self._hidden}rewrite")
        fd = os.open(new, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        index: dict[int, _Entry] = {}
        at = 0
        try:
            for uid, entry in sorted(self._index.items(), key=lambda item: item[1].offset):
                if entry.removed:
                    continue
                done = 0
                while done < entry.length:
                    chunk = os.pread(
                        self._fd, min(_CHUNK, entry.length - done), entry.offset + done
                    )
                    if not chunk:
                        raise OSError(0, "the mbox is shorter than its index")
                    os.pwrite(fd, chunk, at + done)
                    done += len(chunk)
                index[uid] = _Entry(at, entry.length, entry.size, entry.flags)
                at += entry.length
            os.fsync(fd)
            os.rename(new, self.file)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(new)
            raise
        os.close(self._fd)
        self._fd = fd
        self._index, self._end = index, at
        fsync_directory(self.file.parent)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _head(source: Any) -> tuple[bytes, int]:
    """The header block (its lines, without the blank line) and where the body starts
    (the blank line); a block without an end within the limit is left alone: (b"", 0)."""
    data = b""
    while len(data) < _HEAD_LIMIT:
        if data.startswith(b"\n"):
            return b"", 0
        end = data.find(b"\n\n")
        if end >= 0:
            return data[: end + 1], end + 1
        chunk = source.read(64 * 1024)
        if not chunk:
            return data, len(data)  # headers only
        data += chunk
    return b"", 0


def _header_lines(head: bytes) -> list[bytes]:
    """Header fields, each with its continuation lines."""
    fields: list[bytes] = []
    for line in head.splitlines(keepends=True):
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += line
        else:
            fields.append(line)
    return fields
