"""What an import remembers: which source message went to which folder and UID.

One file per (source, account, target), in the user's data directory (never in the source,
which may be read-only): ``<data>/imports/<digest>.jsonl``. It is a journal, JSON Lines,
appended to rather than rewritten: an import of 100,000 messages saving a whole JSON state
every 50 messages would write gigabytes, the journal writes each line once. Its lines:

- ``{"source": ..., "account": ..., "target": ...}`` first: what it is the journal of;
- ``{"f": folder, "intend": [key, ...]}`` before a batch of APPENDs, made durable (fsync);
- ``{"f": folder, "k": key, "u": uid}`` after each APPEND returned (written at once, so a
  kill -9 loses none; fsynced at the end of the batch).

So after any crash, a key whose ``intend`` survived without its record is *unsure* (appended
or not: the import looks in the folder before appending it again), and any key never intended
was never appended. A line cut short by a crash is dropped on reading. Each run starts by
rewriting the journal compactly (atomically, ``write_text_atomically``): the records and the
unsure keys, the old ``intend`` lines folded away.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path
from types import TracebackType
from typing import Any

from o365imap._files import write_text_atomically
from o365imap.errors import StorageError, UsageError

__all__ = ["Journal", "journal_path"]


def journal_path(state_dir: Path, source: str, account: str, target: str) -> Path:
    """Where the journal of importing ``source`` into ``account`` (``target``: "tree" or
    "to:FOLDER") is kept, in ``state_dir`` (the command line's: ``<data>/imports``)."""
    what = json.dumps([source, account, target], ensure_ascii=False)
    digest = hashlib.sha256(what.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return state_dir / f"{digest}.jsonl"


class Journal:
    """An import's journal, open for a run."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self._fd = fd
        self._done: dict[str, dict[str, int | None]] = {}
        self._unsure: dict[str, set[str]] = {}
        self._dirty = False
        self._lock_fd: int | None = None

    @classmethod
    def open(cls, path: Path, meta: dict[str, str], *, readonly: bool = False) -> Journal:
        """Read the journal at ``path`` (if any), rewrite it compactly, open it to append.
        ``readonly`` (a dry run): read only, write nothing."""
        journal = cls(path, None)
        if not readonly:
            journal._lock()
        try:
            journal._read()
            if not readonly:
                journal._compact(meta)
        except BaseException:
            journal.close()
            raise
        return journal

    def _lock(self) -> None:
        """One run at a time per journal: a second would append what the first is appending."""
        lock = self.path.with_suffix(".lock")
        try:
            lock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._lock_fd = os.open(lock, os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StorageError(f"cannot write the import's journal {lock}: {exc.strerror}") from exc
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            self._lock_fd = None
            raise UsageError(
                "another o365imap import of this source into this mailbox is running"
            ) from None

    def _compact(self, meta: dict[str, str]) -> None:
        lines = [json.dumps(meta)]
        for folder, records in self._done.items():
            lines += [_line({"f": folder, "k": key, "u": uid}) for key, uid in records.items()]
        for folder, keys in self._unsure.items():
            if keys:
                lines.append(_line({"f": folder, "intend": sorted(keys)}))
        try:
            write_text_atomically(self.path, "".join(line + "\n" for line in lines), mode=0o600)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            raise StorageError(
                f"cannot write the import's journal {self.path}: {exc.strerror}"
            ) from exc

    def _read(self) -> None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(f"cannot read the import's journal {self.path}: {exc}") from exc
        for raw in data.split(b"\n")[:-1]:  # the last piece: empty, or a line cut short
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("f"), str):
                self._apply(entry)

    def _apply(self, entry: dict[str, Any]) -> None:
        folder = entry["f"]
        done = self._done.setdefault(folder, {})
        unsure = self._unsure.setdefault(folder, set())
        if isinstance(entry.get("k"), str):
            uid = entry.get("u")
            done[entry["k"]] = uid if isinstance(uid, int) else None
            unsure.discard(entry["k"])
        elif isinstance(entry.get("intend"), list):
            unsure.update(k for k in entry["intend"] if isinstance(k, str) and k not in done)

    # -- what it knows ---------------------------------------------------------------------------

    def done(self, folder: str) -> dict[str, int | None]:
        """The source folder's messages appended so far: key -> UID (None: not said)."""
        return self._done.setdefault(folder, {})

    def unsure(self, folder: str) -> set[str]:
        """Keys a killed run was appending and did not record."""
        return self._unsure.setdefault(folder, set())

    # -- writing ---------------------------------------------------------------------------------

    def intend(self, folder: str, keys: list[str]) -> None:
        """These are about to be appended: durable before the first APPEND."""
        self._write({"f": folder, "intend": keys})
        self.sync()

    def record(self, folder: str, key: str, uid: int | None) -> None:
        """``key`` is in the mailbox now (as ``uid``)."""
        self._write({"f": folder, "k": key, "u": uid})
        self._done.setdefault(folder, {})[key] = uid
        self._unsure.get(folder, set()).discard(key)

    def _write(self, entry: dict[str, Any]) -> None:
        if self._fd is None:
            return
        data = (_line(entry) + "\n").encode("ascii")
        try:
            while data:  # one write() a line: the kernel has it, a kill -9 loses nothing
                data = data[os.write(self._fd, data) :]
        except OSError as exc:
            raise self._unwritable(exc) from exc
        self._dirty = True

    def sync(self) -> None:
        """Make every line so far durable (a power cut loses none)."""
        if self._fd is None or not self._dirty:
            return
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise self._unwritable(exc) from exc
        self._dirty = False

    def _unwritable(self, exc: OSError) -> StorageError:
        return StorageError(f"cannot write the import's journal {self.path}: {exc.strerror}")

    def close(self) -> None:
        try:
            if self._fd is not None:
                try:
                    self.sync()
                finally:
                    os.close(self._fd)
                    self._fd = None
        finally:
            if self._lock_fd is not None:  # closing it lets the next run in
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _line(entry: dict[str, Any]) -> str:
    return json.dumps(entry, separators=(",", ":"))  # ASCII: names not in UTF-8 survive
