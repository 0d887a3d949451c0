"""The emulator as its users see it: start and stop, addresses, the portal, and test hooks.

:class:`IdentityEmulator` puts the pieces together: a
:class:`~o365imap.sandbox.identity._platform.Platform` (the state and its rules), a
:class:`~o365imap.sandbox.identity._router.Router` over the endpoints, and the HTTPS server that
calls it. Its methods are what an administrator does in Entra's portal (register an app, add a
user, grant or withdraw consent, require MFA, reset a password) and what tests need besides
(expire refresh tokens now).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from ..httpd import LoopbackHTTPSServer
from ..tls import make_certificates
from ..tokens import TokenSigner
from ._model import (
    APP_ROLE_IMAP,
    DEFAULT_DELEGATED,
    SIGN_IN_AUDIENCES,
    ClientApp,
    IdentityUser,
    SignInAudience,
    split_uri,
)
from ._platform import Platform
from ._router import Router

__all__ = ["IdentityEmulator"]

logger = logging.getLogger(__name__)

# Query parameters whose values may be logged; all others (code, state, nonce, hints) are not.
_SAFE_QUERY_KEYS = (
    "client_id",
    "response_type",
    "response_mode",
    "scope",
    "prompt",
    "redirect_uri",
    "code_challenge_method",
)


class IdentityEmulator:
    """The Microsoft identity platform on ``https://127.0.0.1:PORT``, for msal and browsers.

    ``root`` holds the TLS files (``root/tls/ca.pem`` is the CA to trust; files already there
    are reused while valid, so a Dovecot made first in the same folder and the emulator share
    one CA) and, unless ``signer`` is given, the signing key ``root/signing-key.pem`` (the file
    a Dovecot in the same folder reads too), and ``root/identity-state.json``: the refresh
    grants, consents and revocations of the emulators that ran on ``root`` before (msal finds
    its tokens again only on the same ``port``). Register apps and add users before or after
    :meth:`start`. Lifetimes (seconds) are plain attributes that may be changed while running:
    ``access_token_lifetime``, ``refresh_token_lifetime`` (inactivity), ``code_lifetime``,
    ``device_code_lifetime`` and ``device_poll_interval``; so is ``auto_approve``.
    """

    def __init__(
        self,
        root: Path,
        *,
        signer: TokenSigner | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        auto_approve: bool = False,
        access_token_lifetime: int = 3600,
        refresh_token_lifetime: int = 90 * 24 * 3600,
        code_lifetime: int = 600,
        device_code_lifetime: int = 900,
        device_poll_interval: int = 5,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._signer = (
            signer
            if signer is not None
            else TokenSigner.load_or_create(self.root / "signing-key.pem")
        )
        self.auto_approve = auto_approve
        self.access_token_lifetime = access_token_lifetime
        self.refresh_token_lifetime = refresh_token_lifetime
        self.code_lifetime = code_lifetime
        self.device_code_lifetime = device_code_lifetime
        self.device_poll_interval = device_poll_interval
        self._ca_file, cert_file, key_file = make_certificates(self.root / "tls", reuse=True)
        self._platform = Platform(self.root, self._signer, self, lambda: self._http.origin)
        self._http = LoopbackHTTPSServer(
            Router(self._platform, self._ca_file),
            cert_file=cert_file,
            key_file=key_file,
            host=host,
            port=port,
            name="identity",
            safe_query_keys=_SAFE_QUERY_KEYS,
        )

    # -- lifecycle and addresses ---------------------------------------------------------------

    def start(self) -> IdentityEmulator:
        self._http.start()
        logger.info("identity emulator listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving and end every connection; registrations and grants are kept (the grants
        on disk too, for the next emulator on the same ``root``)."""
        self._http.stop()

    def __enter__(self) -> IdentityEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._http.running

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT``: where msal's authority lives (see :meth:`authority`)."""
        return self._http.origin

    @property
    def ca_file(self) -> Path:
        """The CA certificate clients must trust (``requests.Session.verify``)."""
        return self._ca_file

    @property
    def signer(self) -> TokenSigner:
        return self._signer

    @property
    def tenant_id(self) -> str:
        return self._platform.tenant_id

    def authority(self, tenant: str = "organizations") -> str:
        """The authority URL to hand msal: ``https://127.0.0.1:PORT/{tenant}``."""
        return self._platform.authority(tenant)

    @property
    def device_login_url(self) -> str:
        """The device flow's ``verification_uri``."""
        return self._platform.device_login_url

    # -- registry --------------------------------------------------------------------------------

    def register_app(
        self,
        client_id: str,
        *,
        confidential: bool = False,
        secret: str | None = None,
        redirect_uris: Iterable[str] = ("http://localhost",),
        name: str | None = None,
        sign_in_audience: SignInAudience = "AzureADandPersonalMicrosoftAccount",
        user_consent_allowed: bool = True,
        admin_consented: bool = True,
        delegated_permissions: Iterable[str] = DEFAULT_DELEGATED,
        app_roles: Iterable[str] = (APP_ROLE_IMAP,),
    ) -> ClientApp:
        """Register (or replace) an app; returns it, with a generated secret if one was needed.

        ``confidential`` makes a "Web" app that must authenticate with ``secret`` at the token
        endpoint; a public client ("Mobile and desktop") must send none. ``sign_in_audience``
        is the manifest's value: ``AzureADMyOrg`` refuses ``/common`` and ``/organizations``
        (AADSTS50194), the two ``AzureAD*Orgs`` values refuse ``/consumers`` (AADSTS9002332).
        ``admin_consented`` stands for "Grant admin consent" in the portal: every user may
        sign in without a consent step, and client-credentials tokens get ``app_roles``.
        Without it, users consent themselves, unless ``user_consent_allowed`` is False (a
        tenant that blocks user consent: AADSTS90094). ``delegated_permissions`` are what
        ``{resource}/.default`` expands to in delegated flows.
        """
        if sign_in_audience not in SIGN_IN_AUDIENCES:
            raise ValueError(f"sign_in_audience must be one of {', '.join(SIGN_IN_AUDIENCES)}")
        uris = tuple(redirect_uris)
        for uri in uris:
            if split_uri(uri) is None:
                raise ValueError(f"not an absolute redirect URI: {uri!r}")
        if confidential and secret is None:
            # Entra's secrets look like this: 3 characters, "8Q~", then 34 more.
            secret = f"{secrets.token_urlsafe(3)[:3]}8Q~{secrets.token_urlsafe(26)[:34]}"
        app = ClientApp(
            client_id=client_id,
            name=name or f"App {client_id[:8]}",
            confidential=confidential,
            secret=secret,
            redirect_uris=uris,
            sign_in_audience=sign_in_audience,
            user_consent_allowed=user_consent_allowed,
            admin_consented=admin_consented,
            delegated_permissions=tuple(delegated_permissions),
            app_roles=tuple(app_roles),
        )
        with self._platform.lock:
            self._platform.apps[client_id.lower()] = app
        return app

    def set_app_consent(
        self,
        client_id: str,
        *,
        admin_consented: bool | None = None,
        user_consent_allowed: bool | None = None,
    ) -> ClientApp:
        """Change an app's consent settings: the portal's "Grant admin consent", tenant policy."""
        platform = self._platform
        with platform.lock:
            app = platform.app(client_id)
            app = dataclasses.replace(
                app,
                admin_consented=app.admin_consented if admin_consented is None else admin_consented,
                user_consent_allowed=(
                    app.user_consent_allowed
                    if user_consent_allowed is None
                    else user_consent_allowed
                ),
            )
            platform.apps[app.client_id.lower()] = app
            return app

    def add_user(
        self,
        upn: str,
        password: str,
        *,
        display_name: str | None = None,
        mfa_required: bool = False,
        consented: bool = True,
    ) -> IdentityUser:
        """Add (or replace) a user. ``consented`` means consent to every app already given.

        For an app without admin consent, a user without it sees the consent list and must
        Accept; a silent sign-in (``prompt=none``) or a refresh then fails with AADSTS65001.
        ``mfa_required`` users are refused with AADSTS50076 (the emulator asks for no second
        factor).
        """
        if not upn or "@" not in upn:
            raise ValueError(f"a user principal name looks like name@domain, not {upn!r}")
        user = IdentityUser(
            upn=upn,
            password=password,
            display_name=display_name or upn.split("@", 1)[0].replace(".", " ").title(),
            mfa_required=mfa_required,
            consented=consented,
        )
        with self._platform.lock:
            self._platform.users[upn.lower()] = user
        return user

    def set_mfa_required(self, upn: str, required: bool = True) -> None:
        """A conditional-access change: the user's refresh tokens then fail with AADSTS50076."""
        platform = self._platform
        with platform.lock:
            user = platform.user(upn)
            platform.users[upn.lower()] = dataclasses.replace(user, mfa_required=required)

    def grant_consent(self, upn: str, client_id: str) -> None:
        platform = self._platform
        with platform.lock:
            platform.consents.add(
                (platform.user(upn).upn.lower(), platform.app(client_id).client_id.lower())
            )
            platform.save_state()

    def revoke_consent(self, upn: str, client_id: str) -> None:
        """Withdraw a user's consent ("My Apps"): the app's refresh tokens fail with 65001.

        (Admin consent, if the app has it, still applies: see :meth:`set_app_consent`.)
        """
        platform = self._platform
        with platform.lock:
            user = platform.user(upn)
            platform.consents.discard((user.upn.lower(), client_id.lower()))
            if user.consented:
                platform.users[upn.lower()] = dataclasses.replace(user, consented=False)
            platform.save_state()

    def apps(self) -> list[ClientApp]:
        with self._platform.lock:
            return list(self._platform.apps.values())

    def users(self) -> list[IdentityUser]:
        with self._platform.lock:
            return list(self._platform.users.values())

    # -- test hooks ------------------------------------------------------------------------------

    def expire_refresh_tokens(self, user: str | None = None) -> int:
        """Make the live refresh tokens of ``user`` (all users: None) expire now (AADSTS700082).

        Returns how many were expired.
        """
        now = time.time()
        count = 0
        platform = self._platform
        with platform.lock:
            for grant in platform.refresh.values():
                if grant.superseded or (user is not None and grant.upn.lower() != user.lower()):
                    continue
                if grant.expires_at > now:
                    grant.expires_at = now - 1
                    count += 1
            if count:
                platform.save_state()
        return count

    def revoke(self, user: str) -> None:
        """Revoke every grant of ``user`` (a password reset): refresh tokens and unused codes
        fail with AADSTS50173. Access tokens already issued stay valid until they expire, as
        Entra's do."""
        platform = self._platform
        with platform.lock:
            platform.valid_from[user.lower()] = time.time()
            platform.save_state()
