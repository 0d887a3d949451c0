"""Atomic, contained file writing: the only module of ``mime`` that writes to disk.

The rules this module keeps:

* Nothing appears under the final name until every byte is written and synced; an exception
  (or Ctrl-C) at any point removes the temporary file. Only a killed process leaves one behind,
  and it is a hidden ``.*.o365imap-part`` file, never a truncated file under the real name.
* Such leftovers do not pile up: the first AtomicFile a process opens in a folder removes the
  temporary files there that are stale (``remove_stale_temporaries``), and only those. Each
  writer holds an exclusive ``flock`` on its temporary file for as long as it writes, which
  the kernel drops when the process dies, even of SIGKILL; a file is stale when its lock can
  be taken *and* it has not changed for a minute (the minute covers the instant between
  creating a file and locking it, and file systems whose locks do not reach other machines).
  Where files cannot be locked at all, a day without a change is the only sign. Files of
  other users and names not of this module's pattern are never touched.
* Nothing is written outside the folder: every operation is relative to a descriptor of the
  folder opened at the start (``dir_fd=``), names are single components, the temporary file is
  created with ``O_EXCL | O_NOFOLLOW``, and the final name is made with ``link`` (or
  ``rename`` over it with ``overwrite``), neither of which follows a symlink planted there.
  If the folder's path is swapped for another folder or a symlink while writing, the commit
  is refused.
* An existing file is never replaced unless ``overwrite``; otherwise the file gets the first
  free name of ``name``, ``name (2).ext``, ``name (3).ext`` ... and the choice is race-free:
  ``link`` fails rather than replace.

POSIX only (``dir_fd`` and ``O_NOFOLLOW``): Windows needs its own implementation of the same
rules.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import re
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from o365imap.errors import UsageError
from o365imap.mime.names import StorageError, check_component, iter_numbered_names

__all__ = ["AtomicFile", "SavedFile", "make_directory", "remove_stale_temporaries"]

log = logging.getLogger(__name__)


def make_directory(path: str | os.PathLike[str]) -> Path:
    """``path`` as ``mkdir -p`` leaves it: a folder to save into. Something else in the way,
    or a folder that cannot be made, is a StorageError."""
    directory = Path(path)
    if directory.is_dir():
        return directory
    if directory.exists():
        raise StorageError(f"{directory} is not a folder")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot make the folder {directory}: {exc.strerror}") from exc
    return directory


_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_TEMP_SUFFIX = ".o365imap-part"
_TEMP_NAME = re.compile(r"\.[0-9a-f]{16}" + re.escape(_TEMP_SUFFIX))
_STALE_UNLOCKED = 60.0  # seconds without a change, with the writer's lock gone
_STALE_LOCKLESS = 24 * 3600.0  # seconds without a change, where nothing can be locked
_BUFFER = 256 * 1024  # small writes (a parser's line-sized chunks) are gathered to this size
_MAX_NUMBER = 10_000
# link() is not everywhere (FAT, exFAT, some network file systems): rename after a check then.
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS}


@dataclass(frozen=True, slots=True)
class SavedFile:
    """What was written: where, under which name, how many bytes, their SHA-256 (hex)."""

    path: Path
    name: str
    size: int
    sha256: str


class AtomicFile:
    """Write one file into ``directory`` atomically; see the module docstring for the rules.

    ::

        with AtomicFile(folder, "report.pdf") as out:
            for chunk in chunks:
                out.write(chunk)
        print(out.result.path, out.result.sha256)

    ``name`` must be one path component (use ``safe_filename``), else UnsafeFileName.
    Leaving the ``with`` block normally commits; leaving it with an exception aborts and the
    exception goes on. ``commit()`` and ``abort()`` can also be called directly. Errors of the
    file system are raised as StorageError.
    """

    def __init__(self, directory: Path | str, name: str, *, overwrite: bool = False) -> None:
        check_component(name)
        self._directory = Path(directory)
        self._name = name
        self._overwrite = overwrite
        self._dir_fd = -1
        self._fd = -1
        self._dir_identity: tuple[int, int] = (0, 0)
        self._temp: str | None = None
        self._mode = 0o644
        self._buffer = bytearray()
        self._hash = hashlib.sha256()
        self._size = 0
        self._result: SavedFile | None = None
        self._finished = False

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> AtomicFile:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            if not self._finished:
                self.commit()
        else:
            self.abort()

    def open(self) -> None:
        """Create the temporary file (mode 0600) inside the folder."""
        if self._dir_fd >= 0 or self._finished:
            raise UsageError("AtomicFile.open() called twice")
        try:
            self._dir_fd = os.open(self._directory, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
            info = os.fstat(self._dir_fd)
            if not stat.S_ISDIR(info.st_mode):
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(self._directory))
            self._dir_identity = (info.st_dev, info.st_ino)
            _sweep_once(self._dir_fd, self._dir_identity)
            self._create_temp()
        except OSError as exc:
            self._close_all()
            raise StorageError(f"cannot write in {self._directory}: {exc.strerror}") from exc

    def _create_temp(self) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC
        for _attempt in range(16):
            temp = f".{secrets.token_hex(8)}{_TEMP_SUFFIX}"
            try:
                # Created 0644 so the kernel applies the umask and tells us the mode the
                # final file should have (os has no way to read the umask without changing it);
                # the empty file is made private at once, before any byte is written.
                fd = os.open(temp, flags, 0o644, dir_fd=self._dir_fd)
            except FileExistsError:
                continue
            self._fd, self._temp = fd, temp
            if not self._claim(fd, temp):
                os.close(fd)
                self._fd, self._temp = -1, None
                continue
            self._mode = stat.S_IMODE(os.fstat(fd).st_mode)
            os.fchmod(fd, 0o600)
            return
        raise FileExistsError(errno.EEXIST, "no free temporary name", str(self._directory))

    def _claim(self, fd: int, temp: str) -> bool:
        """Lock the new file as this writer's until it is closed; False if another process's
        sweep removed it in the instant between its creation and the lock."""
        try:
            # Blocking: a sweep that holds its shared lock lets go at once.
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            return True  # no locks on this file system: sweeps go by age alone there
        try:
            now = os.stat(temp, dir_fd=self._dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append ``data``; returns its length."""
        if self._fd < 0:
            raise UsageError("AtomicFile.write() outside open()/commit()")
        size = len(data)
        if not size:
            return 0
        self._hash.update(data)
        self._size += size
        if len(self._buffer) + size <= _BUFFER:
            self._buffer += data
            return size
        try:
            self._drain()
            self._write_all(data)
        except OSError as exc:
            self.abort()
            raise StorageError(f"cannot write {self._name}: {exc.strerror}") from exc
        return size

    def _drain(self) -> None:
        if self._buffer:
            self._write_all(self._buffer)
            self._buffer.clear()

    def _write_all(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        finally:
            # A failed write leaves the view in the traceback's frame; while it lives, the
            # buffer bytearray cannot be cleared (BufferError in abort()). Let it go now.
            view.release()

    def commit(self) -> SavedFile:
        """Sync the data, give it its final name, and return what was saved."""
        if self._finished or self._fd < 0 or self._temp is None:
            raise UsageError("AtomicFile.commit() without an open file")
        try:
            self._drain()
            os.fsync(self._fd)
            os.fchmod(self._fd, self._mode)
            self._check_directory()
            # Still open, so still locked: no sweep takes the file for a killed writer's.
            final = self._link_into_place(self._temp)
            self._temp = None
            # The new name itself must survive a crash; some file systems cannot sync a
            # directory, and the data is synced anyway.
            with contextlib.suppress(OSError):
                os.fsync(self._dir_fd)
        except OSError as exc:
            self.abort()
            raise StorageError(f"cannot save {self._name}: {exc.strerror}") from exc
        except StorageError:
            self.abort()
            raise
        path = self._directory / final
        if os.path.dirname(os.path.realpath(path)) != os.path.realpath(self._directory):
            # Cannot happen with one component and dir_fd; checked because it must never happen.
            try:
                os.unlink(final, dir_fd=self._dir_fd)
            finally:
                self._close_all()
                self._finished = True
            raise StorageError(f"{final!r} would resolve outside {self._directory}")
        self._result = SavedFile(path, final, self._size, self._hash.hexdigest())
        self._close_all()
        self._finished = True
        return self._result

    def _check_directory(self) -> None:
        """Refuse if the folder's path no longer leads to the folder we have been writing in."""
        try:
            now = os.stat(self._directory)
        except OSError:
            now = None
        if now is None or (now.st_dev, now.st_ino) != self._dir_identity:
            raise StorageError(f"{self._directory} was moved or replaced while saving")

    def _link_into_place(self, temp: str) -> str:
        fd = self._dir_fd
        if self._overwrite:
            # rename() replaces the directory entry: a symlink there is replaced, not followed.
            os.replace(temp, self._name, src_dir_fd=fd, dst_dir_fd=fd)
            return self._name
        for count, candidate in enumerate(iter_numbered_names(self._name)):
            if count >= _MAX_NUMBER:
                break
            try:
                os.link(temp, candidate, src_dir_fd=fd, dst_dir_fd=fd)
            except FileExistsError:
                continue
            except OSError as exc:
                if exc.errno not in _NO_HARD_LINKS:
                    raise
                if self._exists(candidate):
                    continue
                # No hard links here: check, then rename. A file created in between would be
                # replaced; that window is the price of such file systems.
                os.rename(temp, candidate, src_dir_fd=fd, dst_dir_fd=fd)
                return candidate
            os.unlink(temp, dir_fd=fd)
            return candidate
        raise StorageError(f"no free name like {self._name!r} in {self._directory}")

    def _exists(self, name: str) -> bool:
        try:
            os.stat(name, dir_fd=self._dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def abort(self) -> None:
        """Drop everything written; nothing appears under the final name. Safe to repeat."""
        if self._finished:
            return
        self._finished = True
        self._buffer.clear()
        # Removed before it is closed: while open, its lock says that it is not a leftover.
        if self._temp is not None and self._dir_fd >= 0:
            with contextlib.suppress(OSError):
                os.unlink(self._temp, dir_fd=self._dir_fd)
            self._temp = None
        self._close_all()

    def _close_all(self) -> None:
        for attribute in ("_fd", "_dir_fd"):
            fd = getattr(self, attribute)
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, attribute, -1)

    # ------------------------------------------------------------ results

    @property
    def result(self) -> SavedFile:
        """The saved file, once committed."""
        if self._result is None:
            raise UsageError("AtomicFile.result before commit()")
        return self._result

    @property
    def temp_name(self) -> str | None:
        """The temporary file's name inside the folder while writing (for diagnostics)."""
        return self._temp


# ---------------------------------------------------------------- leftovers of killed writers

# Folders this process has swept, by (device, inode): once each is enough, since what a
# process leaves behind while it runs is removed by the process itself.
_swept: set[tuple[int, int]] = set()


def _sweep_once(dir_fd: int, identity: tuple[int, int]) -> None:
    if identity in _swept:
        return
    _swept.add(identity)
    for name in _sweep(dir_fd):
        log.info("removed %s, a temporary file left by a save that was killed", name)


def remove_stale_temporaries(directory: str | os.PathLike[str]) -> list[str]:
    """Remove the temporary files that killed writers left in ``directory``; their names.

    See the module's rules for what is stale. A file that cannot be examined is kept, and
    nothing here raises: a folder that cannot be read just has nothing removed.
    """
    try:
        dir_fd = os.open(directory, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
    except OSError:
        return []
    try:
        return _sweep(dir_fd)
    finally:
        os.close(dir_fd)


def _sweep(dir_fd: int) -> list[str]:
    try:
        names = os.listdir(dir_fd)
    except OSError:
        return []
    now = time.time()
    return [name for name in names if _TEMP_NAME.fullmatch(name) and _remove(dir_fd, name, now)]


def _remove(dir_fd: int, name: str, now: float) -> bool:
    """Remove the temporary file ``name`` if it is stale; whether it was removed."""
    flags = os.O_RDONLY | os.O_NONBLOCK | _O_NOFOLLOW | _O_CLOEXEC  # a planted FIFO cannot block
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError:  # gone already, a symlink, or not ours to read
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            return False
        age = now - info.st_mtime
        try:
            # Shared: it conflicts with a live writer's exclusive lock, on NFS too (where a
            # shared lock needs only read access).
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its writer is alive
        except OSError:
            if age < _STALE_LOCKLESS:
                return False
        else:
            if age < _STALE_UNLOCKED:
                return False
        # The name must still be the file examined, not one put in its place since.
        there = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if (there.st_dev, there.st_ino) != (info.st_dev, info.st_ino):
            return False
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True
