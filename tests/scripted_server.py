"""A scripted IMAP server that plays Office 365's side in tests.

Stdlib only. A :class:`ScriptedServer` listens on 127.0.0.1 (port 0), serves every accepted
connection in its own daemon thread and hands it to a *script*: a callable receiving a
:class:`Conversation`. Everything the client sends is recorded (``server.received`` /
``server.received_at``), everything the server sends too (``server.sent`` / ``server.sent_at``),
and every script failure lands in ``server.errors`` so a test can end with
``assert server.errors == []``.

The second half of the module is a library of ready-made scripts modelled on what Exchange
Online's IMAP4 service really says (greeting, capabilities, response texts, failure modes), as
seen in public protocol captures:

* :func:`o365_happy` - a small but complete stateful session (CAPABILITY, AUTHENTICATE XOAUTH2,
  NAMESPACE, LIST/LSUB, STATUS, SELECT/EXAMINE, FETCH/UID FETCH, SEARCH, STORE, COPY/MOVE,
  EXPUNGE, IDLE, NOOP, LOGOUT ...) over prepared :class:`Message` tuples;
* failure scripts built on it: :func:`auth_failed_no_challenge`, :func:`auth_json_challenge`,
  :func:`auth_no_sasl_ir`, :func:`authenticated_but_not_connected`, :func:`throttled`,
  :func:`throttled_bad_bye`, :func:`server_unavailable`, :func:`cut_in_literal`,
  :func:`stall_after`, :func:`bye_token_expired_during`, :func:`unsolicited_during_fetch`,
  :func:`literal_plus_check`, :func:`o365_starttls`.

Failure scripts that take ``times`` keep their counter in the script object, shared by every
connection served with that same script: ``ScriptedServer(throttled_bad_bye(times=1))`` drops the
first connection and serves the client's reconnection normally.

Texts marked "not from a capture" below are plausible Exchange wording that no public capture
confirms; nothing in the client should depend on them.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import re
import socket
import ssl
import struct
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, NamedTuple, TypeAlias

__all__ = [
    "CAPABILITIES_POST_AUTH",
    "CAPABILITIES_POST_AUTH_2026",
    "CAPABILITIES_PRE_AUTH",
    "CAPABILITIES_PRE_AUTH_LOGINDISABLED",
    "CAPABILITIES_PRE_AUTH_NO_SASL_IR",
    "CAPABILITIES_PRE_STARTTLS",
    "DEFAULT_FOLDERS",
    "DEFAULT_MESSAGES",
    "EXCHANGE_STUB_ENVELOPE",
    "GMAIL_CAPABILITIES",
    "GMAIL_GREETING",
    "GMAIL_JSON_CHALLENGE",
    "MAILBOX_FLAGS",
    "O365_BYE_LOGOUT",
    "O365_DEFAULT_HOST",
    "O365_GREETING",
    "Arg",
    "ClientGone",
    "Command",
    "Conversation",
    "Folder",
    "Hook",
    "LiteralInfo",
    "Message",
    "O365Config",
    "O365Session",
    "ReadTimeout",
    "Script",
    "ScriptAbort",
    "ScriptedServer",
    "ServerClosing",
    "auth_failed_no_challenge",
    "auth_json_challenge",
    "auth_no_sasl_ir",
    "authenticated_but_not_connected",
    "bye_token_expired_during",
    "cut_in_literal",
    "decode_xoauth2",
    "exchange_stub_message",
    "fetch_items",
    "imap_astring",
    "imap_nstring",
    "literal_plus_check",
    "make_envelope",
    "make_message",
    "message_body",
    "o365_happy",
    "o365_starttls",
    "office365_greeting",
    "office365_greeting_2026",
    "parse_args",
    "parse_command",
    "parse_sequence_set",
    "server_unavailable",
    "stall_after",
    "tag_of",
    "throttled",
    "throttled_bad_bye",
    "unsolicited_during_fetch",
    "xoauth2_initial_response",
]

CRLF = b"\r\n"
_POLL = 0.05  # seconds: how often blocked socket operations look at the stop flag
_DRAIN = 0.5  # seconds: how long a graceful hang-up keeps reading what the client still sends

# --------------------------------------------------------------------------------------------
# Office 365 constants (from the captures)
# --------------------------------------------------------------------------------------------

O365_DEFAULT_HOST = "MN2PR16CA0063.namprd16.prod.outlook.com"

CAPABILITIES_PRE_AUTH = (
    "IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID UNSELECT CHILDREN IDLE "
    "NAMESPACE LITERAL+"
)
CAPABILITIES_POST_AUTH = (
    "IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID UNSELECT CLIENTACCESSRULES "
    "CLIENTNETWORKPRESENCELOCATION BACKENDAUTHENTICATE CHILDREN IDLE NAMESPACE LITERAL+"
)
#: The 2026 "tcpproxy" front end: LOGINDISABLED before login ...
CAPABILITIES_PRE_AUTH_LOGINDISABLED = (
    "IMAP4 IMAP4rev1 AUTH=XOAUTH2 LOGINDISABLED SASL-IR UIDPLUS MOVE ID UNSELECT CHILDREN IDLE "
    "NAMESPACE LITERAL+"
)
#: ... and ENABLE / IMAP4rev2 / BACKENDAUTHENTICATE-IR after it (some tenants).
CAPABILITIES_POST_AUTH_2026 = (
    "IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID UNSELECT ENABLE IMAP4rev2 "
    "CLIENTACCESSRULES CLIENTNETWORKPRESENCELOCATION BACKENDAUTHENTICATE "
    "BACKENDAUTHENTICATE-IR CHILDREN IDLE NAMESPACE LITERAL+"
)
#: A server that does not offer SASL-IR (for :func:`auth_no_sasl_ir`).
CAPABILITIES_PRE_AUTH_NO_SASL_IR = (
    "IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 UIDPLUS MOVE ID UNSELECT CHILDREN IDLE NAMESPACE "
    "LITERAL+"
)
#: Port 143 before STARTTLS (not from a capture).
CAPABILITIES_PRE_STARTTLS = (
    "IMAP4 IMAP4rev1 LOGINDISABLED STARTTLS UIDPLUS MOVE ID UNSELECT CHILDREN IDLE NAMESPACE "
    "LITERAL+"
)

MAILBOX_FLAGS = r"\Seen \Answered \Flagged \Deleted \Draft $MDNSent"
O365_BYE_LOGOUT = "* BYE Microsoft Exchange Server IMAP4 server signing off."

GMAIL_GREETING = "* OK Gimap ready for requests from 127.0.0.1 q4mb70107656lfe"
GMAIL_CAPABILITIES = (
    "IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 XYZZY SASL-IR "
    "AUTH=XOAUTH2 AUTH=PLAIN AUTH=PLAIN-CLIENTTOKEN AUTH=OAUTHBEARER AUTH=XOAUTH"
)
GMAIL_JSON_CHALLENGE = '{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}'

_INVALID_STATE = "BAD Command received in Invalid state."
_ARG_ERROR = "BAD Command Argument Error. 11"
_LINE_TOO_LONG = "BAD Command Error. 10"
_UNKNOWN_COMMAND = "BAD Command Error. 12"  # not from a capture
_LITERAL_CONTINUATION = b"+ Ready for additional command text.\r\n"  # not from a capture


def office365_greeting(host: str = O365_DEFAULT_HOST) -> str:
    """The classic greeting: ``* OK ... is ready. [base64(UTF-16LE(host))]`` (no CRLF)."""
    tag = base64.b64encode(host.encode("utf-16-le")).decode("ascii")
    return f"* OK The Microsoft Exchange IMAP4 service is ready. [{tag}]"


O365_GREETING = office365_greeting()  # with the default host


def office365_greeting_2026(
    guid: str = "3f2b8c1e-6d4a-4f0b-9a57-2c1e8d9b7a60", host: str = O365_DEFAULT_HOST
) -> str:
    """The newer 'tcpproxy' greeting form (one capture, 2026)."""
    tag = base64.b64encode(host.encode("utf-16-le")).decode("ascii")
    return (
        f"* OK Microsoft Exchange IMAP4 service ready. {guid} "
        f"(tcpproxy/15.21.0406.000 BACKENDAUTHENTICATE) [{tag}]"
    )


def xoauth2_initial_response(user: str, token: str) -> str:
    """base64 of ``user=<user>\\x01auth=Bearer <token>\\x01\\x01`` (what a client should send)."""
    raw = f"user={user}\x01auth=Bearer {token}\x01\x01".encode()
    return base64.b64encode(raw).decode("ascii")


_XOAUTH2_RE = re.compile(r"user=([^\x01]*)\x01auth=Bearer ([^\x01]+)\x01\x01")


def decode_xoauth2(b64: str | bytes) -> tuple[str, str]:
    """Decode a XOAUTH2 client response to ``(user, token)``; ValueError when malformed."""
    text = b64.decode("ascii", "replace") if isinstance(b64, bytes) else b64
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise ValueError(f"XOAUTH2 response is not base64: {exc}") from exc
    m = _XOAUTH2_RE.fullmatch(raw.decode("utf-8", "replace"))
    if m is None:
        raise ValueError(f"not a XOAUTH2 client response: {raw!r}")
    return m[1], m[2]


def tag_of(line: bytes | str) -> str:
    """The first token of a client line (its tag)."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    parts = text.split(None, 1)
    return parts[0] if parts else ""


# --------------------------------------------------------------------------------------------
# Server, conversation
# --------------------------------------------------------------------------------------------


class ScriptAbort(Exception):
    """Ends a script early. Raised by the conversation helpers after recording the reason."""


class ServerClosing(ScriptAbort):
    """The server is shutting down (not an error)."""


class ClientGone(ScriptAbort):
    """The client reset the connection while the script was sending or reading (not an error)."""


class ReadTimeout(ScriptAbort):
    """A read with a timeout got nothing in time (recorded in ``server.errors``)."""


Script: TypeAlias = Callable[["Conversation"], object]


class LiteralInfo(NamedTuple):
    """A client literal seen by :meth:`Conversation.read_command`."""

    conn: int
    size: int
    nonsync: bool  # ``{n+}``
    data: bytes
    wait: float  # seconds between the ``{n}`` line and the last literal byte


