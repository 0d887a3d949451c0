"""The loopback listener that receives the browser's redirect after sign-in.

RFC 8252 section 7.3: a native app listens on the loopback interface on a port of its choosing
and registers ``http://localhost`` (Microsoft ignores the port when matching it). We bind both
127.0.0.1 and ::1 on the same free port because browsers resolve ``localhost`` either way. A
redirect with another state is answered "failed" and ignored (something else on this machine
is guessing); an error without any state ends the wait when it reads as the platform's
refusal (an OAuth error code, an AADSTS description). Waiting ends on success, on an error,
on the timeout, or on Ctrl-C: never hangs.

Connections are served side by side from one select loop, so a browser's preconnect that
never sends a request (or anything slow) cannot hold up the redirect behind it; each one is
dropped at its own deadline, never later than the end of the wait. Request heads are capped
at 32 KB and bodies at 64 KB: this is a local port any program can reach.

The redirect carrying the code is answered only once the caller knows how the sign-in ended
(:meth:`Redirect.respond`): the browser says "successful" after the code was redeemed, or
shows why it was not. An error redirect is answered at once: there is nothing to redeem.

The response may come as a POST form (``response_mode=form_post``, what msal asks for) or as a
GET query; both are taken.
"""

from __future__ import annotations

import contextlib
import errno
import html
import logging
import re
import secrets
import selectors
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus

from o365imap.errors import SignInCancelled, SignInTimeout

__all__ = ["LoopbackListener", "Redirect"]

log = logging.getLogger("o365imap.auth")

