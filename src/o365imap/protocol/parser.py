"""Bytes in, events out: the incremental IMAP response parser (RFC 3501 sections 7 and 9).

Everything that touches the server's bytes lives here; there is no socket, no clock and no
logging. ``feed()`` accepts bytes in chunks of any size (one byte at a time gives the same
events as one big read); ``next_event()`` returns the next complete event or None.

How a response is framed: a response is one line, unless the line ends in a literal marker
``{n}``; then n bytes follow and the response continues on the next line. Literals up to
``stream_threshold`` bytes are kept and become values; larger ones are handed out as a stream of
``LiteralData`` chunks as they arrive and are never joined in memory, so a 200 MB attachment can
flow to disk.

Why the tokenizer looks the way it does: a listing parses tens of thousands of FETCH lines per
second. The common shape, a FETCH line without literals, goes through a fast path of compiled
regular expressions that take whole items (an ENVELOPE, an address list) in one C-level match;
anything else, and anything the fast path does not recognise, goes through the general tokenizer
(``re.findall`` over the line, linear in its length whatever it holds, plus a small stack
machine). Both feed the same decoders, and the tests check that they agree.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from o365imap.errors import ProtocolError
from o365imap.models import Address, AddressEntry, BodyPart, Envelope, StreamedLiteral
from o365imap.protocol.decode import (
    _ADDRESS_CACHE,
    MAX_NUMBER_DIGITS,
    address_list,
    body_structure,
    cached_address_list,
    decode_fetch_items,
    envelope,
    make_envelope,
)
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
from o365imap.protocol.text import parse_internal_date

__all__ = [
    "ResponseParser",
    "parse_bodystructure",
    "parse_envelope",
    "parse_number",
    "parse_values",
]

# How deep lists may nest in a response. Dovecot nests MIME parts up to 100 deep; a part takes
# one level of a BODYSTRUCTURE, and the deepest a few more (envelope, address list, address,
# disposition), all inside the FETCH list. Beyond what any server sends, a list nested a million
# deep would reach every caller that recurses (==, repr, the decoders); the decoders themselves
# stop at 64 levels of parts (decode.MAX_DEPTH), so what a server can send still decodes.
MAX_NESTING = 256

# A quoted string. A '"' ends it only when a delimiter follows: servers (Gmail, Exchange) send
# unescaped quotes inside strings, and reading those as the end desynchronises everything after.
_QUOTED = rb'"([^"\\]*+(?:(?:\\.|"(?=[^\s()]))[^"\\]*+)*+)"'
# An atom with a [section] that may hold spaces and parens: BODY[HEADER.FIELDS (FROM)]<0>.
#
# Where a quoted string or a section fails, it has searched to the end of the line, and it would
# fail again at every later start: a quoted string's scan from a later '"' is the tail of the
# failed one, and a section needs a ']' that is not there. Retried at each start, a line of
# 40 KB of \" took seconds. So each failure is caught where it happens, by a branch that takes
# the rest of the line into the token's group (a ']' is in every section and in no open one; a
# '"' in no paren), and _tokens goes on from there without the alternative that failed.
_SECTION_OR_OPEN = rb"([^\s()\"\[\]]*\[(?:[^\]]*\][^\s()\"]*|[^\]]*+\Z))"
_PAREN_OR_OPEN_QUOTE = rb'([()]|".*)'  # the second branch is only reached where _QUOTED failed
_NEVER = rb"(?!)()"  # what has failed keeps its group, so that every pattern gives four


def _token_pattern(quotes: bool, sections: bool) -> re.Pattern[bytes]:
    """Tokens as (quoted, paren, section, atom); re.S, so that a backslash escapes any byte,
    which the argument above needs."""
    alternatives = [
        _QUOTED if quotes else _NEVER,
        _PAREN_OR_OPEN_QUOTE if quotes else rb"([()])",
        _SECTION_OR_OPEN if sections else _NEVER,
        rb"([^\s()\"]+)",
    ]
    return re.compile(rb"|".join(alternatives), re.S)


_TOKEN = _token_pattern(quotes=True, sections=True)
_WITHOUT_SECTIONS = _token_pattern(quotes=True, sections=False)
_WITHOUT_QUOTES = _token_pattern(quotes=False, sections=True)
_PARENS_AND_ATOMS = _token_pattern(quotes=False, sections=False)
_UNESCAPE = re.compile(rb"\\(.)", re.S)
_LITERAL_AT_END = re.compile(rb"\{(\d+)(\+?)\}\Z")
_LITERAL_FOLLOWERS = frozenset(b" )(\r\n")
_MISCOUNT_MAX = 4096  # miscounted literals are display names: never look at big ones
# A number the fast paths take; a longer run of digits leaves the line to the general path,
# which says what is wrong with it.
_NUMBER = rb"(\d{1,%d})" % MAX_NUMBER_DIGITS

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


def parse_number(digits: bytes, line: bytes) -> int:
    """``digits`` (ASCII digits only, as the caller has checked) as an IMAP number; more
    digits than any IMAP number has (RFC 9051 number64) is a ProtocolError quoting ``line``.

    The one check for every number a server sends: the parser's sequence numbers and literal
    sizes, and the client's STATUS counts, SEARCH results, response codes and backoff times.
    """
    if len(digits) > MAX_NUMBER_DIGITS:
        raise ProtocolError(
            f"the server sent a number of {len(digits)} digits; IMAP's have at most "
            f"{MAX_NUMBER_DIGITS}",
            excerpt=line,
        )
    return int(digits)


def _unquote(content: bytes) -> bytes:
    return _UNESCAPE.sub(rb"\1", content) if b"\\" in content else content


def _tokens(line: bytes) -> list[tuple[bytes, bytes, bytes, bytes]]:
    """The tokens of ``line``, (quoted, paren, section, atom) as the findall of the four
    alternatives gives them, in time linear in the length of the line.

    At most three passes: a failed quoted string or section ends a pass, and the next one starts
    where it failed, with a pattern that no longer tries what failed. A '"' that starts no string
    is skipped, as findall skips what nothing matches.
    """
    pattern = _TOKEN
    tokens = pattern.findall(line)
    while tokens:
        _, paren, section, _ = tokens[-1]
        if section and b"]" not in section:  # an atom after all, as after a failed section
            start = len(line) - len(section)
            pattern = _PARENS_AND_ATOMS if pattern is _WITHOUT_QUOTES else _WITHOUT_SECTIONS
        elif paren[:1] == b'"':
            start = len(line) - len(paren) + 1
            pattern = _PARENS_AND_ATOMS if pattern is _WITHOUT_SECTIONS else _WITHOUT_QUOTES
        else:
            break
        tokens.pop()
        tokens += pattern.findall(line, start)
    return tokens


def _tokenize_into(line: bytes, stack: list[list[Any]], current: list[Any]) -> list[Any]:
    """Add the tokens of ``line`` to the open list ``current``; returns the list still open."""
    for quoted, paren, section, atom in _tokens(line):
        if atom:
            current.append(None if atom == b"NIL" else atom)
        elif paren:
            if paren == b"(":
                if len(stack) >= MAX_NESTING:
                    raise ProtocolError(
                        f"the server nested lists more than {MAX_NESTING} deep", excerpt=line
                    )
                stack.append(current)
                current = []
            elif stack:
                done = current
                current = stack.pop()
                current.append(done)
            # an unbalanced ')' is dropped: nothing sensible can be made of it
        elif section:
            current.append(section)
        else:
            current.append(_unquote(quoted))
    return current


def _items_in_open_list(prefix: bytes) -> int:
    """How many items the innermost list still open at the end of ``prefix`` holds so far."""
    counts = [0]
    for quoted, paren, section, atom in _tokens(prefix):
        if paren == b"(":
            counts[-1] += 1
            counts.append(0)
        elif paren == b")":
            if len(counts) > 1:
                counts.pop()
        elif quoted or section or atom or not paren:
            counts[-1] += 1
    return counts[-1]


def _items_until_close(rest: bytes) -> int:
    """How many items follow in the current list before the ``)`` that closes it."""
    depth = 0
    items = 0
    for _quoted, paren, _section, _atom in _tokens(rest):
        if paren == b"(":
            if depth == 0:
                items += 1
            depth += 1
        elif paren == b")":
            if depth == 0:
                return items
            depth -= 1
        elif depth == 0:
            items += 1
    return items


def parse_values(segments: list[Any]) -> list[Any]:
    """Tokens of a response given as line segments alternating with literal values.

    Lists nested deeper than MAX_NESTING are a ProtocolError.
    """
    stack: list[list[Any]] = []
    current: list[Any] = []
    for i, segment in enumerate(segments):
        if i % 2:
            current.append(segment)
        else:
            current = _tokenize_into(segment, stack, current)
    while stack:  # lists left open by a truncated or broken response are closed
        done = current
        current = stack.pop()
        current.append(done)
    return current


# ---------------------------------------------------------------- the FETCH fast path

_NS = rb'(?:"([^"\\]*+(?:(?:\\.|"(?=[^\s()]))[^"\\]*+)*+)"|(NIL))'
_NS_NC = rb'(?:"[^"\\]*+(?:(?:\\.|"(?=[^\s()]))[^"\\]*+)*+"|NIL)'
_ADDR = rb"\(" + _NS + rb" " + _NS + rb" " + _NS + rb" " + _NS + rb"\)"
_ADDR_NC = rb"\(" + _NS_NC + rb" " + _NS_NC + rb" " + _NS_NC + rb" " + _NS_NC + rb"\)"
_ALIST = rb"(NIL|\((?:" + _ADDR_NC + rb")+\))"
_ADDRESS = re.compile(_ADDR)
_FETCH_HEAD = re.compile(rb"\* " + _NUMBER + rb" FETCH \(")
# One pattern per item the listing asks for, chosen by the item's first letter; each must
# consume the item and the separator after it (a space, or the ')' that ends the line).
_SEP = rb"( |\)\Z)"
_FAST_ITEMS: dict[int, tuple[re.Pattern[bytes], str]] = {
    ord("U"): (re.compile(rb"UID " + _NUMBER + _SEP), "UID"),
    ord("R"): (re.compile(rb"RFC822\.SIZE " + _NUMBER + _SEP), "RFC822.SIZE"),
    ord("F"): (re.compile(rb"FLAGS \(([^()\"\[\]{}]*)\)" + _SEP), "FLAGS"),
    ord("I"): (re.compile(rb'INTERNALDATE "([^"\\]*)"' + _SEP), "INTERNALDATE"),
    ord("M"): (re.compile(rb"MODSEQ \(" + _NUMBER + rb"\)" + _SEP), "MODSEQ"),
    ord("E"): (
        re.compile(
            rb"ENVELOPE \("
            + _NS
            + rb" "
            + _NS
            + (rb" " + _ALIST) * 6
            + rb" "
            + _NS
            + rb" "
            + _NS
            + rb"\)"
            + _SEP
        ),
        "ENVELOPE",
    ),
}


# The listing's own request, in the order Dovecot and Exchange answer it: one match per line.
# Strings here exclude CR and LF so that a match can never run past the end of its line.
_NS_LINE = rb'(?:"([^"\\\r\n]*+(?:(?:\\.|"(?=[^\s()]))[^"\\\r\n]*+)*+)"|(NIL))'
_NS_LINE_NC = rb'(?:"[^"\\\r\n]*+(?:(?:\\.|"(?=[^\s()]))[^"\\\r\n]*+)*+"|NIL)'
_ADDR_LINE_NC = rb"\(" + rb" ".join([_NS_LINE_NC] * 4) + rb"\)"
_ALIST_LINE = rb"(NIL|\((?:" + _ADDR_LINE_NC + rb")++\))"
_LISTING_BODY = (
    rb"\* "
    + _NUMBER
    + rb" FETCH \(UID "
    + _NUMBER
    + rb" FLAGS \(([^()\"\[\]{}\r\n]*)\) RFC822\.SIZE "
    + _NUMBER
    + rb' INTERNALDATE "([^"\\\r\n]*)" ENVELOPE \('
    + _NS_LINE
    + rb" "
    + _NS_LINE
    + (rb" " + _ALIST_LINE) * 6
    + rb" "
    + _NS_LINE
    + rb" "
    + _NS_LINE
    + rb"\)\)"
)
_LISTING_LINE = re.compile(_LISTING_BODY + rb"\Z")  # a line without its CRLF
# Long subjects are folded, and Dovecot sends a folded subject as a literal: the same line in
# two pieces, around the subject's bytes.
_LISTING_HEAD_LITERAL = re.compile(
    _LISTING_BODY.split(rb"ENVELOPE \(")[0]
    + rb"ENVELOPE \("
    + _NS_LINE
    + rb" \{"
    + _NUMBER
    + rb"\}\r\n"
)
_LISTING_TAIL = re.compile(
    (rb" " + _ALIST_LINE) * 6 + rb" " + _NS_LINE + rb" " + _NS_LINE + rb"\)\)\r?\n"
)
_LISTING_IN_BUFFER = re.compile(_LISTING_BODY + rb"\r?\n")  # straight from the read buffer


_FLAG_CACHE: dict[bytes, tuple[str, ...]] = {}


def _flags(raw: bytes) -> tuple[str, ...]:
    """A flag list's atoms; memoized, since a folder has only a few distinct combinations."""
    found = _FLAG_CACHE.get(raw)
    if found is None:
        found = tuple(f for f in raw.decode("utf-8", "replace").split() if f != "NIL")
        if len(_FLAG_CACHE) < 1024:
            _FLAG_CACHE[raw] = found
    return found


