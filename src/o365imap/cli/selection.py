"""Which messages a command that changes the mailbox acts on, and how it reports on them.

The messages are given as UIDs (``N``, ``N:M``, ``N,M:P``, several arguments, or ``-``: one
per line on standard input, plain or as the JSON Lines ``list --json`` and ``search --json``
print), or found by ``search``'s criteria, or ``--all``; in ``--folder`` (default INBOX). UIDs
and criteria together: the given messages that match. What is given is checked before anything
connects; what exists is asked of the server once the folder is open, so that a UID that does
not exist is named on stderr rather than silently skipped (a range names itself only when it
holds nothing: it means "what is in there").
"""

from __future__ import annotations

import json
import sys
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from o365imap import UsageError
from o365imap._terminal_text import for_terminal
from o365imap.cli import output
from o365imap.cli.params import FOLDER
from o365imap.limits import check_uid, parse_uid, shown

if TYPE_CHECKING:
    from o365imap import ImapClient

__all__ = [
    "UID_SET",
    "Chosen",
    "Selection",
    "UidSet",
    "change_options",
    "choose",
    "emit_message",
    "selection_from",
    "selection_options",
    "uid_text",
]

F = TypeVar("F", bound=Callable[..., Any])

# Given ranges: (first, last, as written). A single UID is a range of one, written as a number.
Span = tuple[int, int, str]

_MISSING_SHOWN = 20  # spans named on stderr at the most; the rest are counted


class UidSet(click.ParamType):  # type: ignore[type-arg]
    """``N``, ``N:M`` or ``N,M:P`` (a range either way round), or ``-``: standard input."""

    name = "uids"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[Span, ...] | str:
        if isinstance(value, tuple):
            return value
        text = str(value).strip()
        if text == "-":
            return "-"
        try:
            return parse_uid_set(text)
        except UsageError as exc:
            self.fail(str(exc), param, ctx)


UID_SET = UidSet()


def parse_uid_set(text: str) -> tuple[Span, ...]:
    """The spans of ``N,M:P``; UsageError naming the part that is not a UID."""
    spans: list[Span] = []
    for part in text.split(","):
        first, colon, last = part.partition(":")
        try:
            low = parse_uid(first)
            high = parse_uid(last) if colon else low
        except UsageError:
            raise UsageError(
                f"{shown(part.strip() or text)} is not a UID or a range of UIDs (N, N:M, N,M:P)"
            ) from None
        spans.append((min(low, high), max(low, high), part.strip()))
    return tuple(spans)


def _stdin_spans(lines: Iterable[str], folder: str) -> list[Span]:
    """What ``-`` reads: a UID set per line, or a JSON object with a ``uid`` (and, where it
    has one, a ``folder`` that must be ``folder``: UIDs name messages of one folder only)."""
    spans: list[Span] = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            continue
        try:
            if text.startswith("{"):
                uid = _json_uid(text, folder)
                spans.append((uid, uid, str(uid)))
            else:
                spans.extend(parse_uid_set(text))
        except UsageError as exc:
            raise UsageError(f"line {number} of standard input: {exc}") from None
    return spans


def _json_uid(text: str, folder: str) -> int:
    try:
        data = json.loads(text)
        uid = data.get("uid")
    except (ValueError, AttributeError, RecursionError):  # nested past the parser's depth
        raise UsageError("not a JSON object") from None
    named = data.get("folder")
    if isinstance(named, str) and named != folder:
        raise UsageError(
            f"its UID is of the folder {shown(named)}, not {shown(folder)}: give --folder"
        )
    if uid is None:
        raise UsageError('the JSON object has no "uid"')
    return check_uid(uid)


@dataclass(frozen=True)
class Selection:
    """What the command line asked for, before the server is asked what exists."""

    folder: str
    spans: tuple[Span, ...] | None = None  # None: no UIDS given (an empty - gives ())
    criteria: dict[str, Any] = field(default_factory=dict)  # ImapClient.find's arguments
    everything: bool = False


@dataclass(frozen=True)
class Chosen:
    """The messages to act on (UIDs ascending), in ``folder``; ``missing``: given ones that
    are not there, as the user wrote them."""

    folder: str
    uids: list[int]
    missing: list[str]

    @property
    def exit_code(self) -> int:
        return 1 if self.missing else 0


