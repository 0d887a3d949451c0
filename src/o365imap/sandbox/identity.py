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

import base64
import dataclasses
import datetime as dt
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
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, get_args
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit

import jwt

from . import identity_html as html
from .httpd import LoopbackHTTPSServer, Request, Response
from .tls import make_certificates
from .tokens import TokenSigner

__all__ = [
    "APP_ROLE_IMAP",
    "DEVICE_CODE_GRANT",
    "GRAPH_RESOURCE",
    "OUTLOOK_RESOURCE",
    "OUTLOOK_RESOURCE_365",
    "TENANT_ALIASES",
    "ClientApp",
    "IdentityEmulator",
    "IdentityUser",
    "SignInAudience",
]

logger = logging.getLogger(__name__)

OUTLOOK_RESOURCE = "https://outlook.office.com"
OUTLOOK_RESOURCE_365 = "https://outlook.office365.com"
GRAPH_RESOURCE = "https://graph.microsoft.com"
APP_ROLE_IMAP = "IMAP.AccessAsApp"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
TENANT_ALIASES = ("common", "organizations", "consumers")
# Scopes that ask for an id token or a refresh token, not for access to a resource.
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
DEFAULT_DELEGATED = (f"{OUTLOOK_RESOURCE}/IMAP.AccessAsUser.All",)

# The sign-in audiences of Entra's app manifest ("Supported account types" in the portal).
SignInAudience = Literal[
    "AzureADMyOrg",
    "AzureADMultipleOrgs",
    "AzureADandPersonalMicrosoftAccount",
    "PersonalMicrosoftAccount",
]
AZURE_AD_MY_ORG: SignInAudience = "AzureADMyOrg"
AZURE_AD_MULTIPLE_ORGS: SignInAudience = "AzureADMultipleOrgs"
AZURE_AD_AND_PERSONAL: SignInAudience = "AzureADandPersonalMicrosoftAccount"
PERSONAL_ONLY: SignInAudience = "PersonalMicrosoftAccount"
_AUDIENCES: tuple[SignInAudience, ...] = get_args(SignInAudience)

_ID_TOKEN_LIFETIME = 3600
_SIGN_IN_PAGE_LIFETIME = 3600
# A rotated-out refresh token or a redeemed code is remembered this long, to answer
# "already used" (AADSTS54005) instead of "unknown".
_TOMBSTONE_LIFETIME = 24 * 3600
# Entra's user codes: 9 characters from an alphabet without look-alikes.
_USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_USER_CODE_LENGTH = 9
_SLOW_DOWN_STEP = 5  # RFC 8628 §3.5
_LOOPBACK_REDIRECT_HOSTS = ("localhost", "127.0.0.1")
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


# -- public records --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientApp:
    """An app registration, as :meth:`IdentityEmulator.register_app` made it."""

    client_id: str
    name: str
    confidential: bool
    secret: str | None
    redirect_uris: tuple[str, ...]
    sign_in_audience: SignInAudience
    user_consent_allowed: bool
    admin_consented: bool
    delegated_permissions: tuple[str, ...]
    app_roles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IdentityUser:
    """A user of the emulated tenant, as :meth:`IdentityEmulator.add_user` made it."""

    upn: str
    password: str = dataclasses.field(repr=False)
    display_name: str
    mfa_required: bool
    consented: bool


# -- internal state --------------------------------------------------------------------------


class _StsError(Exception):
    """An Entra error: ``error`` (OAuth's word), AADSTS ``code``, text and HTTP status."""

    def __init__(self, error: str, code: int, message: str, status: int = 400) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.error = error
        self.code = code
        self.message = message
        self.status = status

    @property
    def summary(self) -> str:
        return f"AADSTS{self.code}: {self.message}"


@dataclass(frozen=True, slots=True)
class _Scopes:
    """A scope parameter split as Entra splits it: one resource, its scopes, the OIDC ones."""

    resource: str
    names: tuple[str, ...]
    oidc: tuple[str, ...]

    @property
    def full(self) -> list[str]:
        return [f"{self.resource}/{name}" for name in self.names]

    @property
    def granted(self) -> str:
        return " ".join([*self.full, *self.oidc])


@dataclass(slots=True)
class _AuthRequest:
    tenant: str
    client_id: str
    redirect_uri: str
    response_mode: str
    state: str | None
    scopes: _Scopes
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str
    login_hint: str
    prompt: str | None
    max_age: bool


@dataclass(slots=True)
class _DeviceAuth:
    device_code: str
    user_code: str
    tenant: str
    client_id: str
    scopes: _Scopes
    expires_at: float
    interval: int
    last_poll: float | None = None
    status: str = "pending"  # pending | approved | denied | redeemed
    upn: str | None = None
    auth_time: float = 0.0
    failure: _StsError | None = None


