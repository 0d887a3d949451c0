"""Exporting a mailbox: which messages each folder needs, fetched in bulk, into a store.

For each folder, on a connection of its own (up to ``jobs`` folders at once): EXAMINE, the
folder's state (a changed UIDVALIDITY retires the old copy beside the new one), one listing
``UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)`` compared with what the store holds,
flags brought up to date, then the missing messages fetched in batches of up to 500 messages
or 32 MB, ``UID FETCH <set> (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])``, each body
streamed into the store as it arrives (memory stays flat whatever the sizes) and committed
whole. After each batch the store is made durable and the state saved: a run killed at any
moment leaves whole messages and a state that claims none it does not have; the next run
fetches exactly what is missing.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from o365imap.client import ImapClient
from o365imap.errors import O365ImapError, SessionExpired, StorageError, UsageError
from o365imap.models import Folder, StreamedLiteral
from o365imap.protocol.commands import SequenceSet
from o365imap.protocol.events import Fetch, LiteralData, LiteralEnded, LiteralStarted

from ._layout import folder_path
from ._maildir import MaildirStore
from ._state import STATE_DIR, FolderState, state_path
from ._store import FolderStore, Incoming, MessageMeta

__all__ = ["ExportEvent", "ExportOptions", "ExportReport", "FolderReport", "export_mailbox"]

log = logging.getLogger("o365imap.backup")

Format = Literal["maildir", "mbox", "eml"]
FORMATS: tuple[Format, ...] = ("maildir", "mbox", "eml")
_META = "(UID FLAGS RFC822.SIZE INTERNALDATE)"
_BODY = "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"
_STREAM_ABOVE = 64 * 1024  # bodies larger than this flow to disk in chunks
_REOPENS = 3  # sessions ended (token expired) in one batch before the folder fails
_OWN_DIRECTORIES = frozenset({"cur", "new", "tmp"})  # a Maildir's (subfolders so named: escaped)


@dataclass(frozen=True)
class ExportOptions:
    """What to export, where, how."""

    destination: Path
    format: Format = "maildir"
    folders: tuple[str, ...] = ()  # empty: every selectable folder
    since: date | None = None
    jobs: int = 4
    mirror: bool = False  # remove from the backup what the server no longer has
    batch_messages: int = 500
    batch_bytes: int = 32 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise UsageError(f"the format is one of {', '.join(FORMATS)}, not {self.format!r}")
        if not 1 <= self.jobs <= 16:
            raise UsageError(f"--jobs is between 1 and 16, not {self.jobs}")


@dataclass
class FolderReport:
    """One folder's export: what it found and did."""

    folder: str
    path: str
    messages: int = 0  # on the server (since --since)
    new: int = 0
    updated: int = 0  # flags brought up to date
    kept: int = 0  # already in the backup, unchanged
    removed: int = 0  # --mirror
    deleted_on_server: int = 0  # kept in the backup (no --mirror)
    bytes: int = 0  # of new messages
    size_differs: list[int] = field(default_factory=list)  # UIDs whose bytes != RFC822.SIZE
    retired: str | None = None  # where the old copy went (UIDVALIDITY changed)
    seconds: float = 0.0
    error: str | None = None


@dataclass
class ExportReport:
    folders: list[FolderReport] = field(default_factory=list)
    seconds: float = 0.0

    def total(self, name: str) -> int:
        return sum(int(getattr(f, name)) for f in self.folders)


@dataclass(frozen=True)
class ExportEvent:
    """Progress: ``kind`` is "folder" (a folder starts: ``total``/``total_bytes`` to fetch),
    "message" (one stored: ``bytes``), or "done" (a folder ends: ``report``)."""

    kind: Literal["folder", "message", "done"]
    folder: str
    total: int = 0
    total_bytes: int = 0
    bytes: int = 0
    report: FolderReport | None = None


Progress = Callable[[ExportEvent], None]


def export_mailbox(
    connect: Callable[[], ImapClient],
    options: ExportOptions,
    progress: Progress | None = None,
) -> ExportReport:
    """Export the mailbox ``connect()`` signs in to, as ``options`` say; a report per folder.

    ``connect`` is called once per connection (``jobs`` at most at once). A folder that fails
    is reported with its error and the others go on; an error of the destination itself
    (StorageError) stops the export.
    """
    started = time.perf_counter()
    destination = options.destination
    try:
        destination.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot make {destination}: {exc.strerror}") from exc
    emit = progress or (lambda event: None)
    lock = threading.Lock()

    def say(event: ExportEvent) -> None:
        with lock:  # the caller's progress display is not thread-safe
            emit(event)

    with _only_export(destination), connect() as client:
        folders = _chosen(client.list_folders(), options.folders)
        if options.jobs == 1 or len(folders) == 1:
            reports = [_export_folder(client, f, options, say) for f in folders]
        else:
            reports = _in_parallel(connect, client, folders, options, say)
    return ExportReport(reports, time.perf_counter() - started)


