"""Server replies turned into the public models: plain functions over parsed responses.

Nothing here sends or reads: the client collects a command's untagged responses and its tagged
completion, and these functions say what they mean (RFC 3501 7.2-7.4, RFC 2342 NAMESPACE,
RFC 6154 SPECIAL-USE). Kept apart so the client stays a driver and the models stay data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from o365imap.models import (
    Capabilities,
    Folder,
    FolderChanges,
    FolderInfo,
    FolderStatus,
    MessageSummary,
    Namespace,
)
from o365imap.protocol import Fetch, Tagged, Untagged, decode_utf7, parse_number, parse_values

__all__ = [
    "append_uid",
    "capabilities_from",
    "copy_uids",
    "folder_changes",
    "folder_from",
    "folder_info",
    "folder_status",
    "namespace_from",
    "search_numbers",
    "summary_from",
]

_SPECIAL_USE = {"\\all", "\\archive", "\\drafts", "\\flagged", "\\junk", "\\sent", "\\trash"}


def capabilities_from(values: Iterable[Any]) -> Capabilities:
    return Capabilities(
        frozenset(v.decode("ascii", "replace").upper() for v in values if isinstance(v, bytes))
    )


def summary_from(response: Fetch) -> MessageSummary:
    """A listing row from a ``FETCH (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)`` answer."""
    get = response.items.get
    # The fields in MessageSummary's order, made as its own __new__ makes them, without the
    # keyword call: half the time, once per message of a listing.
    return _new_tuple(
        MessageSummary,
        (
            response.seq,
            get("UID"),
            get("FLAGS", ()),
            get("RFC822.SIZE"),
            get("INTERNALDATE"),
            get("ENVELOPE"),
        ),
    )


_new_tuple = tuple.__new__


def folder_from(values: Sequence[Any]) -> Folder | None:
    """One ``* LIST (flags) "delimiter" name`` response; None when it is not well formed."""
    if len(values) < 3 or not isinstance(values[0], list):
        return None
    flags = tuple(f.decode("ascii", "replace") for f in values[0] if isinstance(f, bytes))
    delimiter = values[1].decode("utf-8", "replace") if isinstance(values[1], bytes) else None
    raw_name = values[2] if isinstance(values[2], bytes) else b""
    special = next((f for f in flags if f.lower() in _SPECIAL_USE), None)
    name = decode_utf7(raw_name)
    if name.upper() == "INBOX":
        name = "INBOX"  # RFC 3501: case-insensitive; Office 365 sometimes says "Inbox"
    return Folder(
        name=name, raw_name=raw_name, delimiter=delimiter, flags=flags, special_use=special
    )


def namespace_from(untagged: Iterable[Untagged]) -> Namespace:
    """The ``* NAMESPACE personal other shared`` response; empty when there is none."""
    for response in untagged:
        if response.kind == "NAMESPACE":
            values = [*response.values, None, None, None]
            return Namespace(
                _namespace_part(values[0]), _namespace_part(values[1]), _namespace_part(values[2])
            )
    return Namespace()


def _namespace_part(value: Any) -> tuple[tuple[str, str | None], ...]:
    if not isinstance(value, list):
        return ()
    out: list[tuple[str, str | None]] = []
    for entry in value:
        if isinstance(entry, list) and entry and isinstance(entry[0], bytes):
            delim = (
                entry[1].decode("utf-8", "replace")
                if len(entry) > 1 and isinstance(entry[1], bytes)
                else None
            )
            out.append((decode_utf7(entry[0]), delim))
    return tuple(out)


def folder_status(name: str, untagged: Iterable[Untagged]) -> FolderStatus:
    """``* STATUS name (MESSAGES n UNSEEN n ...)`` (RFC 3501 7.2.4)."""
    counts: dict[str, int] = {}
    for response in untagged:
        if response.kind == "STATUS" and len(response.values) >= 2:
            pairs = response.values[1]
            if isinstance(pairs, list):
                for i in range(0, len(pairs) - 1, 2):
                    key, value = pairs[i], pairs[i + 1]
                    if isinstance(key, bytes) and isinstance(value, bytes) and value.isdigit():
                        number = parse_number(value, b"* STATUS " + key + b" " + value)
                        counts[key.decode("ascii", "replace").upper()] = number
    return FolderStatus(
        name=name,
        messages=counts.get("MESSAGES"),
        recent=counts.get("RECENT"),
        unseen=counts.get("UNSEEN"),
        uidnext=counts.get("UIDNEXT"),
        uidvalidity=counts.get("UIDVALIDITY"),
    )


def search_numbers(untagged: Iterable[Untagged]) -> list[int]:
    """The numbers of every ``* SEARCH`` response (there may be several)."""
    numbers: list[int] = []
    for response in untagged:
        if response.kind == "SEARCH":
            numbers += [
                parse_number(v, b"* SEARCH " + v)
                for v in response.values
                if isinstance(v, bytes) and v.isdigit()
            ]
    return numbers


def folder_info(
    name: str, untagged: Iterable[Untagged], tagged: Tagged, readonly: bool
) -> FolderInfo:
    """What SELECT or EXAMINE said about the folder (RFC 3501 6.3.1)."""
    exists = recent = 0
    unseen = uidvalidity = uidnext = modseq = None
    flags: tuple[str, ...] = ()
    permanent: tuple[str, ...] = ()
    for response in untagged:
        if response.kind == "EXISTS" and response.number is not None:
            exists = response.number
        elif response.kind == "RECENT" and response.number is not None:
            recent = response.number
        elif response.kind == "FLAGS" and response.values and isinstance(response.values[0], list):
            flags = _texts(response.values[0])
        elif response.kind == "OK":
            if response.code == "UNSEEN":
                unseen = _int_code(response.code, response.code_data)
            elif response.code == "UIDVALIDITY":
                uidvalidity = _int_code(response.code, response.code_data)
            elif response.code == "UIDNEXT":
                uidnext = _int_code(response.code, response.code_data)
            elif response.code == "HIGHESTMODSEQ":
                modseq = _int_code(response.code, response.code_data)
            elif response.code == "PERMANENTFLAGS" and response.code_data is not None:
                values = parse_values([response.code_data])
                if values and isinstance(values[0], list):
                    permanent = _texts(values[0])
    code = tagged.code
    read_only = readonly if code not in ("READ-ONLY", "READ-WRITE") else code == "READ-ONLY"
    return FolderInfo(
        name=name,
        exists=exists,
        recent=recent,
        first_unseen=unseen,
        uidvalidity=uidvalidity,
        uidnext=uidnext,
        flags=flags,
        permanent_flags=permanent,
        read_only=read_only,
        highestmodseq=modseq,
    )


def _texts(values: Iterable[Any]) -> tuple[str, ...]:
    return tuple(v.decode("utf-8", "replace") for v in values if isinstance(v, bytes))


def _int_code(code: str, data: bytes | None) -> int | None:
    """A response code's number (``[UIDVALIDITY 3857529045]``), None if it is not one."""
    if data is None:
        return None
    text = data.strip()
    return parse_number(text, f"[{code} ".encode() + text) if text.isdigit() else None