class ScriptedServer:
    """A scripted IMAP server on 127.0.0.1 (or ``::1``), port 0.

    ``script`` is one script for every connection, or a sequence of scripts, one per
    connection in accept order (a connection beyond the list is an error and is reset).
    ``ssl_context`` (server side) wraps every connection in TLS at once (implicit TLS, like
    port 993); ``starttls_context`` is what :meth:`Conversation.starttls` uses (defaults to
    ``ssl_context``).

    Use as a context manager; :meth:`close` is prompt (well under a second even with a script
    stalled for an hour) and joins every thread it started.
    """

    def __init__(
        self,
        script: Script | Sequence[Script],
        *,
        ssl_context: ssl.SSLContext | None = None,
        starttls_context: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
        handshake_timeout: float = 10.0,
    ) -> None:
        if host not in ("127.0.0.1", "::1"):
            raise ValueError("the scripted server only listens on 127.0.0.1 or ::1")
        if callable(script):
            self._scripts: list[Script] | None = None
            self._script: Script | None = script
        else:
            self._scripts = list(script)
            self._script = None
        self.ssl_context = ssl_context
        self.starttls_context = starttls_context or ssl_context
        self.handshake_timeout = handshake_timeout
        self.host = host
        self.port = 0
        self.received: list[bytes] = []
        self.received_at: list[float] = []
        self.received_conn: list[int] = []
        self.sent: list[bytes] = []
        self.sent_at: list[float] = []
        self.sent_conn: list[int] = []
        self.errors: list[str] = []
        self.handshake_errors: list[str] = []
        self.connected_at: list[float] = []
        self.xoauth2: list[tuple[str, str]] = []  # (user, token) of every XOAUTH2 attempt
        self.literals: list[LiteralInfo] = []
        self.started_at = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._handlers: list[threading.Thread] = []
        self._conversations: list[Conversation] = []

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> ScriptedServer:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, 0))
        listener.listen(16)
        listener.settimeout(_POLL)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self.started_at = time.monotonic()
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"scripted-imap-accept-{self.port}", daemon=True
        )
        self._accept_thread.start()
        return self

    def close(self, grace: float = 0.2) -> None:
        """Stop: give running (non-stalled) scripts ``grace`` seconds to finish, then unblock
        everything, close every socket and join every thread."""
        if self._listener is None:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            with self._lock:
                busy = [
                    c
                    for c, t in zip(self._conversations, self._handlers, strict=True)
                    if t.is_alive() and not c.stalling
                ]
            if not busy:
                break
            time.sleep(0.01)
        self._stop.set()
        if self._accept_thread is not None:
            self._accept_thread.join(5)
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            handlers = list(self._handlers)
        for t in handlers:
            t.join(2)
        with self._lock:
            convs = list(self._conversations)
        for conv in convs:  # belt and braces: a handler that did not stop loses its socket
            conv._force_close()
        for t in handlers:
            if t.is_alive():
                t.join(2)
                if t.is_alive():
                    self.errors.append(f"handler thread {t.name} did not stop")
        self._listener = None

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def connections(self) -> int:
        """How many connections were accepted so far."""
        with self._lock:
            return len(self._conversations)

    def wait_connections(self, n: int, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.connections < n:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every connection accepted so far has finished its script."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                alive = [t for t in self._handlers if t.is_alive()]
            if not alive:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)

    # -- recording --------------------------------------------------------------------------

    def fail(self, message: str, conn: int | None = None) -> None:
        """Record a script failure (a test asserts ``server.errors == []``)."""
        prefix = f"conn#{conn}: " if conn is not None else ""
        with self._lock:
            self.errors.append(prefix + message)

    def _record_in(self, conn: int, data: bytes, at: float) -> None:
        with self._lock:
            self.received.append(data)
            self.received_at.append(at)
            self.received_conn.append(conn)

    def _record_out(self, conn: int, data: bytes) -> None:
        with self._lock:
            self.sent.append(data)
            self.sent_at.append(time.monotonic())
            self.sent_conn.append(conn)

    def received_lines(self, conn: int | None = None) -> list[str]:
        """The received entries as text without their CRLF (optionally of one connection)."""
        with self._lock:
            pairs = list(zip(self.received, self.received_conn, strict=True))
        return [
            d.decode("utf-8", "replace").removesuffix("\n").removesuffix("\r")
            for d, c in pairs
            if conn is None or c == conn
        ]

    def received_times(self, pattern: str, flags: int = 0) -> list[float]:
        """Arrival times (``time.monotonic()``) of received entries matching ``pattern``
        (``re.search`` on the text without CRLF)."""
        rx = re.compile(pattern, flags)
        with self._lock:
            pairs = list(zip(self.received, self.received_at, strict=True))
        return [t for d, t in pairs if rx.search(d.decode("utf-8", "replace").rstrip("\r\n"))]

    def sent_times(self, pattern: str, flags: int = 0) -> list[float]:
        """Times at which sends matching ``pattern`` (``re.search``) were written."""
        rx = re.compile(pattern, flags)
        with self._lock:
            pairs = list(zip(self.sent, self.sent_at, strict=True))
        return [t for d, t in pairs if rx.search(d.decode("utf-8", "replace"))]

    # -- threads ----------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                sock, _addr = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if not self._stop.is_set():
                    self.fail("accept failed:\n" + traceback.format_exc())
                return
            sock.settimeout(_POLL)
            with contextlib.suppress(OSError):  # small responses go out at once
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                index = len(self._conversations)
                conv = Conversation(self, index, sock)
                self.connected_at.append(time.monotonic())
                thread = threading.Thread(
                    target=self._serve,
                    args=(conv,),
                    name=f"scripted-imap-conn-{index}",
                    daemon=True,
                )
                self._conversations.append(conv)
                self._handlers.append(thread)
            thread.start()

    def _script_for(self, index: int) -> Script | None:
        if self._script is not None:
            return self._script
        assert self._scripts is not None
        return self._scripts[index] if index < len(self._scripts) else None

    def _serve(self, conv: Conversation) -> None:
        try:
            script = self._script_for(conv.index)
            if script is None:
                assert self._scripts is not None
                self.fail(
                    f"unexpected connection #{conv.index + 1} (only {len(self._scripts)} scripted)",
                    conv.index,
                )
                conv.close(rst=True)
                return
            if self.ssl_context is not None:
                try:
                    conv._wrap_tls(self.ssl_context)
                except ScriptAbort:
                    raise
                except (OSError, ValueError) as exc:
                    with self._lock:
                        self.handshake_errors.append(f"conn#{conv.index}: {exc!r}")
                    conv.close(rst=True)
                    return
            script(conv)
        except (ServerClosing, ClientGone):
            pass
        except ScriptAbort:
            pass  # already recorded
        except Exception:
            if not self._stop.is_set():
                self.fail("script raised:\n" + traceback.format_exc(), conv.index)
        finally:
            conv._finish()


