"""What a sign-in needs to outlive the identity emulator: refresh grants, consents, revocations.

:class:`IdentityStore` keeps an :class:`IdentityState` in one JSON file (the emulator's is
``root/identity-state.json``), mode 0600, rewritten whole after every change: a temporary file
in the same folder, fsync, ``os.replace``, so a crash leaves the old state or the new one, never
a torn file. Refresh tokens themselves are not in it: grants are keyed by :func:`token_key`, the
SHA-256 of the token, so the file alone redeems nothing. A file that cannot be read or does not
hold what it should is moved aside (``identity-state.json.corrupt-<time>``) with a warning, and
the emulator starts empty: its users sign in again.

Version 1 of the format (times are Unix seconds, names lower-case as the emulator keys them)::

    {"version": 1,
     "refresh_grants": {"<sha256 hex of the token>": {
         "client_id": "...", "upn": "...",
         "scopes": {"resource": "https://outlook.office.com", "names": ["..."], "oidc": ["..."]},
         "auth_time": 1.5, "issued_at": 2.5, "expires_at": 3.5, "superseded": false}},
     "consents": [["<upn>", "<client id>"]],
     "valid_from": {"<upn>": 4.5}}

Short-lived records (sign-in pages, authorization codes, device codes) are not kept: a restart
ends the sign-ins in progress, as it always did. Apps and users are not kept either: their
owner registers them again at every start.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._model import RefreshGrant, Scopes

__all__ = ["STATE_FILE", "IdentityState", "IdentityStore", "token_key"]

logger = logging.getLogger(__name__)

STATE_FILE = "identity-state.json"
_VERSION = 1
_KEY_RE = re.compile(r"^[0-9a-f]{64}$")


def token_key(token: str) -> str:
    """The key a refresh token's grant is kept under: its SHA-256, hex.

    No salt or slow hash is needed: the tokens are 64 random bytes, out of reach of guessing.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class IdentityState:
    """The emulator's lasting state; the emulator's lock guards it, nothing here locks."""

    refresh: dict[str, RefreshGrant] = field(default_factory=dict)  # by token_key()
    consents: set[tuple[str, str]] = field(default_factory=set)  # (upn, client id)
    valid_from: dict[str, float] = field(default_factory=dict)  # upn -> revoked before this


class IdentityStore:
    """An :class:`IdentityState` in the file ``path``; see the module's docstring."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> IdentityState:
        """The saved state; an empty one if there is none or it is damaged (moved aside)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return IdentityState()
        except OSError as exc:
            self._move_aside(f"cannot be read ({exc.strerror or exc})")
            return IdentityState()
        try:
            return _state_from_json(json.loads(raw))
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            # ValueError covers bad JSON and bad UTF-8; the others, a wrong shape.
            self._move_aside(f"is damaged ({type(exc).__name__}: {exc})")
            return IdentityState()

    def save(self, state: IdentityState) -> None:
        """Replace the file with ``state``, atomically; raises OSError if that fails."""
        text = json.dumps(_state_to_json(state), separators=(",", ":"))
        directory = self.path.parent
        # mkstemp makes the file 0600, so the grants are never readable by others, not even
        # for the moment before the rename.
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_directory(directory)

    def _move_aside(self, problem: str) -> None:
        """Keep the bad file for a post-mortem, out of the way of the next save."""
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        try:
            os.replace(self.path, aside)
        except OSError as exc:
            logger.warning(
                "the identity emulator's state %s %s, and could not be moved aside (%s): "
                "starting without saved sign-ins",
                self.path,
                problem,
                exc.strerror or exc,
            )
            return
        logger.warning(
            "the identity emulator's state %s %s: moved it to %s; starting without saved "
            "sign-ins (users sign in again)",
            self.path,
            problem,
            aside,
        )


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory is on disk too. Best effort: not every
    # platform or file system lets a directory be opened or synced.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- to and from JSON ------------------------------------------------------------------------------


def _state_to_json(state: IdentityState) -> dict[str, Any]:
    return {
        "version": _VERSION,
        "refresh_grants": {key: _grant_to_json(g) for key, g in state.refresh.items()},
        "consents": sorted([upn, client_id] for upn, client_id in state.consents),
        "valid_from": dict(state.valid_from),
    }


def _grant_to_json(grant: RefreshGrant) -> dict[str, Any]:
    return {
        "client_id": grant.client_id,
        "upn": grant.upn,
        "scopes": {
            "resource": grant.scopes.resource,
            "names": list(grant.scopes.names),
            "oidc": list(grant.scopes.oidc),
        },
        "auth_time": grant.auth_time,
        "issued_at": grant.issued_at,
        "expires_at": grant.expires_at,
        "superseded": grant.superseded,
    }


def _state_from_json(data: object) -> IdentityState:
    """Check every field as it is read: a wrong type found later would crash a request."""
    top = _mapping(data, "the state")
    if top["version"] != _VERSION:
        raise ValueError(f"unknown version {top['version']!r}")
    refresh: dict[str, RefreshGrant] = {}
    for key, value in _mapping(top["refresh_grants"], "refresh_grants").items():
        if not _KEY_RE.match(key):
            raise ValueError("a refresh grant's key is not a SHA-256")
        refresh[key] = _grant_from_json(_mapping(value, "a refresh grant"))
    consents: set[tuple[str, str]] = set()
    for pair in _list(top["consents"], "consents"):
        upn, client_id = _strings(pair, "a consent")
        consents.add((upn, client_id))
    valid_from = {
        upn: _number(value, "valid_from")
        for upn, value in _mapping(top["valid_from"], "valid_from").items()
    }
    return IdentityState(refresh=refresh, consents=consents, valid_from=valid_from)


def _grant_from_json(data: Mapping[str, object]) -> RefreshGrant:
    scopes = _mapping(data["scopes"], "scopes")
    superseded = data["superseded"]
    if not isinstance(superseded, bool):
        raise TypeError("superseded is not true or false")
    return RefreshGrant(
        client_id=_string(data["client_id"], "client_id"),
        upn=_string(data["upn"], "upn"),
        scopes=Scopes(
            resource=_string(scopes["resource"], "resource"),
            names=_strings(scopes["names"], "scope names"),
            oidc=_strings(scopes["oidc"], "OpenID scopes"),
        ),
        auth_time=_number(data["auth_time"], "auth_time"),
        issued_at=_number(data["issued_at"], "issued_at"),
        expires_at=_number(data["expires_at"], "expires_at"),
        superseded=superseded,
    )


def _mapping(value: object, what: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise TypeError(f"{what} is not an object")
    return value


def _list(value: object, what: str) -> list[object]:
    if not isinstance(value, list):
        raise TypeError(f"{what} is not a list")
    return value


def _string(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} is not a string")
    return value


def _strings(value: object, what: str) -> tuple[str, ...]:
    return tuple(_string(item, what) for item in _list(value, what))


def _number(value: object, what: str) -> float:
    # bool is an int to Python, but true is no time; NaN would compare false with every time
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError(f"{what} is not a finite number")
    return float(value)