@dataclass(slots=True)
class _SignIn:
    """A sign-in page in a browser; its ``ctx`` comes back with the form."""

    tenant: str
    expires_at: float
    request: _AuthRequest | None = None
    device: _DeviceAuth | None = None

    @property
    def target(self) -> tuple[str, _Scopes]:
        """(client id, scopes) of the request this page signs in for."""
        source = self.request if self.request is not None else self.device
        assert source is not None
        return source.client_id, source.scopes


@dataclass(slots=True)
class _Code:
    client_id: str
    upn: str
    scopes: _Scopes
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str
    nonce: str | None
    auth_time: float
    expires_at: float
    max_age: bool
    redeemed: bool = False


@dataclass(slots=True)
class _RefreshGrant:
    client_id: str
    upn: str
    scopes: _Scopes
    auth_time: float  # the interactive sign-in it descends from (what revoke() compares)
    issued_at: float
    expires_at: float
    superseded: bool = False


# -- helpers -----------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _now_stamp(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _split_redirect(uri: str) -> tuple[str, str, int | None, str, str] | None:
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname or parts.fragment:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port, parts.path or "/", parts.query


def redirect_uri_matches(registered: str, requested: str) -> bool:
    """Entra's rule: exact match, except that an ``http`` loopback redirect ignores the port.

    ``http://localhost`` registered matches ``http://localhost:<any port>`` and
    ``http://127.0.0.1:<any port>`` with the same path (Microsoft: "Redirect URI restrictions",
    localhost exceptions). Scheme and host compare case-insensitively, path and query exactly.
    """
    reg, req = _split_redirect(registered), _split_redirect(requested)
    if reg is None or req is None:
        return False
    reg_scheme, reg_host, reg_port, reg_path, reg_query = reg
    req_scheme, req_host, req_port, req_path, req_query = req
    if (reg_scheme, reg_path, reg_query) != (req_scheme, req_path, req_query):
        return False
    if (
        reg_scheme == "http"
        and reg_host in _LOOPBACK_REDIRECT_HOSTS
        and req_host in _LOOPBACK_REDIRECT_HOSTS
    ):
        return True
    return (reg_host, reg_port) == (req_host, req_port)


def _pkce_ok(challenge: str, method: str, verifier: str | None) -> bool:
    if not verifier:
        return False
    if method == "S256":
        computed = _b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
    else:
        computed = verifier
    return hmac.compare_digest(computed.encode(), challenge.encode())


def _with_params(uri: str, params: Mapping[str, str], *, fragment: bool = False) -> str:
    parts = urlsplit(uri)
    encoded = urlencode(params)
    if fragment:
        return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, encoded))
    query = f"{parts.query}&{encoded}" if parts.query else encoded
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    # RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
    return unquote_plus(user), unquote_plus(password)


# -- the emulator ------------------------------------------------------------------------------