@contextmanager
def _only_export(destination: Path) -> Iterator[None]:
    """One export into a destination at a time: a second would take the first's unfinished
    files for a killed run's and clear them. (flock: released by the kernel when the
    process ends, however it ends.)"""
    lock_path = destination / STATE_DIR / "lock"
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a+b")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise StorageError(f"cannot write in {lock_path.parent}: {exc.strerror}") from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"another o365imap export into {destination} is running: wait for it, or "
                "export into another folder"
            ) from None
        yield


def _chosen(listed: Sequence[Folder], wanted: Sequence[str]) -> list[Folder]:
    selectable = [f for f in listed if f.selectable]
    if not wanted:
        return selectable
    by_name = {f.name: f for f in selectable}
    missing = [name for name in wanted if name not in by_name]
    if missing:
        raise UsageError(f"no such folder: {', '.join(missing)} (o365imap folders lists them)")
    return [by_name[name] for name in wanted]


def _in_parallel(
    connect: Callable[[], ImapClient],
    first: ImapClient,
    folders: list[Folder],
    options: ExportOptions,
    say: Progress,
) -> list[FolderReport]:
    """Folders shared among ``jobs`` connections, in the order listed.

    The other connections run in daemon threads, so that Ctrl-C or a signal in the main
    thread ends the command at once: a thread cut in the middle of a message leaves what a
    kill -9 would (a temporary file, or bytes after an mbox's committed length), which the
    next run clears.
    """
    queue = list(folders)
    reports: dict[str, FolderReport] = {}
    failures: list[BaseException] = []
    lock = threading.Lock()

    def work(client: ImapClient) -> None:
        while True:
            with lock:
                if not queue or failures:
                    return
                folder = queue.pop(0)
            report = _export_folder(client, folder, options, say)
            with lock:
                reports[folder.name] = report

    def worker() -> None:
        try:
            client = connect()
        except O365ImapError as exc:
            # Office 365 limits connections per mailbox: fewer connections, same export.
            log.warning("an extra connection could not be made (%s): going on with fewer", exc)
            return
        try:
            with client:
                work(client)
        except BaseException as exc:  # a full disk: the main thread stops and says it
            with lock:
                failures.append(exc)

    threads = [
        threading.Thread(target=worker, name=f"export-{n}", daemon=True)
        for n in range(min(options.jobs, len(folders)) - 1)
    ]
    for thread in threads:
        thread.start()
    try:
        work(first)
    except Exception as exc:
        # (Not after Ctrl-C or a signal, which end the command at once.) The others take no
        # new folder and end theirs before the caller hears: an export still writing after
        # export_mailbox returned, its lock released, would meet the caller's next one.
        with lock:
            failures.append(exc)
        _join(threads)
        raise
    _join(threads)
    if failures:
        raise failures[0]
    return [reports[f.name] for f in folders if f.name in reports]


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        while thread.is_alive():  # in steps: the main thread stays interruptible
            thread.join(0.2)


# -- one folder ------------------------------------------------------------------------------


def _export_folder(
    client: ImapClient, folder: Folder, options: ExportOptions, say: Progress
) -> FolderReport:
    started = time.perf_counter()
    error: str | None = None
    try:
        relative = str(folder_path(folder.name, folder.delimiter))
    except ValueError as exc:  # a name no file system holds: this folder fails, not the run
        relative, error = "", str(exc)
    report = FolderReport(folder.name, relative, error=error)
    try:
        if error is None:
            _sync_folder(client, folder, options, report, say)
    except StorageError:
        raise
    except OSError as exc:
        # The stores' own file work (the network's errors are O365ImapErrors by now): one
        # sentence naming the place, exit 4, for whatever the store did not translate.
        where = options.destination / relative
        raise StorageError(
            f"cannot write the export of {folder.name} in {where}: {exc.strerror or exc}"
        ) from exc
    except O365ImapError as exc:
        report.error = str(exc)
        log.warning("%s: %s", folder.name, exc)
    report.seconds = time.perf_counter() - started
    say(ExportEvent("done", folder.name, report=report))
    return report


