"""What every export format does with one folder's messages: the engine's side of a store.

The engine streams each message's bytes into an :class:`Incoming` (a temporary file the
format owns), then ``commit``s it with what the server said of it (:class:`MessageMeta`):
only then is it visible, whole. ``checkpoint`` makes everything committed so far durable and
records in the folder's state what the format needs to resume; the engine saves the state
after it. After a crash, ``recover`` undoes what was begun and not committed (or committed
and not checkpointed, where the format cannot tell), and ``stored`` says which UIDs are there,
so that a rerun fetches each missing message once and no message twice.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from ._state import FolderState

__all__ = ["SYSTEM_FLAGS", "FolderStore", "Incoming", "MessageMeta", "StoredMessage"]

# IMAP's system flags as Maildir's info letters (in the order Maildir wants them: ASCII).
SYSTEM_FLAGS = {
    "\\Draft": "D",
    "\\Flagged": "F",
    "\\Answered": "R",
    "\\Seen": "S",
    "\\Deleted": "T",
}


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """What the server said of a message: UID, flags, internal date, RFC822.SIZE."""

    uid: int
    flags: tuple[str, ...]
    internaldate: datetime | None
    size: int


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message as the store holds it: flags as stored, size in bytes on disk."""

    uid: int
    flags: frozenset[str]
    size: int


class Incoming:
    """One message's bytes on their way into a store: a file the format chose."""

    def __init__(self, path: Path, handle: BinaryIO) -> None:
        self.path = path
        self.handle = handle
        self.size = 0

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.size += len(data)

    def close(self) -> None:
        self.handle.close()

    def discard(self) -> None:
        self.handle.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class FolderStore(Protocol):
    """One folder of an export, in one format."""

    def recover(self, state: FolderState) -> None:
        """Undo what a killed run began and did not finish (before anything else)."""

    def stored(self) -> Mapping[int, StoredMessage]:
        """Every message the store holds, by UID."""

    def incoming(self) -> Incoming:
        """A new message's bytes go here, then to commit() or discard()."""

    def commit(self, incoming: Incoming, meta: MessageMeta) -> None:
        """Make ``incoming`` a stored message, visible whole or not at all."""

    def set_flags(self, uid: int, flags: tuple[str, ...]) -> None:
        """The stored message's flags are now ``flags`` (the server's)."""

    def remove(self, uid: int) -> None:
        """Remove a stored message (``--mirror``: the server has deleted it)."""

    def checkpoint(self, state: FolderState) -> None:
        """Make every commit so far durable; put what resuming needs in ``state.store``."""

    def close(self) -> None:
        """Make what was committed durable and release files; may be called twice."""
