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

msal-extensions (and msal under it) loads only when msal's cache is opened: the persistence
built on it lives in persistence.py. A saved token that is still valid is read from the file
as it is (:meth:`TokenStore.read_saved`, saved.py), without either.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from o365imap.auth.profiles import home_dir, unwritable
from o365imap.auth.saved import SavedTokens, parse_cache
from o365imap.errors import AuthError

if TYPE_CHECKING:
    from msal_extensions import PersistedTokenCache
    from msal_extensions.persistence import BasePersistence

__all__ = [
    "TokenCacheBusy",
    "TokenStore",
    "open_token_cache",
]


class TokenCacheBusy(AuthError):
    """Another process kept the token cache locked for too long."""


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
        if persistence is None:
            return f"file {self.path} (mode 0600)"
        from o365imap.auth.persistence import (  # noqa: PLC0415 - loaded by open() already
            AtomicFilePersistence,
            FallbackPersistence,
        )

        if isinstance(persistence, FallbackPersistence):
            persistence = persistence.active
        if isinstance(persistence, AtomicFilePersistence):
            return f"file {self.path} (mode 0600)"
        return "the system keyring"

    def open(self) -> PersistedTokenCache:
        """An msal token cache bound to this store (a keyring when one works, else the file)."""
        from msal_extensions import PersistedTokenCache  # noqa: PLC0415 - see the docstring

        from o365imap.auth.persistence import (  # noqa: PLC0415
            AtomicFilePersistence,
            FallbackPersistence,
            keyring_persistence,
        )

        file = AtomicFilePersistence(self.path)
        persistence: BasePersistence = file
        # A token file already there means a keyring failed once (or the file was chosen):
        # the tokens are in it, so it stays the store.
        if self.use_keyring and not self.path.exists():
            keyring = keyring_persistence(self.path.with_suffix(".keyring"))
            if keyring is not None:
                persistence = FallbackPersistence(keyring, file)
        self._persistence = persistence
        lock = self._lock_file(".lock")
        return PersistedTokenCache(persistence, lock_location=str(lock))

    def read_saved(self) -> SavedTokens | None:
        """The tokens of the plain file as they are now, for reading only; None when they may
        be in a keyring, or when the file is missing, unreadable or damaged: msal's cache
        (:meth:`open`) then decides, and says what is wrong.

        The file is replaced whole on every save (persistence.py), so reading it without the
        lock sees one version or the other, never a mix."""
        if self.use_keyring and not self.path.exists():
            return None  # open() would look in the keyring
        try:
            content = self.path.read_text(encoding="utf-8")
        except (OSError, ValueError):
            return None
        data = parse_cache(content)
        return None if data is None else SavedTokens(data)

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
        import portalocker  # noqa: PLC0415 - only to refresh

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


def open_token_cache(path: Path | None = None) -> PersistedTokenCache:
    return TokenStore(path).open()
