"""Importing a Maildir, an mbox or a folder of .eml files into a mailbox: APPEND, once each.

``import_mailbox(client, ImportOptions(source, to=... | tree))`` appends every message of the
source (``_sources`` reads it, lazily) with its flags and internal date, into one folder or
into the source's folder tree recreated (made where missing, INBOX kept INBOX), each message
streamed from disk.

It can be killed at any moment and run again: nothing is appended twice. A journal
(``_journal``) remembers which source message went to which folder and UID. Before each batch
of messages it records, durably, which messages it is about to append; after each APPEND, that
it did. A message of a batch that a killed run began and did not record (killed between the
server's OK and the journal's line, or a power cut before the batch's fsync) is looked for in
the target folder before it is appended again: ``UID SEARCH HEADER Message-ID <id>`` (or its
internal date's day, without a Message-ID), then its candidates' ``INTERNALDATE`` and
``RFC822.SIZE`` compared (dates exactly, sizes loosely: Office 365's RFC822.SIZE is not always
the bytes appended). Only those messages are looked for: a normal run searches nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import BinaryIO, Literal

from o365imap.client import ImapClient
from o365imap.errors import CommandError, UsageError
from o365imap.protocol.commands import Atom, SequenceSet

from ._journal import Journal, journal_path
from ._sources import SourceFolder, SourceMessage, find_folders, message_id

__all__ = ["ImportEvent", "ImportFolderReport", "ImportOptions", "ImportReport", "import_mailbox"]

log = logging.getLogger("o365imap.backup")

_SIZE_SLACK = 0.1  # Office 365's RFC822.SIZE may differ from the bytes appended: 10%, or
_SIZE_SLACK_BYTES = 4096  # 4 KB for small messages


@dataclass(frozen=True)
class ImportOptions:
    """What to import, where to, how."""

    source: Path
    to: str | None = None  # every message into this folder; None: the source's tree recreated
    dry_run: bool = False  # say what would be appended; append nothing, create nothing
    account: str = ""  # whose mailbox (user and server): the journal is per source and account
    # where journals are kept (the command line's: <data>/imports); never inside the source,
    # which may be read-only
    state_dir: Path | None = None
    batch: int = 50  # messages per journal fsync

    def __post_init__(self) -> None:
        if self.to is not None and not self.to.strip():
            raise UsageError("--to needs a folder name")
        if self.batch < 1:
            raise UsageError("the batch is at least one message")


@dataclass
class ImportFolderReport:
    """One source folder's import."""

    source: str  # the source folder's path
    folder: str  # the mailbox folder it went into
    appended: int = 0
    skipped: int = 0  # already imported (by the journal, or found in the folder)
    found: int = 0  # of the skipped: found in the folder by Message-ID, not by the journal
    failed: int = 0  # refused by the server (too big, malformed): a rerun tries them again
    bytes: int = 0
    seconds: float = 0.0
    error: str | None = None  # the first refusal's words


@dataclass
class ImportReport:
    folders: list[ImportFolderReport] = field(default_factory=list)
    journal: Path | None = None
    seconds: float = 0.0

    def total(self, name: str) -> int:
        return sum(int(getattr(f, name)) for f in self.folders)


@dataclass(frozen=True)
class ImportEvent:
    """Progress: ``kind`` is "folder" (one starts: ``total_bytes`` of it on disk), "message"
    (one appended or skipped: ``bytes`` of it on disk), or "done" (``report``)."""

    kind: Literal["folder", "message", "done"]
    folder: str
    total_bytes: int = 0
    bytes: int = 0
    report: ImportFolderReport | None = None


Progress = Callable[[ImportEvent], None]


def import_mailbox(
    client: ImapClient, options: ImportOptions, progress: Progress | None = None
) -> ImportReport:
    """Append the messages of ``options.source`` that are not there yet; a report per folder.

    A source that cannot be read is a UsageError, a journal that cannot be written a
    StorageError; a message the server refuses is counted as failed and the others go on.
    """
    started = time.perf_counter()
    source = options.source.expanduser().absolute()
    folders = find_folders(source)
    target = f"to:{options.to}" if options.to is not None else "tree"
    if options.state_dir is None:
        raise UsageError("an import needs a state_dir for its journal (ImportOptions.state_dir)")
    where = journal_path(options.state_dir, str(source), options.account, target)
    say = progress or (lambda event: None)
    report = ImportReport(journal=where)
    delimiter = _delimiter(client) if options.to is None else None
    journal = Journal.open(where, {"source": str(source), "account": options.account,
                                   "target": target}, readonly=options.dry_run)  # fmt: skip
    with journal:
        created: set[str] = set()
        for folder in folders:
            name = options.to if options.to is not None else _tree_name(folder.parts, delimiter)
            relative = str(folder.path.relative_to(source)) if folder.path != source else "."
            part = ImportFolderReport(str(folder.path), name)
            if not options.dry_run and name.upper() != "INBOX" and name not in created:
                client.create_folder(name, exist_ok=True)
                created.add(name)
            _import_folder(client, folder, relative, part, journal, options, say)
            report.folders.append(part)
    report.seconds = time.perf_counter() - started
    return report