class Conversation:
    """One client connection as seen by a script."""

    def __init__(self, server: ScriptedServer, index: int, sock: socket.socket) -> None:
        self.server = server
        self.index = index  # 0-based connection number
        self.sock = sock
        self.tls = False
        self.closed = False
        self.stalling = False
        self.literals: list[LiteralInfo] = []
        self.state: dict[str, object] = {}  # scratch space for scripts
        self._buf = bytearray()
        self._total_in = 0
        self._consumed = 0
        self._arrivals: deque[tuple[int, float]] = deque()

    # -- low level --------------------------------------------------------------------------

    def fail(self, message: str) -> None:
        self.server.fail(message, self.index)

    def _check_stop(self) -> None:
        if self.server._stop.is_set():
            raise ServerClosing

    def _fill(self, deadline: float | None) -> Literal["data", "eof", "timeout"]:
        """Read once from the socket into the buffer, polling the stop flag."""
        while True:
            self._check_stop()
            if self.closed:
                return "eof"
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                if deadline is not None and time.monotonic() >= deadline:
                    return "timeout"
                continue
            except ssl.SSLWantReadError:
                continue
            except OSError:
                self._check_stop()
                return "eof"
            if not data:
                return "eof"
            self._total_in += len(data)
            self._arrivals.append((self._total_in, time.monotonic()))
            self._buf += data
            return "data"

    def _take(self, n: int) -> bytes:
        """Remove ``n`` bytes from the buffer and record them with their arrival time."""
        data = bytes(self._buf[:n])
        del self._buf[:n]
        end = self._consumed + n
        self._consumed = end
        while self._arrivals and self._arrivals[0][0] < end:
            self._arrivals.popleft()
        at = self._arrivals[0][1] if self._arrivals else time.monotonic()
        if self._arrivals and self._arrivals[0][0] == end:
            self._arrivals.popleft()
        self.server._record_in(self.index, data, at)
        return data

    def _flush_leftover(self) -> None:
        while self._buf:
            i = self._buf.find(b"\n")
            self._take(i + 1 if i >= 0 else len(self._buf))

    # -- sending ----------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Send raw bytes exactly as given, in one piece (one ``sendall``-like write)."""
        if self.closed:
            self.fail(f"script sends after close: {data[:80]!r}")
            raise ScriptAbort("send after close")
        self.server._record_out(self.index, data)
        view = memoryview(data)
        while view:
            self._check_stop()
            try:
                n = self.sock.send(view)
            except TimeoutError:
                continue
            except ssl.SSLWantWriteError:
                continue
            except OSError as exc:
                self._check_stop()
                raise ClientGone(repr(exc)) from exc
            view = view[n:]

    def send_line(self, line: str | bytes) -> None:
        """Send one line, adding CRLF."""
        data = line.encode("utf-8") if isinstance(line, str) else line
        self.send(data + CRLF)

    # -- reading ----------------------------------------------------------------------------

    def read_line(self, timeout: float | None = None) -> bytes:
        """One client line including its line end; ``b""`` on EOF. A line ending in a bare LF
        is recorded as an error. With ``timeout``, :class:`ReadTimeout` after that many
        seconds without a full line (recorded)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        scanned = 0
        while True:
            i = self._buf.find(b"\n", scanned)
            if i >= 0:
                line = self._take(i + 1)
                if not line.endswith(CRLF):
                    self.fail(f"client line not terminated by CRLF: {line!r}")
                return line
            scanned = len(self._buf)
            r = self._fill(deadline)
            if r == "timeout":
                self.fail(f"no client line within {timeout}s")
                raise ReadTimeout
            if r == "eof":
                if self._buf:
                    rest = self._take(len(self._buf))
                    self.fail(f"EOF in the middle of a line: {rest!r}")
                return b""

    def read_exact(self, n: int, timeout: float | None = None) -> bytes:
        """Exactly ``n`` bytes (a literal), recorded as one entry; ``b""`` on EOF."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while len(self._buf) < n:
            r = self._fill(deadline)
            if r == "timeout":
                self.fail(f"{n}-byte literal did not arrive within {timeout}s")
                raise ReadTimeout
            if r == "eof":
                if self._buf:
                    self._take(len(self._buf))
                self.fail(f"EOF inside a {n}-byte literal")
                return b""
        return self._take(n)

    _LITERAL_END = re.compile(rb"\{(\d+)(\+?)\}\r?\n\Z")

    def read_command(
        self,
        timeout: float | None = None,
        *,
        nonsync_wait: float | None = None,
        continuation: bytes = _LITERAL_CONTINUATION,
    ) -> bytes:
        """One complete client command, literals included, as it was on the wire (e.g.
        ``b"A1 SELECT {5+}\\r\\nInbox\\r\\n"``); ``b""`` on EOF. A synchronising literal
        ``{n}`` gets ``continuation`` first; a non-synchronising ``{n+}`` (LITERAL+) gets
        nothing, and with ``nonsync_wait`` its bytes must arrive within that many seconds
        (else an error is recorded: the client is waiting for a continuation)."""
        parts: list[bytes] = []
        while True:
            line = self.read_line(timeout)
            if not line:
                if parts:
                    self.fail("EOF in the middle of a command")
                return b""
            parts.append(line)
            m = self._LITERAL_END.search(line)
            if m is None:
                return b"".join(parts)
            size, nonsync = int(m[1]), m[2] == b"+"
            started = time.monotonic()
            if nonsync:
                wait = nonsync_wait if nonsync_wait is not None else timeout
                try:
                    data = self.read_exact(size, wait)
                except ReadTimeout:
                    self.fail(
                        f"{{{size}+}} literal bytes not sent without waiting "
                        "(client waits for a continuation although LITERAL+ needs none)"
                    )
                    raise
            else:
                self.send(continuation)
                data = self.read_exact(size, timeout)
            info = LiteralInfo(self.index, size, nonsync, data, time.monotonic() - started)
            self.literals.append(info)
            with self.server._lock:
                self.server.literals.append(info)
            if len(data) < size:
                return b""
            parts.append(data)

    def expect(self, pattern: str, flags: int = 0, timeout: float | None = None) -> re.Match[str]:
        """Read one client line and ``re.fullmatch`` ``pattern`` against it (CRLF stripped).
        On mismatch or EOF the failure is recorded and the script is aborted."""
        line = self.read_line(timeout)
        if not line:
            self.fail(f"expected {pattern!r}, got EOF")
            raise ScriptAbort(pattern)
        text = line.decode("utf-8", "surrogateescape").removesuffix("\n").removesuffix("\r")
        m = re.fullmatch(pattern, text, flags)
        if m is None:
            self.fail(f"expected {pattern!r}, got {text!r}")
            raise ScriptAbort(pattern)
        return m

    @staticmethod
    def tag_of(line: bytes | str) -> str:
        return tag_of(line)

    # -- connection control -----------------------------------------------------------------

    def stall(self, seconds: float = 3600.0) -> bool:
        """Stop answering for ``seconds`` (whatever the client sends is buffered, not
        answered). Returns False early when the client hangs up, True when the time is over;
        the server's close() ends it at once."""
        self.stalling = True
        deadline = time.monotonic() + seconds
        try:
            while True:
                r = self._fill(deadline)
                if r == "eof":
                    return False
                if r == "timeout":
                    return True
        finally:
            self.stalling = False

    def close(self, rst: bool = True) -> None:
        """Close the connection now. ``rst=True`` (default): abortive close (SO_LINGER 0, the
        client sees ECONNRESET or EOF); ``rst=False``: see :meth:`hangup`."""
        if not rst:
            self.hangup()
            return
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.sock.close()
        self._flush_leftover()

    def hangup(self) -> None:
        """Graceful close, like a server after BYE: FIN, keep reading (and recording) what the
        client still sends for up to half a second (until its EOF), then close."""
        if self.closed:
            return
        with contextlib.suppress(OSError):
            # the plain-socket method: SSLSocket.shutdown() would drop the TLS state we still
            # need for draining (so TLS clients see EOF without a close_notify)
            socket.socket.shutdown(self.sock, socket.SHUT_WR)
        deadline = time.monotonic() + _DRAIN
        with contextlib.suppress(ScriptAbort):
            while self._fill(deadline) == "data":
                pass
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()
        self._flush_leftover()

    def starttls(self, context: ssl.SSLContext | None = None) -> None:
        """Upgrade the connection to TLS (server side) after a STARTTLS reply was sent.
        Plain-text bytes the client pipelined after STARTTLS are discarded and recorded as an
        error (command injection)."""
        ctx = context or self.server.starttls_context
        if ctx is None:
            raise ValueError("no TLS context for STARTTLS")
        if self._buf:
            leftover = bytes(self._buf)
            self._flush_leftover()
            self.fail(f"client sent plain text after STARTTLS before the handshake: {leftover!r}")
        self._wrap_tls(ctx)

    def _wrap_tls(self, ctx: ssl.SSLContext) -> None:
        tls = ctx.wrap_socket(self.sock, server_side=True, do_handshake_on_connect=False)
        self.sock = tls
        deadline = time.monotonic() + self.server.handshake_timeout
        while True:
            self._check_stop()
            try:
                tls.do_handshake()
                break
            except (TimeoutError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                if time.monotonic() > deadline:
                    raise TimeoutError("TLS handshake timed out") from None
        self.tls = True

    def _finish(self) -> None:
        if not self.closed:
            with contextlib.suppress(ScriptAbort, OSError):
                self.hangup()
        self._force_close()
        self._flush_leftover()

    def _force_close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()


# --------------------------------------------------------------------------------------------
# IMAP syntax helpers
# --------------------------------------------------------------------------------------------

Arg: TypeAlias = "str | list[Arg]"

_LITERAL_AT = re.compile(rb"\{(\d+)\+?\}\r\n")
_ATOM_STOP = frozenset(b" ()\r\n")


def parse_args(data: bytes) -> list[Arg]:
    """Tokenise IMAP command arguments: atoms, quoted strings and literals become ``str``,
    parenthesised lists become ``list``. ``[...]`` inside an atom (``BODY.PEEK[HEADER.FIELDS
    (FROM)]<0.100>``) stays part of the atom. ValueError on malformed input."""
    root: list[Arg] = []
    stack: list[list[Arg]] = [root]
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        if c in b" \r\n":
            i += 1
        elif c == ord("("):
            new: list[Arg] = []
            stack[-1].append(new)
            stack.append(new)
            i += 1
        elif c == ord(")"):
            if len(stack) == 1:
                raise ValueError("unbalanced ')'")
            stack.pop()
            i += 1
        elif c == ord('"'):
            out = bytearray()
            j = i + 1
            while True:
                if j >= n:
                    raise ValueError("unterminated quoted string")
                if data[j] == ord("\\"):
                    if j + 1 >= n:
                        raise ValueError("unterminated quoted string")
                    out.append(data[j + 1])
                    j += 2
                elif data[j] == ord('"'):
                    break
                else:
                    out.append(data[j])
                    j += 1
            stack[-1].append(out.decode("utf-8", "surrogateescape"))
            i = j + 1
        elif c == ord("{"):
            m = _LITERAL_AT.match(data, i)
            if m is None:
                raise ValueError("malformed literal")
            size, start = int(m[1]), m.end()
            if start + size > n:
                raise ValueError("truncated literal")
            stack[-1].append(data[start : start + size].decode("utf-8", "surrogateescape"))
            i = start + size
        else:
            j = i
            while j < n and data[j] not in _ATOM_STOP:
                if data[j] == ord("["):
                    k = data.find(b"]", j)
                    if k < 0:
                        raise ValueError("unterminated '['")
                    j = k + 1
                else:
                    j += 1
            stack[-1].append(data[i:j].decode("utf-8", "surrogateescape"))
            i = j
    if len(stack) != 1:
        raise ValueError("unbalanced '('")
    return root


@dataclass
class Command:
    """A parsed client command."""

    tag: str
    name: str  # upper case; "UID FETCH" etc. for UID commands
    args: list[Arg]
    raw: bytes  # the full command as on the wire, literals included

    @property
    def family(self) -> str:
        """``name`` without ``UID `` and with EXAMINE folded into SELECT."""
        return _family(self.name)

    @property
    def is_uid(self) -> bool:
        return self.name.startswith("UID ")

    @property
    def base(self) -> str:
        return self.name.removeprefix("UID ")


def _family(name: str) -> str:
    base = name.upper().removeprefix("UID ")
    return "SELECT" if base == "EXAMINE" else base


_COMMAND_HEAD = re.compile(rb"([^ \r\n]+) ([A-Za-z]+)(?: ([A-Za-z]+)(?=[ \r\n]|\Z))?")


def parse_command(raw: bytes) -> Command | None:
    """Parse a full command from :meth:`Conversation.read_command`; None if malformed."""
    m = _COMMAND_HEAD.match(raw)
    if m is None:
        return None
    tag = m[1].decode("utf-8", "replace")
    name = m[2].decode("ascii").upper()
    rest_at = m.end(2)
    if name == "UID" and m[3] is not None:
        name = "UID " + m[3].decode("ascii").upper()
        rest_at = m.end(3)
    try:
        args = parse_args(raw[rest_at:])
    except ValueError:
        return None
    return Command(tag, name, args, raw)


def parse_sequence_set(text: str, largest: int) -> list[tuple[int, int]]:
    """``"1:3,5,7:*"`` -> ``[(1, 3), (5, 5), (7, largest)]`` (ranges ordered low-high; ``*`` is
    ``largest``). ValueError when malformed."""
    ranges: list[tuple[int, int]] = []

    def num(s: str) -> int:
        if s == "*":
            return largest
        if not s.isdigit() or int(s) == 0:
            raise ValueError(f"bad sequence number {s!r}")
        return int(s)

    for part in text.split(","):
        a, sep, b = part.partition(":")
        lo = num(a)
        hi = num(b) if sep else lo
        ranges.append((min(lo, hi), max(lo, hi)))
    return ranges


_ATOM_RE = re.compile(r'[^(){ %*"\\\]\x00-\x1f\x7f-\U0010ffff]+')


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_astring(text: str) -> bytes:
    """An atom when possible, else a quoted string, else (CR/LF, non-ASCII) a literal."""
    if _ATOM_RE.fullmatch(text) and text.upper() != "NIL":
        return text.encode("ascii")
    if text.isascii() and "\r" not in text and "\n" not in text:
        return _quote(text).encode("ascii")
    raw = text.encode("utf-8")
    return b"{%d}\r\n" % len(raw) + raw


def imap_nstring(text: str | None) -> bytes:
    """NIL, a quoted string, or a literal (CR/LF or non-ASCII)."""
    if text is None:
        return b"NIL"
    if text.isascii() and "\r" not in text and "\n" not in text:
        return _quote(text).encode("ascii")
    raw = text.encode("utf-8")
    return b"{%d}\r\n" % len(raw) + raw


# --------------------------------------------------------------------------------------------
# Mailbox data
# --------------------------------------------------------------------------------------------


class Folder(NamedTuple):
    """A LIST entry. ``wire``: exact bytes to send as the name (for quirks such as unquoted
    tabs); default: :func:`imap_astring` of ``name``."""

    name: str
    attributes: str = r"\HasNoChildren"
    wire: bytes | None = None


DEFAULT_FOLDERS: tuple[Folder, ...] = (
    Folder("Archive"),  # O365 lists Archive WITHOUT \Archive
    Folder("Calendar", r"\HasChildren"),
    Folder("Calendar/Birthdays"),
    Folder("Contacts"),
    Folder("Conversation History"),
    Folder("Deleted Items", r"\Marked \HasNoChildren \Trash"),
    Folder("Drafts", r"\HasNoChildren \Drafts"),
    Folder("Inbox", r"\Marked \HasChildren"),  # Exchange answers "Inbox", not "INBOX"
    Folder("Inbox/Projekte"),
    Folder("Inbox/Przesy&AUI-ki"),  # modified UTF-7 for "Przesyłki"
    Folder("Journal"),
    Folder("Junk Email", r"\HasNoChildren \Junk"),
    Folder("Notes"),
    Folder("Outbox"),
    Folder("Sent Items", r"\HasNoChildren \Sent"),
    Folder("Tasks"),
)


class Message(NamedTuple):
    """One message of a mailbox. ``seq`` must be its position (1-based). ``body`` (the full
    RFC 822 text) defaults to a generated text of exactly ``size`` bytes; ``sections`` maps
    other section specs (``"1"``, ``"2.MIME"`` ...) to their bytes."""

    seq: int
    uid: int
    flags: tuple[str, ...]
    size: int
    internaldate: str  # "17-Jul-1996 02:44:25 -0700"
    envelope: bytes
    bodystructure: bytes | None = None
    body: bytes | None = None
    sections: Mapping[str, bytes] | None = None


def _address_list(addrs: Sequence[str]) -> bytes:
    if not addrs:
        return b"NIL"
    out = []
    for a in addrs:
        name, addr = email.utils.parseaddr(a)
        mailbox, _, host = addr.partition("@")
        out.append(
            b"("
            + imap_nstring(name or None)
            + b" NIL "
            + imap_nstring(mailbox or None)
            + b" "
            + imap_nstring(host or None)
            + b")"
        )
    return b"(" + b"".join(out) + b")"


def make_envelope(
    subject: str | None,
    from_: str | Sequence[str] = "Adele Vance <AdeleV@contoso.onmicrosoft.com>",
    to: str | Sequence[str] = ("Megan Bowen <MeganB@contoso.onmicrosoft.com>",),
    *,
    date: str | None = "Tue, 3 Mar 2026 09:15:02 +0000",
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    reply_to: str | Sequence[str] | None = None,
    in_reply_to: str | None = None,
    message_id: str | None = None,
) -> bytes:
    """An ENVELOPE value (the parenthesised list) as Exchange would send it: sender and
    reply-to default to from; non-ASCII strings go out as literals."""
    froms = [from_] if isinstance(from_, str) else list(from_)
    tos = [to] if isinstance(to, str) else list(to)
    replies = (
        froms if reply_to is None else ([reply_to] if isinstance(reply_to, str) else list(reply_to))
    )
    fields = [
        imap_nstring(date),
        imap_nstring(subject),
        _address_list(froms),
        _address_list(froms),
        _address_list(replies),
        _address_list(tos),
        _address_list(list(cc)),
        _address_list(list(bcc)),
        imap_nstring(in_reply_to),
        imap_nstring(message_id),
    ]
    return b"(" + b" ".join(fields) + b")"


#: Exchange's stand-in for a message it cannot convert: NIL date, From with a NIL mailbox and
#: the host ``.MISSING-HOST-NAME.``, a To whose display name is the address.
EXCHANGE_STUB_ENVELOPE = (
    b'(NIL "Retrieval using the IMAP4 protocol failed for the following message: 7" '
    b'(("Microsoft Exchange Server" NIL NIL ".MISSING-HOST-NAME.")) NIL NIL '
    b'(("MeganB@contoso.onmicrosoft.com" NIL "MeganB" "contoso.onmicrosoft.com")) '
    b"NIL NIL NIL NIL)"
)


def _generated_body(uid: int, size: int) -> bytes:
    head = (
        f"From: Adele Vance <AdeleV@contoso.onmicrosoft.com>\r\n"
        f"Subject: scripted message {uid}\r\n"
        f"Message-ID: <{uid}@scripted.invalid>\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    ).encode("ascii")
    if size <= len(head):
        return head[:size]
    line = b"x" * 76 + CRLF
    fill = line * ((size - len(head)) // len(line) + 1)
    return head + fill[: size - len(head)]


def message_body(msg: Message) -> bytes:
    """The full RFC 822 text served for ``msg`` (given or generated)."""
    return msg.body if msg.body is not None else _generated_body(msg.uid, msg.size)


def make_message(
    seq: int,
    uid: int,
    *,
    flags: Iterable[str] = (),
    subject: str = "Quarterly report",
    from_: str = "Adele Vance <AdeleV@contoso.onmicrosoft.com>",
    to: str = "Megan Bowen <MeganB@contoso.onmicrosoft.com>",
    date: str = "Tue, 3 Mar 2026 09:15:02 +0000",
    internaldate: str = "03-Mar-2026 09:15:04 +0000",
    body: bytes | None = None,
    size: int | None = None,
    envelope: bytes | None = None,
    bodystructure: bytes | None = None,
) -> Message:
    """A consistent message: the body (given, or generated from the headers) decides
    RFC822.SIZE unless ``size`` is given."""
    if body is None:
        body = (
            f"From: {from_}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n"
            f"Message-ID: <{uid}.{seq}@contoso.onmicrosoft.com>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Body of message {uid}.\r\n"
        ).encode()
    env = envelope or make_envelope(
        subject, from_, (to,), date=date, message_id=f"<{uid}.{seq}@contoso.onmicrosoft.com>"
    )
    return Message(
        seq,
        uid,
        tuple(flags),
        len(body) if size is None else size,
        internaldate,
        env,
        bodystructure,
        body,
    )


def exchange_stub_message(seq: int, uid: int, size: int = 0) -> Message:
    """The 'Retrieval using the IMAP4 protocol failed' stand-in with its broken envelope."""
    return Message(seq, uid, (), size, "03-Mar-2026 09:15:04 +0000", EXCHANGE_STUB_ENVELOPE)


DEFAULT_MESSAGES: tuple[Message, ...] = (
    make_message(1, 101, flags=(r"\Seen",), subject="Quarterly report"),
    make_message(2, 102, subject="Lunch on Friday?", from_="Lee Gu <LeeG@contoso.onmicrosoft.com>"),
    make_message(
        3,
        103,
        flags=(r"\Seen", r"\Flagged", "$MDNSent"),
        subject="Grüße aus Zürich",
        internaldate="04-Mar-2026 17:01:44 +0100",
    ),
)


def _normalise_messages(msgs: Sequence[Message | tuple[object, ...]]) -> list[Message]:
    out: list[Message] = []
    for pos, m in enumerate(msgs, 1):
        msg = m if isinstance(m, Message) else Message(*m)  # type: ignore[arg-type]
        if isinstance(msg.flags, str):
            msg = msg._replace(flags=tuple(msg.flags.split()))
        if msg.seq != pos:
            raise ValueError(f"message seq {msg.seq} at position {pos}: seqs must be 1..n")
        out.append(msg)
    return out


# --------------------------------------------------------------------------------------------
# The Office 365 session
# --------------------------------------------------------------------------------------------

AuthMode: TypeAlias = Literal["ok", "fail", "json_challenge"]
Hook: TypeAlias = Callable[["O365Session", Command], bool]


@dataclass(frozen=True)
class O365Config:
    """Everything :class:`O365Session` can vary. Defaults: Office 365 as in the captures."""

    greeting: str = O365_GREETING
    capabilities: str = CAPABILITIES_PRE_AUTH
    capabilities_authenticated: str = CAPABILITIES_POST_AUTH
    folders: tuple[Folder, ...] = DEFAULT_FOLDERS
    #: one list for every selectable folder, or a mapping folder name -> list (others empty)
    messages: Sequence[Message] | Mapping[str, Sequence[Message]] = DEFAULT_MESSAGES
    #: expected XOAUTH2 ``user=`` / bearer token; None accepts anything well formed
    user: str | None = None
    token: str | None = None
    auth: AuthMode = "ok"
    json_challenge: str = GMAIL_JSON_CHALLENGE
    json_failure: str = "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)"
    uidvalidity: int = 14
    recent: int = 0
    #: lines sent right after the IDLE continuation (e.g. "* 4 EXISTS")
    idle_updates: tuple[str, ...] = ()
    #: UID MOVE answers with a bare "[COPYUID ...]" line (an Exchange quirk) instead of "* OK [...]"
    bare_copyuid: bool = True
    #: command lines longer than this get "BAD Command Error. 10"
    max_line: int | None = None
    #: record unknown commands / unsupported FETCH items in server.errors
    strict: bool = True
    #: record an error for every synchronising literal (client should use {n+})
    require_nonsync_literals: bool = False
    #: seconds a {n+} literal may take to arrive before it counts as "client waited"
    nonsync_literal_wait: float | None = 2.0
    #: port-143 style: STARTTLS offered, credentials before TLS are an error
    starttls: bool = False
    #: a partial FETCH ``BODY[...]<origin.length>``: "honour" it, "ignore" it (send the whole
    #: section, as some servers do), answer from 10 bytes "later" than asked (broken), or name
    #: an origin of 5,000 digits ("overlong", hostile)
    partial: Literal["honour", "ignore", "later", "overlong"] = "honour"


class _Mailbox:
    def __init__(self, name: str, msgs: list[Message], readonly: bool) -> None:
        self.name = name
        self.msgs = msgs
        self.readonly = readonly


class O365Session:
    """Plays Exchange Online's IMAP4 service on one connection. ``hooks`` see every command
    first; a hook returning True has handled it. Hooks can use :meth:`ok`, :meth:`no`,
    :meth:`bad`, :meth:`dispatch` (the default handling) and set :attr:`done`."""

    def __init__(self, conv: Conversation, config: O365Config, hooks: Sequence[Hook] = ()) -> None:
        self.conv = conv
        self.config = config
        self.hooks = list(hooks)
        self.authenticated = False
        self.done = False
        self.invalid_state = False  # after "* BYE Session invalidated" without a close
        self.mailbox: _Mailbox | None = None
        self.user: str | None = None
        self.token: str | None = None

    # -- plumbing ---------------------------------------------------------------------------

    def run(self) -> None:
        self.conv.send_line(self.config.greeting)
        while not self.done:
            seen = len(self.conv.literals)
            raw = self.conv.read_command(nonsync_wait=self.config.nonsync_literal_wait)
            if not raw:
                return
            self._check_literals(self.conv.literals[seen:])
            cmd = parse_command(raw)
            if cmd is None:
                self.conv.send_line(f"{tag_of(raw) or '*'} {_LINE_TOO_LONG}")
                self.conv.fail(f"malformed command {raw!r}")
                continue
            if self.config.max_line is not None and any(
                len(x) > self.config.max_line for x in raw.split(b"\n")
            ):
                self.bad(cmd, "Command Error. 10")
                continue
            if self.invalid_state:
                self.bad(cmd, "Command received in Invalid state.")
                continue
            if any(hook(self, cmd) for hook in self.hooks):
                continue
            self.dispatch(cmd)

    def _check_literals(self, new: Sequence[LiteralInfo]) -> None:
        plus = "LITERAL+" in self._capabilities().split()
        for lit in new:
            if lit.nonsync and not plus:
                self.conv.fail(f"{{{lit.size}+}} literal although LITERAL+ is not advertised")
            if not lit.nonsync and self.config.require_nonsync_literals:
                self.conv.fail(
                    f"synchronising {{{lit.size}}} literal although LITERAL+ is advertised"
                )

    def send(self, line: str | bytes) -> None:
        self.conv.send_line(line)

    def ok(self, cmd: Command, text: str | None = None) -> None:
        self.send(f"{cmd.tag} OK {text or cmd.base + ' completed.'}")

    def no(self, cmd: Command, text: str) -> None:
        self.send(f"{cmd.tag} NO {text}")

    def bad(self, cmd: Command, text: str) -> None:
        self.send(f"{cmd.tag} BAD {text}")

    def _capabilities(self) -> str:
        if self.config.starttls and not self.conv.tls:
            return CAPABILITIES_PRE_STARTTLS
        return (
            self.config.capabilities_authenticated
            if self.authenticated
            else self.config.capabilities
        )

    def dispatch(self, cmd: Command) -> None:
        """The default handling of a command."""
        handler = _HANDLERS.get(cmd.name)
        if handler is None:
            if self.config.strict:
                self.conv.fail(f"unhandled command {cmd.raw!r}")
            self.send(f"{cmd.tag} {_UNKNOWN_COMMAND}")
            return
        needs = _NEEDS.get(cmd.base, "auth")
        if needs != "none" and not self.authenticated:
            self.bad(cmd, "Command received in Invalid state.")
            return
        if needs == "selected" and self.mailbox is None:
            self.bad(cmd, "Command received in Invalid state.")
            return
        try:
            handler(self, cmd)
        except (ValueError, IndexError, TypeError):
            self.send(f"{cmd.tag} {_ARG_ERROR}")

    # -- folder / message lookups -------------------------------------------------------------

    def folder(self, name: str) -> Folder | None:
        key = _canon(name)
        for f in self.config.folders:
            if _canon(f.name) == key:
                return f
        return None

    def messages_of(self, folder: Folder) -> list[Message]:
        msgs = self.config.messages
        if isinstance(msgs, Mapping):
            for k, v in msgs.items():
                if _canon(k) == _canon(folder.name):
                    return _normalise_messages(v)
            return []
        return _normalise_messages(msgs)

    def resolve(self, cmd: Command, setspec: str) -> list[Message]:
        """The messages a sequence set (or UID set, for UID commands) names, in order."""
        assert self.mailbox is not None
        msgs = self.mailbox.msgs
        if cmd.is_uid:
            largest = max((m.uid for m in msgs), default=0)
            ranges = parse_sequence_set(setspec, largest)
            return [m for m in msgs if any(lo <= m.uid <= hi for lo, hi in ranges)]
        ranges = parse_sequence_set(setspec, len(msgs))
        return [m for m in msgs if any(lo <= m.seq <= hi for lo, hi in ranges)]

    def renumber(self) -> None:
        assert self.mailbox is not None
        self.mailbox.msgs = [m._replace(seq=i) for i, m in enumerate(self.mailbox.msgs, 1)]

    # -- any state ----------------------------------------------------------------------------

    def cmd_capability(self, cmd: Command) -> None:
        self.send(f"* CAPABILITY {self._capabilities()}")
        self.ok(cmd)

    def cmd_noop(self, cmd: Command) -> None:
        self.ok(cmd, "NOOP Completed")

    def cmd_id(self, cmd: Command) -> None:
        self.send("* ID NIL")  # not from a capture
        self.ok(cmd)

    def cmd_logout(self, cmd: Command) -> None:
        self.send(O365_BYE_LOGOUT)
        self.ok(cmd)
        self.conv.hangup()
        self.done = True

    def cmd_starttls(self, cmd: Command) -> None:
        if not self.config.starttls or self.conv.tls or self.authenticated:
            self.bad(cmd, "Command received in Invalid state.")
            return
        self.ok(cmd, "Begin TLS negotiation now.")  # not from a capture
        self.conv.starttls()

    def cmd_login(self, cmd: Command) -> None:
        self._plaintext_guard("LOGIN")
        self.no(cmd, "LOGIN failed.")  # basic auth is off at Office 365

    def _plaintext_guard(self, what: str) -> bool:
        if self.config.starttls and not self.conv.tls:
            self.conv.fail(f"{what} sent before STARTTLS: credentials in plain text")
            return True
        return False

    def cmd_authenticate(self, cmd: Command) -> None:
        conv = self.conv
        if self.authenticated:
            self.bad(cmd, "Command received in Invalid state.")
            return
        if not cmd.args or not isinstance(cmd.args[0], str):
            raise ValueError("mechanism")
        mech = cmd.args[0].upper()
        initial = cmd.args[1] if len(cmd.args) > 1 and isinstance(cmd.args[1], str) else None
        if self._plaintext_guard(f"AUTHENTICATE {mech}"):
            self.bad(cmd, "Command received in Invalid state.")
            return
        sasl_ir = "SASL-IR" in self._capabilities().split()
        if initial is not None and not sasl_ir:
            conv.fail("SASL initial response sent although SASL-IR is not advertised")
            self.send(f"{cmd.tag} {_ARG_ERROR}")
            return
        if initial is None:
            conv.send(b"+ \r\n")  # Exchange: an empty continuation
            line = conv.read_line()
            if not line:
                return
            if line.strip() == b"*":
                self.bad(cmd, "AUTHENTICATE aborted.")  # not from a capture
                return
            initial = line.decode("ascii", "replace").strip()
        if mech != "XOAUTH2":
            self.no(cmd, "AUTHENTICATE failed.")
            return
        try:
            user, token = decode_xoauth2(initial)
        except ValueError as exc:
            conv.fail(str(exc))
            self.no(cmd, "AUTHENTICATE failed.")
            return
        with conv.server._lock:
            conv.server.xoauth2.append((user, token))
        self.user, self.token = user, token
        if self.config.auth == "json_challenge":
            b64 = base64.b64encode(self.config.json_challenge.encode()).decode("ascii")
            conv.send_line(f"+ {b64}")
            answer = conv.read_line()
            if answer != CRLF:
                conv.fail(f"JSON challenge must be answered with an empty line, got {answer!r}")
            if answer:
                self.send(f"{cmd.tag} {self.config.json_failure}")
            return
        wrong = (self.config.user is not None and user != self.config.user) or (
            self.config.token is not None and token != self.config.token
        )
        if self.config.auth == "fail" or wrong:
            self.no(cmd, "AUTHENTICATE failed.")
            return
        self.authenticated = True
        self.ok(cmd, "AUTHENTICATE completed.")

    # -- authenticated ------------------------------------------------------------------------

    def cmd_namespace(self, cmd: Command) -> None:
        self.send('* NAMESPACE (("" "/")) NIL NIL')
        self.ok(cmd)

    def cmd_list(self, cmd: Command) -> None:
        ref, pattern = str(cmd.args[0]), str(cmd.args[1])
        if pattern == "":
            self.send(rb"* " + cmd.base.encode() + rb' (\Noselect) "/" ""')
            self.ok(cmd)
            return
        rx = _list_regex(_canon(ref + pattern))
        for f in self.config.folders:
            if rx.fullmatch(_canon(f.name)):
                name = f.wire if f.wire is not None else imap_astring(f.name)
                self.send(f'* {cmd.base} ({f.attributes}) "/" '.encode() + name)
        self.ok(cmd)

    cmd_lsub = cmd_list

    def cmd_status(self, cmd: Command) -> None:
        name = str(cmd.args[0])
        items = cmd.args[1]
        if not isinstance(items, list):
            raise ValueError("status items")
        f = self.folder(name)
        if f is None:
            self.no(cmd, f"{name} doesn't exist.")
            return
        msgs = self.messages_of(f)
        values = {
            "MESSAGES": len(msgs),
            "RECENT": min(self.config.recent, len(msgs)),
            "UIDNEXT": max((m.uid for m in msgs), default=0) + 1,
            "UIDVALIDITY": self.config.uidvalidity,
            "UNSEEN": sum(1 for m in msgs if r"\Seen" not in m.flags),
        }
        parts = [f"{str(i).upper()} {values[str(i).upper()]}" for i in items]
        self.send(b"* STATUS " + imap_astring(f.name) + f" ({' '.join(parts)})".encode())
        self.ok(cmd)

    def cmd_select(self, cmd: Command) -> None:
        name = str(cmd.args[0])
        readonly = cmd.base == "EXAMINE"
        f = self.folder(name)
        self.mailbox = None
        if f is None or r"\Noselect" in f.attributes:
            self.no(cmd, f"{name} doesn't exist.")
            return
        msgs = self.messages_of(f)
        self.mailbox = _Mailbox(f.name, msgs, readonly)
        self.send(f"* {len(msgs)} EXISTS")
        self.send(f"* {min(self.config.recent, len(msgs))} RECENT")
        self.send(f"* FLAGS ({MAILBOX_FLAGS})")
        perm = "" if readonly else MAILBOX_FLAGS
        self.send(f"* OK [PERMANENTFLAGS ({perm})] Permanent flags")
        unseen = next((m.seq for m in msgs if r"\Seen" not in m.flags), None)
        if unseen is not None:
            self.send(f"* OK [UNSEEN {unseen}] Is the first unseen message")
        self.send(f"* OK [UIDVALIDITY {self.config.uidvalidity}] UIDVALIDITY value")
        uidnext = max((m.uid for m in msgs), default=0) + 1
        self.send(f"* OK [UIDNEXT {uidnext}] The next unique identifier value")
        mode = "READ-ONLY" if readonly else "READ-WRITE"
        self.ok(cmd, f"[{mode}] {cmd.base} completed.")

    cmd_examine = cmd_select

    def cmd_idle(self, cmd: Command) -> None:
        self.send("+ IDLE accepted, awaiting DONE command.")
        for update in self.config.idle_updates:
            self.send(update)
        while True:
            line = self.conv.read_line()
            if not line:
                self.done = True
                return
            if line.strip().upper() == b"DONE":
                break
            self.send(f"{tag_of(line)} {_INVALID_STATE}")
        self.ok(cmd)

    # -- selected -------------------------------------------------------------------------------

    def cmd_close(self, cmd: Command) -> None:
        self.mailbox = None
        self.ok(cmd)

    cmd_unselect = cmd_close

    def cmd_fetch(self, cmd: Command) -> None:
        items = fetch_items(cmd.args[1:])
        for msg in self.resolve(cmd, str(cmd.args[0])):
            self.send_fetch(cmd, msg, items)
        self.ok(cmd)

    def send_fetch(self, cmd: Command, msg: Message, items: Sequence[str]) -> None:
        """Send the ``* n FETCH (...)`` response for one message."""
        self.conv.send(self.fetch_response(cmd, msg, items))

    def fetch_response(self, cmd: Command, msg: Message, items: Sequence[str]) -> bytes:
        """The ``* n FETCH (...)\\r\\n`` bytes for ``msg``. Non-PEEK body fetches set \\Seen
        in a read-write mailbox (and report FLAGS)."""
        wanted = list(items)
        if cmd.is_uid and "UID" not in wanted:
            wanted.insert(0, "UID")
        parts: list[bytes] = []
        sets_seen = False
        for item in wanted:
            data, seen = self._fetch_item(msg, item)
            parts.append(data)
            sets_seen = sets_seen or seen
        assert self.mailbox is not None
        if sets_seen and not self.mailbox.readonly and r"\Seen" not in msg.flags:
            msg = msg._replace(flags=(*msg.flags, r"\Seen"))
            self.mailbox.msgs[msg.seq - 1] = msg
            if "FLAGS" not in wanted:
                parts.append(b"FLAGS (" + " ".join(msg.flags).encode() + b")")
        return b"* %d FETCH (" % msg.seq + b" ".join(parts) + b")\r\n"

    def _fetch_item(self, msg: Message, item: str) -> tuple[bytes, bool]:
        up = item.upper()
        if up == "UID":
            return b"UID %d" % msg.uid, False
        if up == "FLAGS":
            return b"FLAGS (" + " ".join(msg.flags).encode() + b")", False
        if up == "RFC822.SIZE":
            return b"RFC822.SIZE %d" % msg.size, False
        if up == "INTERNALDATE":
            return b'INTERNALDATE "' + msg.internaldate.encode() + b'"', False
        if up == "ENVELOPE":
            return b"ENVELOPE " + msg.envelope, False
        if up in ("BODYSTRUCTURE", "BODY"):
            return up.encode() + b" " + (msg.bodystructure or _default_bodystructure(msg)), False
        body = message_body(msg)
        header, text = _split_message(body)
        if up in ("RFC822", "RFC822.HEADER", "RFC822.TEXT"):
            data = {"RFC822": body, "RFC822.HEADER": header, "RFC822.TEXT": text}[up]
            return up.encode() + b" " + _literal(data), up != "RFC822.HEADER"
        m = _BODY_SECTION.fullmatch(item)
        if m is None:
            if self.config.strict:
                self.conv.fail(f"unsupported FETCH item {item!r}")
            raise ValueError(item)
        peek, section, origin, length = m[2], m[3], m[4], m[5]
        sec = section.upper()
        if sec == "":
            data = body
        elif sec == "HEADER":
            data = header
        elif sec == "TEXT":
            data = text
        elif sec.startswith("HEADER.FIELDS"):
            names = {n.upper() for n in re.findall(r"[^\s()]+", section[len("HEADER.FIELDS") :])}
            names.discard(".NOT")
            data = _filter_headers(header, names, sec.startswith("HEADER.FIELDS.NOT"))
        elif msg.sections is not None and section in msg.sections:
            data = msg.sections[section]
        else:
            if self.config.strict:
                self.conv.fail(f"no data for section {section!r} of uid {msg.uid}")
            raise ValueError(section)
        name = b"BODY[" + section.encode() + b"]"
        if origin is not None and self.config.partial != "ignore":
            start = int(origin) + (10 if self.config.partial == "later" else 0)
            data = data[start:] if length is None else data[start : start + int(length)]
            name += b"<%s>" % (b"9" * 5000 if self.config.partial == "overlong" else b"%d" % start)
        return name + b" " + _literal(data), peek is None

    def cmd_search(self, cmd: Command) -> None:
        assert self.mailbox is not None
        msgs = self.mailbox.msgs
        pred = _search_program(cmd.args, len(msgs), max((m.uid for m in msgs), default=0))
        hits = [m for m in self.mailbox.msgs if pred(m)]
        nums = [m.uid if cmd.is_uid else m.seq for m in hits]
        self.send("* SEARCH" + "".join(f" {n}" for n in nums))
        self.ok(cmd)

    def cmd_store(self, cmd: Command) -> None:
        assert self.mailbox is not None
        targets = self.resolve(cmd, str(cmd.args[0]))
        action = str(cmd.args[1]).upper()
        flags_arg = cmd.args[2]
        flags = [str(f) for f in flags_arg] if isinstance(flags_arg, list) else [str(flags_arg)]
        silent = action.endswith(".SILENT")
        action = action.removesuffix(".SILENT")
        if action not in ("FLAGS", "+FLAGS", "-FLAGS"):
            raise ValueError(action)
        for target in targets:
            if action == "FLAGS":
                new = tuple(flags)
            elif action == "+FLAGS":
                new = (*target.flags, *(f for f in flags if f not in target.flags))
            else:
                new = tuple(f for f in target.flags if f not in flags)
            msg = target._replace(flags=new)
            self.mailbox.msgs[msg.seq - 1] = msg
            if not silent:
                uid = f" UID {msg.uid}" if cmd.is_uid else ""
                self.send(f"* {msg.seq} FETCH (FLAGS ({' '.join(new)}){uid})")
        self.ok(cmd)

    def cmd_copy(self, cmd: Command) -> None:
        assert self.mailbox is not None
        targets = self.resolve(cmd, str(cmd.args[0]))
        dest = self.folder(str(cmd.args[1]))
        if dest is None:
            self.no(cmd, f"[TRYCREATE] {cmd.args[1]} doesn't exist.")  # not from a capture
            return
        if not targets:
            self.ok(cmd)
            return
        first = max((m.uid for m in self.messages_of(dest)), default=0) + 1
        src = ",".join(str(m.uid) for m in targets)
        dst = f"{first}:{first + len(targets) - 1}" if len(targets) > 1 else str(first)
        copyuid = f"[COPYUID {self.config.uidvalidity} {src} {dst}]"
        if cmd.base == "COPY":
            self.ok(cmd, f"{copyuid} COPY completed.")
            return
        self.send(copyuid if self.config.bare_copyuid else f"* OK {copyuid}")
        for msg in sorted(targets, key=lambda m: m.seq, reverse=True):
            self.send(f"* {msg.seq} EXPUNGE")
            del self.mailbox.msgs[msg.seq - 1]
        self.renumber()
        self.send(f"* {len(self.mailbox.msgs)} EXISTS")
        self.ok(cmd)

    cmd_move = cmd_copy

    def cmd_expunge(self, cmd: Command) -> None:
        assert self.mailbox is not None
        for msg in reversed(list(self.mailbox.msgs)):
            if r"\Deleted" in msg.flags and (
                not cmd.is_uid or msg in self.resolve(cmd, str(cmd.args[0]))
            ):
                self.send(f"* {msg.seq} EXPUNGE")
                del self.mailbox.msgs[msg.seq - 1]
        self.renumber()
        self.ok(cmd)


_NEEDS: Mapping[str, str] = {
    "CAPABILITY": "none",
    "NOOP": "none",
    "ID": "none",
    "LOGOUT": "none",
    "STARTTLS": "none",
    "LOGIN": "none",
    "AUTHENTICATE": "none",
    "FETCH": "selected",
    "SEARCH": "selected",
    "STORE": "selected",
    "COPY": "selected",
    "MOVE": "selected",
    "EXPUNGE": "selected",
    "CLOSE": "selected",
    "UNSELECT": "selected",
}


_HANDLERS: Mapping[str, Callable[[O365Session, Command], None]] = {
    "CAPABILITY": O365Session.cmd_capability,
    "NOOP": O365Session.cmd_noop,
    "ID": O365Session.cmd_id,
    "LOGOUT": O365Session.cmd_logout,
    "STARTTLS": O365Session.cmd_starttls,
    "LOGIN": O365Session.cmd_login,
    "AUTHENTICATE": O365Session.cmd_authenticate,
    "NAMESPACE": O365Session.cmd_namespace,
    "LIST": O365Session.cmd_list,
    "LSUB": O365Session.cmd_lsub,
    "STATUS": O365Session.cmd_status,
    "SELECT": O365Session.cmd_select,
    "EXAMINE": O365Session.cmd_examine,
    "IDLE": O365Session.cmd_idle,
    "CLOSE": O365Session.cmd_close,
    "UNSELECT": O365Session.cmd_unselect,
    "FETCH": O365Session.cmd_fetch,
    "UID FETCH": O365Session.cmd_fetch,
    "SEARCH": O365Session.cmd_search,
    "UID SEARCH": O365Session.cmd_search,
    "STORE": O365Session.cmd_store,
    "UID STORE": O365Session.cmd_store,
    "COPY": O365Session.cmd_copy,
    "UID COPY": O365Session.cmd_copy,
    "MOVE": O365Session.cmd_move,
    "UID MOVE": O365Session.cmd_move,
    "EXPUNGE": O365Session.cmd_expunge,
    "UID EXPUNGE": O365Session.cmd_expunge,
}


def _canon(name: str) -> str:
    """INBOX is case-insensitive (also as the first level of a hierarchy)."""
    if name[:5].upper() == "INBOX" and (len(name) == 5 or name[5] == "/"):
        return "INBOX" + name[5:]
    return name


def _list_regex(pattern: str) -> re.Pattern[str]:
    out = "".join(".*" if ch == "*" else "[^/]*" if ch == "%" else re.escape(ch) for ch in pattern)
    return re.compile(out, re.DOTALL)


_FETCH_MACROS = {
    "ALL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"],
    "FAST": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
    "FULL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"],
}
_BODY_SECTION = re.compile(r"(BODY(\.PEEK)?)\[([^\]]*)\](?:<(\d+)(?:\.(\d+))?>)?", re.IGNORECASE)


def fetch_items(args: Sequence[Arg]) -> list[str]:
    """FETCH item list (``(FLAGS UID)``, a single item or a macro) -> item strings."""
    if len(args) != 1:
        raise ValueError("fetch items")
    spec = args[0]
    if isinstance(spec, str):
        macro = _FETCH_MACROS.get(spec.upper())
        return list(macro) if macro is not None else [spec]
    items: list[str] = []
    for x in spec:
        if not isinstance(x, str):
            raise ValueError("nested list in fetch items")
        items.append(x)
    return items


def _literal(data: bytes) -> bytes:
    return b"{%d}\r\n" % len(data) + data


def _split_message(body: bytes) -> tuple[bytes, bytes]:
    k = body.find(b"\r\n\r\n")
    if k < 0:
        return body, b""
    return body[: k + 4], body[k + 4 :]


def _filter_headers(header: bytes, names: set[str], exclude: bool) -> bytes:
    out: list[bytes] = []
    keep = False
    for line in header.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line)
            continue
        name = line.split(b":", 1)[0].decode("ascii", "replace").strip().upper()
        keep = (name in names) != exclude
        if keep:
            out.append(line)
    return b"".join(x + CRLF for x in out) + CRLF


