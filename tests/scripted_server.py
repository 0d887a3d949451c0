"""A scripted Office 365-like IMAP peer over real sockets, for what only a socket can show.

The command sequencing (tags, literals held for their ``+``, LITERAL+, SASL continuations,
IDLE/DONE, state from untagged EXISTS/EXPUNGE/CAPABILITY/BYE) is tested byte by byte without a
socket in tests/test_protocol_session.py; IMAP itself is tested against a real Dovecot. What
is left for this server is what happens on a real connection, the way Exchange Online does it:

* cuts: a connection closed in the middle of a literal (:func:`cut_in_literal`);
* stalls: a server that stops answering, so the client's read timeout fires (:func:`stall_after`);
* BYE timing: ``BAD`` and ``* BYE`` in one send, then the close
  (:func:`authenticated_but_not_connected`, :func:`throttled_bad_bye`); ``* BYE ...
  AccessTokenExpired`` instead of an answer, then a close or silence, and the reconnection
  with a fresh token (:func:`bye_token_expired_during`);
* throttling and outages the client must wait out and retry (:func:`throttled`,
  :func:`server_unavailable`), with the send and arrival times to check its pauses;
* Exchange's greeting and sign-in: no CAPABILITY in the greeting or the AUTHENTICATE answer,
  its response texts, a refused token (:func:`auth_failed_no_challenge`), a server without
  SASL-IR (:func:`auth_no_sasl_ir`), Gmail's JSON error challenge (:func:`auth_json_challenge`);
* TLS: implicit (``ssl_context``) and STARTTLS (:func:`o365_starttls`), which records
  credentials sent before the handshake and plain text pipelined after STARTTLS.

A :class:`ScriptedServer` listens on 127.0.0.1 (port 0), serves every accepted connection in
its own daemon thread and hands it to a *script*: a callable receiving a
:class:`Conversation`. Everything the client sends is recorded (``server.received`` /
``server.received_at``), everything the server sends too (``server.sent`` /
``server.sent_at``), and every script failure lands in ``server.errors`` so a test can end
with ``assert server.errors == []``.

:func:`o365_happy` is the session the failure scripts build on: it answers the commands these
tests need (CAPABILITY, NOOP, LOGOUT, STARTTLS, AUTHENTICATE, LIST, STATUS, SELECT/EXAMINE,
FETCH/UID FETCH) as Exchange does, over prepared :class:`Message` tuples; any other command
gets ``BAD`` and is recorded as an error. A test needing more answers it with a *hook*
(:data:`Hook`), which sees every command first.

Failure scripts that take ``times`` keep their counter in the script object, shared by every
connection served with that same script: ``ScriptedServer(throttled_bad_bye(times=1))`` drops
the first connection and serves the client's reconnection normally.

Stdlib only. Texts marked "not from a capture" are plausible Exchange wording that no public
capture confirms; nothing in the client should depend on them.
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

from o365imap import ImapClient

__all__ = [
    "CAPABILITIES_POST_AUTH",
    "CAPABILITIES_PRE_AUTH",
    "EXCHANGE_STUB_ENVELOPE",
    "TOKEN",
    "USER",
    "Command",
    "Conversation",
    "Folder",
    "Hook",
    "Message",
    "O365Config",
    "O365Session",
    "Script",
    "ScriptedServer",
    "auth_failed_no_challenge",
    "auth_json_challenge",
    "auth_no_sasl_ir",
    "authenticated_but_not_connected",
    "bye_token_expired_during",
    "client_for",
    "cut_in_literal",
    "exchange_stub_message",
    "fetch_items",
    "imap_astring",
    "make_message",
    "o365_happy",
    "o365_starttls",
    "office365_greeting",
    "parse_args",
    "parse_sequence_set",
    "server_unavailable",
    "stall_after",
    "throttled",
    "throttled_bad_bye",
    "xoauth2_initial_response",
]

CRLF = b"\r\n"
_POLL = 0.05  # seconds: how often blocked socket operations look at the stop flag
_DRAIN = 0.5  # seconds: how long a graceful hang-up keeps reading what the client still sends
_HANDSHAKE_TIMEOUT = 10.0  # seconds
_NONSYNC_WAIT = 2.0  # seconds a {n+} literal may take before it counts as "the client waited"

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
GMAIL_JSON_FAILURE = "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)"

_INVALID_STATE = "Command received in Invalid state."
_ARG_ERROR = "BAD Command Argument Error. 11"
_COMMAND_ERROR = "BAD Command Error. 10"  # Exchange's answer to a line it cannot take
_UNKNOWN_COMMAND = "BAD Command Error. 12"  # not from a capture
_LITERAL_CONTINUATION = b"+ Ready for additional command text.\r\n"  # not from a capture


def office365_greeting(host: str = O365_DEFAULT_HOST) -> str:
    """The classic greeting: ``* OK ... is ready. [base64(UTF-16LE(host))]`` (no CRLF)."""
    tag = base64.b64encode(host.encode("utf-16-le")).decode("ascii")
    return f"* OK The Microsoft Exchange IMAP4 service is ready. [{tag}]"


O365_GREETING = office365_greeting()  # with the default host


def xoauth2_initial_response(user: str, token: str) -> str:
    """base64 of ``user=<user>\\x01auth=Bearer <token>\\x01\\x01`` (what a client should send)."""
    raw = f"user={user}\x01auth=Bearer {token}\x01\x01".encode()
    return base64.b64encode(raw).decode("ascii")


_XOAUTH2_RE = re.compile(r"user=([^\x01]*)\x01auth=Bearer ([^\x01]+)\x01\x01")


def decode_xoauth2(b64: str) -> tuple[str, str]:
    """Decode a XOAUTH2 client response to ``(user, token)``; ValueError when malformed."""
    try:
        raw = base64.b64decode(b64.strip(), validate=True)
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
    """A read with a timeout got nothing in time."""


Script: TypeAlias = Callable[["Conversation"], object]


class LiteralInfo(NamedTuple):
    """A client literal seen by :meth:`Conversation.read_command`."""

    size: int
    nonsync: bool  # ``{n+}``
    data: bytes


class ScriptedServer:
    """A scripted IMAP server on 127.0.0.1, port 0, running ``script`` for every connection.

    ``ssl_context`` (server side) wraps every connection in TLS at once (implicit TLS, like
    port 993); ``starttls_context`` is what :meth:`Conversation.starttls` uses (defaults to
    ``ssl_context``). A failed handshake lands in ``handshake_errors``, not ``errors``.

    Use as a context manager; :meth:`close` is prompt (well under a second even with a script
    stalled for an hour) and joins every thread it started.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        script: Script,
        *,
        ssl_context: ssl.SSLContext | None = None,
        starttls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._script = script
        self.ssl_context = ssl_context
        self.starttls_context = starttls_context or ssl_context
        self.port = 0
        self.received: list[bytes] = []
        self.received_at: list[float] = []
        self.sent: list[bytes] = []
        self.sent_at: list[float] = []
        self.errors: list[str] = []
        self.handshake_errors: list[str] = []
        self.xoauth2: list[tuple[str, str]] = []  # (user, token) of every XOAUTH2 attempt
        self.literals: list[LiteralInfo] = []
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
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, 0))
        listener.listen(16)
        listener.settimeout(_POLL)
        self._listener = listener
        self.port = listener.getsockname()[1]
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

    def _record_in(self, data: bytes, at: float) -> None:
        with self._lock:
            self.received.append(data)
            self.received_at.append(at)

    def _record_out(self, data: bytes) -> None:
        with self._lock:
            self.sent.append(data)
            self.sent_at.append(time.monotonic())

    def received_lines(self) -> list[str]:
        """The received entries as text without their CRLF."""
        with self._lock:
            received = list(self.received)
        return [
            d.decode("utf-8", "replace").removesuffix("\n").removesuffix("\r") for d in received
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
                thread = threading.Thread(
                    target=self._serve,
                    args=(conv,),
                    name=f"scripted-imap-conn-{index}",
                    daemon=True,
                )
                self._conversations.append(conv)
                self._handlers.append(thread)
            thread.start()

    def _serve(self, conv: Conversation) -> None:
        try:
            if self.ssl_context is not None:
                try:
                    conv._wrap_tls(self.ssl_context)
                except ScriptAbort:
                    raise
                except (OSError, ValueError) as exc:
                    with self._lock:
                        self.handshake_errors.append(f"conn#{conv.index}: {exc!r}")
                    conv.reset()
                    return
            self._script(conv)
        except ScriptAbort:
            pass  # the server is closing, the client left, or the reason is already recorded
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
        self.server._record_in(data, at)
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
        self.server._record_out(data)
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

    def read_line(self) -> bytes:
        """One client line including its line end; ``b""`` on EOF. A line ending in a bare LF
        is recorded as an error."""
        scanned = 0
        while True:
            i = self._buf.find(b"\n", scanned)
            if i >= 0:
                line = self._take(i + 1)
                if not line.endswith(CRLF):
                    self.fail(f"client line not terminated by CRLF: {line!r}")
                return line
            scanned = len(self._buf)
            if self._fill(None) == "eof":
                if self._buf:
                    rest = self._take(len(self._buf))
                    self.fail(f"EOF in the middle of a line: {rest!r}")
                return b""

    def read_exact(self, n: int, timeout: float | None = None) -> bytes:
        """Exactly ``n`` bytes (a literal), recorded as one entry; ``b""`` on EOF. With
        ``timeout``, :class:`ReadTimeout` when they are not all there in that many seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while len(self._buf) < n:
            r = self._fill(deadline)
            if r == "timeout":
                raise ReadTimeout
            if r == "eof":
                if self._buf:
                    self._take(len(self._buf))
                self.fail(f"EOF inside a {n}-byte literal")
                return b""
        return self._take(n)

    _LITERAL_END = re.compile(rb"\{(\d+)(\+?)\}\r?\n\Z")

    def read_command(self, *, nonsync_wait: float = _NONSYNC_WAIT) -> bytes:
        """One complete client command, literals included, as it was on the wire (e.g.
        ``b"A1 SELECT {5+}\\r\\nInbox\\r\\n"``); ``b""`` on EOF. A synchronising literal
        ``{n}`` gets a ``+`` first; the bytes of a non-synchronising ``{n+}`` (LITERAL+) must
        arrive within ``nonsync_wait`` seconds, else the client is waiting for a ``+`` it will
        never get: that is recorded, and the script ends."""
        parts: list[bytes] = []
        while True:
            line = self.read_line()
            if not line:
                if parts:
                    self.fail("EOF in the middle of a command")
                return b""
            parts.append(line)
            m = self._LITERAL_END.search(line)
            if m is None:
                return b"".join(parts)
            size, nonsync = int(m[1]), m[2] == b"+"
            if nonsync:
                try:
                    data = self.read_exact(size, nonsync_wait)
                except ReadTimeout:
                    self.fail(
                        f"{{{size}+}} literal bytes not sent without waiting "
                        "(client waits for a continuation although LITERAL+ needs none)"
                    )
                    raise
            else:
                self.send(_LITERAL_CONTINUATION)
                data = self.read_exact(size)
            with self.server._lock:
                self.server.literals.append(LiteralInfo(size, nonsync, data))
            if len(data) < size:
                return b""
            parts.append(data)

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

    def reset(self) -> None:
        """Abortive close, now (SO_LINGER 0: the client sees ECONNRESET or EOF)."""
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
        deadline = time.monotonic() + _HANDSHAKE_TIMEOUT
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
    return imap_nstring(text)


def imap_nstring(text: str | None) -> bytes:
    """NIL, a quoted string, or a literal (CR/LF or non-ASCII)."""
    if text is None:
        return b"NIL"
    if text.isascii() and "\r" not in text and "\n" not in text:
        return _quote(text).encode("ascii")
    return _literal(text.encode("utf-8"))


def _literal(data: bytes) -> bytes:
    return b"{%d}\r\n" % len(data) + data


# --------------------------------------------------------------------------------------------
# Mailbox data
# --------------------------------------------------------------------------------------------


class Folder(NamedTuple):
    """A LIST entry."""

    name: str
    attributes: str = r"\HasNoChildren"


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
    """One message of a mailbox. ``seq`` must be its position (1-based); ``body`` is the full
    RFC 822 text (empty when not given); ``bodystructure`` defaults to one text/plain part."""

    seq: int
    uid: int
    flags: tuple[str, ...]
    size: int
    internaldate: str  # "17-Jul-1996 02:44:25 -0700"
    envelope: bytes
    bodystructure: bytes | None = None
    body: bytes = b""


def _address_list(address: str) -> bytes:
    """A one-address list: ``(("Name" NIL "mailbox" "host"))``."""
    name, addr = email.utils.parseaddr(address)
    mailbox, _, host = addr.partition("@")
    parts = [
        imap_nstring(name or None),
        b"NIL",
        imap_nstring(mailbox or None),
        imap_nstring(host or None),
    ]
    return b"((" + b" ".join(parts) + b"))"


def _envelope(subject: str, from_: str, to: str, date: str, message_id: str) -> bytes:
    """An ENVELOPE value as Exchange sends it: sender and reply-to are the From address,
    no Cc/Bcc/In-Reply-To; non-ASCII strings go out as literals."""
    froms, tos = _address_list(from_), _address_list(to)
    fields = [imap_nstring(date), imap_nstring(subject), froms, froms, froms, tos]
    fields += [b"NIL", b"NIL", b"NIL", imap_nstring(message_id)]
    return b"(" + b" ".join(fields) + b")"


#: Exchange's stand-in for a message it cannot convert: NIL date, From with a NIL mailbox and
#: the host ``.MISSING-HOST-NAME.``, a To whose display name is the address.
EXCHANGE_STUB_ENVELOPE = (
    b'(NIL "Retrieval using the IMAP4 protocol failed for the following message: 7" '
    b'(("Microsoft Exchange Server" NIL NIL ".MISSING-HOST-NAME.")) NIL NIL '
    b'(("MeganB@contoso.onmicrosoft.com" NIL "MeganB" "contoso.onmicrosoft.com")) '
    b"NIL NIL NIL NIL)"
)


def make_message(
    seq: int,
    uid: int,
    *,
    flags: Iterable[str] = (),
    subject: str = "Quarterly report",
    from_: str = "Adele Vance <AdeleV@contoso.onmicrosoft.com>",
    internaldate: str = "03-Mar-2026 09:15:04 +0000",
    body: bytes | None = None,
    bodystructure: bytes | None = None,
) -> Message:
    """A consistent message: the body (given, or generated from the headers) decides
    RFC822.SIZE, the envelope follows the headers."""
    to = "Megan Bowen <MeganB@contoso.onmicrosoft.com>"
    date = "Tue, 3 Mar 2026 09:15:02 +0000"
    message_id = f"<{uid}.{seq}@contoso.onmicrosoft.com>"
    if body is None:
        body = (
            f"From: {from_}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n"
            f"Message-ID: {message_id}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Body of message {uid}.\r\n"
        ).encode()
    envelope = _envelope(subject, from_, to, date, message_id)
    return Message(seq, uid, tuple(flags), len(body), internaldate, envelope, bodystructure, body)


def exchange_stub_message(seq: int, uid: int) -> Message:
    """The 'Retrieval using the IMAP4 protocol failed' stand-in with its broken envelope."""
    return Message(seq, uid, (), 0, "03-Mar-2026 09:15:04 +0000", EXCHANGE_STUB_ENVELOPE)


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


def _checked(msgs: Sequence[Message]) -> tuple[Message, ...]:
    for pos, msg in enumerate(msgs, 1):
        if msg.seq != pos:
            raise ValueError(f"message seq {msg.seq} at position {pos}: seqs must be 1..n")
    return tuple(msgs)


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
    #: "fail": NO to every token; "json_challenge": Gmail's error challenge, then NO
    auth: AuthMode = "ok"
    uidvalidity: int = 14
    #: port-143 style: STARTTLS offered, credentials before TLS are an error
    starttls: bool = False
    #: a partial FETCH ``BODY[]<origin.length>``: "honour" it, "ignore" it (send the whole
    #: body, as some servers do), answer from 10 bytes "later" than asked (broken), or name
    #: an origin of 5,000 digits ("overlong", hostile)
    partial: Literal["honour", "ignore", "later", "overlong"] = "honour"


@dataclass
class Mailbox:
    """The selected folder: its name as the server spells it and its messages."""

    name: str
    msgs: list[Message]


class O365Session:
    """Plays Exchange Online's IMAP4 service on one connection. ``hooks`` see every command
    first; a hook returning True has handled it. Hooks can use :meth:`send`, :meth:`ok`,
    :meth:`no`, :meth:`send_fetch` and set :attr:`done` to end the session."""

    def __init__(self, conv: Conversation, config: O365Config, hooks: Sequence[Hook] = ()) -> None:
        self.conv = conv
        self.config = config
        self.hooks = list(hooks)
        self.authenticated = False
        self.done = False
        self.invalid_state = False  # after "* BYE Session invalidated" without a close
        self.mailbox: Mailbox | None = None

    # -- plumbing ---------------------------------------------------------------------------

    def run(self) -> None:
        self.conv.send_line(self.config.greeting)
        while not self.done:
            raw = self.conv.read_command()
            if not raw:
                return
            cmd = parse_command(raw)
            if cmd is None:
                self.send(f"{tag_of(raw) or '*'} {_COMMAND_ERROR}")
                self.conv.fail(f"malformed command {raw!r}")
            elif self.invalid_state:
                self.bad(cmd, _INVALID_STATE)
            elif not any(hook(self, cmd) for hook in self.hooks):
                self.dispatch(cmd)

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
            self.conv.fail(f"unhandled command {cmd.raw!r}")
            self.send(f"{cmd.tag} {_UNKNOWN_COMMAND}")
            return
        if cmd.name not in _BEFORE_SIGN_IN and not self.authenticated:
            self.bad(cmd, _INVALID_STATE)
            return
        if cmd.family == "FETCH" and self.mailbox is None:
            self.bad(cmd, _INVALID_STATE)
            return
        try:
            handler(self, cmd)
        except (ValueError, IndexError, TypeError):
            self.send(f"{cmd.tag} {_ARG_ERROR}")

    # -- folder / message lookups -------------------------------------------------------------

    def folder(self, name: str) -> Folder | None:
        key = _canon(name)
        return next((f for f in self.config.folders if _canon(f.name) == key), None)

    def messages_of(self, folder: Folder) -> list[Message]:
        msgs = self.config.messages
        if isinstance(msgs, Mapping):
            key = _canon(folder.name)
            return next((list(v) for k, v in msgs.items() if _canon(k) == key), [])
        return list(msgs)

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

    # -- any state ----------------------------------------------------------------------------

    def cmd_capability(self, cmd: Command) -> None:
        self.send(f"* CAPABILITY {self._capabilities()}")
        self.ok(cmd)

    def cmd_noop(self, cmd: Command) -> None:
        self.ok(cmd, "NOOP Completed")

    def cmd_logout(self, cmd: Command) -> None:
        self.send(O365_BYE_LOGOUT)
        self.ok(cmd)
        self.conv.hangup()
        self.done = True

    def cmd_starttls(self, cmd: Command) -> None:
        if not self.config.starttls or self.conv.tls or self.authenticated:
            self.bad(cmd, _INVALID_STATE)
            return
        self.ok(cmd, "Begin TLS negotiation now.")  # not from a capture
        self.conv.starttls()

    def cmd_authenticate(self, cmd: Command) -> None:
        conv = self.conv
        if self.authenticated:
            self.bad(cmd, _INVALID_STATE)
            return
        mech = str(cmd.args[0]).upper()
        initial = str(cmd.args[1]) if len(cmd.args) > 1 else None
        if self.config.starttls and not conv.tls:
            conv.fail(f"AUTHENTICATE {mech} sent before STARTTLS: credentials in plain text")
            self.bad(cmd, _INVALID_STATE)
            return
        if initial is not None and "SASL-IR" not in self._capabilities().split():
            conv.fail("SASL initial response sent although SASL-IR is not advertised")
            self.send(f"{cmd.tag} {_ARG_ERROR}")
            return
        if initial is None:
            conv.send(b"+ \r\n")  # Exchange: an empty continuation
            line = conv.read_line()
            if not line:
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
        if self.config.auth == "json_challenge":
            b64 = base64.b64encode(GMAIL_JSON_CHALLENGE.encode()).decode("ascii")
            conv.send_line(f"+ {b64}")
            answer = conv.read_line()
            if answer != CRLF:
                conv.fail(f"JSON challenge must be answered with an empty line, got {answer!r}")
            if answer:
                self.send(f"{cmd.tag} {GMAIL_JSON_FAILURE}")
            return
        wrong = (self.config.user is not None and user != self.config.user) or (
            self.config.token is not None and token != self.config.token
        )
        if self.config.auth == "fail" or wrong:
            self.no(cmd, "AUTHENTICATE failed.")
            return
        self.authenticated = True
        self.ok(cmd, "AUTHENTICATE completed.")  # no [CAPABILITY ...]: the client must ask

    # -- authenticated ------------------------------------------------------------------------

    def cmd_list(self, cmd: Command) -> None:
        rx = _list_regex(_canon(str(cmd.args[0]) + str(cmd.args[1])))
        for f in self.config.folders:
            if rx.fullmatch(_canon(f.name)):
                self.send(f'* LIST ({f.attributes}) "/" '.encode() + imap_astring(f.name))
        self.ok(cmd)

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
            "RECENT": 0,
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
        self.mailbox = Mailbox(f.name, msgs)
        self.send(f"* {len(msgs)} EXISTS")
        self.send("* 0 RECENT")
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

    # -- selected -------------------------------------------------------------------------------

    def cmd_fetch(self, cmd: Command) -> None:
        items = fetch_items(cmd.args[1:])
        for msg in self.resolve(cmd, str(cmd.args[0])):
            self.send_fetch(cmd, msg, items)
        self.ok(cmd)

    def send_fetch(self, cmd: Command, msg: Message, items: Sequence[str]) -> None:
        """Send the ``* n FETCH (...)`` response for one message."""
        wanted = list(items)
        if cmd.is_uid and "UID" not in wanted:
            wanted.insert(0, "UID")
        parts = [self._fetch_item(msg, item) for item in wanted]
        self.conv.send(b"* %d FETCH (" % msg.seq + b" ".join(parts) + b")\r\n")

    def _fetch_item(self, msg: Message, item: str) -> bytes:
        up = item.upper()
        if up == "UID":
            return b"UID %d" % msg.uid
        if up == "FLAGS":
            return b"FLAGS (" + " ".join(msg.flags).encode() + b")"
        if up == "RFC822.SIZE":
            return b"RFC822.SIZE %d" % msg.size
        if up == "INTERNALDATE":
            return b'INTERNALDATE "' + msg.internaldate.encode() + b'"'
        if up == "ENVELOPE":
            return b"ENVELOPE " + msg.envelope
        if up in ("BODYSTRUCTURE", "BODY"):
            return up.encode() + b" " + (msg.bodystructure or _default_bodystructure(msg))
        m = _BODY_SECTION.fullmatch(item)
        if m is None or m["section"]:
            self.conv.fail(f"unsupported FETCH item {item!r}")
            raise ValueError(item)
        data, name = msg.body, b"BODY[]"
        if m["origin"] is not None and self.config.partial != "ignore":
            start = int(m["origin"]) + (10 if self.config.partial == "later" else 0)
            length = m["length"]
            data = data[start:] if length is None else data[start : start + int(length)]
            name += b"<%s>" % (b"9" * 5000 if self.config.partial == "overlong" else b"%d" % start)
        return name + b" " + _literal(data)


_BEFORE_SIGN_IN = frozenset({"CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "AUTHENTICATE"})

_HANDLERS: Mapping[str, Callable[[O365Session, Command], None]] = {
    "CAPABILITY": O365Session.cmd_capability,
    "NOOP": O365Session.cmd_noop,
    "LOGOUT": O365Session.cmd_logout,
    "STARTTLS": O365Session.cmd_starttls,
    "AUTHENTICATE": O365Session.cmd_authenticate,
    "LIST": O365Session.cmd_list,
    "STATUS": O365Session.cmd_status,
    "SELECT": O365Session.cmd_select,
    "EXAMINE": O365Session.cmd_select,
    "FETCH": O365Session.cmd_fetch,
    "UID FETCH": O365Session.cmd_fetch,
}


def _canon(name: str) -> str:
    """INBOX is case-insensitive (also as the first level of a hierarchy)."""
    if name[:5].upper() == "INBOX" and (len(name) == 5 or name[5] == "/"):
        return "INBOX" + name[5:]
    return name


def _list_regex(pattern: str) -> re.Pattern[str]:
    out = "".join(".*" if ch == "*" else "[^/]*" if ch == "%" else re.escape(ch) for ch in pattern)
    return re.compile(out, re.DOTALL)


_BODY_SECTION = re.compile(
    r"BODY(?:\.PEEK)?\[(?P<section>[^\]]*)\](?:<(?P<origin>\d+)(?:\.(?P<length>\d+))?>)?",
    re.IGNORECASE,
)


def fetch_items(args: Sequence[Arg]) -> list[str]:
    """FETCH item list (``(FLAGS UID)`` or a single item) -> item strings."""
    if len(args) != 1:
        raise ValueError("fetch items")
    spec = args[0]
    if isinstance(spec, str):
        return [spec]
    if not all(isinstance(x, str) for x in spec):
        raise ValueError("nested list in fetch items")
    return [str(x) for x in spec]


def _default_bodystructure(msg: Message) -> bytes:
    text = msg.body.partition(b"\r\n\r\n")[2]
    return b'("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" %d %d NIL NIL NIL NIL)' % (
        len(text),
        text.count(b"\n"),
    )


# --------------------------------------------------------------------------------------------
# Ready-made scripts
# --------------------------------------------------------------------------------------------


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


def _families(on: str | Iterable[str]) -> frozenset[str]:
    names = [on] if isinstance(on, str) else list(on)
    return frozenset(_family(n) for n in names)


def _bye(s: O365Session, lines: str) -> None:
    """Send ``lines`` (the last one a BYE) in one piece, then hang up: the BYE timing of
    Exchange, whose tagged answer and BYE arrive in the same read."""
    s.conv.send(lines.encode())
    s.conv.hangup()
    s.done = True


def o365_happy(
    messages: Sequence[Message] | Mapping[str, Sequence[Message]] | None = None,
    *,
    folders: Sequence[Folder] | None = None,
    user: str | None = None,
    token: str | None = None,
    config: O365Config | None = None,
    hooks: Sequence[Hook] = (),
) -> Script:
    """A well-behaved Office 365 session: greeting, then the commands these tests need,
    answered as Exchange does. ``messages``: for every folder, or a mapping folder ->
    messages. ``user``/``token``: expected XOAUTH2 values (a mismatch gets
    ``NO AUTHENTICATE failed.``)."""
    cfg = config or O365Config()
    if isinstance(messages, Mapping):
        cfg = replace(cfg, messages={k: _checked(v) for k, v in messages.items()})
    elif messages is not None:
        cfg = replace(cfg, messages=_checked(messages))
    if folders is not None:
        cfg = replace(cfg, folders=tuple(folders))
    if user is not None or token is not None:
        cfg = replace(cfg, user=user, token=token)
    return _session_script(cfg, hooks)


def auth_failed_no_challenge() -> Script:
    """``tag NO AUTHENTICATE failed.`` right after the SASL-IR line; the session stays in the
    not-authenticated state (CAPABILITY, LOGOUT still answered)."""
    return _session_script(O365Config(auth="fail"))


def auth_json_challenge() -> Script:
    """Gmail/Dovecot style: ``+ <base64 JSON>``, the client must answer with an empty line,
    then ``tag NO [AUTHENTICATIONFAILED] ...``. Gmail's greeting and capabilities."""
    return _session_script(
        O365Config(greeting=GMAIL_GREETING, capabilities=GMAIL_CAPABILITIES, auth="json_challenge")
    )


def auth_no_sasl_ir() -> Script:
    """A server without SASL-IR: ``AUTHENTICATE XOAUTH2`` -> ``+ `` (empty continuation) ->
    the base64 line -> ``OK AUTHENTICATE completed.``. An initial response on the command
    line is an error."""
    return _session_script(O365Config(capabilities=CAPABILITIES_PRE_AUTH_NO_SASL_IR))


def authenticated_but_not_connected(*, on_authenticate: bool = False) -> Script:
    """AUTHENTICATE succeeds (``OK AUTHENTICATE completed.``), CAPABILITY and LOGOUT are
    answered, but the next command gets ``tag BAD User is authenticated but not connected.`` and
    ``* BYE Connection closed. 14`` in the SAME send, then the connection is closed.
    ``on_authenticate=True``: the AUTHENTICATE itself gets BAD + BYE."""
    answer = "BAD User is authenticated but not connected.\r\n* BYE Connection closed. 14\r\n"

    def hook(s: O365Session, cmd: Command) -> bool:
        if cmd.name == "AUTHENTICATE" and not on_authenticate:
            return False
        if cmd.name != "AUTHENTICATE" and (
            not s.authenticated or cmd.name in ("CAPABILITY", "LOGOUT")
        ):
            return False
        _bye(s, f"{cmd.tag} {answer}")
        return True

    return _session_script(O365Config(), [hook])


def throttled(
    times: int = 1, backoff_ms: int = 299609, on: str | Iterable[str] = "SELECT"
) -> Script:
    """Answer ``on`` (a command family: "SELECT" also covers EXAMINE, "FETCH" also UID FETCH)
    with ``tag NO Request is throttled. Suggested Backoff Time: N milliseconds`` ``times``
    times (counted across connections), then normally. Check the client's pause with
    ``server.sent_times("throttled")`` and ``server.received_times(" SELECT ")``."""
    counter = _Counter(times)
    names = _families(on)

    def hook(s: O365Session, cmd: Command) -> bool:
        if cmd.family in names and s.authenticated and counter.take():
            s.no(cmd, f"Request is throttled. Suggested Backoff Time: {backoff_ms} milliseconds")
            return True
        return False

    return _session_script(O365Config(), [hook])


def throttled_bad_bye(
    times: int = 1, backoff_ms: int = 89117, on: str | Iterable[str] = "SELECT"
) -> Script:
    """Like :func:`throttled` but ``tag BAD Request is throttled. ...`` + ``* BYE Connection
    closed. 14`` in one send, then close; a later connection (same script) is served once the
    count is used up."""
    counter = _Counter(times)
    names = _families(on)

    def hook(s: O365Session, cmd: Command) -> bool:
        if cmd.family in names and s.authenticated and counter.take():
            _bye(
                s,
                f"{cmd.tag} BAD Request is throttled. Suggested Backoff Time: {backoff_ms} "
                "milliseconds\r\n* BYE Connection closed. 14\r\n",
            )
            return True
        return False

    return _session_script(O365Config(), [hook])


def server_unavailable(times: int = 1, on: str | Iterable[str] = ("SELECT", "STATUS")) -> Script:
    """``tag NO Server Unavailable. 15`` on SELECT/EXAMINE (and STATUS), ``times`` times."""
    counter = _Counter(times)
    names = _families(on)

    def hook(s: O365Session, cmd: Command) -> bool:
        if cmd.family in names and s.authenticated and counter.take():
            s.no(cmd, "Server Unavailable. 15")
            return True
        return False

    return _session_script(O365Config(), [hook])


def cut_in_literal(announced: int = 1000, sent: int = 300, *, times: int = 1) -> Script:
    """The first FETCH asking for a body section gets ``* n FETCH (UID u BODY[] {announced}``
    and only ``sent`` bytes of it, then the connection is closed (FIN). Later FETCHes and
    connections are served normally."""
    counter = _Counter(times)

    def hook(s: O365Session, cmd: Command) -> bool:
        if cmd.family != "FETCH" or s.mailbox is None:
            return False
        try:
            items = fetch_items(cmd.args[1:])
            targets = s.resolve(cmd, str(cmd.args[0]))
        except (ValueError, IndexError):
            return False
        sections = [m for m in map(_BODY_SECTION.fullmatch, items) if m is not None]
        if not targets or not sections or not counter.take():
            return False
        msg = targets[0]
        filler = (msg.body + b"x" * announced)[:sent]
        head = f"* {msg.seq} FETCH (UID {msg.uid} BODY[{sections[0]['section']}] {{{announced}}}"
        s.conv.send(head.encode() + CRLF + filler)
        s.conv.hangup()
        s.done = True
        return True

    return _session_script(O365Config(), [hook])


def stall_after(command: str | Iterable[str] = "SELECT", *, times: int = 1) -> Script:
    """When ``command`` (family) arrives, stop answering (``server.close()`` ends it at once);
    once the client hangs up the connection is closed. ``times`` counts across connections,
    so a reconnecting client is served normally."""
    counter = _Counter(times)
    names = _families(command)

    def hook(s: O365Session, cmd: Command) -> bool:
        if cmd.family not in names or not counter.take():
            return False
        s.conv.stall()
        s.conv.hangup()
        s.done = True
        return True

    return _session_script(O365Config(), [hook])


def bye_token_expired_during(
    command: str | Iterable[str] = "LIST", *, times: int = 1, close: bool = True
) -> Script:
    """``* BYE Session invalidated - AccessTokenExpired`` instead of the answer to
    ``command`` (family), then close (``close=False``: keep the connection and answer every
    later command with ``BAD Command received in Invalid state.``). ``times`` counts across
    connections: the reconnection (same script) is served normally; ``server.xoauth2`` shows
    which token each AUTHENTICATE carried."""
    counter = _Counter(times)
    names = _families(command)

    def hook(s: O365Session, cmd: Command) -> bool:
        if cmd.family in names and s.authenticated and counter.take():
            if close:
                _bye(s, "* BYE Session invalidated - AccessTokenExpired\r\n")
            else:
                s.send("* BYE Session invalidated - AccessTokenExpired")
                s.invalid_state = True
            return True
        return False

    return _session_script(O365Config(), [hook])


def o365_starttls(messages: Sequence[Message] | None = None) -> Script:
    """Port-143 style (not from a capture): CAPABILITY offers STARTTLS and LOGINDISABLED, no
    AUTH=; ``STARTTLS`` -> ``OK Begin TLS negotiation now.`` and the handshake (needs
    ``ScriptedServer(..., starttls_context=ctx)``); then the normal session. AUTHENTICATE
    before TLS is recorded as an error (credentials in plain text)."""
    return o365_happy(messages, config=O365Config(starttls=True))


# ---------------------------------------------------------------- the client side of the tests

USER = "AdeleV@contoso.onmicrosoft.com"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.test-token.signature"


def client_for(server: ScriptedServer, **kw: object) -> ImapClient:
    """A client of ``server``: plain text (loopback), a short timeout unless ``kw`` says."""
    options: dict[str, object] = {"security": "plain", "timeout": 5.0}
    options.update(kw)
    return ImapClient(server.host, server.port, **options)  # type: ignore[arg-type]
