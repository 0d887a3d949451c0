"""The values of message building: what a person wants sent (``Draft``, ``Attachment``) and
what writing it produced (``Written``).

A Draft checks itself when it is made: every address parses (and is kept in one canonical
spelling, one address per item), every header value is one line, every extra header is one the
writer allows. So a Draft that exists can be written, whatever front end filled it in.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from o365imap.compose._addresses import (
    check_header,
    check_message_id,
    check_value,
    format_address,
    parse_addresses,
)
from o365imap.errors import UsageError

__all__ = ["Attachment", "Draft", "Written"]

_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*\Z", re.ASCII)  # RFC 6838


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file to attach: ``filename`` is the name the recipient sees (the file's own name when
    None), ``content_type`` its media type (guessed from that name when None)."""

    path: Path
    filename: str | None = None
    content_type: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if self.content_type is not None and not _MEDIA_TYPE.match(self.content_type):
            raise UsageError(f"not a media type (type/subtype): {self.content_type!r}")

    @property
    def name(self) -> str:
        return self.filename if self.filename is not None else self.path.name


def _addresses(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(format_address(a) for a in parse_addresses(list(values)))


@dataclass(frozen=True, slots=True)
class Draft:
    """A message to send, before it has a Date, a Message-ID or a MIME structure.

    ``sender`` is the From (``None``: whoever writes it fills it in). ``to``, ``cc``, ``bcc``,
    ``reply_to``: addresses, each item one address or a comma-separated list, kept one address
    per item as RFC 5322 spells it. ``text`` and ``html`` are the body (either, both, or none
    for a message of attachments). ``attachments``: paths or Attachment values (a path is
    made an Attachment; ``files`` has them all as Attachment). ``headers``: extra
    ``(name, value)`` fields (see ``check_header``). ``in_reply_to`` and ``references``
    are message IDs (``<id@host>``).
    Bcc is never written into the message: its addresses only reach the SMTP envelope.
    UsageError when a value cannot be sent.
    """

    sender: str | None = None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    reply_to: tuple[str, ...] = ()
    subject: str = ""
    text: str | None = None
    html: str | None = None
    attachments: tuple[Attachment | str | os.PathLike[str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        put = object.__setattr__
        if self.sender is not None:
            senders = parse_addresses(self.sender)
            if len(senders) != 1:
                raise UsageError(f"the sender must be one address: {self.sender!r}")
            put(self, "sender", format_address(senders[0]))
        for name in ("to", "cc", "bcc", "reply_to"):
            value = getattr(self, name)
            put(self, name, _addresses([value] if isinstance(value, str) else value))
        put(self, "subject", check_value("the subject", self.subject))
        put(
            self,
            "attachments",
            tuple(
                a if isinstance(a, Attachment) else Attachment(Path(a)) for a in self.attachments
            ),
        )
        put(self, "headers", tuple(check_header(n, v) for n, v in self.headers))
        if self.in_reply_to is not None:
            check_message_id(self.in_reply_to)
        put(self, "references", tuple(check_message_id(r) for r in self.references))

    @property
    def files(self) -> tuple[Attachment, ...]:
        """The attachments, each an Attachment (a path given is made one when the Draft is)."""
        return tuple(a for a in self.attachments if isinstance(a, Attachment))

    @property
    def recipients(self) -> tuple[str, ...]:
        """To, Cc and Bcc as bare addresses, each once (compared case-insensitively), in order:
        what SMTP's RCPT TO takes."""
        return unique_addresses(self.to + self.cc + self.bcc)


def unique_addresses(items: Iterable[str]) -> tuple[str, ...]:
    """Bare addresses of ``items``, each once (case-insensitively), first spelling kept."""
    seen: dict[str, str] = {}
    for address in parse_addresses(list(items)):
        email = address.email or ""
        seen.setdefault(email.lower(), email)
    return tuple(seen.values())


@dataclass(frozen=True, slots=True)
class Written:
    """What writing a message produced: its ``message_id`` (``<...>``), the envelope
    ``sender`` (MAIL FROM) and ``recipients`` (RCPT TO: To, Cc and Bcc, bare, each once, in
    order), and the ``size`` in bytes written."""

    message_id: str
    sender: str
    recipients: tuple[str, ...]
    size: int
