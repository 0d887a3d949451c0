"""A signed-in client: what every command does, for scripts too.

``o365imap login`` saves the profile (the app, the tenant, the mailbox, the server) and the
tokens; :func:`open_profile` joins them to an :class:`~o365imap.ImapClient`, with the token
refreshed whenever the client has to sign in again (a dropped connection, Office 365's
``AccessTokenExpired``). :func:`open_signed_in` is the step they share with the command line.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from o365imap.auth.cache import TokenStore
from o365imap.auth.flows import Authenticator
from o365imap.auth.profiles import ProfileStore
from o365imap.client import ImapClient
from o365imap.errors import UsageError
from o365imap.transport import Security

__all__ = ["open_profile", "open_signed_in"]


def open_signed_in(
    host: str,
    port: int | None,
    *,
    user: str,
    token: str,
    refresh: Callable[[], str] | None = None,
    security: Security | str = Security.TLS,
    ca_file: str | None = None,
    timeout: float = 60.0,
    mechanism: str = "xoauth2",
) -> ImapClient:
    """Connect and sign in with ``token`` (``refresh`` gives a new one when the client must
    sign in again); nothing is left open when either step fails."""
    client = ImapClient(host, port, security=security, ca_file=ca_file, timeout=timeout)
    try:
        client.connect()
        client.authenticate_oauth(user, token, mechanism, refresh=refresh)
    except BaseException:
        client.close()
        raise
    return client


def open_profile(
    name: str | None = None,
    *,
    profiles: ProfileStore | None = None,
    tokens: TokenStore | None = None,
    secret: str | None = None,
    timeout: float = 60.0,
) -> ImapClient:
    """A connected, signed-in client for the profile ``name`` (default: the default profile).

    Use it in a ``with`` block, which logs out at the end. ``secret`` is a confidential app's
    client secret (default: ``O365IMAP_CLIENT_SECRET``). Raises InteractionRequired when only a
    new ``o365imap login`` can help, UsageError when there is no such profile.
    """
    profile = (profiles or ProfileStore()).get(name)
    if not profile.user:
        raise UsageError(f"profile {profile.name!r} names no mailbox: set its user")
    if secret is None and profile.needs_secret:
        secret = os.environ.get("O365IMAP_CLIENT_SECRET")
    auth = Authenticator(profile, store=tokens, secret=secret, timeout=timeout)
    return open_signed_in(
        profile.host,
        profile.port,
        user=profile.user,
        # First: a sign-in problem is said before any connection is made.
        token=auth.access_token().access_token,
        refresh=lambda: auth.access_token(force_refresh=True).access_token,
        security=profile.security,
        ca_file=profile.ca_file,
        timeout=timeout,
    )
