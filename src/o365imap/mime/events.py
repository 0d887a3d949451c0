"""What the MIME parser says: the events of a message's parts (RFC 2045, RFC 2046).

What this module owns: ``PartStart`` (a part's header block, read and decoded), ``PartData``
(decoded bytes of a part) and ``PartEnd`` (a part's sizes and whether it ended properly), the
vocabulary that ``parser.MimeParser`` speaks and its consumers (the message savers, the .eml
reader) listen to. Part numbers are IMAP's; see ``parser``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from o365imap.protocol.text import decode_2047

__all__ = [
    "MimeEvent",
    "PartData",
    "PartEnd",
    "PartStart",
]

_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})


@dataclass(frozen=True, slots=True)
class PartStart:
    """A part begins; its header block has been read.

    ``params`` and ``disposition_params`` have lower-case names, RFC 2231 continuations joined
    and charsets decoded, RFC 2047 words decoded. ``filename`` is the disposition's
    ``filename``, else the type's ``name`` (decoded, not yet made safe: see
    ``o365imap.mime.names.safe_filename``). ``encoding`` is the Content-Transfer-Encoding,
    lower-case. ``headers`` are the raw fields in order: name as written, value unfolded.
    """

    part: str
    depth: int
    content_type: str
    params: Mapping[str, str]
    disposition: str | None
    disposition_params: Mapping[str, str]
    filename: str | None
    content_id: str | None
    description: str | None
    encoding: str | None
    headers: tuple[tuple[str, bytes], ...]

    @property
    def is_multipart(self) -> bool:
        """A container: its children follow, and it has no data of its own."""
        return self.content_type.startswith("multipart/")

    @property
    def is_message(self) -> bool:
        """An encapsulated message: its data is the raw message, and its parts follow."""
        return self.content_type in _MESSAGE_TYPES

    def header(self, name: str) -> str | None:
        """The first header field called ``name`` (any case), RFC 2047-decoded, or None."""
        wanted = name.lower()
        for field_name, value in self.headers:
            if field_name.lower() == wanted:
                return decode_2047(value)
        return None


@dataclass(frozen=True, slots=True)
class PartData:
    """Some decoded bytes of a part (never of a multipart container)."""

    part: str
    data: bytes


@dataclass(frozen=True, slots=True)
class PartEnd:
    """A part ends. ``size`` counts its decoded bytes, ``encoded_size`` its bytes as the message
    carries them (before transfer decoding: what IMAP's BODYSTRUCTURE calls the part's size);
    both are 0 for a multipart. ``complete`` is False when the input ended (or an outer
    delimiter came) before the part's own end: a multipart without its close delimiter, a part
    cut off by the end of the input inside a multipart."""

    part: str
    depth: int
    size: int
    complete: bool
    encoded_size: int = 0


MimeEvent = PartStart | PartData | PartEnd
