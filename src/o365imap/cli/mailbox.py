"""Mailbox commands: capabilities, folders, info, list."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from o365imap._display import counted
from o365imap.cli import output, tables
from o365imap.cli.app import cli
from o365imap.cli.connect import connection_options, open_client, resolve
from o365imap.cli.params import FOLDER, WholeNumber
from o365imap.errors import UsageError
from o365imap.models import FolderInfo, MessageSummary

if TYPE_CHECKING:
    from rich.console import Console

    from o365imap import ImapClient

# ``list --all`` as a table: messages per FETCH (the JSON takes them all from one FETCH 1:*).
_ALL_PAGE = 1000


def _console() -> Console | None:
    """A console for a terminal's table; None in a pipe, whose TSV needs no rich (nor its
    20 ms of imports: ``list | grep``)."""
    return tables.table_console(soft_wrap=False)


@cli.command()
@connection_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines.")
def capabilities(as_json: bool, **kwargs: Any) -> None:
    """What the server supports (after signing in)."""
    with open_client(resolve(kwargs)) as client:
        caps = client.capabilities
    if as_json:
        output.emit_json(output.capabilities_json(caps))
    else:
        click.echo(" ".join(sorted(caps.names)))


@cli.command()
@connection_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines, one folder per line.")
def folders(as_json: bool, **kwargs: Any) -> None:
    """List the folders, with their special use (Sent, Drafts, Trash, ...)."""
    with open_client(resolve(kwargs)) as client:
        found = output.sorted_folders(client.list_folders())
    if as_json:
        for folder in found:
            output.emit_json(output.folder_json(folder))
    else:
        output.print_folders(_console(), found)


@cli.command()
@connection_options
@click.argument("folder", default="INBOX", type=FOLDER)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(folder: str, as_json: bool, **kwargs: Any) -> None:
    """Counts of FOLDER, default INBOX (read-only: STATUS and EXAMINE change nothing)."""
    with open_client(resolve(kwargs)) as client:
        # STATUS first: RFC 3501 advises against it on the selected folder
        status = client.status(folder, ("MESSAGES", "UNSEEN"))
        details = client.select(folder, readonly=True)
    if as_json:
        output.emit_json(output.folder_info_json(details, status))
    else:
        output.print_folder_info(_console(), details, status)


@cli.command(name="list")
@connection_options
@click.argument("folder", default="INBOX", type=FOLDER)
@click.option("--page", type=WholeNumber(min=1), default=1, show_default=True,
              help="Page number; page 1 holds the newest messages.")  # fmt: skip
@click.option("--page-size", type=WholeNumber(min=1, max=10000), default=50,
              show_default=True, help="Messages per page.")  # fmt: skip
@click.option(
    "--all",
    "list_all",
    is_flag=True,
    help="Every message (JSON: sequence order, from one FETCH 1:*; the table: newest first, "
    f"one FETCH per {_ALL_PAGE:,} messages). Both stream: memory stays flat.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines, one message per line.")
def list_(
    folder: str, page: int, page_size: int, list_all: bool, as_json: bool, **kwargs: Any
) -> None:
    """List the messages of FOLDER (default INBOX), newest first, one bulk FETCH per page."""
    with open_client(resolve(kwargs)) as client:
        details = client.select(folder, readonly=True)
        if details.exists == 0 and not as_json and (list_all or page == 1):
            # A sentence, not an empty table; in a pipe the TSV's header (a script reads no
            # row, not the sentence as one) and the sentence on stderr, for a person.
            console = _console()
            piped = tables.is_piped(console)
            if piped:
                output.print_messages(console, (), details.name)
            click.echo(f"{details.name} is empty.", err=piped)
            return
        pages = page_count(details, page, page_size) if not list_all else 1
        if as_json:
            rows = client.iter_messages() if list_all else iter(client.list_page(page, page_size))
            write = sys.stdout.write
            with _without_cycle_collection():
                for message in rows:
                    write(output.message_json_line(message) + "\n")
            return
        # UIDs are below UIDNEXT: its digits are the UID column's width, known before any row.
        # Without UIDNEXT (RFC 3501 lets a server leave it out) the count says nothing of the
        # UIDs: room for any (32 bits), as a UID cut short cannot be passed to `show`.
        digits = len(str(details.uidnext)) if details.uidnext else len(str(2**32 - 1))
        if list_all:
            title = f"{details.name}: all {counted(details.exists)}"
            output.print_messages(_console(), _newest_first(client), title, uid_digits=digits)
            return
        rows = iter(client.list_page(page, page_size))
        title = f"{details.name}: page {page} of {pages} ({counted(details.exists)})"
        output.print_messages(_console(), rows, title, uid_digits=digits)


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """The cycle collector off while a listing streams: the listing makes no reference cycles
    (tests/test_client_dovecot.py checks), so memory still stays flat, and the collector's
    passes over the decoders' growing caches cost 40 ms of 20,000 international messages."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _newest_first(client: ImapClient) -> Iterator[MessageSummary]:
    """Every message, newest first, a page (one FETCH) at a time: the table streams as JSON
    does, without holding the folder. A message arriving meanwhile shifts the pages by one:
    UIDs only go down here, so one already shown is not shown again."""
    below: int | None = None
    page = 1
    while True:
        rows = client.list_page(page, _ALL_PAGE)
        for message in rows:
            if message.uid is not None:
                if below is not None and message.uid >= below:
                    continue
                below = message.uid
            yield message
        if len(rows) < _ALL_PAGE:  # the oldest page: no FETCH for nothing after it
            return
        page += 1


def page_count(details: FolderInfo, page: int, page_size: int) -> int:
    """How many pages of ``page_size`` the folder makes (an empty folder has page 1, empty);
    a page past the end is bad input, said in one sentence whether or not the output is JSON
    (the exit code of a request does not depend on its format)."""
    pages = max(1, -(-details.exists // page_size))
    if page > pages:
        if details.exists == 0:
            held = f"{details.name} is empty"
        else:
            held = (
                f"{details.name} has {counted(details.exists)}, "
                f"{counted(pages, 'page')} of {page_size}"
            )
        raise UsageError(f"page {page} is past the end: {held}")
    return pages
