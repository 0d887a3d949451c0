"""ImapClient: the mail a script asks for, on top of the session driver.

Listing is built around one bulk ``FETCH a:b (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)``
per page: never one command per message, never a long comma list of numbers (Office 365 rejects
long command lines with ``BAD Command Error. 10``). Message bodies stream: nothing here holds
a big literal in memory.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import cast

from o365imap._replies import (
    folder_changes,
    search_numbers,
    summary_from,
)
from o365imap.client._args import Messages, sequence_arg
from o365imap.client._changes import Changes
from o365imap.client._sections import iter_section
from o365imap.errors import CapabilityMissing, SessionExpired, UsageError
from o365imap.models import (
    FolderChanges,
    FolderInfo,
    MessageSummary,
)
from o365imap.protocol import (
    Atom,
    Event,
    Fetch,
    LiteralData,
    LiteralEnded,
    LiteralStarted,
    Raw,
    SequenceSet,
)
from o365imap.protocol.commands import Argument
from o365imap.protocol.text import MONTHS

__all__ = ["LISTING_ITEMS", "ImapClient", "Messages"]  # Messages: re-exported

LISTING_ITEMS = "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)"


class ImapClient(Changes):
    """One IMAP connection to Office 365, Outlook.com or any IMAP4rev1 server.

    >>> with ImapClient("outlook.office365.com") as imap:           # doctest: +SKIP
    ...     imap.authenticate_oauth("me@example.com", access_token)
    ...     imap.select("INBOX", readonly=True)
    ...     for message in imap.list_page(page=1, page_size=50): ...

    ``timeout`` bounds each wait for the server (connect and read; ``DEFAULT_TIMEOUT``, 30 s);
    ``throttle_retries`` is how many times a throttled command is retried after the server's
    suggested backoff (capped by ``max_backoff`` seconds). Most scripts get a signed-in client
    from ``o365imap.open_profile()`` instead of building one.
    """

    # ------------------------------------------------------------ folders

    def examine(self, folder: str) -> FolderInfo:
        """Deprecated: ``select(folder, readonly=True)``."""
        warnings.warn(
            "ImapClient.examine(folder) is now select(folder, readonly=True)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.select(folder, readonly=True)

    # ------------------------------------------------------------ listing

    def list_page(self, page: int = 1, page_size: int = 50) -> list[MessageSummary]:
        """One page of the open folder, newest first: page 1 is the newest ``page_size``.

        One ``FETCH a:b (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)`` for the whole page;
        a session that ends because the token expired is reopened and the page asked again.
        """
        if page < 1 or page_size < 1:
            raise UsageError("page and page size start at 1")
        total = self._require_selected()
        high = total - (page - 1) * page_size
        if high < 1:
            return []
        low = max(1, high - page_size + 1)
        page_set = SequenceSet.range(low, high)
        try:
            rows = [summary_from(f) for f in self.iter_fetch(page_set, LISTING_ITEMS)]
        except SessionExpired as exc:
            self._reopen_after(exc, 1)  # nothing was handed out yet: ask for the page again
            rows = [summary_from(f) for f in self.iter_fetch(page_set, LISTING_ITEMS)]
        rows.sort(key=lambda r: r.seq, reverse=True)
        return rows

    def iter_messages(self) -> Iterator[MessageSummary]:
        """Every message of the open folder, in sequence order, from one ``FETCH 1:*``.

        Results stream out as they are parsed: memory does not grow with the folder. After a
        reconnect (the token expired) the listing goes on after the last message delivered.
        """
        if self._require_selected() == 0:
            return
        last_uid: int | None = None
        reconnects = 0
        while True:
            # After a reconnect the rest is asked by UID (sequence numbers may have moved):
            # "UID FETCH n:*" always answers at least the newest message, hence the filter.
            if last_uid is None:
                messages, uid = SequenceSet.range(1, None), False
            else:
                messages, uid = SequenceSet.range(last_uid + 1, None), True
            try:
                for response in self.iter_fetch(messages, LISTING_ITEMS, uid=uid):
                    summary = summary_from(response)
                    if summary.uid is not None:
                        if last_uid is not None and summary.uid <= last_uid:
                            continue
                        last_uid = summary.uid
                    yield summary
                return
            except SessionExpired as exc:
                reconnects += 1
                self._reopen_after(exc, reconnects)

    def iter_summaries(self, uids: Sequence[int], *, chunk: int = 200) -> Iterator[MessageSummary]:
        """The listing fields of messages by UID (what ``find`` and ``search`` return), in the
        order given; UIDs no longer in the folder are left out.

        One UID FETCH per ``chunk`` UIDs: scattered UIDs make a long set, and Office 365
        refuses long command lines.
        """
        for start in range(0, len(uids), chunk):
            part = uids[start : start + chunk]
            found: dict[int, MessageSummary] = {}
            for response in self.iter_fetch(SequenceSet(part), LISTING_ITEMS, uid=True):
                summary = summary_from(response)
                if summary.uid is not None:
                    found[summary.uid] = summary
            yield from (found[u] for u in part if u in found)

    def summaries(self, uids: Sequence[int], *, chunk: int = 200) -> Iterator[MessageSummary]:
        """Deprecated: ``iter_summaries``."""
        warnings.warn(
            "ImapClient.summaries() is now iter_summaries()", DeprecationWarning, stacklevel=2
        )
        return self.iter_summaries(uids, chunk=chunk)

    # ------------------------------------------------------------ fetching

    def iter_fetch(
        self,
        messages: Messages,
        items: str | Sequence[str],
        *,
        uid: bool = False,
        changed_since: int | None = None,
    ) -> Iterator[Fetch]:
        """FETCH (or UID FETCH), yielding each message's response as soon as it is parsed.

        Memory does not grow with the number of messages: nothing is collected. Unsolicited
        FETCH responses (a flag change from another client) that lack the requested items are
        not yielded. A literal of up to 1 MiB comes as bytes; a larger one (a big message or
        part) comes as ``StreamedLiteral(size)``, its bytes not kept: receive those with
        :meth:`iter_fetch_events` or :meth:`iter_section`, or write them to disk with
        ``save_message`` / ``save_parts``.
        """
        # Returned, not re-yielded: a listing's 20,000 responses pass one generator less.
        fetching = self._fetching(
            messages, items, uid, None, literals=False, changed_since=changed_since
        )
        return cast("Iterator[Fetch]", fetching)

    def fetch(
        self, messages: Messages, items: str | Sequence[str], *, uid: bool = False
    ) -> Iterator[Fetch]:
        """Deprecated: ``iter_fetch``."""
        warnings.warn("ImapClient.fetch() is now iter_fetch()", DeprecationWarning, stacklevel=2)
        return self.iter_fetch(messages, items, uid=uid)

    def iter_fetch_events(
        self,
        messages: Messages,
        items: str | Sequence[str],
        *,
        uid: bool = False,
        stream_threshold: int | None = None,
    ) -> Iterator[Fetch | LiteralStarted | LiteralData | LiteralEnded]:
        """Like ``iter_fetch`` but also yields LiteralStarted/LiteralData/LiteralEnded events for
        literals larger than ``stream_threshold`` (bytes), so bodies can flow to disk."""
        return self._fetching(messages, items, uid, stream_threshold, literals=True)

    def _fetching(
        self,
        messages: Messages,
        items: str | Sequence[str],
        uid: bool,
        stream_threshold: int | None,
        *,
        literals: bool,
        changed_since: int | None = None,
    ) -> Iterator[Fetch | LiteralStarted | LiteralData | LiteralEnded]:
        sequence = sequence_arg(messages)
        item_text = items if isinstance(items, str) else "(" + " ".join(items) + ")"
        if not item_text.isascii():
            raise UsageError(f"FETCH items are ASCII: {item_text!r}")
        wanted = _requested_items(item_text)
        name = "UID FETCH" if uid else "FETCH"
        args = [sequence, Raw(item_text.encode("ascii"))]
        if changed_since is not None:
            # RFC 7162 3.1.4: only what changed after that mod-sequence (servers with
            # CONDSTORE; the folder must have been opened with condstore=True)
            args.append(Raw(f"(CHANGEDSINCE {int(changed_since)})".encode("ascii")))
        events: Iterator[Event] = self._stream(name, *args, stream_threshold=stream_threshold)
        for event in events:
            if isinstance(event, Fetch):
                if wanted and not wanted.intersection(event.items):
                    continue  # unsolicited (a flag change from elsewhere), not our answer
                yield event
            elif literals and isinstance(event, LiteralStarted | LiteralData | LiteralEnded):
                yield event

    def iter_section(self, uid: int, section: str = "") -> Iterator[bytes]:
        """The raw bytes of one body section (``""``: the whole message, ``"2"``: part 2), as
        they arrive; a download cut midway is resumed on a new connection where it stopped."""
        return iter_section(self, uid, section, max_resumes=self.policy.max_resumes)

    # ------------------------------------------------------------ searching

    def search(
        self,
        criteria: str | Sequence[Argument] = "ALL",
        *,
        uid: bool = False,
        charset: str | None = None,
    ) -> list[int]:
        """SEARCH (or UID SEARCH): message numbers (or UIDs) matching ``criteria``.

        A string is sent as IMAP search syntax as it is (``'UNSEEN SINCE 1-Jan-2026'``); a
        sequence mixes Atom keys and str values, which are quoted or sent as literals as needed
        (``[Atom("FROM"), "Jürgen"]`` with ``charset="UTF-8"``).
        """
        args: list[Argument] = []
        if charset:
            args += [Atom("CHARSET"), Atom(charset)]
        if isinstance(criteria, str):
            args.append(Raw(criteria.encode("utf-8")))
        else:
            args += list(criteria)
        return search_numbers(self._run("UID SEARCH" if uid else "SEARCH", *args).untagged)

    def find(
        self,
        *,
        sender: str | None = None,
        subject: str | None = None,
        text: str | None = None,
        since: date | str | None = None,
        before: date | str | None = None,
        unseen: bool = False,
    ) -> list[int]:
        """UID SEARCH in the open folder with the usual criteria, ANDed; the UIDs found.

        ``since``/``before`` (dates, or ``"YYYY-MM-DD"``) compare the internal date by day
        (RFC 3501 6.4.4: SINCE is on or after, BEFORE is strictly before). Non-ASCII text is
        sent as a literal with CHARSET UTF-8, which every server must accept; ASCII-only
        searches leave CHARSET out, since some old servers refuse it.
        """
        args: list[Argument] = []
        for key, value in (("FROM", sender), ("SUBJECT", subject), ("TEXT", text)):
            if value:
                args += [Atom(key), value]
        for key, day in (("SINCE", since), ("BEFORE", before)):
            if day is not None:
                args += [Atom(key), Atom(_imap_date(_as_date(day, key.lower())))]
        if unseen:
            args.append(Atom("UNSEEN"))
        if not args:
            args.append(Atom("ALL"))
        wide = any(isinstance(a, str) and not a.isascii() for a in args)
        return self.search(args, uid=True, charset="UTF-8" if wide else None)

    # ------------------------------------------------------------ news

    def noop(self) -> FolderChanges:
        """NOOP: lets the server tell about new mail (EXISTS), expunges and flag changes."""
        answer = self._run("NOOP")
        return folder_changes(answer.untagged, answer.fetches)

    def idle(
        self, timeout: float, *, stop: Callable[[], bool] | None = None, poll: float = 0.25
    ) -> FolderChanges:
        """IDLE (RFC 2177) for at most ``timeout`` seconds; what changed meanwhile.

        Returns as soon as the server reports a change (EXISTS, EXPUNGE, RECENT), when
        ``timeout`` has passed, or when ``stop()`` turns true: it is asked every ``poll``
        seconds, so a program with one connection can leave IDLE quickly to run a command
        (ending IDLE from another thread would mean two threads on one TLS stream). DONE is
        sent before returning, so the connection is ready for the next command.
        """
        self._require_selected()
        if "IDLE" not in self.capabilities:
            raise CapabilityMissing(f"{self.host} does not offer IDLE", capability="IDLE")
        answer = self._idle(timeout, stop, poll)
        return folder_changes(answer.untagged, answer.fetches)


# ---------------------------------------------------------------- arguments


def _as_date(value: date | str, name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be a date or YYYY-MM-DD, not {value!r}") from None


def _imap_date(day: date) -> str:
    """RFC 3501 date: ``1-Mar-2024``; English month names whatever the locale."""
    return f"{day.day}-{MONTHS[day.month - 1]}-{day.year}"


def _requested_items(item_text: str) -> set[str]:
    names = re.findall(r"[A-Za-z0-9.]+(?:\[[^\]]*\](?:<\d+(?:\.\d+)?>)?)?", item_text)
    wanted: set[str] = set()
    for name in names:
        upper = name.upper().replace(".PEEK", "")
        if upper in ("FAST", "ALL", "FULL"):
            return set()  # macros: anything goes
        if "<" in upper:  # BODY[]<0.100> comes back as BODY[]<0>
            upper = upper.split("<")[0] + "<" + upper.split("<")[1].split(".")[0] + ">"
        wanted.add(upper)
    # Unsolicited FETCH responses carry only these: they cannot tell ours from the server's.
    wanted -= {"UID", "FLAGS", "MODSEQ"}
    return wanted
