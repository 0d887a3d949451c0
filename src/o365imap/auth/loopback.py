"""The loopback listener that receives the browser's redirect after sign-in.

RFC 8252 section 7.3: a native app listens on the loopback interface on a port of its choosing
and registers ``http://localhost`` (Microsoft ignores the port when matching it). We bind both
127.0.0.1 and ::1 on the same free port because browsers resolve ``localhost`` either way; we
accept exactly one redirect whose ``state`` matches, answer the browser with a short page, and
close. A redirect with another state is answered "failed" and ignored (something else on this
machine is guessing). Waiting ends on success, on the timeout, or on Ctrl-C: never hangs.

The response may come as a POST form (``response_mode=form_post``, what msal asks for) or as a
GET query; both are taken.
"""

from __future__ import annotations

import errno
import html
import secrets
import selectors
import socket
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from o365imap.errors import SignInCancelled, SignInTimeout

__all__ = ["LoopbackListener", "Redirect"]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>o365imap: {title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:4em auto;max-width:34em;color:#222}}
h1{{font-size:1.4em}} .ok{{color:#107c10}} .bad{{color:#a4262c}}</style></head>
<body><h1 class="{css}">{heading}</h1><p>{text}</p></body></html>
"""


@dataclass
class Redirect:
    """What the identity platform sent back: code and state, or an error."""

    params: dict[str, str] = field(default_factory=dict)

    @property
    def error(self) -> str | None:
        return self.params.get("error")


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
            text=html.escape(f"Authorization failed: {reason}"),
        )
    return body.encode("utf-8")


class LoopbackListener:
    """Listen on 127.0.0.1 and ::1 (same port) for one redirect.

    >>> with LoopbackListener() as listener:                         # doctest: +SKIP
    ...     url = start_flow(redirect_uri=listener.redirect_uri)
    ...     redirect = listener.wait(expected_state, timeout=300)
    """

    def __init__(self, port: int = 0, *, path: str = "/") -> None:
        self.path = path
        self._sockets: list[socket.socket] = []
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
        for sock in self._sockets:
            sock.close()
        self._sockets = []

    def wait(
        self,
        state: str,
        *,
        timeout: float = 300.0,
        on_tick: Callable[[], None] | None = None,
    ) -> Redirect:
        """The redirect carrying ``state``; raises SignInTimeout or SignInCancelled."""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            for sock in self._sockets:
                selector.register(sock, selectors.EVENT_READ)
            try:
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise SignInTimeout(
                            f"nobody completed the sign-in within {timeout:g} s; "
                            "run the command again (or use --flow device-code on a machine "
                            "without a browser)"
                        )
                    # Short waits keep Ctrl-C responsive on every platform.
                    for key, _ in selector.select(timeout=min(left, 0.5)):
                        listening = key.fileobj
                        assert isinstance(listening, socket.socket)
                        try:
                            conn, _addr = listening.accept()
                        except BlockingIOError:
                            continue
                        redirect = self._serve(conn, state)
                        if redirect is not None:
                            return redirect
                    if on_tick is not None:
                        on_tick()
            except KeyboardInterrupt:
                raise SignInCancelled("sign-in cancelled") from None

    def _serve(self, conn: socket.socket, state: str) -> Redirect | None:
        conn.settimeout(10)
        with conn:
            try:
                handler = _Handler(conn, self.path)
            except (OSError, ValueError):
                return None
            params = handler.params
            if params is None:
                handler.reply(404, b"not found", content_type="text/plain")
                return None
            got_state = params.get("state", "")
            if not secrets.compare_digest(got_state.encode(), state.encode()):
                handler.reply(400, _page(False, "the response did not match this sign-in"))
                return None
            if "error" in params:
                reason = params.get("error_description") or params["error"]
                handler.reply(200, _page(False, reason.splitlines()[0]))
            else:
                handler.reply(200, _page(True))
            return Redirect(params)


class _Handler(BaseHTTPRequestHandler):
    """Parses one request from an accepted socket; we drive it by hand, no server loop."""

    def __init__(self, conn: socket.socket, path: str) -> None:
        self.expected_path = path
        self.params: dict[str, str] | None = None
        self.rfile = conn.makefile("rb")
        self.wfile = conn.makefile("wb")
        self.client_address = ("127.0.0.1", 0)
        self.server = None  # type: ignore[assignment]
        self.request = conn
        self.raw_requestline = self.rfile.readline(65537)
        if not self.parse_request():
            raise ValueError("not HTTP")
        url = urllib.parse.urlsplit(self.path)
        if url.path != self.expected_path:
            return
        if self.command == "GET":
            self.params = dict(urllib.parse.parse_qsl(url.query))
        elif self.command == "POST":
            length = min(int(self.headers.get("Content-Length") or 0), 1 << 20)
            body = self.rfile.read(length).decode("utf-8", "replace")
            self.params = dict(urllib.parse.parse_qsl(body))

    def reply(
        self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8"
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        return  # requests carry the authorization code: never log them
