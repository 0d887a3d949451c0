"""The emulated tenant's state behind one lock, and the rules every endpoint applies to it.

:class:`Platform` holds what is registered (apps, users: registered again by code at every
start), what outlives a restart (refresh grants, consents, revocations: saved through
:class:`~o365imap.sandbox.identity._store.IdentityStore` after every change), and the sign-ins in
progress (pages, codes, device codes: in memory, ended by a restart). The rules that read them
live here too, so that every flow applies them alike: which tenant a path may name, which app
may sign in through it, whether a user may use an app now (MFA, consent), whether a grant was
revoked. Endpoints take :attr:`Platform.lock`, ask, and change the records.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..tokens import TokenSigner
from . import _errors as errors
from ._model import (
    TENANT_ALIASES,
    ClientApp,
    DeviceAuth,
    IdentityUser,
    IssuedCode,
    SignInPage,
)
from ._store import STATE_FILE, IdentityState, IdentityStore

__all__ = ["TOMBSTONE_LIFETIME", "Platform", "Settings"]

logger = logging.getLogger(__name__)

# A redeemed code or rotated-out refresh token is remembered this long, to answer "already
# used" (AADSTS54005, 70000) instead of "unknown".
TOMBSTONE_LIFETIME = 24 * 3600
_TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


class Settings(Protocol):
    """What may change while the emulator runs: lifetimes in seconds, and ``auto_approve``."""

    auto_approve: bool
    access_token_lifetime: int
    refresh_token_lifetime: int
    code_lifetime: int
    device_code_lifetime: int
    device_poll_interval: int


class Platform:
    """Registrations, grants and sign-ins in progress of the emulator on ``root``.

    ``settings`` are read at every use (they may change while running); ``origin`` gives the
    server's ``https://127.0.0.1:PORT``, known once it listens.
    """

    def __init__(
        self,
        root: Path,
        signer: TokenSigner,
        settings: Settings,
        origin: Callable[[], str],
    ) -> None:
        self.signer = signer
        self.settings = settings
        self._origin = origin
        # One lock for all state; re-entrant because flows call each other with it held.
        self.lock = threading.RLock()
        self.apps: dict[str, ClientApp] = {}
        self.users: dict[str, IdentityUser] = {}
        # What outlives a restart (saved by save_state() after every change to it) ...
        self.store = IdentityStore(root / STATE_FILE)
        state = self.store.load()
        self.consents = state.consents
        self.valid_from = state.valid_from
        self.refresh = state.refresh  # keyed by token_key(token), never the token itself
        # ... and what does not: a restart ends the sign-ins in progress.
        self.sign_ins: dict[str, SignInPage] = {}
        self.codes: dict[str, IssuedCode] = {}
        self.devices: dict[str, DeviceAuth] = {}
        self.user_codes: dict[str, DeviceAuth] = {}
        with self.lock:
            self.prune()  # what expired while no emulator ran

    # -- addresses ---------------------------------------------------------------------------------

    @property
    def tenant_id(self) -> str:
        return self.signer.tenant_id

    @property
    def base_url(self) -> str:
        return self._origin()

    def authority(self, tenant: str) -> str:
        return f"{self.base_url}/{tenant}"

    @property
    def device_login_url(self) -> str:
        return f"{self.base_url}/devicelogin"

    # -- lookups (callers hold the lock) -----------------------------------------------------------

    def app(self, client_id: str) -> ClientApp:
        try:
            return self.apps[client_id.lower()]
        except KeyError:
            raise KeyError(f"no app registered with client id {client_id}") from None

    def user(self, upn: str) -> IdentityUser:
        try:
            return self.users[upn.lower()]
        except KeyError:
            raise KeyError(f"no such user: {upn}") from None

    def existing_user(self, upn: str) -> IdentityUser:
        """The user a grant names, or the error Entra gives once that user is gone."""
        user = self.users.get(upn.lower())
        if user is None:
            raise errors.unknown_user(upn, self.tenant_id)
        return user

    # -- the rules ---------------------------------------------------------------------------------

    def check_tenant(self, tenant: str) -> None:
        """Refuse a path's tenant that is not an alias, the tenant's id or a users' domain."""
        alias = tenant.lower()
        if alias in TENANT_ALIASES or alias == self.tenant_id.lower():
            return
        with self.lock:
            if any(upn.endswith(f"@{alias}") for upn in self.users):
                return  # a verified domain of the tenant names it too
        raise errors.unknown_tenant(tenant if _TENANT_RE.match(tenant) else "(invalid)")

    def client(self, client_id: str | None, tenant: str) -> ClientApp:
        """The app ``client_id`` names, if it may sign in through ``tenant``."""
        if not client_id:
            raise errors.missing_parameter("client_id")
        with self.lock:
            app = self.apps.get(client_id.lower())
        if app is None:
            directory = self.tenant_id if tenant.lower() in TENANT_ALIASES else tenant
            raise errors.unknown_client(client_id, directory)
        alias = tenant.lower()
        audience = app.sign_in_audience
        if audience == "AzureADMyOrg" and alias in ("common", "organizations"):
            raise errors.single_tenant_app(app.client_id, app.name)
        if alias == "consumers" and audience in ("AzureADMyOrg", "AzureADMultipleOrgs"):
            raise errors.work_accounts_only(app.client_id, app.name)
        if audience == "PersonalMicrosoftAccount" and alias not in ("common", "consumers"):
            raise errors.personal_accounts_only(app.client_id, app.name)
        return app

    def has_consent(self, user: IdentityUser, app: ClientApp) -> bool:
        return (
            user.consented
            or app.admin_consented
            or (user.upn.lower(), app.client_id.lower()) in self.consents
        )

    def admit(self, user: IdentityUser, app: ClientApp, *, interactive: bool) -> None:
        """Everything after the password: MFA, then consent (given here if interactive)."""
        if user.mfa_required:
            raise errors.mfa_required(app.client_id)
        if self.has_consent(user, app):
            return
        if not interactive:
            raise errors.consent_required(app.client_id, app.name)
        if not app.user_consent_allowed:
            raise errors.admin_consent_required(app.name)
        self.consents.add((user.upn.lower(), app.client_id.lower()))
        self.save_state()

    def check_not_revoked(self, upn: str, auth_time: float) -> None:
        valid_from = self.valid_from.get(upn.lower())
        if valid_from is not None and auth_time < valid_from:
            raise errors.grant_revoked(auth_time, valid_from)

    # -- housekeeping (callers hold the lock) ------------------------------------------------------

    def save_state(self) -> None:
        """Save what outlives a restart (the caller holds the lock, so saves never cross)."""
        state = IdentityState(
            refresh=self.refresh, consents=self.consents, valid_from=self.valid_from
        )
        try:
            self.store.save(state)
        except OSError as exc:
            # Serving on matters more: the sign-in works now, it just may not outlive a
            # restart (unless a later save succeeds: every save writes the whole state).
            logger.error(
                "identity: could not save %s (%s): recent sign-ins may not outlive a restart",
                self.store.path,
                exc.strerror or exc,
            )

    def prune(self) -> None:
        """Forget expired pages, codes and grants (now and then).

        Saves nothing: a grant forgotten here is long dead; the next save drops it from the
        file, and an emulator that loads it first prunes it again.
        """
        now = time.time()
        stale = now - TOMBSTONE_LIFETIME
        for key in [k for k, v in self.sign_ins.items() if v.expires_at < now]:
            del self.sign_ins[key]
        for key in [k for k, v in self.codes.items() if v.expires_at < stale]:
            del self.codes[key]
        for key in [k for k, v in self.refresh.items() if v.expires_at < stale]:
            del self.refresh[key]
        for key in [k for k, v in self.devices.items() if v.expires_at < stale]:
            device = self.devices.pop(key)
            self.user_codes.pop(device.user_code, None)
