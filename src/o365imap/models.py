"""Typed results: what the client hands back, with no protocol or I/O in them.

Everything here is immutable: safe to share between threads (the terminal browser's workers)
and comparable in tests. Most models are frozen, slotted dataclasses. The four that a listing
builds tens of thousands of times per second (MessageSummary, Envelope, Address, Group) are
typed NamedTuples instead: a frozen dataclass spends about 1 us per Envelope in its __init__
(one object.__setattr__ per field), a NamedTuple about 0.3 us, and that difference alone is
~10% of the parse time of a FETCH line.

Raw bytes are kept beside decoded values wherever decoding can lose information (dates, names,
subjects), so a caller can always get back to exactly what the server sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

__all__ = [
    "Address",
    "AddressEntry",
    "BodyPart",
    "Capabilities",
    "CopyResult",
    "Envelope",
    "Folder",
    "FolderChanges",
    "FolderInfo",
    "FolderStatus",
    "Group",
    "MessageSummary",
    "Namespace",
    "StreamedLiteral",
]


class Address(NamedTuple):
    """One mailbox of an ENVELOPE address list (RFC 3501 section 7.4.2).

    ``name`` is the display name decoded from RFC 2047; ``email`` is ``mailbox@host``.

    A part the message's header lacks is None, never a made-up value: servers fill such gaps
    with placeholders (Dovecot ``MISSING_MAILBOX``, ``MISSING_DOMAIN``, ``SYNTAX_ERROR``;
    UW-IMAP and Exchange ``.MISSING-HOST-NAME.``), and the decoder takes them out. So
    ``To: "x" <matmail>`` is ``Address("x", "matmail", None)`` whose ``email`` is the bare
    ``matmail`` (no domain is invented), and Exchange's stub sender ``"Microsoft Exchange
    Server"`` with no mailbox is ``Address("Microsoft Exchange Server", None, None)`` whose
    ``email`` is None. An address with neither a mailbox nor a name is not listed at all.
    """

    name: str | None
    mailbox: str | None
    host: str | None
    route: str | None = None

    @property
    def email(self) -> str | None:
        if self.mailbox is None:
            return None
        if self.host is None:
            return self.mailbox
        return f"{self.mailbox}@{self.host}"

    def __str__(self) -> str:
        email = self.email or ""
        if self.name:
            return f"{self.name} <{email}>" if email else self.name
        return email


class Group(NamedTuple):
    """RFC 5322 group syntax (``undisclosed-recipients: ;``) as ENVELOPE encodes it."""

    name: str
    members: tuple[Address, ...] = ()

    def __str__(self) -> str:
        return f"{self.name}: {', '.join(str(m) for m in self.members)};"


AddressEntry = Address | Group


class Envelope(NamedTuple):
    """The ENVELOPE of a message, decoded (RFC 3501 section 7.4.2).

    ``date`` is timezone-aware, or None when the header is missing or unparseable; ``raw_date``
    always keeps the server's bytes. String fields are None where the server sent NIL.
    Decoded text is the sender's: a subject may hold CR, LF or terminal escapes from its
    encoded words; ``o365imap._terminal_text.for_terminal`` makes it safe to print or log.
    """

    date: datetime | None
    raw_date: bytes | None
    subject: str | None
    from_: tuple[AddressEntry, ...] = ()
    sender: tuple[AddressEntry, ...] = ()
    reply_to: tuple[AddressEntry, ...] = ()
    to: tuple[AddressEntry, ...] = ()
    cc: tuple[AddressEntry, ...] = ()
    bcc: tuple[AddressEntry, ...] = ()
    in_reply_to: str | None = None
    message_id: str | None = None
    raw_subject: bytes | None = None


@dataclass(frozen=True, slots=True)
class BodyPart:
    """One node of a BODYSTRUCTURE tree (RFC 3501 section 7.4.2), with its IMAP part number.

    ``part`` is the section to FETCH (``"1"``, ``"2.1"``; ``"1"`` for a single-part message);
    ``params`` and ``disposition_params`` have lower-case keys, RFC 2231 continuations joined and
    decoded; ``filename`` comes from the disposition's ``filename`` or else the type's ``name``.
    """

    part: str
    content_type: str
    params: Mapping[str, str] = field(default_factory=dict)
    id: str | None = None
    description: str | None = None
    encoding: str | None = None
    size: int | None = None
    lines: int | None = None
    md5: str | None = None
    disposition: str | None = None
    disposition_params: Mapping[str, str] = field(default_factory=dict)
    language: tuple[str, ...] = ()
    location: str | None = None
    filename: str | None = None
    children: tuple[BodyPart, ...] = ()
    envelope: Envelope | None = None  # message/rfc822 parts carry one
    raw: bytes | None = None  # the server's bytes when this node could not be parsed

    @property
    def maintype(self) -> str:
        return self.content_type.partition("/")[0]

    @property
    def subtype(self) -> str:
        return self.content_type.partition("/")[2]

    @property
    def is_multipart(self) -> bool:
        return self.maintype == "multipart"

    @property
    def content_id(self) -> str | None:
        return self.id

    def walk(self) -> Iterator[BodyPart]:
        """This part and every part below it, depth first, in part-number order."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, slots=True)
