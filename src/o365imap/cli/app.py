"""The click group every command hangs on, and the global options."""

from __future__ import annotations

import logging
import sys

import click

__all__ = ["cli"]


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
    if debug:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
        root = logging.getLogger("o365imap")
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
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