def _sync_folder(
    client: ImapClient,
    folder: Folder,
    options: ExportOptions,
    report: FolderReport,
    say: Progress,
) -> None:
    destination = options.destination
    info = client.select(folder.name, readonly=True, condstore=True)
    uidvalidity = info.uidvalidity or 0
    where = state_path(destination, folder.name)
    state = FolderState.load(where)
    if state is not None and state.format != options.format:
        raise UsageError(
            f"{destination} holds a {state.format} export of {folder.name}: export into "
            f"another folder to change the format"
        )
    if state is not None and state.uidvalidity not in (None, uidvalidity):
        report.retired = _retire(destination, state)
        # Saved at once: killed before its first batch, a rerun must not retire again what
        # this run has begun to store under the new UIDVALIDITY.
        state = FolderState(folder.name, options.format, report.path, uidvalidity)
        state.save(where)
    if state is None:
        state = FolderState(folder.name, options.format, report.path, uidvalidity)
    store = _open_store(options.format, destination / report.path, uidvalidity)
    try:
        store.recover(state)
        stored = dict(store.stored())
        changes_only = (
            options.since is None
            and info.highestmodseq is not None
            and state.highestmodseq is not None
            and state.uidvalidity == uidvalidity
        )
        if changes_only:
            assert state.highestmodseq is not None
            server_uids, server = _changes(client, info.exists, state.highestmodseq, stored)
        else:
            server = _listing(client, info.exists, options.since)
            server_uids = set(server)
        report.messages = len(server_uids)
        missing = [meta for uid, meta in sorted(server.items()) if uid not in stored]
        for uid, meta in server.items():
            have = stored.get(uid)
            if have is not None and set(have.flags) != set(meta.flags):
                store.set_flags(uid, meta.flags)
                report.updated += 1
        report.kept = sum(1 for uid in stored if uid in server_uids) - report.updated
        gone = [uid for uid in stored if uid not in server_uids and options.since is None]
        if options.mirror:
            for uid in gone:
                store.remove(uid)
            report.removed = len(gone)
        else:
            report.deleted_on_server = len(gone)
        total_bytes = sum(m.size for m in missing)
        say(ExportEvent("folder", folder.name, total=len(missing), total_bytes=total_bytes))
        for batch in _batches(missing, options.batch_messages, options.batch_bytes):
            wanted = {meta.uid for meta in batch}
            for reopened in range(_REOPENS + 1):
                try:
                    _fetch_batch(client, store, wanted, report, folder.name, say)
                    break
                except SessionExpired:
                    # The token expired (Office 365: every hour or so) in the middle of the
                    # batch: a new session, the folder again (reconnect() fails if its
                    # UIDVALIDITY changed), the rest of the batch.
                    if reopened == _REOPENS:
                        raise
                    client.reconnect()
            store.checkpoint(state)
            state.last_uid = max(state.last_uid, batch[-1].uid)
            state.save(where)
        store.checkpoint(state)
        store.close()  # durable (a Maildir's one fsync), before the state that says so
        # Only now, with everything up to it stored: a run killed before this point asks
        # again for all that changed since the last complete one. Not after --since: the
        # older messages' flags were not compared, and a later run must still ask for them.
        if options.since is None:
            state.highestmodseq = info.highestmodseq
        state.save(where)
    except BaseException:
        # Released after an error too, but never in its place: a full disk that stopped the
        # export would stop the store's last writes as well, and say less.
        with contextlib.suppress(Exception):
            store.close()
        raise


def _changes(
    client: ImapClient, exists: int, modseq: int, stored: Mapping[int, object]
) -> tuple[set[int], dict[int, MessageMeta]]:
    """With CONDSTORE: the server's UIDs (one UID SEARCH) and what changed since ``modseq``
    (new messages and new flags: one FETCH ... CHANGEDSINCE), plus any message the store
    lacks that did not change (a file removed by hand): far less than a listing."""
    if exists == 0:
        return set(), {}
    uids = set(client.search("ALL", uid=True))
    changed: dict[int, MessageMeta] = {}
    for response in client.iter_fetch(
        SequenceSet.range(1, None), _META, uid=True, changed_since=modseq
    ):
        meta = _meta(response)
        if meta is not None and meta.uid in uids:
            changed[meta.uid] = meta
    absent = sorted(uid for uid in uids if uid not in stored and uid not in changed)
    if absent:
        for response in client.iter_fetch(SequenceSet(absent), _META, uid=True):
            meta = _meta(response)
            if meta is not None:
                changed[meta.uid] = meta
    return uids, changed