def _default_bodystructure(msg: Message) -> bytes:
    _, text = _split_message(message_body(msg))
    lines = text.count(b"\n")
    return b'("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" %d %d NIL NIL NIL NIL)' % (
        len(text),
        lines,
    )


_MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}


def _imap_date(text: str) -> tuple[int, int, int]:
    day, mon, year = text.split(" ", maxsplit=1)[0].split("-")
    return int(year), _MONTHS[mon.upper()], int(day)


_FLAG_KEYS = {
    "SEEN": (r"\Seen", True),
    "UNSEEN": (r"\Seen", False),
    "FLAGGED": (r"\Flagged", True),
    "UNFLAGGED": (r"\Flagged", False),
    "ANSWERED": (r"\Answered", True),
    "UNANSWERED": (r"\Answered", False),
    "DELETED": (r"\Deleted", True),
    "UNDELETED": (r"\Deleted", False),
    "DRAFT": (r"\Draft", True),
    "UNDRAFT": (r"\Draft", False),
}
_SEQSET = re.compile(r"[0-9*:,]+")


def _search_program(args: Sequence[Arg], count: int, largest_uid: int) -> Callable[[Message], bool]:
    """A small SEARCH subset: ALL, flag keys, UID set, sequence set, SINCE/BEFORE/ON, NOT, OR,
    parentheses, CHARSET. Anything else: ValueError (-> ``BAD Command Argument Error. 11``,
    as Exchange answers unsupported keys)."""
    items = list(args)
    pos = 0

    def key() -> Callable[[Message], bool]:
        nonlocal pos
        a = items[pos]
        pos += 1
        if isinstance(a, list):
            return _search_program(a, count, largest_uid)
        up = a.upper()
        if up == "ALL":
            return lambda m: True
        if up in _FLAG_KEYS:
            flag, present = _FLAG_KEYS[up]
            return lambda m: (flag in m.flags) == present
        if up == "NOT":
            inner = key()
            return lambda m: not inner(m)
        if up == "OR":
            left, right = key(), key()
            return lambda m: left(m) or right(m)
        if up == "UID":
            uid_ranges = parse_sequence_set(str(items[pos]), largest_uid)
            pos += 1
            return lambda m: any(lo <= m.uid <= hi for lo, hi in uid_ranges)
        if up in ("SINCE", "BEFORE", "ON"):
            when = _imap_date(str(items[pos]))
            pos += 1
            if up == "SINCE":
                return lambda m: _imap_date(m.internaldate) >= when
            if up == "BEFORE":
                return lambda m: _imap_date(m.internaldate) < when
            return lambda m: _imap_date(m.internaldate) == when
        if _SEQSET.fullmatch(a):
            ranges = parse_sequence_set(a, count)
            return lambda m: any(lo <= m.seq <= hi for lo, hi in ranges)
        raise ValueError(f"unsupported search key {a!r}")

    preds: list[Callable[[Message], bool]] = []
    while pos < len(items):
        a = items[pos]
        if isinstance(a, str) and a.upper() == "CHARSET":
            pos += 2
            continue
        preds.append(key())
    if not preds:
        raise ValueError("empty search")
    return lambda m: all(p(m) for p in preds)


