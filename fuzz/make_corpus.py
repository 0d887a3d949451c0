"""Write the seed corpus of each fuzz target from the project's own fixtures.

``python fuzz/make_corpus.py [DIR]`` (default fuzz/corpus) writes DIR/<target>/<sha1> files:
the FETCH responses, envelopes and body structures of tests/fixtures_imap.py as server lines,
the messages of tests/mime_samples.py, and the header values, dates and folder names found in
both. ``seeds()`` gives the same inputs to the hypothesis properties (tests/test_fuzz.py).
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import mime_samples
from fixtures_imap import BODY_CASES, ENVELOPE_CASES, FETCH_CASES
from o365imap.protocol.text import decode_2047
from o365imap.protocol.utf7 import encode_utf7

__all__ = ["seeds", "write_corpus"]

_QUOTED = re.compile(rb'"((?:[^"\\\r\n]|\\.)*)"')
_HEADER = re.compile(rb"^([A-Za-z-]+):[ \t]*(.*(?:\r?\n[ \t].*)*)", re.MULTILINE)

# What no fixture holds but every server sends around a listing.
_SESSION = (
    b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready\r\n"
    b'* LIST (\\HasNoChildren \\Sent) "/" "Sent Items"\r\n'
    b'* LIST (\\HasChildren) "/" "&ZeVnLIqe-/&AMQ-rger"\r\n'
    b"* 3 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
    b"* STATUS INBOX (MESSAGES 3 UIDNEXT 4)\r\n+ idling\r\n"
    b"* 1 FETCH (UID 7 BODY[1] {5}\r\nhello)\r\nA1 OK [READ-WRITE] done\r\n"
)
_FOLDERS = ("Sent Items", "&ZeVnLIqe-", "&-", "&AAA-", "a&b", "Entwürfe", "日本語/下書き", "")


def _fetch_line(seq: int, item: bytes, raw: bytes) -> bytes:
    return b"* %d FETCH (UID %d %s %s)\r\n" % (seq, seq + 100, item, raw)


def seeds() -> dict[str, list[bytes]]:
    """Seed inputs per target, in a stable order, without duplicates."""
    messages = [make() for make in mime_samples.ALL_SAMPLES.values()]
    imap = [case.data for case in FETCH_CASES] + [_SESSION]
    imap += [_fetch_line(i, b"ENVELOPE", c.raw) for i, c in enumerate(ENVELOPE_CASES, 1)]
    imap += [_fetch_line(i, b"BODYSTRUCTURE", c.raw) for i, c in enumerate(BODY_CASES, 1)]
    strings = [m.group(1) for data in imap for m in _QUOTED.finditer(data)]
    headers = [(m.group(1).lower(), m.group(2)) for msg in messages for m in _HEADER.finditer(msg)]
    text = [s for s in strings if b"=?" in s or not s.isascii()]
    text += [
        value for name, value in headers if name.startswith((b"content-", b"subject", b"from"))
    ]
    dates = [value for name, value in headers if name == b"date"]
    dates += [s for s in strings if re.match(rb"(\w{3}, )?\s?\d{1,2}[ -]\w{3}[ -]\d", s)]
    dates += [b"wtf", b"Mon, 7 Jan 19 10:09 EST", b"17-Jul-1996 02:44:25 -0700"]
    names = [decode_2047(s)[:60] for s in text[:40]]
    utf7 = [encode_utf7(name) for name in (*_FOLDERS, *names)]
    utf7 += [name.encode() for name in _FOLDERS]
    found = {"imap": imap, "text": text, "dates": dates, "utf7": utf7, "mime": messages}
    return {target: list(dict.fromkeys(inputs)) for target, inputs in found.items()}


def write_corpus(root: Path) -> dict[str, int]:
    """The seed files under ``root``; how many per target."""
    counts = {}
    for target, inputs in seeds().items():
        folder = root / target
        folder.mkdir(parents=True, exist_ok=True)
        for data in inputs:
            (folder / hashlib.sha1(data, usedforsecurity=False).hexdigest()).write_bytes(data)
        counts[target] = len(inputs)
    return counts


if __name__ == "__main__":
    where = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "corpus"
    for target, count in write_corpus(where).items():
        print(f"{target}: {count} seeds in {where / target}")