def _retire(destination: Path, state: FolderState) -> str:
    """The old copy moves aside, under a name that says why; nothing of it is lost. Only the
    folder's own files move: its subfolders' copies (directories inside a Maildir's or an eml
    folder's, beside an mbox) stay where their own states say they are."""
    old = destination / state.path
    suffix = ".mbox" if state.format == "mbox" else ""
    target = old.with_name(f"{old.name}~uidvalidity-{state.uidvalidity}")
    n = 1
    while target.with_name(target.name + suffix).exists():
        n += 1
        target = old.with_name(f"{old.name}~uidvalidity-{state.uidvalidity}-{n}")
    source = old.with_name(old.name + suffix)
    try:
        if suffix:
            if source.exists():
                os.rename(source, target.with_name(target.name + suffix))
        elif source.is_dir():
            # Killed midway, a rerun retires the rest into a second copy: split, not lost.
            target.mkdir()
            for entry in os.scandir(source):
                if entry.name in _OWN_DIRECTORIES or not entry.is_dir(follow_symlinks=False):
                    os.rename(entry.path, target / entry.name)
    except OSError as exc:
        raise StorageError(f"cannot move aside the old copy {source}: {exc.strerror}") from exc
    log.warning("%s: UIDVALIDITY changed; the old copy is now %s", state.folder, target)
    return str(target.relative_to(destination))


def _open_store(fmt: str, path: Path, uidvalidity: int) -> FolderStore:
    if fmt == "maildir":
        return MaildirStore(path, uidvalidity)
    if fmt == "mbox":
        from ._mbox import MboxStore  # noqa: PLC0415

        return MboxStore(path, uidvalidity)
    from ._eml import EmlStore  # noqa: PLC0415

    return EmlStore(path, uidvalidity)


def _listing(client: ImapClient, exists: int, since: date | None) -> dict[int, MessageMeta]:
    """Every message's UID, flags, size and internal date: one FETCH (or one SEARCH and one
    FETCH with --since)."""
    if exists == 0:
        return {}
    if since is None:
        messages: SequenceSet | list[int] = SequenceSet.range(1, None)
        uid = False
    else:
        found = client.search(f"SINCE {since.strftime('%d-%b-%Y')}", uid=True)
        if not found:
            return {}
        messages, uid = SequenceSet(found), True
    listing: dict[int, MessageMeta] = {}
    for response in client.iter_fetch(messages, _META, uid=uid):
        meta = _meta(response)
        if meta is not None:
            listing[meta.uid] = meta
    return listing


def _meta(response: Fetch) -> MessageMeta | None:
    items = response.items
    uid = items.get("UID")
    if not isinstance(uid, int):
        return None
    flags = tuple(str(f) for f in items.get("FLAGS", ()) if str(f) != "\\Recent")
    size = items.get("RFC822.SIZE")
    return MessageMeta(uid, flags, items.get("INTERNALDATE"), size if isinstance(size, int) else 0)


def _batches(
    messages: Iterable[MessageMeta], most: int, most_bytes: int
) -> Iterator[list[MessageMeta]]:
    batch: list[MessageMeta] = []
    size = 0
    for meta in messages:
        if batch and (len(batch) >= most or size + meta.size > most_bytes):
            yield batch
            batch, size = [], 0
        batch.append(meta)
        size += meta.size
    if batch:
        yield batch


def _fetch_batch(
    client: ImapClient,
    store: FolderStore,
    wanted: set[int],
    report: FolderReport,
    folder: str,
    say: Progress,
) -> None:
    """The bodies of ``wanted`` into the store; each UID stored leaves ``wanted`` (what is
    left after an error is what the batch still lacks)."""
    incoming: Incoming | None = None
    try:
        events = client.iter_fetch_events(
            SequenceSet(sorted(wanted)), _BODY, uid=True, stream_threshold=_STREAM_ABOVE
        )
        for event in events:
            if isinstance(event, LiteralStarted):
                incoming = store.incoming()
            elif isinstance(event, LiteralData):
                assert incoming is not None
                incoming.write(event.data)
            elif isinstance(event, LiteralEnded):
                pass
            elif isinstance(event, Fetch):
                meta = _meta(event)
                body = event.items.get("BODY[]")
                if meta is None or meta.uid not in wanted or body is None:
                    if incoming is not None:
                        incoming.discard()
                        incoming = None
                    continue
                if not isinstance(body, StreamedLiteral):
                    incoming = store.incoming()
                    incoming.write(bytes(body))
                assert incoming is not None
                written = incoming.size
                store.commit(incoming, meta)
                incoming = None
                wanted.discard(meta.uid)
                if written != meta.size:
                    report.size_differs.append(meta.uid)
                report.new += 1
                report.bytes += written
                say(ExportEvent("message", folder, bytes=written))
    finally:
        if incoming is not None:
            incoming.discard()