def selection_options(func: F) -> F:
    """The UIDS argument, ``--folder``, ``search``'s criteria and ``--all``."""

    dates = click.DateTime(["%Y-%m-%d"])
    options = [
        click.argument("uids", nargs=-1, type=UID_SET, metavar="[UIDS]..."),
        click.option("--folder", default="INBOX", show_default=True, type=FOLDER,
                     help="The folder the messages are in."),
        click.option("--from", "sender", metavar="TEXT", help="The From header contains TEXT."),
        click.option("--subject", metavar="TEXT", help="The subject contains TEXT."),
        click.option("--text", metavar="TEXT", help="The headers or the body contain TEXT."),
        click.option("--since", type=dates, metavar="DATE",
                     help="Received on or after DATE (YYYY-MM-DD)."),
        click.option("--before", type=dates, metavar="DATE",
                     help="Received before DATE (YYYY-MM-DD)."),
        click.option("--unseen", is_flag=True, help="Only unread messages."),
        click.option("--all", "everything", is_flag=True,
                     help="Every message of the folder (without UIDs or criteria, a command "
                     "refuses to act rather than take them all)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def change_options(func: F) -> F:
    """``--dry-run`` and ``--json``, which every command that changes the mailbox takes."""
    func = click.option("--json", "as_json", is_flag=True,
                        help="Print JSON Lines, one object per item acted on.")(func)  # fmt: skip
    return click.option("--dry-run", is_flag=True,
                        help="Say what would be done; change nothing.")(func)  # fmt: skip


def selection_from(kwargs: dict[str, Any]) -> Selection:
    """Pop the selection options from ``kwargs``; standard input is read here, before the
    command connects, so that a bad line is a usage error that changed nothing."""
    given: list[tuple[Span, ...] | str] = list(kwargs.pop("uids"))
    if given.count("-") > 1:
        raise UsageError("- (standard input) can be given once")
    folder: str = kwargs.pop("folder")
    spans: list[Span] = []
    for item in given:
        spans.extend(_stdin_spans(sys.stdin, folder) if isinstance(item, str) else item)
    since: datetime | None = kwargs.pop("since")
    before: datetime | None = kwargs.pop("before")
    given_criteria = {
        "sender": kwargs.pop("sender"),
        "subject": kwargs.pop("subject"),
        "text": kwargs.pop("text"),
        "since": since.date() if since else None,
        "before": before.date() if before else None,
        "unseen": kwargs.pop("unseen"),
    }
    criteria = {key: value for key, value in given_criteria.items() if value}
    everything: bool = kwargs.pop("everything")
    if everything and (given or criteria):
        raise UsageError("--all is every message: give it without UIDs or criteria")
    if not (given or criteria or everything):
        raise UsageError("which messages? Give UIDs, - to read them, criteria, or --all")
    return Selection(folder, tuple(spans) if given else None, criteria, everything)


def choose(client: ImapClient, selection: Selection, *, writable: bool) -> Chosen:
    """Open the folder and find the messages; the given ones that do not exist are named on
    stderr. ``writable``: SELECT (the command will change the folder), else EXAMINE."""
    folder = selection.folder
    client.select(folder, readonly=not writable)
    found = set(client.find(**selection.criteria)) if selection.criteria else None
    missing: list[str] = []
    if selection.everything:
        found = set(client.search("ALL", uid=True))
    elif selection.spans is not None:
        # One SEARCH of every UID, however the set was given: a set as long as standard input
        # can make would not fit a command line, and ranges need no expanding this way. (An
        # empty standard input, from a search that found nothing, chooses nothing.)
        present = sorted(client.search("ALL", uid=True)) if selection.spans else []
        wanted, missing = _within(present, selection.spans)
        found = wanted if found is None else found & wanted
    chosen = Chosen(folder, sorted(found or ()), missing)
    if missing:
        named = ", ".join(missing[:_MISSING_SHOWN])
        more = len(missing) - _MISSING_SHOWN
        if more > 0:
            named += f" and {more} more"
        where = for_terminal(folder, one_line=True)
        click.echo(f"o365imap: not in {where}, left out: UID {named}.", err=True)
    return chosen


def _within(present: list[int], spans: Iterable[Span]) -> tuple[set[int], list[str]]:
    """The present UIDs the spans cover, and the spans that cover none (as written)."""
    wanted: set[int] = set()
    missing: list[str] = []
    for first, last, written in sorted(set(spans)):
        inside = present[bisect_left(present, first) : bisect_right(present, last)]
        if inside:
            wanted.update(inside)
        elif written not in missing:
            missing.append(written)
    return wanted, missing


def uid_text(uids: Iterable[int]) -> str:
    """``1:3,7``: UIDs as an IMAP set, for people to read."""
    parts: list[str] = []
    ordered = sorted(set(uids))
    start = prev = ordered[0] if ordered else 0
    for uid in ordered[1:]:
        if uid != prev + 1:
            parts.append(f"{start}:{prev}" if prev != start else str(start))
            start = uid
        prev = uid
    if ordered:
        parts.append(f"{start}:{prev}" if prev != start else str(start))
    return ",".join(parts)


def emit_message(
    chosen: Chosen, uid: int, action: str, to: str | None, new_uid: int | None, **extra: Any
) -> None:
    """One message acted on, as ``--json`` prints it."""
    row = {"uid": uid, "folder": chosen.folder, "action": action, "to": to, "new_uid": new_uid}
    output.emit_json(row | extra)
