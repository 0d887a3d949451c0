"""What a MIME part's header block says (RFC 2045, RFC 2046, RFC 5322).

What this module owns: reading one header line as a field, and turning a complete header block
into the ``PartStart`` the parser announces (``part_start``): the Content-Type and
Content-Disposition split into main value and raw parameters (``split_header_params``), the
media type (with RFC 2045's defaults for what is not one), the tokens (transfer encoding,
disposition), the multipart boundary and the part's number. Nothing here keeps state; the
parameters themselves (RFC 2231, RFC 2047, charsets) are decoded by
``o365imap.protocol.text.decode_params``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from o365imap.mime.events import PartStart
from o365imap.protocol.text import decode_2047, decode_bytes, decode_params

__all__ = ["part_start", "split_header_params"]

_MAX_BOUNDARY = 1000  # RFC 2046 allows 70; longer ones are not boundaries but garbage

# name, optional "= value"; a quoted value may hold ';' and runs to the end if unterminated;
# an unquoted one runs to the next ';' (so "boundary=----=_Part" and "name=my file.pdf" work).
_PARAM = re.compile(
    rb"""[\s;]*(?P<name>[^\s;=]+)[ \t]*
    (?:=[ \t]*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"?[^;]*|(?P<token>[^;]*)))?""",
    re.S | re.X,
)
# Only \\ and \" are unescaped, as mail clients do: a Windows path "C:\dir\a.txt" survives.
_QUOTED_PAIR = re.compile(rb'\\([\\"])')


def split_header_params(value: bytes) -> tuple[bytes, list[tuple[bytes, bytes | None]]]:
    """``b'text/plain; charset="utf-8"; name*0*=...'`` -> main value and raw parameter pairs.

    The pairs go to ``decode_params`` as they are; nothing is decoded here. Never raises.
    """
    main, _semicolon, rest = value.partition(b";")
    pairs: list[tuple[bytes, bytes | None]] = []
    for match in _PARAM.finditer(rest):
        name = match.group("name")
        quoted = match.group("quoted")
        if quoted is not None:
            pairs.append((name, _QUOTED_PAIR.sub(rb"\1", quoted)))
        else:
            token = match.group("token")
            pairs.append((name, None if token is None else token.strip()))
    return main.strip(), pairs


_TOKEN = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+\-]*\Z")
_BARE_TYPES = {"text": "text/plain", "multipart": "multipart/mixed"}


def _media_type(raw: bytes | None, default: str) -> str:
    """A media type from a Content-Type main value; ``default`` when it is not one (RFC 2045
    section 5.2)."""
    if raw is None:
        return default
    text = raw.decode("ascii", "replace").strip().strip('"').lower()
    main, slash, sub = text.partition("/")
    main, sub = main.strip(), sub.strip()
    if not _TOKEN.match(main):
        return default
    if not slash or not sub:
        return _BARE_TYPES.get(main, f"{main}/octet-stream")
    return f"{main}/{sub}" if _TOKEN.match(sub) else default


def _token(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    text = raw.partition(b";")[0].decode("ascii", "replace").strip().strip("\"'").lower()
    return text or None


# "Name:" with the name in printable ASCII other than ':' (RFC 5322 section 2.2); spaces before
# the colon are tolerated, as everyone does.
_FIELD = re.compile(rb"([!-9;-~]+)[ \t]*:[ \t]*(.*)", re.S)


def _boundary(pairs: list[tuple[bytes, bytes | None]], params: Mapping[str, str]) -> bytes | None:
    """The boundary as raw bytes (it is compared with raw lines), or None if unusable."""
    raw: bytes | None = None
    for name, value in pairs:
        if name.lower() == b"boundary":
            raw = value
            break
    if raw is None and params.get("boundary"):
        raw = params["boundary"].encode("utf-8")  # boundary*=...: RFC 2231 on a boundary
    if raw is None:
        return None
    raw = raw.rstrip()  # delimiter lines are compared without trailing whitespace
    if not raw or len(raw) > _MAX_BOUNDARY or b"\n" in raw or b"\r" in raw:
        return None
    return raw


def part_start(
    fields: list[tuple[bytes, bytes]],
    *,
    part: str | None,
    prefix: str,
    depth: int,
    default_type: str,
    may_nest: bool,
) -> tuple[PartStart, bytes | None]:
    """The PartStart a complete header block announces, and the boundary when the part is a
    multipart to open (None for any other part).

    ``fields`` are (name, value) with values unfolded and stripped. ``part`` None is the root
    of a message numbered under ``prefix``: it is numbered by what it is (RFC 3501 section
    6.4.5). ``default_type`` is the type when there is no usable Content-Type (text/plain;
    message/rfc822 in a digest); ``may_nest`` False makes a multipart an opaque leaf.
    """

    def first(name: bytes) -> bytes | None:
        for field_name, value in fields:
            if field_name.lower() == name:
                return value
        return None

    main, pairs = split_header_params(first(b"content-type") or b"")
    content_type = _media_type(main or None, default_type)
    params = decode_params(pairs)
    boundary = _boundary(pairs, params)
    multipart = content_type.startswith("multipart/")
    if multipart and boundary is None:
        content_type, multipart = "text/plain", False  # RFC 2045 5.2: unusable, so text
    elif multipart and not may_nest:
        content_type, multipart = "application/octet-stream", False
    dsp_main, dsp_pairs = split_header_params(first(b"content-disposition") or b"")
    disposition_params = decode_params(dsp_pairs)
    content_id = first(b"content-id")
    description = first(b"content-description")
    if part is None:  # the root is numbered by what it is
        part = prefix if multipart else (f"{prefix}.1" if prefix else "1")
    start = PartStart(
        part=part,
        depth=depth,
        content_type=content_type,
        params=params,
        disposition=_token(dsp_main or None),
        disposition_params=disposition_params,
        filename=disposition_params.get("filename") or params.get("name") or None,
        content_id=decode_bytes(content_id).strip() or None if content_id else None,
        description=decode_2047(description) if description is not None else None,
        encoding=_token(first(b"content-transfer-encoding")),
        headers=tuple((name.decode("ascii", "replace"), value) for name, value in fields),
    )
    return start, boundary if multipart else None
