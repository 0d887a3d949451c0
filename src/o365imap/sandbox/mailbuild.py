"""Build RFC 5322 messages byte by byte, with every header encoding under our control.

:func:`build_message` turns a :class:`~o365imap.sandbox.mailmodel.SeedMessage` (the recipe and
the answer key) into the bytes a client must decode back into its fields.

The stdlib ``email`` package would pick encodings itself (always UTF-8, its own folding), so
headers are written here: RFC 2047 encoded-words in the charset and B/Q mode a :class:`Wire`
names, RFC 2231 parameters, raw 8-bit UTF-8 where asked, groups, and folding that only ever
turns an existing space into CRLF SP (so unfolding gives back the exact text). Line endings are
CRLF throughout, which also makes the byte length equal IMAP's RFC822.SIZE.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from .mailmodel import AddressEntry, SeedAddress, SeedAttachment, SeedGroup, SeedMessage, Wire

__all__ = ["build_message", "encode_phrase", "encode_unstructured", "format_address_list"]


CRLF = "\r\n"
_MAX_LINE = 78
_MAX_WORD = 75  # RFC 2047 section 2: an encoded-word is at most 75 characters


# -- RFC 2047 -------------------------------------------------------------------------------------

_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_Q_TABLE = [chr(b) if b in _Q_SAFE else ("_" if b == 0x20 else f"={b:02X}") for b in range(256)]
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+")


def _encodable(text: str, charset: str) -> bool:
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        return False
    return True


def _payload(text: str, charset: str, mode: str) -> str:
    raw = text.encode(charset)
    if mode == "B":
        return base64.b64encode(raw).decode("ascii")
    return "".join([_Q_TABLE[b] for b in raw])


def _encoded_words(text: str, charset: str, mode: str) -> list[str]:
    """``text`` as encoded-words of at most 75 characters, each holding whole characters.

    Each word is encoded on its own, so stateful charsets (ISO-2022-JP) end every word back in
    ASCII, as RFC 2047 section 5 requires.
    """
    prefix = f"=?{charset}?{mode}?"
    room = _MAX_WORD - len(prefix) - 2
    words: list[str] = []
    start = 0
    while start < len(text):
        # grow the chunk while it fits: estimate first, then correct one character at a time
        end = start + 1
        best = _payload(text[start:end], charset, mode)
        if len(best) > room:
            raise ValueError(f"cannot fit {text[start]!r} into one encoded-word")
        step = max(1, room // 8)
        while end < len(text):
            nxt = min(len(text), end + step)
            candidate = _payload(text[start:nxt], charset, mode)
            if len(candidate) <= room:
                end, best = nxt, candidate
            elif step > 1:
                step = max(1, step // 2)
            else:
                break
        words.append(f"{prefix}{best}?=")
        start = end
    return words


def _wire_for(text: str, wire: Wire) -> Wire:
    if wire.mode in ("B", "Q") and not _encodable(text, wire.charset):
        return Wire("utf-8", wire.mode, wire.always)
    return wire


def _irregular_space(text: str) -> bool:
    return text != " ".join(text.split()) or "\t" in text


def _check_plain(text: str, wire: Wire, what: str) -> None:
    if wire.mode == "ascii" and not text.isascii():
        raise ValueError(f"non-ASCII {what} with an ascii Wire: {text!r}")
    if _irregular_space(text):
        # Dovecot's ENVELOPE collapses whitespace runs and trims the ends of unencoded text,
        # so such a value would have two right answers; inside encoded-words it is kept.
        raise ValueError(
            f"{what} {text!r} has tabs, repeated, leading or trailing spaces: "
            "use a B or Q Wire so they survive"
        )


def encode_unstructured(text: str, wire: Wire) -> str:
    """An unstructured header value (Subject) as it goes on the wire, unfolded.

    Pure-ASCII words stay readable unless ``wire.always``; each run of other words becomes
    encoded-words (the spaces inside a run are encoded too, since a decoder drops whitespace
    between adjacent encoded-words). Text with irregular whitespace is encoded whole.
    """
    if wire.mode in ("ascii", "8bit"):
        _check_plain(text, wire, "header text")
        return text
    if _irregular_space(text):
        wire = Wire(wire.charset, wire.mode, always=True)
    if text.isascii() and not wire.always and "=?" not in text:
        return text
    wire = _wire_for(text, wire)
    words = text.split(" ")
    out: list[str] = []
    run: list[str] = []

    def plain(word: str) -> bool:
        return bool(word) and word.isascii() and "=?" not in word and not wire.always

    for word in words:
        if plain(word):
            if run:
                out.extend(_encoded_words(" ".join(run), wire.charset, wire.mode))
                run = []
            out.append(word)
        else:
            run.append(word)
    if run:
        out.extend(_encoded_words(" ".join(run), wire.charset, wire.mode))
    return " ".join(out)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@lru_cache(maxsize=4096)  # a big folder repeats its few hundred correspondents' names
def encode_phrase(name: str, wire: Wire) -> str:
    """A display name (RFC 5322 phrase): an atom sequence, a quoted-string, or encoded-words."""
    encodable = wire.mode in ("B", "Q")
    if encodable and (wire.always or _irregular_space(name) or not name.isascii()):
        wire = _wire_for(name, wire)
        return " ".join(_encoded_words(name, wire.charset, wire.mode))
    _check_plain(name, wire, "display name")
    if name.isascii() and all(_ATEXT.fullmatch(w) for w in name.split(" ")) and "=?" not in name:
        return name
    return _quote(name)


def _format_mailbox(address: SeedAddress, wire: Wire) -> str:
    if address.name is None:
        return address.email
    return f"{encode_phrase(address.name, wire)} <{address.email}>"


def format_address_list(entries: Iterable[AddressEntry], wire: Wire) -> str:
    """An address-list header value (From, To, Cc ...), groups included, unfolded."""
    parts = []
    for entry in entries:
        if isinstance(entry, SeedGroup):
            members = ", ".join(_format_mailbox(m, wire) for m in entry.members)
            parts.append(f"{encode_phrase(entry.name, wire)}:{' ' if members else ''}{members};")
        else:
            parts.append(_format_mailbox(entry, wire))
    return ", ".join(parts)


def _fold(name: str, value: str) -> str:
    """``Name: value`` folded at existing spaces to lines of at most 78 characters where possible.

    Folding inserts CRLF before a space that is already there, so unfolding (removing CRLF)
    restores ``value`` exactly, and a long word is never broken.
    """
    pieces = value.split(" ")
    line = f"{name}: {pieces[0]}"
    out = [line]
    length = len(line)
    for piece in pieces[1:]:
        if piece and length + 1 + len(piece) > _MAX_LINE and length > len(name) + 2:
            out.append(CRLF + " " + piece)
            length = 1 + len(piece)
        else:
            out.append(" " + piece)
            length += 1 + len(piece)
    return "".join(out)


# -- RFC 2231 -------------------------------------------------------------------------------------

_ATTR_CHAR = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&+-.^_`|~"
)


def _pct(raw: bytes) -> list[str]:
    return [chr(b) if b in _ATTR_CHAR else f"%{b:02X}" for b in raw]


def _filename_params(attachment: SeedAttachment) -> tuple[list[str], list[str]]:
    """(Content-Type params, Content-Disposition params) naming the attachment."""
    name = attachment.filename
    if name is None:
        return [], []
    style = attachment.filename_style
    if style == "auto":
        style = "quoted" if name.isascii() else "rfc2231"
    charset = attachment.filename_charset
    if style == "quoted":
        if not name.isascii():
            raise ValueError(f"quoted filename style needs an ASCII name: {name!r}")
        return [f"name={_quote(name)}"], [f"filename={_quote(name)}"]
    if style == "8bit":
        return [f"name={_quote(name)}"], [f"filename={_quote(name)}"]
    encoded_name = " ".join(_encoded_words(name, charset, "B"))
    if style == "rfc2047":
        return [f'name="{encoded_name}"'], [f'filename="{encoded_name}"']
    chars = _pct(name.encode(charset))
    if style == "rfc2231":
        return [f'name="{encoded_name}"'], [f"filename*={charset}''{''.join(chars)}"]
    # rfc2231-continued: short numbered sections; only the first names the charset
    sections: list[str] = []
    current = ""
    for ch in chars:
        if len(current) + len(ch) > 24:
            sections.append(current)
            current = ""
        current += ch
    sections.append(current)
    params = [
        f"filename*{i}*={charset}''{text}" if i == 0 else f"filename*{i}*={text}"
        for i, text in enumerate(sections)
    ]
    return [f'name="{encoded_name}"'], params


# -- MIME bodies ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Part:
    headers: list[str]
    body: bytes

    def to_bytes(self) -> bytes:
        head = CRLF.join(self.headers).encode("utf-8")
        return head + b"\r\n\r\n" + self.body


_HIGH_BYTES = bytes(range(0x80, 0x100))


def _crlf_lines(raw: bytes) -> bytes:
    body = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    return body if body.endswith(b"\r\n") else body + b"\r\n"


def _base64_body(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _text_part(
    text: str,
    subtype: str,
    charset: str,
    encoding: Literal["auto", "7bit", "8bit", "quoted-printable", "base64"],
) -> _Part:
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    raw = normalized.encode(charset)
    if encoding == "auto":
        # as mailers do: quoted-printable while mostly ASCII, base64 for mostly non-ASCII text
        high = len(raw) - len(raw.translate(None, _HIGH_BYTES))
        encoding = "7bit" if not high else "quoted-printable" if high * 3 < len(raw) else "base64"
    if encoding in ("7bit", "8bit"):
        if encoding == "7bit" and not raw.isascii():
            raise ValueError(f"7bit body with non-ASCII bytes in {charset}")
        body = _crlf_lines(raw)
    elif encoding == "quoted-printable":
        body = _crlf_lines(binascii.b2a_qp(raw, istext=True))
    else:
        body = _base64_body(raw)
    return _Part(
        [
            f"Content-Type: text/{subtype}; charset={charset}",
            f"Content-Transfer-Encoding: {encoding}",
        ],
        body,
    )


def _attachment_part(attachment: SeedAttachment) -> _Part:
    type_params, disp_params = _filename_params(attachment)
    disposition = "inline" if attachment.inline else "attachment"
    headers = [_fold("Content-Type", "; ".join([attachment.content_type, *type_params]))]
    if attachment.content_type.lower() == "message/rfc822":
        # RFC 2046 5.2.1: message/rfc822 is never base64; it is carried as it is
        encoding = "7bit" if attachment.data.isascii() else "8bit"
        body = _crlf_lines(attachment.data)
    else:
        encoding = "base64"
        body = _base64_body(attachment.data)
    headers.append(f"Content-Transfer-Encoding: {encoding}")
    if len(disp_params) > 1:  # continued RFC 2231 sections: one per line
        lines = [f"{disposition};", *(f"{p};" for p in disp_params[:-1]), disp_params[-1]]
        headers.append("Content-Disposition: " + "\r\n ".join(lines))
    else:
        headers.append(_fold("Content-Disposition", "; ".join([disposition, *disp_params])))
    if attachment.content_id is not None:
        headers.append(f"Content-ID: {attachment.content_id}")
    return _Part(headers, body)


class _Boundaries:
    def __init__(self, seed: str) -> None:
        self._stem = hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()[:16]
        self._count = 0

    def next(self) -> str:
        self._count += 1
        # "=_" never occurs in base64 or quoted-printable text, so it cannot clash with content
        return f"=_sbx_{self._stem}_{self._count}"


def _multipart(subtype: str, parts: Sequence[_Part], boundaries: _Boundaries) -> _Part:
    boundary = boundaries.next()
    delimiter = f"--{boundary}\r\n".encode()
    chunks = [b"This is a multi-part message in MIME format.\r\n\r\n"]
    for part in parts:
        chunks.append(delimiter)
        chunks.append(part.to_bytes())
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return _Part([f'Content-Type: multipart/{subtype}; boundary="{boundary}"'], b"".join(chunks))


def _body(msg: SeedMessage, boundaries: _Boundaries) -> _Part:
    text = _text_part(msg.body, "plain", msg.body_charset, msg.body_encoding)
    related = [a for a in msg.attachments if a.inline and a.content_id is not None]
    others = [a for a in msg.attachments if not (a.inline and a.content_id is not None)]
    html_text = msg.html
    if related and html_text is None:
        images = "".join(
            f'<img src="cid:{a.content_id.strip("<>")}">' for a in related if a.content_id
        )
        html_text = f"<html><body><p>{msg.body}</p>{images}</body></html>"
    top = text
    if html_text is not None:
        html = _text_part(html_text, "html", msg.body_charset, "quoted-printable")
        if related:
            html = _multipart(
                "related", [html, *(_attachment_part(a) for a in related)], boundaries
            )
        top = _multipart("alternative", [text, html], boundaries)
    if others:
        top = _multipart("mixed", [top, *(_attachment_part(a) for a in others)], boundaries)
    return top


def build_message(msg: SeedMessage) -> bytes:
    """The message as RFC 5322 bytes with CRLF line endings."""
    if msg.raw is not None:
        return msg.raw
    headers: list[str] = []
    if msg.raw_date is not None:
        headers.append(f"Date: {msg.raw_date}")
    for name, entries in (
        ("From", msg.from_),
        ("Sender", msg.sender),
        ("Reply-To", msg.reply_to),
        ("To", msg.to),
        ("Cc", msg.cc),
        ("Bcc", msg.bcc),
    ):
        if entries:
            headers.append(_fold(name, format_address_list(entries, msg.names_wire)))
    if msg.subject is not None:
        headers.append(_fold("Subject", encode_unstructured(msg.subject, msg.subject_wire)))
    if msg.message_id is not None:
        headers.append(f"Message-ID: {msg.message_id}")
    if msg.in_reply_to is not None:
        headers.append(f"In-Reply-To: {msg.in_reply_to}")
    if msg.references:
        headers.append(_fold("References", " ".join(msg.references)))
    for name, value in msg.extra_headers:
        headers.append(_fold(name, value))
    headers.append("MIME-Version: 1.0")
    body = _body(msg, _Boundaries(f"{msg.message_id}|{msg.subject}|{msg.raw_date}"))
    head = CRLF.join([*headers, *body.headers]).encode("utf-8")
    return head + b"\r\n\r\n" + body.body
