"""An ENVELOPE (RFC 3501 7.4.2) made from raw header fields, for a message the server did not
describe: an ``.eml`` file, a message parsed because its BODYSTRUCTURE was unreadable, the
header of a message returned in a bounce.

The result is the same ``Envelope`` the server's ENVELOPE gives, so nothing downstream knows
where it came from.
"""

from __future__ import annotations

import email.utils
from datetime import datetime

from o365imap.mime import MimeParser, PartStart
from o365imap.models import Address, AddressEntry, Envelope
from o365imap.protocol.text import decode_2047, parse_header_date


def _header_envelope(data: bytes | None) -> Envelope | None:
    """The ENVELOPE of a header block (a returned message's, sent as text/rfc822-headers)."""
    if not data:
        return None
    parser = MimeParser()
    events = [*parser.feed(data), *parser.close()]
    return _envelope_from(next((e for e in events if isinstance(e, PartStart)), None))


def _addresses(value: str | None) -> tuple[AddressEntry, ...]:
    if not value:
        return ()
    out: list[AddressEntry] = []
    for name, addr in email.utils.getaddresses([value]):
        mailbox, _, host = addr.rpartition("@") if "@" in addr else (addr, "", "")
        out.append(Address(name or None, mailbox or None, host or None))
    return tuple(out)


def _envelope_from(root: PartStart | None) -> Envelope | None:
    if root is None:
        return None

    def raw(name: str) -> bytes | None:
        for field_name, value in root.headers:
            if field_name.lower() == name:
                return value
        return None

    def text(name: str) -> str | None:
        value = root.header(name)
        return value.strip() if value is not None else None

    date_raw = raw("date")
    date: datetime | None = parse_header_date(date_raw) if date_raw else None
    subject = raw("subject")
    return Envelope(
        date=date,
        raw_date=date_raw,
        subject=decode_2047(subject).strip() if subject is not None else None,
        from_=_addresses(text("from")),
        sender=_addresses(text("sender")),
        reply_to=_addresses(text("reply-to")),
        to=_addresses(text("to")),
        cc=_addresses(text("cc")),
        bcc=_addresses(text("bcc")),
        in_reply_to=text("in-reply-to"),
        message_id=text("message-id"),
        raw_subject=subject,
    )
