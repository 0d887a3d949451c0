"""The identity platform's HTTP side: the requests session msal is given, and the one sentence
for a request it could not make.

msal passes no timeout and trusts the environment's CA bundle variables; the session here
bounds every request and trusts the profile's CA file when it names one.
"""

from __future__ import annotations

import re
from typing import Any

import requests

from o365imap.errors import ConnectError, ReadTimeout, TransportError

__all__ = ["make_session", "unreachable"]


def make_session(ca_file: str | None, timeout: float) -> requests.Session:
    session = TimeoutSession(timeout)
    if ca_file:
        session.verify = ca_file
        # REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE would override verify= otherwise.
        session.trust_env = False
    return session


class TimeoutSession(requests.Session):
    """requests has no session-wide timeout; msal passes none: never wait forever."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(*args, **kwargs)


def unreachable(url: str, timeout: float, exc: requests.RequestException) -> TransportError:
    """One sentence for a request msal could not make (the cause stays chained)."""
    where = f"cannot reach the identity platform at {url}"
    if isinstance(exc, requests.exceptions.SSLError):
        return ConnectError(
            f"{where}: its TLS certificate is not trusted (trust its CA: --ca-file)"
        )
    if isinstance(exc, requests.Timeout):
        return ReadTimeout(f"{where}: no answer within {timeout:g} s")
    if isinstance(exc, requests.ConnectionError):
        # "[Errno 111] Connection refused" deep in urllib3's message: the part a person needs.
        errno_text = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
        return ConnectError(
            f"{where}: {errno_text.group(1) if errno_text else 'connection failed'}"
        )
    return TransportError(f"{where}: {type(exc).__name__}")
