"""winmail.dat (TNEF, MS-OXTNEF): recognise it and unpack the files it carries, via tnefparse.

Outlook wraps attachments (and sometimes the whole rich-text body) in an
``application/ms-tnef`` part named ``winmail.dat``; other mail programs show that as one
useless file. tnefparse reads the whole TNEF stream from bytes, so unpacking holds one TNEF
part in memory (attachments carried in TNEF are bounded by Exchange's message size limit,
unlike the plain MIME attachments the rest of ``mime`` streams).
"""

from __future__ import annotations

import logging
import mimetypes
import struct
from dataclasses import dataclass

from o365imap.errors import ProtocolError

__all__ = ["TNEF_TYPES", "TnefError", "TnefFile", "is_tnef", "unpack_tnef"]

log = logging.getLogger("o365imap.mime")

TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})


class TnefError(ProtocolError):
    """The winmail.dat part is not TNEF that tnefparse can read."""


@dataclass(frozen=True, slots=True)
class TnefFile:
    """One file found inside a TNEF stream: its name as Outlook wrote it, type guessed."""

    name: str | None
    content_type: str
    data: bytes


def is_tnef(content_type: str, filename: str | None) -> bool:
    """An Outlook TNEF part: by type, or by the name Outlook gives it whatever the type."""
    if content_type.lower() in TNEF_TYPES:
        return True
    return (filename or "").strip().lower() == "winmail.dat"


def unpack_tnef(data: bytes) -> list[TnefFile]:
    """The attachments inside ``data`` (a TNEF stream), in order.

    Raises TnefError when ``data`` is not TNEF; an empty list means TNEF without attachments
    (a rich-text body only), which callers keep as the winmail.dat it came in.
    """
    from tnefparse.tnef import TNEF  # noqa: PLC0415 - imported when a TNEF part shows up

    _check_framing(data)
    try:
        tnef = TNEF(data, do_checksum=False)
        found = []
        for attachment in tnef.attachments:
            name = _name_of(attachment)
            body = attachment.data
            if not isinstance(body, bytes):
                continue  # embedded MAPI objects (attached Outlook items) have no file data
            guessed = mimetypes.guess_type(name or "", strict=False)[0]
            found.append(TnefFile(name, guessed or "application/octet-stream", body))
    except Exception as exc:  # tnefparse raises ValueError, struct.error, IndexError, ...
        # Its exceptions are a detail of a third-party parser meeting broken input: one
        # translation here, so callers see a ProtocolError that says what broke.
        detail = str(exc)[:200] or type(exc).__name__
        raise TnefError(f"winmail.dat is not readable TNEF ({detail})") from exc
    return found


def _name_of(attachment: object) -> str | None:
    long_name = getattr(attachment, "long_filename", None)
    name = long_name() if callable(long_name) else None
    if not name:
        name = getattr(attachment, "name", None)
    if isinstance(name, bytes):
        name = name.decode("cp1252", "replace")
    if isinstance(name, str):
        name = name.rstrip("\x00").strip()
    return name or None


_SIGNATURE = 0x223E9F78
_HEADER = struct.Struct("<IH")  # signature, legacy key
_ATTRIBUTE = struct.Struct("<BII")  # level, attribute id, length; then data and a checksum


def _check_framing(data: bytes) -> None:
    """Refuse a cut or damaged stream before tnefparse reads it.

    tnefparse stops quietly where a stream is cut and hands back the attachments it had, the
    last one short: saved, that would be a truncated file under its real name. Here every
    attribute must fit whole and carry its checksum; a few trailing bytes that cannot start
    an attribute (seen in the wild) are allowed.
    """
    if len(data) < _HEADER.size or _HEADER.unpack_from(data)[0] != _SIGNATURE:
        raise TnefError("winmail.dat is not readable TNEF (no TNEF signature)")
    offset = _HEADER.size
    view = memoryview(data)
    while len(data) - offset >= _ATTRIBUTE.size:
        level, _, length = _ATTRIBUTE.unpack_from(data, offset)
        if level not in (1, 2):
            break  # not an attribute: trailing garbage after the stream
        start = offset + _ATTRIBUTE.size
        end = start + length
        if end + 2 > len(data):
            raise TnefError("winmail.dat is not readable TNEF (it is cut short)")
        (checksum,) = struct.unpack_from("<H", data, end)
        if sum(view[start:end]) & 0xFFFF != checksum:
            raise TnefError("winmail.dat is not readable TNEF (a checksum does not match)")
        offset = end + 2
