"""Comparing a backup with the server: counts, UIDs, sizes; what differs, folder by folder.

For every folder the destination holds (its state files say which, in which format): one
listing of the server's UIDs and RFC822.SIZEs against the store's own index. A message on the
server and not in the backup is *missing*; one in the backup that the server no longer has is
*gone* (kept, as an export keeps it: reported, not an error). A size that differs is checked
once more by reading the message from the server and counting its bytes, because Exchange's
RFC822.SIZE is an estimate for some messages (imapsync's ``--skipsize`` exists for it): only a
count that still differs is an error. Flags that differ are counted, not errors (the next
export brings them up to date).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from o365imap.client import ImapClient
from o365imap.errors import FolderNotFound, O365ImapError

from ._engine import _listing, _only_export, _open_store
from ._state import STATE_DIR, FolderState

__all__ = ["FolderCheck", "exported_folders", "verify_backup"]


@dataclass
class FolderCheck:
    """One folder's comparison."""

    folder: str
    path: str
    server: int = 0
    stored: int = 0
    missing: list[int] = field(default_factory=list)
    gone: list[int] = field(default_factory=list)
    size_differs: list[int] = field(default_factory=list)
    size_rechecked: int = 0  # differed by RFC822.SIZE, equal by the bytes
    flags_differ: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.missing and not self.size_differs and self.error is None


def exported_folders(destination: Path) -> list[FolderState]:
    """The folders ``destination`` holds an export of (their states), by their state files."""
    states = []
    for path in sorted((destination / STATE_DIR / "folders").glob("*.json")):
        state = FolderState.load(path)
        if state is not None:
            states.append(state)
    return states


def verify_backup(connect: Callable[[], ImapClient], destination: Path) -> list[FolderCheck]:
    """Every exported folder of ``destination`` compared with the server."""
    checks: list[FolderCheck] = []
    states = exported_folders(destination)
    if not states:
        return checks
    # recover() reads an mbox's or an eml folder's index, and clears what a killed export
    # left: not while an export is writing there.
    with _only_export(destination), connect() as client:
        for state in states:
            check = FolderCheck(state.folder, state.path)
            try:
                _check(client, destination, state, check)
            except FolderNotFound:
                check.error = "the folder is no longer on the server"
            except O365ImapError as exc:
                check.error = str(exc)
            checks.append(check)
    return checks


def _check(client: ImapClient, destination: Path, state: FolderState, check: FolderCheck) -> None:
    info = client.select(state.folder, readonly=True)
    if info.uidvalidity != state.uidvalidity:
        check.error = (
            f"the folder's UIDVALIDITY changed ({state.uidvalidity} -> {info.uidvalidity}): "
            "export again to copy it afresh"
        )
        return
    store = _open_store(state.format, destination / state.path, info.uidvalidity or 0)
    try:
        store.recover(state)
        stored = store.stored()
    finally:
        store.close()
    server = _listing(client, info.exists, None)
    check.server, check.stored = len(server), len(stored)
    check.missing = sorted(uid for uid in server if uid not in stored)
    check.gone = sorted(uid for uid in stored if uid not in server)
    for uid, meta in sorted(server.items()):
        have = stored.get(uid)
        if have is None:
            continue
        if set(have.flags) != set(meta.flags):
            check.flags_differ += 1
        if have.size != meta.size:
            if _size_on_server(client, uid) == have.size:
                check.size_rechecked += 1
            else:
                check.size_differs.append(uid)


def _size_on_server(client: ImapClient, uid: int) -> int:
    return sum(len(chunk) for chunk in client.iter_section(uid))
