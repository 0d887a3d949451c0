"""A Draft written out as an RFC 5322 message, attachments streamed from their files.

The rule this module keeps: memory does not grow with the attachments. Each attachment file is
opened (all of them, before the first byte is written, so that a missing one is an error and
not half a message) and read once, in chunks, straight into base64 lines of the output. Only
the text parts are built whole, by the stdlib.

What the stdlib does here: every header (RFC 2047 words for non-ASCII subjects and display
names, RFC 2231 for non-ASCII file names, folding at 78) through ``email.policy.SMTP`` and
``EmailMessage`` header objects, written one by one with ``policy.fold_binary``; the text parts
(quoted-printable or base64 bodies, 7bit checks) through ``EmailMessage.set_content`` and
``BytesGenerator``; Date and Message-ID through ``email.utils``. What is written here: the
multipart skeleton (RFC 2046 section 5.1: boundaries and delimiters, the stdlib's layout) and
the streamed base64 of the attachment bodies, which the stdlib can only do in memory.
"""

from __future__ import annotations

import binascii
import contextlib
import io
import mimetypes
import os
import re
import secrets
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy as policies
from email import utils
from email.generator import BytesGenerator
from email.message import EmailMessage
from typing import BinaryIO

from o365imap.compose._addresses import (
    bare_address,
    check_message_id,
    parse_addresses,
    to_header_address,
)
from o365imap.compose._draft import Attachment, Draft, Written
from o365imap.errors import UsageError
from o365imap.messages import html_to_text
from o365imap.mime import safe_filename

__all__ = ["POLICY", "attachment_name", "message_date", "new_message_id", "write_message"]

# CRLF, folding at 78, and 7bit bodies: quoted-printable or base64, never raw 8bit, so that a
# server without 8BITMIME takes the message as it is.
POLICY = policies.SMTP.clone(cte_type="7bit")
_FOLD_AT = 78  # POLICY.max_line_length
MAX_LINE = 998  # RFC 5322 section 2.1.1, without the CRLF
_B64_LINE = 57  # bytes that make one 76-character base64 line
_READ_SIZE = _B64_LINE * 4096  # 228 KiB read, 304 KiB written: a multiple of whole lines
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # not in 7bit text: encoded
_QP_SHARE = 0.2  # at most this share of non-ASCII characters: quoted-printable, else base64
_COMPRESSED = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
    "br": "application/x-brotli",
}


def message_date(date: datetime | None) -> str:
    """RFC 5322 Date: ``date`` (a naive one is local time), or now, with the local offset."""
    moment = (date or datetime.now()).astimezone()
    return utils.format_datetime(moment)


def new_message_id(domain: str) -> str:
    """``<...@domain>``, unique (time, process and randomness: ``email.utils.make_msgid``)."""
    return utils.make_msgid(domain=domain)


# ---------------------------------------------------------------- the parts


@dataclass(slots=True)
class _Text:
    data: bytes  # the whole part, headers and body, CRLF


@dataclass(slots=True)
class _File:
    headers: bytes
    handle: BinaryIO


@dataclass(slots=True)
class _Multipart:
    subtype: str
    parts: list[_Text | _File | _Multipart]
    boundary: str = ""


_Part = _Text | _File | _Multipart


def _transfer_encoding(text: str) -> str:
    lines = text.splitlines() or [""]
    short = max(len(line) for line in lines) <= _FOLD_AT
    if text.isascii() and short and not _CONTROLS.search(text):
        return "7bit"
    foreign = sum(1 for char in text if ord(char) > 127)
    return "quoted-printable" if foreign <= _QP_SHARE * len(text) else "base64"


