"""Which endpoint answers a request, and in which shape its errors go back.

Paths are ``/{tenant}/<endpoint>`` (the tenant checked first: an alias, the tenant id, or a
domain of its users), plus ``/devicelogin`` and the index page ``/``. An
:class:`~o365imap.sandbox.identity._errors.StsError` raised by an endpoint a browser opens
(authorize, the sign-in form's POST, logout) becomes an error page; from the others, JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path

from ..httpd import Request, Response
from . import _device as device
from . import _discovery as discovery
from ._authorize import authorize
from ._errors import StsError
from ._platform import Platform
from ._replies import error_page, json_error
from ._signin import login
from ._token import token

__all__ = ["Router"]

_Endpoint = Callable[[Platform, Request, str], Response]

_ROUTES: dict[tuple[str, str], _Endpoint] = {
    ("GET", "v2.0/.well-known/openid-configuration"): discovery.openid_configuration,
    ("GET", "discovery/v2.0/keys"): discovery.keys,
    ("GET", "oauth2/v2.0/authorize"): authorize,
    ("POST", "login"): login,
    ("POST", "oauth2/v2.0/token"): token,
    ("POST", "oauth2/v2.0/devicecode"): device.start,
    ("GET", "oauth2/v2.0/logout"): discovery.logout,
}
_PATHS = frozenset(path for _, path in _ROUTES)
_FOR_BROWSERS = frozenset({"oauth2/v2.0/authorize", "login", "oauth2/v2.0/logout"})


class Router:
    """The HTTP server's handler: a request in, the endpoint's response (or error) out."""

    def __init__(self, platform: Platform, ca_file: Path) -> None:
        self._platform = platform
        self._ca_file = ca_file

    def __call__(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        if not parts:
            if request.method != "GET":
                return Response.text(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed\n")
            return discovery.index(self._platform, self._ca_file)
        if parts == ["devicelogin"]:
            return device.device_login(self._platform, request)
        tenant, rest = parts[0], "/".join(parts[1:])
        endpoint = _ROUTES.get((request.method, rest))
        if endpoint is None:
            if rest in _PATHS:
                return Response.text(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed\n")
            return Response.text(HTTPStatus.NOT_FOUND, "not found\n")
        try:
            self._platform.check_tenant(tenant)
            return endpoint(self._platform, request, tenant)
        except StsError as failure:
            if rest in _FOR_BROWSERS:
                return error_page(failure, request)
            return json_error(failure, request)