def _delimiter(client: ImapClient) -> str:
    for folder in client.list_folders("INBOX"):
        if folder.delimiter:
            return folder.delimiter
    return "/"


def _tree_name(parts: tuple[str, ...], delimiter: str | None) -> str:
    """The folder's name on the server: its parts with the server's delimiter, INBOX kept."""
    first, *rest = parts
    if first.upper() == "INBOX":
        first = "INBOX"
    return (delimiter or "/").join([first, *rest])


def _import_folder(
    client: ImapClient,
    folder: SourceFolder,
    relative: str,
    report: ImportFolderReport,
    journal: Journal,
    options: ImportOptions,
    say: Progress,
) -> None:
    started = time.perf_counter()
    done = journal.done(relative)
    unsure = journal.unsure(relative)  # begun by a killed run, not recorded: look first
    say(ImportEvent("folder", report.folder, total_bytes=folder.size()))
    opened = False
    messages: Iterator[SourceMessage] = folder.iter_messages()
    try:
        while batch := list(islice(messages, options.batch)):
            todo = []
            for message in batch:
                if message.key in done:
                    report.skipped += 1
                    say(ImportEvent("message", report.folder, bytes=message.disk_size))
                else:
                    todo.append(message)
            if not todo:
                continue
            if options.dry_run:
                report.appended += len(todo)
                report.bytes += sum(m.disk_size for m in todo)
                continue
            journal.intend(relative, [m.key for m in todo])
            for message in todo:
                if message.key in unsure and not opened:
                    client.select(report.folder, readonly=True)
                    opened = True
                _append_one(client, message, message.key in unsure, relative, report, journal)
                say(ImportEvent("message", report.folder, bytes=message.disk_size))
            journal.sync()
    finally:
        journal.sync()
        report.seconds = time.perf_counter() - started
        say(ImportEvent("done", report.folder, report=report))


def _append_one(
    client: ImapClient,
    message: SourceMessage,
    look_first: bool,
    relative: str,
    report: ImportFolderReport,
    journal: Journal,
) -> None:
    with message.open() as data:
        size = _size(data)
        if look_first:
            uid = _already_there(client, report.folder, message, size)
            if uid is not None:
                journal.record(relative, message.key, uid if uid > 0 else None)
                report.skipped += 1
                report.found += 1
                return
        try:
            uid = _append(client, report.folder, data, message)
        except (CommandError, UsageError) as exc:  # refused (too big, empty): the next goes on
            report.failed += 1
            report.error = report.error or str(exc)
            log.warning("%s: %s: %s", report.folder, message.path, exc)
            return
    journal.record(relative, message.key, uid)
    report.appended += 1
    report.bytes += size


def _append(
    client: ImapClient, folder: str, data: BinaryIO | Path, message: SourceMessage
) -> int | None:
    try:
        return client.append(folder, data, flags=message.flags, date=message.internaldate)
    except CommandError:
        # A server that keeps no keywords (PERMANENTFLAGS without \*) may refuse them: the
        # message matters more than its labels, so once more with the system flags alone.
        system = tuple(f for f in message.flags if f.startswith("\\"))
        if system == message.flags:
            raise
    log.warning("%s: %s: appended without its keywords", folder, message.path)
    if not isinstance(data, Path):
        data.seek(0)
    return client.append(folder, data, flags=system, date=message.internaldate)


def _size(data: BinaryIO | Path) -> int:
    if isinstance(data, Path):
        return data.stat().st_size
    end = data.seek(0, 2)
    data.seek(0)
    return end


def _already_there(
    client: ImapClient, folder: str, message: SourceMessage, size: int
) -> int | None:
    """The UID of this message in ``folder`` (0 when found and the UID is unknown), or None.

    One UID SEARCH, and one FETCH of what it found: only for messages a killed run may have
    appended without recording it."""
    mid = message_id(message.head())
    when = message.internaldate
    if mid:
        found = client.search([Atom("HEADER"), "Message-ID", mid], uid=True)
    elif when is not None:
        day = timedelta(days=1)
        found = client.search(
            [Atom("SINCE"), Atom(_imap_day(when - day)),
             Atom("BEFORE"), Atom(_imap_day(when + day * 2))],
            uid=True,
        )  # fmt: skip
    else:
        return None
    if not found:
        return None
    for response in client.iter_fetch(SequenceSet(found[-100:]), "(UID RFC822.SIZE INTERNALDATE)",
                                      uid=True):  # fmt: skip
        items = response.items
        their_size, their_date = items.get("RFC822.SIZE"), items.get("INTERNALDATE")
        if when is not None and their_date is not None and their_date != when:
            continue
        if isinstance(their_size, int) and abs(their_size - size) > max(
            _SIZE_SLACK_BYTES, size * _SIZE_SLACK
        ):
            continue
        if when is None and not mid:
            continue
        uid = items.get("UID")
        return uid if isinstance(uid, int) else 0
    return None


def _imap_day(when: datetime) -> str:
    return when.strftime("%d-%b-%Y")
