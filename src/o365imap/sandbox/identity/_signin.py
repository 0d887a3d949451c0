"""The sign-in form's POST (``/{tenant}/login``), shared by the authorize and device code flows.

The form (shown by :mod:`~o365imap.sandbox.identity._authorize` or
:mod:`~o365imap.sandbox.identity._device`) comes back with its ``ctx``, a user name and
password, and ``action=accept|cancel``. A wrong name or password shows the form again, as Entra
does; otherwise MFA and consent are checked and the flow the page belongs to ends: with a code
(or an error) for the app, or with the device code approved (or denied).
"""

from __future__ import annotations

import hmac
import time
from http import HTTPStatus

from ..httpd import Request, Response
from . import _errors as errors
from . import _html as html
from ._authorize import finish_with_code
from ._device import finish_device
from ._errors import StsError
from ._model import ClientApp, IdentityUser, SignInPage
from ._platform import Platform
from ._replies import page, redirect_error, sign_in_page

__all__ = ["login"]


def login(platform: Platform, request: Request, tenant: str) -> Response:
    """``POST /{tenant}/login``."""
    form = request.form
    ctx = form.get("ctx", "")
    with platform.lock:
        sign_in = platform.sign_ins.get(ctx)
        if sign_in is None or sign_in.expires_at < time.time():
            platform.sign_ins.pop(ctx, None)
            text = html.message_page(
                "This sign-in page has expired",
                "Start the sign-in again from the application.",
                error=True,
            )
            return page(text, HTTPStatus.BAD_REQUEST)
        client_id, scopes = sign_in.target
        app = platform.apps.get(client_id.lower())
        if app is None:
            del platform.sign_ins[ctx]
            raise errors.unknown_client(client_id, platform.tenant_id)
        if form.get("action", "accept") == "cancel":
            del platform.sign_ins[ctx]
            return _end_sign_in(platform, sign_in, app, None, errors.user_declined())
        username = form.get("username", "").strip()
        user = platform.users.get(username.lower())
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
            needs_consent = user is None or not platform.has_consent(user, app)
            return sign_in_page(sign_in.tenant, ctx, app, scopes, username, error, needs_consent)
        del platform.sign_ins[ctx]
        try:
            platform.admit(user, app, interactive=True)
        except StsError as failure:
            return _end_sign_in(platform, sign_in, app, user, failure)
        return _end_sign_in(platform, sign_in, app, user, None)


def _end_sign_in(
    platform: Platform,
    sign_in: SignInPage,
    app: ClientApp,
    user: IdentityUser | None,
    failure: StsError | None,
) -> Response:
    if sign_in.request is not None:
        auth = sign_in.request
        if user is None or failure is not None:
            assert failure is not None
            return redirect_error(failure, auth.redirect_uri, auth.response_mode, auth.state)
        return finish_with_code(platform, auth, user)
    assert sign_in.device is not None
    return finish_device(platform, sign_in.device, app, user, failure)
