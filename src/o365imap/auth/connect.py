"""A client signed in with a saved profile: from a script, what every command does.

``o365imap login`` saves the profile (the app, the tenant, the mailbox, the server) and the
tokens; :func:`open_profile` joins them to an :class:`~o365imap.ImapClient`, with the token
refreshed whenever the client has to sign in again (a dropped connection, Office 365's
``AccessTokenExpired``).
"""

from __future__ import annotations

import os

from o365imap.auth.cache import TokenStore
from o365imap.auth.flows import Authenticator
from o365imap.auth.profiles import ProfileStore
from o365imap.client import ImapClient
from o365imap.errors import UsageError

__all__ = ["open_profile"]


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
    if secret is None and (profile.confidential or profile.flow == "client-credentials"):
        secret = os.environ.get("O365IMAP_CLIENT_SECRET")
    auth = Authenticator(profile, store=tokens, secret=secret, timeout=timeout)
    token = auth.access_token().access_token
    client = ImapClient(
        profile.host,
        profile.port,
        security=profile.security,
        ca_file=profile.ca_file,
        timeout=timeout,
    )
    try:
        client.connect()
        client.authenticate_oauth(
            profile.user,
            token,
            refresh=lambda: auth.access_token(force_refresh=True).access_token,
        )
    except BaseException:
        client.close()
        raise
    return client
