"""The device code flow (RFC 8628): codes handed out, entered in a browser, approved, redeemed.

``POST /{tenant}/oauth2/v2.0/devicecode`` starts a flow: a device code for the program and a
user code for the person (:func:`start`). The person enters the user code at ``/devicelogin``
(:func:`device_login`) and signs in on the same form as the authorize endpoint's (its POST is
:mod:`~o365imap.sandbox.identity._signin`'s), or at once with ``auto_approve``. Meanwhile the
program polls ``grant_type=device_code`` (:func:`redeem_device_code`): pending, slow down,
denied, expired, or tokens, once.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from ..httpd import Request, Response
from . import _errors as errors
from . import _html as html
from ._errors import StsError
from ._minting import issue
from ._model import ClientApp, DeviceAuth, IdentityUser, SignInPage, parse_scopes
from ._platform import Platform
from ._replies import page, sign_in_page

__all__ = ["device_login", "finish_device", "redeem_device_code", "start"]

logger = logging.getLogger(__name__)

# Entra's user codes: 9 characters from an alphabet without look-alikes.
_USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_USER_CODE_LENGTH = 9
_SLOW_DOWN_STEP = 5  # RFC 8628 §3.5
_ACTION = "/devicelogin"


def start(platform: Platform, request: Request, tenant: str) -> Response:
    """``POST /{tenant}/oauth2/v2.0/devicecode``."""
    form = request.form
    app = platform.client(form.get("client_id"), tenant)
    scopes = parse_scopes(form.get("scope"), app.delegated_permissions)
    now = time.time()
    device_code = secrets.token_urlsafe(48)
    settings = platform.settings
    with platform.lock:
        platform.prune()
        user_code = _new_user_code(platform)
        device = DeviceAuth(
            device_code=device_code,
            user_code=user_code,
            tenant=tenant,
            client_id=app.client_id,
            scopes=scopes,
            expires_at=now + settings.device_code_lifetime,
            interval=int(settings.device_poll_interval),
        )
        platform.devices[device_code] = device
        platform.user_codes[user_code] = device
    uri = platform.device_login_url
    return Response.json(
        HTTPStatus.OK,
        {
            "user_code": user_code,
            "device_code": device_code,
            "verification_uri": uri,
            "expires_in": int(settings.device_code_lifetime),
            "interval": device.interval,
            "message": (
                f"To sign in, use a web browser to open the page {uri} and enter the code "
                f"{user_code} to authenticate."
            ),
        },
    )


def _new_user_code(platform: Platform) -> str:
    while True:
        code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(_USER_CODE_LENGTH))
        if code not in platform.user_codes:
            return code


def device_login(platform: Platform, request: Request) -> Response:
    """``GET|POST /devicelogin``: the page where a person enters the user code."""
    if request.method == "GET":
        prefill = request.query.get("code", "")
        return page(html.device_code_page(action=_ACTION, user_code=prefill))
    if request.method != "POST":
        return Response.text(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed\n")
    entered = request.form.get("user_code", "")
    code = re.sub(r"[\s-]", "", entered).upper()
    with platform.lock:
        device = platform.user_codes.get(code)
        app = platform.apps.get(device.client_id.lower()) if device else None
        if (
            device is None
            or app is None
            or device.status != "pending"
            or device.expires_at < time.time()
        ):
            text = html.device_code_page(
                action=_ACTION,
                user_code=entered,
                error="That code didn't work. Check the code and try again.",
            )
            return page(text)
        if platform.settings.auto_approve and platform.users:
            user = next(iter(platform.users.values()))
            try:
                platform.admit(user, app, interactive=True)
            except StsError as failure:
                return finish_device(platform, device, app, user, failure)
            return finish_device(platform, device, app, user, None)
        ctx = secrets.token_urlsafe(24)
        platform.sign_ins[ctx] = SignInPage(
            tenant=device.tenant, expires_at=device.expires_at, device=device
        )
    return sign_in_page(device.tenant, ctx, app, device.scopes, "", None, True)


def finish_device(
    platform: Platform,
    device: DeviceAuth,
    app: ClientApp,
    user: IdentityUser | None,
    failure: StsError | None,
) -> Response:
    """Approve (``user``) or deny (``failure``) ``device``, and tell the person so."""
    with platform.lock:
        if user is None or failure is not None:
            assert failure is not None
            device.status = "denied"
            device.failure = failure
            if failure.code == 65004:
                text = f"You have not signed in to {app.name} on your device."
                return page(html.message_page("You declined", text))
            return page(html.message_page("Sign in", failure.summary, error=True))
        device.status = "approved"
        device.upn = user.upn
        device.auth_time = time.time()
    logger.info("identity: %s approved a device code for %s", user.upn, app.client_id)
    text = html.message_page(
        app.name,
        f"You have signed in to the {app.name} application on your device. "
        "You may now close this window.",
    )
    return page(text)


def redeem_device_code(
    platform: Platform, form: Mapping[str, str], app: ClientApp
) -> dict[str, Any]:
    """``grant_type=device_code``: the program's poll, answered as RFC 8628 §3.5 says."""
    code = form.get("device_code")
    if not code:
        raise errors.missing_parameter("device_code")
    now = time.time()
    with platform.lock:
        device = platform.devices.get(code)
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
        user = platform.existing_user(device.upn)
        return issue(platform, app, user, device.scopes, nonce=None, auth_time=device.auth_time)
