"""The IMAP session, sans-I/O: commands in, bytes out; bytes in, events out (RFC 3501).

Everything that affects the session's state lives here: which tags are waiting for their
completion, which part of a command is held back until the server's ``+`` (a synchronising
literal, RFC 3501 7.5), whether LITERAL+ (RFC 7888) lets it go at once, which continuations a
command takes (AUTHENTICATE's SASL exchange, IDLE's "+ idling"), and what the untagged
responses say about the connection: CAPABILITY, EXISTS/EXPUNGE, BYE, the greeting.

Like h11's ``Connection``, it never touches a socket or a clock. The driver's loop is:
``send(...)``, write ``data_to_send()``, read, ``receive_data(bytes)``, then ``next_event()``
until it returns None, acting on each event. Every event is passed on, in the order the server
sent it, after the state has been updated from it; the one exception is a ``+`` that releases
a held literal: the session answers it itself, it concerns nobody else.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from o365imap.errors import ProtocolError, UsageError
from o365imap.protocol.commands import Argument, Command, TagGenerator
from o365imap.protocol.events import Continuation, Event, Fetch, Tagged, Untagged
from o365imap.protocol.parser import ResponseParser

__all__ = ["ImapSession", "SessionState"]


class SessionState(enum.Enum):
    """RFC 3501 section 3, plus the moment before the greeting."""

    GREETING = "greeting"
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


# Commands whose tagged OK moves the session to another state.
_SIGN_IN = frozenset({"AUTHENTICATE", "LOGIN"})
_OPEN = frozenset({"SELECT", "EXAMINE"})
_LEAVE = frozenset({"CLOSE", "UNSELECT"})


@dataclass
class _InFlight:
    """A command sent (or queued to be sent) whose tagged completion has not come yet."""

    command: Command
    # what is still to send; pieces after the first wait for a "+" (a LOGIN password may be
    # among them: never in a repr)
    pieces: deque[bytes] = field(repr=False)
    continuations: bool  # does it take continuations of its own (SASL, IDLE)?
    stream_threshold: int | None
    started: bool = False  # its first piece is out
    body: int | None = None  # bytes of its streamed literal (APPEND's message) still to send
    body_ready: bool = False  # the server may have the body now (LITERAL+, or after its '+')
    plus: bool = False  # its literals go as LITERAL+


class ImapSession:
    """One IMAP client session's state machine.

    ``stream_threshold``: literals larger than this many bytes come as ``LiteralData`` chunks
    instead of values (a command may ask for a lower one while its answer is read).
    """

    def __init__(self, *, stream_threshold: int = 1 << 20, tag_prefix: str = "A") -> None:
        self._parser = ResponseParser(stream_threshold=stream_threshold)
        self._base_threshold = stream_threshold
        self._tags = TagGenerator(tag_prefix)
        self._out = bytearray()
        self._in_flight: dict[str, _InFlight] = {}  # in the order sent
        self._idling: str | None = None  # IDLE's tag once the server said '+'
        self.state = SessionState.GREETING
        self.greeting: Untagged | None = None
        self.capabilities: frozenset[str] | None = None  # None: not known (yet, or any more)
        self.exists: int | None = None  # messages in the selected folder, kept current
        self.bye: str | None = None  # the server's BYE text, once it said goodbye

    # ------------------------------------------------------------ sending

    def send(
        self,
        name: str,
        *args: Argument,
        redact: bool = False,
        continuations: bool = False,
        stream_threshold: int | None = None,
        body: int | None = None,
    ) -> Command:
        """Queue a command; its bytes come out of ``data_to_send()``.

        Synchronising literals are held back until the server's ``+``; with LITERAL+ among
        the capabilities they go at once. ``continuations``: the command expects ``+``
        responses of its own (AUTHENTICATE, IDLE), which are passed on as events; any other
        command given one is a protocol error. ``stream_threshold`` applies while this
        command's answer is read. ``body``: the command ends with a literal of this many bytes
        that the caller streams with ``send_body`` once ``ready_for_body`` (APPEND's message,
        never held whole here).
        """
        if body is not None and body < 1:
            raise UsageError("a streamed literal has at least one byte")
        if self.state is SessionState.LOGOUT:
            raise UsageError(f"{name}: the session is over (the server said BYE)")
        if self._idling is not None:
            raise UsageError(f"{name}: end IDLE with done() first")
        command = Command(self._tags(), name, tuple(args), redact=redact)
        plus = self.capabilities is not None and "LITERAL+" in self.capabilities
        pieces = command.encode(literal_plus=plus)
        if body is not None:  # its literal's announcement ends the line: {n+} or {n}
            pieces[-1] = pieces[-1][:-2] + (b" {%d+}\r\n" if plus else b" {%d}\r\n") % body
        entry = _InFlight(command, deque(pieces), continuations, stream_threshold, body=body)
        entry.plus = plus
        # Behind a literal waiting for its '+', or a command that takes continuations (SASL,
        # IDLE: the server reads every line as its answer until it completes), it waits.
        held_back = any(_blocks(e) for e in self._in_flight.values())
        self._in_flight[command.tag] = entry
        if not held_back:
            self._start(entry)
        if name in _OPEN:
            self.exists = None  # the new folder's EXISTS will say
        return command

    def needs_capabilities(self, *args: Argument) -> bool:
        """Would these arguments make literals whose form (LITERAL+ or not) depends on
        capabilities still unknown? The driver then asks CAPABILITY first."""
        if self.capabilities is not None:
            return False
        return len(Command("A", "X", tuple(args)).encode()) > 1

    @property
    def ready_for_body(self) -> bool:
        """A command's streamed literal may be sent now (``send_body``)."""
        return any(e.body_ready for e in self._in_flight.values())

    def send_body(self, data: bytes) -> None:
        """The next bytes of the streamed literal; after the last, the command's line ends."""
        entry = next((e for e in self._in_flight.values() if e.body_ready), None)
        if entry is None or entry.body is None:
            raise UsageError("no command waits for its literal's bytes now")
        if len(data) > entry.body:
            raise UsageError(f"{len(data)} bytes given where {entry.body} were announced")
        self._out += data
        entry.body -= len(data)
        if entry.body == 0:
            self._out += b"\r\n"
            entry.body, entry.body_ready = None, False
            self._release()

    def send_continuation(self, data: bytes) -> None:
        """Answer a continuation the current command takes (a SASL response)."""
        self._out += data

    def done(self) -> None:
        """End IDLE (RFC 2177): DONE, then the server completes the IDLE command."""
        if self._idling is None:
            raise UsageError("done() ends IDLE, and the session is not idling")
        self._idling = None
        self._out += b"DONE\r\n"

    def data_to_send(self) -> bytes:
        """The bytes to write to the server now (empty when there are none)."""
        if not self._out:
            return b""
        data = bytes(self._out)
        self._out.clear()
        return data

    @property
    def pending(self) -> tuple[str, ...]:
        """Tags of the commands still waiting for their completion, oldest first."""
        return tuple(self._in_flight)

    @property
    def idling(self) -> bool:
        return self._idling is not None

    def _start(self, entry: _InFlight) -> None:
        entry.started = True
        self._out += entry.pieces.popleft()
        self._body_follows(entry)
        self._set_threshold()

    @staticmethod
    def _body_follows(entry: _InFlight) -> None:
        """With LITERAL+, a streamed literal follows its announcement at once."""
        if not entry.pieces and entry.body is not None and entry.plus:
            entry.body_ready = True

    def _set_threshold(self) -> None:
        """The threshold of the latest started command in flight that asked for one, else the
        session's own: restores never cross when commands complete out of order."""
        wanted = [
            e.stream_threshold
            for e in self._in_flight.values()
            if e.started and e.stream_threshold is not None
        ]
        self._parser.stream_threshold = wanted[-1] if wanted else self._base_threshold

    def _release(self) -> None:
        """After a '+', or a completion: send what the held-back commands may send now."""
        for entry in self._in_flight.values():
            if not entry.started:
                self._start(entry)
            if entry.pieces or entry.continuations:
                return  # this one waits for the server's '+' (or its completion) again

    @property
    def awaiting_continuation(self) -> bool:
        """A command waits for the server's '+' (a held literal, a SASL exchange, IDLE before
        its '+' or after DONE): a read timeout now leaves the conversation in a state no
        later command can repair."""
        return any(
            e.started
            and (
                bool(e.pieces)
                or (e.body is not None and not e.body_ready)
                or (e.continuations and self._idling != e.command.tag)
            )
            for e in self._in_flight.values()
        )

    # ------------------------------------------------------------ receiving

    def receive_data(self, data: bytes | bytearray) -> None:
        """Bytes from the server."""
        self._parser.feed(data)

    def next_event(self) -> Event | None:
        """The next event, or None until more bytes arrive. Raises ProtocolError on garbage."""
        while True:
            event = self._parser.next_event()
            if event is None or type(event) is Fetch:
                return event  # (a FETCH changes no state: the listing's hot path)
            if isinstance(event, Continuation) and not self._continuation(event):
                continue  # it released a held literal: nothing for anyone else
            self._update(event)
            return event

    @property
    def buffered(self) -> int:
        """Bytes received and not yet turned into events (after STARTTLS's OK, a sign of an
        attacker's plain-text injection)."""
        return self._parser.buffered

    @property
    def literal_wanted(self) -> int:
        """Bytes of a streamed literal still to come: the reader may wait for them at once."""
        return self._parser.literal_wanted

    @property
    def in_response(self) -> bool:
        """A response has begun and not ended: a cut here loses part of it."""
        return self._parser.in_response

    def _continuation(self, event: Continuation) -> bool:
        """Handle a '+'; True when it is to be passed on as an event. It belongs to the oldest
        started command that waits for one: a held literal (answered here), else a command
        that takes continuations (passed on)."""
        for entry in self._in_flight.values():
            if not entry.started:
                break
            if entry.pieces:
                self._out += entry.pieces.popleft()
                self._body_follows(entry)
                if not entry.pieces and entry.body is None:
                    self._release()
                return False
            if entry.body is not None and not entry.body_ready:
                entry.body_ready = True  # the '+' for the streamed literal: the caller sends it
                return False
            if entry.continuations:
                if entry.command.name == "IDLE":
                    self._idling = entry.command.tag
                return True
        names = ", ".join(e.command.name for e in self._in_flight.values()) or "no command"
        raise ProtocolError(
            f"the server sent a continuation nobody asked for (pending: {names})",
            excerpt=event.text[:200],
        )

    def _update(self, event: Event) -> None:
        if isinstance(event, Tagged):
            self._complete(event)
        elif isinstance(event, Untagged):
            self._untagged(event)

    def _untagged(self, event: Untagged) -> None:
        kind = event.kind
        if self.state is SessionState.GREETING and kind in ("OK", "PREAUTH", "BYE"):
            self.greeting = event
            self.state = {
                "OK": SessionState.NOT_AUTHENTICATED,
                "PREAUTH": SessionState.AUTHENTICATED,
                "BYE": SessionState.LOGOUT,
            }[kind]
        if kind == "EXISTS" and event.number is not None:
            self.exists = event.number
        elif kind == "EXPUNGE" and self.exists:
            self.exists -= 1
        elif kind == "CAPABILITY":
            self.capabilities = _capability_set(event.values)
        elif kind == "BYE":
            self.bye = event.text
            self.state = SessionState.LOGOUT
        if event.code == "CAPABILITY" and event.code_data:
            self.capabilities = _capability_set(event.code_data.split())

    def _complete(self, event: Tagged) -> None:
        entry = self._in_flight.pop(event.tag, None)
        if entry is None:
            return  # not ours (a stale tag): the driver decides what that means
        self._set_threshold()
        if self._idling == event.tag:
            self._idling = None
        if entry.pieces or entry.body is not None:
            entry.pieces.clear()  # refused before its literal: the rest is never sent
            entry.body, entry.body_ready = None, False
        self._release()
        name = entry.command.name
        ok = event.status == "OK"
        if name in _SIGN_IN and ok:
            self.state = SessionState.AUTHENTICATED
            self.capabilities = None  # RFC 3501 6.2.2: they may change once signed in
        elif name == "STARTTLS" and ok:
            # RFC 3501 6.2.1, RFC 2595 3.1: forget what was said in plain text, this OK too
            # (a [CAPABILITY] code on it came before the handshake).
            self.capabilities = None
            return
        elif name in _OPEN and self.state is not SessionState.LOGOUT:
            # A failed SELECT leaves no folder selected (RFC 3501 6.3.1). EXISTS is required
            # in its answer; a server that left it out has told of no message.
            self.state = SessionState.SELECTED if ok else SessionState.AUTHENTICATED
            self.exists = (0 if self.exists is None else self.exists) if ok else None
        elif name in _LEAVE and ok:
            self.state = SessionState.AUTHENTICATED
            self.exists = None
        elif name == "LOGOUT":
            self.state = SessionState.LOGOUT
        if event.code == "CAPABILITY" and event.code_data:
            self.capabilities = _capability_set(event.code_data.split())


def _blocks(entry: _InFlight) -> bool:
    """Must the commands sent after this one wait until it is further along?"""
    return bool(entry.pieces) or not entry.started or entry.continuations or entry.body is not None


def _capability_set(values: Iterable[object]) -> frozenset[str]:
    return frozenset(v.decode("ascii", "replace").upper() for v in values if isinstance(v, bytes))
