"""The eml format: a directory per folder, one ``<uid>.eml`` file per message, and an index.

Each file holds the message's bytes exactly as the server sent them (CRLF line ends included);
its modification time is the internal date. A message is written into a hidden temporary file
in the same directory (``.o365imap-<pid>-<ns>-<n>.tmp``) and renamed to ``<uid>.eml`` once
whole: a reader never sees part of one, and a killed run leaves only temporary files, which the
next run removes.

``index.json`` describes the folder for people and scripts, one message a line::

    {"uidvalidity": 1733400000,
    "messages": {
     "42": {"file": "42.eml", "flags": ["\\\\Seen"], "internaldate": "2024-05-01T09:30:00+02:00",
            "size": 5120, "message_id": "<a@b>", "subject": "Hello"}
    }}

Memory stays flat in the folder's size: only each message's flags and size are held (what
``stored`` and the flag sync need); the rest of an entry is on disk. A checkpoint appends what
changed since the last one to a journal, ``index.jsonl`` (a message stored: its entry with its
``uid``; flags changed: ``{"uid", "flags"}``; removed: ``{"uid", "removed": true}``), and
``close`` folds the journal into index.json once per folder, streaming, and removes it: no
checkpoint rewrites the whole index.

A killed run leaves index.json and maybe a journal (its last line maybe cut); the next run
reads both and folds them at once. The files are the truth: a ``<uid>.eml`` neither lists
(committed after the last checkpoint) is stored, flags unknown (the engine's flag sync sets
them from the server's), and an entry whose file is gone is not.
"""

from __future__ import annotations

import contextlib
import email.errors
import email.header
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from o365imap._files import fsync_directory
from o365imap.errors import StorageError

from ._state import FolderState
from ._store import Incoming, MessageMeta, StoredMessage

__all__ = ["INDEX", "JOURNAL", "EmlStore"]

