"""What the two front ends show alike: times, sizes people read, and the order of folders.

The command line and the mail browser list the same folders in the same order, give sizes in
the same units and times in the same zone (the reader's: local time, honouring ``TZ``); the
rules for both live here, as plain values and strings. Drawing them (click, rich, Textual)
stays with each front end, so this module imports none of those.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from o365imap.models import Folder

__all__ = [
    "SPECIAL_USE_ORDER",
    "counted",
    "folder_rank",
    "human_size",
    "local_time",
    "sorted_folders",
]

# RFC 6154 special uses (as Folder.special_use gives them, lower case), in the order mail
# clients list those folders, after INBOX and before the rest.
SPECIAL_USE_ORDER = ("\\drafts", "\\sent", "\\archive", "\\junk", "\\trash", "\\all", "\\flagged")

# Binary units with their IEC names, as a person reads them everywhere (the command line, its
# progress bars, the browser): "150.0 MiB" is 150 x 1024 x 1024 bytes, never 150,000,000.
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
# One letter, ls -h style (still binary): the browser's size column is 8 characters ("1023.9 K").
_COMPACT_UNITS = ("B", "K", "M", "G", "T")


def human_size(size: int | None, *, compact: bool = False) -> str:
    """``size`` bytes in binary units with IEC labels ("512 B", "1.5 MiB"); "" when unknown.

    ``compact`` writes the unit as one letter ("1.5 M"), for narrow columns. An estimate is
    marked by the caller with a leading "~" (``estimated_size``).
    """
    if size is None:
        return ""
    units = _COMPACT_UNITS if compact else _UNITS
    value, step = float(size), 0
    while value >= 1024 and step < len(units) - 1:
        value, step = value / 1024, step + 1
    return f"{size} B" if step == 0 else f"{value:.1f} {units[step]}"


def counted(count: int, noun: str = "message") -> str:
    """ "1 message", "20,000 messages": a count a person reads, its noun agreeing with it."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def local_time(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``moment`` in the reader's zone (``TZ``, else the system's), as ``fmt``; "" when unknown.

    A message's Date carries the sender's offset: shown as sent, three messages written at 09:00,
    18:00 and 10:00 UTC from three zones can all read 10:00. A time without an offset (a broken
    Date header) is taken as UTC, as IMAP servers do for INTERNALDATE. One local time cannot
    hold (year 1, year 9999) is shown as it is.
    """
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone().strftime(fmt)
    except (OverflowError, ValueError, OSError):
        # A sender's Date can be any year: at the ends of time (9999-12-31 -0500 is past
        # year 9999 in UTC) there is no local time to give. Shown as sent, with its offset.
        return moment.strftime(fmt)


def folder_rank(folder: Folder) -> tuple[int, str]:
    """Sort key among sibling folders: INBOX, then the special-use folders in
    SPECIAL_USE_ORDER, then the rest by name, case ignored."""
    if folder.name == "INBOX":
        return (0, "")
    use = (folder.special_use or "").lower()
    if use in SPECIAL_USE_ORDER:
        return (1 + SPECIAL_USE_ORDER.index(use), folder.name.casefold())
    return (100, folder.name.casefold())


def sorted_folders(folders: Iterable[Folder]) -> list[Folder]:
    """The folders as one flat list in ``folder_rank`` order (the command line's listing; the
    mail browser applies the same key among the children of each folder of its tree)."""
    return sorted(folders, key=folder_rank)
