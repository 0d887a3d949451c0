"""The token cache: msal's cache, persisted where another process can share it safely.

Tokens live in a file of mode 0600 (written to a temporary file and renamed into place, so a
crash never leaves a torn cache), guarded by a lock file so two processes refreshing at once
take turns (msal-extensions' PersistedTokenCache does the reload-under-lock dance). Where the
OS offers a keyring msal-extensions can use (macOS Keychain, Windows DPAPI, libsecret), the
cache goes there instead; on a headless Linux box there is none, and the file is used.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import portalocker
from msal_extensions import PersistedTokenCache, build_encrypted_persistence
from msal_extensions.persistence import BasePersistence, PersistenceNotFound

from o365imap.auth.profiles import home_dir
from o365imap.errors import AuthError

__all__ = ["AtomicFilePersistence", "TokenCacheBusy", "TokenStore", "open_token_cache"]


class TokenCacheBusy(AuthError):
    """Another process kept the token cache locked for too long."""


class AtomicFilePersistence(BasePersistence):  # type: ignore[misc]
    """A plain file, 0600, replaced atomically on every save."""

    is_encrypted = False

    def __init__(self, location: Path) -> None:
        self._location = Path(location)

    def save(self, content: str) -> None:
        directory = self._location.parent
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".tokens-", dir=directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._location)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def load(self) -> str:
        try:
            return self._location.read_text(encoding="utf-8")
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise PersistenceNotFound(location=str(self._location)) from exc
            raise

    def time_last_modified(self) -> float:
        try:
            return os.path.getmtime(self._location)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise PersistenceNotFound(location=str(self._location)) from exc
            raise

    def touch(self) -> None:
        if not self._location.exists():
            self.save("{}")
        else:
            os.utime(self._location)

    def get_location(self) -> str:
        return str(self._location)


class TokenStore:
    """Where a profile's tokens are kept, and a description of it for `whoami`."""

    def __init__(self, path: Path | None = None, *, use_keyring: bool | None = None) -> None:
        self.path = path or home_dir("data") / "tokens.json"
        self.use_keyring = (
            os.environ.get("O365IMAP_TOKEN_STORE", "auto") != "file"
            if use_keyring is None
            else use_keyring
        )
        self.description = f"file {self.path} (mode 0600)"

    def open(self) -> PersistedTokenCache:
        """An msal token cache bound to this store (a keyring when one works, else the file)."""
        persistence: BasePersistence | None = None
        if self.use_keyring:
            persistence = _keyring_persistence(self.path.with_suffix(".keyring"))
            if persistence is not None:
                self.description = "the system keyring"
        if persistence is None:
            persistence = AtomicFilePersistence(self.path)
        lock = self.path.parent / (self.path.name + ".lock")
        lock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return PersistedTokenCache(persistence, lock_location=str(lock))

    @contextlib.contextmanager
    def refresh_lock(self, timeout: float = 60.0) -> Iterator[None]:
        """Held while a token may be refreshed: other processes wait, then find it fresh."""
        lock_path = self.path.parent / (self.path.name + ".refresh.lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
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
