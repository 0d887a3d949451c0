"""The authorization code flow with PKCE: the authorize endpoint issues codes, a grant redeems them.

``GET /{tenant}/oauth2/v2.0/authorize`` checks the app and its redirect URI (errors until then
are pages: the URI is not trusted yet; after, they go back to the app), then shows the sign-in
form (:mod:`~o365imap.sandbox.identity._signin` takes its POST) or, with ``auto_approve`` or
``prompt=none``, signs in without one. A signed-in user goes back to the app with a code;
``grant_type=authorization_code`` at the token endpoint trades it, once, for tokens
(:func:`redeem_code`), checking the redirect URI and the PKCE verifier.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping
from typing import Any

from ..httpd import Request, Response
from . import _errors as errors
from ._errors import StsError
from ._minting import issue
from ._model import (
    AuthRequest,
    ClientApp,
    IdentityUser,
    IssuedCode,
    SignInPage,
    parse_scopes,
    pkce_matches,
    redirect_uri_matches,
)
from ._platform import TOMBSTONE_LIFETIME, Platform
from ._replies import redirect_error, respond_to_app, sign_in_page

__all__ = ["authorize", "finish_with_code", "redeem_code"]

logger = logging.getLogger(__name__)

_SIGN_IN_PAGE_LIFETIME = 3600


def authorize(platform: Platform, request: Request, tenant: str) -> Response:
    """``GET /{tenant}/oauth2/v2.0/authorize``."""
    q = request.query
    app = platform.client(q.get("client_id"), tenant)
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
        auth = _auth_request(q, tenant, app, redirect_uri, response_mode)
    except StsError as failure:
        return redirect_error(failure, redirect_uri, response_mode, q.get("state"))
    silent = auth.prompt == "none"
    if platform.settings.auto_approve or silent:
        return _approve_without_form(platform, auth, app, silent=silent)
    ctx = secrets.token_urlsafe(24)
    with platform.lock:
        platform.prune()
        platform.sign_ins[ctx] = SignInPage(
            tenant=tenant, expires_at=time.time() + _SIGN_IN_PAGE_LIFETIME, request=auth
        )
        user = platform.users.get(auth.login_hint.lower()) if auth.login_hint else None
        needs_consent = user is None or not platform.has_consent(user, app)
    return sign_in_page(tenant, ctx, app, auth.scopes, auth.login_hint, None, needs_consent)


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


def _approve_without_form(
    platform: Platform, auth: AuthRequest, app: ClientApp, *, silent: bool
) -> Response:
    with platform.lock:
        try:
            if auth.login_hint:
                error = "login_required" if silent else "invalid_request"
                user = platform.users.get(auth.login_hint.lower())
                if user is None:
                    raise errors.unknown_user(auth.login_hint, platform.tenant_id, error)
            elif silent and len(platform.users) > 1:
                raise errors.no_signed_in_user("several users, and no login_hint")
            else:
                user = next(iter(platform.users.values()), None)
                if user is None:
                    raise errors.no_signed_in_user("the emulator has no users")
            platform.admit(user, app, interactive=not silent)
        except StsError as failure:
            return redirect_error(failure, auth.redirect_uri, auth.response_mode, auth.state)
        return finish_with_code(platform, auth, user)


def finish_with_code(platform: Platform, auth: AuthRequest, user: IdentityUser) -> Response:
    """Back to the app with a new code for ``user``: the end of a sign-in that succeeded."""
    now = time.time()
    code = secrets.token_urlsafe(48)
    with platform.lock:
        platform.codes[code] = IssuedCode(
            client_id=auth.client_id,
            upn=user.upn,
            scopes=auth.scopes,
            redirect_uri=auth.redirect_uri,
            code_challenge=auth.code_challenge,
            code_challenge_method=auth.code_challenge_method,
            nonce=auth.nonce,
            auth_time=now,
            expires_at=now + platform.settings.code_lifetime,
            max_age=auth.max_age,
        )
    logger.info("identity: %s signed in to %s", user.upn, auth.client_id)
    params = {"code": code}
    if auth.state is not None:
        params["state"] = auth.state
    return respond_to_app(auth.redirect_uri, auth.response_mode, params)


def redeem_code(platform: Platform, form: Mapping[str, str], app: ClientApp) -> dict[str, Any]:
    """``grant_type=authorization_code``: tokens for a code, once, with its PKCE verifier."""
    code = form.get("code")
    if not code:
        raise errors.missing_parameter("code")
    now = time.time()
    with platform.lock:
        issued = platform.codes.get(code)
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
        issued.expires_at = now + TOMBSTONE_LIFETIME
        platform.check_not_revoked(issued.upn, issued.auth_time)
        return issue(
            platform,
            app,
            platform.existing_user(issued.upn),
            issued.scopes,
            nonce=issued.nonce,
            auth_time=issued.auth_time,
            include_auth_time=issued.max_age,
        )
