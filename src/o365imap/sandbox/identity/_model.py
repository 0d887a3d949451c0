"""What the identity emulator knows: app registrations, users, and the grants in flight.

Records and pure rules, no I/O: how Entra splits a ``scope`` parameter, how it matches a
redirect URI, how PKCE is checked. The emulator keeps the mutable records (codes, refresh
grants, device codes) behind its lock; nothing here locks.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, get_args
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit

from . import _errors as errors

__all__ = [
    "APP_ROLE_IMAP",
    "APP_ROLE_SMTP",
    "DEFAULT_DELEGATED",
    "DELEGATED_SMTP_SEND",
    "DEVICE_CODE_GRANT",
    "GRAPH_RESOURCE",
    "OIDC_SCOPES",
    "OUTLOOK_RESOURCE",
    "OUTLOOK_RESOURCE_365",
    "SIGN_IN_AUDIENCES",
    "TENANT_ALIASES",
    "ClientApp",
    "IdentityUser",
    "Scopes",
    "SignInAudience",
    "parse_scopes",
    "pkce_matches",
    "redirect_uri_matches",
]

OUTLOOK_RESOURCE = "https://outlook.office.com"
OUTLOOK_RESOURCE_365 = "https://outlook.office365.com"
GRAPH_RESOURCE = "https://graph.microsoft.com"
APP_ROLE_IMAP = "IMAP.AccessAsApp"
APP_ROLE_SMTP = "SMTP.SendAsApp"  # Office 365 Exchange Online's application permission
DEFAULT_DELEGATED = (f"{OUTLOOK_RESOURCE}/IMAP.AccessAsUser.All",)
# An app that sends asks for this one too (the sandbox's own registration has both).
DELEGATED_SMTP_SEND = f"{OUTLOOK_RESOURCE}/SMTP.Send"
# Scopes that ask for an id token or a refresh token, not for access to a resource.
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# What a path may name instead of the tenant (its id or a domain of its users).
TENANT_ALIASES = ("common", "organizations", "consumers")

# The app manifest's signInAudience ("Supported account types" in the portal).
SignInAudience = Literal[
    "AzureADMyOrg",
    "AzureADMultipleOrgs",
    "AzureADandPersonalMicrosoftAccount",
    "PersonalMicrosoftAccount",
]
SIGN_IN_AUDIENCES: tuple[SignInAudience, ...] = get_args(SignInAudience)

_LOOPBACK_REDIRECT_HOSTS = ("localhost", "127.0.0.1")


@dataclass(frozen=True, slots=True)
class ClientApp:
    """An app registration, as :meth:`IdentityEmulator.register_app` made it."""

    client_id: str
    name: str
    confidential: bool
    secret: str | None = dataclasses.field(repr=False)
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


@dataclass(frozen=True, slots=True)
class Scopes:
    """A scope parameter as Entra reads it: one resource, its scope names, the OpenID ones."""

    resource: str
    names: tuple[str, ...]
    oidc: tuple[str, ...]

    @property
    def full(self) -> list[str]:
        """``https://outlook.office.com/IMAP.AccessAsUser.All``, ...: the token's scopes."""
        return [f"{self.resource}/{name}" for name in self.names]

    @property
    def granted(self) -> str:
        """The token response's ``scope``: full resource scopes, then the OpenID ones."""
        return " ".join([*self.full, *self.oidc])