def _fast_nstring(content: bytes, nil: bytes) -> bytes | None:
    if nil:
        return None
    return _UNESCAPE.sub(rb"\1", content) if b"\\" in content else content


_ONE_ADDRESS = re.compile(_ADDR_NC)
_SINGLE_CACHE: dict[bytes, Address] = {}


def _fast_addresses(raw: bytes) -> tuple[AddressEntry, ...]:
    """An address list from its raw bytes, through two caches.

    Whole lists repeat (Sender and Reply-To are copies of From) and single addresses repeat far
    more (the same people write to the same people): decoding each distinct address once is
    most of what makes listing fast. Lists with group syntax (a NIL host) take the general
    decoder, which knows groups.
    """
    if raw == b"NIL":
        return ()
    found = _ADDRESS_CACHE.get(raw)
    if found is not None:
        return found
    pieces = _ONE_ADDRESS.findall(raw)
    out: list[AddressEntry] = []
    for piece in pieces:
        address = _SINGLE_CACHE.get(piece)
        if address is None:
            if piece.endswith(b" NIL)"):  # group syntax: let the general decoder see it all
                return _slow_addresses(raw)
            decoded = address_list([_address_quad(piece)])
            if len(decoded) != 1 or not isinstance(decoded[0], Address):
                return _slow_addresses(raw)
            address = decoded[0]
            if len(_SINGLE_CACHE) >= 16384:
                _SINGLE_CACHE.clear()
            _SINGLE_CACHE[piece] = address
        out.append(address)
    result = tuple(out)
    if len(_ADDRESS_CACHE) >= 8192:
        _ADDRESS_CACHE.clear()
    _ADDRESS_CACHE[raw] = result
    return result


