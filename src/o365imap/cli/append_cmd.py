"""``o365imap append``: upload message files (or one from standard input) to a folder.

The library streams each file (ImapClient.append); here only the head of a message is read,
for its Date header: without ``--date`` that sets the internal date, so that an uploaded
message sorts where it was written rather than at the time of the upload.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime
from typing import IO, Any, BinaryIO, cast

import click

from o365imap import UsageError
from o365imap._display import local_time
from o365imap._terminal_text import for_terminal
from o365imap.cli import output
from o365imap.cli.app import cli
from o365imap.cli.connect import connection_options, open_client, resolve
from o365imap.cli.params import FLAG, FOLDER
from o365imap.cli.selection import change_options

__all__ = ["IsoDateTime", "header_date"]

_HEAD = 256 * 1024  # bytes read to find the Date header; a header block is rarely past 64 KB
_SPOOL = 1 << 20  # standard input kept in memory up to this, then in a temporary file


class IsoDateTime(click.ParamType):  # type: ignore[type-arg]
    """ISO 8601 (``2026-03-01``, ``2026-03-01T09:30:00+01:00``); without an offset, local time."""

    name = "iso8601"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            when = datetime.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not a date and time in ISO 8601", param, ctx)
        try:
            return when if when.tzinfo is not None else when.astimezone()
        except (ValueError, OverflowError):  # 0001-01-01 in local time is before year 1
            self.fail(f"{value!r} is a date this machine's clock cannot place", param, ctx)

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "ISO8601"


def header_date(head: bytes) -> datetime | None:
    """The Date header of a message's first bytes, or None (missing or unreadable)."""
    end = min((i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0), default=-1)
    headers = BytesHeaderParser().parsebytes(head if end < 0 else head[: end + 2])
    value = headers.get("Date")
    if not value:
        return None
    try:
        when = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)  # "-0000": UTC


@contextmanager
def _message(name: str) -> Iterator[BinaryIO]:
    """The message file, read twice (its Date header, then the upload): standard input
    (``-``) and pipes (``<(...)``, a FIFO) are spooled first, since they cannot go back."""
    if name == "-":
        with _spooled(cast("IO[bytes]", sys.stdin.buffer)) as spool:
            yield spool
        return
    try:
        handle = open(name, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror}") from None
    with handle:
        if handle.seekable():
            yield handle
            return
        with _spooled(handle) as spool:
            yield spool


@contextlib.contextmanager
def _spooled(source: IO[bytes]) -> Iterator[BinaryIO]:
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL) as spool:
        shutil.copyfileobj(source, spool, _SPOOL)
        spool.seek(0)
        yield cast("BinaryIO", spool)


def _date_of(message: BinaryIO) -> datetime | None:
    head = message.read(_HEAD)
    message.seek(0)
    return header_date(head)


@cli.command()
@connection_options
@click.argument(
    "files",
    nargs=-1,
    required=True,
    metavar="FILE...",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
)
@click.option(
    "--to", "to", required=True, type=FOLDER, metavar="FOLDER", help="The folder to put them in."
)
@click.option(
    "--flag",
    "flags",
    multiple=True,
    type=FLAG,
    help="Give them this flag (\\Seen, \\Flagged, a keyword); repeatable.",
)
@click.option(
    "--date",
    "when",
    type=IsoDateTime(),
    help="Their internal date [default: each message's Date header].",
)
@change_options  # fmt: skip
def append(
    files: tuple[str, ...],
    to: str,
    flags: tuple[str, ...],
    when: datetime | None,
    dry_run: bool,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Upload message files (.eml; - reads one from standard input) to FOLDER, each with its
    new UID where the server says."""
    if files.count("-") > 1:
        raise UsageError("- (standard input) can be given once")
    with open_client(resolve(kwargs)) as client:
        if dry_run:
            client.status(to, ("MESSAGES",))  # a folder that is not there fails here too
        for name in files:
            with _message(name) as message:
                date = when or _date_of(message)
                uid = None if dry_run else client.append(to, message, flags=flags, date=date)
            if as_json:
                output.emit_json({"file": name, "folder": to, "uid": uid})
                continue
            shown = "standard input" if name == "-" else name
            # the reader's local time, as everywhere a person reads one (the JSON has none)
            dated = f", dated {local_time(date, '%Y-%m-%d %H:%M %z')}" if date else ""
            done = "Would append" if dry_run else "Appended"
            new = f" as UID {uid}" if uid is not None else ""
            click.echo(for_terminal(f"{done} {shown} to {to}{new}{dated}.", one_line=True))