INDEX = "index.json"
JOURNAL = "index.jsonl"
_TEMPORARY = ".o365imap-"
_NAME = re.compile(r"^([1-9]\d*)\.eml$")
_HEAD_LIMIT = 64 * 1024  # bytes read for the Message-ID and Subject
_FIELDS = re.compile(rb"^(message-id|subject)[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.I | re.M)
# index.json as _compact writes it: a line a message (other shapes are read whole)
_INDEX_HEAD = re.compile(r'^\{"uidvalidity": (\d+),$')
_INDEX_ENTRY = re.compile(r'^ "([1-9]\d*)": (\{.*\}),?$')
_IN_INDEX = -1  # where an entry is: index.json, or its line in the journal


class _Known(NamedTuple):
    """What memory holds of a message (a tuple: about 200 bytes with its dict slot)."""

    flags: tuple[str, ...]
    size: int
    where: int  # _IN_INDEX, or the journal's line with the entry


class _NotOurs(ValueError):
    """index.json is not laid out a message a line (edited by hand): read it whole."""


class EmlStore:
    """One folder as a directory of ``.eml`` files at ``path``."""

    format = "eml"

    def __init__(self, path: Path, uidvalidity: int) -> None:
        self.path = path
        self.uidvalidity = uidvalidity
        self._serial = 0
        self._known: dict[int, _Known] = {}
        self._flag_sets: dict[tuple[str, ...], tuple[str, ...]] = {}  # one object per set
        self._pending: list[str] = []  # journal lines for the next checkpoint
        self._lines = 0  # in the journal, pending ones included
        self._whole = False  # index.json is to be read whole (not as _compact writes it)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot make {path}: {exc.strerror}") from exc

    # -- resuming ------------------------------------------------------------------------------

    def recover(self, state: FolderState) -> None:
        for entry in os.scandir(self.path):
            # Ours, and what a killed write of the index left of it.
            if entry.name.startswith((_TEMPORARY, f".{INDEX}-")):
                os.unlink(entry.path)
        try:
            try:
                self._load_index()
            except _NotOurs:
                self._known.clear()
                self._whole = True
                self._load_index()
            journal = self._load_journal()
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot read the index in {self.path}: {exc}") from exc
        on_disk = self._files()
        changed = journal or self._whole
        for uid in [uid for uid in self._known if uid not in on_disk]:
            del self._known[uid]  # its file is gone: fetched again
            changed = True
        if changed:  # the journal folded first: what follows starts a new one
            self._write(self._compact)
        for uid, size in on_disk.items():
            if uid not in self._known:  # committed after the last checkpoint
                with open(self.path / f"{uid}.eml", "rb") as handle:
                    head = handle.read(_HEAD_LIMIT)
                    stamp = os.fstat(handle.fileno()).st_mtime  # the internal date, as written
                date = datetime.fromtimestamp(stamp, UTC)
                self._add(uid, _describe(uid, head, size, date, ()))
        if self._lines:
            self._write(self._compact)

    def _load_index(self) -> None:
        for uid, text in _index_entries(self.path / INDEX, self.uidvalidity, whole=self._whole):
            entry = json.loads(text)
            self._known[uid] = _Known(
                self._flags(entry.get("flags") or ()), int(entry.get("size") or 0), _IN_INDEX
            )

    def _load_journal(self) -> bool:
        """What a killed run appended after index.json; False if there is no journal."""
        try:
            handle = open(self.path / JOURNAL, encoding="utf-8", newline="\n")  # noqa: SIM115
        except FileNotFoundError:
            return False
        with handle:
            for number, record, _ in _journal_records(handle):
                if "uidvalidity" in record and record["uidvalidity"] != self.uidvalidity:
                    raise _foreign(self.path, record["uidvalidity"], self.uidvalidity)
                uid = record.get("uid")
                if not isinstance(uid, int):
                    continue
                flags = self._flags(record.get("flags") or ())
                if record.get("removed") is True:
                    self._known.pop(uid, None)
                elif "file" in record:
                    self._known[uid] = _Known(flags, int(record.get("size") or 0), number)
                elif uid in self._known:
                    self._known[uid] = self._known[uid]._replace(flags=flags)
        return True

    def _files(self) -> dict[int, int]:
        found: dict[int, int] = {}
        for entry in os.scandir(self.path):
            match = _NAME.match(entry.name)
            if match is not None and entry.is_file():
                found[int(match.group(1))] = entry.stat().st_size
        return found

    def stored(self) -> Mapping[int, StoredMessage]:
        frozen: dict[tuple[str, ...], frozenset[str]] = {}  # one frozenset per set of flags
        return {
            uid: StoredMessage(
                uid,
                frozen.get(known.flags) or frozen.setdefault(known.flags, frozenset(known.flags)),
                known.size,
            )
            for uid, known in self._known.items()
        }

    # -- writing -------------------------------------------------------------------------------

    def incoming(self) -> Incoming:
        self._serial += 1
        path = self.path / f"{_TEMPORARY}{os.getpid()}-{time.time_ns()}-{self._serial}.tmp"
        try:
            handle = open(path, "x+b")  # noqa: SIM115 - Incoming closes it; commit reads it
        except OSError as exc:
            raise StorageError(f"cannot write in {self.path}: {exc.strerror}") from exc
        return Incoming(path, handle)

    def commit(self, incoming: Incoming, meta: MessageMeta) -> None:
        try:
            incoming.handle.seek(0)  # the head, for the index, while the file is open
            head = incoming.handle.read(_HEAD_LIMIT)
        except OSError as exc:
            incoming.discard()
            raise StorageError(f"cannot store a message in {self.path}: {exc.strerror}") from exc
        incoming.close()
        stamp = meta.internaldate.timestamp() if meta.internaldate else time.time()
        try:
            os.utime(incoming.path, (stamp, stamp))
            os.rename(incoming.path, self.path / f"{meta.uid}.eml")
        except OSError as exc:
            incoming.discard()
            raise StorageError(f"cannot store a message in {self.path}: {exc.strerror}") from exc
        self._add(meta.uid, _describe(meta.uid, head, incoming.size, meta.internaldate, meta.flags))

    def _add(self, uid: int, entry: dict[str, Any]) -> None:
        where = self._journal({"uid": uid, **entry})
        self._known[uid] = _Known(self._flags(entry["flags"]), entry["size"], where)

    def set_flags(self, uid: int, flags: tuple[str, ...]) -> None:
        known = self._known.get(uid)
        if known is not None:
            kept = self._flags(flags)
            self._known[uid] = known._replace(flags=kept)
            self._journal({"uid": uid, "flags": list(kept)})

    def remove(self, uid: int) -> None:
        if self._known.pop(uid, None) is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path / f"{uid}.eml")
            self._journal({"uid": uid, "removed": True})  # (its file gone says it too)

    def _flags(self, flags: Iterable[Any]) -> tuple[str, ...]:
        kept = tuple(str(f) for f in flags if f != "\\Recent")
        return self._flag_sets.setdefault(kept, kept)

    def _journal(self, record: dict[str, Any]) -> int:
        """Queue ``record`` for the journal; its line number there."""
        if self._lines == 0:  # a new journal says whose it is, as index.json does
            self._pending.append(json.dumps({"uidvalidity": self.uidvalidity}) + "\n")
            self._lines = 1
        self._pending.append(json.dumps(record, ensure_ascii=False) + "\n")
        self._lines += 1
        return self._lines - 1

    def checkpoint(self, state: FolderState) -> None:
        # Renames are durable once the directory is (kill -9 loses nothing the kernel has;
        # the fsync is for a power cut). The index comes after: it never lists a file the
        # directory may not have.
        def write() -> None:
            fsync_directory(self.path)
            self._append()
            if not (self.path / INDEX).exists():
                self._compact()

        self._write(write)
        state.store = {"uidvalidity": self.uidvalidity, "index": INDEX}

    def close(self) -> None:
        if self._lines:  # may be called twice: the second time, nothing is left to fold
            self._write(self._compact)

    def _write(self, step: Callable[[], None]) -> None:
        try:
            step()
        except OSError as exc:
            raise StorageError(f"cannot write the index in {self.path}: {exc.strerror}") from exc

    def _append(self) -> None:
        """The pending lines onto the journal, durably."""
        if not self._pending:
            return
        with open(self.path / JOURNAL, "a", encoding="utf-8", newline="\n") as journal:
            journal.write("".join(self._pending))
            journal.flush()
            os.fsync(journal.fileno())
        self._pending.clear()

    def _compact(self) -> None:
        """index.json rewritten from itself and the journal, a message at a time, with the
        flags memory holds and without what is gone; then the journal removed."""
        self._append()
        fd, temporary = tempfile.mkstemp(prefix=f".{INDEX}-", dir=self.path)
        try:
            out = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        except BaseException:
            os.close(fd)
            os.unlink(temporary)
            raise
        try:
            with out:
                os.fchmod(out.fileno(), 0o644)
                out.write(f'{{"uidvalidity": {self.uidvalidity},\n"messages": {{')
                separator = "\n"
                for uid, text in self._entries():
                    out.write(f'{separator} "{uid}": {text}')
                    separator = ",\n"
                out.write("\n}}\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path / INDEX)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        fsync_directory(self.path)  # the new index before the journal's removal
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path / JOURNAL)
        for uid, known in self._known.items():  # (same keys: no resizing while iterating)
            if known.where != _IN_INDEX:
                self._known[uid] = known._replace(where=_IN_INDEX)
        self._lines = 0
        self._whole = False

    def _entries(self) -> Iterator[tuple[int, str]]:
        """Every stored message's entry (its JSON), from index.json or the journal, whichever
        holds its latest; flags as memory has them."""
        if (self.path / INDEX).exists():
            for uid, text in _index_entries(self.path / INDEX, self.uidvalidity, self._whole):
                known = self._known.get(uid)
                if known is not None and known.where == _IN_INDEX:
                    yield uid, _with_flags(json.loads(text), known.flags, text)
        try:
            handle = open(self.path / JOURNAL, encoding="utf-8", newline="\n")  # noqa: SIM115
        except FileNotFoundError:
            return
        with handle:
            for number, record, line in _journal_records(handle):
                uid = record.pop("uid", None)
                if not isinstance(uid, int):
                    continue
                known = self._known.get(uid)
                if known is not None and known.where == number:
                    # The entry's own JSON is the line without its uid (as _add wrote it).
                    prefix = f'{{"uid": {uid}, '
                    text = "{" + line[len(prefix) :].rstrip("\n")
                    own = text if line.startswith(prefix) else None
                    yield uid, _with_flags(record, known.flags, own)


