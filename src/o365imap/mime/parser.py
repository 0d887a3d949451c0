"""A streaming MIME parser for whole messages (RFC 2045, RFC 2046), sans I/O.

What this module owns: the state machine that reads a message's header blocks and routes its
body bytes, line by line, to the part they belong to (delimiters, nesting, encapsulated
messages). The events it makes are in ``events``; what a part's header block says (its type,
parameters, boundary, number) is worked out in ``headers``.

The rule this module keeps: bytes go in (``feed``, in chunks of any size), events come out
(``PartStart``, ``PartData`` already transfer-decoded, ``PartEnd``), and memory stays bounded
whatever the size of a part: the parser holds one header block (at most ``max_header_bytes``)
or one candidate delimiter line (at most a few KiB), never a body. Feeding a message whole, one
byte at a time, or in random chunks gives the same events once adjacent ``PartData`` of a part
are joined.

Part numbers are IMAP's (RFC 3501 section 6.4.5), as ``o365imap.protocol.decode.body_structure``
gives them: a multipart message's root is ``""`` and its children ``1``, ``2``, ``2.1`` ...; a
single-part message's root is ``1``; a message/rfc822 part ``X`` has the encapsulated message as
its child: a multipart body shares the number ``X`` (at one level deeper), a single part is
``X.1``. A message/rfc822 part's own ``PartData`` is the encapsulated message as raw bytes (to
save it as ``.eml``); the events of its parts follow. Multipart containers have no data.

What real messages get wrong, and what this parser does about it:

* The same boundary on an inner and an outer multipart: a delimiter line belongs to the
  innermost open multipart that uses it, and a multipart leaves the stack at its close
  delimiter, so the outer one gets the lines after that (Python's ``email`` loses parts here).
* A boundary that is the prefix of another (``X`` and ``X_alt``): delimiter lines are compared
  whole (trailing whitespace allowed), never by prefix.
* Unquoted boundaries with ``=`` in them, 8-bit bytes in headers, RFC 2231 and RFC 2047 in
  parameters: see ``headers.split_header_params`` and ``o365imap.protocol.text.decode_params``.
* A missing close delimiter: the part ends at the end of the input, or at a delimiter of an
  outer multipart (which closes every inner one); ``PartEnd.complete`` says so.
* LF-only line endings, header blocks that end without a blank line (at a delimiter or at a
  line that is not a header), an mbox ``From`` line before the headers, a header block larger
  than the cap (the rest is read as body).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from o365imap.errors import UsageError
from o365imap.mime.events import MimeEvent, PartData, PartEnd, PartStart
from o365imap.mime.headers import _FIELD, part_start, split_header_params
from o365imap.mime.transfer import IdentityDecoder, TransferDecoder, decoder_for

# The events and split_header_params live in events and headers; importers of mime.parser
# from before the split still find them here.
__all__ = [
    "MAX_DEPTH",
    "MAX_HEADER_BYTES",
    "MimeEvent",
    "MimeParser",
    "PartData",
    "PartEnd",
    "PartStart",
    "iter_events",
    "split_header_params",
]

MAX_HEADER_BYTES = 1 << 20  # one header block; beyond this the rest is read as the body
MAX_DEPTH = 64  # nesting of multiparts and messages; deeper ones are opaque leaves
_MAX_DELIMITER_LINE = 4096  # a delimiter line with transport padding; longer lines are data


# ---------------------------------------------------------------- parser state


class _Multipart:
    """An open multipart: its delimiter and how many children it has had."""

    __slots__ = ("children", "delimiter", "depth", "digest", "part")

    def __init__(self, part: str, depth: int, delimiter: bytes, digest: bool) -> None:
        self.part = part
        self.depth = depth
        self.delimiter = delimiter
        self.digest = digest
        self.children = 0


class _Leaf:
    """A part whose body is being read: a plain part, or a message/rfc822 with its parser."""

    __slots__ = ("child", "decoder", "depth", "encoded_size", "part", "size", "transparent")

    def __init__(
        self, part: str, depth: int, decoder: TransferDecoder, child: MimeParser | None
    ) -> None:
        self.part = part
        self.depth = depth
        self.decoder = decoder
        self.child = child
        # The child parser sees our raw bytes: a delimiter line it claims is its own.
        self.transparent = isinstance(decoder, IdentityDecoder)
        self.size = 0
        self.encoded_size = 0


_HEADERS = 0
_BODY = 1


class MimeParser:
    """Bytes of one message in, events out; see the module docstring.

    ``feed(data)`` returns the events those bytes complete; ``close()`` returns the rest (parts
    still open end there). Never raises on malformed input.
    """

    def __init__(self, *, max_header_bytes: int = MAX_HEADER_BYTES) -> None:
        self._setup("", 0, max_header_bytes)

    @classmethod
    def _nested(cls, prefix: str, depth: int, max_header_bytes: int) -> MimeParser:
        """The parser of an encapsulated message, numbering its parts under ``prefix``."""
        parser = cls.__new__(cls)
        parser._setup(prefix, depth, max_header_bytes)
        return parser

    def _setup(self, prefix: str, depth: int, max_header_bytes: int) -> None:
        self._prefix = prefix
        self._max_header = max_header_bytes
        self._buf = b""
        self._pos = 0
        self._eof = False
        self._closed = False
        self._events: list[MimeEvent] = []
        self._open: list[_Multipart | _Leaf] = []
        self._multiparts = 0  # how many of self._open are multiparts
        self._state = _HEADERS
        # The header block being read, and the entity it belongs to (None: the root, numbered
        # once its type is known).
        self._fields: list[tuple[bytes, bytearray]] = []
        self._header_bytes = 0
        self._first_line = True
        self._entity_part: str | None = None
        self._entity_depth = depth
        self._entity_default = "text/plain"
        # Body scanning: at the start of a line, and the line break before it, which belongs to
        # the delimiter if the line is one (RFC 2046 section 5.1.1) and to the data otherwise.
        self._line_start = True
        self._pending_newline = b""
        # The held line break was given to the encapsulated message already (_hold_newline).
        self._newline_passed = False
        # An encapsulated message's parser: the outer parser may take back its last line break.
        self._nested_parser = bool(prefix)

    # ------------------------------------------------------------ public

    def feed(self, data: bytes) -> list[MimeEvent]:
        """Parse more bytes; the events they complete."""
        if self._closed:
            raise UsageError("MimeParser.feed() after close()")
        if data:
            if self._pos < len(self._buf):
                self._buf = self._buf[self._pos :] + data
            else:
                self._buf = bytes(data)
            self._pos = 0
            self._run()
        return self._take()

    def close(self) -> list[MimeEvent]:
        """The end of the input: the remaining events; every open part ends."""
        return self._close(b"")

    def _close(self, trailing: bytes) -> list[MimeEvent]:
        """End of input; ``trailing`` is a line break this parser was given early that turned
        out to belong to the outer parser's delimiter: it is not content."""
        if self._closed:
            return []
        if (
            trailing
            and self._buf.endswith(trailing)
            and len(self._buf) - self._pos >= len(trailing)
        ):
            self._buf = self._buf[: len(self._buf) - len(trailing)]
        self._eof = True
        self._run()
        if self._state == _HEADERS:
            self._begin_entity()
        if self._pending_newline:
            self._data(b"")
        while self._open:
            node = self._open.pop()
            if isinstance(node, _Multipart):
                self._end(node, complete=False)
            else:  # a part runs to the end of the input only outside any multipart
                self._end(node, complete=self._multiparts == 0)
        self._closed = True
        self._buf = b""
        self._pos = 0
        return self._take()

    def _take(self) -> list[MimeEvent]:
        events, self._events = self._events, []
        return events

    def _run(self) -> None:
        while self._read_headers() if self._state == _HEADERS else self._read_body():
            pass

    # ------------------------------------------------------------ headers

    def _read_headers(self) -> bool:
        """Read header lines; True once the block is over (the state changed)."""
        buf, pos, end = self._buf, self._pos, len(self._buf)
        while True:
            newline = buf.find(b"\n", pos)
            if newline != -1:
                line_end = newline + 1
            elif pos < end and self._eof:
                line_end = end
            else:
                if self._eof or self._header_bytes + (end - pos) > self._max_header:
                    self._pos = pos
                    self._begin_entity()
                    return True
                self._pos = pos
                return False
            if self._header_bytes + (line_end - pos) > self._max_header:
                self._pos = pos  # too big to be a header block: the rest is the body
                self._begin_entity()
                return True
            content = buf[pos:line_end].rstrip(b"\r\n")
            if not content:  # the blank line that ends the block
                self._pos = line_end
                self._begin_entity()
                return True
            if content[0] in (0x20, 0x09):
                if self._fields:  # folded (RFC 5322 2.2.3): unfolding drops only the CRLF
                    self._fields[-1][1].extend(content)
            elif (
                self._multiparts
                and content.startswith(b"--")
                and self._match(content.rstrip()) is not None
            ):
                self._pos = pos  # a delimiter before any blank line: a part with no body
                self._begin_entity()
                return True
            elif not (self._first_line and self._entity_part is None and content[:5] == b"From "):
                field = _FIELD.match(content)
                if field is None:  # not a header: the block ended without its blank line
                    self._pos = pos
                    self._begin_entity()
                    return True
                self._fields.append((field.group(1), bytearray(field.group(2))))
            # (an mbox "From " line before the first header is skipped)
            self._first_line = False
            self._header_bytes += line_end - pos
            pos = line_end

    def _begin_entity(self) -> None:
        """The header block is complete: announce the part and get ready for its body."""
        fields = [(name, bytes(value).strip()) for name, value in self._fields]
        self._fields = []
        self._header_bytes = 0
        self._first_line = False
        depth = self._entity_depth
        start, boundary = part_start(
            fields,
            part=self._entity_part,
            prefix=self._prefix,
            depth=depth,
            default_type=self._entity_default,
            may_nest=depth < MAX_DEPTH,
        )
        self._events.append(start)
        if boundary is not None:
            digest = start.content_type == "multipart/digest"
            self._open.append(_Multipart(start.part, depth, b"--" + boundary, digest))
            self._multiparts += 1
        else:
            child = None
            if start.is_message and depth < MAX_DEPTH:
                child = MimeParser._nested(start.part, depth + 1, self._max_header)
            self._open.append(_Leaf(start.part, depth, decoder_for(start.encoding), child))
        self._state = _BODY
        self._line_start = True
        self._pending_newline, self._newline_passed = b"", False

    # ------------------------------------------------------------ bodies

    def _read_body(self) -> bool:
        """Route body bytes; True when a delimiter changed the state."""
        buf, pos, end = self._buf, self._pos, len(self._buf)
        if not self._multiparts:  # no delimiter of ours can come: everything is this part's
            # ...but a final line break may belong to the outer parser's delimiter.
            hold = _hold_point(buf, pos, end) if self._nested_parser and not self._eof else end
            if pos < hold:
                self._data(buf if pos == 0 and hold == end else buf[pos:hold])
                self._pos = hold
            return False
        while True:
            if self._line_start:
                if pos >= end:
                    break
                if buf.startswith(b"--", pos):
                    newline = buf.find(b"\n", pos)
                    if newline != -1:
                        line_end = newline + 1
                    elif self._eof:
                        line_end = end
                    elif end - pos <= _MAX_DELIMITER_LINE:
                        break  # wait for the rest of the line
                    else:
                        line_end = -1  # too long to be a delimiter line
                    if line_end != -1:
                        hit = self._match(buf[pos:line_end].rstrip())
                        if hit is not None:
                            self._pos = line_end
                            self._on_delimiter(*hit)
                            return True
                elif buf[pos] == 0x2D and end - pos < 2 and not self._eof:
                    break  # a lone '-': the next byte decides
                self._line_start = False
            newline = buf.find(b"\n--", pos)
            if newline == -1:
                hold = end if self._eof else _hold_point(buf, pos, end)
                if hold > pos:
                    self._data(buf[pos:hold])
                    pos = hold
                break
            cut = newline - 1 if newline > pos and buf[newline - 1] == 0x0D else newline
            self._data(buf[pos:cut])
            self._hold_newline(buf[cut : newline + 1])
            pos = newline + 1
            self._line_start = True
        self._pos = pos
        return False

    def _match(self, line: bytes) -> tuple[int, bool] | None:
        """(index in self._open, is-close) of the multipart whose delimiter ``line`` is."""
        top = self._open[-1] if self._open else None
        if (
            isinstance(top, _Leaf)
            and top.child is not None
            and top.transparent
            and top.child._claims(line)
        ):
            return None  # the encapsulated message has an open multipart with this boundary
        for index in range(len(self._open) - 1, -1, -1):
            node = self._open[index]
            if isinstance(node, _Multipart):
                delimiter = node.delimiter
                if line == delimiter:
                    return index, False
                if (
                    len(line) == len(delimiter) + 2
                    and line.startswith(delimiter)
                    and line.endswith(b"--")
                ):
                    return index, True
        return None

    def _claims(self, line: bytes) -> bool:
        """Whether one of this parser's open multiparts (at any depth) uses ``line``.

        Exact, because an encapsulated message is given every byte at once, the held line
        break before a candidate line included (see ``_hold_newline``)."""
        for node in self._open:
            if isinstance(node, _Multipart) and line in (node.delimiter, node.delimiter + b"--"):
                return True
        top = self._open[-1] if self._open else None
        return (
            isinstance(top, _Leaf)
            and top.child is not None
            and top.transparent
            and top.child._claims(line)
        )

    def _hold_newline(self, newline: bytes) -> None:
        """Hold the line break before a line that may be a delimiter (RFC 2046 5.1.1: if it
        is one, the break belongs to it). An encapsulated message is given the break at once,
        so that its own state is exact when ``_match`` asks it whether the line is its own; it
        is told to drop the break if the line turns out to be ours."""
        self._pending_newline = newline
        top = self._open[-1] if self._open else None
        self._newline_passed = isinstance(top, _Leaf) and top.child is not None and top.transparent
        if self._newline_passed:
            assert isinstance(top, _Leaf) and top.child is not None
            self._events.extend(top.child.feed(newline))

    def _on_delimiter(self, index: int, closing: bool) -> None:
        dropped = self._pending_newline if self._newline_passed else b""
        self._pending_newline, self._newline_passed = b"", False
        while len(self._open) > index + 1:  # a delimiter further out ends every inner part
            node = self._open.pop()
            self._end(node, complete=isinstance(node, _Leaf), trailing=dropped)
            dropped = b""
        multipart = self._open[index]
        assert isinstance(multipart, _Multipart)
        if closing:
            self._open.pop()
            self._end(multipart, complete=True)
            self._line_start = True  # what follows is the epilogue, until an outer delimiter
            return
        multipart.children += 1
        number = multipart.children
        self._entity_part = f"{multipart.part}.{number}" if multipart.part else str(number)
        self._entity_depth = multipart.depth + 1
        self._entity_default = "message/rfc822" if multipart.digest else "text/plain"
        self._state = _HEADERS

    def _data(self, raw: bytes) -> None:
        """Body bytes of whatever is open: a part's, or a preamble's/epilogue's (dropped)."""
        passed = 0  # leading bytes the encapsulated message has been given already
        if self._pending_newline:
            if self._newline_passed:
                passed = len(self._pending_newline)
            raw = self._pending_newline + raw
            self._pending_newline, self._newline_passed = b"", False
        if not raw or not self._open:
            return
        top = self._open[-1]
        if isinstance(top, _Leaf):
            top.encoded_size += len(raw)
            decoded = top.decoder.feed(raw)
            if decoded:
                self._emit(top, decoded, passed)

    def _emit(self, leaf: _Leaf, data: bytes, passed: int = 0) -> None:
        leaf.size += len(data)
        self._events.append(PartData(leaf.part, data))
        if leaf.child is not None and len(data) > passed:
            self._events.extend(leaf.child.feed(data[passed:] if passed else data))

    def _end(self, node: _Multipart | _Leaf, *, complete: bool, trailing: bytes = b"") -> None:
        if isinstance(node, _Multipart):
            self._multiparts -= 1
            self._events.append(PartEnd(node.part, node.depth, 0, complete))
            return
        rest = node.decoder.flush()
        if rest:
            self._emit(node, rest)
        if node.child is not None:
            self._events.extend(node.child._close(trailing))
        self._events.append(PartEnd(node.part, node.depth, node.size, complete, node.encoded_size))


def _hold_point(buf: bytes, pos: int, end: int) -> int:
    """Where to stop handing out body bytes: before a line break at the very end (it may be
    the start of a delimiter: "\\r", "\\n", "\\r\\n", "\\n-")."""
    newline = buf.rfind(b"\n", max(pos, end - 2), end)
    if newline != -1:
        return newline - 1 if newline > pos and buf[newline - 1] == 0x0D else newline
    if end > pos and buf[end - 1] == 0x0D:
        return end - 1
    return end


def iter_events(
    chunks: Iterable[bytes], *, max_header_bytes: int = MAX_HEADER_BYTES
) -> Iterator[MimeEvent]:
    """The events of a message given as an iterable of byte chunks (a file read in blocks)."""
    parser = MimeParser(max_header_bytes=max_header_bytes)
    for chunk in chunks:
        yield from parser.feed(chunk)
    yield from parser.close()
