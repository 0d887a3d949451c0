"""A small HTTPS server on loopback that runs one function per request, in background threads.

The rule this module keeps: it knows HTTP, TLS, threads and logging, and nothing of OAuth. An
*app* is a plain function ``Request -> Response``; :class:`LoopbackHTTPSServer` parses requests
for it, writes its responses, and logs one line per request with secrets in the query string
blanked out (only parameter names listed as safe keep their values).

Stopping is prompt: the accept loop is shut down, then every open keep-alive connection is cut
(msal's ``requests`` session keeps them open), and the connection threads are joined.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = ["LOOPBACK_HOSTS", "App", "LoopbackHTTPSServer", "Request", "Response", "redact_query"]

logger = logging.getLogger(__name__)

# The servers built on this hand out tokens: they must never listen beyond this machine.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_BODY = 64 * 1024
_HANDSHAKE_TIMEOUT = 10.0
_IDLE_TIMEOUT = 30.0
_JOIN_TIMEOUT = 2.0


def redact_query(query: str, safe_keys: Iterable[str] = ()) -> str:
    """``query`` with every value blanked except those of ``safe_keys`` (for log lines)."""
    safe = set(safe_keys)
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, v if k in safe else "***") for k, v in pairs], safe="*/:")


@dataclass(frozen=True, slots=True)
class Request:
    """One parsed request. ``query`` and ``form`` keep the first value of a repeated name."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""
    form: Mapping[str, str] = field(default_factory=dict)
    client: str = ""

    def header(self, name: str) -> str | None:
        """A header's value, looked up case-insensitively."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(
        cls, status: int, payload: Mapping[str, Any], headers: tuple[tuple[str, str], ...] = ()
    ) -> Response:
        # RFC 6749 §5.1: token responses must not be cached; harmless for the others.
        no_store = (("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache"))
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return cls(status, body, "application/json; charset=utf-8", no_store + headers)

    @classmethod
    def html(cls, status: int, page: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
        guard = (
            ("Cache-Control", "no-store"),
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
        )
        return cls(status, page.encode("utf-8"), "text/html; charset=utf-8", guard + headers)

    @classmethod
    def redirect(cls, location: str, status: int = HTTPStatus.FOUND) -> Response:
        return cls(status, b"", headers=(("Location", location), ("Cache-Control", "no-store")))

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        return cls(status, text.encode("utf-8"))


App = Callable[[Request], Response]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive: msal reuses one connection for its calls
    server_version = "o365imap-sandbox"
    sys_version = ""
    timeout = _IDLE_TIMEOUT

    def do_GET(self) -> None:
        self._serve(b"")

    def do_POST(self) -> None:
        length_text = self.headers.get("Content-Length", "0")
        try:
            length = int(length_text)
        except ValueError:
            self._write(Response.text(HTTPStatus.BAD_REQUEST, "bad Content-Length\n"))
            return
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._write(Response.text(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large\n"))
            return
        self._serve(self.rfile.read(length))

    def _serve(self, body: bytes) -> None:
        parts = urlsplit(self.path)
        form: dict[str, str] = {}
        content_type = self.headers.get("Content-Type", "")
        if body and content_type.split(";")[0].strip() == "application/x-www-form-urlencoded":
            form = _first_values(body.decode("utf-8", "replace"))
        request = Request(
            method=self.command,
            path=parts.path,
            query=_first_values(parts.query),
            headers=dict(self.headers.items()),
            body=body,
            form=form,
            client=str(self.client_address[0]),
        )
        try:
            response = self.server.app(request)
        except Exception:
            # The request itself may hold secrets: log where it failed, not what it carried.
            logger.exception(
                "%s: error while handling %s %s", self.server.name, self.command, parts.path
            )
            response = Response.text(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error\n")
        self._write(response)

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        parts = urlsplit(self.path)
        query = redact_query(parts.query, self.server.safe_query_keys)
        shown = parts.path + (f"?{query}" if query else "")
        status = code.value if isinstance(code, HTTPStatus) else code
        logger.info("%s: %s %s -> %s", self.server.name, self.command, shown, status)

    def log_error(self, format: str, *args: Any) -> None:
        # http.server's own complaints (bad request lines, timeouts) hold no secrets.
        logger.debug("%s: " + format, self.server.name, *args)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s: " + format, self.server.name, *args)


def _first_values(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        values.setdefault(key, value)
    return values


class _Server(ThreadingHTTPServer):
    """Accepts on the plain socket; the TLS handshake runs in the connection's own thread.

    (Wrapping the listening socket would run handshakes in the accept loop, where one client
    that connects and says nothing stalls everyone.)
    """

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        family: socket.AddressFamily,
        context: ssl.SSLContext,
        app: App,
        name: str,
        safe_query_keys: frozenset[str],
    ) -> None:
        self.address_family = family
        self.context = context
        self.app = app
        self.name = name
        self.safe_query_keys = safe_query_keys
        self._live: dict[threading.Thread, socket.socket] = {}
        self._closing = False
        # not ThreadingMixIn's _threads: server_close() would join those itself
        self._conn_threads: set[threading.Thread] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._connection,
            args=(request, client_address),
            name=f"{self.name}-conn",
            daemon=True,
        )
        with self._conn_lock:
            self._conn_threads.add(thread)
        thread.start()

    def _connection(self, raw: socket.socket, client_address: Any) -> None:
        me = threading.current_thread()
        try:
            # Replies are small and written in pieces: without this each waits ~40 ms for the
            # client's delayed ACK (Nagle), which every sign-in and token request paid.
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            raw.settimeout(_HANDSHAKE_TIMEOUT)
            # Wrap first, handshake after: wrap_socket takes over raw's descriptor, so only the
            # wrapped socket can be cut by stop() while the handshake waits.
            try:
                conn = self.context.wrap_socket(
                    raw, server_side=True, do_handshake_on_connect=False
                )
            except OSError:  # the client left already
                raw.close()
                return
            if not self._track(me, conn):
                conn.close()
                return
            try:
                conn.do_handshake()
            except (OSError, ssl.SSLError) as exc:
                logger.debug("%s: TLS handshake failed: %s", self.name, exc)
                conn.close()
                return
            try:
                self.finish_request(conn, client_address)
            except (OSError, ssl.SSLError, ValueError) as exc:
                # a client gone mid-request, or a connection cut by stop()
                logger.debug("%s: connection ended: %s", self.name, exc)
            finally:
                conn.close()
        finally:
            with self._conn_lock:
                self._live.pop(me, None)
                self._conn_threads.discard(me)

    def _track(self, thread: threading.Thread, sock: socket.socket) -> bool:
        """Note the socket ``thread`` now blocks on; False once the server is closing."""
        with self._conn_lock:
            if self._closing:
                return False
            self._live[thread] = sock
            return True

    def cut_connections(self) -> list[threading.Thread]:
        """Wake every connection thread (handshaking, or idle in keep-alive) so it ends."""
        with self._conn_lock:
            self._closing = True
            for sock in self._live.values():
                with contextlib.suppress(OSError):
                    # socket.shutdown, not SSLSocket.shutdown: the latter drops the TLS
                    # object under the thread still reading from it. Under the lock, so the
                    # socket cannot have been closed (and its descriptor reused) meanwhile.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
            return list(self._conn_threads)


class LoopbackHTTPSServer:
    """Serve ``app`` over TLS on a loopback address, in background threads.

    ``port`` 0 picks a free port. ``safe_query_keys`` names the query parameters whose values
    may appear in the request log; every other value is logged as ``***``.
    """

    def __init__(
        self,
        app: App,
        *,
        cert_file: Path,
        key_file: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "https",
        safe_query_keys: Iterable[str] = (),
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"{host!r} is not a loopback address; use 127.0.0.1 or ::1")
        self.app = app
        self.host = "127.0.0.1" if host == "localhost" else host
        self.requested_port = port
        self.name = name
        self.safe_query_keys = frozenset(safe_query_keys)
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(cert_file, key_file)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self.name} server is not running")
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        """``https://127.0.0.1:PORT`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def start(self) -> None:
        if self._server is not None:
            return
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server = _Server(
            (self.host, self.requested_port),
            family,
            self._context,
            self.app,
            self.name,
            self.safe_query_keys,
        )
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"{self.name}-accept",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(_JOIN_TIMEOUT)
        for conn_thread in server.cut_connections():
            conn_thread.join(_JOIN_TIMEOUT)
