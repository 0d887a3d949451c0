"""Signing in: profiles, the token cache, and the OAuth 2.0 flows (the only user of msal).

The IMAP client never imports this package; front ends join the two by handing the client a
token provider (``Authenticator.access_token``), as :func:`open_profile` does for scripts and
:class:`ConnectionSettings` for the front ends.
"""

from o365imap.auth.aadsts import HINTS, aadsts_codes, hint_for
from o365imap.auth.cache import TokenStore
from o365imap.auth.connect import (
    ConnectionSettings,
    ProfileOverrides,
    open_profile,
    open_token,
)
from o365imap.auth.flows import Authenticator, Token
from o365imap.auth.loopback import LoopbackListener
from o365imap.auth.profiles import (
    APP_ONLY_SCOPES,
    DEFAULT_HOST,
    DEFAULT_SCOPES,
    Profile,
    ProfileStore,
    home_dir,
)
from o365imap.auth.tokens import claims, expiry

__all__ = [
    "APP_ONLY_SCOPES",
    "DEFAULT_HOST",
    "DEFAULT_SCOPES",
    "HINTS",
    "Authenticator",
    "ConnectionSettings",
    "LoopbackListener",
    "Profile",
    "ProfileOverrides",
    "ProfileStore",
    "Token",
    "TokenStore",
    "aadsts_codes",
    "claims",
    "expiry",
    "hint_for",
    "home_dir",
    "open_profile",
    "open_token",
]
