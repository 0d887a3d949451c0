"""What each fuzz target checks, for atheris (fuzz/harness.py) and hypothesis (tests/test_fuzz.py).

One function per area takes arbitrary bytes and the offsets at which to cut them, and fails
(an exception other than the documented one, or an AssertionError) only on a finding:

* ``imap``: ``ResponseParser`` raises nothing but ``ProtocolError`` (o365imap.errors: "the
  server sent something that is not IMAP"), and the bytes fed whole and cut give the same
  events, the same error or none.
* ``text``: ``decode_2047``, ``decode_bytes`` and ``decode_params`` "never raise" and never
  return lone surrogates (protocol/text.py).
* ``dates``: ``parse_header_date`` and ``parse_internal_date`` return an aware datetime or None
  and never raise.
* ``utf7``: ``decode_utf7`` never raises, and what it returns encodes and decodes back to itself.
* ``mime``: ``MimeParser`` "never raises on malformed input", keeps its event grammar, and gives
  the same events (data joined per part) whole and cut.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

# The event grammar check of the MIME tests is the one to hold the parser to.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fixtures_imap import merge_literal_chunks
from mime_samples import canonical
from o365imap.errors import ProtocolError
from o365imap.mime.parser import MimeParser, split_header_params
from o365imap.protocol.events import Event
from o365imap.protocol.parser import ResponseParser
from o365imap.protocol.text import (
    decode_2047,
    decode_bytes,
    decode_params,
    parse_header_date,
    parse_internal_date,
)
from o365imap.protocol.utf7 import decode_utf7, encode_utf7

__all__ = ["TARGETS", "chunks", "cuts_from"]


def chunks(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    """``data`` cut at ``cuts`` (any order, out-of-range offsets ignored)."""
    points = sorted({c for c in cuts if 0 < c < len(data)})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def cuts_from(data: bytes) -> list[int]:
    """Cut points derived from the input itself, for atheris, which hands out one byte string:
    every k bytes, k from 1 to 64 picked by the first byte, so coverage guidance explores
    byte-at-a-time feeding as much as larger reads."""
    if not data:
        return []
    step = 1 + data[0] % 64
    return list(range(step, len(data), step))


def _parse_responses(pieces: list[bytes]) -> tuple[list[Event], str | None]:
    """The events of ``pieces`` fed in turn, and the ProtocolError that stopped them, if any."""
    # A small streaming threshold, so that short fuzz inputs reach the streamed-literal code.
    parser = ResponseParser(stream_threshold=64, max_line=1 << 16)
    events: list[Event] = []
    try:
        for piece in pieces:
            parser.feed(piece)
            # next_event() one at a time: events() would drop those before an error.
            while (event := parser.next_event()) is not None:
                events.append(event)
    except ProtocolError as exc:
        return merge_literal_chunks(events), str(exc)
    return merge_literal_chunks(events), None


def check_imap(data: bytes, cuts: Sequence[int]) -> None:
    whole = _parse_responses([data])
    cut = _parse_responses(chunks(data, cuts))
    assert cut == whole, f"whole: {whole!r}\ncut at {sorted(cuts)}: {cut!r}"


def _no_surrogates(text: str) -> None:
    assert isinstance(text, str)
    text.encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate


def check_text(data: bytes, cuts: Sequence[int]) -> None:
    _no_surrogates(decode_2047(data))
    # The first line names a charset for decode_bytes; the rest is the text.
    label, _, rest = data.partition(b"\n")
    _no_surrogates(decode_bytes(rest, label.decode("latin-1")))
    _no_surrogates(decode_bytes(data))
    # As a Content-Type/Content-Disposition value: RFC 2231 continuations, charsets, 2047.
    _, pairs = split_header_params(data)
    params = decode_params(pairs)
    for name, value in params.items():
        _no_surrogates(name)
        _no_surrogates(value)


def check_dates(data: bytes, cuts: Sequence[int]) -> None:
    for parse in (parse_header_date, parse_internal_date):
        value = parse(data)
        assert value is None or (isinstance(value, datetime) and value.tzinfo is not None), value


def check_utf7(data: bytes, cuts: Sequence[int]) -> None:
    name = decode_utf7(data)
    _no_surrogates(name)
    assert decode_utf7(encode_utf7(name)) == name, name


def _parse_mime(pieces: list[bytes]) -> list[tuple[object, ...]]:
    parser = MimeParser(max_header_bytes=4096)  # small, so that short inputs reach the cap
    events: list[object] = []
    for piece in pieces:
        events += parser.feed(piece)
    events += parser.close()
    return canonical(events)


def check_mime(data: bytes, cuts: Sequence[int]) -> None:
    whole = _parse_mime([data])
    cut = _parse_mime(chunks(data, cuts))
    assert cut == whole, f"cut at {sorted(cuts)}"


TARGETS: dict[str, Callable[[bytes, Sequence[int]], None]] = {
    "imap": check_imap,
    "text": check_text,
    "dates": check_dates,
    "utf7": check_utf7,
    "mime": check_mime,
}