class IdentityEmulator:
    """The Microsoft identity platform on ``https://127.0.0.1:PORT``, for msal and browsers.

    ``root`` holds the TLS files (``root/tls/ca.pem`` is the CA to trust, kept across restarts)
    and, unless ``signer`` is given, the signing key ``root/signing-key.pem``. Register apps
    and add users before or after :meth:`start`. Lifetimes (seconds) are plain attributes
    that may be changed while running: ``access_token_lifetime``, ``refresh_token_lifetime``
    (inactivity), ``code_lifetime``, ``device_code_lifetime`` and ``device_poll_interval``.
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
        self._lock = threading.RLock()
        self._apps: dict[str, ClientApp] = {}
        self._users: dict[str, IdentityUser] = {}
        self._consents: set[tuple[str, str]] = set()
        self._valid_from: dict[str, float] = {}
        self._sign_ins: dict[str, _SignIn] = {}
        self._codes: dict[str, _Code] = {}
        self._refresh: dict[str, _RefreshGrant] = {}
        self._devices: dict[str, _DeviceAuth] = {}
        self._user_codes: dict[str, _DeviceAuth] = {}

    # -- lifecycle and addresses ---------------------------------------------------------------

    def start(self) -> IdentityEmulator:
        self._http.start()
        logger.info("identity emulator listening on %s", self.base_url)
        return self

    def stop(self) -> None:
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
        sign_in_audience: SignInAudience = AZURE_AD_AND_PERSONAL,
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
        ``user_consent_allowed=False`` with ``admin_consented=False`` is a tenant that blocks
        user consent (AADSTS90094); ``admin_consented`` also grants ``app_roles`` to
        client-credentials tokens. ``delegated_permissions`` are what ``{resource}/.default``
        expands to in delegated flows.
        """
        if sign_in_audience not in _AUDIENCES:
            raise ValueError(f"sign_in_audience must be one of {', '.join(_AUDIENCES)}")
        uris = tuple(redirect_uris)
        for uri in uris:
            if _split_redirect(uri) is None:
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

        A user without it sees the consent list and must Accept; a silent sign-in
        (``prompt=none``) or a refresh then fails with AADSTS65001. ``mfa_required`` users are
        refused with AADSTS50076 (the emulator asks for no second factor).
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

    def revoke_consent(self, upn: str, client_id: str) -> None:
        """Withdraw a user's consent ("My Apps"): the app's refresh tokens fail with 65001."""
        with self._lock:
            user = self._user(upn)
            self._consents.discard((user.upn.lower(), client_id.lower()))
            if user.consented:
                self._users[upn.lower()] = dataclasses.replace(user, consented=False)

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
        return count

    def revoke(self, user: str) -> None:
        """Revoke every grant of ``user`` (a password reset): their refresh tokens and unused
        codes fail with AADSTS50173. Access tokens already issued stay valid until they expire,
        as Entra's do."""
        with self._lock:
            self._valid_from[user.lower()] = time.time()

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

    def _revoked(self, upn: str, since: float) -> bool:
        valid_from = self._valid_from.get(upn.lower())
        return valid_from is not None and since < valid_from

    def _domains(self) -> set[str]:
        return {upn.split("@", 1)[1] for upn in self._users}

    # -- errors ------------------------------------------------------------------------------------

    def _error_payload(self, failure: _StsError, request: Request) -> dict[str, Any]:
        now = time.time()
        stamp = _now_stamp(now)
        trace_id = str(uuid.uuid4())
        correlation_id = self._correlation_id(request)
        return {
            "error": failure.error,
            "error_description": (
                f"{failure.summary}\r\nTrace ID: {trace_id}\r\n"
                f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}"
            ),
            "error_codes": [failure.code],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
        }

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

    def _json_error(self, failure: _StsError, request: Request) -> Response:
        logger.info("identity: %s %s -> %s", request.method, request.path, failure.summary)
        return Response.json(failure.status, self._error_payload(failure, request))

    def _error_page(self, failure: _StsError, request: Request) -> Response:
        logger.info("identity: %s %s -> %s", request.method, request.path, failure.summary)
        details = {
            "Request Id": str(uuid.uuid4()),
            "Correlation Id": self._correlation_id(request),
            "Timestamp": _now_stamp(time.time()),
        }
        page = html.error_page(
            title="Sorry, but we're having trouble signing you in.",
            description=failure.summary,
            details=details,
            code=failure.code,
        )
        return Response.html(failure.status, page, (html.csp_header(),))

    # -- routing -----------------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        method = request.method
        if not parts:
            return self._index() if method == "GET" else Response.text(405, "method not allowed\n")
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
        handler = routes.get((method, rest))
        if handler is None:
            if any(path == rest for _, path in routes):
                return Response.text(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed\n")
            return Response.text(HTTPStatus.NOT_FOUND, "not found\n")
        json_errors = rest not in ("oauth2/v2.0/authorize", "login", "oauth2/v2.0/logout")
        try:
            self._check_tenant(tenant)
            return handler(request, tenant)
        except _StsError as failure:
            if json_errors:
                return self._json_error(failure, request)
            return self._error_page(failure, request)

    def _check_tenant(self, tenant: str) -> None:
        if tenant.lower() in TENANT_ALIASES or tenant.lower() == self.tenant_id.lower():
            return
        with self._lock:
            if tenant.lower() in self._domains():
                return
        shown = tenant if _TENANT_RE.match(tenant) else "(invalid)"
        raise _StsError(
            "invalid_tenant",
            90002,
            f"Tenant '{shown}' not found. Check to make sure you have the correct tenant ID and "
            "are signing into the correct cloud. Check with your subscription administrator, "
            "this may happen if there are no active subscriptions for the tenant.",
        )

    @staticmethod
    def _check_audience(tenant: str, app: ClientApp) -> None:
        alias = tenant.lower()
        if app.sign_in_audience == AZURE_AD_MY_ORG and alias in ("common", "organizations"):
            raise _StsError(
                "invalid_request",
                50194,
                f"Application '{app.client_id}'({app.name}) is not configured as a "
                "multi-tenant application. Usage of the /common endpoint is not supported for "
                "such applications created after '10/15/2018'. Use a tenant-specific endpoint "
                "or configure the application to be multi-tenant.",
            )
        if alias == "consumers" and app.sign_in_audience in (
            AZURE_AD_MY_ORG,
            AZURE_AD_MULTIPLE_ORGS,
        ):
            raise _StsError(
                "invalid_request",
                9002332,
                f"Application '{app.client_id}'({app.name}) is configured for use by Azure "
                "Active Directory users only. Please do not use the /consumers endpoint to "
                "serve this request.",
            )
        if app.sign_in_audience == PERSONAL_ONLY and alias not in ("common", "consumers"):
            raise _StsError(
                "invalid_request",
                9002331,
                f"Application '{app.client_id}'({app.name}) is configured for use by Microsoft "
                "Account users only. Please use the /consumers endpoint to serve this request.",
            )

    def _client(self, client_id: str | None, tenant: str, *, error: str) -> ClientApp:
        if not client_id:
            raise _StsError(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            )
        with self._lock:
            app = self._apps.get(client_id.lower())
        if app is None:
            directory = tenant if tenant.lower() not in TENANT_ALIASES else self.tenant_id
            raise _StsError(
                error,
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{directory}'. This can happen if the application has not been installed by "
                "the administrator of the tenant or consented to by any user in the tenant. "
                "You may have sent your authentication request to the wrong tenant.",
            )
        self._check_audience(tenant, app)
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
                "tenant_region_scope": "EU",
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
        return Response.html(
            HTTPStatus.OK, html.index_page("Identity platform emulator", rows), (html.csp_header(),)
        )

    def _logout(self, request: Request, tenant: str) -> Response:
        page = html.message_page(
            "You signed out of your account", "It's a good idea to close all browser windows."
        )
        return Response.html(HTTPStatus.OK, page, (html.csp_header(),))

    # -- scopes ------------------------------------------------------------------------------------

    def _parse_scopes(self, raw: str | None, app: ClientApp) -> _Scopes:
        if not raw or not raw.split():
            raise _StsError(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'scope'.",
            )
        oidc: list[str] = []
        resources: dict[str, list[str]] = {}
        for item in dict.fromkeys(raw.split()):
            if item.lower() in OIDC_SCOPES:
                oidc.append(item.lower())
                continue
            if "/" in item:
                resource, name = item.rsplit("/", 1)
            else:
                # Entra reads a bare scope name as a Microsoft Graph permission: a classic
                # mistake ("IMAP.AccessAsUser.All" alone) that gives a token IMAP refuses.
                resource, name = GRAPH_RESOURCE, item
            if not name:
                raise _StsError(
                    "invalid_scope",
                    70011,
                    f"The provided value for the input parameter 'scope' is not valid. "
                    f"The scope '{item}' is not valid.",
                )
            resources.setdefault(resource.rstrip("/"), []).append(name)
        if len(resources) > 1:
            raise _StsError(
                "invalid_scope",
                28000,
                "Provided value for the input parameter scope is not valid because it contains "
                f"more than one resource. Scope {raw} is not valid.",
            )
        if not resources:
            # Only OpenID scopes: Entra then issues a Microsoft Graph token.
            return _Scopes(GRAPH_RESOURCE, ("User.Read",), tuple(oidc))
        ((resource, names),) = resources.items()
        expanded: list[str] = []
        for name in names:
            if name == ".default":
                prefix = f"{resource}/"
                expanded += [
                    p[len(prefix) :] for p in app.delegated_permissions if p.startswith(prefix)
                ]
            else:
                expanded.append(name)
        return _Scopes(resource, tuple(dict.fromkeys(expanded)), tuple(oidc))

    # -- authorize ---------------------------------------------------------------------------------

    def _authorize(self, request: Request, tenant: str) -> Response:
        q = request.query
        app = self._client(q.get("client_id"), tenant, error="unauthorized_client")
        redirect_uri = q.get("redirect_uri")
        if not redirect_uri:
            raise _StsError(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'redirect_uri'.",
            )
        if not any(redirect_uri_matches(r, redirect_uri) for r in app.redirect_uris):
            raise _StsError(
                "invalid_request",
                50011,
                f"The redirect URI '{redirect_uri}' specified in the request does not match the "
                f"redirect URIs configured for the application '{app.client_id}'. Make sure the "
                "redirect URI sent in the request matches one added to your application in the "
                "Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more "
                "about how to fix this.",
            )
        response_mode = q.get("response_mode") or "query"
        if response_mode not in ("query", "fragment", "form_post"):
            raise _StsError(
                "invalid_request",
                9002313,
                f"Invalid request. The response_mode '{response_mode}' is not supported; use "
                "query, fragment or form_post.",
            )
        state = q.get("state")
        # From here on the redirect URI is trusted: errors go back to the app.
        try:
            auth = self._auth_request(q, tenant, app, redirect_uri, response_mode)
        except _StsError as failure:
            return self._redirect_error(failure, redirect_uri, response_mode, state)
        silent = auth.prompt == "none"
        if self.auto_approve or silent:
            return self._approve_without_form(auth, app, request, silent=silent)
        ctx = secrets.token_urlsafe(24)
        with self._lock:
            self._prune()
            self._sign_ins[ctx] = _SignIn(
                tenant=tenant, expires_at=time.time() + _SIGN_IN_PAGE_LIFETIME, request=auth
            )
            user = self._users.get(auth.login_hint.lower()) if auth.login_hint else None
            needs_consent = user is None or not self._has_consent(user, app)
        return self._sign_in_page(
            tenant, ctx, app, auth.scopes, auth.login_hint, None, needs_consent
        )

    def _auth_request(
        self,
        q: Mapping[str, str],
        tenant: str,
        app: ClientApp,
        redirect_uri: str,
        response_mode: str,
    ) -> _AuthRequest:
        response_type = q.get("response_type")
        if response_type != "code":
            raise _StsError(
                "unsupported_response_type",
                700054,
                f"response_type '{response_type or ''}' is not enabled for the application. "
                "The emulator supports the authorization code grant (response_type=code).",
            )
        scopes = self._parse_scopes(q.get("scope"), app)
        challenge = q.get("code_challenge") or None
        method = q.get("code_challenge_method") or "plain"
        if challenge is not None:
            if method not in ("S256", "plain"):
                raise _StsError(
                    "invalid_request",
                    9002313,
                    f"Invalid request. code_challenge_method '{method}' is not supported; use "
                    "S256 or plain.",
                )
            if not 43 <= len(challenge) <= 128:
                raise _StsError(
                    "invalid_request", 501491, "Invalid size of Code_Challenge parameter."
                )
        return _AuthRequest(
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

    def _approve_without_form(
        self, auth: _AuthRequest, app: ClientApp, request: Request, *, silent: bool
    ) -> Response:
        with self._lock:
            user: IdentityUser | None
            if auth.login_hint:
                user = self._users.get(auth.login_hint.lower())
                if user is None:
                    failure = _StsError(
                        "invalid_request" if not silent else "login_required",
                        50034,
                        f"The user account {auth.login_hint} does not exist in the "
                        f"{self.tenant_id} directory. To sign into this application, the "
                        "account must be added to the directory.",
                    )
                    return self._finish_with_error(auth, failure)
            elif silent and len(self._users) != 1:
                failure = _StsError(
                    "login_required",
                    50058,
                    "A silent sign-in request was sent but no user is signed in.",
                )
                return self._finish_with_error(auth, failure)
            else:
                user = next(iter(self._users.values()), None)
                if user is None:
                    failure = _StsError(
                        "login_required",
                        50058,
                        "A silent sign-in request was sent but no user is signed in (the "
                        "emulator has no users).",
                    )
                    return self._finish_with_error(auth, failure)
            try:
                self._admit(user, app, interactive=not silent, accept=True)
            except _StsError as failure:
                return self._finish_with_error(auth, failure)
            return self._finish_with_code(auth, user)

    def _admit(
        self, user: IdentityUser, app: ClientApp, *, interactive: bool, accept: bool
    ) -> None:
        """Everything after the password: MFA, consent. Raises what Entra would answer."""
        if user.mfa_required:
            raise _StsError(
                "interaction_required",
                50076,
                "Due to a configuration change made by your administrator, or because you moved "
                "to a new location, you must use multi-factor authentication to access "
                f"'{app.client_id}'.",
            )
        if self._has_consent(user, app):
            return
        if not interactive:
            raise _StsError(
                "consent_required",
                65001,
                f"The user or administrator has not consented to use the application with ID "
                f"'{app.client_id}' named '{app.name}'. Send an interactive authorization "
                "request for this user and resource.",
            )
        if not app.user_consent_allowed:
            raise _StsError(
                "access_denied",
                90094,
                f"The grant requires admin permission. An administrator of the tenant must "
                f"consent to '{app.name}' before its users can sign in.",
            )
        if accept:
            self._consents.add((user.upn.lower(), app.client_id.lower()))

    def _finish_with_code(self, auth: _AuthRequest, user: IdentityUser) -> Response:
        now = time.time()
        code = secrets.token_urlsafe(48)
        with self._lock:
            self._codes[code] = _Code(
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

    def _finish_with_error(self, auth: _AuthRequest, failure: _StsError) -> Response:
        return self._redirect_error(failure, auth.redirect_uri, auth.response_mode, auth.state)

    def _redirect_error(
        self, failure: _StsError, redirect_uri: str, response_mode: str, state: str | None
    ) -> Response:
        logger.info("identity: authorize -> %s", failure.summary)
        now = time.time()
        params = {
            "error": failure.error,
            "error_description": (
                f"{failure.summary}\r\nTrace ID: {uuid.uuid4()}\r\n"
                f"Correlation ID: {uuid.uuid4()}\r\nTimestamp: {_now_stamp(now)}"
            ),
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
        location = _with_params(redirect_uri, params, fragment=response_mode == "fragment")
        return Response.redirect(location)

    def _sign_in_page(
        self,
        tenant: str,
        ctx: str,
        app: ClientApp,
        scopes: _Scopes,
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
                raise _StsError(
                    "unauthorized_client",
                    700016,
                    f"Application with identifier '{client_id}' was not found in the directory.",
                )
            if form.get("action", "accept") == "cancel":
                del self._sign_ins[ctx]
                declined = _StsError(
                    "access_denied", 65004, "User declined to consent to access the app."
                )
                return self._end_sign_in(sign_in, app, None, declined)
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
                self._admit(user, app, interactive=True, accept=True)
            except _StsError as failure:
                return self._end_sign_in(sign_in, app, user, failure)
            return self._end_sign_in(sign_in, app, user, None)

    def _end_sign_in(
        self,
        sign_in: _SignIn,
        app: ClientApp,
        user: IdentityUser | None,
        failure: _StsError | None,
    ) -> Response:
        if sign_in.request is not None:
            if failure is not None or user is None:
                assert failure is not None
                return self._finish_with_error(sign_in.request, failure)
            return self._finish_with_code(sign_in.request, user)
        device = sign_in.device
        assert device is not None
        return self._finish_device(device, app, user, failure)

    # -- device code -------------------------------------------------------------------------------

    def _devicecode(self, request: Request, tenant: str) -> Response:
        form = request.form
        app = self._client(form.get("client_id"), tenant, error="unauthorized_client")
        scopes = self._parse_scopes(form.get("scope"), app)
        now = time.time()
        device_code = secrets.token_urlsafe(48)
        with self._lock:
            self._prune()
            user_code = self._new_user_code()
            device = _DeviceAuth(
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
            return Response.html(
                HTTPStatus.OK, html.device_code_page(action=action, user_code=prefill), csp
            )
        if request.method != "POST":
            return Response.text(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed\n")
        entered = request.form.get("user_code", "")
        code = re.sub(r"[\s-]", "", entered).upper()
        with self._lock:
            device = self._user_codes.get(code)
            if device is None or device.status != "pending" or device.expires_at < time.time():
                page = html.device_code_page(
                    action=action,
                    user_code=entered,
                    error="That code didn't work. Check the code and try again.",
                )
                return Response.html(HTTPStatus.OK, page, csp)
            app = self._apps.get(device.client_id.lower())
            if app is None:
                return Response.html(
                    HTTPStatus.BAD_REQUEST,
                    html.message_page(
                        "Sign in", "The application is no longer registered.", error=True
                    ),
                    csp,
                )
            if self.auto_approve and self._users:
                user = next(iter(self._users.values()))
                try:
                    self._admit(user, app, interactive=True, accept=True)
                except _StsError as failure:
                    return self._finish_device(device, app, user, failure)
                return self._finish_device(device, app, user, None)
            ctx = secrets.token_urlsafe(24)
            self._sign_ins[ctx] = _SignIn(
                tenant=device.tenant, expires_at=device.expires_at, device=device
            )
        return self._sign_in_page(device.tenant, ctx, app, device.scopes, "", None, True)

    def _finish_device(
        self,
        device: _DeviceAuth,
        app: ClientApp,
        user: IdentityUser | None,
        failure: _StsError | None,
    ) -> Response:
        csp = (html.csp_header(),)
        with self._lock:
            if failure is not None or user is None:
                device.status = "denied"
                device.failure = failure
                assert failure is not None
                if failure.code == 65004:
                    page = html.message_page(
                        "You declined", f"You have not signed in to {app.name} on your device."
                    )
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
            raise _StsError(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            )
        basic = _basic_credentials(request.header("Authorization"))
        client_id = basic[0] if basic else form.get("client_id")
        secret = basic[1] if basic else form.get("client_secret")
        app = self._client(client_id, tenant, error="unauthorized_client")
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
            raise _StsError(
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
        return Response.json(HTTPStatus.OK, payload)

    @staticmethod
    def _authenticate_client(app: ClientApp, secret: str | None, grant_type: str) -> None:
        if not app.confidential:
            if secret is not None:
                raise _StsError(
                    "invalid_client",
                    700025,
                    "Client is public so neither 'client_assertion' nor 'client_secret' "
                    "should be presented.",
                    HTTPStatus.UNAUTHORIZED,
                )
            if grant_type == "client_credentials":
                raise _StsError(
                    "invalid_client",
                    7000218,
                    "The request body must contain the following parameter: 'client_assertion' "
                    "or 'client_secret'.",
                    HTTPStatus.UNAUTHORIZED,
                )
            return
        if secret is None:
            raise _StsError(
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
                HTTPStatus.UNAUTHORIZED,
            )
        expected = (app.secret or "").encode("utf-8")
        if not hmac.compare_digest(secret.encode("utf-8"), expected):
            raise _StsError(
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app "
                f"'{app.client_id}'.",
                HTTPStatus.UNAUTHORIZED,
            )

    def _grant_code(self, form: Mapping[str, str], app: ClientApp) -> dict[str, Any]:
        code = form.get("code")
        if not code:
            raise _StsError(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'code'.",
            )
        now = time.time()
        with self._lock:
            record = self._codes.get(code)
            if record is None or record.client_id.lower() != app.client_id.lower():
                raise _StsError(
                    "invalid_grant",
                    9002313,
                    "Invalid request. Request is malformed or invalid. (The authorization code "
                    "is not one this server issued to this client.)",
                )
            if record.redeemed:
                raise _StsError(
                    "invalid_grant",
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new "
                    "valid code or use an existing refresh token.",
                )
            if now > record.expires_at:
                raise _StsError(
                    "invalid_grant",
                    70008,
                    "The provided authorization code or refresh token has expired due to "
                    "inactivity. Send a new interactive authorization request for this user and "
                    "resource.",
                )
            sent_redirect = form.get("redirect_uri", "")
            if sent_redirect != record.redirect_uri:
                raise _StsError(
                    "invalid_grant",
                    500112,
                    f"The reply address '{sent_redirect}' does not match the reply address "
                    f"'{record.redirect_uri}' provided when requesting Authorization code.",
                )
            if record.code_challenge is not None and not _pkce_ok(
                record.code_challenge, record.code_challenge_method, form.get("code_verifier")
            ):
                raise _StsError(
                    "invalid_grant",
                    501481,
                    "The Code_Verifier does not match the code_challenge supplied in the "
                    "authorization request.",
                )
            record.redeemed = True
            record.expires_at = now + _TOMBSTONE_LIFETIME
            if self._revoked(record.upn, record.auth_time):
                raise self._revoked_error(record.upn, record.auth_time)
            user = self._users.get(record.upn.lower())
            if user is None:
                raise self._no_user(record.upn)
            return self._issue(
                app,
                user,
                record.scopes,
                nonce=record.nonce,
                auth_time=record.auth_time,
                include_auth_time=record.max_age,
            )

    def _grant_refresh(self, form: Mapping[str, str], app: ClientApp) -> dict[str, Any]:
        token = form.get("refresh_token")
        if not token:
            raise _StsError(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'refresh_token'.",
            )
        now = time.time()
        with self._lock:
            grant = self._refresh.get(token)
            if grant is None:
                raise _StsError(
                    "invalid_grant",
                    9002313,
                    "Invalid request. Request is malformed or invalid. (Not a refresh token "
                    "this server issued.)",
                )
            if grant.client_id.lower() != app.client_id.lower():
                raise _StsError(
                    "invalid_grant",
                    70000,
                    "Provided grant is invalid or malformed. (The refresh token was issued to "
                    "another client.)",
                )
            if grant.superseded:
                raise _StsError(
                    "invalid_grant",
                    70000,
                    "Provided grant is invalid or malformed. (This refresh token was already "
                    "used and replaced by a newer one: refresh tokens rotate, keep the latest.)",
                )
            if self._revoked(grant.upn, grant.auth_time):
                raise self._revoked_error(grant.upn, grant.auth_time)
            if now > grant.expires_at:
                issued = _now_stamp(grant.issued_at)
                idle = dt.timedelta(seconds=round(now - grant.issued_at))
                raise _StsError(
                    "invalid_grant",
                    700082,
                    f"The refresh token has expired due to inactivity. The token was issued on "
                    f"{issued} and was inactive for {idle}.",
                )
            user = self._users.get(grant.upn.lower())
            if user is None:
                raise self._no_user(grant.upn)
            try:
                self._admit(user, app, interactive=False, accept=False)
            except _StsError as failure:
                raise _StsError("invalid_grant", failure.code, failure.message) from None
            scopes = grant.scopes
            if form.get("scope"):
                asked = self._parse_scopes(form["scope"], app)
                has_resource = any(s.lower() not in OIDC_SCOPES for s in form["scope"].split())
                scopes = (
                    asked if has_resource else dataclasses.replace(grant.scopes, oidc=asked.oidc)
                )
            # Rotation: the grant lives on in the new token only.
            grant.superseded = True
            grant.expires_at = now + _TOMBSTONE_LIFETIME
            return self._issue(
                app, user, scopes, nonce=None, auth_time=grant.auth_time, refresh=True
            )

    def _grant_client_credentials(
        self, form: Mapping[str, str], app: ClientApp, tenant: str
    ) -> dict[str, Any]:
        if tenant.lower() in ("common", "consumers"):
            raise _StsError(
                "invalid_request",
                9001023,
                "The grant type is not supported over the /common or /consumers endpoints. "
                "Please use the /organizations or tenant-specific endpoint.",
            )
        scope = form.get("scope", "").strip()
        if not scope:
            raise _StsError(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'scope'.",
            )
        if len(scope.split()) != 1 or not scope.endswith("/.default"):
            raise _StsError(
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows "
                "must have a scope value with /.default suffixed to the resource identifier "
                "(application ID URI).",
            )
        resource = scope[: -len("/.default")]
        lifetime = int(self.access_token_lifetime)
        roles = list(app.app_roles) if app.admin_consented else []
        sp_oid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.tenant_id}/sp/{app.client_id}"))
        claims: dict[str, Any] = {
            "aud": resource,
            "appid": app.client_id,
            "app_displayname": app.name,
            "idtyp": "app",
            "oid": sp_oid,
            "sub": sp_oid,
            "roles": roles or None,  # no roles claim at all without admin consent, as Entra
            "upn": None,
            "unique_name": None,
            "preferred_username": None,
            "email": None,
            "name": None,
        }
        token = self._signer.mint(app.client_id, lifetime=lifetime, scopes=(), extra_claims=claims)
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
            raise _StsError(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'device_code'.",
            )
        now = time.time()
        with self._lock:
            device = self._devices.get(code)
            if device is None or device.client_id.lower() != app.client_id.lower():
                raise _StsError(
                    "bad_verification_code",
                    70000,
                    "Provided grant is invalid or malformed. (The device_code was not recognized.)",
                )
            if device.status == "redeemed":
                raise _StsError(
                    "invalid_grant",
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new "
                    "valid code or use an existing refresh token. (A device code is good for "
                    "one set of tokens.)",
                )
            if now > device.expires_at:
                raise _StsError(
                    "expired_token",
                    70020,
                    "The provided value for the input parameter 'device_code' is not valid. "
                    "This device code has expired.",
                )
            if device.status == "denied":
                failure = device.failure
                assert failure is not None
                error = "access_denied" if failure.code == 65004 else "invalid_grant"
                raise _StsError(error, failure.code, failure.message)
            if device.status == "pending":
                last, device.last_poll = device.last_poll, now
                # RFC 8628 §3.5: polling faster than the interval earns slow_down and a
                # longer interval. (A little slack: clients sleep, then send.)
                if last is not None and now - last < device.interval * 0.8:
                    device.interval += _SLOW_DOWN_STEP
                    raise _StsError(
                        "slow_down",
                        70016,
                        "OAuth 2.0 device flow error. Polling too fast: wait "
                        f"{device.interval} seconds between requests.",
                    )
                raise _StsError(
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                )
            device.status = "redeemed"
            assert device.upn is not None
            user = self._users.get(device.upn.lower())
            if user is None:
                raise self._no_user(device.upn)
            return self._issue(app, user, device.scopes, nonce=None, auth_time=device.auth_time)

    def _revoked_error(self, upn: str, issued: float) -> _StsError:
        valid_from = self._valid_from.get(upn.lower(), issued)
        return _StsError(
            "invalid_grant",
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is "
            "needed. The user might have changed or reset their password. The grant was issued "
            f"on '{_now_stamp(issued)}' and the TokensValidFrom date (before which tokens are "
            f"not valid) for this user is '{_now_stamp(valid_from)}'.",
        )

    def _no_user(self, upn: str) -> _StsError:
        return _StsError(
            "invalid_grant",
            50034,
            f"The user account {upn} does not exist in the {self.tenant_id} directory.",
        )

    # -- minting -----------------------------------------------------------------------------------

    def _pairwise_sub(self, app: ClientApp, upn: str) -> str:
        # Entra's sub differs per app for one user; oid is the same everywhere.
        digest = hashlib.sha256(f"{self.tenant_id}:{app.client_id.lower()}:{upn.lower()}".encode())
        return _b64url(digest.digest())

    def _issue(
        self,
        app: ClientApp,
        user: IdentityUser,
        scopes: _Scopes,
        *,
        nonce: str | None,
        auth_time: float,
        include_auth_time: bool = False,
        refresh: bool = False,
    ) -> dict[str, Any]:
        """A delegated token response; the caller holds the lock."""
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
            self._refresh[token] = _RefreshGrant(
                client_id=app.client_id,
                upn=user.upn,
                scopes=scopes,
                auth_time=auth_time,
                issued_at=now,
                expires_at=now + self.refresh_token_lifetime,
            )
            response["refresh_token"] = token
        oid = self._signer.object_id(user.upn)
        if "openid" in scopes.oidc:
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
            if include_auth_time:
                claims["auth_time"] = int(auth_time)
            response["id_token"] = jwt.encode(
                claims,
                self._signer.private_key,
                algorithm="RS256",
                headers={"typ": "JWT", "kid": self._signer.kid},
            )
        client_info = json.dumps({"uid": oid, "utid": self.tenant_id}, separators=(",", ":"))
        response["client_info"] = _b64url(client_info.encode())
        return response

    # -- housekeeping ------------------------------------------------------------------------------

    def _prune(self) -> None:
        """Forget expired pages, codes and grants (called with the lock held, now and then)."""
        now = time.time()
        for key in [k for k, v in self._sign_ins.items() if v.expires_at < now]:
            del self._sign_ins[key]
        for key in [k for k, v in self._codes.items() if v.expires_at + _TOMBSTONE_LIFETIME < now]:
            del self._codes[key]
        stale = now - _TOMBSTONE_LIFETIME
        for key in [k for k, v in self._refresh.items() if v.expires_at < stale]:
            del self._refresh[key]
        for key in [k for k, v in self._devices.items() if v.expires_at < stale]:
            device = self._devices.pop(key)
            self._user_codes.pop(device.user_code, None)
