"""o365imap search: server-side SEARCH in one folder, printing what ``list`` prints."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import click

from o365imap._display import counted
from o365imap.cli import output, tables
from o365imap.cli.app import cli
from o365imap.cli.connect import connection_options, open_client, resolve
from o365imap.cli.params import FOLDER


@cli.command()
@connection_options
@click.argument("folder", default="INBOX", type=FOLDER)
@click.option("--from", "sender", metavar="TEXT", help="The From header contains TEXT.")
@click.option("--subject", metavar="TEXT", help="The subject contains TEXT.")
@click.option("--text", metavar="TEXT", help="The headers or the body contain TEXT.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), metavar="DATE",
              help="Received on or after DATE (YYYY-MM-DD).")  # fmt: skip
@click.option("--before", type=click.DateTime(["%Y-%m-%d"]), metavar="DATE",
              help="Received before DATE (YYYY-MM-DD).")  # fmt: skip
@click.option("--unseen", is_flag=True, help="Only unread messages.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines, as `list --json` does.")
def search(
    folder: str,
    sender: str | None,
    subject: str | None,
    text: str | None,
    since: datetime | None,
    before: datetime | None,
    unseen: bool,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Search FOLDER (default INBOX) on the server; newest first. Criteria are ANDed; none
    lists every message."""
    with open_client(resolve(kwargs)) as client:
        details = client.select(folder, readonly=True)
        uids = client.find(
            sender=sender,
            subject=subject,
            text=text,
            since=since.date() if since else None,
            before=before.date() if before else None,
            unseen=unseen,
        )
        uids = sorted(set(uids), reverse=True)
        rows = client.iter_summaries(uids)
        if as_json:
            for message in rows:
                sys.stdout.write(output.message_json_line(message) + "\n")
            return
        # The count is SEARCH's: a message deleted before the FETCH would make it one too many.
        verb = "matches" if len(uids) == 1 else "match"
        title = f"{details.name}: {counted(len(uids))} of {details.exists} {verb}"
        # The UIDs are known before the first row: the column fits the largest (the message
        # count says nothing of them, and UIDNEXT may be left out).
        digits = len(str(max(uids, default=1)))
        output.print_messages(tables.table_console(soft_wrap=False), rows, title, uid_digits=digits)
