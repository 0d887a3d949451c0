"""o365imap tui: the terminal mail browser (needs the optional Textual: ``o365imap[tui]``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import click

from o365imap.cli.app import cli
from o365imap.cli.connect import connection_options, resolve
from o365imap.cli.params import FOLDER, Seconds

INSTALL_HINT = "o365imap tui needs Textual: pip install 'o365imap[tui]'"


@cli.command()
@connection_options
@click.option(
    "--dir",
    "download_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where attachments are saved by default [default: ~/Downloads, else here].",
)
@click.option(
    "--folder", type=FOLDER, default="INBOX", show_default=True, help="The folder opened first."
)
@click.option(
    "--poll",
    "poll_every",
    type=Seconds(5),
    default=30.0,
    show_default=True,
    help="How often to ask for new mail where the server has no IDLE.",
)
def tui(download_dir: Path | None, folder: str, poll_every: float, **kwargs: Any) -> None:
    """Browse the mailbox in the terminal: folders, messages, attachments, search (? for keys)."""
    # Textual is an optional extra: checked before anything else, so its absence costs one line.
    if importlib.util.find_spec("textual") is None:
        click.echo(INSTALL_HINT, err=True)
        sys.exit(1)
    from o365imap.tui.app import MailApp  # noqa: PLC0415 - only with Textual installed
    from o365imap.tui.session import session_for  # noqa: PLC0415

    session = session_for(resolve(kwargs), poll_every=poll_every)
    MailApp(session, download_dir=download_dir, start_folder=folder).run()