def _index_entries(file: Path, uidvalidity: int, whole: bool) -> Iterator[tuple[int, str]]:
    """index.json's entries, (uid, its JSON): a line at a time as _compact writes it (_NotOurs
    at the first line that is not), or ``whole``; none if there is no index.json."""
    try:
        handle = open(file, encoding="utf-8", newline="\n")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return
    with handle:
        if whole:
            data = json.load(handle)
            if not isinstance(data, dict) or data.get("uidvalidity") != uidvalidity:
                raise _foreign(
                    file.parent,
                    data.get("uidvalidity") if isinstance(data, dict) else None,
                    uidvalidity,
                )
            for uid, entry in (data.get("messages") or {}).items():
                if str(uid).isdigit() and isinstance(entry, dict):
                    yield int(uid), json.dumps(entry, ensure_ascii=False)
            return
        first = _INDEX_HEAD.match(handle.readline().rstrip("\n"))
        if first is None:
            raise _NotOurs(file)
        if int(first.group(1)) != uidvalidity:
            raise _foreign(file.parent, int(first.group(1)), uidvalidity)
        for raw in handle:
            line = raw.rstrip("\n")
            match = _INDEX_ENTRY.match(line)
            if match is not None:
                yield int(match.group(1)), match.group(2)
            elif line.strip() not in ('"messages": {', "", "}}"):
                raise _NotOurs(file)