class Folder:
    """A LIST response: one folder (RFC 3501 section 7.2.2, RFC 6154 special-use)."""

    name: str
    raw_name: bytes
    delimiter: str | None
    flags: tuple[str, ...]
    special_use: str | None = None

    @property
    def selectable(self) -> bool:
        lowered = {f.lower() for f in self.flags}
        return "\\noselect" not in lowered and "\\nonexistent" not in lowered


@dataclass(frozen=True, slots=True)
class FolderInfo:
    """What SELECT or EXAMINE said about a folder (RFC 3501 section 6.3.1).

    ``first_unseen`` is the ``[UNSEEN n]`` code: the sequence number of the first unseen
    message, not how many there are (:meth:`ImapClient.status` counts them).
    """

    name: str
    exists: int
    recent: int | None
    first_unseen: int | None
    uidvalidity: int | None
    uidnext: int | None
    flags: tuple[str, ...]
    permanent_flags: tuple[str, ...]
    read_only: bool
    # RFC 7162: the folder's mod-sequence when the server keeps one (CONDSTORE; Office 365
    # does not): what changed since can be asked (``iter_fetch(..., changed_since=)``)
    highestmodseq: int | None = None


@dataclass(frozen=True, slots=True)
class FolderStatus:
    """A STATUS response (RFC 3501 section 7.2.4); None for items not asked for."""

    name: str
    messages: int | None = None
    recent: int | None = None
    unseen: int | None = None
    uidnext: int | None = None
    uidvalidity: int | None = None


@dataclass(frozen=True, slots=True)
class Namespace:
    """NAMESPACE (RFC 2342): (prefix, delimiter) pairs for personal, other users', shared."""

    personal: tuple[tuple[str, str | None], ...] = ()
    other_users: tuple[tuple[str, str | None], ...] = ()
    shared: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class Capabilities:
    """The server's CAPABILITY list, upper-cased, with the SASL mechanisms split out."""

    names: frozenset[str]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.upper() in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.names))

    @property
    def auth_mechanisms(self) -> frozenset[str]:
        return frozenset(n[5:] for n in self.names if n.startswith("AUTH="))


@dataclass(frozen=True, slots=True)
class StreamedLiteral:
    """Stands in a parsed response for a literal that was delivered as a stream of chunks."""

    size: int


class MessageSummary(NamedTuple):
    """One row of a message listing: FETCH (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)."""

    seq: int
    uid: int | None
    flags: tuple[str, ...]
    size: int | None
    internal_date: datetime | None
    envelope: Envelope | None


@dataclass(frozen=True, slots=True)
class FolderChanges:
    """What the server said about the open folder meanwhile (NOOP, IDLE): RFC 3501 7.3-7.4.

    ``exists``: the message count it last reported (None: it did not say); ``expunged``: the
    sequence numbers it removed, in the order said (each renumbers the ones after it);
    ``recent``: the \\Recent count; ``flags``: (sequence number, flags) of messages whose
    flags changed elsewhere. False when nothing changed.
    """

    exists: int | None = None
    expunged: tuple[int, ...] = ()
    recent: int | None = None
    flags: tuple[tuple[int, tuple[str, ...]], ...] = ()

    def __bool__(self) -> bool:
        return bool(
            self.exists is not None or self.expunged or self.recent is not None or self.flags
        )


@dataclass(frozen=True, slots=True)
class CopyResult:
    """What a copy, move or delete did: the messages' UIDs in ``to`` where the server said
    (RFC 4315 COPYUID; Office 365 and Dovecot do), else an empty ``new_uids``.

    ``uids``: the UIDs acted on, in ``folder``; ``to``: where they went (None for a permanent
    delete); ``uidvalidity``: of ``to``, which the new UIDs belong to; ``copies_left``: a move
    done as copy + delete was cut between the two, so the originals are still in ``folder``
    (nothing is lost; the copies in ``to`` are the ones ``new_uids`` names).
    """

    folder: str
    uids: tuple[int, ...]
    to: str | None
    new_uids: dict[int, int] = field(default_factory=dict)
    uidvalidity: int | None = None
    copies_left: bool = False

    def new_uid(self, uid: int) -> int | None:
        """The UID in ``to`` of the message that was ``uid``, when the server said."""
        return self.new_uids.get(uid)