def _address_quad(piece: bytes) -> tuple[bytes | None, ...]:
    match = _ADDRESS.fullmatch(piece)
    assert match is not None  # findall gave us exactly this shape
    a, an, b, bn, c, cn, d, dn = match.groups()
    return (
        _fast_nstring(a, an),
        _fast_nstring(b, bn),
        _fast_nstring(c, cn),
        _fast_nstring(d, dn),
    )


def _slow_addresses(raw: bytes) -> tuple[AddressEntry, ...]:
    return cached_address_list(
        raw,
        [
            (
                _fast_nstring(a, an),
                _fast_nstring(b, bn),
                _fast_nstring(c, cn),
                _fast_nstring(d, dn),
            )
            for a, an, b, bn, c, cn, d, dn in _ADDRESS.findall(raw)
        ],
    )


def _listing_fetch(g: tuple[Any, ...], subject_literal: bytes | None = None) -> Fetch:
    """The Fetch of a listing line from the listing pattern's groups; a subject that came as
    a literal is passed apart, since literals are taken as they are (no unescaping)."""
    return Fetch(
        int(g[0]),
        {
            "UID": int(g[1]),
            "FLAGS": _flags(g[2]),
            "RFC822.SIZE": int(g[3]),
            "INTERNALDATE": parse_internal_date(g[4]),
            "ENVELOPE": make_envelope(
                _fast_nstring(g[5], g[6]),
                _fast_nstring(g[7], g[8]) if subject_literal is None else subject_literal,
                () if g[9] == b"NIL" else _fast_addresses(g[9]),
                () if g[10] == b"NIL" else _fast_addresses(g[10]),
                () if g[11] == b"NIL" else _fast_addresses(g[11]),
                () if g[12] == b"NIL" else _fast_addresses(g[12]),
                () if g[13] == b"NIL" else _fast_addresses(g[13]),
                () if g[14] == b"NIL" else _fast_addresses(g[14]),
                _fast_nstring(g[15], g[16]),
                _fast_nstring(g[17], g[18]),
            ),
        },
    )