# --------------------------------------------------------------------------------------------
# Ready-made scripts
# --------------------------------------------------------------------------------------------


def _config(
    config: O365Config | None,
    messages: Sequence[Message | tuple[object, ...]] | Mapping[str, Sequence[Message]] | None,
    folders: Sequence[Folder] | None = None,
) -> O365Config:
    cfg = config or O365Config()
    if messages is not None:
        if isinstance(messages, Mapping):
            msgs: Sequence[Message] | Mapping[str, Sequence[Message]] = {
                k: tuple(_normalise_messages(v)) for k, v in messages.items()
            }
        else:
            msgs = tuple(_normalise_messages(messages))
        cfg = replace(cfg, messages=msgs)
    if folders is not None:
        cfg = replace(cfg, folders=tuple(folders))
    return cfg


def _session_script(cfg: O365Config, hooks: Sequence[Hook] = ()) -> Script:
    def script(conv: Conversation) -> None:
        O365Session(conv, cfg, hooks).run()

    return script


class _Counter:
    """A thread-safe countdown shared by every connection of one script."""

    def __init__(self, times: int) -> None:
        self.left = times
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True


def _on(on: str | Iterable[str]) -> frozenset[str]:
    names = [on] if isinstance(on, str) else list(on)
    return frozenset(_family(n) for n in names)


