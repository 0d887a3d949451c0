"""Reading (not verifying) a JWT access token: what `whoami` and `doctor` show.

No signature check: the token came from our own cache, and the point is to explain it to a
person (audience, scopes or roles, account, expiry), not to trust it.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

__all__ = ["claims", "expiry"]


def claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, or {} when it is not one (Microsoft's consumer tokens are opaque)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        data = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


def expiry(token_claims: dict[str, Any]) -> datetime | None:
    exp = token_claims.get("exp")
    if isinstance(exp, int | float):
        return datetime.fromtimestamp(exp, tz=UTC)
    return None
