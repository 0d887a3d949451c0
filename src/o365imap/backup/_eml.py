"""The eml format: a directory per folder, one ``<uid>.eml`` file per message, and an index.

Each file holds the message's bytes exactly as the server sent them (CRLF line ends included);
its modification time is the internal date. A message is written into a hidden temporary file
in the same directory (``.o365imap-<pid>-<ns>-<n>.tmp``) and renamed to ``<uid>.eml`` once
whole: a reader never sees part of one, and a killed run leaves only temporary files, which the
next run removes.

``index.json`` describes the folder for people and scripts::

    {"uidvalidity": 1733400000,
     "messages": {"42": {"file": "42.eml", "flags": ["\\\\Seen"],
                         "internaldate": "2024-05-01T09:30:00+02:00", "size": 5120,
                         "message_id": "<a@b>", "subject": "Hello"}}}

It is rewritten atomically at each checkpoint. The files are the truth: a ``<uid>.eml`` the
index does not list (committed after the last checkpoint) is stored, flags unknown (the
engine's flag sync sets them from the server's), and an entry whose file is gone is not.
"""

from __future__ import annotations

import contextlib
import email.errors
import email.header
import json
import os
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from o365imap._files import write_text_atomically
from o365imap.errors import StorageError

from ._state import FolderState
from ._store import Incoming, MessageMeta, StoredMessage

__all__ = ["INDEX", "EmlStore"]

INDEX = "index.json"
_TEMPORARY = ".o365imap-"
_NAME = re.compile(r"^([1-9]\d*)\.eml$")
_HEAD_LIMIT = 64 * 1024  # bytes read for the Message-ID and Subject
_FIELDS = re.compile(rb"^(message-id|subject)[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.I | re.M)


class EmlStore:
    """One folder as a directory of ``.eml`` files at ``path``."""

    format = "eml"

    def __init__(self, path: Path, uidvalidity: int) -> None:
        self.path = path
        self.uidvalidity = uidvalidity
        self._serial = 0
        self._index: dict[int, dict[str, Any]] = {}
        self._json: dict[int, str] = {}  # each entry as index.json has it (made once)
        self._changed = False
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot make {path}: {exc.strerror}") from exc

    # -- resuming ------------------------------------------------------------------------------

    def recover(self, state: FolderState) -> None:
        for entry in os.scandir(self.path):
            # Ours, and what a killed write_text_atomically left of the index.
            if entry.name.startswith((_TEMPORARY, f".{INDEX}-")):
                os.unlink(entry.path)
        try:
            data = json.loads((self.path / INDEX).read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {"uidvalidity": self.uidvalidity, "messages": {}}
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot read {self.path / INDEX}: {exc}") from exc
        if data.get("uidvalidity") != self.uidvalidity:
            raise StorageError(
                f"{self.path} holds messages of UIDVALIDITY {data.get('uidvalidity')}, the "
                f"folder's is now {self.uidvalidity}: move it aside"
            )
        self._index = {int(uid): entry for uid, entry in data.get("messages", {}).items()}
        on_disk = self._files()
        for uid in [uid for uid in self._index if uid not in on_disk]:
            del self._index[uid]  # its file is gone: fetched again
            self._changed = True
        for uid, size in on_disk.items():
            if uid not in self._index:  # committed after the last checkpoint
                with open(self.path / f"{uid}.eml", "rb") as handle:
                    head = handle.read(_HEAD_LIMIT)
                    stamp = os.fstat(handle.fileno()).st_mtime  # the internal date, as written
                date = datetime.fromtimestamp(stamp, UTC)
                self._index[uid] = _describe(uid, head, size, date, ())
                self._changed = True

    def _files(self) -> dict[int, int]:
        found: dict[int, int] = {}
        for entry in os.scandir(self.path):
            match = _NAME.match(entry.name)
            if match is not None and entry.is_file():
                found[int(match.group(1))] = entry.stat().st_size
        return found

    def stored(self) -> Mapping[int, StoredMessage]:
        return {
            uid: StoredMessage(uid, frozenset(entry["flags"]), entry["size"])
            for uid, entry in self._index.items()
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
        self._json.pop(meta.uid, None)
        self._index[meta.uid] = _describe(
            meta.uid, head, incoming.size, meta.internaldate, meta.flags
        )
        self._changed = True

    def set_flags(self, uid: int, flags: tuple[str, ...]) -> None:
        entry = self._index.get(uid)
        if entry is not None:
            entry["flags"] = [f for f in flags if f != "\\Recent"]
            self._json.pop(uid, None)
            self._changed = True

    def remove(self, uid: int) -> None:
        self._json.pop(uid, None)
        if self._index.pop(uid, None) is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path / f"{uid}.eml")
            self._changed = True

    def checkpoint(self, state: FolderState) -> None:
        # Renames are durable once the directory is (kill -9 loses nothing the kernel has;
        # the fsync is for a power cut). The index comes after: it never lists a file the
        # directory may not have.
        try:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            if self._changed or not (self.path / INDEX).exists():
                write_text_atomically(self.path / INDEX, self._index_text(), mode=0o644)
        except OSError as exc:
            raise StorageError(f"cannot write {self.path / INDEX}: {exc.strerror}") from exc
        self._changed = False
        state.store = {"uidvalidity": self.uidvalidity, "index": INDEX}

    def _index_text(self) -> str:
        """index.json, from each entry's JSON made once (a checkpoint per batch of a folder
        of 100,000 messages would otherwise spend its time encoding the same entries)."""
        lines = []
        for uid in sorted(self._index):
            line = self._json.get(uid)
            if line is None:
                line = self._json[uid] = json.dumps(self._index[uid], ensure_ascii=False)
            lines.append(f' "{uid}": {line}')
        messages = ",\n".join(lines)
        return f'{{"uidvalidity": {self.uidvalidity},\n"messages": {{\n{messages}\n}}}}\n'

    def close(self) -> None:
        pass


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
