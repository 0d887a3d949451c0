"""Reading (not verifying) a JWT access token: what `whoami` and `doctor` show.

No signature check: the token came from our own cache, and the point is to explain it to a
person (audience, scopes or roles, account, expiry), not to trust it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["claims", "expiry"]


def claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, or {} when it is not one (Microsoft's consumer tokens are opaque)."""
    # Only whoami and doctor read claims: PyJWT (and the cryptography it loads) is not paid for
    # by every command's start-up (about 10 MB and 40 ms).
    import jwt  # noqa: PLC0415

    try:
        # Nothing is checked (signature, expiry, audience): an expired token is explained
        # like any other.
        data = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:  # not three parts, not base64url, not a JSON object
        return {}
    return data if isinstance(data, dict) else {}


def expiry(token_claims: dict[str, Any]) -> datetime | None:
    exp = token_claims.get("exp")
    if isinstance(exp, int | float):
        return datetime.fromtimestamp(exp, tz=UTC)
    return None
