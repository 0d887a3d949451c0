"""The DATA stream: dot-stuffing across chunk boundaries (RFC 5321 section 4.5.2)."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from o365imap.smtp._data import dot_stuffed


def _unstuff(data: bytes) -> bytes:
    """What a server stores: the terminator gone, one leading dot per line removed."""
    assert data == b".\r\n" or data.endswith(b"\r\n.\r\n")
    if data == b".\r\n":
        return b""
    lines = data[: -len(b".\r\n")].split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


lines = st.lists(st.sampled_from([b"", b".", b"..", b".x", b"a.b", b"text", b". "]), max_size=30)


@given(lines, st.lists(st.integers(min_value=0, max_value=400), max_size=12))
def test_any_chunking_gives_the_same_stream_and_the_server_gets_the_message_back(
    parts: list[bytes], cuts: list[int]
) -> None:
    message = b"".join(line + b"\r\n" for line in parts)
    whole = b"".join(dot_stuffed([message]))
    assert b"".join(dot_stuffed(_chunked(message, cuts))) == whole
    assert _unstuff(whole) == message
    # no line of the stream before the end is a lone "."
    assert b"\r\n.\r\n" not in whole[:-3]
    assert not whole.startswith(b".\r\n") or message == b""


def test_a_message_without_a_final_line_end_gets_one_before_the_dot() -> None:
    assert b"".join(dot_stuffed([b"abc"])) == b"abc\r\n.\r\n"
    assert b"".join(dot_stuffed([b".abc\r\n", b".x"])) == b"..abc\r\n..x\r\n.\r\n"


def test_an_empty_message_is_only_the_terminator() -> None:
    assert b"".join(dot_stuffed([])) == b".\r\n"
