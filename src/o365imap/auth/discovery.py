"""What the identity platform says about itself, kept between runs, so that no command waits
for it while a saved access token is still good.

msal asks an authority for its OpenID configuration (and Microsoft's clouds for their
instance metadata) whenever an application object is made, before it looks in the token
cache; every command makes one, so every command needed the platform. One small file beside
the tokens keeps two things:

- msal's ``http_cache`` (the documented dict-like parameter of ``ClientApplication``). msal
  keeps successful GET answers there for a day: persisted, a refresh or a sign-in within
  that day asks for tokens only. Only those GET answers outlive the process; what msal
  remembers of refused token requests (HTTP 400 for a minute, 429/5xx per Retry-After) stays
  in memory, so that a fix made in between (consent granted, MFA done) counts on the next run.
- each authority's cloud and tenant as msal files tokens under them (the "environment" and
  the "realm", the latter read from the token endpoint in the OpenID configuration). With
  them :class:`~o365imap.auth.flows.Authenticator` finds a still-valid access token in the
  cache where msal's silent flow would look, without making an application at all.

The file holds no tokens and nothing about the user (public documents about the platform).
It is written whole to a temporary file and renamed, mode 0600 like the tokens. A damaged or
unreadable file is read as empty, and one that cannot be written is left alone: the price is
one more request to the identity platform, never a failed command.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from o365imap._files import write_text_atomically

__all__ = ["DiscoveryCache"]

log = logging.getLogger("o365imap.auth")

_VERSION = 1
# msal's ExpiringMapping keeps its bookkeeping (expiry times) under this key, and the GET
# answers under keys that start with "GET ": together they are what is worth keeping.
_INDEX = "_index_"
_GET = "GET "


class _CachedResponse:
    """The part of an HTTP response msal keeps in its http_cache, as msal reads it back."""

    def __init__(self, status_code: int, text: str, headers: dict[str, str]) -> None:
        self.status_code = status_code
        self.text = text
        self.headers = headers

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP error {self.status_code}")  # msal keeps 2xx only


class DiscoveryCache(MutableMapping[str, Any]):
    """msal's http_cache persisted in ``path``, and the realms of the authorities seen."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._entries: dict[str, Any] = {}
        self._realms: dict[str, tuple[str, str]] = {}
        self._saved: str | None = None
        self._load()

    # ---------------------------------------------------------------- realms

    def realm(self, authority_url: str) -> tuple[str, str] | None:
        """``(environment, realm)`` under which msal files this authority's tokens, or None
        when no command has reached the authority yet."""
        return self._realms.get(authority_url)

    def remember_realm(self, authority_url: str, environment: str, realm: str) -> None:
        if self._realms.get(authority_url) != (environment, realm):
            self._realms[authority_url] = (environment, realm)
            self._save()

    # ---------------------------------------------------------------- the mapping msal uses

    def __getitem__(self, key: str) -> Any:
        return self._entries[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._entries[key] = value
        if _kept(key):
            self._save()

    def __delitem__(self, key: str) -> None:
        del self._entries[key]
        if _kept(key):
            self._save()

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    # ---------------------------------------------------------------- the file

    def _load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:  # ValueError: not UTF-8
            log.debug("discovery cache %s not read (%s): starting empty", self.path, exc)
            return
        try:
            data = json.loads(text)
            entries, realms = _decode(data)
        except (ValueError, TypeError, KeyError) as exc:
            log.debug("discovery cache %s damaged (%s): starting empty", self.path, exc)
            return
        self._entries, self._realms, self._saved = entries, realms, text

    def _save(self) -> None:
        try:
            text = json.dumps(self._encode(), sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError) as exc:  # msal keeping something new in its index
            log.debug("discovery cache %s not saved (%s)", self.path, exc)
            return
        if text == self._saved:
            return
        try:
            write_text_atomically(self.path, text)
        except OSError as exc:
            # Only a cache: the next run asks the identity platform again.
            log.debug("discovery cache %s not saved (%s)", self.path, exc)
            return
        self._saved = text

    def _encode(self) -> dict[str, Any]:
        http: dict[str, Any] = {}
        for key, value in self._entries.items():
            if not _kept(key):
                continue
            if key == _INDEX:
                http[key] = {"value": value}
            elif isinstance(getattr(value, "status_code", None), int) and isinstance(
                getattr(value, "text", None), str
            ):
                headers = getattr(value, "headers", None) or {}
                http[key] = {
                    "status": value.status_code,
                    "text": value.text,
                    "headers": {str(k): str(v) for k, v in dict(headers).items()},
                }
        return {
            "version": _VERSION,
            "http": http,
            "realms": {url: list(where) for url, where in self._realms.items()},
        }


def _kept(key: str) -> bool:
    return key == _INDEX or key.startswith(_GET)


def _decode(data: Any) -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
    """The entries and realms of a saved file; ValueError for anything not as we write it
    (a damaged file, or one from a version that keeps other shapes)."""
    if not isinstance(data, dict) or data.get("version") != _VERSION:
        raise ValueError("not a discovery cache of this version")
    entries: dict[str, Any] = {}
    for key, item in dict(data.get("http") or {}).items():
        if key == _INDEX:
            entries[key] = _index(item["value"])
        elif key.startswith(_GET) and isinstance(item, dict):
            status, text, headers = item["status"], item["text"], item["headers"]
            if not (isinstance(status, int) and isinstance(text, str)):
                raise ValueError(f"bad response under {key!r}")
            if not isinstance(headers, dict):
                raise ValueError(f"bad headers under {key!r}")
            entries[key] = _CachedResponse(
                status, text, {str(k): str(v) for k, v in headers.items()}
            )
    realms: dict[str, tuple[str, str]] = {}
    for url, where in dict(data.get("realms") or {}).items():
        if not (
            isinstance(where, list) and len(where) == 2 and all(isinstance(w, str) for w in where)
        ):
            raise ValueError(f"bad realm for {url!r}")
        realms[str(url)] = (where[0], where[1])
    return entries, realms


def _index(value: Any) -> list[Any]:
    """msal's bookkeeping, checked for the shape its ExpiringMapping unpacks (a heap of
    ``[expires_at, created_at, key]`` and ``{key: [expires_at, created_at]}``): any other
    shape would make msal fail, where dropping it only costs a request."""
    if not (isinstance(value, list) and len(value) == 2):
        raise ValueError("bad http cache index")
    sequence, timestamps = value
    if not isinstance(sequence, list) or not isinstance(timestamps, dict):
        raise ValueError("bad http cache index")
    for entry in sequence:
        if not (
            isinstance(entry, list)
            and len(entry) == 3
            and all(isinstance(n, int) for n in entry[:2])
            and isinstance(entry[2], str)
        ):
            raise ValueError("bad http cache index entry")
    for key, times in timestamps.items():
        if not (
            isinstance(times, list) and len(times) == 2 and all(isinstance(n, int) for n in times)
        ):
            raise ValueError(f"bad http cache times for {key!r}")
    return [sequence, timestamps]
