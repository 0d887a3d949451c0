"""The ``o365imap`` command: a thin front end over the public API.

A contract for scripts: ``--json`` prints JSON Lines (one object per item), and the exit code
says what happened:

    0  success
    1  bad usage or input (unknown option, bad value, no such folder)
    2  authentication refused (token rejected, mailbox not reachable with this token)
    3  network or server failure (cannot connect, timeout, connection lost, NO/BAD, throttled),
       or an internal error
    4  a file or the output could not be written (disk full, no permission, folder gone)
  130  interrupted (Ctrl-C)
  143  stopped by SIGTERM (kill, timeout, systemd); 129 by SIGHUP: 128 + the signal's number

An error is one sentence on stderr, followed by the server's own words when it said any.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
from typing import TYPE_CHECKING, NoReturn

import click

from o365imap import (
    AuthError,
    FolderNotFound,
    NotConnectedAfterAuth,
    O365ImapError,
    SignInFailed,
    UsageError,
)
from o365imap._terminal_text import for_terminal
from o365imap.cli.app import cli  # the commands' modules load when a command runs (app.py)
from o365imap.cli.signals import Stopped, stop_signals
from o365imap.errors import ServerReply, StorageError

if TYPE_CHECKING:
    from o365imap.auth import ConnectionSettings as Connection
    from o365imap.cli.connect import open_client

__all__ = [
    "EXIT_AUTH",
    "EXIT_OK",
    "EXIT_SERVER",
    "EXIT_STORAGE",
    "EXIT_USAGE",
    "Connection",
    "cli",
    "main",
    "open_client",
]


def __getattr__(name: str) -> object:
    # Names this package has always exported, loaded on first use: they bring the IMAP client.
    if name == "Connection":  # what the connection options resolve to
        from o365imap.auth import ConnectionSettings  # noqa: PLC0415

        return ConnectionSettings
    if name == "open_client":
        from o365imap.cli.connect import open_client  # noqa: PLC0415

        return open_client
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


EXIT_OK = 0
EXIT_USAGE = 1
EXIT_AUTH = 2
EXIT_SERVER = 3
EXIT_STORAGE = 4

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
    if isinstance(exc, StorageError):
        return EXIT_STORAGE
    return EXIT_SERVER


def _fail(exc: O365ImapError) -> NoReturn:
    # Messages quote folder names and the server's words: strangers' text, made safe to print.
    message = for_terminal(str(exc), one_line=True).rstrip(".")
    lines = [f"o365imap: {message}."]
    if isinstance(exc, ServerReply) and (exc.text or exc.code):
        lines.append(f"  server said: {for_terminal(exc.server_words, one_line=True)}")
    elif getattr(exc, "bye", None):
        bye = for_terminal(str(exc.bye), one_line=True)  # type: ignore[attr-defined]
        lines.append(f"  server said: BYE {bye}")
    if isinstance(exc, NotConnectedAfterAuth):
        lines.append(f"  {_NOT_CONNECTED_HINTS}")
    elif isinstance(exc, SignInFailed):
        if exc.hint:
            lines.append(f"  {exc.hint}")
    elif isinstance(exc, AuthError) and isinstance(exc, ServerReply) and not exc.from_smtp:
        # (an SMTP refusal carries its own sentence: these hints are IMAP's)
        lines.append(f"  {_AUTH_HINTS}")
    click.echo("\n".join(lines), err=True)
    sys.exit(exit_code_for(exc))


_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}


def _internal_error(exc: Exception) -> NoReturn:
    if logging.getLogger("o365imap").isEnabledFor(logging.DEBUG):
        raise exc
    click.echo(
        f"o365imap: internal error ({type(exc).__name__}); run with --debug for details "
        "and please report it.",
        err=True,
    )
    sys.exit(EXIT_SERVER)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush fails no more."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _click_failure(exc: click.ClickException) -> NoReturn:
    """One sentence, as for every other error, rather than click's usage text and "Error:"
    (the values quoted are the user's own, but may carry what a terminal obeys)."""
    message = for_terminal(exc.format_message(), one_line=True)
    if message[:2].istitle():  # "Invalid value ...", "No such option ...": mid-sentence here
        message = message[0].lower() + message[1:]
    if not message.rstrip(")").endswith((".", "?", "!")):  # "(Did you mean one of: ...?)"
        message += "."
    click.echo(f"o365imap: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _stopped(exc: Stopped) -> NoReturn:
    click.echo(f"o365imap: {exc}.", err=True)
    sys.exit(exc.exit_code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: maps every failure to a sentence and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    with stop_signals() as received:
        try:
            _run(args)
        except Stopped as exc:  # arrived while a failure was being reported
            _stopped(exc)
        except SystemExit as exc:
            if received and exc.code != 128 + received[0]:
                # The signal's exception became another failure on its way out (a sign-in
                # says it was cancelled): the exit code still tells what ended the command.
                sys.exit(128 + received[0])
            raise


def _run(args: list[str]) -> NoReturn:
    try:
        # Not cli.main(): it turns a closed output pipe into exit code 1 before we can see it.
        with cli.make_context("o365imap", list(args)) as ctx:
            result = cli.invoke(ctx)
        sys.stdout.flush()  # here, where a full disk can still be reported, not at exit
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "", err=False)
        sys.exit(EXIT_OK)
    except click.ClickException as exc:  # a usage error, a bad value: click's own words
        _click_failure(exc)
    except click.Abort:
        click.echo("o365imap: aborted.", err=True)
        sys.exit(EXIT_USAGE)
    except O365ImapError as exc:
        _fail(exc)
    except Stopped as exc:
        _stopped(exc)
    except KeyboardInterrupt:
        click.echo("o365imap: interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        # The reader went away (`o365imap list --json | head`): not an error of ours.
        _quiet_stdout()
        sys.exit(EXIT_OK)
    except OSError as exc:
        # The library turns its own I/O failures into O365ImapError: what is left is writing
        # our output (`list --all --json > archive.jsonl` on a full disk).
        if exc.errno not in _OUTPUT_ERRNOS:
            _internal_error(exc)
        _quiet_stdout()
        click.echo(f"o365imap: cannot write the output: {exc.strerror}.", err=True)
        sys.exit(EXIT_STORAGE)
    except Exception as exc:  # a bug of ours: still one sentence, the traceback only on request
        _internal_error(exc)
    if isinstance(result, int):
        sys.exit(result)
    sys.exit(EXIT_OK)
