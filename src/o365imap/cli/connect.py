"""Turning command-line options (and the profile) into a connected, signed-in client.

Precedence, highest first: an option on the command line, its environment variable, the
profile (``--profile`` or the default one), the built-in default. With ``--access-token`` (or
O365IMAP_ACCESS_TOKEN) no profile is needed at all: that is the scripts' way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import click

from o365imap import ImapClient, Security, UsageError
from o365imap.auth import Authenticator, Profile, ProfileStore, open_signed_in
from o365imap.cli.params import Seconds, WholeNumber

__all__ = [
    "Connection",
    "client_secret",
    "connect_client",
    "connection_options",
    "open_client",
    "resolve",
]

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_HOST = "outlook.office365.com"


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
    profile: Profile | None = None


def connection_options(func: F) -> F:
    """The options every mailbox command takes."""
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
        click.option("--user", envvar="O365IMAP_USER", help="Mailbox address to sign in as."),
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
            default=30.0,
            show_default=True,
            help="Seconds to wait for the server before giving up.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def resolve(kwargs: dict[str, Any]) -> Connection:
    """Pop the connection options from ``kwargs`` and fill the gaps from the profile."""
    profile_name = kwargs.pop("profile")
    token = kwargs.pop("access_token")
    if token is not None and not token.strip():
        # An empty --access-token is a mistake (an unset shell variable), not "use a profile".
        raise UsageError(
            "--access-token is empty: give a token, or leave the option out to use a profile"
        )
    profile: Profile | None = None
    if token is None or profile_name is not None:
        profile = ProfileStore().get(profile_name)
    host = kwargs.pop("host") or (profile.host if profile else None) or DEFAULT_HOST
    port = kwargs.pop("port") or (profile.port if profile else None)
    security = kwargs.pop("security") or (profile.security if profile else None) or "tls"
    ca_file = kwargs.pop("ca_file") or (profile.ca_file if profile else None)
    user = kwargs.pop("user") or (profile.user if profile else None)
    return Connection(
        host=host,
        port=port,
        security=security,
        ca_file=ca_file,
        user=user,
        access_token=token,
        mechanism=kwargs.pop("mechanism"),
        timeout=kwargs.pop("timeout"),
        profile=profile if token is None else None,
    )


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


def authenticator(conn: Connection) -> Authenticator:
    assert conn.profile is not None
    profile = conn.profile
    # conn.ca_file is already --ca-file (or its variable) before the profile's: it wins for
    # the identity platform too, as for the IMAP server.
    if conn.ca_file:
        profile = replace(profile, ca_file=conn.ca_file)
    return Authenticator(profile, secret=client_secret(profile), timeout=conn.timeout)


def connect_client(conn: Connection) -> ImapClient:
    """A connected, signed-in client; the caller logs out (``open_client`` does it for you)."""
    refresh: Callable[[], str] | None = None
    if conn.access_token:
        token = conn.access_token
    else:
        auth = authenticator(conn)
        token = auth.access_token().access_token

        def refresh() -> str:
            return auth.access_token(force_refresh=True).access_token

    if not conn.user:
        raise UsageError("no mailbox user: pass --user or set O365IMAP_USER")
    return open_signed_in(
        conn.host,
        conn.port,
        user=conn.user,
        token=token,
        refresh=refresh,
        security=conn.security,
        ca_file=conn.ca_file,
        timeout=conn.timeout,
        mechanism=conn.mechanism,
    )


@contextmanager
def open_client(conn: Connection) -> Iterator[ImapClient]:
    """A connected, signed-in client; always closed afterwards."""
    client = connect_client(conn)
    try:
        yield client
    except BaseException:
        client.close()
        raise
    else:
        client.logout()
