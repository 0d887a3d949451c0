"""The token endpoint: who the client is, then one grant per ``grant_type``.

``POST /{tenant}/oauth2/v2.0/token`` authenticates the client (a confidential app by its
secret, in the form or in ``Authorization: Basic``; a public client must send none) and hands
the form to its grant: ``authorization_code``
(:func:`~o365imap.sandbox.identity._authorize.redeem_code`), ``device_code``
(:func:`~o365imap.sandbox.identity._device.redeem_device_code`), and the two that belong to no
sign-in flow, kept here: ``refresh_token`` (rotation: the old token stops working, where Entra
keeps it valid) and ``client_credentials`` (the app's own token).
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import time
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from ..httpd import Request, Response
from . import _errors as errors
from ._authorize import redeem_code
from ._device import redeem_device_code
from ._errors import StsError
from ._minting import issue, issue_app_only
from ._model import DEVICE_CODE_GRANT, OIDC_SCOPES, ClientApp, basic_credentials, parse_scopes
from ._platform import TOMBSTONE_LIFETIME, Platform
from ._store import token_key

__all__ = ["token"]

logger = logging.getLogger(__name__)


def token(platform: Platform, request: Request, tenant: str) -> Response:
    """``POST /{tenant}/oauth2/v2.0/token``."""
    form = request.form
    grant_type = form.get("grant_type")
    if not grant_type:
        raise errors.missing_parameter("grant_type")
    basic = basic_credentials(request.header("Authorization"))
    client_id = basic[0] if basic else form.get("client_id")
    secret = basic[1] if basic else form.get("client_secret")
    app = platform.client(client_id, tenant)
    _authenticate_client(app, secret or None, grant_type)
    if grant_type == "authorization_code":
        payload = redeem_code(platform, form, app)
    elif grant_type == "refresh_token":
        payload = _refresh(platform, form, app)
    elif grant_type == "client_credentials":
        payload = _client_credentials(platform, form, app, tenant)
    elif grant_type == DEVICE_CODE_GRANT:
        payload = redeem_device_code(platform, form, app)
    else:
        raise errors.unsupported_grant_type(grant_type)
    return Response.json(HTTPStatus.OK, payload)


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


def _refresh(platform: Platform, form: Mapping[str, str], app: ClientApp) -> dict[str, Any]:
    """``grant_type=refresh_token``: new tokens, and a new refresh token in place of the old."""
    token = form.get("refresh_token")
    if not token:
        raise errors.missing_parameter("refresh_token")
    now = time.time()
    with platform.lock:
        platform.prune()  # the saved state must not grow with every rotation
        grant = platform.refresh.get(token_key(token))
        if grant is None:
            raise errors.malformed("not a refresh token this server issued", "invalid_grant")
        if grant.client_id.lower() != app.client_id.lower():
            raise errors.invalid_grant("the refresh token was issued to another client")
        if grant.superseded:
            raise errors.invalid_grant(
                "this refresh token was used already and replaced by a newer one: refresh "
                "tokens rotate, keep the latest"
            )
        platform.check_not_revoked(grant.upn, grant.auth_time)
        if now > grant.expires_at:
            raise errors.refresh_token_expired(grant.issued_at, now - grant.issued_at)
        user = platform.existing_user(grant.upn)
        try:
            platform.admit(user, app, interactive=False)
        except StsError as failure:
            raise failure.as_error("invalid_grant") from None
        scopes = grant.scopes
        if form.get("scope"):
            asked = parse_scopes(form["scope"], app.delegated_permissions)
            names_resource = any(s.lower() not in OIDC_SCOPES for s in form["scope"].split())
            # Entra's refresh tokens serve any resource the user consented to, for the
            # permissions consented: the grant's own and the app's configured ones. Anything
            # more needs an interactive sign-in (AADSTS65001 as invalid_grant).
            consented = {s.lower() for s in (*grant.scopes.full, *app.delegated_permissions)}
            if names_resource and any(s.lower() not in consented for s in asked.full):
                raise errors.consent_required(app.client_id, app.name).as_error("invalid_grant")
            scopes = asked if names_resource else dataclasses.replace(scopes, oidc=asked.oidc)
        # Rotation: the grant lives on in the new token only. (Saved by issue(), with the
        # new grant: one write for both.)
        grant.superseded = True
        grant.expires_at = now + TOMBSTONE_LIFETIME
        return issue(
            platform, app, user, scopes, nonce=None, auth_time=grant.auth_time, refresh=True
        )


def _client_credentials(
    platform: Platform, form: Mapping[str, str], app: ClientApp, tenant: str
) -> dict[str, Any]:
    """``grant_type=client_credentials``: the app's own token for ``{resource}/.default``."""
    if tenant.lower() in ("common", "consumers"):
        raise errors.not_on_common()
    scope = form.get("scope", "").strip()
    if not scope:
        raise errors.missing_parameter("scope")
    if len(scope.split()) != 1 or not scope.endswith("/.default"):
        raise errors.client_credentials_scope(scope)
    resource = scope.removesuffix("/.default")
    response = issue_app_only(platform, app, resource)
    logger.info("identity: app-only token for %s (%s)", app.client_id, resource)
    return response
