"""Text for a person to read: a text part decoded, HTML made readable, a header block unfolded.

Only what is shown is decoded here; the bytes that are saved never pass through this module.
"""

from __future__ import annotations

import logging
import re

from o365imap.mime.transfer import decoder_for
from o365imap.protocol.text import decode_2047, decode_bytes

log = logging.getLogger("o365imap.messages")


def html_to_text(html: str) -> str:
    """Readable text from HTML (tables, lists and line breaks kept), via inscriptis."""
    from inscriptis import get_text  # noqa: PLC0415 - lxml loads in ~50 ms; only when needed

    if not html.strip():
        return ""
    try:
        text: str = get_text(html)
    except Exception as exc:  # lxml refuses some inputs (NUL bytes, odd encodings declared)
        log.debug("inscriptis could not read the HTML (%s); stripping tags", exc)
        text = re.sub(r"<[^>]*>", " ", html)
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def _decode_text(data: bytes, encoding: str | None, charset: str | None) -> str:
    decoder = decoder_for(encoding)
    raw = decoder.feed(data) + decoder.flush()
    return decode_bytes(raw, charset).replace("\r\n", "\n")


def _header_block(raw: bytes) -> str:
    """Header fields one per line, unfolded, encoded words decoded, for a person to read."""
    unfolded = re.sub(rb"\r?\n[ \t]+", b" ", raw.strip())
    lines = []
    for line in unfolded.splitlines():
        name, sep, value = line.partition(b":")
        lines.append(
            decode_bytes(name) + ": " + decode_2047(value.strip()) if sep else decode_bytes(line)
        )
    return "\n".join(lines)