def parse_scopes(raw: str | None, delegated_permissions: Iterable[str] = ()) -> Scopes:
    """Split ``raw`` as Entra does; ``{resource}/.default`` expands to the app's permissions.

    A bare name (``IMAP.AccessAsUser.All``) is a Microsoft Graph permission, as in Entra: the
    classic mistake that yields a token IMAP refuses. Only OpenID scopes also mean Graph
    (``User.Read``). More than one resource is AADSTS28000.
    """
    if not raw or not raw.split():
        raise errors.missing_parameter("scope")
    oidc: list[str] = []
    resources: dict[str, list[str]] = {}
    for item in dict.fromkeys(raw.split()):
        if item.lower() in OIDC_SCOPES:
            oidc.append(item.lower())
            continue
        resource, _, name = item.rpartition("/") if "/" in item else (GRAPH_RESOURCE, "", item)
        if not name or not resource:
            raise errors.invalid_scope(item)
        resources.setdefault(resource.rstrip("/"), []).append(name)
    if len(resources) > 1:
        raise errors.several_resources(raw)
    if not resources:
        return Scopes(GRAPH_RESOURCE, ("User.Read",), tuple(oidc))
    ((resource, names),) = resources.items()
    expanded: list[str] = []
    prefix = f"{resource}/"
    for name in names:
        if name == ".default":
            expanded += [
                p.removeprefix(prefix) for p in delegated_permissions if p.startswith(prefix)
            ]
        else:
            expanded.append(name)
    return Scopes(resource, tuple(dict.fromkeys(expanded)), tuple(oidc))


def split_uri(uri: str) -> tuple[str, str, int | None, str, str] | None:
    """(scheme, host, port, path, query) of an absolute URI without fragment, else None."""
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
    reg, req = split_uri(registered), split_uri(requested)
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


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_matches(challenge: str, method: str, verifier: str | None) -> bool:
    """RFC 7636 §4.6: does ``verifier`` answer ``challenge`` (method ``S256`` or ``plain``)?"""
    if not verifier:
        return False
    if method == "S256":
        computed = b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
    else:
        computed = verifier
    return hmac.compare_digest(computed.encode(), challenge.encode())


def with_params(uri: str, params: Mapping[str, str], *, fragment: bool = False) -> str:
    """``uri`` with ``params`` added to its query (kept) or put in its fragment."""
    parts = urlsplit(uri)
    encoded = urlencode(params)
    if fragment:
        return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, encoded))
    query = f"{parts.query}&{encoded}" if parts.query else encoded
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(client id, secret) from an ``Authorization: Basic`` header, or None."""
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


# -- grants in flight (mutable; the emulator's lock guards them) ---------------------------------


@dataclass(slots=True)
class AuthRequest:
    """A validated authorize request, waiting for its user to sign in."""

    tenant: str
    client_id: str
    redirect_uri: str
    response_mode: str
    state: str | None
    scopes: Scopes
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str
    login_hint: str
    prompt: str | None
    max_age: bool


@dataclass(slots=True)
class DeviceAuth:
    """A device code between ``/devicecode`` and the tokens."""

    device_code: str
    user_code: str
    tenant: str
    client_id: str
    scopes: Scopes
    expires_at: float
    interval: int
    last_poll: float | None = None
    status: Literal["pending", "approved", "denied", "redeemed"] = "pending"
    upn: str | None = None
    auth_time: float = 0.0
    failure: errors.StsError | None = None


@dataclass(slots=True)
class SignInPage:
    """A sign-in form in a browser; its ``ctx`` field comes back with the POST."""

    tenant: str
    expires_at: float
    request: AuthRequest | None = None
    device: DeviceAuth | None = None

    @property
    def target(self) -> tuple[str, Scopes]:
        """(client id, scopes) of the request this page signs in for."""
        source = self.request if self.request is not None else self.device
        assert source is not None
        return source.client_id, source.scopes


@dataclass(slots=True)
class IssuedCode:
    client_id: str
    upn: str
    scopes: Scopes
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str
    nonce: str | None
    auth_time: float
    expires_at: float
    max_age: bool
    redeemed: bool = False


@dataclass(slots=True)
class RefreshGrant:
    client_id: str
    upn: str
    scopes: Scopes
    auth_time: float  # the interactive sign-in it descends from (what revoke() compares)
    issued_at: float
    expires_at: float
    superseded: bool = False
