"""What the mail browser shows, and the one connection it talks through. No Textual here.

The rule this module keeps: one ``ImapClient`` is used by one thread at a time. ``MailSession``
owns it behind a lock; every network call of the app goes through ``MailSession.use``, from a
worker thread, never from the event loop. The watcher that waits for new mail (IDLE, or NOOP
where IDLE is missing) gives the connection up as soon as anyone else asks for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import BinaryIO

from o365imap import (
    AuthError,
    BodyPart,
    CapabilityMissing,
    CommandError,
    ConnectError,
    CopyResult,
    Folder,
    FolderChanges,
    FolderInfo,
    FolderNotFound,
    ImapClient,
    InteractionRequired,
    MessageSummary,
    O365ImapError,
    ProtocolError,
    ReadTimeout,
    SequenceSet,
    StorageError,
    Throttled,
    TransportError,
    UsageError,
)
from o365imap._display import folder_rank, human_size
from o365imap._terminal_text import for_terminal
from o365imap.messages import MessageView, ProgressHook, SavedPart, open_message
from o365imap.messages import save_parts as _save_parts
from o365imap.tui.outbox import Outbox
from o365imap.tui.threads import Links

__all__ = [
    "PAGE_ITEMS",
    "THREAD_ITEMS",
    "THREAD_WINDOW",
    "FolderEntry",
    "MailSession",
    "News",
    "Row",
    "SearchQuery",
    "describe_error",
    "folder_entries",
    "has_attachment",
    "parse_day",
]

# One FETCH per page. BODYSTRUCTURE is what tells "has an attachment" for sure; it costs the
# server a parse per message, which for a page of 50 is nothing next to the round trip.
PAGE_ITEMS = "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)"
# The thread view's FETCH: ENVELOPE has Message-ID and In-Reply-To, References comes as a
# header. One path for every server: THREAD=REFERENCES (RFC 5256) would spare the header on
# Dovecot, but Office 365 lacks it, and the header is a few dozen bytes a message.
THREAD_ITEMS = (
    "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE "
    "BODY.PEEK[HEADER.FIELDS (REFERENCES)])"
)
# What the thread view threads: the newest this many messages of the folder (or search
# results), fetched at once. Threading needs every message of the range before it can draw
# the first line, so the range is bounded: 500 are one round trip of about a second on Office
# 365; the folder's older mail stays in the flat view.
THREAD_WINDOW = 500

# What each special use (RFC 6154) is called beside a folder's own name: a mark, never a
# rename (a folder shown as "Deleted" sent people to `o365imap list Deleted`, which has none).
_SPECIAL = {
    "\\sent": "sent",
    "\\drafts": "drafts",
    "\\junk": "junk",
    "\\trash": "trash",
    "\\archive": "archive",
    "\\all": "all mail",
    "\\flagged": "flagged",
}
NOOP_EVERY = 30.0  # seconds between NOOPs on a server without IDLE
_IDLE_FOR = 25 * 60.0  # RFC 2177: re-issue IDLE before the server's 30-minute cut-off
# How often the IDLE watcher asks whether a key press wants the connection: every command
# waits for it, so this is latency the user feels (0.25 s cost a page 150 ms); a read with a
# short timeout costs next to nothing while the server is quiet.
_IDLE_POLL = 0.03


# ---------------------------------------------------------------- folders


@dataclass(frozen=True, slots=True)
class FolderEntry:
    """One line of the folder tree: the folder, its parent's name, its own name's last part
    as the server names it, and its special use as a word ("inbox", "trash", ...)."""

    folder: Folder
    label: str  # the last part of the name, as the server names it
    parent: str | None
    special: str | None  # "inbox", "sent", "trash", ... for the marked folders

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def use_mark(self) -> str | None:
        """The special use, to show beside a name that does not say it already: "trash" for
        "Deleted Items", nothing for "Trash" or "Sent Items" (the tree stays narrow)."""
        if self.special is None or self.special.split()[0] in self.label.casefold():
            return None
        return self.special

    @property
    def selectable(self) -> bool:
        flags = {f.lower() for f in self.folder.flags}
        return not flags & {"\\noselect", "\\nonexistent"}


def folder_entries(folders: Iterable[Folder]) -> list[FolderEntry]:
    """The folder tree in the order both front ends show (``folder_rank`` among siblings:
    INBOX, then Drafts, Sent, Archive, Junk, Trash, then the rest by name); each folder
    after its parent, which is made up when the server lists a child without it."""
    by_name = {f.name: f for f in folders}
    for folder in list(by_name.values()):
        delimiter, name = folder.delimiter, folder.name
        while delimiter and delimiter in name:
            name = name.rsplit(delimiter, 1)[0]
            if name not in by_name:
                by_name[name] = Folder(name, name.encode(), delimiter, ("\\Noselect",), None)

    children: dict[str | None, list[Folder]] = {}
    for folder in by_name.values():
        children.setdefault(_parent(folder), []).append(folder)
    out: list[FolderEntry] = []

    def walk(parent: str | None) -> None:
        for folder in sorted(children.get(parent, []), key=folder_rank):
            special = "inbox" if folder.name == "INBOX" else None
            special = special or _SPECIAL.get((folder.special_use or "").lower())
            leaf = folder.name.rsplit(folder.delimiter, 1)[-1] if folder.delimiter else folder.name
            out.append(FolderEntry(folder, leaf, parent, special))
            walk(folder.name)

    walk(None)
    return out


def _parent(folder: Folder) -> str | None:
    if folder.delimiter and folder.delimiter in folder.name:
        return folder.name.rsplit(folder.delimiter, 1)[0]
    return None


# ---------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the message list."""

    summary: MessageSummary
    has_attachment: bool
    references: str | None = None  # the References header, fetched for the thread view only
    # Cleaned for the terminal once, here, not at every repaint of the line.
    sender: str = field(init=False)
    subject: str = field(init=False)

    def __post_init__(self) -> None:
        env = self.summary.envelope
        sender = ""
        if env is not None and env.from_:
            first = env.from_[0]
            sender = str(getattr(first, "name", None) or getattr(first, "email", None) or first)
        subject = (env.subject or "") if env else ""
        object.__setattr__(self, "sender", for_terminal(sender, one_line=True))
        object.__setattr__(self, "subject", for_terminal(subject, one_line=True))

    @property
    def uid(self) -> int | None:
        return self.summary.uid

    @property
    def unread(self) -> bool:
        return "\\Seen" not in self.summary.flags

    @property
    def flagged(self) -> bool:
        return "\\Flagged" in self.summary.flags

    @property
    def answered(self) -> bool:
        return "\\Answered" in self.summary.flags

    @property
    def forwarded(self) -> bool:
        # A keyword (RFC 5788): servers keep its case as first stored, clients differ.
        return any(f.lower() == "$forwarded" for f in self.summary.flags)

    @property
    def when(self) -> datetime | None:
        env = self.summary.envelope
        return (env.date if env and env.date else None) or self.summary.internal_date

    @property
    def links(self) -> Links:
        """What the thread view reads of this message."""
        env = self.summary.envelope
        when = self.when
        return Links(
            env.message_id if env else None,
            env.in_reply_to if env else None,
            self.references,
            # A time without an offset is UTC, as _display.local_time reads it.
            (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() if when else 0.0,
        )


def has_attachment(structure: BodyPart | None) -> bool:
    """A part with a file name or ``Content-Disposition: attachment``, or an attached message;
    inline images referred to by the HTML do not count, as in Outlook."""
    if structure is None:
        return False
    stack = [structure]
    while stack:
        node = stack.pop()
        if node.children:
            stack.extend(node.children)
            continue
        disposition = (node.disposition or "").lower()
        if disposition == "attachment" or node.content_type == "message/rfc822":
            return True
        if node.filename and not (disposition == "inline" and node.id):
            return True
    return False


def _row(response: object) -> Row:
    # ``fetch`` yields the parser's Fetch events: ``seq`` and a dict of items.
    seq: int = getattr(response, "seq")  # noqa: B009 - no public name for the type
    items: dict[str, object] = getattr(response, "items")  # noqa: B009
    structure = items.get("BODYSTRUCTURE")
    summary = MessageSummary(
        seq=seq,
        uid=items.get("UID"),  # type: ignore[arg-type]
        flags=items.get("FLAGS", ()),  # type: ignore[arg-type]
        size=items.get("RFC822.SIZE"),  # type: ignore[arg-type]
        internal_date=items.get("INTERNALDATE"),  # type: ignore[arg-type]
        envelope=items.get("ENVELOPE"),  # type: ignore[arg-type]
    )
    references = next(
        (v for k, v in items.items() if k.startswith("BODY[HEADER.FIELDS") and v is not None),
        None,
    )
    return Row(
        summary,
        has_attachment(structure if isinstance(structure, BodyPart) else None),
        # The header as sent ("References: <a@x>\r\n <b@x>"): only its <ids> are read.
        references.decode("latin-1") if isinstance(references, bytes) else None,
    )


# ---------------------------------------------------------------- search


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Server-side SEARCH criteria, ANDed."""

    sender: str | None = None
    subject: str | None = None
    text: str | None = None
    since: date | None = None
    before: date | None = None
    unseen: bool = False

    def describe(self) -> str:
        parts = [
            f"{key} {value!r}"
            for key, value in (
                ("from", self.sender),
                ("subject", self.subject),
                ("text", self.text),
            )
            if value
        ]
        if self.since:
            parts.append(f"since {self.since.isoformat()}")
        if self.before:
            parts.append(f"before {self.before.isoformat()}")
        if self.unseen:
            parts.append("unread")
        return ", ".join(parts) or "everything"


def parse_day(text: str | None) -> date | None:
    """``2024-03-01`` (ISO); empty means no date."""
    if text is None or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{text.strip()!r} is not a date like 2024-03-01") from None


# ---------------------------------------------------------------- errors for people


def describe_error(exc: BaseException) -> tuple[str, str]:
    """A sentence saying what went wrong, and one saying what to do about it (safe to show:
    both may quote folder names or the server's words)."""
    sentence, hint = _describe_error(exc)
    return for_terminal(sentence, one_line=True), for_terminal(hint, one_line=True)


def _describe_error(exc: BaseException) -> tuple[str, str]:
    text = str(exc).rstrip(".") + "."
    if isinstance(exc, InteractionRequired):
        return text, "Press L to sign in again from here."
    if isinstance(exc, AuthError):
        return text, (
            "Check the profile's account and app registration (o365imap doctor), "
            "or press L to sign in again."
        )
    if isinstance(exc, ConnectError):
        return text, "Check the network and the server name and port, then press g to retry."
    if isinstance(exc, ReadTimeout):
        return text, "The server is slow or unreachable; press g to retry, or try later."
    if isinstance(exc, TransportError):
        return text, "The connection was lost; press g to reconnect."
    if isinstance(exc, Throttled):
        return text, "The server asks to slow down; wait a minute, then press g."
    if isinstance(exc, FolderNotFound):
        return text, "The folder may have been renamed or deleted; press g to reload folders."
    if isinstance(exc, CommandError):
        words = f" The server said: {exc.server_words}." if exc.text else ""
        return text + words, "Press g to reload; if it keeps failing, run o365imap doctor."
    if isinstance(exc, StorageError):
        return text, "Choose another folder to save into, or free some space."
    if isinstance(exc, UsageError):
        return text, "Correct the input and try again."
    if isinstance(exc, O365ImapError):
        return text, "Press g to retry; o365imap --debug tui logs the conversation."
    return (
        f"Something unexpected went wrong ({type(exc).__name__}: {exc}).",
        "Please report it; press g to retry.",
    )


# ---------------------------------------------------------------- the connection


# An interactive sign-in: shows instructions through the callback, stops when the event is set.
SignIn = Callable[[Callable[[str], None], threading.Event], None]


class MailSession:
    """The app's one connection: opened on first use, reopened after it is lost.

    ``connect`` returns a connected, signed-in client (logged out when the session closes);
    ``sign_in`` (optional) runs an interactive sign-in, handing instructions (a URL or a device
    code) to its callback, for when ``connect`` raised InteractionRequired, and gives up
    with SignInCancelled soon after its event is set. ``poll_every`` is
    how long the watcher waits between NOOPs on a server without IDLE. ``outbox``: how
    messages written in the app are sent (None: they cannot be).
    """

    def __init__(
        self,
        connect: Callable[[], ImapClient],
        sign_in: SignIn | None = None,
        *,
        description: str = "",
        poll_every: float = NOOP_EVERY,
        outbox: Outbox | None = None,
    ) -> None:
        self._connect = connect
        self.outbox = outbox  # how to send; None: this session only reads
        self._sign_in = sign_in
        self.description = description
        self.poll_every = poll_every  # seconds between NOOPs where the server has no IDLE
        self._client: ImapClient | None = None
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._waiting = 0
        self.folder: str | None = None  # the selected folder, selected again after a reconnect
        # The selected folder's message count as the watcher last told it: an EXISTS that came
        # with another worker's command (a page, a STATUS) is news all the same.
        self._told: int | None = None

    @property
    def can_sign_in(self) -> bool:
        return self._sign_in is not None

    @property
    def exists(self) -> int | None:
        """The open folder's message count as last heard (after our own moves too)."""
        return self._told

    @property
    def busy(self) -> bool:
        """Someone waits for the connection (the watcher then leaves IDLE)."""
        return self._waiting > 0

    @contextmanager
    def use(self, *, connect: bool = True) -> Iterator[ImapClient]:
        """The client, for one thread at a time; a transport failure drops it for a fresh
        connection next time (a half-read response cannot be resumed)."""
        with self._count_lock:
            self._waiting += 1
        try:
            self._lock.acquire()
        finally:
            with self._count_lock:
                self._waiting -= 1
        try:
            if self._client is None or not self._client.connected:
                if not connect:
                    raise _NotConnected
                self._client = self._connect()
                if self.folder is not None:
                    self._client.select(self.folder, readonly=True)
            try:
                yield self._client
            except (TransportError, ProtocolError):
                # A garbled response leaves the stream at an unknown point: as good as lost.
                self._drop()
                raise
        finally:
            self._lock.release()

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def close(self) -> None:
        """Log out, waiting at most briefly for a worker to finish with the connection."""
        if not self._lock.acquire(timeout=2.0):
            client = self._client
            if client is not None:
                client.close()  # a stalled command: cutting the socket is all we can do
            return
        try:
            client, self._client = self._client, None
            if client is not None:
                client.logout()
        finally:
            self._lock.release()

    def sign_in(self, show: Callable[[str], None], cancel: threading.Event) -> None:
        if self._sign_in is None:
            raise UsageError("this session has no profile to sign in with")
        self._sign_in(show, cancel)

    # ---------------------------------------------------------------- calls for the app

    def folders(self) -> list[FolderEntry]:
        with self.use() as client:
            return folder_entries(client.list_folders())

    def unread(self, names: Sequence[str]) -> Iterator[tuple[str, int | None]]:
        """Unread counts from STATUS, one folder at a time (each a short hold of the lock)."""
        for name in names:
            while self.busy:  # counts can wait: the folder being opened and its pages cannot
                time.sleep(0.01)
            with self.use() as client:
                try:
                    count = client.status(name, ("UNSEEN",)).unseen
                except CommandError:
                    count = None  # a folder that cannot be asked is shown without a count
            yield name, count

    def open_folder(self, name: str) -> FolderInfo:
        with self.use() as client:
            self.folder = None
            # Read-only until a flag is changed: opening a folder to look changes nothing,
            # not even \Recent.
            info = client.select(name, readonly=True)
            self.folder = name
            self._told = info.exists
            return info

    def page(self, index: int, size: int) -> tuple[list[Row], int]:
        """Rows ``index*size`` .. of the selected folder, newest first, from one FETCH; and
        the message count the numbering used (it moves when mail arrives)."""
        with self.use() as client:
            total = client.exists or 0
            high = total - index * size
            if high < 1:
                return [], total
            low = max(1, high - size + 1)
            rows = [_row(r) for r in client.iter_fetch(SequenceSet.range(low, high), PAGE_ITEMS)]
            rows.sort(key=lambda r: r.summary.seq, reverse=True)
            return rows, total

    def thread_rows(self, uids: Sequence[int] | None, limit: int) -> list[Row]:
        """The rows to thread, with their References: the newest ``limit`` messages of the
        selected folder, or the first ``limit`` of ``uids`` (search results); one FETCH."""
        with self.use() as client:
            if uids is None:
                total = client.exists or 0
                if total < 1:
                    return []
                wanted = SequenceSet.range(max(1, total - limit + 1), total)
            elif not uids:
                return []
            else:
                wanted = SequenceSet(list(uids)[:limit])
            fetched = client.iter_fetch(wanted, THREAD_ITEMS, uid=uids is not None)
            return [row for row in map(_row, fetched) if row.uid is not None]

    def rows_by_uid(self, uids: Sequence[int]) -> list[Row]:
        """The rows of these UIDs (a page of search results), in the order given."""
        if not uids:
            return []
        with self.use() as client:
            found = {}
            for response in client.iter_fetch(SequenceSet(uids), PAGE_ITEMS, uid=True):
                row = _row(response)
                if row.uid is not None:
                    found[row.uid] = row
        return [found[u] for u in uids if u in found]

    def search(self, query: SearchQuery) -> list[int]:
        """UIDs matching ``query`` in the selected folder, newest first."""
        with self.use() as client:
            uids = client.find(
                sender=query.sender,
                subject=query.subject,
                text=query.text,
                since=query.since,
                before=query.before,
                unseen=query.unseen,
            )
        return sorted(set(uids), reverse=True)

    def open_message(self, uid: int) -> MessageView:
        with self.use() as client:
            return open_message(client, uid)

    def save(
        self,
        uid: int,
        directory: Path,
        parts: Sequence[str] | None,
        progress: ProgressHook | None = None,
    ) -> list[SavedPart]:
        with self.use() as client:
            return _save_parts(client, uid, directory, parts=parts, progress=progress)

    def set_flag(
        self, uid: int, flag: str, on: bool, *, folder: str | None = None
    ) -> tuple[str, ...]:
        """Add or remove a flag; the message's flags afterwards."""
        return self.set_flags([uid], flag, on, folder=folder).get(uid, ())

    def set_flags(
        self, uids: Sequence[int], flag: str, on: bool, *, folder: str | None = None
    ) -> dict[int, tuple[str, ...]]:
        """Add or remove a flag on several messages of ``folder`` (default: the open one);
        each one's flags afterwards."""
        with self.use() as client:
            self._writable(client, folder)
            try:
                (client.add_flags if on else client.remove_flags)(list(uids), [flag])
                return _flags_of(client, uids)
            finally:
                self._back_to_open(client, folder)

    def add_kept_flag(self, uid: int, flag: str, *, folder: str) -> tuple[str, ...] | None:
        """Add ``flag`` (``\\Answered``, a keyword like ``$Forwarded``) to a message of
        ``folder`` when the folder keeps it: its PERMANENTFLAGS name it, or allow new keywords
        (``\\*``), or say nothing at all (RFC 3501 7.1: then every flag is kept). The
        message's flags afterwards; None when the folder does not keep such a flag."""
        with self.use() as client:
            self._writable(client, folder)
            try:
                selected = client.selected
                kept = {f.lower() for f in (selected.permanent_flags if selected else ())}
                keyword = not flag.startswith("\\")
                if kept and flag.lower() not in kept and not (keyword and "\\*" in kept):
                    return None
                client.add_flags([uid], [flag])
                return _flags_of(client, [uid]).get(uid, ())
            finally:
                self._back_to_open(client, folder)

    def fetch_raw(self, uid: int, out: BinaryIO, *, folder: str, limit: int) -> int:
        """The whole message ``uid`` of ``folder`` (BODY.PEEK[]: it stays unread) into
        ``out``; its size. UsageError when it is over ``limit`` bytes (said before fetching
        when the server tells its size, else when the bytes pass the limit)."""
        with self.use() as client:
            other = folder != self.folder
            if other:
                client.select(folder, readonly=True)
            try:
                sizes = client.iter_fetch(SequenceSet([uid]), "(UID RFC822.SIZE)", uid=True)
                for response in sizes:
                    size = getattr(response, "items", {}).get("RFC822.SIZE")
                    if isinstance(size, int) and size > limit:
                        raise _too_large(size, limit)
                written = 0
                for chunk in client.iter_section(uid, ""):
                    written += len(chunk)
                    if written > limit:
                        raise _too_large(written, limit)
                    out.write(chunk)
                return written
            finally:
                if other and self.folder is not None:
                    client.select(self.folder, readonly=True)

    # ---------------------------------------------------------------- moving and deleting

    def move(self, uids: Sequence[int], to: str, *, folder: str | None = None) -> CopyResult:
        """Move messages of ``folder`` (default: the open one) to ``to``; their new UIDs."""
        with self.use() as client:
            self._writable(client, folder)
            try:
                result = client.move(uids, to)
            finally:
                self._back_to_open(client, folder)
            self._told = client.exists  # our own expunges are no news to the watcher
            return result

    def delete(
        self, uids: Sequence[int], *, permanently: bool = False, folder: str | None = None
    ) -> CopyResult:
        """To the folder with special use \\Trash, or ``permanently`` (no way back)."""
        with self.use() as client:
            self._writable(client, folder)
            try:
                result = client.delete(uids, permanently=permanently)
            finally:
                self._back_to_open(client, folder)
            self._told = client.exists
            return result

    def archive_folder(self) -> str | None:
        """The folder with special use \\Archive, if the server names one."""
        with self.use() as client:
            found = client.special_folder("\\Archive")
            return found.name if found is not None else None

    def move_back(self, done: CopyResult) -> CopyResult:
        """Undo a move (or a delete to Trash): the messages go back from ``done.to`` to
        ``done.folder`` by the UIDs the server gave them there. The open folder stays open."""
        if done.to is None:
            raise UsageError("a permanent delete cannot be undone")
        uids = [new for old in done.uids if (new := done.new_uid(old)) is not None]
        if not uids:
            raise UsageError(f"{done.to} did not say the moved messages' new UIDs: move them back")
        with self.use() as client:
            try:
                client.select(done.to)
                result = client.move(uids, done.folder)
            finally:
                if self.folder is not None:
                    # Read-write: we were changing things; a reconnect selects it read-only.
                    client.select(self.folder)
            self._told = client.exists
            return result

    def _writable(self, client: ImapClient, folder: str | None) -> None:
        """Open read-write the folder the UIDs came from. Folders open read-only (looking
        changes nothing); and another folder may be open by now (the person went on while the
        change waited for the connection): its messages must never get these UIDs."""
        wanted = folder if folder is not None else self.folder
        if wanted is None:
            raise UsageError("no folder is open")
        selected = client.selected
        if selected is None or selected.name != wanted or selected.read_only:
            client.select(wanted)

    def _back_to_open(self, client: ImapClient, folder: str | None) -> None:
        """After a change in another folder than the one shown now, that one is open again."""
        if folder is not None and self.folder is not None and folder != self.folder:
            client.select(self.folder, readonly=True)

    def wait_for_news(self, stop: Callable[[], bool]) -> News | None:
        """Wait (IDLE, else NOOP every ``poll_every`` seconds) until the selected folder
        changes or ``stop()``; what changed, else None. Never connects by itself."""
        try:
            with self.use(connect=False) as client:
                folder = self.folder
                if folder is None:
                    return None
                if "IDLE" in client.capabilities:
                    changes = FolderChanges()
                    with suppress(CapabilityMissing):
                        changes = client.idle(
                            _IDLE_FOR, stop=lambda: stop() or self.busy, poll=_IDLE_POLL
                        )
                    return self._news(folder, client, changes)
        except _NotConnected:
            return None
        # No IDLE: wait without holding the connection, then one NOOP.
        deadline = time.monotonic() + self.poll_every
        while time.monotonic() < deadline:
            if stop():
                return None
            time.sleep(min(0.2, self.poll_every))
        try:
            with self.use(connect=False) as client:
                folder = self.folder
                if folder is None:
                    return None
                return self._news(folder, client, client.noop())
        except _NotConnected:
            return None

    def _news(self, folder: str, client: ImapClient, changes: FolderChanges) -> News | None:
        exists, before = client.exists, self._told
        if exists is None or exists == before:
            return None
        self._told = exists
        # Expunges alone (another program moved or deleted mail) can be taken out of the list
        # where they were; with arrivals mixed in, or news missed, the list is renumbered.
        alone = before is not None and before - len(changes.expunged) == exists
        return News(folder, exists, changes.expunged if alone else ())


def _flags_of(client: ImapClient, uids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    found: dict[int, tuple[str, ...]] = {}
    for response in client.iter_fetch(SequenceSet(uids), "(UID FLAGS)", uid=True):
        items = getattr(response, "items", {})
        if items.get("UID") is not None:
            found[items["UID"]] = items.get("FLAGS", ())
    return found


def _too_large(size: int, limit: int) -> UsageError:
    return UsageError(
        f"the message is {human_size(size)}, more than the {human_size(limit)} "
        "the mail browser answers or forwards: save it and attach it instead"
    )


@dataclass(frozen=True, slots=True)
class News:
    """The open folder changed: its message count now and, when messages only went away,
    the sequence numbers expunged, in the order the server said them (RFC 3501 7.4.1)."""

    folder: str
    exists: int
    expunged: tuple[int, ...] = ()


class _NotConnected(Exception):
    """Internal: the watcher found no connection and must not open one by itself."""
