"""What the emulator says about itself: OpenID discovery, the signing key, and plain pages.

msal reads ``/{tenant}/v2.0/.well-known/openid-configuration`` before its first request and the
JWKS to check id tokens; both answer as Entra's do, with the tenant-independent issuer
(``{tenantid}``) under ``common``, ``organizations`` and ``consumers``. The index page (``/``)
is for people who open the address by hand; the logout page is where ``end_session`` lands.
"""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path

from ..httpd import Request, Response
from . import _html as html
from ._model import DEVICE_CODE_GRANT, OIDC_SCOPES, TENANT_ALIASES
from ._platform import Platform
from ._replies import page

__all__ = ["index", "keys", "logout", "openid_configuration"]


def _issuer(platform: Platform, tenant: str) -> str:
    tid = platform.tenant_id if tenant.lower() not in TENANT_ALIASES else "{tenantid}"
    return f"{platform.base_url}/{tid}/v2.0"


def openid_configuration(platform: Platform, request: Request, tenant: str) -> Response:
    """``GET /{tenant}/v2.0/.well-known/openid-configuration``, as msal reads it."""
    base = platform.authority(tenant)
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
            "issuer": _issuer(platform, tenant),
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


def keys(platform: Platform, request: Request, tenant: str) -> Response:
    """``GET /{tenant}/discovery/v2.0/keys``: the signing key as a JWKS."""
    key = dict(platform.signer.jwk())
    key["issuer"] = _issuer(platform, tenant)
    return Response.json(HTTPStatus.OK, {"keys": [key]})


def index(platform: Platform, ca_file: Path) -> Response:
    """``GET /``: the addresses to hand a client, and who is registered."""
    rows = [
        ("Authority (work accounts)", platform.authority("organizations")),
        ("Authority (this tenant)", platform.authority(platform.tenant_id)),
        ("Device login", platform.device_login_url),
        ("CA certificate", str(ca_file)),
    ]
    with platform.lock:
        rows += [(f"App: {a.name}", a.client_id) for a in platform.apps.values()]
        rows += [("User", u.upn) for u in platform.users.values()]
    return page(html.index_page("Identity platform emulator", rows))


def logout(platform: Platform, request: Request, tenant: str) -> Response:
    """``GET /{tenant}/oauth2/v2.0/logout``: signs nobody out (there is no session)."""
    return page(
        html.message_page(
            "You signed out of your account", "It's a good idea to close all browser windows."
        )
    )
