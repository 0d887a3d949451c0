"""The token cache: msal's cache, persisted where another process can share it safely.

Tokens live in a file of mode 0600 (written to a temporary file and renamed into place, so a
crash never leaves a torn cache), guarded by a lock file so two processes refreshing at once
take turns (msal-extensions' PersistedTokenCache does the reload-under-lock dance). Where the
OS offers a keyring msal-extensions can use (macOS Keychain, Windows DPAPI, libsecret), the
cache goes there instead; on a headless Linux box there is none, and the file is used. A
keyring that fails to save sends the tokens to the file (with a warning), and once that file
exists it stays the store, so the next process finds the tokens where they went.

A token file that is not a JSON object (a disk error, a hand edit) is moved aside to
``tokens.json.corrupt-<time>`` with a warning, and the program carries on signed out; damaged
keyring contents are read as no tokens (with a warning) and overwritten by the next sign-in.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import portalocker
from msal_extensions import PersistedTokenCache, build_encrypted_persistence
from msal_extensions.persistence import BasePersistence, PersistenceNotFound

from o365imap._files import write_text_atomically
from o365imap.auth.profiles import home_dir, unwritable
from o365imap.errors import AuthError

__all__ = [
    "AtomicFilePersistence",
    "FallbackPersistence",
    "TokenCacheBusy",
    "TokenCacheUnreadable",
    "TokenStore",
    "open_token_cache",
]

log = logging.getLogger("o365imap.auth")


class TokenCacheBusy(AuthError):
    """Another process kept the token cache locked for too long."""


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
        if content is not None and _is_cache(content):
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


def _is_cache(content: str) -> bool:
    """msal's cache is a JSON object of objects; anything else would crash it later."""
    if not content.strip():
        return True  # an empty file is an empty cache
    try:
        data = json.loads(content)
    except ValueError:
        return False
    return isinstance(data, dict) and all(isinstance(v, dict) for v in data.values())


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
        if self.active is not self.file and not _is_cache(content):
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


class TokenStore:
    """Where a profile's tokens are kept, and a description of it for `whoami`."""

    def __init__(self, path: Path | None = None, *, use_keyring: bool | None = None) -> None:
        self.path = path or home_dir("data") / "tokens.json"
        self.use_keyring = (
            os.environ.get("O365IMAP_TOKEN_STORE", "auto") != "file"
            if use_keyring is None
            else use_keyring
        )
        self._persistence: BasePersistence | None = None

    @property
    def description(self) -> str:
        persistence = self._persistence
        if isinstance(persistence, FallbackPersistence):
            persistence = persistence.active
        if persistence is None or isinstance(persistence, AtomicFilePersistence):
            return f"file {self.path} (mode 0600)"
        return "the system keyring"

    def open(self) -> PersistedTokenCache:
        """An msal token cache bound to this store (a keyring when one works, else the file)."""
        file = AtomicFilePersistence(self.path)
        persistence: BasePersistence = file
        # A token file already there means a keyring failed once (or the file was chosen):
        # the tokens are in it, so it stays the store.
        if self.use_keyring and not self.path.exists():
            keyring = _keyring_persistence(self.path.with_suffix(".keyring"))
            if keyring is not None:
                persistence = FallbackPersistence(keyring, file)
        self._persistence = persistence
        lock = self._lock_file(".lock")
        return PersistedTokenCache(persistence, lock_location=str(lock))

    def _lock_file(self, suffix: str) -> Path:
        """A lock file's path, its directory proved writable now: an unwritable home is a
        sentence, not a traceback from deep in msal. (The file itself is not created: msal's
        lock takes an existing one for another process's.)"""
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            with tempfile.TemporaryFile(dir=directory):
                pass
        except OSError as exc:
            raise unwritable(directory, exc) from exc
        return directory / (self.path.name + suffix)

    @contextlib.contextmanager
    def refresh_lock(self, timeout: float = 60.0) -> Iterator[None]:
        """Held while a token may be refreshed: other processes wait, then find it fresh."""
        lock_path = self._lock_file(".refresh.lock")
        lock = portalocker.Lock(str(lock_path), mode="a", timeout=timeout, check_interval=0.05)
        try:
            lock.acquire()
        except portalocker.exceptions.LockException as exc:
            raise TokenCacheBusy(
                f"another o365imap process has held the token cache for {timeout:g} s"
            ) from exc
        try:
            yield
        finally:
            lock.release()

    def remove(self) -> bool:
        removed = False
        for path in (self.path, self.path.with_suffix(".keyring")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed = True
        return removed


def _digest(content: bytes) -> bytes:
    return hashlib.sha256(content).digest()


def _keyring_persistence(location: Path) -> BasePersistence | None:
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


def open_token_cache(path: Path | None = None) -> PersistedTokenCache:
    return TokenStore(path).open()