def _text_part(text: str, subtype: str) -> _Text:
    """A text part, UTF-8, encoded by the stdlib; line breaks become CRLF, a last one added."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    part = EmailMessage(policy=POLICY)
    part.set_content(text, subtype=subtype, charset="utf-8", cte=_transfer_encoding(text))
    del part["MIME-Version"]  # the message has it, once, at the top
    buffer = io.BytesIO()
    BytesGenerator(buffer, policy=POLICY).flatten(part)
    return _Text(buffer.getvalue())


def _content_type(attachment: Attachment) -> str:
    if attachment.content_type:
        return attachment.content_type
    guessed, encoding = mimetypes.guess_type(attachment.name, strict=False)
    if encoding is not None:
        return _COMPRESSED.get(encoding, "application/octet-stream")
    return guessed or "application/octet-stream"


def attachment_name(name: str, content_type: str, index: int) -> str:
    """The name a recipient sees: ``safe_filename``'s, without white space at its ends (a
    reader strips it: a name of only U+00A0 would arrive empty)."""
    kind = "attachment"
    safe = safe_filename(name, content_type=content_type, index=index, kind=kind).strip()
    return safe or safe_filename(None, content_type=content_type, index=index, kind=kind)


def _file_part(attachment: Attachment, handle: BinaryIO, index: int) -> _File:
    content_type = _content_type(attachment)
    name = attachment_name(attachment.name, content_type, index)
    head = EmailMessage(policy=POLICY)
    head["Content-Type"] = content_type
    head.add_header("Content-Disposition", "attachment", filename=name)
    head["Content-Transfer-Encoding"] = "base64"
    return _File(_fold(head), handle)


def _open_all(files: Sequence[Attachment], stack: contextlib.ExitStack) -> list[BinaryIO]:
    """Every attachment opened for reading, or UsageError before anything is written."""
    handles: list[BinaryIO] = []
    for attachment in files:
        shown = os.fspath(attachment.path)
        try:
            handle: BinaryIO = stack.enter_context(open(attachment.path, "rb"))  # noqa: SIM115
            mode = os.fstat(handle.fileno()).st_mode
        except OSError as exc:
            raise UsageError(f"cannot read attachment {shown}: {exc.strerror}") from exc
        if not stat.S_ISREG(mode):
            raise UsageError(f"cannot read attachment {shown}: not a regular file")
        handles.append(handle)
    return handles


def _body(draft: Draft, handles: list[BinaryIO]) -> _Part:
    text = draft.text
    if text is None and draft.html is not None:
        text = html_to_text(draft.html)
    body: _Part = _text_part(text or "", "plain")
    if draft.html is not None:
        body = _Multipart("alternative", [body, _text_part(draft.html, "html")])
    if handles:
        files = [
            _file_part(a, h, i)
            for i, (a, h) in enumerate(zip(draft.files, handles, strict=True), 1)
        ]
        parts: list[_Part] = [*files]
        if draft.text is not None or draft.html is not None:
            parts.insert(0, body)
        body = _Multipart("mixed", parts)
    return body


def _texts(part: _Part) -> list[bytes]:
    if isinstance(part, _Text):
        return [part.data]
    if isinstance(part, _Multipart):
        return [data for child in part.parts for data in _texts(child)]
    return []  # base64 has no "=_": the boundaries below all start with it


def _set_boundaries(part: _Part, texts: list[bytes]) -> None:
    if not isinstance(part, _Multipart):
        return
    while True:  # RFC 2046 section 5.1.1: a boundary must not occur in what it encloses
        boundary = f"=_{secrets.token_hex(16)}"
        if not any(boundary.encode("ascii") in data for data in texts):
            break
    part.boundary = boundary
    for child in part.parts:
        _set_boundaries(child, texts)


# ---------------------------------------------------------------- writing


def _fold(message: EmailMessage) -> bytes:
    """The header fields of ``message`` as the stdlib folds them; UsageError for a line that
    cannot be folded under 998 octets (an address of 1,000 characters in an extra header)."""
    folded = []
    for name, value in message.items():
        field = POLICY.fold_binary(name, value)
        if max(len(line) for line in field.split(b"\r\n")) > MAX_LINE:
            raise UsageError(f"the {name} header is too long to be sent")
        folded.append(field)
    return b"".join(folded)


def _id_field(name: str, ids: Sequence[str]) -> bytes:
    """Message-ID, In-Reply-To, References: folded between IDs, never inside one.

    Written here because the stdlib treats them as unstructured text and turns an ID longer
    than a line (Exchange's often are) into RFC 2047 words, which breaks threading.
    """
    lines = [f"{name}:"]
    for message_id in ids:
        if len(lines[-1]) + 1 + len(message_id) > _FOLD_AT and lines[-1] != f"{name}:":
            lines.append("")
        lines[-1] += f" {message_id}"
    return "\r\n".join(lines).encode("ascii") + b"\r\n"


class _Output:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.size = 0

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.size += len(data)


def _stream_base64(handle: BinaryIO, output: _Output) -> None:
    while chunk := handle.read(_READ_SIZE):
        encoded = binascii.b2a_base64(chunk, newline=False)
        lines = [encoded[i : i + 76] for i in range(0, len(encoded), 76)]
        lines.append(b"")
        output.write(b"\r\n".join(lines))


def _write_part(part: _Part, output: _Output) -> None:
    """One part, headers first, ending with CRLF (the generator's layout)."""
    if isinstance(part, _Text):
        output.write(part.data)
        return
    if isinstance(part, _File):
        output.write(part.headers + b"\r\n")
        _stream_base64(part.handle, output)
        return
    head = EmailMessage(policy=POLICY)
    head["Content-Type"] = f"multipart/{part.subtype}"
    head.set_param("boundary", part.boundary)
    output.write(_fold(head) + b"\r\n")
    delimiter = b"--" + part.boundary.encode("ascii")
    for number, child in enumerate(part.parts):
        output.write((b"\r\n" if number else b"") + delimiter + b"\r\n")
        _write_part(child, output)
    output.write(b"\r\n" + delimiter + b"--\r\n")


def _top_headers(draft: Draft, sender: str, date: str, message_id: str) -> bytes:
    """The message's own fields, in the usual order; the body's Content-Type comes after."""
    head = EmailMessage(policy=POLICY)
    head["From"] = draft.sender if draft.sender is not None else sender
    for name, values in (("To", draft.to), ("Cc", draft.cc), ("Reply-To", draft.reply_to)):
        if values:
            head[name] = [to_header_address(a) for a in parse_addresses(list(values))]
    if draft.subject:
        head["Subject"] = draft.subject
    head["Date"] = date
    ids = _id_field("Message-ID", [message_id])
    if draft.in_reply_to:
        ids += _id_field("In-Reply-To", [draft.in_reply_to])
    if draft.references:
        ids += _id_field("References", draft.references)
    tail = EmailMessage(policy=POLICY)
    for name, value in draft.headers:
        tail[name] = value
    tail["MIME-Version"] = "1.0"
    return _fold(head) + ids + _fold(tail)


def write_message(
    draft: Draft,
    out: BinaryIO,
    *,
    sender: str,
    date: datetime | None = None,
    message_id: str | None = None,
    domain: str | None = None,
) -> Written:
    """Write ``draft`` to ``out`` as a message ready for SMTP; what was written.

    ``sender`` is the envelope sender (MAIL FROM), and the From when the draft has none;
    ``date`` the Date (now when None; a naive datetime is local time); ``message_id`` the
    Message-ID (``<...>``; made from ``domain``, else the sender's domain, when None).

    The message: CRLF line endings, no line over 998 octets, Date, Message-ID and MIME-Version
    set, Bcc never written. Text only: text/plain. HTML: multipart/alternative with a
    text/plain first (the draft's text, or one made from the HTML) and the text/html.
    Attachments: multipart/mixed around that, each file base64 in 76-character lines, with
    its media type (guessed from the name; application/octet-stream when unknown) and its name
    (made safe, RFC 2231-encoded when not ASCII). UsageError, before anything is written, when
    an attachment cannot be read or the sender is not one address.
    """
    envelope = bare_address(sender)
    message_id = check_message_id(
        message_id or new_message_id(domain or envelope.rpartition("@")[2])
    )
    with contextlib.ExitStack() as stack:
        handles = _open_all(draft.files, stack)
        body = _body(draft, handles)
        _set_boundaries(body, _texts(body))
        output = _Output(out)
        output.write(_top_headers(draft, sender, message_date(date), message_id))
        _write_part(body, output)  # it begins with its own Content-Type
    return Written(message_id, envelope, draft.recipients, output.size)
