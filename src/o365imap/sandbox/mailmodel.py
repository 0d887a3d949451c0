"""The records of the sandbox's mail: messages, addresses, attachments, header encodings.

A :class:`SeedMessage` is both the recipe for a message and the answer key for it: its fields
(subject, addresses, dates, flags, attachments) are exactly what a correct client must decode
from the bytes :func:`~o365imap.sandbox.mailbuild.build_message` produces. Tests compare a
client's output with these fields, never with another parser's view of the bytes. A
:class:`Wire` says how a header's non-ASCII text goes on the wire (RFC 2047 charset and mode,
raw UTF-8, or none). Records only: the bytes are :mod:`~o365imap.sandbox.mailbuild`'s job.
"""

from __future__ import annotations

import codecs
import enum
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Literal, NamedTuple

__all__ = [
    "ASCII",
    "AUTO",
    "FLAG_LETTERS",
    "RAW_UTF8",
    "UTF8_B",
    "UTF8_Q",
    "AddressEntry",
    "SeedAddress",
    "SeedAttachment",
    "SeedGroup",
    "SeedMessage",
    "Wire",
]

# IMAP system flag -> Maildir info letter (letters must be written in ASCII order)
FLAG_LETTERS = {
    "\\Draft": "D",
    "\\Flagged": "F",
    "\\Answered": "R",
    "\\Seen": "S",
    "\\Deleted": "T",
}


class _Default(enum.Enum):
    AUTO = "auto"


AUTO = _Default.AUTO
"""Stands for "derive this from the message's ``date``" in :class:`SeedMessage` fields."""


class SeedAddress(NamedTuple):
    """One mailbox; equal to the plain tuple ``(name, email)``. ``name`` None: no display name."""

    name: str | None
    email: str


class SeedGroup(NamedTuple):
    """RFC 5322 group syntax: ``Team: a@x, b@y;``; with no members ``undisclosed-recipients:;``."""

    name: str
    members: tuple[SeedAddress, ...] = ()


AddressEntry = SeedAddress | SeedGroup


@dataclass(frozen=True, slots=True)
class Wire:
    """How non-ASCII header text goes on the wire.

    ``mode`` B or Q: RFC 2047 encoded-words in ``charset`` (the label is written as given, so
    ``Shift_JIS`` and ``shift_jis`` both occur); ``8bit``: raw UTF-8 bytes in the header (RFC
    6532 style, which old servers and clients still meet); ``ascii``: no encoding at all (a
    non-ASCII value is an error). ``always`` encodes even pure-ASCII text, as some mailers do.
    Text the charset cannot represent falls back to UTF-8 in the same mode, as mailers do.
    """

    charset: str = "utf-8"
    mode: Literal["B", "Q", "8bit", "ascii"] = "B"
    always: bool = False

    def __post_init__(self) -> None:
        codecs.lookup(self.charset)  # fail early on a charset Python cannot encode


UTF8_B = Wire("utf-8", "B")
UTF8_Q = Wire("utf-8", "Q")
RAW_UTF8 = Wire("utf-8", "8bit")
ASCII = Wire("us-ascii", "ascii")


@dataclass(frozen=True, slots=True)
class SeedAttachment:
    """A MIME leaf besides the text body: what a client must list, name and save.

    ``filename`` None means the part has no name at all. ``content_id`` is written in angle
    brackets, as BODYSTRUCTURE reports it. ``filename_style``: ``quoted`` (``filename="a.pdf"``),
    ``rfc2231`` (``filename*=utf-8''...``), ``rfc2231-continued`` (``filename*0*=``, ``*1*`` ...),
    ``rfc2047`` (``filename="=?utf-8?B?...?="``, Outlook's way), ``8bit`` (raw UTF-8 in quotes);
    ``auto`` is quoted for ASCII names and rfc2231 (with an RFC 2047 ``name=``) otherwise.
    ``message/rfc822`` data is embedded as is; everything else is base64, so the decoded bytes
    equal ``data`` exactly.
    """

    filename: str | None
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str | None = None
    filename_style: Literal["auto", "quoted", "rfc2231", "rfc2231-continued", "rfc2047", "8bit"] = (
        "auto"
    )
    filename_charset: str = "utf-8"

    @property
    def size(self) -> int:
        """The decoded size in bytes."""
        return len(self.data)


