"""The DATA stream: a message's bytes, dot-stuffed, in the pieces they were read in.

smtplib's ``data()`` takes the whole message as one bytes object (and copies it while
normalising line ends): a 30 MB attachment would be held two or three times over. Here the
message comes from a file in chunks and goes to the socket in chunks; only the transparency
rule of RFC 5321 section 4.5.2 (a line that starts with "." gets one more) is applied, which
needs one byte of memory across chunks. Line ends are CRLF already: the spool
(:mod:`o365imap.smtp._spool`) wrote the message that way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["CHUNK", "dot_stuffed"]

CHUNK = 256 * 1024
_END = b".\r\n"


def dot_stuffed(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The DATA bytes for ``chunks``, ending with the lone "." line that ends the message."""
    at_line_start = True
    last = b"\n"
    for chunk in chunks:
        if not chunk:
            continue
        stuffed = chunk.replace(b"\n.", b"\n..")
        if at_line_start and chunk[:1] == b".":
            stuffed = b"." + stuffed
        yield stuffed
        last = chunk[-1:]
        at_line_start = last == b"\n"
    # A message not ending in CRLF still needs one before the terminating dot.
    yield _END if last == b"\n" else b"\r\n" + _END
