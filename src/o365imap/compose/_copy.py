"""A message that is already written (``send --eml``) copied out for SMTP.

The rule this module keeps: only the header block is held (at most ``MAX_HEADER_BYTES``); the
body streams through in chunks, whatever its size. On the way: every Bcc and Resent-Bcc field
goes (with its continuation lines), a missing Date or Message-ID is added, and every line
ending becomes CRLF (a file saved on Unix has bare LF; RFC 5321 section 2.3.8 wants CRLF).
The recipients are read from To, Cc and Bcc by the stdlib's address parser before the Bcc
fields are dropped.
"""

from __future__ import annotations

import contextlib
import os
import re
from datetime import datetime
from email import policy as policies
from email.parser import BytesHeaderParser
from typing import BinaryIO

from o365imap.compose._addresses import bare_address, check_message_id
from o365imap.compose._draft import Written, unique_addresses
from o365imap.compose._write import message_date, new_message_id
from o365imap.errors import UsageError

__all__ = ["MAX_HEADER_BYTES", "copy_ready_message"]

MAX_HEADER_BYTES = 1 << 20  # 1 MiB: Exchange refuses header blocks well below that
_READ_SIZE = 256 * 1024
_LINE_END = re.compile(rb"\r\n|\r|\n")
_FIELD = re.compile(rb"([!-9;-~]+)[ \t]*:")
_HIDDEN = frozenset({b"bcc", b"resent-bcc"})


def _read_header(source: BinaryIO) -> list[bytes]:
    """The header fields, each with its continuation lines, without line endings."""
    fields: list[list[bytes]] = []
    total = 0
    number = 0
    while True:
        line = source.readline(MAX_HEADER_BYTES + 1 - total)
        total += len(line)
        if total > MAX_HEADER_BYTES:
            raise UsageError(f"the message's header is over {MAX_HEADER_BYTES} bytes")
        number += 1
        bare = line.rstrip(b"\r\n")
        if not bare:
            break  # the blank line (or the end of the file: a message that is all header)
        if bare[:1] in (b" ", b"\t") and fields:
            fields[-1].append(bare)
        elif number == 1 and bare.startswith(b"From "):
            continue  # an mbox "From " line, which is not part of the message
        elif _FIELD.match(bare):
            fields.append([bare])
        else:
            shown = bare[:60].decode("utf-8", "replace")
            raise UsageError(f"not a message: line {number} is not a header field: {shown!r}")
    return [b"\r\n".join(field) for field in fields]


def _name(field: bytes) -> bytes:
    return field.partition(b":")[0].strip().lower()


def _recipients(fields: list[bytes]) -> tuple[str, ...]:
    wanted = [f for f in fields if _name(f) in (b"to", b"cc", b"bcc")]
    parsed = BytesHeaderParser(policy=policies.default).parsebytes(
        b"\r\n".join(wanted) + b"\r\n\r\n"
    )
    found: list[str] = []
    for name in ("to", "cc", "bcc"):
        for header in parsed.get_all(name, []):
            found += [a.addr_spec for a in header.addresses if a.username and a.domain]
    return unique_addresses(found) if found else ()


def _value(fields: list[bytes], name: bytes) -> bytes | None:
    """The first ``name`` field's value, unfolded; None when there is none."""
    for field in fields:
        if _name(field) == name:
            return re.sub(rb"\r\n[ \t]", b" ", field.partition(b":")[2]).strip()
    return None


def _first_address(fields: list[bytes], name: bytes) -> str | None:
    value = _value(fields, name)
    if value is not None:
        parsed = BytesHeaderParser(policy=policies.default).parsebytes(
            b"From: " + value + b"\r\n\r\n"
        )
        addresses = getattr(parsed["From"], "addresses", ())
        if addresses and addresses[0].username and addresses[0].domain:
            return str(addresses[0].addr_spec)
    return None


def _stream_crlf(source: BinaryIO, out: BinaryIO) -> int:
    """The rest of ``source`` with every CR, LF or CRLF written as CRLF; the bytes written."""
    size = 0
    held = b""  # a CR at the end of a chunk: its LF may open the next one
    while chunk := source.read(_READ_SIZE):
        data = held + chunk
        held = b""
        if data.endswith(b"\r"):
            data, held = data[:-1], b"\r"
        data = _LINE_END.sub(b"\r\n", data)
        out.write(data)
        size += len(data)
    if held:
        out.write(b"\r\n")
        size += 2
    return size


def copy_ready_message(
    source: BinaryIO | str | os.PathLike[str],
    out: BinaryIO,
    *,
    recipients: tuple[str, ...] | list[str] | None = None,
    sender: str | None = None,
    date: datetime | None = None,
    message_id: str | None = None,
    domain: str | None = None,
    default_from: str | None = None,
) -> Written:
    """Copy a finished message (a file or a binary stream) to ``out``, ready for SMTP.

    ``recipients``: the envelope recipients (RCPT TO); when None, every address of its To, Cc
    and Bcc fields. ``sender``: the envelope sender (MAIL FROM); when None, the address of its
    Sender, else its From. A missing Date (``date``, else now) or Message-ID (``message_id``,
    else one made with ``domain`` or the sender's domain) is added at the end of the header, and
    so is a missing From when ``default_from`` is given (a script's message sent as the
    signed-in mailbox).
    Bcc and Resent-Bcc fields are removed; line endings become CRLF; the body is copied in
    chunks. UsageError: a file that cannot be read, a header over ``MAX_HEADER_BYTES``, a line
    in the header that is not a field, no recipient, no sender.
    """
    with contextlib.ExitStack() as stack:
        if isinstance(source, str | os.PathLike):
            try:
                handle = stack.enter_context(open(source, "rb"))
            except OSError as exc:
                raise UsageError(f"cannot read {os.fspath(source)}: {exc.strerror}") from exc
            source = handle
        fields = _read_header(source)
        found = unique_addresses(recipients) if recipients is not None else _recipients(fields)
        if not found:
            raise UsageError("the message has no recipient: give --to, or To/Cc/Bcc in it")
        names = {_name(field) for field in fields}
        kept = [field for field in fields if _name(field) not in _HIDDEN]
        if b"from" not in names and default_from is not None:
            # the bare address: a display name would need RFC 2047 here, and the mailbox's own
            # address is what Exchange shows anyway
            kept.insert(0, b"From: " + bare_address(default_from).encode("ascii", "replace"))
            fields = [*fields, kept[0]]
        if sender is not None:
            envelope = bare_address(sender)
        else:
            from_field = _first_address(fields, b"sender") or _first_address(fields, b"from")
            if from_field is None:
                raise UsageError("the message has no From address: give --from")
            envelope = from_field
        if b"date" not in names:
            kept.append(b"Date: " + message_date(date).encode("ascii"))
        if b"message-id" not in names:
            message_id = message_id or new_message_id(domain or envelope.rpartition("@")[2])
            check_message_id(message_id)
            kept.append(b"Message-ID: " + message_id.encode("ascii"))
        else:
            message_id = (_value(fields, b"message-id") or b"").decode("ascii", "replace")
        head = b"".join(field + b"\r\n" for field in kept) + b"\r\n"
        out.write(head)
        size = len(head) + _stream_crlf(source, out)
    return Written(message_id, envelope, found, size)
