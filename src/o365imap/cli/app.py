"""The click group every command hangs on, and the global options."""

from __future__ import annotations

import logging
import sys

import click

from o365imap._terminal_text import for_terminal

__all__ = ["cli"]


class _TerminalFormatter(logging.Formatter):
    """Log lines quote servers and mail: they reach the terminal without control characters."""

    def format(self, record: logging.LogRecord) -> str:
        return for_terminal(super().format(record))


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    invoke_without_command=True,
)
@click.version_option(package_name="o365imap")
@click.option(
    "--debug",
    is_flag=True,
    help="Print the IMAP conversation and sign-in steps (tokens and secrets redacted).",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Office 365 and Outlook.com mail over IMAP with OAuth 2.0.

    Without a command: the mail browser (`tui`) in a terminal, this help otherwise.
    """
    handler = logging.StreamHandler(sys.stderr)
    root = logging.getLogger("o365imap")
    if debug:
        handler.setFormatter(_TerminalFormatter("%(name)s %(message)s"))
        root.setLevel(logging.DEBUG)
    else:
        # Warnings (a damaged token cache, a resumed download, a server's ALERT) read like the
        # errors: one line on stderr after the program's name.
        handler.setFormatter(_TerminalFormatter("o365imap: %(message)s"))
        handler.setLevel(logging.WARNING)
    root.addHandler(handler)
    if ctx.invoked_subcommand is None:
        # A person at a terminal gets the mail browser; a script or a pipe gets the help, as
        # before, so nothing that parses it breaks.
        tui = cli.get_command(ctx, "tui")
        if tui is not None and sys.stdin.isatty() and sys.stdout.isatty():
            # Parsed from an empty command line, not ctx.invoke: that skips the options'
            # environment variables (O365IMAP_PROFILE and the rest).
            with tui.make_context("tui", [], parent=ctx) as sub:
                tui.invoke(sub)
        else:
            click.echo(ctx.get_help())