def _journal_records(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any], str]]:
    """The journal's records, their line numbers and lines; a line a kill cut is skipped."""
    for number, line in enumerate(lines):
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict):
                yield number, record, line


def _with_flags(entry: dict[str, Any], flags: tuple[str, ...], text: str | None) -> str:
    """``entry``'s JSON with ``flags`` (``text``, its JSON as read, when they are its own)."""
    if text is not None and entry.get("flags") == list(flags):
        return text
    entry["flags"] = list(flags)
    return json.dumps(entry, ensure_ascii=False)


def _foreign(path: Path, found: object, uidvalidity: int) -> StorageError:
    return StorageError(
        f"{path} holds messages of UIDVALIDITY {found}, the folder's is now {uidvalidity}: "
        "move it aside"
    )


def _describe(
    uid: int, head: bytes, size: int, internaldate: datetime | None, flags: tuple[str, ...]
) -> dict[str, Any]:
    """A message's entry in index.json; ``head``: its first bytes."""
    end = head.find(b"\r\n\r\n")
    if end < 0:
        end = head.find(b"\n\n")
    fields: dict[str, str] = {}
    for match in _FIELDS.finditer(head[: end + 1] if end >= 0 else head):
        fields.setdefault(match.group(1).decode().lower(), _decoded(match.group(2)))
    return {
        "file": f"{uid}.eml",
        "flags": [f for f in flags if f != "\\Recent"],
        "internaldate": (internaldate or datetime.now(UTC)).isoformat(),
        "size": size,
        "message_id": fields.get("message-id"),
        "subject": fields.get("subject"),
    }


def _decoded(value: bytes) -> str:
    """A header's value, unfolded, its encoded words (RFC 2047) decoded."""
    text = " ".join(value.decode("utf-8", "replace").split())
    if "=?" in text:
        with contextlib.suppress(ValueError, LookupError, email.errors.HeaderParseError):
            return str(email.header.make_header(email.header.decode_header(text)))
    return text
