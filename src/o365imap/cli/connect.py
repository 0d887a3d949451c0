"""The connection options every mailbox command takes, and what they resolve to.

Precedence, highest first: an option on the command line, its environment variable, the
profile (``--profile`` or the default one), the built-in default. With ``--access-token`` (or
O365IMAP_ACCESS_TOKEN) no profile is needed at all: that is the scripts' way. The options
become a :class:`~o365imap.auth.ConnectionSettings`; connecting and signing in are the
library's (o365imap.auth.connect), the same for scripts and the mail browser.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

import click

from o365imap import FolderNotFound, Security, UsageError
from o365imap.auth import DEFAULT_HOST, Profile, ProfileStore
from o365imap.cli.folder_hint import with_folder_hint
from o365imap.cli.params import Seconds, WholeNumber
from o365imap.limits import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from o365imap import ImapClient
    from o365imap.auth import ConnectionSettings

__all__ = [
    "DEFAULT_HOST",
    "client_secret",
    "connection_options",
    "many_mailboxes_options",
    "open_client",
    "resolve",
]

F = TypeVar("F", bound=Callable[..., Any])


def connection_options(func: F) -> F:
    """The options every mailbox command takes."""
    return _with_options(func, many_users=False)


def many_mailboxes_options(func: F) -> F:
    """The same, with ``--user`` repeatable (app-only access to several mailboxes)."""
    return _with_options(func, many_users=True)


def _with_options(func: F, *, many_users: bool) -> F:
    user_help = (
        "Mailbox address to sign in as (repeat it for several mailboxes with app-only access)."
        if many_users
        else "Mailbox address to sign in as."
    )
    options = [
        click.option(
            "--profile",
            envvar="O365IMAP_PROFILE",
            help="Sign in with this saved profile [default: the default profile].",
        ),
        click.option(
            "--host", envvar="O365IMAP_HOST", help=f"IMAP server [default: {DEFAULT_HOST}]."
        ),
        click.option(
            "--port", type=WholeNumber(1, 65535), help="Port [default: 993 for tls, else 143]."
        ),
        click.option(
            "--security",
            type=click.Choice([s.value for s in Security]),
            help="tls (implicit, port 993; the default), starttls, or plain (unencrypted, "
            "loopback only).",
        ),
        click.option(
            "--ca-file",
            type=click.Path(exists=True, dir_okay=False),
            envvar="O365IMAP_CA_FILE",
            help="Trust this CA (PEM) for every TLS connection the command makes.",
        ),
        click.option("--user", envvar="O365IMAP_USER", multiple=many_users, help=user_help),
        click.option(
            "--access-token",
            envvar="O365IMAP_ACCESS_TOKEN",
            show_envvar=True,
            help="OAuth 2.0 access token, instead of a profile's (prefer the environment "
            "variable: argv is visible to other users of this machine).",
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
            type=Seconds(0.1),
            default=DEFAULT_TIMEOUT,
            show_default=True,
            help="Seconds to wait for the server before giving up.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def resolve(kwargs: dict[str, Any]) -> ConnectionSettings:
    """Pop the connection options from ``kwargs`` and fill the gaps from the profile.

    A profile's confidential app gets its client secret here (the environment, else a hidden
    prompt): before the command starts work, and before the mail browser takes the terminal.
    """
    # Imported here: it brings the IMAP client, which `o365imap token` does without.
    from o365imap.auth import ConnectionSettings  # noqa: PLC0415

    profile_name = kwargs.pop("profile")
    token = kwargs.pop("access_token")
    if token is not None and not token.strip():
        # An empty --access-token is a mistake (an unset shell variable), not "use a profile".
        raise UsageError(
            "--access-token is empty: give a token, or leave the option out to use a profile"
        )
    given = {key: kwargs.pop(key) for key in ("host", "port", "security", "ca_file", "user")}
    common = {"mechanism": kwargs.pop("mechanism"), "timeout": kwargs.pop("timeout")}
    if token is None or profile_name is not None:
        settings = ConnectionSettings.from_profile(
            ProfileStore().get(profile_name), **given, **common
        )
    else:  # no profile: the built-in defaults fill the gaps
        settings = ConnectionSettings(**{k: v for k, v in given.items() if v}, **common)
    if not settings.user:
        raise UsageError("no mailbox user: pass --user or set O365IMAP_USER")
    if token is not None:  # the token wins; a named profile gave only its server and user
        return replace(settings, profile=None, access_token=token)
    assert settings.profile is not None
    return replace(settings, secret=client_secret(settings.profile))


def client_secret(profile: Profile, *, prompt: bool = True) -> str | None:
    """The client secret of a confidential registration: environment, else a hidden prompt."""
    if not profile.needs_secret:
        return None
    secret = os.environ.get("O365IMAP_CLIENT_SECRET")
    if secret:
        return secret
    if prompt and sys.stdin.isatty():
        value: str = click.prompt(
            f"Client secret of app {profile.client_id}", hide_input=True, err=True
        )
        return value
    raise UsageError(
        "this app registration needs its client secret: set O365IMAP_CLIENT_SECRET "
        "(it is never read from the command line nor stored)"
    )


@contextmanager
def open_client(conn: ConnectionSettings) -> Iterator[ImapClient]:
    """A connected, signed-in client (``ConnectionSettings.open``); always closed afterwards."""
    client = conn.open()
    try:
        yield client
    except FolderNotFound as exc:
        try:
            hinted = with_folder_hint(exc, client)  # a LIST on this error path only
        finally:
            client.close()
        if hinted is exc:
            raise
        raise hinted from None
    except BaseException:
        client.close()
        raise
    else:
        client.logout()