MAX_HEAD = 32 * 1024  # request line and headers (cookies for localhost can add up)
MAX_BODY = 64 * 1024  # the form post: code, state, session state
_MAX_OPEN = 16  # connections held at once; the oldest goes first
_IDLE = 30.0  # seconds a connection may take to send its request
_SEND = 5.0  # seconds to hand a short page to the browser
_LENGTH = re.compile(r"[0-9]{1,9}")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>o365imap: {title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:4em auto;max-width:34em;color:#222}}
h1{{font-size:1.4em}} .ok{{color:#107c10}} .bad{{color:#a4262c}}</style></head>
<body><h1 class="{css}">{heading}</h1><p>{text}</p></body></html>
"""


def _page(ok: bool, reason: str = "") -> bytes:
    if ok:
        body = _PAGE.format(
            title="signed in",
            css="ok",
            heading="Authorization successful",
            text="You can close this tab and go back to the terminal.",
        )
    else:
        body = _PAGE.format(
            title="sign-in failed",
            css="bad",
            heading="Authorization failed",
            text=html.escape(
                f"Authorization failed: {reason.rstrip('.')}. The terminal says what to do next; "
                "you can close this tab."
            ),
        )
    return body.encode("utf-8")


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


# The error codes of an authorization response (RFC 6749 4.1.2.1, OpenID Connect Core 3.1.2.6,
# and Microsoft's additions), and the AADSTS code every Microsoft description starts with.
_OAUTH_ERRORS = frozenset(
    {
        "invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type",
        "invalid_scope", "server_error", "temporarily_unavailable", "invalid_client",
        "invalid_resource", "interaction_required", "login_required", "consent_required",
        "account_selection_required",
    }
)  # fmt: skip
_AADSTS = re.compile(r"AADSTS[0-9]+:")


def _platform_refusal(params: dict[str, str]) -> bool:
    """Whether a redirect without state reads as the identity platform's refusal: a
    registered error code and a description that opens with its AADSTS code."""
    return params.get("error") in _OAUTH_ERRORS and bool(
        _AADSTS.match(_first_line(params.get("error_description", "")))
    )


def _send(conn: socket.socket, status: int, body: bytes, content_type: str) -> None:
    """Write a whole response and close; a browser that went away is no error of ours."""
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n\r\n"
    )
    with conn, contextlib.suppress(OSError):
        conn.settimeout(_SEND)
        conn.sendall(head.encode("ascii") + body)


def _send_page(conn: socket.socket, status: int, ok: bool, reason: str = "") -> None:
    _send(conn, status, _page(ok, reason), "text/html; charset=utf-8")


@dataclass
class Redirect:
    """What the identity platform sent back: code and state, or an error.

    A redirect with a code holds the browser's connection until :meth:`respond` (or the
    listener's close) answers it.
    """

    params: dict[str, str] = field(default_factory=dict)
    _conn: socket.socket | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:  # the params carry the authorization code: names only
        return f"Redirect(keys={sorted(self.params)}, answered={self.answered})"

    @property
    def error(self) -> str | None:
        """The OAuth error code; a response without a code is an error too."""
        if "error" in self.params:
            return self.params["error"] or "unknown_error"  # `error=` with no value
        if not self.params.get("code"):
            return "invalid_response"
        return None

    @property
    def reason(self) -> str:
        """One line for a person: the description's first line, else the error code."""
        if self.error == "invalid_response":
            return "the response carried no authorization code"
        return _first_line(self.params.get("error_description", "")) or (self.error or "")

    @property
    def answered(self) -> bool:
        return self._conn is None

    def respond(self, ok: bool, reason: str = "") -> None:
        """Tell the browser how the sign-in ended (once; later calls do nothing)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            _send_page(conn, 200, ok, reason)


class _Refused(Exception):
    """A request we answer with an HTTP error and then drop."""

    def __init__(self, status: HTTPStatus) -> None:
        super().__init__(status.phrase)
        self.status = status


@dataclass
class _Request:
    method: str
    target: str
    body: bytes


def _parse(data: bytearray) -> _Request | None:
    """A whole request from what arrived so far, None while more is needed."""
    end = data.find(b"\r\n\r\n")
    if end < 0 or end > MAX_HEAD:
        if len(data) > MAX_HEAD or end > MAX_HEAD:
            raise _Refused(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
        return None
    request_line, *header_lines = bytes(data[:end]).decode("latin-1").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _Refused(HTTPStatus.BAD_REQUEST)
    method, target, _version = parts
    headers: dict[str, str] = {}
    for line in header_lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise _Refused(HTTPStatus.BAD_REQUEST)
        headers[name.strip().lower()] = value.strip()
    if method == "GET":
        return _Request(method, target, b"")
    if method != "POST":
        raise _Refused(HTTPStatus.METHOD_NOT_ALLOWED)
    if "transfer-encoding" in headers:
        raise _Refused(HTTPStatus.LENGTH_REQUIRED)  # browsers post forms with a length
    raw = headers.get("content-length", "0")
    if not _LENGTH.fullmatch(raw):  # "-1", "+5", "1e9", "5, 5" and friends
        raise _Refused(HTTPStatus.BAD_REQUEST)
    length = int(raw)
    if length > MAX_BODY:
        raise _Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    start = end + 4
    if len(data) < start + length:
        return None
    return _Request(method, target, bytes(data[start : start + length]))


@dataclass
class _Connection:
    sock: socket.socket
    deadline: float
    data: bytearray = field(default_factory=bytearray)


class LoopbackListener:
    """Listen on 127.0.0.1 and ::1 (same port) for one redirect.

    >>> with LoopbackListener() as listener:                         # doctest: +SKIP
    ...     url = start_flow(redirect_uri=listener.redirect_uri)
    ...     redirect = listener.wait(expected_state, timeout=300)
    ...     redirect.respond(redeem(redirect.params))
    """

    def __init__(self, port: int = 0, *, path: str = "/") -> None:
        self.path = path
        self._sockets: list[socket.socket] = []
        self._redirects: list[Redirect] = []
        self.port = self._bind(port)

    def _bind(self, port: int) -> int:
        """Bind 127.0.0.1 and, where the machine has IPv6, ::1 on one port."""
        for _attempt in range(20):
            v4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                v4.bind(("127.0.0.1", port))
            except OSError:
                v4.close()
                raise
            chosen: int = v4.getsockname()[1]
            sockets = [v4]
            if socket.has_ipv6:
                v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                try:
                    v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    v6.bind(("::1", chosen))
                    sockets.append(v6)
                except OSError as exc:
                    v6.close()
                    if exc.errno == errno.EADDRINUSE and port == 0:
                        v4.close()
                        continue  # taken on ::1 only: try another port
                    # no IPv6 loopback on this machine: 127.0.0.1 alone will do
            for sock in sockets:
                sock.listen(8)
                sock.setblocking(False)
            self._sockets = sockets
            return chosen
        raise OSError("no free loopback port for the sign-in redirect")

    @property
    def redirect_uri(self) -> str:
        return f"http://localhost:{self.port}{self.path}"

    def __enter__(self) -> LoopbackListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop listening; a browser still waiting for its answer is told it did not work."""
        for redirect in self._redirects:
            redirect.respond(False, "the sign-in did not finish; go back to the terminal")
        self._redirects = []
        for sock in self._sockets:
            sock.close()
        self._sockets = []

    def wait(
        self,
        state: str,
        *,
        timeout: float = 300.0,
        on_tick: Callable[[], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Redirect:
        """The redirect carrying ``state``; raises SignInTimeout or SignInCancelled.

        ``cancel``, set from another thread (an app's Cancel button), ends the wait within
        half a second.

        A redirect with a code comes back unanswered: call its ``respond`` once the code has
        been redeemed.
        """
        deadline = time.monotonic() + timeout
        open_: dict[socket.socket, _Connection] = {}
        with selectors.DefaultSelector() as selector:
            for sock in self._sockets:
                selector.register(sock, selectors.EVENT_READ)

            def drop(conn: _Connection) -> None:
                selector.unregister(conn.sock)
                del open_[conn.sock]
                conn.sock.close()

            try:
                while True:
                    now = time.monotonic()
                    if cancel is not None and cancel.is_set():
                        raise SignInCancelled("sign-in cancelled")
                    if now >= deadline:
                        raise SignInTimeout(
                            f"nobody completed the sign-in within {timeout:g} s; "
                            "run the command again (or use --flow device-code on a machine "
                            "without a browser)"
                        )
                    for conn in [c for c in open_.values() if c.deadline <= now]:
                        drop(conn)  # idle too long: a preconnect, or a stuck client
                    # Short waits keep Ctrl-C responsive on every platform.
                    for key, _ in selector.select(timeout=min(deadline - now, 0.5)):
                        if key.data is None:
                            self._accept(key.fileobj, selector, open_, deadline, drop)
                            continue
                        conn = key.data
                        redirect = self._read(conn, state)
                        if redirect is not None or conn.sock.fileno() < 0:
                            selector.unregister(conn.sock)
                            del open_[conn.sock]
                        if redirect is not None:
                            return redirect
                    if on_tick is not None:
                        on_tick()
            except KeyboardInterrupt:
                raise SignInCancelled("sign-in cancelled") from None
            finally:
                for conn in list(open_.values()):
                    drop(conn)

    def _accept(
        self,
        listening: object,
        selector: selectors.BaseSelector,
        open_: dict[socket.socket, _Connection],
        deadline: float,
        drop: Callable[[_Connection], None],
    ) -> None:
        assert isinstance(listening, socket.socket)
        try:
            sock, _addr = listening.accept()
        except (BlockingIOError, InterruptedError):
            return
        sock.setblocking(False)
        conn = _Connection(sock, min(deadline, time.monotonic() + _IDLE))
        if len(open_) >= _MAX_OPEN:
            drop(next(iter(open_.values())))  # the oldest: dicts keep insertion order
        open_[sock] = conn
        selector.register(sock, selectors.EVENT_READ, conn)

    def _read(self, conn: _Connection, state: str) -> Redirect | None:
        """Take what arrived; answer and close once a request is whole (or refused)."""
        try:
            chunk = conn.sock.recv(MAX_HEAD + MAX_BODY + 4 - len(conn.data) or 1)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            conn.sock.close()
            return None
        if not chunk:  # the browser gave up on this connection
            conn.sock.close()
            return None
        conn.data += chunk
        try:
            request = _parse(conn.data)
        except _Refused as refused:
            _send(conn.sock, refused.status, refused.status.phrase.encode(), "text/plain")
            return None
        if request is None:
            return None
        return self._handle(conn.sock, request, state)

    def _handle(self, sock: socket.socket, request: _Request, state: str) -> Redirect | None:
        url = urllib.parse.urlsplit(request.target)
        if url.path != self.path:
            _send(sock, 404, b"not found", "text/plain")
            return None
        query = url.query if request.method == "GET" else request.body.decode("utf-8", "replace")
        # Blank values kept: `error=` alone is still an error, not a success without a code.
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        got_state = params.get("state")
        # A refusal may come without the state (Microsoft's documented error responses carry
        # only error and error_description): it still ends this sign-in, at once, rather than
        # leaving the person to wait out the timeout. It can never hand over a code (a code
        # needs the right state), but anything on this machine, or a web page in the browser,
        # can send one: only what reads as the platform's refusal ends the wait, or any of
        # them could end a sign-in and put its own words on the terminal.
        refusal_without_state = got_state is None and _platform_refusal(params)
        if not refusal_without_state and not secrets.compare_digest(
            (got_state or "").encode(), state.encode()
        ):
            _send_page(sock, 400, False, "the response did not match this sign-in")
            return None
        redirect = Redirect(params, sock)
        if redirect.error:
            redirect.respond(False, redirect.reason)
        else:
            self._redirects.append(redirect)
        log.debug("the browser came back to the loopback listener (%s)", redirect.error or "code")
        return redirect
