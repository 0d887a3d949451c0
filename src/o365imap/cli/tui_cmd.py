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
from o365imap.cli.signals import Stopped, stop_signals

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
    import asyncio  # noqa: PLC0415 - the mail browser's (Textual's) only: not for --help

    from o365imap.tui.app import MailApp  # noqa: PLC0415 - only with Textual installed
    from o365imap.tui.session import session_for  # noqa: PLC0415

    session = session_for(resolve(kwargs), poll_every=poll_every)
    app = MailApp(session, download_dir=download_dir, start_folder=folder)

    def leave(signum: int) -> None:
        # An exception raised wherever the event loop happens to be can cut Textual's own
        # shutdown short (seen under load: the alternate screen left on, the shell's screen
        # gone). Ask the app to quit instead; its loop restores the terminal, then Stopped
        # gives the usual sentence and exit code.
        try:
            asyncio.get_running_loop().call_soon_threadsafe(app.exit)
        except RuntimeError:  # the loop is not running (yet, or any more)
            raise Stopped(signum) from None

    with stop_signals(on_signal=leave) as received:
        app.run()
    if received:
        raise Stopped(received[0])
