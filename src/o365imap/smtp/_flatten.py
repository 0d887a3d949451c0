"""An ``email.message.Message`` written to a binary file as it goes, part by part.

The standard library's BytesGenerator renders every part into a buffer of its own before
writing it (to choose a boundary that the finished text does not contain, and to fix headers
after the body), and splits each payload into a list of lines: a 30 MB attachment is held
three or four times over while the message is written. Here each part's headers are written
as the generator writes them (the message's own policy folds them, with CRLF), then its
payload in slices of a megabyte, so that writing costs a slice of memory beyond the message
the caller already holds. The boundary is the message's own or a random one of 128 bits, set
on the message as the generator does; a text cannot contain it by chance.

For a message whose multiparts have their boundaries, the bytes are the generator's
(``BytesGenerator(fp, mangle_from_=False, policy=policy.clone(linesep="\\r\\n"))``):
tests/test_smtp_flatten.py compares them.
"""

from __future__ import annotations

import re
import uuid
from email.message import Message
from typing import BinaryIO

__all__ = ["flatten"]

_SLICE = 1 << 20
_NEWLINES = re.compile(r"\r\n|\r|\n")
_CRLF = b"\r\n"


def flatten(message: Message, out: BinaryIO) -> None:
    """Write ``message`` to ``out`` with CRLF line ends."""
    policy = message.policy.clone(linesep="\r\n")
    _write(message, out, policy)


def _write(part: Message, out: BinaryIO, policy: object) -> None:
    # the payload as stored, as the generator reads it: get_payload() would scan (and copy)
    # a whole attachment's text for surrogates first
    payload = vars(part).get("_payload")
    multipart = part.get_content_maintype() == "multipart" and isinstance(payload, list)
    if multipart and not part.get_boundary():
        part.set_boundary(f"==={uuid.uuid4().hex}==")
    _headers(part, out, policy)
    if multipart:
        assert isinstance(payload, list)
        boundary = str(part.get_boundary()).encode("ascii", "surrogateescape")
        if part.preamble is not None:
            _lines(part.preamble, out)
            out.write(_CRLF)
        out.write(b"--" + boundary + _CRLF)
        for index, sub in enumerate(payload):
            if index:
                out.write(_CRLF + b"--" + boundary + _CRLF)
            _write(sub, out, policy)
        out.write(_CRLF + b"--" + boundary + b"--" + _CRLF)
        if part.epilogue is not None:
            _lines(part.epilogue, out)
    elif isinstance(payload, list):  # message/rfc822: the message it holds
        for sub in payload:
            _write(sub, out, policy)
    elif payload is not None:
        _lines(payload if isinstance(payload, str) else payload.decode("ascii", "replace"), out)


def _headers(part: Message, out: BinaryIO, policy: object) -> None:
    fold = policy.fold_binary  # type: ignore[attr-defined]
    for name, value in part.raw_items():
        out.write(fold(name, value))
    out.write(_CRLF)


def _lines(text: str, out: BinaryIO) -> None:
    """``text`` with every line end made CRLF, a slice at a time (cut after a newline, so
    that no CRLF is split). Surrogates stand for the bytes of a parsed message: written back
    as those bytes, as the generator does."""
    start = 0
    while start < len(text):
        end = text.find("\n", start + _SLICE)
        end = len(text) if end < 0 else end + 1
        piece = _NEWLINES.sub("\r\n", text[start:end])
        out.write(piece.encode("utf-8", "surrogateescape"))
        start = end
