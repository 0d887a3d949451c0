"""Modified UTF-7 folder names (RFC 3501 section 5.1.3).

IMAP servers without UTF8=ACCEPT (Office 365 among them) send non-ASCII folder names in this
encoding: ``&`` starts a base64 run of UTF-16BE with ``,`` for ``/``, ``-`` ends it, ``&-`` is
a literal ``&``. Decoding is lenient: a name that is not valid modified UTF-7 comes back as
the server sent it (as UTF-8, else Latin-1), because a folder must stay reachable even when its
name is broken.
"""

from __future__ import annotations

import binascii
import re

__all__ = ["decode_utf7", "encode_utf7"]

_RUN = re.compile(rb"&([A-Za-z0-9+,]*)-")
_VALID = re.compile(rb"(?:[\x20-\x25\x27-\x7e]|&[A-Za-z0-9+,]*-)*")


def encode_utf7(name: str) -> bytes:
    """Encode a folder name for the wire."""
    out = bytearray()
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            b64 = binascii.b2a_base64(raw, newline=False).rstrip(b"=").replace(b"/", b",")
            out.extend(b"&" + b64 + b"-")
            pending.clear()

    for ch in name:
        code = ord(ch)
        if 0x20 <= code <= 0x7E:
            flush()
            out.extend(b"&-" if ch == "&" else ch.encode("ascii"))
        else:
            pending.append(ch)
    flush()
    return bytes(out)


def decode_utf7(raw: bytes) -> str:
    """Decode a folder name from the wire; never raises."""
    if b"&" not in raw or _VALID.fullmatch(raw) is None:
        return _fallback(raw)

    def run(match: re.Match[bytes]) -> bytes:
        body = match.group(1)
        if not body:
            return b"&"
        b64 = body.replace(b",", b"/")
        b64 += b"=" * (-len(b64) % 4)
        try:
            return binascii.a2b_base64(b64, strict_mode=True).decode("utf-16-be").encode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise _NotUtf7 from exc

    try:
        return _RUN.sub(run, raw).decode("utf-8")
    except (_NotUtf7, UnicodeDecodeError):
        return _fallback(raw)


class _NotUtf7(Exception):
    pass


def _fallback(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
