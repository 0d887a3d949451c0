"""Small files written whole: all or nothing, never a half-written file under the real name.

Profiles, the token cache, the discovery cache and the sandbox's own state are each rewritten
in one go: a temporary file beside the target (same folder, so the rename cannot cross file
systems), made private before anything is written to it, flushed to disk, then renamed over the
target. A crash or a full disk leaves the old file or the new one. Errors are the caller's to
translate (each knows what its file is for); the temporary file never outlives a failure.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["fsync_directory", "write_text_atomically"]


def write_text_atomically(path: Path, text: str, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``text`` (UTF-8), file mode ``mode``; OSError on failure."""
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=directory)
    try:
        handle = os.fdopen(fd, "w", encoding="utf-8")  # owns fd from here: closed by `with`
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    try:
        os.fchmod(fd, mode)
        with handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def fsync_directory(path: Path) -> None:
    """Make the names in ``path`` durable (a rename is on disk once its directory is)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
