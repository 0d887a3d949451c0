"""How the emulator answers, in Entra's shapes: JSON errors, error pages, the way back to the app.

An :class:`~o365imap.sandbox.identity._errors.StsError` is shown as JSON to programs (token and
device code endpoints: ``error``, ``error_description`` with trace lines, ``error_codes``), as
an error page in a browser while the redirect URI is not trusted yet, and as a redirect (or a
``form_post`` page) back to the app once it is. Every page carries the same Content Security
Policy.
"""

from __future__ import annotations

import logging
import time
import uuid
from http import HTTPStatus

from ..httpd import Request, Response
from . import _html as html
from ._errors import StsError, stamp
from ._model import ClientApp, Scopes, with_params

__all__ = [
    "error_page",
    "json_error",
    "page",
    "redirect_error",
    "respond_to_app",
    "sign_in_page",
]

logger = logging.getLogger(__name__)


def page(text: str, status: int = HTTPStatus.OK) -> Response:
    """An HTML page of the emulator's, with its Content Security Policy."""
    return Response.html(status, text, (html.csp_header(),))


def _correlation_id(request: Request) -> str:
    # msal sends client-request-id; Entra answers with it as the correlation id.
    sent = request.header("client-request-id")
    if sent:
        try:
            return str(uuid.UUID(sent))
        except ValueError:
            pass
    return str(uuid.uuid4())


def _description(failure: StsError, correlation_id: str, trace_id: str) -> str:
    return (
        f"{failure.summary}\r\nTrace ID: {trace_id}\r\n"
        f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp(time.time())}"
    )


def json_error(failure: StsError, request: Request) -> Response:
    """The answer of the endpoints programs call (token, device code, discovery)."""
    logger.info("identity: %s %s -> %s", request.method, request.path, failure.summary)
    trace_id = str(uuid.uuid4())
    correlation_id = _correlation_id(request)
    payload = {
        "error": failure.error,
        "error_description": _description(failure, correlation_id, trace_id),
        "error_codes": [failure.code],
        "timestamp": stamp(time.time()),
        "trace_id": trace_id,
        "correlation_id": correlation_id,
    }
    return Response.json(failure.status, payload)


def error_page(failure: StsError, request: Request) -> Response:
    """The answer in a browser before the redirect URI is trusted (or with no app to go back to)."""
    logger.info("identity: %s %s -> %s", request.method, request.path, failure.summary)
    text = html.error_page(
        title="Sorry, but we're having trouble signing you in.",
        description=failure.summary,
        details={
            "Request Id": str(uuid.uuid4()),
            "Correlation Id": _correlation_id(request),
            "Timestamp": stamp(time.time()),
        },
        code=failure.code,
    )
    return page(text, failure.status)


def redirect_error(
    failure: StsError, redirect_uri: str, response_mode: str, state: str | None
) -> Response:
    """The answer in a browser once the redirect URI is trusted: the error goes to the app."""
    logger.info("identity: authorize -> %s", failure.summary)
    params = {
        "error": failure.error,
        "error_description": _description(failure, str(uuid.uuid4()), str(uuid.uuid4())),
    }
    if state is not None:
        params["state"] = state
    return respond_to_app(redirect_uri, response_mode, params)


def respond_to_app(redirect_uri: str, response_mode: str, params: dict[str, str]) -> Response:
    """``params`` to the app: in the query, in the fragment, or in a self-posting form."""
    if response_mode == "form_post":
        nonce = html.new_nonce()
        text = html.form_post_page(redirect_uri, params, nonce)
        return Response.html(HTTPStatus.OK, text, (html.csp_header(nonce),))
    location = with_params(redirect_uri, params, fragment=response_mode == "fragment")
    return Response.redirect(location)


def sign_in_page(
    tenant: str,
    ctx: str,
    app: ClientApp,
    scopes: Scopes,
    username: str,
    error: str | None,
    needs_consent: bool,
) -> Response:
    """The sign-in form (and consent list) for ``app``; it posts to ``/{tenant}/login``."""
    text = html.sign_in_page(
        action=f"/{tenant}/login",
        ctx=ctx,
        app_name=app.name,
        client_id=app.client_id,
        scopes=[*scopes.full, *scopes.oidc],
        username=username,
        error=error,
        needs_consent=needs_consent,
    )
    return page(text)
