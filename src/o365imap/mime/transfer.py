"""Incremental Content-Transfer-Encoding decoders (RFC 2045 section 6).

The rule this module keeps: a decoder fed a stream in chunks split anywhere (mid-quartet,
mid ``=XX``, mid soft line break, between CR and LF) returns exactly the bytes the one-shot
stdlib decoder returns for the whole stream, and holds back at most one line.

The one-shot references are ``binascii.a2b_base64`` in its lenient mode (what
``base64.b64decode`` and the ``email`` package use) and ``binascii.a2b_qp`` (what
``quopri.decodestring`` uses), including their tolerance: characters outside the base64
alphabet are skipped, decoding stops at the padding that ends the data, missing padding is
forgiven (where the one-shot decoder would raise, ``flush`` returns what it had decoded so far),
and QP escapes that are not escapes pass through as written.

Speed comes from handing whole runs of lines to binascii: Python code only looks at the edges
of each chunk, never at every byte.
"""

from __future__ import annotations

import binascii
import re
from typing import Protocol

__all__ = [
    "Base64Decoder",
    "IdentityDecoder",
    "QuotedPrintableDecoder",
    "TransferDecoder",
    "decoder_for",
]

_a2b_base64 = binascii.a2b_base64
_a2b_qp = binascii.a2b_qp

_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
# Everything a lenient decoder skips: whitespace, line breaks, and junk (but not the pad '=').
_B64_JUNK = bytes(b for b in range(256) if b not in _B64_ALPHABET and b != ord("="))


class TransferDecoder(Protocol):
    """What the parser and the savers need from a decoder."""

    def feed(self, chunk: bytes) -> bytes:
        """Decoded bytes for as much of the stream as can be decoded so far."""
        ...

    def flush(self) -> bytes:
        """The rest, at the end of the stream; the decoder is then ready for a new stream."""
        ...


class IdentityDecoder:
    """7bit, 8bit, binary, and any encoding we do not know: the bytes as they are.

    An unknown encoding is passed through rather than refused: the user gets the bytes the
    sender wrote, which is what every mail client does.
    """

    __slots__ = ()

    def feed(self, chunk: bytes) -> bytes:
        return chunk

    def flush(self) -> bytes:
        return b""


class Base64Decoder:
    """Base64 (RFC 2045 section 6.8), incremental, as lenient as ``base64.b64decode``.

    Fast path: a chunk without ``=`` is cut after its last line break; if that run holds whole
    quartets (it does for every encoder that writes lines of 76 or 64 characters), binascii
    decodes it in place and the partial last line waits for the next chunk. Otherwise (odd line
    lengths, padding, one endless line) the chunk is cleaned of non-alphabet bytes with one
    ``bytes.translate`` and decoded in whole quartets; the fast path is then abandoned for the
    stream, because a stream with odd line lengths would miss it every time.
    """

    __slots__ = ("_done", "_fast", "_pads", "_tail")

    def __init__(self) -> None:
        # Undecoded input: raw bytes of a partial line (fast path, never contains '='), or
        # fewer than four alphabet characters (general path).
        self._tail = b""
        # Pad characters seen since 2 or 3 characters of a quartet were pending: binascii ends
        # the data once the quartet and its pads add up to four.
        self._pads = 0
        self._done = False
        self._fast = True

    def feed(self, chunk: bytes) -> bytes:
        if self._done or not chunk:
            return b""
        if self._fast and not self._pads and b"=" not in chunk:
            cut = chunk.rfind(b"\n") + 1
            if cut:
                head: bytes | memoryview
                if self._tail:
                    head = b"".join((self._tail, memoryview(chunk)[:cut]))
                else:
                    head = memoryview(chunk)[:cut]
                try:
                    out = _a2b_base64(head)
                except binascii.Error:
                    # Lines that are not whole quartets: this stream takes the general path.
                    self._fast = False
                else:
                    self._tail = chunk[cut:]
                    return out
        return self._feed_general(chunk)

    def _feed_general(self, chunk: bytes) -> bytes:
        # The tail's characters were counted already: only new ones may reset the pad count.
        pending = self._tail.translate(None, _B64_JUNK) if self._tail else b""
        data = chunk.translate(None, _B64_JUNK)
        self._tail = b""
        out = bytearray()
        whole = len(pending) - len(pending) % 4  # a fast-path tail can hold whole quartets
        if whole:
            out += _a2b_base64(pending[:whole])
            pending = pending[whole:]
        for index, segment in enumerate(data.split(b"=")):
            if index:  # a pad character came before this segment
                count = len(pending)
                if count >= 2:
                    self._pads += 1
                    if count + self._pads >= 4:
                        out += _a2b_base64(pending + b"=" * (4 - count))
                        self._done = True
                        return bytes(out)
            if segment:
                self._pads = 0
                pending = pending + segment if pending else segment
                whole = len(pending) - len(pending) % 4
                if whole:
                    out += _a2b_base64(memoryview(pending)[:whole])
                    pending = pending[whole:]
        self._tail = pending
        return bytes(out)

    def flush(self) -> bytes:
        tail = self._tail.translate(None, _B64_JUNK)
        done = self._done
        self._tail, self._pads, self._done, self._fast = b"", 0, False, True
        if done or not tail:
            return b""
        whole = len(tail) - len(tail) % 4
        out = _a2b_base64(tail[:whole]) if whole else b""
        rest = len(tail) - whole
        if rest >= 2:  # missing padding: decode what the characters hold
            out += _a2b_base64(tail[whole:] + b"=" * (4 - rest))
        return out  # a single leftover character holds no whole byte: dropped, as binascii would


