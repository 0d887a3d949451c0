"""The fast path for FETCH lines of the usual shape: whole items in one C-level match.

What this module owns: the compiled patterns for the listing's own request (UID, FLAGS,
RFC822.SIZE, INTERNALDATE, ENVELOPE, in the order Dovecot and Exchange answer it), matched
straight from the read buffer, with or without a subject sent as a literal; the per-item patterns
for other FETCH lines without literals; and the caches (flag lists, addresses) that make
decoding a listing cheap.

Why it exists: a listing parses tens of thousands of FETCH lines per second, and a regular
expression that takes a whole ENVELOPE or address list at once beats any tokenizer written in
Python. Anything it does not recognise returns None and goes to the general tokenizer
(``lexer``); both feed the same decoders (``decode``), and the tests check that they agree.

Everything here is private to the package: ``parser`` matches ``_LISTING_IN_BUFFER`` in its
buffer and makes the event with ``_listing_fetch``, and asks ``_listing_with_subject_literal``
and ``_fast_fetch`` about the lines that pattern does not take.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from o365imap.models import Address, AddressEntry
from o365imap.protocol.decode import (
    _ADDRESS_CACHE,
    ADDRESS_CACHED_LONGEST,
    MAX_NUMBER_DIGITS,
    _address,
    cached_address_list,
    make_envelope,
)
from o365imap.protocol.events import Fetch
from o365imap.protocol.lexer import _UNESCAPE
from o365imap.protocol.text import parse_internal_date

# A number the fast paths take; a longer run of digits leaves the line to the general path,
# which says what is wrong with it.
_NUMBER = rb"(\d{1,%d})" % MAX_NUMBER_DIGITS

_NS = rb'(?:"([^"\\]*+(?:(?:\\.|"(?=[^\s()]))[^"\\]*+)*+)"|(NIL))'
_NS_NC = rb'(?:"[^"\\]*+(?:(?:\\.|"(?=[^\s()]))[^"\\]*+)*+"|NIL)'
_ADDR = rb"\(" + _NS + rb" " + _NS + rb" " + _NS + rb" " + _NS + rb"\)"
_ADDR_NC = rb"\(" + _NS_NC + rb" " + _NS_NC + rb" " + _NS_NC + rb" " + _NS_NC + rb"\)"
_ALIST = rb"(NIL|\((?:" + _ADDR_NC + rb")+\))"
_ADDRESS = re.compile(_ADDR)
_FETCH_HEAD = re.compile(rb"\* " + _NUMBER + rb" FETCH \(")
# One pattern per item the listing asks for, chosen by the item's first letter; each must
# consume the item and the separator after it (a space, or the ')' that ends the line).
# Compiled when first needed, as ``_listing_line``: a listing matches in its buffer and
# seldom needs them, and compiling them took 3-4 ms of every connecting command's start-up.
_SEP = rb"( |\)\Z)"


@functools.cache
def _fast_items() -> dict[int, tuple[re.Pattern[bytes], str]]:
    return {
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


@functools.cache
def _listing_line() -> re.Pattern[bytes]:
    return re.compile(_LISTING_BODY + rb"\Z")  # a line without its CRLF


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


def _fast_nstring(content: bytes | None, nil: bytes | None) -> bytes | None:
    # A group of the alternative that did not match is None from groups() and b"" from findall.
    if nil or content is None:
        return None
    return _UNESCAPE.sub(rb"\1", content) if b"\\" in content else content


# Each address of a list and its fields, in one findall: (piece, name, NIL?, route, NIL?,
# mailbox, NIL?, host, NIL?).
_ADDRESS_PIECES = re.compile(rb"(" + _ADDR + rb")")
_SINGLE_CACHE: dict[bytes, Address] = {}
_PIECE_CACHED_LONGEST = 512  # bytes: a longer address is made each time (decode.py says why)


def _fast_addresses(raw: bytes) -> tuple[AddressEntry, ...]:
    """An address list from its raw bytes, through two caches.

    Whole lists repeat (Sender and Reply-To are copies of From) and single addresses repeat far
    more (the same people write to the same people): decoding each distinct address once is
    most of what makes listing fast. A new address is made straight from the fields its match
    found, as ``address_list`` would make it (the tests check they agree). Lists with group
    syntax (a NIL host) take the general decoder, which knows groups.
    """
    if raw == b"NIL":
        return ()
    found = _ADDRESS_CACHE.get(raw)
    if found is not None:
        return found
    out: list[AddressEntry] = []
    for piece, a, an, b, bn, c, cn, d, dn in _ADDRESS_PIECES.findall(raw):
        address = _SINGLE_CACHE.get(piece)
        if address is None:
            if dn:  # group syntax: let the general decoder see it all
                return _slow_addresses(raw)
            if b"\\" in piece:
                made = _address(
                    _fast_nstring(a, an),
                    _fast_nstring(b, bn),
                    _fast_nstring(c, cn),
                    _fast_nstring(d, dn),
                )
            else:  # nothing to unescape: the fields are the strings (the host is not NIL here)
                made = _address(None if an else a, None if bn else b, None if cn else c, d)
            if made is None:  # nothing the sender wrote: the general decoder drops it
                return _slow_addresses(raw)
            address = made
            if len(piece) > _PIECE_CACHED_LONGEST:
                out.append(address)
                continue
            if len(_SINGLE_CACHE) >= 16384:
                _SINGLE_CACHE.clear()
            _SINGLE_CACHE[piece] = address
        out.append(address)
    result = tuple(out)
    if len(raw) > ADDRESS_CACHED_LONGEST:
        return result
    if len(_ADDRESS_CACHE) >= 8192:
        _ADDRESS_CACHE.clear()
    _ADDRESS_CACHE[raw] = result
    return result


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
    raw_from = g[9]
    from_ = () if raw_from == b"NIL" else _fast_addresses(raw_from)
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
                from_,
                # the server copies From where the message has no Sender or Reply-To
                from_ if g[10] == raw_from else _fast_addresses(g[10]),
                from_ if g[11] == raw_from else _fast_addresses(g[11]),
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
    m = _listing_line().match(line)
    if m is not None:
        return _listing_fetch(m.groups())
    head = _FETCH_HEAD.match(line)
    if head is None:
        return None
    items: dict[str, Any] = {}
    items_by_letter = _fast_items()
    pos = head.end()
    size = len(line)
    while pos < size:
        entry = items_by_letter.get(line[pos])
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


def _listing_with_subject_literal(
    snap: bytes, pos: int, stream_threshold: int
) -> tuple[Fetch, int] | None:
    """A listing line at ``pos`` whose subject came as a literal (Dovecot folds long subjects
    so), and where it ends; None when it is not one, not all here yet, or the literal is big
    enough to stream (the general path decides then)."""
    head = _LISTING_HEAD_LITERAL.match(snap, pos)
    if head is None:
        return None
    size = int(head.group(8))
    if size > stream_threshold:
        return None  # the general path streams it
    start = head.end()
    end = start + size
    tail = _LISTING_TAIL.match(snap, end)
    if tail is None:  # not all here yet, or not the usual shape: the general path decides
        return None
    fetch = _listing_fetch((*head.groups()[:7], None, None, *tail.groups()), snap[start:end])
    return fetch, tail.end()
