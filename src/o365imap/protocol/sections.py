"""Body section names as FETCH answers carry them: ``BODY[section]<origin>`` (RFC 3501 7.4.2).

A partial fetch (``BODY.PEEK[2]<1024.4096>``, RFC 3501 6.4.5) is answered as ``BODY[2]<1024>``:
where the bytes start. Resuming a download after a cut depends on reading that right.
"""

from __future__ import annotations

import re

from o365imap.protocol.lexer import parse_number

__all__ = ["PARTIAL_MAX", "section_of"]

PARTIAL_MAX = 0xFFFFFFFF  # RFC 3501 partial length is a 32-bit number: "to the end"
_SECTION = re.compile(r"^BODY\[([^\]]*)\](?:<([0-9]+)>)?$")


def section_of(item: str) -> tuple[str, int] | None:
    """``(section, origin)`` of a FETCH item name (origin 0 when the answer is whole); None
    when the item is not a body section. The origin is bounded as every number is."""
    match = _SECTION.match(item)
    if match is None:
        return None
    digits = match.group(2)
    if not digits:
        return match.group(1), 0
    origin = parse_number(digits.encode("ascii"), b"<" + digits[:40].encode("ascii") + b">")
    return match.group(1), origin
