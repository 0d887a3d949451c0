"""``o365imap import``: a Maildir, an mbox or a folder of .eml files into the mailbox.

The library does the work (o365imap.backup.import_mailbox: what is there, what was imported
before, APPEND with flags and dates); here are the options, a progress bar for a person
watching, JSON Lines for scripts, and the exit code: 0 when every message is in the mailbox,
3 when the server refused some (a rerun tries those again, and only those).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from o365imap._display import counted, human_size
from o365imap._terminal_text import for_terminal
from o365imap.auth.profiles import home_dir
from o365imap.cli import output
from o365imap.cli.app import cli
from o365imap.cli.connect import connection_options, open_client, resolve
from o365imap.cli.params import FOLDER
from o365imap.cli.progress import folder_bars
from o365imap.cli.selection import change_options
from o365imap.errors import UsageError

if TYPE_CHECKING:  # loaded by the command itself: every other command starts without it
    from o365imap.backup import ImportEvent, ImportFolderReport

__all__ = ["import_folder_json"]


def import_folder_json(report: ImportFolderReport) -> dict[str, Any]:
    return {
        "source": report.source,
        "folder": report.folder,
        "appended": report.appended,
        "skipped": report.skipped,
        "failed": report.failed,
        "found": report.found,
        "bytes": report.bytes,
        "seconds": round(report.seconds, 3),
        "error": report.error,
    }


@cli.command("import")
@connection_options
@click.argument(
    "source", type=click.Path(exists=True, path_type=Path), metavar="SOURCE"
)  # fmt: skip
@click.option("--to", "to", type=FOLDER, metavar="FOLDER",
              help="Put every message into this folder (made if missing).")  # fmt: skip
@click.option("--tree", is_flag=True,
              help="Recreate the source's folders (the default); INBOX stays INBOX.")  # fmt: skip
@change_options  # fmt: skip
def import_(
    source: Path, to: str | None, tree: bool, dry_run: bool, as_json: bool, **kwargs: Any
) -> int:
    """Append the messages of SOURCE (a Maildir or a tree of them, an mbox file or a folder of
    .mbox files, a folder of .eml files) with their flags and dates. Run again, it appends only
    what is not there yet: after an interruption too."""
    from o365imap.backup import ImportOptions, find_folders, import_mailbox  # noqa: PLC0415

    if to is not None and tree:
        raise UsageError("--to and --tree are either-or")
    find_folders(source)  # a source that is no mail fails here, before signing in
    conn = resolve(kwargs)
    options = ImportOptions(
        source,
        to=to,
        dry_run=dry_run,
        account=f"{conn.user} on {conn.host}:{conn.port or ''}",
        state_dir=home_dir("data") / "imports",
    )
    show_progress = not as_json and sys.stderr.isatty()
    with open_client(conn) as client, folder_bars(show_progress) as hook:

        def said(event: ImportEvent) -> None:
            if hook is not None:
                hook(event)
            if as_json and event.kind == "done" and event.report is not None:
                output.emit_json(import_folder_json(event.report))

        report = import_mailbox(client, options, said)
    totals = {k: report.total(k) for k in ("appended", "skipped", "failed", "found", "bytes")}
    if as_json:
        output.emit_json(
            {
                "summary": True,
                "folders": len(report.folders),
                **totals,
                "seconds": round(report.seconds, 3),
                "dry_run": dry_run,
            }
        )
    else:
        for folder in report.folders:
            if folder.failed:
                click.echo(
                    for_terminal(
                        f"{folder.folder}: {folder.failed} refused ({folder.error})", one_line=True
                    ),
                    err=True,
                )
        verb = "would append" if dry_run else "appended"
        found = f" ({totals['found']} found in the folder)" if totals["found"] else ""
        failed = f", {totals['failed']} refused" if totals["failed"] else ""
        click.echo(
            f"{counted(len(report.folders), 'folder')}: {counted(totals['appended'])} "
            f"{verb} ({human_size(totals['bytes'])}), {totals['skipped']} already there{found}"
            f"{failed}, in {report.seconds:.1f} s."
        )
    return 3 if totals["failed"] else 0