@dataclass(slots=True, eq=False)
class SeedMessage:
    """One message: the recipe for its bytes and the values a correct client decodes from them.

    ``date`` (timezone-aware) is the INTERNALDATE (written as the Maildir file's mtime) and, by
    default, the Date header. ``date_header`` is the header's exact text (``None``: no Date
    header); ``header_date`` is what that header must decode to (``None`` when missing or
    unparseable). ``message_id``/``in_reply_to`` include their angle brackets, as ENVELOPE
    carries them. ``sender``/``reply_to`` empty means no such header (ENVELOPE then repeats
    ``from_``: see :attr:`envelope_sender`).

    ``uid``, ``size``, ``folder`` and ``filename`` are filled in when the message is written
    to a Maildir: ``size`` is the file's byte length, which Dovecot reports as RFC822.SIZE.
    """

    date: datetime
    subject: str | None
    from_: tuple[AddressEntry, ...] = ()
    to: tuple[AddressEntry, ...] = ()
    cc: tuple[AddressEntry, ...] = ()
    bcc: tuple[AddressEntry, ...] = ()
    sender: tuple[AddressEntry, ...] = ()
    reply_to: tuple[AddressEntry, ...] = ()
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    flags: frozenset[str] = frozenset()
    body: str = ""
    html: str | None = None
    attachments: tuple[SeedAttachment, ...] = ()
    subject_wire: Wire = UTF8_B
    names_wire: Wire = UTF8_B
    body_charset: str = "utf-8"
    body_encoding: Literal["auto", "7bit", "8bit", "quoted-printable", "base64"] = "auto"
    date_header: str | _Default | None = AUTO
    header_date: datetime | _Default | None = AUTO
    extra_headers: tuple[tuple[str, str], ...] = ()
    # The message's exact bytes, for MIME that a builder would never write (broken boundaries,
    # 8-bit headers): the fields above then only describe it (Message-ID must match).
    raw: bytes | None = None
    # filled in by the Maildir writer
    uid: int = 0
    size: int = 0
    folder: str = ""
    filename: str = ""
    # free-form notes for test authors ("no Date header", "group in To") and for lookups
    tags: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.date.tzinfo is None or self.date.utcoffset() is None:
            raise ValueError("SeedMessage.date must be timezone-aware")
        # IMAP dates have whole seconds; keep the answer key in the same precision.
        self.date = self.date.replace(microsecond=0)
        unknown = self.flags - FLAG_LETTERS.keys()
        if unknown:
            raise ValueError(f"only system flags can be seeded, not {sorted(unknown)}")
        if self.date_header is AUTO:
            self.date_header = format_datetime(self.date)
            if self.header_date is AUTO:
                self.header_date = self.date
        elif self.date_header is None:
            if self.header_date is AUTO:
                self.header_date = None
        elif self.header_date is AUTO:
            raise ValueError("a custom date_header needs header_date: the value it must decode to")

    @property
    def internal_date(self) -> datetime:
        return self.date

    @property
    def expected_date(self) -> datetime | None:
        """The Date header decoded: None when the message has none or it is unparseable."""
        assert not isinstance(self.header_date, _Default)
        return self.header_date

    @property
    def raw_date(self) -> str | None:
        """The Date header exactly as written (None when there is no Date header)."""
        assert not isinstance(self.date_header, _Default)
        return self.date_header

    @property
    def envelope_sender(self) -> tuple[AddressEntry, ...]:
        # RFC 3501 7.4.2: a missing Sender or Reply-To is reported as a copy of From.
        return self.sender or self.from_

    @property
    def envelope_reply_to(self) -> tuple[AddressEntry, ...]:
        return self.reply_to or self.from_

    @property
    def flag_letters(self) -> str:
        return "".join(sorted(FLAG_LETTERS[f] for f in self.flags))

    def __repr__(self) -> str:
        return (
            f"SeedMessage(folder={self.folder!r}, uid={self.uid}, subject={self.subject!r}, "
            f"date={self.date.isoformat()}, size={self.size})"
        )
