"""Events: what the response parser makes of the server's bytes (RFC 3501 section 7).

Frozen, slotted dataclasses with noun names, as h11's are. A literal too large to hold in memory
arrives as ``LiteralStarted``, any number of ``LiteralData`` chunks, then ``LiteralEnded``,
before the ``Fetch`` event that contains it (where the value is a ``StreamedLiteral``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Continuation",
    "Event",
    "Fetch",
    "LiteralData",
    "LiteralEnded",
    "LiteralStarted",
    "Tagged",
    "Unparsed",
    "Untagged",
]


@dataclass(frozen=True, slots=True)
class Tagged:
    """``A0001 OK [CODE data] text``: the end of a command."""

    tag: str
    status: str  # OK, NO or BAD
    code: str | None
    code_data: bytes | None
    text: str


@dataclass(frozen=True, slots=True)
class Untagged:
    """``* ...`` other than FETCH.

    Status responses (OK, NO, BAD, BYE, PREAUTH) fill ``code``, ``code_data`` and ``text``;
    numbered ones (EXISTS, RECENT, EXPUNGE) fill ``number``; data responses (CAPABILITY, LIST,
    STATUS, SEARCH, FLAGS, NAMESPACE, ...) fill ``values`` with the parsed tokens that follow
    the keyword: bytes for atoms and strings, None for NIL, lists for parenthesised lists.
    """

    kind: str
    number: int | None = None
    values: tuple[Any, ...] = ()
    code: str | None = None
    code_data: bytes | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class Fetch:
    """``* seq FETCH (...)``, with known items decoded.

    Keys are upper-case item names as the server sent them (``UID``, ``FLAGS``,
    ``RFC822.SIZE``, ``INTERNALDATE``, ``ENVELOPE``, ``BODYSTRUCTURE``, ``BODY[1]``, ...).
    ``UID``/``RFC822.SIZE``/``MODSEQ`` are ints, ``FLAGS`` a tuple of str, ``INTERNALDATE`` an
    aware datetime or None, ``ENVELOPE`` an Envelope, ``BODYSTRUCTURE`` a BodyPart, sections
    bytes (or a StreamedLiteral when they came as a stream), anything else the raw tokens.
    """

    seq: int
    items: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Continuation:
    """``+ text``: the server waits for more of the command (literal or SASL exchange)."""

    text: bytes


@dataclass(frozen=True, slots=True)
class LiteralStarted:
    """A large literal begins; ``seq`` and ``item`` say where (FETCH number, item name)."""

    seq: int | None
    item: str | None
    size: int


@dataclass(frozen=True, slots=True)
class LiteralData:
    """A chunk of the literal being streamed."""

    data: bytes


@dataclass(frozen=True, slots=True)
class LiteralEnded:
    """The streamed literal is complete."""

    size: int


@dataclass(frozen=True, slots=True)
class Unparsed:
    """A line that is not IMAP (servers send stray lines): kept, never fatal."""

    line: bytes


Event = (
    Tagged
    | Untagged
    | Fetch
    | Continuation
    | LiteralStarted
    | LiteralData
    | LiteralEnded
    | Unparsed
)
