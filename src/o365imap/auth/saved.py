"""msal's token cache read without msal: what a still-valid saved token needs, and no more.

``o365imap token`` runs on every connection of a mail client, and with a fresh saved token it
only reads: importing msal (and requests, urllib3 under it) would cost more than all the rest.
This module reads msal's serialized cache (a JSON object: kind -> key -> record) and searches
it as ``msal.TokenCache.search`` does: a record matches when every field of the query equals
its own (the environment compared in lower case, as msal files it) and, for tokens, when its
``target`` holds every scope asked for. It never writes: expired records stay for msal to
remove, and anything this module cannot vouch for goes msal's way (see flows.py).

tests/test_auth_msal_cache.py checks these searches against records msal itself filed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

__all__ = ["ACCESS_TOKEN", "ACCOUNT", "SavedTokens", "is_cache", "parse_cache"]

# msal.TokenCache.CredentialType's values: the kinds' keys in the serialized cache.
ACCESS_TOKEN = "AccessToken"  # noqa: S105 - a kind of record, not a secret
ACCOUNT = "Account"


class SavedTokens:
    """A snapshot of msal's cache, read-only, searched with msal's ``search`` signature."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def search(
        self,
        credential_type: str,
        target: Iterable[str] | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The records of ``credential_type`` matching ``query`` and holding ``target``'s
        scopes; the record filed under exactly these scopes first, as msal yields it."""
        wanted = sorted(target or [])
        exact = " ".join(wanted)
        scopes = set(wanted)
        query = {
            key: value.lower() if key == "environment" and isinstance(value, str) else value
            for key, value in (query or {}).items()
        }
        records = self._data.get(credential_type)
        if not isinstance(records, Mapping):
            return
        matching = [
            record
            for record in records.values()
            if isinstance(record, dict)
            and all(record.get(key, _MISSING) == value for key, value in query.items())
            and scopes <= set(str(record.get("target", "")).split())
            # a record of an extended cache key (msal's FMI paths) never answers a plain query
            and not (credential_type == ACCESS_TOKEN and "ext_cache_key" in record)
        ]
        matching.sort(key=lambda record: str(record.get("target", "")).lower() != exact.lower())
        yield from matching


def is_cache(content: str) -> bool:
    """msal's cache is a JSON object of objects; anything else would crash it later."""
    return not content.strip() or parse_cache(content) is not None


def parse_cache(content: str) -> dict[str, Any] | None:
    """The cache as a dict; None when it is not the shape msal reads."""
    try:
        data = json.loads(content)
    except ValueError:
        return None
    if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
        return data
    return None


_MISSING = object()  # a field the record lacks equals no value of the query, not even None
