"""The click group every command hangs on, and the global options.

A command's module is imported when that command runs (or when the help lists them all), not
at start-up: each command pays only for what it uses. `o365imap token` is a mail client's
password command, run on every connection, and `--version` needs no command at all.
"""

from __future__ import annotations

import logging
import sys

import click

from o365imap import __version__
from o365imap._terminal_text import for_terminal

__all__ = ["cli"]

# Each command and the module (in o365imap.cli) whose @cli.command() defines it.
# tests/test_architecture.py checks this table against the modules' own commands.
COMMANDS = {
    "append": "append_cmd",
    "capabilities": "mailbox",
    "copy": "changes_cmd",
    "delete": "changes_cmd",
    "doctor": "signin",
    "export": "export_cmd",
    "flag": "changes_cmd",
    "folders": "mailbox",
    "import": "import_cmd",
    "info": "mailbox",
    "list": "mailbox",
    "login": "signin",
    "logout": "signin",
    "mkdir": "folder_cmd",
    "move": "changes_cmd",
    "rename": "folder_cmd",
    "rmdir": "folder_cmd",
    "sandbox": "sandbox_cmd",
    "save": "messages_cmd",
    "search": "search_cmd",
    "send": "send_cmd",
    "show": "messages_cmd",
    "token": "signin",
    "tui": "tui_cmd",
    "whoami": "signin",
}


class _LazyGroup(click.Group):
    """A group whose commands register themselves when their module is first imported."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            module = COMMANDS.get(cmd_name)
            # A name of none of them (a typo): all of them, for click's "Did you mean".
            for name in [module] if module else sorted(set(COMMANDS.values())):
                # (__import__: the import `python -X importtime` reports)
                __import__(f"o365imap.cli.{name}")
        return super().get_command(ctx, cmd_name)


class _TerminalFormatter(logging.Formatter):
    """Log lines quote servers and mail: they reach the terminal without control characters."""

    def format(self, record: logging.LogRecord) -> str:
        return for_terminal(super().format(record))


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    invoke_without_command=True,
)
# The package's own version string: the installed metadata says the same (pyproject.toml), and
# reading it would import importlib.metadata for one line.
@click.version_option(__version__, package_name="o365imap")
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
