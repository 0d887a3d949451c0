"""Arguments as IMAP wants them: which messages, flag lists, and UID sets cut to a safe length.

Office 365 refuses a long command line (``BAD Command Error. 10``): UIDs go as ranges
(``1:500,702``), and a set that is still long is split over several commands.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime

from o365imap.errors import UsageError
from o365imap.limits import MAX_UID, check_flag_name
from o365imap.protocol import Atom, Raw, SequenceSet
from o365imap.protocol.commands import Argument
from o365imap.protocol.text import MONTHS

__all__ = [
    "MAX_SET_LENGTH",
    "Messages",
    "flag_list",
    "imap_datetime",
    "sequence_arg",
    "uid_batches",
]


Messages = SequenceSet | str | Iterable[int]
"""Which messages: a SequenceSet, ``"1:10,15"``, or numbers (UIDs where ``uid=True``)."""

# Characters of one UID set on a command line. RFC 7162 4 asks clients to keep lines under
# 8,192 octets; Exchange is said to refuse far shorter ones, so a set stays well below that.
MAX_SET_LENGTH = 1000
_MAX_END = len(str(MAX_UID)) + 1  # ":4294967295", the longest end a range can have


def sequence_arg(messages: Messages) -> Argument:
    if isinstance(messages, SequenceSet):
        return messages
    if isinstance(messages, str):
        if not re.fullmatch(r"[0-9*:,]+", messages):
            raise UsageError(f"not a sequence set: {messages!r}")
        return Atom(messages)
    return SequenceSet(messages)


def uid_batches(uids: Iterable[int], max_length: int = MAX_SET_LENGTH) -> Iterator[list[int]]:
    """``uids`` sorted and cut into runs whose sequence set stays under ``max_length``
    characters: one command each."""
    ordered = sorted(set(uids))
    batch: list[int] = []
    length = 0
    for uid in ordered:
        if batch and uid == batch[-1] + 1:
            batch.append(uid)  # extends a range, whose end was paid for at its start
            continue
        # "n," and, should a range follow, its ":m": as long as the largest UID can be.
        cost = len(str(uid)) + 1 + _MAX_END
        if batch and length + cost > max_length:
            yield batch
            batch, length = [], 0
        batch.append(uid)
        length += cost
    if batch:
        yield batch


def flag_list(flags: Iterable[str]) -> Raw:
    """``(\\Seen $Invoice)``; a name that is not a flag is refused, never sent."""
    names = [check_flag_name(name) for name in flags]
    return Raw(("(" + " ".join(names) + ")").encode("ascii"))


def imap_datetime(when: datetime) -> Raw:
    """RFC 3501 date-time, quoted: ``"05-Dec-2026 09:30:00 +0100"`` (English month names
    whatever the locale; a naive datetime is taken as local time)."""
    aware = when if when.tzinfo is not None else when.astimezone()
    offset = aware.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    zone = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    text = f'"{aware.day:02d}-{MONTHS[aware.month - 1]}-{aware.year:04d} {aware:%H:%M:%S} {zone}"'
    return Raw(text.encode("ascii"))