def folder_changes(untagged: Iterable[Untagged], fetches: Iterable[Fetch]) -> FolderChanges:
    """What NOOP or IDLE brought: counts, expunges and flag changes (RFC 3501 7.3-7.4)."""
    exists = recent = None
    expunged: list[int] = []
    for response in untagged:
        if response.number is None:
            continue
        if response.kind == "EXISTS":
            exists = response.number
        elif response.kind == "RECENT":
            recent = response.number
        elif response.kind == "EXPUNGE":
            expunged.append(response.number)
    flags = tuple((f.seq, f.items["FLAGS"]) for f in fetches if "FLAGS" in f.items)
    return FolderChanges(exists, tuple(expunged), recent, flags)


def copy_uids(code: str | None, data: bytes | None, sent: int) -> tuple[int, dict[int, int]] | None:
    """``[COPYUID uidvalidity source-set dest-set]`` (RFC 4315 3): the destination's
    UIDVALIDITY and old UID -> new UID; None when absent or not believable. The sets are
    expanded only up to ``sent`` UIDs: a hostile ``1:4294967295`` cannot fill memory."""
    if code != "COPYUID" or not data:
        return None
    parts = data.split()
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    source = _uid_set(parts[1], sent)
    target = _uid_set(parts[2], sent)
    if source is None or target is None or len(source) != len(target):
        return None
    uidvalidity = parse_number(parts[0], b"[COPYUID " + data[:100])
    return uidvalidity, dict(zip(source, target, strict=True))


def append_uid(code: str | None, data: bytes | None) -> tuple[int, int] | None:
    """``[APPENDUID uidvalidity uid]`` (RFC 4315 3): the folder's UIDVALIDITY and the new UID."""
    if code != "APPENDUID" or not data:
        return None
    parts = data.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    line = b"[APPENDUID " + data[:100]
    return parse_number(parts[0], line), parse_number(parts[1], line)


def _uid_set(text: bytes, most: int) -> list[int] | None:
    """The UIDs of ``1:3,7`` in the server's order, or None past ``most`` UIDs or malformed."""
    found: list[int] = []
    for piece in text.split(b","):
        ends = piece.split(b":")
        if len(ends) > 2 or not all(e.isdigit() for e in ends):
            return None
        # A range is the UIDs between its ends, whatever their order (RFC 3501 9 seq-range).
        numbers = [parse_number(e, b"[COPYUID " + text[:100]) for e in ends]
        first, last = min(numbers), max(numbers)
        if last - first + 1 > most - len(found):
            return None
        found.extend(range(first, last + 1))
    return found
