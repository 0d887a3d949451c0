"""Bytes in, events out: the incremental IMAP response parser (RFC 3501 sections 7 and 9).

What this module owns: framing. ``ResponseParser`` buffers the server's bytes, finds line ends
and literals, and turns each complete response into an event; there is no socket, no clock and
no logging. ``feed()`` accepts bytes in chunks of any size (one byte at a time gives the same
events as one big read); ``next_event()`` returns the next complete event or None.

How a response is framed: a response is one line, unless the line ends in a literal marker
``{n}``; then n bytes follow and the response continues on the next line. Literals up to
``stream_threshold`` bytes are kept and become values; larger ones are handed out as a stream of
``LiteralData`` chunks as they arrive and are never joined in memory, so a 200 MB attachment can
flow to disk.

Where the values come from: FETCH lines of the listing's usual shape are matched in place in
the buffer by ``listing`` (the fast path); every other response is tokenized by ``lexer`` and
its FETCH items decoded by ``decode``.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from o365imap.errors import ProtocolError
from o365imap.models import BodyPart, Envelope, StreamedLiteral
from o365imap.protocol.decode import body_structure, decode_fetch_items, envelope
from o365imap.protocol.events import (
    Continuation,
    Event,
    Fetch,
    LiteralData,
    LiteralEnded,
    LiteralStarted,
    Tagged,
    Unparsed,
    Untagged,
)
from o365imap.protocol.lexer import (
    _items_in_open_list,
    _items_until_close,
    parse_number,
    parse_values,
)
from o365imap.protocol.listing import (
    _LISTING_IN_BUFFER,
    _fast_fetch,
    _listing_fetch,
    _listing_with_subject_literal,
)

# parse_number and parse_values live in lexer; importers of parser from before the split still
# find them here.
__all__ = [
    "ResponseParser",
    "parse_bodystructure",
    "parse_envelope",
    "parse_number",
    "parse_values",
]

_LITERAL_AT_END = re.compile(rb"\{(\d+)(\+?)\}\Z")
_LITERAL_FOLLOWERS = frozenset(b" )(\r\n")
_MISCOUNT_MAX = 4096  # miscounted literals are display names: never look at big ones

_NUMBERED = re.compile(rb"\* (\d+) ([A-Za-z]+)")
# The item a literal belongs to: the name before it, ``BODY[1]``, ``BODY[HEADER]<0>``. Matched
# backwards (the pattern reversed, against the line reversed): a search for a name that ends
# the line tries every start, and each start can scan to the end (a line of "a[" repeated).
_ITEM_BEFORE_LITERAL = re.compile(rb" ((?:(?:>\d+<)?\][^\]]*\[)?[A-Za-z0-9.]+)")
_KEYWORD = re.compile(rb"\* ([A-Za-z0-9.\-]+)")
_TAGGED = re.compile(rb"([^\s(){%*\"\\+]+) (OK|NO|BAD)\b ?", re.I)
_STATUS = re.compile(rb"(?:\[([^\s\]]+)(?: ([^\]]*))?\] ?)?(.*)", re.S)
_STATUS_KINDS = {"OK", "NO", "BAD", "BYE", "PREAUTH"}
# Lines whose text is free text: a "{5}" at their end is words, not a literal.
_NO_LITERALS = re.compile(rb"\+|\* (?:OK|NO|BAD|BYE|PREAUTH)\b|[^\s*+]+ (?:OK|NO|BAD)\b", re.I)


class ResponseParser:
    """Incremental parser: ``feed(bytes)``, then ``next_event()`` until it returns None.

    ``stream_threshold``: literals larger than this many bytes are streamed as LiteralData
    events instead of being kept. ``max_line``: a response line longer than this is a
    protocol error (a server that never sends a line end must not eat all memory).
    """

    def __init__(self, *, stream_threshold: int = 1 << 20, max_line: int = 64 << 20) -> None:
        self.stream_threshold = stream_threshold
        self.max_line = max_line
        self._buf = bytearray()
        self._pos = 0
        self._segments: list[Any] = []  # the response in progress: line, literal, line, ...
        self._literal_left = 0  # bytes of a literal still to come
        self._literal_size = 0
        self._literal_stream = False  # streaming (True) or collecting into the buffer
        self._events: deque[Event] = deque()
        self._scan_from = 0  # where the search for the next line end resumes
        self._snapshot: bytes | None = None  # bytes(self._buf), made at most once per feed

    # -- input

    def feed(self, data: bytes | bytearray) -> None:
        """Add bytes received from the server."""
        if data:
            self._buf += data
            self._snapshot = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet turned into events."""
        return len(self._buf) - self._pos

    @property
    def literal_wanted(self) -> int:
        """Bytes of the literal being streamed that have not arrived yet (0 otherwise): the
        reader may wait for this many at once instead of taking network-sized bites."""
        if not self._literal_stream or not self._literal_left:
            return 0
        return max(0, self._literal_left - self.buffered)

    @property
    def in_response(self) -> bool:
        """True while a response has begun but not ended (a cut here loses data)."""
        return bool(self._segments) or self._literal_left > 0 or self.buffered > 0

    # -- output

    def events(self) -> list[Event]:
        """Every event that the bytes fed so far complete."""
        out: list[Event] = []
        while (event := self.next_event()) is not None:
            out.append(event)
        return out

    def next_event(self) -> Event | None:
        if self._events:
            return self._events.popleft()
        while True:
            if self._literal_left:
                if self._literal_stream:
                    return self._stream_chunk()
                if not self._collect_literal():
                    return None
                continue
            if not self._segments and (self._snapshot is not None or self._line_complete()):
                # The listing's lines are matched in place, with no copy of each line.
                snap = self._snapshot
                if snap is None:
                    snap = self._snapshot = bytes(self._buf)
                if snap.startswith(b"* ", self._pos):
                    listing = _LISTING_IN_BUFFER.match(snap, self._pos)
                    if listing is not None:
                        self._pos = end = listing.end()
                        self._scan_from = 0
                        if end > 65536:
                            self._compact()
                        return _listing_fetch(listing.groups())
                    split = _listing_with_subject_literal(snap, self._pos, self.stream_threshold)
                    if split is not None:
                        fetch, self._pos = split
                        self._scan_from = 0
                        self._compact()
                        return fetch
            line = self._next_line()
            if line is None:
                return None
            marker = _LITERAL_AT_END.search(line) if line.endswith(b"}") else None
            if marker is not None and not self._segments and _NO_LITERALS.match(line):
                marker = None  # resp-text (status lines, continuations) has no literals
            if marker is not None:
                self._begin_literal(line[: marker.start()], parse_number(marker.group(1), line))
                if self._events:
                    return self._events.popleft()
                continue
            self._segments.append(line)
            segments, self._segments = self._segments, []
            return self._response(segments)

    # -- internals

    def _line_complete(self) -> bool:
        """Is a whole line buffered? (Searches only bytes not searched before.)"""
        if self._snapshot is not None:
            return True  # made when a line was known complete, and nothing consumed it yet
        end = self._buf.find(b"\n", max(self._pos, self._scan_from))
        if end < 0:
            self._scan_from = len(self._buf)
            return False
        return True

    def _next_line(self) -> bytes | None:
        buf = self._buf
        end = buf.find(b"\n", max(self._pos, self._scan_from))
        if end < 0:
            if len(buf) - self._pos > self.max_line:
                raise ProtocolError(
                    "the server sent a line longer than the limit",
                    excerpt=bytes(buf[self._pos : self._pos + 200]),
                )
            self._scan_from = len(buf)
            return None
        stop = end - 1 if end > self._pos and buf[end - 1] == 0x0D else end
        snap = self._snapshot
        line = snap[self._pos : stop] if snap is not None else bytes(buf[self._pos : stop])
        self._pos = end + 1
        self._scan_from = 0
        self._compact()
        return line

    def _compact(self) -> None:
        if self._pos > 65536 and self._pos * 2 > len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
            self._snapshot = None

    def _begin_literal(self, line_part: bytes, size: int) -> None:
        self._segments.append(line_part)
        self._literal_size = size
        self._literal_left = size
        self._literal_stream = size > self.stream_threshold
        if self._literal_stream:
            seq, item = self._where()
            self._events.append(LiteralStarted(seq, item, size))
        elif size == 0:
            self._literal_left = 0
            self._segments.append(b"")

    def _where(self) -> tuple[int | None, str | None]:
        """FETCH number and item name a streamed literal belongs to (for the consumer)."""
        first = self._segments[0] if self._segments else b""
        head = _NUMBERED.match(first)
        is_fetch = head is not None and head.group(2).upper() == b"FETCH"
        seq = parse_number(head.group(1), first) if head and is_fetch else None
        tail = self._segments[-1] if self._segments else b""
        name = _ITEM_BEFORE_LITERAL.match(tail[::-1])
        item = name.group(1)[::-1].decode("ascii", "replace").upper() if name else None
        return seq, item

    def _stream_chunk(self) -> Event | None:
        available = len(self._buf) - self._pos
        if available <= 0:
            return None
        take = min(available, self._literal_left)
        if self._pos == 0 and take == len(self._buf):
            chunk = bytes(self._buf)
            self._buf.clear()
            self._snapshot = None
        else:
            chunk = bytes(self._buf[self._pos : self._pos + take])
            self._pos += take
            self._compact()
        self._literal_left -= take
        if self._literal_left == 0:
            self._segments.append(StreamedLiteral(self._literal_size))
            self._events.append(LiteralEnded(self._literal_size))
        return LiteralData(chunk)

    def _collect_literal(self) -> bool:
        """Take a whole buffered literal once it has arrived; False while waiting for bytes."""
        size = self._literal_left
        start = self._pos
        buf = self._buf
        if len(buf) - start < size + 1:  # +1: we look at the byte after it
            return False
        taken = size
        if (
            size <= _MISCOUNT_MAX
            and (buf[start + size] not in _LITERAL_FOLLOWERS or self._at_address_name())
            and not buf[start : start + size].isascii()
        ):
            fixed = self._character_count_literal(start, size)
            if fixed is None:
                return False
            taken = fixed
        self._segments.append(bytes(buf[start : start + taken]))
        self._pos = start + taken
        self._literal_left = 0
        self._compact()
        return True

    def _at_address_name(self) -> bool:
        """Is the literal just announced the first field of an ENVELOPE address?"""
        prefix = self._segments[-1] if self._segments else b""
        return prefix.rstrip().endswith(b"(") and _items_in_open_list(prefix) == 0

    def _character_count_literal(self, start: int, size: int) -> int | None:
        """Some servers (DavMail) count a literal in characters, not bytes. Find the real end.

        Only two situations make the character count win: the byte count ends in the middle of
        the data (the next byte cannot follow a literal), or the literal is an address's display
        name and only the character count leaves that address its four fields. Correct
        literals never meet either test, so they are always taken as announced. Returns the
        byte length to take, or None to wait for the rest of the line.
        """
        buf = self._buf
        line_end = buf.find(b"\n", start + size)
        if line_end < 0:
            return None
        text = bytes(buf[start:line_end]).decode("utf-8", "surrogateescape")
        taken = len(text[:size].encode("utf-8", "surrogateescape"))
        if taken <= size or buf[start + taken] not in _LITERAL_FOLLOWERS:
            return size
        if buf[start + size] not in _LITERAL_FOLLOWERS:
            return taken
        by_chars = _items_until_close(bytes(buf[start + taken : line_end]))
        by_bytes = _items_until_close(bytes(buf[start + size : line_end]))
        if 1 + by_chars == 4 != 1 + by_bytes:
            return taken
        return size

    def _response(self, segments: list[Any]) -> Event:
        first: bytes = segments[0]
        if first.startswith(b"* "):
            if len(segments) == 1:
                fast = _fast_fetch(first)
                if fast is not None:
                    return fast
            return self._untagged(segments)
        if first.startswith(b"+"):
            return Continuation(first[1:].strip())
        tagged = _TAGGED.match(first)
        if tagged is None:
            return Unparsed(b"".join(s if isinstance(s, bytes) else b"" for s in segments))
        code, code_data, text = _status_parts(first[tagged.end() :])
        return Tagged(
            tagged.group(1).decode("ascii", "replace"),
            tagged.group(2).decode("ascii").upper(),
            code,
            code_data,
            text,
        )

    def _untagged(self, segments: list[Any]) -> Event:
        first: bytes = segments[0]
        numbered = _NUMBERED.match(first)
        if numbered is not None:
            kind = numbered.group(2).decode("ascii").upper()
            number = parse_number(numbered.group(1), first)
            if kind == "FETCH":
                values = parse_values([first[numbered.end() :], *segments[1:]])
                items = values[0] if values and isinstance(values[0], list) else values
                return Fetch(number, decode_fetch_items(items))
            return Untagged(kind, number=number)
        keyword = _KEYWORD.match(first)
        if keyword is None:
            return Unparsed(first)
        kind = keyword.group(1).decode("ascii").upper()
        rest = first[keyword.end() :]
        if kind in _STATUS_KINDS:
            code, code_data, text = _status_parts(rest.lstrip(b" "))
            return Untagged(kind, code=code, code_data=code_data, text=text)
        values = parse_values([rest, *segments[1:]])
        return Untagged(kind, values=tuple(values))


def _status_parts(rest: bytes) -> tuple[str | None, bytes | None, str]:
    match = _STATUS.match(rest)
    assert match is not None  # the pattern matches any input
    code = match.group(1).decode("ascii", "replace").upper() if match.group(1) else None
    return code, match.group(2), match.group(3).decode("utf-8", "replace").strip()


# ---------------------------------------------------------------- conveniences


def _single_value(raw: bytes) -> Any:
    parser = ResponseParser(stream_threshold=1 << 62)
    parser.feed(b"* VALUE " + raw + b"\r\n")
    event = parser.next_event()
    if isinstance(event, Untagged) and event.values:
        return event.values[0]
    return None


def parse_envelope(raw: bytes) -> Envelope:
    """An ENVELOPE from its bytes (the parenthesised value; literals as ``{n}\\r\\n...``)."""
    return envelope(_single_value(raw))


def parse_bodystructure(raw: bytes) -> BodyPart:
    """A BODYSTRUCTURE from its bytes (the parenthesised value)."""
    return body_structure(_single_value(raw))
