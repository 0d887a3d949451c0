"""The token responses: access tokens, refresh tokens and id tokens, with Entra's claims.

Access tokens come from the :class:`~o365imap.sandbox.tokens.TokenSigner`, so a Dovecot built
on the same signer accepts them; id tokens are signed with the same key (``kid`` as in the
JWKS). A refresh token is a random string: the emulator keeps its grant under
:func:`~o365imap.sandbox.identity._store.token_key` of it, never the token itself.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from typing import Any

import jwt

from ._model import ClientApp, IdentityUser, RefreshGrant, Scopes, b64url
from ._platform import Platform
from ._store import token_key

__all__ = ["issue", "issue_app_only"]

_ID_TOKEN_LIFETIME = 3600


def issue(
    platform: Platform,
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
    lifetime = int(platform.settings.access_token_lifetime)
    sub = _pairwise_sub(platform, app, user.upn)
    access_token = platform.signer.mint(
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
        platform.refresh[token_key(token)] = RefreshGrant(
            client_id=app.client_id,
            upn=user.upn,
            scopes=scopes,
            auth_time=auth_time,
            issued_at=now,
            expires_at=now + platform.settings.refresh_token_lifetime,
        )
        platform.save_state()
        response["refresh_token"] = token
    oid = platform.signer.object_id(user.upn)
    if "openid" in scopes.oidc:
        response["id_token"] = _id_token(
            platform,
            app,
            user,
            scopes,
            oid=oid,
            sub=sub,
            now=now,
            nonce=nonce,
            auth_time=auth_time if include_auth_time else None,
        )
    client_info = json.dumps({"uid": oid, "utid": platform.tenant_id}, separators=(",", ":"))
    response["client_info"] = b64url(client_info.encode())
    return response


def issue_app_only(platform: Platform, app: ClientApp, resource: str) -> dict[str, Any]:
    """A client credentials response: the app's own token for ``resource``, no user in it."""
    lifetime = int(platform.settings.access_token_lifetime)
    sp_oid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{platform.tenant_id}/sp/{app.client_id}"))
    token = platform.signer.mint(
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
    return {
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    }


def _pairwise_sub(platform: Platform, app: ClientApp, upn: str) -> str:
    # Entra's sub differs per app for one user; oid is the same everywhere.
    key = f"{platform.tenant_id}:{app.client_id.lower()}:{upn.lower()}"
    return b64url(hashlib.sha256(key.encode()).digest())


def _id_token(
    platform: Platform,
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
        "iss": f"{platform.base_url}/{platform.tenant_id}/v2.0",
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now) + _ID_TOKEN_LIFETIME,
        "name": user.display_name,
        "oid": oid,
        "preferred_username": user.upn,
        "sub": sub,
        "tid": platform.tenant_id,
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
        platform.signer.private_key,
        algorithm="RS256",
        headers={"typ": "JWT", "kid": platform.signer.kid},
    )
    return token
