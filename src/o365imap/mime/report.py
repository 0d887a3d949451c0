"""Delivery status notifications: what a bounce's machine-readable part says (RFC 3464).

The rule this module keeps: the decoded bytes of one ``message/delivery-status`` part in,
plain values out, and never an exception, whatever a mail server wrote. A bounce is a
``multipart/report`` (RFC 6522): a text for people, this part, and the returned message or
its headers; which part is which is decided in ``o365imap.messages``.

The part is a block of per-message fields (``Reporting-MTA``, ``Arrival-Date``...), a blank
line, then one block per recipient (``Final-Recipient``, ``Action``, ``Status``,
``Diagnostic-Code``...), each block laid out like a header. Servers bend the layout: several
blank lines between blocks, LF line endings, a recipient without ``Final-Recipient`` (only
``Original-Recipient``), a status with a comment after it, raw UTF-8 (RFC 6533's
``message/global-delivery-status``); all are read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from o365imap.protocol.text import decode_bytes

__all__ = [
    "DELIVERY_STATUS_TYPES",
    "DeliveryStatus",
    "RecipientStatus",
    "parse_delivery_status",
]

# The media types of the machine-readable part of a delivery report (RFC 3464, RFC 6533).
DELIVERY_STATUS_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})

_STATUS_CODE = re.compile(r"\b[245]\.\d{1,3}\.\d{1,3}\b")
_FIELD = re.compile(r"([!-9;-~]+)[ \t]*:[ \t]*(.*)", re.S)
_TYPE = re.compile(r"[ \t]*[A-Za-z0-9.+-]+[ \t]*;")  # address-type, diagnostic-type, mta-name-type
_RECIPIENT_FIELDS = ("final-recipient", "original-recipient", "action", "status")


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """What happened to the message for one recipient; None for a field the report lacks.

    ``recipient`` is the address (``Final-Recipient``, else ``Original-Recipient``) without
    its type (``rfc822;``); ``action`` is ``failed``, ``delayed``, ``delivered``, ``relayed``
    or ``expanded``; ``status`` the RFC 3463 code (``5.1.1``); ``diagnostic`` what the remote
    server said (``Diagnostic-Code`` without its type: ``550 5.1.1 User unknown``).
    """

    recipient: str | None
    action: str | None
    status: str | None
    diagnostic: str | None
    original_recipient: str | None = None
    remote_mta: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """A delivery status notification: who reports it, and one entry per recipient."""

    reporting_mta: str | None
    recipients: tuple[RecipientStatus, ...]


def _blocks(text: str) -> list[dict[str, str]]:
    """Header-like blocks separated by blank lines: field names lower-case, values unfolded;
    the first occurrence of a field in a block wins."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last: str | None = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, None
        elif line[0] in " \t":
            if last is not None:  # folded (RFC 5322 2.2.3)
                current[last] += " " + line.strip()
        elif (match := _FIELD.match(line)) is not None:
            name = match.group(1).lower()
            last = name if name not in current else None
            if last is not None:
                current[last] = match.group(2).strip()
        # anything else is not a field: skipped
    if current:
        blocks.append(current)
    return blocks


def _typed(value: str | None) -> str | None:
    """The value without its type: ``smtp; 550 ...`` -> ``550 ...``, ``dns;mx.example.com``
    -> ``mx.example.com``; a value without one as it is."""
    if value is None:
        return None
    typed = _TYPE.match(value)
    text = value[typed.end() :] if typed else value
    return text.strip() or None


def _address(value: str | None) -> str | None:
    """``rfc822; <jane@example.com>`` -> ``jane@example.com``."""
    text = _typed(value)
    return text.strip("<>").strip() or None if text else None


def _status(value: str | None) -> str | None:
    if value is None:
        return None
    found = _STATUS_CODE.search(value)
    return found.group(0) if found else value.strip() or None


def _word(value: str | None) -> str | None:
    words = (value or "").split()
    return words[0].lower() if words else None


def parse_delivery_status(data: bytes) -> DeliveryStatus:
    """The fields of a ``message/delivery-status`` part (already transfer-decoded)."""
    blocks = _blocks(decode_bytes(data, "utf-8"))
    reporting_mta: str | None = None
    recipients: list[RecipientStatus] = []
    for block in blocks:
        if "reporting-mta" in block and reporting_mta is None:
            reporting_mta = _typed(block["reporting-mta"])
        if not any(name in block for name in _RECIPIENT_FIELDS):
            continue  # the per-message block (or one of a server's own)
        final = _address(block.get("final-recipient"))
        original = _address(block.get("original-recipient"))
        recipients.append(
            RecipientStatus(
                recipient=final or original,
                action=_word(block.get("action")),
                status=_status(block.get("status")),
                diagnostic=_typed(block.get("diagnostic-code")),
                original_recipient=original,
                remote_mta=_typed(block.get("remote-mta")),
            )
        )
    return DeliveryStatus(reporting_mta, tuple(recipients))