def o365_happy(
    messages: Sequence[Message | tuple[object, ...]]
    | Mapping[str, Sequence[Message]]
    | None = None,
    *,
    folders: Sequence[Folder] | None = None,
    user: str | None = None,
    token: str | None = None,
    config: O365Config | None = None,
    hooks: Sequence[Hook] = (),
) -> Script:
    """A well-behaved Office 365 session: greeting, then any sequence of commands, answered
    as Exchange does. ``messages``: Message tuples (seq, uid, flags, size, internaldate,
    envelope[, bodystructure, body, sections]) for every folder, or a mapping folder ->
    messages. ``user``/``token``: expected XOAUTH2 values (a mismatch gets
    ``NO AUTHENTICATE failed.``)."""
    cfg = _config(config, messages, folders)
    if user is not None or token is not None:
        cfg = replace(cfg, user=user, token=token)
    return _session_script(cfg, hooks)


def auth_failed_no_challenge(*, config: O365Config | None = None) -> Script:
    """``tag NO AUTHENTICATE failed.`` right after the SASL-IR line; the session stays in the
    not-authenticated state (CAPABILITY, LOGOUT still answered)."""
    return _session_script(replace(config or O365Config(), auth="fail"))


def auth_json_challenge(
    *,
    challenge: str = GMAIL_JSON_CHALLENGE,
    failure: str = "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)",
    config: O365Config | None = None,
) -> Script:
    """Gmail/Dovecot style: ``+ <base64 JSON>``, the client must answer with an empty line,
    then ``tag NO [AUTHENTICATIONFAILED] ...``. Gmail greeting and capabilities by default."""
    base = config or O365Config(greeting=GMAIL_GREETING, capabilities=GMAIL_CAPABILITIES)
    return _session_script(
        replace(base, auth="json_challenge", json_challenge=challenge, json_failure=failure)
    )


