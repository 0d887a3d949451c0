"""The Maildir format: one file per message, in ``cur/`` with its flags in its name.

A message is written into ``tmp/`` and renamed into ``cur/`` once whole (a reader never sees a
part of one); its modification time is the internal date, which is what Dovecot (and mutt)
show as the date received. The file's name carries what a rerun needs, so that the directory
itself is the index: ``<date>.M<uid>U<uidvalidity>.o365imap,S=<size>:2,<flags>``. ``S=`` is
Dovecot's size field; system flags are Maildir's letters (``S`` seen, ``R`` answered, ``F``
flagged, ``T`` deleted, ``D`` draft), and keywords (``$Forwarded``, ``$Junk``) are the letters
``a``-``z`` of Dovecot's ``dovecot-keywords`` file in the folder, as Dovecot writes it, so that a
Dovecot serving the export shows them (Maildir has no letter for a 27th keyword: it is not kept).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path

from o365imap._files import fsync_directory
from o365imap.errors import StorageError

from ._state import FolderState
from ._store import SYSTEM_FLAGS, Incoming, MessageMeta, StoredMessage

__all__ = ["MaildirStore"]

_NAME = re.compile(r"^(\d+)\.M(\d+)U(\d+)\.o365imap,S=(\d+)(?::2,([A-Za-z]*))?$")
_LETTERS = {letter: flag for flag, letter in SYSTEM_FLAGS.items()}
_KEYWORD_LETTERS = "abcdefghijklmnopqrstuvwxyz"
KEYWORDS_FILE = "dovecot-keywords"


class MaildirStore:
    """One folder as a Maildir at ``path``."""

    format = "maildir"

    def __init__(self, path: Path, uidvalidity: int) -> None:
        self.path = path
        self.uidvalidity = uidvalidity
        self._serial = 0
        self._files: dict[int, str] = {}  # uid -> file name in cur/ (or new/)
        self._keywords: list[str] = []
        self._dirty = False
        try:
            for sub in ("cur", "new", "tmp"):
                (path / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot make the Maildir {path}: {exc.strerror}") from exc
        self._read_keywords()

    # -- reading what is there -----------------------------------------------------------------

    def _read_keywords(self) -> None:
        try:
            lines = (self.path / KEYWORDS_FILE).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        found: dict[int, str] = {}
        for line in lines:
            index, _, name = line.partition(" ")
            if index.isdigit() and name:
                found[int(index)] = name
        self._keywords = [found[i] for i in sorted(found) if i < len(_KEYWORD_LETTERS)]

    def recover(self, state: FolderState) -> None:
        # What a killed run left in tmp/ was never visible: it goes. (Ours only: another
        # program delivering into this Maildir would own its own tmp/ files.)
        for entry in os.scandir(self.path / "tmp"):
            if ".o365imap" in entry.name or entry.name.startswith("o365imap-"):
                os.unlink(entry.path)

    def stored(self) -> Mapping[int, StoredMessage]:
        found: dict[int, StoredMessage] = {}
        self._files.clear()
        for sub in ("cur", "new"):
            for entry in os.scandir(self.path / sub):
                match = _NAME.match(entry.name)
                if match is None or int(match.group(3)) != self.uidvalidity:
                    continue
                uid = int(match.group(2))
                size = entry.stat().st_size
                if size != int(match.group(4)):
                    # Not the bytes it was written with (a power cut before the file's data
                    # reached the disk; the rename did): it goes, and is fetched again.
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
                    continue
                flags = frozenset(self._flags_of(match.group(5) or ""))
                found[uid] = StoredMessage(uid, flags, size)
                self._files[uid] = f"{sub}/{entry.name}"
        return found

    def _flags_of(self, letters: str) -> list[str]:
        flags = []
        for letter in letters:
            if letter in _LETTERS:
                flags.append(_LETTERS[letter])
            elif letter in _KEYWORD_LETTERS:
                index = _KEYWORD_LETTERS.index(letter)
                if index < len(self._keywords):
                    flags.append(self._keywords[index])
        return flags

    # -- writing -------------------------------------------------------------------------------

    def incoming(self) -> Incoming:
        self._serial += 1
        name = f"o365imap-{os.getpid()}-{time.time_ns()}-{self._serial}.tmp"
        path = self.path / "tmp" / name
        try:
            handle = open(path, "xb")  # noqa: SIM115 - Incoming closes it
        except OSError as exc:
            raise StorageError(f"cannot write in {path.parent}: {exc.strerror}") from exc
        return Incoming(path, handle)

    def commit(self, incoming: Incoming, meta: MessageMeta) -> None:
        stamp = int(meta.internaldate.timestamp()) if meta.internaldate else int(time.time())
        name = self._name(meta.uid, stamp, incoming.size, meta.flags)
        try:
            incoming.handle.flush()
            # on the open file (futimens): no second look-up of the path, 20,000 times over
            os.utime(incoming.handle.fileno(), (stamp, stamp))
            incoming.close()
            os.rename(incoming.path, self.path / "cur" / name)
        except OSError as exc:
            incoming.discard()
            raise StorageError(f"cannot store a message in {self.path}: {exc.strerror}") from exc
        self._files[meta.uid] = f"cur/{name}"

    def _name(self, uid: int, stamp: int, size: int, flags: tuple[str, ...]) -> str:
        return f"{stamp}.M{uid}U{self.uidvalidity}.o365imap,S={size}:2,{self._letters(flags)}"

    def _letters(self, flags: tuple[str, ...]) -> str:
        letters = {SYSTEM_FLAGS[f] for f in flags if f in SYSTEM_FLAGS}
        for flag in flags:
            if flag.startswith("\\"):
                continue  # \Recent and other server-only flags are not stored
            if flag not in self._keywords and len(self._keywords) < len(_KEYWORD_LETTERS):
                self._keywords.append(flag)
                self._write_keywords()
            if flag in self._keywords:
                letters.add(_KEYWORD_LETTERS[self._keywords.index(flag)])
        return "".join(sorted(letters))

    def _write_keywords(self) -> None:
        text = "".join(f"{i} {name}\n" for i, name in enumerate(self._keywords))
        tmp = self.path / f".{KEYWORDS_FILE}.o365imap"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path / KEYWORDS_FILE)

    def set_flags(self, uid: int, flags: tuple[str, ...]) -> None:
        current = self._files.get(uid)
        if current is None:
            return
        match = _NAME.match(current.split("/", 1)[1])
        assert match is not None
        name = self._name(uid, int(match.group(1)), int(match.group(4)), flags)
        try:
            os.rename(self.path / current, self.path / "cur" / name)
        except OSError as exc:
            raise StorageError(f"cannot rename a message in {self.path}: {exc.strerror}") from exc
        self._files[uid] = f"cur/{name}"

    def remove(self, uid: int) -> None:
        current = self._files.pop(uid, None)
        if current is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path / current)

    def checkpoint(self, state: FolderState) -> None:
        # Nothing to make durable between batches: the directory is the index (a rerun
        # scans it), and the state's UIDs decide nothing here, so a power cut can only lose
        # files, or leave one without its bytes (stored() drops a file whose size is not its
        # S=), that a rerun then fetches again. (A kill -9 loses nothing the kernel has.)
        # One fsync of cur/ per folder, in close(), costs a third of what one per batch did.
        self._dirty = True

    def close(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        fsync_directory(self.path / "cur")
