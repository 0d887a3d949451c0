"""The token cache's storage, as msal-extensions' persistence: a plain file, or a keyring.

What goes where is cache.py's decision (its docstring tells the whole story); this module is the
persistence msal-extensions reads and writes through, kept apart because it is built on
msal-extensions (and so on msal): it loads only when msal's cache is opened, not when a saved
token is read as it is (saved.py).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import math
import os
import time
from pathlib import Path

from msal_extensions import build_encrypted_persistence
from msal_extensions.persistence import BasePersistence, PersistenceNotFound

from o365imap._files import write_text_atomically
from o365imap.auth.profiles import unwritable
from o365imap.auth.saved import is_cache
from o365imap.errors import AuthError

__all__ = [
    "AtomicFilePersistence",
    "FallbackPersistence",
    "TokenCacheUnreadable",
    "keyring_persistence",
]

log = logging.getLogger("o365imap.auth")


class TokenCacheUnreadable(AuthError):
    """The token cache exists but cannot be read (permissions, an I/O error)."""


class AtomicFilePersistence(BasePersistence):  # type: ignore[misc]
    """A plain file, 0600, replaced atomically on every save.

    msal-extensions reloads the cache when ``time_last_modified()`` is later than the moment
    it last read or wrote it. Comparing clocks loses a save that lands between another
    process's read and its taking the time (seen with four processes refreshing at once on a
    busy machine: one then redeemed a refresh token already rotated). So this file says
    instead whether its content is still what was last read or written here: "not modified"
    (0) if so, "modified" (infinity) if not. Content, not inode or timestamp: ext4 hands a
    replaced file's inode to the next one, and coarse timestamps repeat. The file is a few KB;
    reading it for the check costs less than a wrong refresh.
    """

    is_encrypted = False

    def __init__(self, location: Path) -> None:
        self._location = Path(location)
        self._seen: bytes | None = None  # digest of the content last read or written

    def save(self, content: str) -> None:
        directory = self._location.parent
        try:
            write_text_atomically(self._location, content)
            self._seen = _digest(content.encode("utf-8"))
        except OSError as exc:
            raise unwritable(directory, exc) from exc

    def load(self) -> str:
        try:
            raw = self._location.read_bytes()
        except OSError as exc:
            raise self._unreadable(exc) from exc
        seen = _digest(raw)
        try:
            content: str | None = raw.decode("utf-8")
        except ValueError:  # not UTF-8
            content = None
        if content is not None and is_cache(content):
            self._seen = seen
            return content
        self._move_aside(content)
        raise PersistenceNotFound(location=str(self._location))

    def time_last_modified(self) -> float:
        try:
            current = _digest(self._location.read_bytes())
        except OSError as exc:
            raise self._unreadable(exc) from exc
        return 0.0 if current == self._seen else math.inf

    def _unreadable(self, exc: OSError) -> Exception:
        if exc.errno == errno.ENOENT:
            missing: Exception = PersistenceNotFound(location=str(self._location))
            return missing
        return TokenCacheUnreadable(
            f"cannot read the token cache {self._location} ({exc.strerror or exc}): fix its "
            "permissions, or delete it and sign in again"
        )

    def _move_aside(self, content: str | None) -> None:
        """Keep the bad file for a post-mortem, out of the way of the next save."""
        aside = self._location.with_name(
            f"{self._location.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}"
        )
        try:
            # Another process may have replaced it with a good file since we read it: only
            # what we saw goes aside (a small window remains; atomic saves make it rare).
            again = self._location.read_text(encoding="utf-8", errors="replace")
            if content is None or again == content:
                os.replace(self._location, aside)
                log.warning(
                    "the token cache %s was damaged: moved it to %s; sign in again",
                    self._location,
                    aside,
                )
        except FileNotFoundError:
            pass  # someone else moved it already
        except OSError as exc:
            raise self._unreadable(exc) from exc

    def touch(self) -> None:
        if not self._location.exists():
            self.save("{}")
        else:
            os.utime(self._location)

    def get_location(self) -> str:
        return str(self._location)


class FallbackPersistence(BasePersistence):  # type: ignore[misc]
    """The keyring while it works; the file from the first failed save on (with a warning)."""

    def __init__(self, keyring: BasePersistence, file: AtomicFilePersistence) -> None:
        self.active: BasePersistence = keyring
        self.file = file

    @property
    def is_encrypted(self) -> bool:
        return bool(self.active.is_encrypted)

    def save(self, content: str) -> None:
        if self.active is not self.file:
            try:
                self.active.save(content)
                return
            except Exception as exc:  # every keyring backend fails in its own way
                # The type only: a backend's message might quote what it was given.
                log.warning(
                    "could not save the tokens in the system keyring (%s): keeping them in "
                    "%s (mode 0600) instead",
                    type(exc).__name__,
                    self.file.get_location(),
                )
                self.active = self.file
        self.file.save(content)

    def load(self) -> str:
        content: str = self.active.load()
        if self.active is not self.file and not is_cache(content):
            # A keyring entry cannot be moved aside like a file; reading it as absent lets the
            # program carry on signed out, and the next sign-in's save overwrites it.
            log.warning("the tokens in the system keyring were damaged: sign in again")
            raise PersistenceNotFound(location=self.active.get_location())
        return content

    def time_last_modified(self) -> float:
        modified: float = self.active.time_last_modified()
        return modified

    def get_location(self) -> str:
        location: str = self.active.get_location()
        return location


def _digest(content: bytes) -> bytes:
    return hashlib.sha256(content).digest()


def keyring_persistence(location: Path) -> BasePersistence | None:
    """msal-extensions' encrypted persistence, or None where the platform has none usable."""
    if os.environ.get("O365IMAP_TOKEN_STORE") == "file":
        return None
    try:
        persistence: BasePersistence = build_encrypted_persistence(str(location))
        with contextlib.suppress(PersistenceNotFound):
            persistence.load()  # proves the keyring answers; never writes
        return persistence
    except Exception:
        return None
