"""Bytes to values: the general IMAP tokenizer (RFC 3501 section 9, the formal syntax).

What this module owns: turning the text of a response (line segments, with the literals between
them already taken out by the framing in ``parser``) into nested lists of atoms, strings and
NIL, and the one check on every number a server sends (``parse_number``). It knows nothing of
buffering, literals in flight or events.

Why the tokenizer looks the way it does: it is ``re.findall`` over the line, linear in its
length whatever the line holds, plus a small stack machine; never a byte-at-a-time loop. Lines
of the listing's usual shape do not come here at all: ``listing`` takes them in one match each,
and the tests check that both give the same values.
"""

from __future__ import annotations

import re
from typing import Any

from o365imap.errors import ProtocolError
from o365imap.protocol.decode import MAX_NUMBER_DIGITS

__all__ = [
    "MAX_NESTING",
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