def auth_no_sasl_ir(
    messages: Sequence[Message | tuple[object, ...]] | None = None,
    *,
    config: O365Config | None = None,
) -> Script:
    """A server without SASL-IR: ``AUTHENTICATE XOAUTH2`` -> ``+ `` (empty continuation) ->
    the base64 line -> ``OK AUTHENTICATE completed.``. An initial response on the command
    line is an error."""
    cfg = replace(_config(config, messages), capabilities=CAPABILITIES_PRE_AUTH_NO_SASL_IR)
    return _session_script(cfg)


def authenticated_but_not_connected(
    bad_replies: int = 1, *, on_authenticate: bool = False, config: O365Config | None = None
) -> Script:
    """AUTHENTICATE succeeds (``OK AUTHENTICATE completed.``) and CAPABILITY is answered, but
    every other command gets ``tag BAD User is authenticated but not connected.``; the
    ``bad_replies``-th one comes with ``* BYE Connection closed. 14`` in the SAME send, then
    the connection is closed. ``on_authenticate=True``: the AUTHENTICATE itself gets
    BAD + BYE."""
    text = "BAD User is authenticated but not connected."

    def hook(s: O365Session, cmd: Command) -> bool:
        if on_authenticate and cmd.name == "AUTHENTICATE":
            s.conv.send(f"{cmd.tag} {text}\r\n* BYE Connection closed. 14\r\n".encode())
            s.conv.hangup()
            s.done = True
            return True
        if not s.authenticated or cmd.name in ("CAPABILITY", "LOGOUT"):
            return False
        seen = s.conv.state.get("not_connected", 0)
        count = (seen if isinstance(seen, int) else 0) + 1
        s.conv.state["not_connected"] = count
        if count >= bad_replies:
            s.conv.send(f"{cmd.tag} {text}\r\n* BYE Connection closed. 14\r\n".encode())
            s.conv.hangup()
            s.done = True
        else:
            s.send(f"{cmd.tag} {text}")
        return True

    return _session_script(config or O365Config(), [hook])


