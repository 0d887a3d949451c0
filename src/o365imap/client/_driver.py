"""The session driver: the sans-I/O ImapSession over a Transport, with the one read loop.

``_next_event`` is the only place that reads from the server: everything else (a command's
collected answer, a streamed FETCH, a SASL exchange, IDLE) asks it for the next event of the
command it waits for. What the bytes mean is ImapSession's business, what to do about a refusal
``RetryPolicy``'s, the socket the Transport's. The public methods here (connect, sign-in,
select, idle) are those every command depends on; ImapClient adds the mail on top.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from o365imap._transport import Security, Transport, default_port
from o365imap.client._policy import RetryPolicy, refusal_error
from o365imap.errors import (
    ConnectionClosed,
    O365ImapError,
    ProtocolError,
    ReadTimeout,
    SessionExpired,
    UsageError,
)
from o365imap.limits import DEFAULT_TIMEOUT, check_seconds
from o365imap.models import Capabilities, FolderInfo
from o365imap.protocol import (
    Continuation,
    Event,
    Fetch,
    Tagged,
    Unparsed,
    Untagged,
)
from o365imap.protocol.commands import Argument
from o365imap.protocol.session import ImapSession, SessionState

__all__ = ["Mechanism", "SessionDriver"]

log = logging.getLogger("o365imap.client")
wire = logging.getLogger("o365imap.wire")

Mechanism = Literal["xoauth2", "oauthbearer"]

# What RFC 3501 allows in the not-authenticated state (and ID, RFC 2971, which servers take then).
_BEFORE_SIGN_IN = {"CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "AUTHENTICATE", "LOGIN", "ID"}
# A streamed literal is read in pieces of up to 1 MB once 64 KB or more of it is still to come:
# one decoder call and one write per megabyte instead of one per TLS record.
_BIG_READ = 64 * 1024
_LITERAL_READ = 1 << 20
_BYE_WAIT = 2.0  # seconds to wait for a tagged answer after the server said BYE


@dataclass
class _Answer:
    """What one command produced: its untagged responses and its tagged completion."""

    tagged: Tagged
    untagged: list[Untagged] = field(default_factory=list)
    fetches: list[Fetch] = field(default_factory=list)


class SessionDriver:
    """One IMAP connection: connecting, signing in, running commands; see ImapClient."""

    def __init__(
        self,
        host: str = "outlook.office365.com",
        port: int | None = None,
        *,
        security: Security | str = Security.TLS,
        ca_file: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float | None = None,
        throttle_retries: int = 3,
        max_backoff: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        try:
            self.security = Security(security)
        except ValueError as exc:
            raise UsageError(f"security must be tls, starttls or plain, not {security!r}") from exc
        check_seconds(timeout)
        if connect_timeout is not None:
            check_seconds(connect_timeout, "connect timeout")
        self.host = host
        self.port = port or default_port(self.security)
        self.policy = RetryPolicy(throttle_retries=throttle_retries, max_backoff=max_backoff)
        self._sleep = sleep
        self._timeout = timeout
        self._transport = Transport(
            host,
            self.port,
            security=self.security,
            ca_file=ca_file,
            connect_timeout=connect_timeout if connect_timeout is not None else timeout,
            read_timeout=timeout,
        )
        self._session = ImapSession()
        self._selected: FolderInfo | None = None
        # A streamed command whose answer is not read to the end: (session, tag), compared by
        # identity (tags start again at A0001 on every new session).
        self._open: tuple[ImapSession, str] | None = None
        self._connected = False
        self._logging_out = False
        self._reauth: tuple[str, str, Callable[[], str]] | None = None

    # ------------------------------------------------------------ state, read-only

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def authenticated(self) -> bool:
        return self._session.state in (SessionState.AUTHENTICATED, SessionState.SELECTED)

    @property
    def greeting(self) -> str:
        """The text of the server's greeting ("" before connecting)."""
        greeting = self._session.greeting
        return greeting.text if greeting is not None else ""

    @property
    def bye(self) -> str | None:
        """The server's goodbye (``* BYE`` text), once it said one."""
        return self._session.bye

    @property
    def selected(self) -> FolderInfo | None:
        """The folder open now, as it was when opened (``exists`` is kept current)."""
        return self._selected

    @property
    def exists(self) -> int | None:
        """Messages in the open folder, kept current from the server's EXISTS and EXPUNGE."""
        return self._session.exists

    @property
    def can_reconnect(self) -> bool:
        """True when signed in with a token source, so a lost session can be reopened."""
        return self._reauth is not None

    @property
    def capabilities(self) -> Capabilities:
        """What the server offers (asked once, and again after STARTTLS and sign-in)."""
        if self._session.capabilities is None:
            self._run("CAPABILITY")
            if self._session.capabilities is None:  # it named none: that is the answer
                self._session.capabilities = frozenset()
        return Capabilities(self._session.capabilities)

    # ------------------------------------------------------------ closing

    def close(self) -> None:
        """Drop the connection without a goodbye."""
        self._transport.close()
        self._connected = False
        self._open = None  # its answer went with the connection

    def reconnect(self) -> None:
        """A new session in place of one the server ended (see SignedIn.reconnect)."""
        raise UsageError("reconnecting needs a token source: authenticate_oauth(refresh=...)")

    def _reopen_after(self, exc: SessionExpired, attempts: int) -> None:
        """Reconnect after the server ended the session (the token expired), or raise ``exc``
        when there is no token source or the policy's reconnects are used up."""
        if self._reauth is None or attempts > self.policy.max_reconnects:
            raise exc
        self.reconnect()

    def _require_selected(self) -> int:
        if self._selected is None or self._session.exists is None:
            raise UsageError("select a folder first")
        return self._session.exists

    # ------------------------------------------------------------ running commands

    def _run(self, name: str, *args: Argument) -> _Answer:
        """Run a command to completion; NO/BAD become exceptions, throttling is retried, and a
        session ended by token expiry is reopened and the command repeated (once)."""
        self._require_signed_in(name)
        attempt = 0
        reconnected = False
        while True:
            try:
                answer = self._exchange(name, args)
            except SessionExpired:
                if reconnected or self._reauth is None or name in ("LOGOUT", "STARTTLS"):
                    raise
                reconnected = True
                self.reconnect()
                continue
            tagged = answer.tagged
            if tagged.status == "OK":
                return answer
            delay = self._retry_delay(name, tagged, attempt)
            if delay is None:
                raise refusal_error(name, tagged)
            attempt += 1
            log.info("%s: %s; retrying in %.2f s", name, tagged.text, delay)
            self._sleep(delay)

    def _require_signed_in(self, name: str) -> None:
        if not self._connected:
            raise UsageError(f"{name} needs a connection: connect() first")
        if self._session.state is SessionState.LOGOUT:
            return  # the server said BYE: _send says why the session ended (and _run reconnects)
        if not self.authenticated and name not in _BEFORE_SIGN_IN:
            # The server would only say "BAD Error in IMAP command".
            raise UsageError(f"{name} needs a signed-in connection: authenticate_oauth() first")

    def _retry_delay(self, name: str, tagged: Tagged, attempt: int) -> float | None:
        self._drain()  # a BYE may have come in the same read (Office 365 does that)
        leaving = self._session.bye is not None
        return self.policy.retry_delay(self.host, name, tagged, attempt, leaving=leaving)

    def _exchange(
        self,
        name: str,
        args: tuple[Argument, ...],
        *,
        redact: bool = False,
        on_continuation: Callable[[Continuation], bytes] | None = None,
    ) -> _Answer:
        """Send one command and collect everything up to its tagged completion."""
        tag = self._send(name, args, redact=redact, continuations=on_continuation is not None)
        untagged: list[Untagged] = []
        fetches: list[Fetch] = []
        while True:
            event = self._next_for(tag)
            if isinstance(event, Tagged):
                return _Answer(event, untagged, fetches)
            if isinstance(event, Continuation) and on_continuation is not None:
                data = on_continuation(event)
                wire.debug("C: %s", "[redacted continuation]" if redact else repr(data))
                self._session.send_continuation(data)
                self._flush()
            elif isinstance(event, Untagged):
                untagged.append(event)
            elif isinstance(event, Fetch):
                fetches.append(event)

    def _stream(
        self, name: str, *args: Argument, stream_threshold: int | None = None
    ) -> Iterator[Event]:
        """Send a command and yield its responses as they arrive; raise on NO/BAD.

        Literals above ``stream_threshold`` bytes come as LiteralData events while this
        command's answer is read. A throttled command is retried here too, but only while
        nothing has been yielded yet.
        """
        self._require_signed_in(name)
        attempt = 0
        while True:
            tag = self._send(name, args, stream_threshold=stream_threshold)
            opened = self._open = (self._session, tag)
            yielded = False
            try:
                while True:
                    event = self._next_for(tag)
                    if isinstance(event, Tagged):
                        tagged = event
                        break
                    if isinstance(event, Untagged):
                        continue  # state (EXISTS, EXPUNGE) is the session's
                    yielded = True
                    try:
                        yield event
                    except GeneratorExit:
                        # The caller stopped early (a `break`, a closed pipe): read the rest of
                        # the answer now, or the next command would take it for its own.
                        if self._open is opened:
                            self._discard_until(tag)
                        raise
                    if self._open is not opened:
                        raise UsageError(
                            f"the rest of the {name} answer was skipped: another command ran "
                            "before it was read to the end"
                        )
            finally:
                if self._open is opened:
                    self._open = None
            if tagged.status == "OK":
                return
            delay = None if yielded else self._retry_delay(name, tagged, attempt)
            if delay is None:
                raise refusal_error(name, tagged)
            attempt += 1
            self._sleep(delay)

    def _idle(self, timeout: float, stop: Callable[[], bool] | None, poll: float) -> _Answer:
        """IDLE (RFC 2177) until a change, ``timeout`` or ``stop()``; what the server said."""
        tag = self._send("IDLE", (), continuations=True)
        seen: list[Untagged] = []
        fetches: list[Fetch] = []
        ending = False  # DONE sent: what follows is IDLE's completion
        read_timeout = self._transport.read_timeout
        deadline = time.monotonic() + timeout
        try:
            while True:
                waiting = self._session.idling and not ending
                if waiting:
                    remaining = deadline - time.monotonic()
                    changed = any(u.kind in ("EXISTS", "EXPUNGE", "RECENT") for u in seen)
                    if changed or remaining <= 0 or (stop is not None and stop()):
                        self._transport.set_read_timeout(read_timeout)
                        wire.debug("C: DONE")
                        self._session.done()
                        self._flush()
                        ending = True
                        continue
                    # Short reads, so that ``stop`` is asked often; a quiet server is fine.
                    self._transport.set_read_timeout(max(0.01, min(poll, remaining)))
                try:
                    event = self._next_for(tag)
                except ReadTimeout:
                    if waiting and self._connected:
                        continue
                    raise
                if isinstance(event, Tagged):
                    if event.status != "OK":
                        raise refusal_error("IDLE", event)
                    return _Answer(event, seen, fetches)
                if isinstance(event, Untagged):
                    seen.append(event)
                elif isinstance(event, Fetch):
                    fetches.append(event)
        except BaseException:
            if self._session.idling and self._connected:
                # stop() raised, or the wait was interrupted (Ctrl-C): end IDLE on the way out,
                # or no later command could run; its completion comes as a stale tag.
                self._session.done()
                with contextlib.suppress(O365ImapError):
                    self._flush()
            raise
        finally:
            if self._connected:
                self._transport.set_read_timeout(read_timeout)

    def _send(
        self,
        name: str,
        args: tuple[Argument, ...],
        *,
        redact: bool = False,
        continuations: bool = False,
        stream_threshold: int | None = None,
        body: int | None = None,
    ) -> str:
        self._finish_open_stream()
        if self._session.state is SessionState.LOGOUT:
            # The server said BYE: a new command cannot run on this session. Say why it ended
            # (SessionExpired after AccessTokenExpired, so the caller may reconnect).
            self.close()
            raise self._closed_error(ConnectionClosed(f"{self.host} closed the connection"))
        if name != "CAPABILITY" and (body is not None or self._session.needs_capabilities(*args)):
            self.capabilities  # noqa: B018 - literals travel as LITERAL+ where offered
        command = self._session.send(
            name,
            *args,
            redact=redact,
            continuations=continuations,
            stream_threshold=stream_threshold,
            body=body,
        )
        if wire.isEnabledFor(logging.DEBUG):
            wire.debug("C: %s", command.describe())
        self._flush()
        return command.tag

    def _finish_open_stream(self) -> None:
        """Read to its end the answer of a streamed command its reader left suspended (a
        generator kept alive by an exception's traceback): the next command must not take
        that answer for its own."""
        if self._open is not None:
            (_, tag), self._open = self._open, None
            self._discard_until(tag)

    def _discard_until(self, tag: str) -> None:
        """Skip responses up to the completion of ``tag``; drop the connection if that fails."""
        if not self._connected:
            return
        try:
            while not isinstance(self._next_for(tag), Tagged):
                pass
        except O365ImapError:
            self.close()

    def _drain(self) -> None:
        """Take in what has already arrived, without waiting for more: the session keeps its
        state (a BYE after a refusal); the responses themselves answer no command."""
        while (event := self._session.next_event()) is not None:
            self._note(event)

    # ------------------------------------------------------------ the read loop

    def _next_for(self, tag: str) -> Event:
        """The next event of command ``tag``: its data, a continuation, or its completion.

        Stale completions, lines that are not IMAP, CAPABILITY and BYE (kept by the session)
        are taken care of here and not returned."""
        while True:
            event = self._next_event()
            if type(event) is Fetch:
                return event  # most events, in a listing: no other test applies
            if isinstance(event, Tagged) and event.tag != tag:
                continue  # a stale completion of a command we gave up on
            if isinstance(event, Unparsed):
                continue
            if isinstance(event, Untagged) and event.kind in ("CAPABILITY", "BYE"):
                continue
            return event

    def _next_event(self) -> Event:
        """The one read loop: the session's next event, reading from the server when needed."""
        while True:
            try:
                event = self._session.next_event()
            except ProtocolError:
                self.close()
                raise
            if event is not None:
                if type(event) is not Fetch:
                    self._note(event)
                return event
            self._flush()
            self._read()

    def _note(self, event: Event) -> None:
        """What the driver itself does about an event: logs, and a short wait after BYE."""
        if isinstance(event, Untagged):
            if event.kind == "BYE" and not self._logging_out:
                # The server is leaving. Office 365 may still send the command's tagged
                # answer (its "authenticated but not connected" comes after a BYE), so
                # wait for it briefly; a server that keeps the socket open without a word
                # (seen after AccessTokenExpired) must not cost a full read timeout.
                self._transport.set_read_timeout(min(self._transport.read_timeout, _BYE_WAIT))
            elif event.kind in ("NO", "BAD") and event.code in (None, "ALERT"):
                log.warning("%s says: %s", self.host, event.text)
        elif isinstance(event, Unparsed):
            log.debug("ignoring a line that is not IMAP: %r", event.line[:200])

    def _flush(self) -> None:
        data = self._session.data_to_send()
        if data:
            self._transport.send(data)

    def _read(self) -> None:
        wanted = self._session.literal_wanted
        try:
            if wanted >= _BIG_READ:
                data: bytes | bytearray = self._transport.recv_exactly(min(wanted, _LITERAL_READ))
            else:
                data = self._transport.recv()
        except ConnectionClosed as exc:
            self._connected = False
            raise self._closed_error(exc) from exc.__cause__
        except ReadTimeout as exc:
            if self._session.bye is not None:
                self.close()  # said BYE, then silence: the session is over, say why
                raise self._closed_error(ConnectionClosed(str(exc))) from exc
            if self._session.in_response or self._session.awaiting_continuation:
                # Part of a response (maybe of a literal) is lost with the timeout: the
                # next command would read the rest as its own answer. Or a '+' is awaited
                # (a held literal, SASL, IDLE): whatever is sent next would be read as the
                # answer to it. Start over instead.
                self.close()
            raise
        if wire.isEnabledFor(logging.DEBUG):
            wire.debug("S: %r", data[:2000])
        self._session.receive_data(data)

    def _closed_error(self, exc: ConnectionClosed) -> ConnectionClosed:
        bye = self._session.bye
        if bye is not None:
            if "AccessTokenExpired" in bye or "token expired" in bye.lower():
                return SessionExpired(
                    f"{self.host} ended the session because the access token expired", bye=bye
                )
            return ConnectionClosed(f"{self.host} closed the connection: {bye}", bye=bye)
        if self._session.in_response:
            return ConnectionClosed(
                f"{self.host} closed the connection in the middle of a response"
            )
        return exc
