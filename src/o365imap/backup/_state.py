"""What an export remembers of each folder, so that a rerun takes up where the last one ended.

One JSON file per folder under ``DEST/.o365imap/folders/``, named by a digest of the folder's
name (the name itself is inside): the folder's UIDVALIDITY, the highest UID stored, the format
and what the format needs to resume (an mbox's committed length). It is written atomically and
only after the data it describes is on disk (fsynced), so after a crash it never claims a
message that is not there; a store finds what it holds beyond the state by itself (a Maildir's
file names carry their UIDs, an mbox is cut back to its committed length).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from o365imap._files import write_text_atomically
from o365imap.errors import StorageError

__all__ = ["STATE_DIR", "FolderState", "state_path"]

STATE_DIR = ".o365imap"
_VERSION = 1


@dataclass
class FolderState:
    """One folder's export so far."""

    folder: str
    format: str
    path: str  # where its messages are, relative to the destination
    uidvalidity: int | None = None
    last_uid: int = 0  # the highest UID fetched so far (informational: stores hold the truth)
    highestmodseq: int | None = None
    store: dict[str, Any] = field(default_factory=dict)  # the format's own (mbox: length)

    def to_json(self) -> str:
        return json.dumps({"version": _VERSION, **asdict(self)}, ensure_ascii=False, indent=1)

    @classmethod
    def load(cls, path: Path) -> FolderState | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot read the export's state {path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("version") != _VERSION:
            raise StorageError(f"{path} is not an o365imap export state this version knows")
        data.pop("version")
        try:
            return cls(**data)
        except TypeError as exc:
            raise StorageError(f"{path} is not an o365imap export state: {exc}") from exc

    def save(self, path: Path) -> None:
        try:
            write_text_atomically(path, self.to_json(), mode=0o600)
        except OSError as exc:
            raise StorageError(f"cannot write the export's state {path}: {exc.strerror}") from exc


def state_path(destination: Path, folder: str) -> Path:
    digest = hashlib.sha256(folder.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return destination / STATE_DIR / "folders" / f"{digest}.json"
