"""Commands -> bytes: tags, atoms, quoted strings, literals and sequence sets (RFC 3501 s. 4, 9).

The encoder decides per argument how it must travel: as an atom when it is one, as a quoted
string when it is printable 7-bit text, else as a literal. A command with literals is split into
pieces: without LITERAL+ the client must wait for the server's ``+`` between them (RFC 3501
7.5); with LITERAL+ (RFC 7888) they go at once as ``{n+}``.

Sequence sets are always sent as sorted ranges (``1:50,75``), never as long comma lists:
Office 365 answers ``BAD Command Error. 10`` to long command lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from o365imap.errors import UsageError

__all__ = [
    "Atom",
    "Command",
    "Literal",
    "Raw",
    "SequenceSet",
    "TagGenerator",
    "encode_astring",
    "quote",
]

# ATOM-CHAR (RFC 3501 section 9): any CHAR except atom-specials.
_ATOM = re.compile(rb"[^\x00-\x20\x7f-\xff(){%*\"\\\]]+\Z")
_QUOTABLE = re.compile(rb"[^\x00\r\n\x80-\xff]*\Z")


@dataclass(frozen=True, slots=True)
class Atom:
    """Sent exactly as given (command names, flags, search keys): ASCII, one line."""

    value: str

    def __post_init__(self) -> None:
        if not self.value.isascii():
            raise UsageError(f"not ASCII, so not an IMAP atom: {self.value!r}")
        _one_line(self.value.encode("ascii"))


@dataclass(frozen=True, slots=True)
class Raw:
    """Pre-formatted bytes, inserted as they are (a FETCH item list like ``(UID FLAGS)``),
    on one line."""

    value: bytes

    def __post_init__(self) -> None:
        _one_line(self.value)


_LINE_BREAKING = re.compile(rb"[\r\n\x00]")


def _one_line(value: bytes) -> None:
    # A CR or LF would end the command early and start another one of the caller's text
    # ("ALL\r\nA1 LOGOUT"): what is sent as given must stay inside its command. The value is
    # not quoted in the error: a Raw may be a SASL payload.
    found = _LINE_BREAKING.search(value)
    if found is not None:
        raise UsageError(
            f"CR, LF and NUL cannot be sent inside a command (byte {found.start()} is "
            f"{value[found.start()]:#04x})"
        )


@dataclass(frozen=True, slots=True)
class Literal:
    """Always sent as a literal, whatever its content."""

    value: bytes


class SequenceSet:
    """A set of message numbers or UIDs, rendered as sorted, merged ranges.

    ``SequenceSet([1, 2, 3, 7])`` -> ``1:3,7``; ``SequenceSet.range(51, None)`` -> ``51:*``.
    """

    __slots__ = ("_text",)

    def __init__(self, ids: Iterable[int]) -> None:
        ordered = sorted(set(ids))
        if not ordered:
            raise UsageError("a sequence set needs at least one message number")
        if ordered[0] < 1:
            raise UsageError(f"message numbers start at 1, got {ordered[0]}")
        parts: list[str] = []
        start = prev = ordered[0]
        for n in ordered[1:]:
            if n == prev + 1:
                prev = n
                continue
            parts.append(f"{start}:{prev}" if prev != start else str(start))
            start = prev = n
        parts.append(f"{start}:{prev}" if prev != start else str(start))
        self._text = ",".join(parts)

    @classmethod
    def range(cls, first: int, last: int | None) -> SequenceSet:
        """``first:last``, or ``first:*`` when last is None."""
        if first < 1 or (last is not None and last < first):
            raise UsageError(f"bad message range {first}:{last}")
        obj = cls.__new__(cls)
        if last is None:
            obj._text = f"{first}:*"
        else:
            obj._text = f"{first}:{last}" if last != first else str(first)
        return obj

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"SequenceSet({self._text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SequenceSet) and other._text == self._text

    def __hash__(self) -> int:
        return hash(self._text)


Argument = str | bytes | int | Atom | Raw | Literal | SequenceSet | Sequence["Argument"]


def quote(value: bytes) -> bytes:
    """A quoted string (RFC 3501 section 4.3): backslash and double quote escaped."""
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def encode_astring(value: str | bytes) -> bytes | Literal:
    """The cheapest form an astring can travel in: atom, quoted string, or literal."""
    raw = value.encode("utf-8") if isinstance(value, str) else value
    if raw and _ATOM.match(raw):
        return raw
    if _QUOTABLE.match(raw):
        return quote(raw)
    return Literal(raw)


class TagGenerator:
    """Tags ``A0001``, ``A0002``, ...: unique per connection, as RFC 3501 requires."""

    __slots__ = ("_n", "_prefix")

    def __init__(self, prefix: str = "A") -> None:
        self._prefix = prefix
        self._n = 0

    def __call__(self) -> str:
        self._n += 1
        return f"{self._prefix}{self._n:04d}"


@dataclass(frozen=True, slots=True)
class Command:
    """One tagged command, ready to encode.

    ``redact`` marks a command whose arguments are secret (AUTHENTICATE, LOGIN): traces and
    errors show only its name.
    """

    tag: str
    name: str
    args: tuple[Argument, ...] = field(default=(), repr=False)  # may hold secrets
    redact: bool = False

    def encode(self, literal_plus: bool = False) -> list[bytes]:
        """The bytes to send, split where the server's continuation must be awaited.

        Each element but the last ends with a synchronising literal's ``{n}\\r\\n``; the
        caller sends it, waits for ``+``, then sends the next element (which starts with the
        literal's bytes). With ``literal_plus`` the result is a single element.
        """
        pieces: list[bytes] = []
        current = bytearray(self.tag.encode("ascii") + b" " + self.name.encode("ascii"))
        for arg in self.args:
            current += b" "
            self._encode_arg(arg, current, pieces, literal_plus)
        current += b"\r\n"
        pieces.append(bytes(current))
        return pieces

    def _encode_arg(
        self, arg: Argument, current: bytearray, pieces: list[bytes], literal_plus: bool
    ) -> None:
        if isinstance(arg, Atom):
            current += arg.value.encode("ascii")
        elif isinstance(arg, Raw):
            current += arg.value
        elif isinstance(arg, SequenceSet):
            current += str(arg).encode("ascii")
        elif isinstance(arg, bool):
            raise UsageError("booleans are not IMAP arguments")
        elif isinstance(arg, int):
            current += str(arg).encode("ascii")
        elif isinstance(arg, str | bytes | Literal):
            encoded = arg if isinstance(arg, Literal) else encode_astring(arg)
            if isinstance(encoded, Literal):
                size = len(encoded.value)
                if literal_plus:
                    current += b"{%d+}\r\n" % size + encoded.value
                else:
                    current += b"{%d}\r\n" % size
                    pieces.append(bytes(current))
                    current.clear()
                    current += encoded.value
            else:
                current += encoded
        else:
            current += b"("
            for i, item in enumerate(arg):
                if i:
                    current += b" "
                self._encode_arg(item, current, pieces, literal_plus)
            current += b")"

    def describe(self) -> str:
        """How the command may appear in a log or an error: secrets never shown."""
        if self.redact:
            return f"{self.tag} {self.name} [redacted]"
        return b"".join(self.encode(literal_plus=True)).decode("utf-8", "replace").rstrip()
