"""Write small TNEF streams (winmail.dat, MS-OXTNEF), as Outlook does, for the sandbox mailbox.

Only what a reader needs to find attachments: the signature, the TNEF version and code page,
and per attachment its rendering record, title (8-bit name), data and a MAPI property block
with the long file name in UTF-16 (how Outlook carries non-ASCII names). Every attribute ends
with its checksum (the sum of its data bytes, modulo 65536).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

__all__ = ["build_tnef"]

_SIGNATURE = 0x223E9F78
_LVL_MESSAGE, _LVL_ATTACHMENT = 0x01, 0x02
# attribute id = type << 16 | name (MS-OXTNEF 2.1.3.3)
_ATT_TNEF_VERSION = 0x00089006
_ATT_OEM_CODEPAGE = 0x00069007
_ATT_MESSAGE_CLASS = 0x00078008
_ATT_ATTACH_REND_DATA = 0x00069002
_ATT_ATTACH_TITLE = 0x00018010
_ATT_ATTACH_DATA = 0x0006800F
_ATT_ATTACHMENT = 0x00069005
_PT_UNICODE = 0x001F
_PR_ATTACH_LONG_FILENAME = 0x3707


def _attribute(level: int, attribute: int, data: bytes) -> bytes:
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BII", level, attribute, len(data)) + data + struct.pack("<H", checksum)


def _padded(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def _long_name_props(name: str) -> bytes:
    value = (name + "\x00").encode("utf-16-le")
    prop = struct.pack("<HHII", _PT_UNICODE, _PR_ATTACH_LONG_FILENAME, 1, len(value))
    return struct.pack("<I", 1) + prop + _padded(value)


def build_tnef(files: Iterable[tuple[str, bytes]], *, key: int = 0x1234) -> bytes:
    """A TNEF stream carrying ``files`` (name, bytes), in order."""
    out = [struct.pack("<IH", _SIGNATURE, key)]
    out.append(_attribute(_LVL_MESSAGE, _ATT_TNEF_VERSION, struct.pack("<I", 0x00010000)))
    out.append(_attribute(_LVL_MESSAGE, _ATT_OEM_CODEPAGE, struct.pack("<II", 1252, 0)))
    out.append(_attribute(_LVL_MESSAGE, _ATT_MESSAGE_CLASS, b"IPM.Microsoft Mail.Note\x00"))
    for name, data in files:
        # attRendData opens an attachment: type 1 (file), position, width, height, flags.
        rend = struct.pack("<HIHHI", 1, 0xFFFFFFFF, 0, 0, 0)
        out.append(_attribute(_LVL_ATTACHMENT, _ATT_ATTACH_REND_DATA, rend))
        title = name.encode("cp1252", "replace") + b"\x00"
        out.append(_attribute(_LVL_ATTACHMENT, _ATT_ATTACH_TITLE, title))
        out.append(_attribute(_LVL_ATTACHMENT, _ATT_ATTACH_DATA, data))
        out.append(_attribute(_LVL_ATTACHMENT, _ATT_ATTACHMENT, _long_name_props(name)))
    return b"".join(out)