def _fast_fetch(line: bytes) -> Fetch | None:
    """A FETCH line of the usual shape, or None to let the general path handle it."""
    m = _LISTING_LINE.match(line)
    if m is not None:
        return _listing_fetch(m.groups())
    head = _FETCH_HEAD.match(line)
    if head is None:
        return None
    items: dict[str, Any] = {}
    pos = head.end()
    size = len(line)
    while pos < size:
        entry = _FAST_ITEMS.get(line[pos])
        if entry is None:
            return None
        pattern, name = entry
        m = pattern.match(line, pos)
        if m is None:
            return None
        if name == "ENVELOPE":
            g = m.groups()
            items[name] = make_envelope(
                _fast_nstring(g[0], g[1]),
                _fast_nstring(g[2], g[3]),
                _fast_addresses(g[4]),
                _fast_addresses(g[5]),
                _fast_addresses(g[6]),
                _fast_addresses(g[7]),
                _fast_addresses(g[8]),
                _fast_addresses(g[9]),
                _fast_nstring(g[10], g[11]),
                _fast_nstring(g[12], g[13]),
            )
        elif name == "FLAGS":
            items[name] = _flags(m.group(1))
        elif name == "INTERNALDATE":
            items[name] = parse_internal_date(m.group(1))
        else:
            items[name] = int(m.group(1))
        if m.end() == size:
            return Fetch(int(head.group(1)), items)
        pos = m.end()
    return None


# ---------------------------------------------------------------- framing


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
            if not self._segments and self._line_complete():
                # The listing's lines are matched in place, with no copy of each line.
                snap = self._snapshot
                if snap is None:
                    snap = self._snapshot = bytes(self._buf)
                if snap.startswith(b"* ", self._pos):
                    listing = _LISTING_IN_BUFFER.match(snap, self._pos)
                    if listing is not None:
                        self._pos = listing.end()
                        self._scan_from = 0
                        self._compact()
                        return _listing_fetch(listing.groups())
                    split = self._listing_with_subject_literal(snap)
                    if split is not None:
                        return split
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

    def _listing_with_subject_literal(self, snap: bytes) -> Fetch | None:
        head = _LISTING_HEAD_LITERAL.match(snap, self._pos)
        if head is None:
            return None
        size = int(head.group(8))
        if size > self.stream_threshold:
            return None  # the general path streams it
        start = head.end()
        end = start + size
        tail = _LISTING_TAIL.match(snap, end)
        if tail is None:  # not all here yet, or not the usual shape: the general path decides
            return None
        self._pos = tail.end()
        self._scan_from = 0
        self._compact()
        return _listing_fetch((*head.groups()[:7], None, None, *tail.groups()), snap[start:end])

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