def throttled(
    times: int = 1,
    backoff_ms: int = 299609,
    on: str | Iterable[str] = "SELECT",
    *,
    messages: Sequence[Message | tuple[object, ...]] | None = None,
    config: O365Config | None = None,
) -> Script:
    """Answer ``on`` (a command family: "SELECT" also covers EXAMINE, "FETCH" also UID FETCH)
    with ``tag NO Request is throttled. Suggested Backoff Time: N milliseconds`` ``times``
    times (counted across connections), then normally. Check the client's pause with
    ``server.sent_times("throttled")`` and ``server.received_times(" SELECT ")``."""
    counter = _Counter(times)
    names = _on(on)

    def hook(s: O365Session, cmd: Command) -> bool:
        if cmd.family in names and s.authenticated and counter.take():
            s.no(cmd, f"Request is throttled. Suggested Backoff Time: {backoff_ms} milliseconds")
            return True
        return False

    return _session_script(_config(config, messages), [hook])


def throttled_bad_bye(
    times: int = 1,
    backoff_ms: int = 89117,
    on: str | Iterable[str] = "SELECT",
    *,
    messages: Sequence[Message | tuple[object, ...]] | None = None,
    config: O365Config | None = None,
) -> Script:
    """Like :func:`throttled` but ``tag BAD Request is throttled. ...`` + ``* BYE Connection
    closed. 14`` in one send, then close; a later connection (same script) is served once the
    count is used up."""
    counter = _Counter(times)
    names = _on(on)

    def hook(s: O365Session, cmd: Command) -> bool:
        if cmd.family in names and s.authenticated and counter.take():
            s.conv.send(
                f"{cmd.tag} BAD Request is throttled. Suggested Backoff Time: {backoff_ms} "
                "milliseconds\r\n* BYE Connection closed. 14\r\n".encode()
            )
            s.conv.hangup()
            s.done = True
            return True
        return False

    return _session_script(_config(config, messages), [hook])


def server_unavailable(
    times: int = 1,
    on: str | Iterable[str] = ("SELECT", "STATUS"),
    *,
    messages: Sequence[Message | tuple[object, ...]] | None = None,
    config: O365Config | None = None,
) -> Script:
    """``tag NO Server Unavailable. 15`` on SELECT/EXAMINE (and STATUS), ``times`` times."""
    counter = _Counter(times)
    names = _on(on)

    def hook(s: O365Session, cmd: Command) -> bool:
        if cmd.family in names and s.authenticated and counter.take():
            s.no(cmd, "Server Unavailable. 15")
            return True
        return False

    return _session_script(_config(config, messages), [hook])


def cut_in_literal(
    announced: int = 1000,
    sent: int = 300,
    *,
    any_fetch: bool = False,
    rst: bool = False,
    times: int = 1,
    messages: Sequence[Message | tuple[object, ...]] | None = None,
    config: O365Config | None = None,
) -> Script:
    """The first FETCH asking for a body section (any FETCH with ``any_fetch``) gets
    ``* n FETCH (UID u BODY[] {announced}`` + only ``sent`` bytes, then the connection is
    closed (FIN; RST with ``rst=True``). Later FETCHes / connections are served normally."""
    counter = _Counter(times)

    def hook(s: O365Session, cmd: Command) -> bool:
        if cmd.family != "FETCH" or s.mailbox is None:
            return False
        try:
            items = fetch_items(cmd.args[1:])
            targets = s.resolve(cmd, str(cmd.args[0]))
        except (ValueError, IndexError):
            return False
        body_items = [
            i
            for i in items
            if _BODY_SECTION.fullmatch(i) or i.upper() in ("RFC822", "RFC822.TEXT", "RFC822.HEADER")
        ]
        if not targets or (not body_items and not any_fetch) or not counter.take():
            return False
        msg = targets[0]
        name = "BODY[]"
        if body_items:
            m = _BODY_SECTION.fullmatch(body_items[0])
            name = f"BODY[{m[3]}]" if m else body_items[0].upper()
        filler = (message_body(msg) + b"x" * announced)[:sent]
        s.conv.send(
            f"* {msg.seq} FETCH (UID {msg.uid} {name} {{{announced}}}\r\n".encode() + filler
        )
        s.conv.close(rst=rst)
        s.done = True
        return True

    return _session_script(_config(config, messages), [hook])


def stall_after(
    command: str | Iterable[str] = "SELECT",
    *,
    answer: bool = False,
    seconds: float = 3600.0,
    times: int = 1,
    messages: Sequence[Message | tuple[object, ...]] | None = None,
    config: O365Config | None = None,
) -> Script:
    """When ``command`` (family) arrives, stop answering for ``seconds`` (default an hour;
    ``server.close()`` ends it at once). ``answer=True``: answer it first, then go silent.
    Once the client hangs up (or the time is over) the connection is closed. ``times`` counts
    across connections, so a reconnecting client is served normally."""
    counter = _Counter(times)
    names = _on(command)

    def hook(s: O365Session, cmd: Command) -> bool:
        if cmd.family not in names or not counter.take():
            return False
        if answer:
            s.dispatch(cmd)
        s.conv.stall(seconds)
        s.conv.close(rst=False)
        s.done = True
        return True

    return _session_script(_config(config, messages), [hook])


def bye_token_expired_during(
    command: str | Iterable[str] = "LIST",
    *,
    times: int = 1,
    close: bool = True,
    messages: Sequence[Message | tuple[object, ...]] | None = None,
    config: O365Config | None = None,
) -> Script:
    """``* BYE Session invalidated - AccessTokenExpired`` instead of the answer to
    ``command`` (family), then close (``close=False``: keep the connection and answer every
    later command with ``BAD Command received in Invalid state.``). ``times`` counts across
    connections: the reconnection (same script) is served normally; ``server.xoauth2`` shows
    which token each AUTHENTICATE carried."""
    counter = _Counter(times)
    names = _on(command)

    def hook(s: O365Session, cmd: Command) -> bool:
        if cmd.family in names and s.authenticated and counter.take():
            s.send("* BYE Session invalidated - AccessTokenExpired")
            if close:
                s.conv.hangup()
                s.done = True
            else:
                s.invalid_state = True
            return True
        return False

    return _session_script(_config(config, messages), [hook])


def unsolicited_during_fetch(
    messages: Sequence[Message | tuple[object, ...]] | None = None,
    *,
    expunge: bool = True,
    times: int = 1,
    config: O365Config | None = None,
) -> Script:
    """The first FETCH/UID FETCH returning at least 2 messages gets unsolicited data between
    its responses, kept consistent:

    * after the 1st message: ``* N+1 EXISTS`` (a new message arrives, UID = max + 1) and
      ``* 1 FETCH (FLAGS (\\Seen ...))`` (message 1 was read elsewhere);
    * after the 2nd message, for UID FETCH only (RFC 3501 forbids EXPUNGE during plain
      FETCH) and if ``expunge``: ``* 2 EXPUNGE`` - the remaining responses then use the new
      sequence numbers (the message that was 3 is now 2).

    The new message is not part of the FETCH results; a later FETCH sees it."""
    counter = _Counter(times)

    def hook(s: O365Session, cmd: Command) -> bool:
        if cmd.family != "FETCH" or s.mailbox is None:
            return False
        try:
            items = fetch_items(cmd.args[1:])
            targets = s.resolve(cmd, str(cmd.args[0]))
        except (ValueError, IndexError):
            return False
        if len(targets) < 2 or not counter.take():
            return False
        box = s.mailbox
        uids = [m.uid for m in targets]
        for n, uid in enumerate(uids):
            msg = next(m for m in box.msgs if m.uid == uid)
            s.send_fetch(cmd, msg, items)
            if n == 0:
                top = max(m.uid for m in box.msgs) + 1
                new = make_message(len(box.msgs) + 1, top, subject="Arrived during FETCH")
                box.msgs.append(new)
                s.send(f"* {len(box.msgs)} EXISTS")
                first = box.msgs[0]
                if r"\Seen" not in first.flags:
                    first = first._replace(flags=(*first.flags, r"\Seen"))
                    box.msgs[0] = first
                s.send(f"* 1 FETCH (FLAGS ({' '.join(first.flags)}))")
            elif n == 1 and cmd.is_uid and expunge and len(box.msgs) >= 2:
                gone = box.msgs[1]
                del box.msgs[1]
                s.renumber()
                s.send("* 2 EXPUNGE")
                if gone.uid in uids[n + 1 :]:
                    uids.remove(gone.uid)
        s.ok(cmd)
        return True

    return _session_script(_config(config, messages), [hook])


def literal_plus_check(
    *,
    require_nonsync: bool = True,
    wait: float = 2.0,
    messages: Sequence[Message | tuple[object, ...]] | None = None,
    config: O365Config | None = None,
) -> Script:
    """A normal session (LITERAL+ advertised) that checks client literals: a ``{n+}`` literal
    must follow its line without waiting for a continuation (within ``wait`` seconds, else an
    error is recorded); with ``require_nonsync`` a synchronising ``{n}`` literal (answered with
    ``+ Ready for additional command text.``) is recorded as an error too. All literals are in
    ``server.literals``."""
    cfg = replace(
        _config(config, messages),
        require_nonsync_literals=require_nonsync,
        nonsync_literal_wait=wait,
    )
    return _session_script(cfg)


def o365_starttls(
    messages: Sequence[Message | tuple[object, ...]] | None = None,
    *,
    config: O365Config | None = None,
) -> Script:
    """Port-143 style (not from a capture): CAPABILITY offers STARTTLS and LOGINDISABLED, no
    AUTH=; ``STARTTLS`` -> ``OK Begin TLS negotiation now.`` and the handshake (needs
    ``ScriptedServer(..., starttls_context=ctx)``); then the normal session. LOGIN or
    AUTHENTICATE before TLS is recorded as an error (credentials in plain text)."""
    return _session_script(replace(_config(config, messages), starttls=True))