# One QP escape as binascii reads it, from a position where it is not inside another escape:
# "==" (a literal '='), "=\r" (soft break: everything up to the next LF goes), "=XX", lone "=".
_QP_ESCAPE = re.compile(rb"=(?:=|\r|[0-9A-Fa-f]{2})?")


class QuotedPrintableDecoder:
    """Quoted-printable (RFC 2045 section 6.7), incremental, exactly as ``quopri.decodestring``.

    A position just after a line feed is always outside any escape (a soft line break ends at
    its LF, and no escape reaches past one), so each chunk is cut after its last LF and the run
    goes to binascii whole. A line longer than ``max_line`` is cut inside, at a point found by
    reading its escapes; that is the only slow path, for pathological input.
    """

    __slots__ = ("_max_line", "_skipping", "_tail")

    def __init__(self, *, max_line: int = 64 * 1024) -> None:
        self._tail = b""
        self._skipping = False  # inside "=\r...": binascii drops everything up to the next LF
        self._max_line = max_line

    def feed(self, chunk: bytes) -> bytes:
        if self._skipping:
            newline = chunk.find(b"\n")
            if newline == -1:
                return b""
            chunk = chunk[newline + 1 :]
            self._skipping = False
        data = self._tail + chunk if self._tail else chunk
        cut = data.rfind(b"\n") + 1
        if cut == len(data):
            self._tail = b""
            return _a2b_qp(data) if data else b""
        out = _a2b_qp(memoryview(data)[:cut]) if cut else b""
        rest = data[cut:]
        if len(rest) > self._max_line:
            decoded, rest = self._split_long_line(rest)
            out += decoded
        self._tail = rest
        return out

    def _split_long_line(self, line: bytes) -> tuple[bytes, bytes]:
        """Decode what can be decoded of a line with no LF yet; return it and the rest."""
        cut = len(line)
        last: re.Match[bytes] | None = None
        for match in _QP_ESCAPE.finditer(line):
            if match.group() == b"=\r":
                self._skipping = True  # the rest of this line is gone, as binascii would do
                return _a2b_qp(line[: match.start()]), b""
            last = match
        if last is not None and last.end() - last.start() == 1 and last.start() >= cut - 2:
            cut = last.start()  # "=" or "=X" at the end: what follows decides what it means
        return _a2b_qp(line[:cut]), line[cut:]

    def flush(self) -> bytes:
        tail, self._tail, self._skipping = self._tail, b"", False
        return _a2b_qp(tail) if tail else b""


_IDENTITY = IdentityDecoder()


def decoder_for(encoding: str | None) -> TransferDecoder:
    """A fresh decoder for a Content-Transfer-Encoding value; identity for anything else.

    7bit, 8bit, binary, a missing header and unknown tokens (``x-uuencode``, typos) all pass
    the bytes through unchanged.
    """
    name = (encoding or "").strip().strip("\"'").lower()
    if name == "base64":
        return Base64Decoder()
    if name == "quoted-printable":
        return QuotedPrintableDecoder()
    return _IDENTITY
