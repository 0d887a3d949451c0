"""Signing in: profiles, the token cache, and the OAuth 2.0 flows (the only user of msal).

The IMAP client never imports this package; front ends join the two by handing the client a
token provider (``Authenticator.access_token``), as ``o365imap.open_profile`` does for scripts and
:class:`ConnectionSettings` for the front ends.
"""

import warnings
from typing import TYPE_CHECKING

from o365imap.auth.aadsts import HINTS, aadsts_codes, hint_for
from o365imap.auth.profiles import (
    APP_ONLY_SCOPES,
    DEFAULT_HOST,
    DEFAULT_SCOPES,
    Profile,
    ProfileStore,
    home_dir,
)
from o365imap.auth.tokens import claims, expiry

if TYPE_CHECKING:
    from o365imap.auth.cache import TokenStore
    from o365imap.auth.connect import ConnectionSettings, ProfileOverrides
    from o365imap.auth.flows import Authenticator, Token
    from o365imap.auth.loopback import LoopbackListener

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
]


# Loaded on first use (PEP 562): the token cache, the flows (msal, requests) and the signed-in
# client come only with the commands that sign in; the profiles and the claims load here.
_LAZY = {
    "TokenStore": "o365imap.auth.cache",
    "ConnectionSettings": "o365imap.auth.connect",
    "ProfileOverrides": "o365imap.auth.connect",
    "Authenticator": "o365imap.auth.flows",
    "Token": "o365imap.auth.flows",
    "LoopbackListener": "o365imap.auth.loopback",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is not None:
        # (__import__: the import `python -X importtime` reports, as in o365imap/__init__.py)
        value = getattr(__import__(module, fromlist=[name]), name)
        globals()[name] = value
        return value
    # The README of 0.1 published ``from o365imap.auth import open_profile``: it keeps working
    # for one release, with a warning.
    if name == "open_profile":
        warnings.warn(
            "o365imap.auth.open_profile is now o365imap.open_profile",
            DeprecationWarning,
            stacklevel=2,
        )
        from o365imap.auth.connect import open_profile  # noqa: PLC0415 - only when asked

        return open_profile
    # 0.1's __all__ had open_signed_in too: the same, with a token of the caller's own.
    if name == "open_signed_in":
        warnings.warn(
            "o365imap.auth.open_signed_in(host, port, user=..., token=...) is now "
            "o365imap.open_token(user, token, host=..., port=...)",
            DeprecationWarning,
            stacklevel=2,
        )
        from o365imap.auth.connect import _open_signed_in  # noqa: PLC0415 - only when asked

        return _open_signed_in
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
