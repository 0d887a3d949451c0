"""SASL initial responses for OAuth 2.0 bearer tokens.

XOAUTH2 is Google's and Microsoft's mechanism (the one Office 365 advertises); OAUTHBEARER is
its standard successor (RFC 7628). Both carry the user and the bearer token; the results are
secrets and must never be logged.
"""

from __future__ import annotations

import base64
import json

__all__ = ["decode_error_challenge", "oauthbearer", "oauthbearer_text", "xoauth2", "xoauth2_text"]


def xoauth2_text(user: str, token: str) -> str:
    """``"user=" user ^A "auth=Bearer " token ^A ^A``: what libraries that encode the SASL
    response themselves (smtplib, imaplib) take."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def xoauth2(user: str, token: str) -> bytes:
    """``base64(xoauth2_text(user, token))``: the response as it goes on the wire."""
    return base64.b64encode(xoauth2_text(user, token).encode())


def oauthbearer_text(
    user: str, token: str, host: str | None = None, port: int | None = None
) -> str:
    """RFC 7628 section 3.1 initial client response (gs2 header with ``a=`` authzid)."""
    safe_user = user.replace("=", "=3D").replace(",", "=2C")
    fields = [f"n,a={safe_user},"]
    if host:
        fields.append(f"host={host}")
    if port:
        fields.append(f"port={port}")
    fields.append(f"auth=Bearer {token}")
    return "\x01".join(fields) + "\x01\x01"


def oauthbearer(user: str, token: str, host: str | None = None, port: int | None = None) -> bytes:
    """``base64(oauthbearer_text(...))``: the response as it goes on the wire."""
    return base64.b64encode(oauthbearer_text(user, token, host, port).encode())


def decode_error_challenge(payload: bytes) -> dict[str, str] | None:
    """The JSON a server sends as a ``+`` challenge when it refuses a token, if it is one.

    Gmail and Dovecot send ``{"status":"401","schemes":"bearer","scope":"..."}``; the client must
    answer with an empty line and then gets the tagged NO.
    """
    try:
        data = json.loads(base64.b64decode(payload, validate=True))
    except (ValueError, TypeError):
        return None
    if not isinstance(data, dict):
        return None
    return {str(k): str(v) for k, v in data.items()}
