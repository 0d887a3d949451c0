"""Parsed tokens -> typed models: ENVELOPE, BODYSTRUCTURE, FETCH items (RFC 3501 s. 7.4.2).

The input is what the tokenizer makes of a value: bytes for strings and atoms, None for NIL,
lists for parenthesised lists. Servers break the grammar in known ways (Exchange, Gmail, Yahoo,
DavMail, IceWarp: see tests/fixtures_imap.py); every function here takes what it is given,
keeps what it can, and never raises on malformed input.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote_to_bytes

from o365imap.models import Address, AddressEntry, BodyPart, Envelope, Group, StreamedLiteral
from o365imap.protocol.text import (
    decode_2047,
    decode_bytes,
    decode_params,
    parse_header_date,
    parse_internal_date,
)

__all__ = [
    "address_list",
    "body_structure",
    "decode_fetch_items",
    "envelope",
    "make_envelope",
]

_MULTIPART_SUBTYPES = {
    b"mixed", b"alternative", b"related", b"signed", b"encrypted", b"report", b"digest",
    b"parallel", b"appledouble", b"x-zip",
}  # fmt: skip
_DISPOSITIONS = {"inline", "attachment", "form-data"}


def _nstr(value: Any) -> bytes | None:
    """An nstring: bytes, or None for NIL and for anything that is not a string."""
    return value if isinstance(value, bytes) else None


def _text(value: Any) -> str | None:
    if not isinstance(value, bytes):
        return None
    # ASCII (nearly every mailbox, host and route) decodes the same in any charset
    return value.decode("ascii") if value.isascii() else decode_bytes(value)


# IMAP's largest numbers are 63-bit (RFC 9051 number64, RFC 7162 mod-sequence-value): 19
# digits. Longer digit strings are no IMAP number, and are refused before int() sees them
# (it refuses more than 4,300 digits, and takes quadratic time below that).
MAX_NUMBER_DIGITS = 19


def _int(value: Any) -> int | None:
    """A number (digits only, surrounding spaces allowed), or None for anything else."""
    if isinstance(value, bytes):
        digits = value.strip()
        if digits.isdigit() and len(digits) <= MAX_NUMBER_DIGITS:
            return int(digits)
    return None


# ---------------------------------------------------------------- addresses

# Address lists repeat a lot (the same sender on thousands of messages; Sender and Reply-To
# copied from From by the server), so the listing hot path memoizes them by their raw bytes.
_ADDRESS_CACHE: dict[bytes, tuple[AddressEntry, ...]] = {}
_ADDRESS_CACHE_MAX = 8192
# Bytes: a longer address list (or, in listing.py, a longer single address) is decoded each
# time, not kept. Counting entries alone bounds nothing: a From of 1 MB in each of 8,192
# messages would have held gigabytes.
ADDRESS_CACHED_LONGEST = 2048


def cached_address_list(raw: bytes, quads: Sequence[Sequence[Any]]) -> tuple[AddressEntry, ...]:
    """``address_list`` memoized on the address list's raw bytes (the fast path's key)."""
    found = _ADDRESS_CACHE.get(raw)
    if found is None:
        found = address_list(quads)
        if len(raw) > ADDRESS_CACHED_LONGEST:
            return found
        if len(_ADDRESS_CACHE) >= _ADDRESS_CACHE_MAX:
            _ADDRESS_CACHE.clear()
        _ADDRESS_CACHE[raw] = found
    return found


def _address_fields(item: Sequence[Any]) -> tuple[Any, Any, Any, Any]:
    if len(item) == 4:
        return item[0], item[1], item[2], item[3]
    if len(item) < 4:
        padded = [*item, None, None, None, None]
        return padded[0], padded[1], padded[2], padded[3]
    # More than four: an unescaped quote split a string (Gmail). The pieces between name+route
    # and host were one string with quotes inside: put it back together.
    middle = item[2:-1]
    if all(isinstance(m, bytes) for m in middle):
        return item[0], item[1], b'"'.join(middle), item[-1]
    return item[0], item[1], item[2], item[-1]


# Words servers put where a broken header lacks a part: none is a real value. Dovecot
# (lib-mail message-address.c, filling what is missing) writes MISSING_MAILBOX, MISSING_DOMAIN,
# INVALID_ROUTE, and SYNTAX_ERROR for a domain it could not parse; the mailbox beside that one
# is the sender's. UW-IMAP's c-client writes .MISSING-HOST-NAME. for an address without a
# domain (Exchange and Office 365 send the same host, e.g. on their "Retrieval ... failed"
# stub) and .SYNTAX-ERROR. on an address it adds to describe an error (its mailbox is then a
# word like MISSING_MAILBOX_TERMINATOR, never the sender's).
_MISSING_HOSTS = frozenset({"MISSING_DOMAIN", "SYNTAX_ERROR", ".MISSING-HOST-NAME."})
_PHANTOM_HOSTS = frozenset({".SYNTAX-ERROR."})
_MISSING_MAILBOXES = frozenset({"MISSING_MAILBOX"})
_MISSING_ROUTES = frozenset({"INVALID_ROUTE"})


def _address(name: Any, route: Any, mailbox: Any, host: Any) -> Address | None:
    """One address with the servers' placeholders taken out (None where a part is missing),
    or None when nothing the sender wrote is left: neither a mailbox nor a display name."""
    host_text = _text(host)
    mailbox_text = _text(mailbox)
    if host_text in _PHANTOM_HOSTS:
        mailbox_text = host_text = None
    elif host_text in _MISSING_HOSTS:
        host_text = None
    if mailbox_text in _MISSING_MAILBOXES:
        mailbox_text = None
    display = decode_2047(name) if isinstance(name, bytes) else None
    if mailbox_text is None and not display:
        return None
    route_text = _text(route)
    if route_text in _MISSING_ROUTES:
        route_text = None
    return Address(name=display, mailbox=mailbox_text, host=host_text, route=route_text)


def address_list(value: Any) -> tuple[AddressEntry, ...]:
    """An ENVELOPE address list: addresses and RFC 5322 groups, NIL entries dropped.

    Placeholders a server wrote for a missing part never come out as values (see
    :class:`~o365imap.models.Address`): a missing domain is ``host=None``, a missing mailbox
    ``mailbox=None``, and an entry left with neither a mailbox nor a display name (Dovecot's
    ``MISSING_MAILBOX@MISSING_DOMAIN`` for the empty entry of ``To: , a@b``) is dropped.
    """
    if not isinstance(value, list | tuple):
        return ()
    out: list[AddressEntry] = []
    group_name: str | None = None
    members: list[Address] = []
    for item in value:
        if not isinstance(item, list | tuple):
            continue  # a bare NIL inside the list
        name, route, mailbox, host = _address_fields(item)
        if host is None:
            # RFC 3501: a NIL host marks group syntax; NIL mailbox ends a group, else starts one.
            if mailbox is None:
                if group_name is not None:
                    out.append(Group(group_name, tuple(members)))
                    group_name, members = None, []
                continue
            if isinstance(mailbox, bytes):
                if group_name is not None:  # a group that never ended: close it
                    out.append(Group(group_name, tuple(members)))
                group_name = decode_2047(mailbox).strip().strip('"')
                members = []
                continue
        address = _address(name, route, mailbox, host)
        if address is None:
            continue
        if group_name is not None:
            members.append(address)
        else:
            out.append(address)
    if group_name is not None:
        out.append(Group(group_name, tuple(members)))
    return tuple(out)


# ---------------------------------------------------------------- envelope


def _header_text(raw: bytes) -> str:
    return raw.decode("ascii").strip() if raw.isascii() else decode_bytes(raw).strip()


def make_envelope(
    raw_date: bytes | None,
    raw_subject: bytes | None,
    from_: tuple[AddressEntry, ...],
    sender: tuple[AddressEntry, ...],
    reply_to: tuple[AddressEntry, ...],
    to: tuple[AddressEntry, ...],
    cc: tuple[AddressEntry, ...],
    bcc: tuple[AddressEntry, ...],
    in_reply_to: bytes | None,
    message_id: bytes | None,
) -> Envelope:
    """The one place an Envelope is built, for the fast path and the general one alike."""
    return Envelope(
        parse_header_date(raw_date),
        raw_date,
        None if raw_subject is None else decode_2047(raw_subject),
        from_,
        sender,
        reply_to,
        to,
        cc,
        bcc,
        None if in_reply_to is None else _header_text(in_reply_to),
        None if message_id is None else _header_text(message_id),
        raw_subject,
    )


def envelope(value: Any) -> Envelope:
    """An ENVELOPE list; missing trailing fields (some servers send 8 or 9) count as NIL."""
    fields = list(value) if isinstance(value, list | tuple) else []
    fields += [None] * (10 - len(fields))
    return make_envelope(
        _nstr(fields[0]),
        _nstr(fields[1]),
        address_list(fields[2]),
        address_list(fields[3]),
        address_list(fields[4]),
        address_list(fields[5]),
        address_list(fields[6]),
        address_list(fields[7]),
        _nstr(fields[8]),
        _nstr(fields[9]),
    )


# ---------------------------------------------------------------- body structure


def _param_pairs(value: Any) -> list[tuple[bytes, bytes | None]]:
    if not isinstance(value, list):
        return []
    pairs: list[tuple[bytes, bytes | None]] = []
    for i in range(0, len(value) - 1, 2):
        name, val = value[i], value[i + 1]
        if isinstance(name, bytes):
            pairs.append((name, val if isinstance(val, bytes) else None))
    return pairs


# Dovecot 2.4.1 decodes RFC 2231 parameters itself, one continuation section at a time, and
# leaves a section percent-encoded when its bytes are not UTF-8 on their own (a character split
# between two sections): "filename*0*=utf-8''%D0%9F...; filename*1*=..." arrives as the plain
# "Протокол%20%D1%81%D0%BE...Альфа.docx". Its signature is the mix: raw non-ASCII characters
# (the sections it decoded) beside escapes of non-ASCII bytes (the ones it could not). A name in
# ASCII with escapes ("Rechnung%20%E2%82%AC.pdf", common for web downloads) is a real name from
# any server, Office 365 included, and stays as sent.
_ESCAPED_HIGH_BYTE = re.compile(r"%[89A-Fa-f][0-9A-Fa-f]")
_NAME_PARAMS = ("filename", "name")


def _params(value: Any) -> dict[str, str]:
    params = decode_params(_param_pairs(value))
    for key in _NAME_PARAMS:
        name = params.get(key)
        if name and not name.isascii() and _ESCAPED_HIGH_BYTE.search(name):
            # not UTF-8 when joined: not that server's leftovers, the name stays as sent
            with contextlib.suppress(UnicodeDecodeError):
                params[key] = unquote_to_bytes(name.encode("utf-8")).decode("utf-8")
    return params


def _disposition(value: Any) -> tuple[str | None, dict[str, str]]:
    if isinstance(value, bytes):
        # Exchange sends a bare "inline", or even the Content-Description, in this slot.
        word = value.decode("ascii", "replace").strip().lower()
        return (word if word in _DISPOSITIONS else None), {}
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        kind = value[0].decode("ascii", "replace").strip().lower() or None
        params = _params(value[1]) if len(value) > 1 else {}
        return kind, params
    return None, {}


def _language(value: Any) -> tuple[str, ...]:
    if isinstance(value, bytes):
        return (value.decode("ascii", "replace"),)
    if isinstance(value, list):
        return tuple(v.decode("ascii", "replace") for v in value if isinstance(v, bytes))
    return ()


def _looks_like_disposition(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], bytes)
        and value[0].lower() in (b"inline", b"attachment")
        and (value[1] is None or isinstance(value[1], list))
    )


_TOKEN_CHARS = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-z]+")


def _lower(value: Any, default: str) -> str:
    """A media type or subtype token, lower-case; ``default`` when missing or not a token
    (servers have sent ``MOUNDARY="..."`` here)."""
    if isinstance(value, bytes) and value:
        text = value.decode("ascii", "replace").strip().strip('"').lower()
        if _TOKEN_CHARS.fullmatch(text):
            return text
    return default


def _child_number(prefix: str, index: int) -> str:
    return f"{prefix}.{index}" if prefix else str(index)


def body_structure(value: Any, part: str = "") -> BodyPart:
    """A BODYSTRUCTURE (or BODY) value as a tree of BodyPart with IMAP part numbers.

    The root of a multipart message has part ``""``, its children ``1``, ``2``...; the root of
    a single-part message is ``1``. A message/rfc822 part ``X`` has one child, its body: a
    multipart body shares the number ``X`` (its children are ``X.1``...), a single part is
    ``X.1``.
    """
    return _body(value, part, 0)


# Real messages nest a handful of levels; a hostile one can nest thousands, which would exhaust
# Python's stack. Deeper parts are cut off and reported as opaque leaves.
MAX_DEPTH = 64


def _body(value: Any, part: str, depth: int) -> BodyPart:
    if not isinstance(value, list) or not value or depth > MAX_DEPTH:
        # Nothing usable (NIL, an atom, too deep): ``raw`` tells readers not to trust it.
        raw = value if isinstance(value, bytes) else b"NIL" if value is None else b"()"
        return BodyPart(part=part or "1", content_type="application/octet-stream", raw=raw)
    if isinstance(value[0], list):
        return _multipart(value, part, depth)
    return _single(value, part or "1", depth)


def _multipart(value: list[Any], part: str, depth: int) -> BodyPart:
    children: list[BodyPart] = []
    index = 0
    while index < len(value) and isinstance(value[index], list):
        children.append(_body(value[index], _child_number(part, index + 1), depth + 1))
        index += 1
    rest = value[index:] + [None] * 5
    subtype = _lower(rest[0], "mixed")
    params = _params(rest[1])
    dsp_value, lang_value = rest[2], rest[3]
    if dsp_value is None and _looks_like_disposition(lang_value):  # IceWarp swaps the two
        dsp_value, lang_value = lang_value, None
    disposition, dsp_params = _disposition(dsp_value)
    filename = dsp_params.get("filename") or params.get("name")
    return BodyPart(
        part=part,
        content_type=f"multipart/{subtype}",
        params=params,
        disposition=disposition,
        disposition_params=dsp_params,
        language=_language(lang_value),
        location=_text(rest[4]),
        filename=filename or None,
        children=tuple(children),
    )


def _single(value: list[Any], part: str, depth: int) -> BodyPart:
    fields = value + [None] * 12
    maintype = _lower(fields[0], "")
    subtype = _lower(fields[1], "")
    if not subtype and isinstance(fields[0], bytes) and fields[0].lower() in _MULTIPART_SUBTYPES:
        # Gmail: a multipart with no children, sent as ("RELATED" NIL ...).
        return BodyPart(part=part, content_type=f"multipart/{maintype}")
    unknown = fields[0] is None and fields[1] is None  # Office 365's all-NIL parts
    if not maintype:
        content_type = "application/octet-stream"
    elif not subtype:
        content_type = "text/plain" if maintype == "text" else f"{maintype}/octet-stream"
    else:
        content_type = f"{maintype}/{subtype}"
    params = _params(fields[2])
    base = {
        "id": _text(fields[3]),
        "description": None if _nstr(fields[4]) is None else decode_2047(fields[4]),
        "encoding": _lower(fields[5], "") or None,
        "size": _int(fields[6]),
    }
    index = 7
    lines: int | None = None
    inner_envelope: Envelope | None = None
    children: tuple[BodyPart, ...] = ()
    if content_type == "message/rfc822" and (
        isinstance(fields[7], list) or isinstance(fields[8], list)
    ):
        inner_envelope = envelope(fields[7]) if isinstance(fields[7], list) else None
        inner = fields[8]
        if isinstance(inner, list) and inner:
            nested = part if isinstance(inner[0], list) else f"{part}.1"
            children = (_body(inner, nested, depth + 1),)
        lines = _int(fields[9])
        index = 10
    elif maintype == "text":
        lines = _int(fields[7])
        index = 8
    md5, dsp_value, lang_value, location = (
        fields[index],
        fields[index + 1],
        fields[index + 2],
        fields[index + 3],
    )
    if dsp_value is None and _looks_like_disposition(lang_value):
        dsp_value, lang_value = lang_value, None
    disposition, dsp_params = _disposition(dsp_value)
    filename = dsp_params.get("filename") or params.get("name")
    return BodyPart(
        part=part,
        content_type=content_type,
        params=params,
        id=base["id"],  # type: ignore[arg-type]
        description=base["description"],  # type: ignore[arg-type]
        encoding=base["encoding"],  # type: ignore[arg-type]
        size=base["size"],  # type: ignore[arg-type]
        lines=lines,
        md5=_text(md5),
        disposition=disposition,
        disposition_params=dsp_params,
        language=_language(lang_value),
        location=_text(location),
        filename=filename or None,
        children=children,
        envelope=inner_envelope,
        raw=b"NIL NIL" if unknown else None,
    )


# ---------------------------------------------------------------- FETCH items


def _flags(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v.decode("utf-8", "replace") for v in value if isinstance(v, bytes))


def decode_fetch_items(values: list[Any]) -> dict[str, Any]:
    """``(NAME value NAME value ...)`` -> dict with the known items decoded."""
    items: dict[str, Any] = {}
    for i in range(0, len(values) - 1, 2):
        key = values[i]
        if not isinstance(key, bytes):
            continue
        name = key.decode("ascii", "replace").upper()
        value = values[i + 1]
        if name in ("UID", "RFC822.SIZE"):
            items[name] = _int(value)
        elif name == "FLAGS":
            items[name] = _flags(value)
        elif name == "INTERNALDATE":
            items[name] = parse_internal_date(_nstr(value))
        elif name == "ENVELOPE":
            items[name] = envelope(value)
        elif name in ("BODYSTRUCTURE", "BODY"):
            items[name] = body_structure(value)
        elif name == "MODSEQ":
            # RFC 7162 puts it in parentheses; some servers do not, and IMAPClient reads both
            items[name] = _int(value[0] if isinstance(value, list) and value else value)
        elif isinstance(value, StreamedLiteral | bytes) or value is None:
            items[name] = value
        else:
            items[name] = value
    return items
