"""The ``o365imap`` command: a thin front end over the public API.

A contract for scripts: ``--json`` prints JSON Lines (one object per item), and the exit code
says what happened:

    0  success
    1  bad usage or input (unknown option, bad value, no such folder)
    2  authentication refused (token rejected, mailbox not reachable with this token)
    3  network or server failure (cannot connect, timeout, connection lost, NO/BAD, throttled),
       or an internal error

An error is one sentence on stderr, followed by the server's own words when it said any.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console

from o365imap.cli import output
from o365imap.client import ImapClient
from o365imap.errors import (
    AuthError,
    FolderNotFound,
    NotConnectedAfterAuth,
    O365ImapError,
    ServerReply,
    UsageError,
)
from o365imap.transport import Security

__all__ = ["EXIT_AUTH", "EXIT_OK", "EXIT_SERVER", "EXIT_USAGE", "cli", "main"]

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_AUTH = 2
EXIT_SERVER = 3

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Connection:
    host: str
    port: int | None
    security: str
    ca_file: str | None
    user: str | None
    access_token: str | None = field(repr=False)
    mechanism: str
    timeout: float


def connection_options(func: F) -> F:
    """The options every mailbox command takes."""
    options = [
        click.option(
            "--host",
            default="outlook.office365.com",
            show_default=True,
            envvar="O365IMAP_HOST",
            help="IMAP server.",
        ),
        click.option(
            "--port", type=click.IntRange(1, 65535), help="Port [default: 993 for tls, else 143]."
        ),
        click.option(
            "--security",
            type=click.Choice([s.value for s in Security]),
            default="tls",
            show_default=True,
            help="tls (implicit, port 993), starttls, or plain (unencrypted, loopback only).",
        ),
        click.option(
            "--ca-file",
            type=click.Path(exists=True, dir_okay=False),
            envvar="O365IMAP_CA_FILE",
            help="Trust this CA (PEM) for every TLS connection the command makes.",
        ),
        click.option("--user", envvar="O365IMAP_USER", help="Mailbox address to sign in as."),
        click.option(
            "--access-token",
            envvar="O365IMAP_ACCESS_TOKEN",
            show_envvar=True,
            help="OAuth 2.0 access token (prefer the environment variable: argv is visible "
            "to other users of this machine).",
        ),
        click.option(
            "--mechanism",
            type=click.Choice(["xoauth2", "oauthbearer"]),
            default="xoauth2",
            show_default=True,
            help="SASL mechanism for the token.",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0.1),
            default=30.0,
            show_default=True,
            help="Seconds to wait for the server before giving up.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _connection(kwargs: dict[str, Any]) -> Connection:
    return Connection(
        host=kwargs.pop("host"),
        port=kwargs.pop("port"),
        security=kwargs.pop("security"),
        ca_file=kwargs.pop("ca_file"),
        user=kwargs.pop("user"),
        access_token=kwargs.pop("access_token"),
        mechanism=kwargs.pop("mechanism"),
        timeout=kwargs.pop("timeout"),
    )


@contextmanager
def open_client(conn: Connection) -> Iterator[ImapClient]:
    """A connected, signed-in client; always closed afterwards."""
    if not conn.access_token:
        raise UsageError("no access token: pass --access-token or set O365IMAP_ACCESS_TOKEN")
    if not conn.user:
        raise UsageError("no mailbox user: pass --user or set O365IMAP_USER")
    client = ImapClient(
        conn.host,
        conn.port,
        security=conn.security,
        ca_file=conn.ca_file,
        timeout=conn.timeout,
    )
    try:
        client.connect()
        client.authenticate_oauth(conn.user, conn.access_token, conn.mechanism)
        yield client
    except BaseException:
        client.close()
        raise
    else:
        client.logout()


def _console() -> Console:
    return Console(soft_wrap=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="o365imap")
@click.option("--debug", is_flag=True, help="Print the IMAP conversation (secrets redacted).")
def cli(debug: bool) -> None:
    """Office 365 and Outlook.com mail over IMAP with OAuth 2.0."""
    if debug:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
        root = logging.getLogger("o365imap")
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)


@cli.command()
@connection_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines.")
def capabilities(as_json: bool, **kwargs: Any) -> None:
    """What the server supports (after signing in)."""
    with open_client(_connection(kwargs)) as client:
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
    with open_client(_connection(kwargs)) as client:
        found = output.sorted_folders(client.list_folders())
    if as_json:
        for folder in found:
            output.emit_json(output.folder_json(folder))
    else:
        output.print_folders(_console(), found)


@cli.command()
@connection_options
@click.argument("folder")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(folder: str, as_json: bool, **kwargs: Any) -> None:
    """Counts of FOLDER (read-only: uses EXAMINE, changes nothing)."""
    with open_client(_connection(kwargs)) as client:
        details = client.examine(folder)
    if as_json:
        output.emit_json(output.folder_info_json(details))
    else:
        output.print_folder_info(_console(), details)


@cli.command(name="list")
@connection_options
@click.argument("folder", default="INBOX")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True,
              help="Page number; page 1 holds the newest messages.")  # fmt: skip
@click.option("--page-size", type=click.IntRange(min=1, max=10000), default=50,
              show_default=True, help="Messages per page.")  # fmt: skip
@click.option(
    "--all",
    "list_all",
    is_flag=True,
    help="Every message, from one FETCH 1:* (JSON: sequence order, streamed; the table "
    "needs every row before it can print, newest first).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines, one message per line.")
def list_(
    folder: str, page: int, page_size: int, list_all: bool, as_json: bool, **kwargs: Any
) -> None:
    """List the messages of FOLDER (default INBOX), newest first, one bulk FETCH per page."""
    with open_client(_connection(kwargs)) as client:
        details = client.examine(folder)
        if list_all:
            messages = client.iter_messages()
            if as_json:
                write = sys.stdout.write
                for message in messages:
                    write(output.message_json_line(message) + "\n")
                return
            rows = sorted(messages, key=lambda m: m.seq, reverse=True)
            title = f"{details.name}: all {len(rows)} messages"
        else:
            rows = client.list_page(page, page_size)
            if as_json:
                for message in rows:
                    sys.stdout.write(output.message_json_line(message) + "\n")
                return
            pages = max(1, -(-details.exists // page_size))
            title = f"{details.name}: page {page} of {pages} ({details.exists} messages)"
    output.print_messages(_console(), rows, title)


# ---------------------------------------------------------------- errors and exit codes

_AUTH_HINTS = (
    "Likely causes: the token has the wrong scope or audience "
    "(it needs https://outlook.office.com/IMAP.AccessAsUser.All), it has expired, "
    "it was issued for another account than --user, or IMAP is disabled for this mailbox."
)
_NOT_CONNECTED_HINTS = (
    "Likely causes: the token belongs to another account than --user; for app-only access, "
    "the Exchange service principal or the mailbox permission is missing; or the mailbox has "
    "no licence."
)


def exit_code_for(exc: O365ImapError) -> int:
    if isinstance(exc, UsageError | FolderNotFound):
        return EXIT_USAGE
    if isinstance(exc, AuthError):
        return EXIT_AUTH
    return EXIT_SERVER


def _fail(exc: O365ImapError) -> NoReturn:
    message = str(exc).rstrip(".")
    lines = [f"o365imap: {message}."]
    if isinstance(exc, ServerReply) and (exc.text or exc.code):
        lines.append(f"  server said: {exc.server_words}")
    elif getattr(exc, "bye", None):
        lines.append(f"  server said: BYE {exc.bye}")  # type: ignore[attr-defined]
    if isinstance(exc, NotConnectedAfterAuth):
        lines.append(f"  {_NOT_CONNECTED_HINTS}")
    elif isinstance(exc, AuthError):
        lines.append(f"  {_AUTH_HINTS}")
    click.echo("\n".join(lines), err=True)
    sys.exit(exit_code_for(exc))


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: maps every failure to a sentence and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        # Not cli.main(): it turns a closed output pipe into exit code 1 before we can see it.
        with cli.make_context("o365imap", list(args)) as ctx:
            result = cli.invoke(ctx)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "", err=False)
        sys.exit(EXIT_OK)
    except click.UsageError as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except click.Abort:
        click.echo("o365imap: aborted.", err=True)
        sys.exit(EXIT_USAGE)
    except O365ImapError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        click.echo("o365imap: interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        # The reader went away (`o365imap list --json | head`): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_OK)
    except Exception as exc:  # a bug of ours: still one sentence, the traceback only on request
        if logging.getLogger("o365imap").isEnabledFor(logging.DEBUG):
            raise
        click.echo(
            f"o365imap: internal error ({type(exc).__name__}); run with --debug for details "
            "and please report it.",
            err=True,
        )
        sys.exit(EXIT_SERVER)
    if isinstance(result, int):
        sys.exit(result)
    sys.exit(EXIT_OK)
