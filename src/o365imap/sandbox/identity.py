"""A local emulator of the Microsoft identity platform (Entra ID's v2.0 endpoints), over HTTPS.

:class:`IdentityEmulator` serves, under ``/{tenant}/`` (``common``, ``organizations``,
``consumers``, the tenant id, or the domain of a user added to it):

==============================================  ==========================================
``GET  v2.0/.well-known/openid-configuration``  OpenID discovery, as msal reads it
``GET  discovery/v2.0/keys``                    the signing key (JWKS)
``GET  oauth2/v2.0/authorize``                  sign-in and consent page; code grant + PKCE
``POST login``                                  where that page posts (``ctx``, ``username``,
                                                ``password``, ``action=accept|cancel``)
``POST oauth2/v2.0/token``                      authorization_code, refresh_token,
                                                client_credentials, device_code
``POST oauth2/v2.0/devicecode``                 starts a device code flow
``GET  oauth2/v2.0/logout``                     signs nobody out; a page to land on
==============================================  ==========================================

and ``GET|POST /devicelogin`` (enter the user code, then sign in as on the authorize page).

Access tokens come from a :class:`~o365imap.sandbox.tokens.TokenSigner`, so a Dovecot built on
the same signer accepts them. Errors have Entra's shape: JSON with ``error``,
``error_description`` ("AADSTS<code>: text" plus trace lines) and ``error_codes`` from the token
endpoint; a redirect with ``error`` and ``error_description`` once the redirect URI is trusted;
an error page when it is not (unknown client, redirect URI mismatch).

What a sign-in leaves behind outlives a restart in the same ``root``: refresh grants, consents
and revocations are saved in ``root/identity-state.json`` (see
:mod:`~o365imap.sandbox.identity_store`), so a refresh token saved before a restart still
works after it. Sign-ins in progress (pages, codes, device codes) live in memory and end with
the emulator; apps and users are registered again by code at every start.

Signing in without a form: with ``auto_approve`` set, the authorize endpoint signs in the
``login_hint`` user (else the first user added) and redirects straight back, and the device
login page approves a code as soon as it is entered. ``prompt=none`` does the same for one
request without granting consent, as Entra's silent sign-in does: it fails with
``login_required`` (several users, no hint) or ``consent_required`` (AADSTS65001).

Where the emulator knowingly differs from Entra: the old refresh token stops working once
rotated (Entra keeps it valid); device flow errors follow RFC 8628 (``access_denied`` where
Entra says ``authorization_declined``); a user who needs MFA is refused (AADSTS50076) instead of
being asked for a second factor; the emulator has no sign-in session cookie, so every
interactive request shows the form.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any

import jwt

from . import identity_errors as errors
from . import identity_html as html
from .httpd import LoopbackHTTPSServer, Request, Response
from .identity_errors import StsError, stamp
from .identity_model import (
    APP_ROLE_IMAP,
    DEFAULT_DELEGATED,
    OIDC_SCOPES,
    SIGN_IN_AUDIENCES,
    AuthRequest,
    ClientApp,
    DeviceAuth,
    IdentityUser,
    IssuedCode,
    RefreshGrant,
    Scopes,
    SignInAudience,
    SignInPage,
    b64url,
    basic_credentials,
    parse_scopes,
    pkce_matches,
    redirect_uri_matches,
    split_uri,
    with_params,
)
from .identity_store import STATE_FILE, IdentityState, IdentityStore, token_key
from .tls import make_certificates
from .tokens import TokenSigner

__all__ = ["DEVICE_CODE_GRANT", "TENANT_ALIASES", "ClientApp", "IdentityEmulator", "IdentityUser"]

logger = logging.getLogger(__name__)

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
TENANT_ALIASES = ("common", "organizations", "consumers")

_ID_TOKEN_LIFETIME = 3600
_SIGN_IN_PAGE_LIFETIME = 3600
# A redeemed code or rotated-out refresh token is remembered this long, to answer "already
# used" (AADSTS54005, 70000) instead of "unknown".
_TOMBSTONE_LIFETIME = 24 * 3600
# Entra's user codes: 9 characters from an alphabet without look-alikes.
_USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_USER_CODE_LENGTH = 9
_SLOW_DOWN_STEP = 5  # RFC 8628 §3.5
_TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
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
        self._http = LoopbackHTTPSServer(
            self._dispatch,
            cert_file=cert_file,
            key_file=key_file,
            host=host,
            port=port,
            name="identity",
            safe_query_keys=_SAFE_QUERY_KEYS,
        )
        # One lock for all state; re-entrant because flows call each other with it held.
        self._lock = threading.RLock()
        self._apps: dict[str, ClientApp] = {}
        self._users: dict[str, IdentityUser] = {}
        # What outlives a restart (saved by _save_state() after every change to it) ...
        self._store = IdentityStore(self.root / STATE_FILE)
        state = self._store.load()
        self._consents = state.consents
        self._valid_from = state.valid_from
        self._refresh = state.refresh  # keyed by token_key(token), never the token itself
        # ... and what does not: a restart ends the sign-ins in progress.
        self._sign_ins: dict[str, SignInPage] = {}
        self._codes: dict[str, IssuedCode] = {}
        self._devices: dict[str, DeviceAuth] = {}
        self._user_codes: dict[str, DeviceAuth] = {}
        with self._lock:
            self._prune()  # what expired while no emulator ran

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
        return self._signer.tenant_id

    def authority(self, tenant: str = "organizations") -> str:
        """The authority URL to hand msal: ``https://127.0.0.1:PORT/{tenant}``."""
        return f"{self.base_url}/{tenant}"

    @property
    def device_login_url(self) -> str:
        """The device flow's ``verification_uri``."""
        return f"{self.base_url}/devicelogin"

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
        with self._lock:
            self._apps[client_id.lower()] = app
        return app

    def set_app_consent(
        self,
        client_id: str,
        *,
        admin_consented: bool | None = None,
        user_consent_allowed: bool | None = None,
    ) -> ClientApp:
        """Change an app's consent settings: the portal's "Grant admin consent", tenant policy."""
        with self._lock:
            app = self._app(client_id)
            app = dataclasses.replace(
                app,
                admin_consented=app.admin_consented if admin_consented is None else admin_consented,
                user_consent_allowed=(
                    app.user_consent_allowed
                    if user_consent_allowed is None
                    else user_consent_allowed
                ),
            )
            self._apps[app.client_id.lower()] = app
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
        with self._lock:
            self._users[upn.lower()] = user
        return user

    def set_mfa_required(self, upn: str, required: bool = True) -> None:
        """A conditional-access change: the user's refresh tokens then fail with AADSTS50076."""
        with self._lock:
            user = self._user(upn)
            self._users[upn.lower()] = dataclasses.replace(user, mfa_required=required)

    def grant_consent(self, upn: str, client_id: str) -> None:
        with self._lock:
            self._consents.add(
                (self._user(upn).upn.lower(), self._app(client_id).client_id.lower())
            )
            self._save_state()

    def revoke_consent(self, upn: str, client_id: str) -> None:
        """Withdraw a user's consent ("My Apps"): the app's refresh tokens fail with 65001.

        (Admin consent, if the app has it, still applies: see :meth:`set_app_consent`.)
        """
        with self._lock:
            user = self._user(upn)
            self._consents.discard((user.upn.lower(), client_id.lower()))
            if user.consented:
                self._users[upn.lower()] = dataclasses.replace(user, consented=False)
            self._save_state()

    def apps(self) -> list[ClientApp]:
        with self._lock:
            return list(self._apps.values())

    def users(self) -> list[IdentityUser]:
        with self._lock:
            return list(self._users.values())

    # -- test hooks ------------------------------------------------------------------------------

    def expire_refresh_tokens(self, user: str | None = None) -> int:
        """Make the live refresh tokens of ``user`` (all users: None) expire now (AADSTS700082).

        Returns how many were expired.
        """
        now = time.time()
        count = 0
        with self._lock:
            for grant in self._refresh.values():
                if grant.superseded or (user is not None and grant.upn.lower() != user.lower()):
                    continue
                if grant.expires_at > now:
                    grant.expires_at = now - 1
                    count += 1
            if count:
                self._save_state()
        return count

    def revoke(self, user: str) -> None:
        """Revoke every grant of ``user`` (a password reset): refresh tokens and unused codes
        fail with AADSTS50173. Access tokens already issued stay valid until they expire, as
        Entra's do."""
        with self._lock:
            self._valid_from[user.lower()] = time.time()
            self._save_state()

    # -- lookups (callers hold the lock) ---------------------------------------------------------

    def _app(self, client_id: str) -> ClientApp:
        try:
            return self._apps[client_id.lower()]
        except KeyError:
            raise KeyError(f"no app registered with client id {client_id}") from None

    def _user(self, upn: str) -> IdentityUser:
        try:
            return self._users[upn.lower()]
        except KeyError:
            raise KeyError(f"no such user: {upn}") from None

    def _has_consent(self, user: IdentityUser, app: ClientApp) -> bool:
        return (
            user.consented
            or app.admin_consented
            or (user.upn.lower(), app.client_id.lower()) in self._consents
        )

    def _check_not_revoked(self, upn: str, auth_time: float) -> None:
        valid_from = self._valid_from.get(upn.lower())
        if valid_from is not None and auth_time < valid_from:
            raise errors.grant_revoked(auth_time, valid_from)

    def _existing_user(self, upn: str) -> IdentityUser:
        user = self._users.get(upn.lower())
        if user is None:
            raise errors.unknown_user(upn, self.tenant_id)
        return user

    # -- answering with errors -------------------------------------------------------------------

    @staticmethod
    def _correlation_id(request: Request) -> str:
        # msal sends client-request-id; Entra answers with it as the correlation id.
        sent = request.header("client-request-id")
        if sent:
            try:
                return str(uuid.UUID(sent))
            except ValueError:
                pass
        return str(uuid.uuid4())

    def _description(self, failure: StsError, correlation_id: str, trace_id: str) -> str:
        return (
            f"{failure.summary}\r\nTrace ID: {trace_id}\r\n"
            f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp(time.time())}"
        )

    def _json_error(self, failure: StsError, request: Request) -> Response:
        logger.info("identity: %s %s -> %s", request.method, request.path, failure.summary)
        trace_id = str(uuid.uuid4())
        correlation_id = self._correlation_id(request)
        payload = {
            "error": failure.error,
            "error_description": self._description(failure, correlation_id, trace_id),
            "error_codes": [failure.code],
            "timestamp": stamp(time.time()),
            "trace_id": trace_id,
            "correlation_id": correlation_id,
        }
        return Response.json(failure.status, payload)

    def _error_page(self, failure: StsError, request: Request) -> Response:
        logger.info("identity: %s %s -> %s", request.method, request.path, failure.summary)
        page = html.error_page(
            title="Sorry, but we're having trouble signing you in.",
            description=failure.summary,
            details={
                "Request Id": str(uuid.uuid4()),
                "Correlation Id": self._correlation_id(request),
                "Timestamp": stamp(time.time()),
            },
            code=failure.code,
        )
        return Response.html(failure.status, page, (html.csp_header(),))

    # -- routing -----------------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        if not parts:
            if request.method != "GET":
                return Response.text(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed\n")
            return self._index()
        if parts == ["devicelogin"]:
            return self._device_login(request)
        tenant, rest = parts[0], "/".join(parts[1:])
        routes = {
            ("GET", "v2.0/.well-known/openid-configuration"): self._openid_configuration,
            ("GET", "discovery/v2.0/keys"): self._keys,
            ("GET", "oauth2/v2.0/authorize"): self._authorize,
            ("POST", "login"): self._login,
            ("POST", "oauth2/v2.0/token"): self._token,
            ("POST", "oauth2/v2.0/devicecode"): self._devicecode,
            ("GET", "oauth2/v2.0/logout"): self._logout,
        }
        handler = routes.get((request.method, rest))
        if handler is None:
            if any(path == rest for _, path in routes):
                return Response.text(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed\n")
            return Response.text(HTTPStatus.NOT_FOUND, "not found\n")
        for_browser = rest in ("oauth2/v2.0/authorize", "login", "oauth2/v2.0/logout")
        try:
            self._check_tenant(tenant)
            return handler(request, tenant)
        except StsError as failure:
            if for_browser:
                return self._error_page(failure, request)
            return self._json_error(failure, request)

    def _check_tenant(self, tenant: str) -> None:
        alias = tenant.lower()
        if alias in TENANT_ALIASES or alias == self.tenant_id.lower():
            return
        with self._lock:
            if any(upn.endswith(f"@{alias}") for upn in self._users):
                return  # a verified domain of the tenant names it too
        raise errors.unknown_tenant(tenant if _TENANT_RE.match(tenant) else "(invalid)")

    def _client(self, client_id: str | None, tenant: str) -> ClientApp:
        """The app ``client_id`` names, if it may sign in through ``tenant``."""
        if not client_id:
            raise errors.missing_parameter("client_id")
        with self._lock:
            app = self._apps.get(client_id.lower())
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

    # -- discovery -------------------------------------------------------------------------------

    def _issuer(self, tenant: str) -> str:
        tid = self.tenant_id if tenant.lower() not in TENANT_ALIASES else "{tenantid}"
        return f"{self.base_url}/{tid}/v2.0"

    def _openid_configuration(self, request: Request, tenant: str) -> Response:
        base = f"{self.base_url}/{tenant}"
        return Response.json(
            HTTPStatus.OK,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code"],
                "scopes_supported": list(OIDC_SCOPES),
                "issuer": self._issuer(tenant),
                "request_uri_parameter_supported": False,
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "code_challenge_methods_supported": ["S256", "plain"],
                "grant_types_supported": [
                    "authorization_code",
                    "refresh_token",
                    "client_credentials",
                    DEVICE_CODE_GRANT,
                ],
                "claims_supported": [
                    "sub",
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "nonce",
                    "preferred_username",
                    "name",
                    "tid",
                    "ver",
                    "oid",
                    "email",
                ],
                "cloud_instance_name": "sandbox.o365imap.test",
            },
        )

    def _keys(self, request: Request, tenant: str) -> Response:
        key = dict(self._signer.jwk())
        key["issuer"] = self._issuer(tenant)
        return Response.json(HTTPStatus.OK, {"keys": [key]})

    def _index(self) -> Response:
        rows = [
            ("Authority (work accounts)", self.authority("organizations")),
            ("Authority (this tenant)", self.authority(self.tenant_id)),
            ("Device login", self.device_login_url),
            ("CA certificate", str(self.ca_file)),
        ]
        with self._lock:
            rows += [(f"App: {a.name}", a.client_id) for a in self._apps.values()]
            rows += [("User", u.upn) for u in self._users.values()]
        page = html.index_page("Identity platform emulator", rows)
        return Response.html(HTTPStatus.OK, page, (html.csp_header(),))

    def _logout(self, request: Request, tenant: str) -> Response:
        page = html.message_page(
            "You signed out of your account", "It's a good idea to close all browser windows."
        )
        return Response.html(HTTPStatus.OK, page, (html.csp_header(),))

    # -- authorize ---------------------------------------------------------------------------------

    def _authorize(self, request: Request, tenant: str) -> Response:
        q = request.query
        app = self._client(q.get("client_id"), tenant)
        redirect_uri = q.get("redirect_uri")
        if not redirect_uri:
            raise errors.missing_parameter("redirect_uri")
        if not any(redirect_uri_matches(r, redirect_uri) for r in app.redirect_uris):
            raise errors.redirect_uri_mismatch(redirect_uri, app.client_id)
        response_mode = q.get("response_mode") or "query"
        if response_mode not in ("query", "fragment", "form_post"):
            raise errors.malformed(f"response_mode '{response_mode}' is not supported")
        # From here on the redirect URI is trusted: errors go back to the app.
        try:
            auth = self._auth_request(q, tenant, app, redirect_uri, response_mode)
        except StsError as failure:
            return self._redirect_error(failure, redirect_uri, response_mode, q.get("state"))
        silent = auth.prompt == "none"
        if self.auto_approve or silent:
            return self._approve_without_form(auth, app, silent=silent)
        ctx = secrets.token_urlsafe(24)
        with self._lock:
            self._prune()
            self._sign_ins[ctx] = SignInPage(
                tenant=tenant, expires_at=time.time() + _SIGN_IN_PAGE_LIFETIME, request=auth
            )
            user = self._users.get(auth.login_hint.lower()) if auth.login_hint else None
            needs_consent = user is None or not self._has_consent(user, app)
        return self._sign_in_page(
            tenant, ctx, app, auth.scopes, auth.login_hint, None, needs_consent
        )

    @staticmethod
    def _auth_request(
        q: Mapping[str, str],
        tenant: str,
        app: ClientApp,
        redirect_uri: str,
        response_mode: str,
    ) -> AuthRequest:
        response_type = q.get("response_type", "")
        if response_type != "code":
            raise errors.unsupported_response_type(response_type)
        scopes = parse_scopes(q.get("scope"), app.delegated_permissions)
        challenge = q.get("code_challenge") or None
        method = q.get("code_challenge_method") or "plain"  # RFC 7636 §4.3
        if challenge is not None:
            if method not in ("S256", "plain"):
                raise errors.malformed(f"code_challenge_method '{method}' is not supported")
            if not 43 <= len(challenge) <= 128:
                raise errors.code_challenge_size()
        return AuthRequest(
            tenant=tenant,
            client_id=app.client_id,
            redirect_uri=redirect_uri,
            response_mode=response_mode,
            state=q.get("state"),
            scopes=scopes,
            nonce=q.get("nonce"),
            code_challenge=challenge,
            code_challenge_method=method,
            login_hint=q.get("login_hint", ""),
            prompt=q.get("prompt"),
            max_age="max_age" in q,
        )

    def _approve_without_form(self, auth: AuthRequest, app: ClientApp, *, silent: bool) -> Response:
        with self._lock:
            try:
                if auth.login_hint:
                    error = "login_required" if silent else "invalid_request"
                    user = self._users.get(auth.login_hint.lower())
                    if user is None:
                        raise errors.unknown_user(auth.login_hint, self.tenant_id, error)
                elif silent and len(self._users) > 1:
                    raise errors.no_signed_in_user("several users, and no login_hint")
                else:
                    user = next(iter(self._users.values()), None)
                    if user is None:
                        raise errors.no_signed_in_user("the emulator has no users")
                self._admit(user, app, interactive=not silent)
            except StsError as failure:
                return self._redirect_error(
                    failure, auth.redirect_uri, auth.response_mode, auth.state
                )
            return self._finish_with_code(auth, user)

    def _admit(self, user: IdentityUser, app: ClientApp, *, interactive: bool) -> None:
        """Everything after the password: MFA, then consent (given here if interactive)."""
        if user.mfa_required:
            raise errors.mfa_required(app.client_id)
        if self._has_consent(user, app):
            return
        if not interactive:
            raise errors.consent_required(app.client_id, app.name)
        if not app.user_consent_allowed:
            raise errors.admin_consent_required(app.name)
        self._consents.add((user.upn.lower(), app.client_id.lower()))
        self._save_state()

    def _finish_with_code(self, auth: AuthRequest, user: IdentityUser) -> Response:
        now = time.time()
        code = secrets.token_urlsafe(48)
        with self._lock:
            self._codes[code] = IssuedCode(
                client_id=auth.client_id,
                upn=user.upn,
                scopes=auth.scopes,
                redirect_uri=auth.redirect_uri,
                code_challenge=auth.code_challenge,
                code_challenge_method=auth.code_challenge_method,
                nonce=auth.nonce,
                auth_time=now,
                expires_at=now + self.code_lifetime,
                max_age=auth.max_age,
            )
        logger.info("identity: %s signed in to %s", user.upn, auth.client_id)
        params = {"code": code}
        if auth.state is not None:
            params["state"] = auth.state
        return self._respond_to_app(auth.redirect_uri, auth.response_mode, params)

    def _redirect_error(
        self, failure: StsError, redirect_uri: str, response_mode: str, state: str | None
    ) -> Response:
        logger.info("identity: authorize -> %s", failure.summary)
        params = {
            "error": failure.error,
            "error_description": self._description(failure, str(uuid.uuid4()), str(uuid.uuid4())),
        }
        if state is not None:
            params["state"] = state
        return self._respond_to_app(redirect_uri, response_mode, params)

    @staticmethod
    def _respond_to_app(redirect_uri: str, response_mode: str, params: dict[str, str]) -> Response:
        if response_mode == "form_post":
            nonce = html.new_nonce()
            page = html.form_post_page(redirect_uri, params, nonce)
            return Response.html(HTTPStatus.OK, page, (html.csp_header(nonce),))
        location = with_params(redirect_uri, params, fragment=response_mode == "fragment")
        return Response.redirect(location)

    def _sign_in_page(
        self,
        tenant: str,
        ctx: str,
        app: ClientApp,
        scopes: Scopes,
        username: str,
        error: str | None,
        needs_consent: bool,
    ) -> Response:
        page = html.sign_in_page(
            action=f"/{tenant}/login",
            ctx=ctx,
            app_name=app.name,
            client_id=app.client_id,
            scopes=[*scopes.full, *scopes.oidc],
            username=username,
            error=error,
            needs_consent=needs_consent,
        )
        return Response.html(HTTPStatus.OK, page, (html.csp_header(),))

    # -- the sign-in form's POST ---------------------------------------------------------------

    def _login(self, request: Request, tenant: str) -> Response:
        form = request.form
        ctx = form.get("ctx", "")
        with self._lock:
            sign_in = self._sign_ins.get(ctx)
            if sign_in is None or sign_in.expires_at < time.time():
                self._sign_ins.pop(ctx, None)
                page = html.message_page(
                    "This sign-in page has expired",
                    "Start the sign-in again from the application.",
                    error=True,
                )
                return Response.html(HTTPStatus.BAD_REQUEST, page, (html.csp_header(),))
            client_id, scopes = sign_in.target
            app = self._apps.get(client_id.lower())
            if app is None:
                del self._sign_ins[ctx]
                raise errors.unknown_client(client_id, self.tenant_id)
            if form.get("action", "accept") == "cancel":
                del self._sign_ins[ctx]
                return self._end_sign_in(sign_in, app, None, errors.user_declined())
            username = form.get("username", "").strip()
            user = self._users.get(username.lower())
            error: str | None = None
            if not username:
                error = "Enter a valid email address, phone number, or Skype name."
            elif user is None:
                error = (
                    "This username may be incorrect. Make sure you typed it correctly. "
                    f"(AADSTS50034: The user account {username} does not exist in the directory.)"
                )
            elif not hmac.compare_digest(
                form.get("password", "").encode("utf-8"), user.password.encode("utf-8")
            ):
                error = (
                    "Your account or password is incorrect. (AADSTS50126: Error validating "
                    "credentials due to invalid username or password.)"
                )
            if error is not None or user is None:
                needs_consent = user is None or not self._has_consent(user, app)
                return self._sign_in_page(
                    sign_in.tenant, ctx, app, scopes, username, error, needs_consent
                )
            del self._sign_ins[ctx]
            try:
                self._admit(user, app, interactive=True)
            except StsError as failure:
                return self._end_sign_in(sign_in, app, user, failure)
            return self._end_sign_in(sign_in, app, user, None)

    def _end_sign_in(
        self,
        sign_in: SignInPage,
        app: ClientApp,
        user: IdentityUser | None,
        failure: StsError | None,
    ) -> Response:
        if sign_in.request is not None:
            auth = sign_in.request
            if user is None or failure is not None:
                assert failure is not None
                return self._redirect_error(
                    failure, auth.redirect_uri, auth.response_mode, auth.state
                )
            return self._finish_with_code(auth, user)
        assert sign_in.device is not None
        return self._finish_device(sign_in.device, app, user, failure)

    # -- device code -------------------------------------------------------------------------------

    def _devicecode(self, request: Request, tenant: str) -> Response:
        form = request.form
        app = self._client(form.get("client_id"), tenant)
        scopes = parse_scopes(form.get("scope"), app.delegated_permissions)
        now = time.time()
        device_code = secrets.token_urlsafe(48)
        with self._lock:
            self._prune()
            user_code = self._new_user_code()
            device = DeviceAuth(
                device_code=device_code,
                user_code=user_code,
                tenant=tenant,
                client_id=app.client_id,
                scopes=scopes,
                expires_at=now + self.device_code_lifetime,
                interval=int(self.device_poll_interval),
            )
            self._devices[device_code] = device
            self._user_codes[user_code] = device
        uri = self.device_login_url
        return Response.json(
            HTTPStatus.OK,
            {
                "user_code": user_code,
                "device_code": device_code,
                "verification_uri": uri,
                "expires_in": int(self.device_code_lifetime),
                "interval": device.interval,
                "message": (
                    f"To sign in, use a web browser to open the page {uri} and enter the code "
                    f"{user_code} to authenticate."
                ),
            },
        )

    def _new_user_code(self) -> str:
        while True:
            code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(_USER_CODE_LENGTH))
            if code not in self._user_codes:
                return code

    def _device_login(self, request: Request) -> Response:
        action = "/devicelogin"
        csp = (html.csp_header(),)
        if request.method == "GET":
            prefill = request.query.get("code", "")
            page = html.device_code_page(action=action, user_code=prefill)
            return Response.html(HTTPStatus.OK, page, csp)
        if request.method != "POST":
            return Response.text(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed\n")
        entered = request.form.get("user_code", "")
        code = re.sub(r"[\s-]", "", entered).upper()
        with self._lock:
            device = self._user_codes.get(code)
            app = self._apps.get(device.client_id.lower()) if device else None
            if (
                device is None
                or app is None
                or device.status != "pending"
                or device.expires_at < time.time()
            ):
                page = html.device_code_page(
                    action=action,
                    user_code=entered,
                    error="That code didn't work. Check the code and try again.",
                )
                return Response.html(HTTPStatus.OK, page, csp)
            if self.auto_approve and self._users:
                user = next(iter(self._users.values()))
                try:
                    self._admit(user, app, interactive=True)
                except StsError as failure:
                    return self._finish_device(device, app, user, failure)
                return self._finish_device(device, app, user, None)
            ctx = secrets.token_urlsafe(24)
            self._sign_ins[ctx] = SignInPage(
                tenant=device.tenant, expires_at=device.expires_at, device=device
            )
        return self._sign_in_page(device.tenant, ctx, app, device.scopes, "", None, True)

    def _finish_device(
        self,
        device: DeviceAuth,
        app: ClientApp,
        user: IdentityUser | None,
        failure: StsError | None,
    ) -> Response:
        csp = (html.csp_header(),)
        with self._lock:
            if user is None or failure is not None:
                assert failure is not None
                device.status = "denied"
                device.failure = failure
                if failure.code == 65004:
                    text = f"You have not signed in to {app.name} on your device."
                    page = html.message_page("You declined", text)
                else:
                    page = html.message_page("Sign in", failure.summary, error=True)
                return Response.html(HTTPStatus.OK, page, csp)
            device.status = "approved"
            device.upn = user.upn
            device.auth_time = time.time()
        logger.info("identity: %s approved a device code for %s", user.upn, app.client_id)
        page = html.message_page(
            app.name,
            f"You have signed in to the {app.name} application on your device. "
            "You may now close this window.",
        )
        return Response.html(HTTPStatus.OK, page, csp)

    # -- token endpoint ----------------------------------------------------------------------------

    def _token(self, request: Request, tenant: str) -> Response:
        form = request.form
        grant_type = form.get("grant_type")
        if not grant_type:
            raise errors.missing_parameter("grant_type")
        basic = basic_credentials(request.header("Authorization"))
        client_id = basic[0] if basic else form.get("client_id")
        secret = basic[1] if basic else form.get("client_secret")
        app = self._client(client_id, tenant)
        self._authenticate_client(app, secret or None, grant_type)
        if grant_type == "authorization_code":
            payload = self._grant_code(form, app)
        elif grant_type == "refresh_token":
            payload = self._grant_refresh(form, app)
        elif grant_type == "client_credentials":
            payload = self._grant_client_credentials(form, app, tenant)
        elif grant_type == DEVICE_CODE_GRANT:
            payload = self._grant_device_code(form, app)
        else:
            raise errors.unsupported_grant_type(grant_type)
        return Response.json(HTTPStatus.OK, payload)

    @staticmethod
    def _authenticate_client(app: ClientApp, secret: str | None, grant_type: str) -> None:
        if not app.confidential:
            if secret is not None:
                raise errors.public_client_sent_secret()
            if grant_type == "client_credentials":
                raise errors.secret_required()  # app-only access needs a credential
            return
        if secret is None:
            raise errors.secret_required()
        if not hmac.compare_digest(secret.encode("utf-8"), (app.secret or "").encode("utf-8")):
            raise errors.wrong_secret(app.client_id)

    def _grant_code(self, form: Mapping[str, str], app: ClientApp) -> dict[str, Any]:
        code = form.get("code")
        if not code:
            raise errors.missing_parameter("code")
        now = time.time()
        with self._lock:
            issued = self._codes.get(code)
            if issued is None or issued.client_id.lower() != app.client_id.lower():
                raise errors.malformed("not a code issued to this client", "invalid_grant")
            if issued.redeemed:
                raise errors.code_redeemed()
            if now > issued.expires_at:
                raise errors.code_expired()
            sent_redirect = form.get("redirect_uri", "")
            if sent_redirect != issued.redirect_uri:
                raise errors.reply_address_mismatch(sent_redirect, issued.redirect_uri)
            if issued.code_challenge is not None and not pkce_matches(
                issued.code_challenge, issued.code_challenge_method, form.get("code_verifier")
            ):
                raise errors.pkce_mismatch()
            issued.redeemed = True
            issued.expires_at = now + _TOMBSTONE_LIFETIME
            self._check_not_revoked(issued.upn, issued.auth_time)
            return self._issue(
                app,
                self._existing_user(issued.upn),
                issued.scopes,
                nonce=issued.nonce,
                auth_time=issued.auth_time,
                include_auth_time=issued.max_age,
            )

    def _grant_refresh(self, form: Mapping[str, str], app: ClientApp) -> dict[str, Any]:
        token = form.get("refresh_token")
        if not token:
            raise errors.missing_parameter("refresh_token")
        now = time.time()
        with self._lock:
            self._prune()  # the saved state must not grow with every rotation
            grant = self._refresh.get(token_key(token))
            if grant is None:
                raise errors.malformed("not a refresh token this server issued", "invalid_grant")
            if grant.client_id.lower() != app.client_id.lower():
                raise errors.invalid_grant("the refresh token was issued to another client")
            if grant.superseded:
                raise errors.invalid_grant(
                    "this refresh token was used already and replaced by a newer one: refresh "
                    "tokens rotate, keep the latest"
                )
            self._check_not_revoked(grant.upn, grant.auth_time)
            if now > grant.expires_at:
                raise errors.refresh_token_expired(grant.issued_at, now - grant.issued_at)
            user = self._existing_user(grant.upn)
            try:
                self._admit(user, app, interactive=False)
            except StsError as failure:
                raise failure.as_error("invalid_grant") from None
            scopes = grant.scopes
            if form.get("scope"):
                asked = parse_scopes(form["scope"], app.delegated_permissions)
                names_resource = any(s.lower() not in OIDC_SCOPES for s in form["scope"].split())
                # Entra's refresh tokens serve any resource the user consented to
                scopes = asked if names_resource else dataclasses.replace(scopes, oidc=asked.oidc)
            # Rotation: the grant lives on in the new token only. (Saved by _issue(), with
            # the new grant: one write for both.)
            grant.superseded = True
            grant.expires_at = now + _TOMBSTONE_LIFETIME
            return self._issue(
                app, user, scopes, nonce=None, auth_time=grant.auth_time, refresh=True
            )

    def _grant_client_credentials(
        self, form: Mapping[str, str], app: ClientApp, tenant: str
    ) -> dict[str, Any]:
        if tenant.lower() in ("common", "consumers"):
            raise errors.not_on_common()
        scope = form.get("scope", "").strip()
        if not scope:
            raise errors.missing_parameter("scope")
        if len(scope.split()) != 1 or not scope.endswith("/.default"):
            raise errors.client_credentials_scope(scope)
        resource = scope.removesuffix("/.default")
        lifetime = int(self.access_token_lifetime)
        sp_oid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.tenant_id}/sp/{app.client_id}"))
        token = self._signer.mint(
            app.client_id,
            lifetime=lifetime,
            scopes=(),
            extra_claims={
                "aud": resource,
                "appid": app.client_id,
                "app_displayname": app.name,
                "idtyp": "app",
                "oid": sp_oid,
                "sub": sp_oid,
                # Entra leaves roles out altogether while no admin has consented
                "roles": list(app.app_roles) if app.admin_consented and app.app_roles else None,
                "upn": None,
                "unique_name": None,
                "preferred_username": None,
                "email": None,
                "name": None,
            },
        )
        logger.info("identity: app-only token for %s (%s)", app.client_id, resource)
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }

    def _grant_device_code(self, form: Mapping[str, str], app: ClientApp) -> dict[str, Any]:
        code = form.get("device_code")
        if not code:
            raise errors.missing_parameter("device_code")
        now = time.time()
        with self._lock:
            device = self._devices.get(code)
            if device is None or device.client_id.lower() != app.client_id.lower():
                raise errors.device_code_unknown()
            if device.status == "redeemed":
                raise errors.code_redeemed("a device code is good for one set of tokens")
            if now > device.expires_at:
                raise errors.device_code_expired()
            if device.status == "denied":
                assert device.failure is not None
                # RFC 8628's name for "the user said no"; other failures keep their own
                error = "access_denied" if device.failure.code == 65004 else "invalid_grant"
                raise device.failure.as_error(error)
            if device.status == "pending":
                last, device.last_poll = device.last_poll, now
                # RFC 8628 §3.5: polling faster than the interval earns slow_down and a longer
                # interval. (Some slack: clients sleep the interval, then send.)
                if last is not None and now - last < device.interval * 0.8:
                    device.interval += _SLOW_DOWN_STEP
                    raise errors.slow_down(device.interval)
                raise errors.authorization_pending()
            device.status = "redeemed"
            assert device.upn is not None
            user = self._existing_user(device.upn)
            return self._issue(app, user, device.scopes, nonce=None, auth_time=device.auth_time)

    # -- minting -----------------------------------------------------------------------------------

    def _pairwise_sub(self, app: ClientApp, upn: str) -> str:
        # Entra's sub differs per app for one user; oid is the same everywhere.
        digest = hashlib.sha256(f"{self.tenant_id}:{app.client_id.lower()}:{upn.lower()}".encode())
        return b64url(digest.digest())

    def _issue(
        self,
        app: ClientApp,
        user: IdentityUser,
        scopes: Scopes,
        *,
        nonce: str | None,
        auth_time: float,
        include_auth_time: bool = False,
        refresh: bool = False,
    ) -> dict[str, Any]:
        """A delegated token response, keys in Entra's order; the caller holds the lock."""
        now = time.time()
        lifetime = int(self.access_token_lifetime)
        sub = self._pairwise_sub(app, user.upn)
        access_token = self._signer.mint(
            user.upn,
            lifetime=lifetime,
            scopes=scopes.full,
            now=now,
            extra_claims={
                "aud": scopes.resource,
                "appid": app.client_id,
                "app_displayname": app.name,
                "name": user.display_name,
                "sub": sub,
                "amr": ["pwd"],
            },
        )
        response: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": scopes.granted,
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access_token,
        }
        if "offline_access" in scopes.oidc or refresh:
            token = secrets.token_urlsafe(64)
            self._refresh[token_key(token)] = RefreshGrant(
                client_id=app.client_id,
                upn=user.upn,
                scopes=scopes,
                auth_time=auth_time,
                issued_at=now,
                expires_at=now + self.refresh_token_lifetime,
            )
            self._save_state()
            response["refresh_token"] = token
        oid = self._signer.object_id(user.upn)
        if "openid" in scopes.oidc:
            response["id_token"] = self._id_token(
                app,
                user,
                scopes,
                oid=oid,
                sub=sub,
                now=now,
                nonce=nonce,
                auth_time=auth_time if include_auth_time else None,
            )
        client_info = json.dumps({"uid": oid, "utid": self.tenant_id}, separators=(",", ":"))
        response["client_info"] = b64url(client_info.encode())
        return response

    def _id_token(
        self,
        app: ClientApp,
        user: IdentityUser,
        scopes: Scopes,
        *,
        oid: str,
        sub: str,
        now: float,
        nonce: str | None,
        auth_time: float | None,
    ) -> str:
        claims: dict[str, Any] = {
            "aud": app.client_id,
            "iss": f"{self.base_url}/{self.tenant_id}/v2.0",
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now) + _ID_TOKEN_LIFETIME,
            "name": user.display_name,
            "oid": oid,
            "preferred_username": user.upn,
            "sub": sub,
            "tid": self.tenant_id,
            "ver": "2.0",
        }
        if "email" in scopes.oidc:
            claims["email"] = user.upn
        if nonce is not None:
            claims["nonce"] = nonce
        if auth_time is not None:
            claims["auth_time"] = int(auth_time)
        token: str = jwt.encode(
            claims,
            self._signer.private_key,
            algorithm="RS256",
            headers={"typ": "JWT", "kid": self._signer.kid},
        )
        return token

    # -- housekeeping ------------------------------------------------------------------------------

    def _save_state(self) -> None:
        """Save what outlives a restart (the caller holds the lock, so saves never cross)."""
        state = IdentityState(
            refresh=self._refresh, consents=self._consents, valid_from=self._valid_from
        )
        try:
            self._store.save(state)
        except OSError as exc:
            # Serving on matters more: the sign-in works now, it just may not outlive a
            # restart (unless a later save succeeds: every save writes the whole state).
            logger.error(
                "identity: could not save %s (%s): recent sign-ins may not outlive a restart",
                self._store.path,
                exc.strerror or exc,
            )

    def _prune(self) -> None:
        """Forget expired pages, codes and grants (called with the lock held, now and then).

        Saves nothing: a grant forgotten here is long dead; the next save drops it from the
        file, and an emulator that loads it first prunes it again.
        """
        now = time.time()
        stale = now - _TOMBSTONE_LIFETIME
        for key in [k for k, v in self._sign_ins.items() if v.expires_at < now]:
            del self._sign_ins[key]
        for key in [k for k, v in self._codes.items() if v.expires_at < stale]:
            del self._codes[key]
        for key in [k for k, v in self._refresh.items() if v.expires_at < stale]:
            del self._refresh[key]
        for key in [k for k, v in self._devices.items() if v.expires_at < stale]:
            device = self._devices.pop(key)
            self._user_codes.pop(device.user_code, None)
