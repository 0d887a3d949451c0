"""What the CLI prints: JSON Lines for scripts, tables for people (TSV in a pipe: cli/tables).

The JSON shapes are a contract: scripts parse them. Field names and types change only with a
major version. Dates are ISO 8601 with their UTC offset (null when missing or unparseable),
strings are decoded text (null for NIL), address lists are arrays of {"name", "email"} with
groups as {"group", "members"}.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any, TextIO

from o365imap._display import human_size, local_time, sorted_folders
from o365imap._terminal_text import for_terminal
from o365imap.cli.tables import Column, RowWriter, Styled, print_table
from o365imap.models import (
    AddressEntry,
    Capabilities,
    Folder,
    FolderInfo,
    FolderStatus,
    Group,
    MessageSummary,
)

if TYPE_CHECKING:  # rich comes only to draw for a terminal (cli/tables)
    from rich.console import Console

__all__ = [
    "address_json",
    "capabilities_json",
    "emit_json",
    "folder_info_json",
    "folder_json",
    "human_size",
    "message_cells",
    "message_json",
    "message_json_line",
    "print_folder_info",
    "print_folders",
    "print_messages",
    "sorted_folders",
]


def emit_json(obj: dict[str, Any], out: TextIO | None = None) -> None:
    """One JSON object on one line (JSON Lines), non-ASCII kept readable."""
    stream = out or sys.stdout
    stream.write(json.dumps(obj, ensure_ascii=False, separators=(", ", ": ")) + "\n")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def address_json(entries: Sequence[AddressEntry]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry in entries:
        if isinstance(entry, Group):
            out.append(
                {
                    "group": entry.name,
                    "members": [{"name": m.name, "email": m.email} for m in entry.members],
                }
            )
        else:
            out.append({"name": entry.name, "email": entry.email})
    return out


def message_json(message: MessageSummary) -> dict[str, Any]:
    env = message.envelope
    return {
        "seq": message.seq,
        "uid": message.uid,
        "flags": list(message.flags),
        "size": message.size,
        "internal_date": _iso(message.internal_date),
        "date": _iso(env.date) if env else None,
        "subject": env.subject if env else None,
        "from": address_json(env.from_) if env else [],
        "sender": address_json(env.sender) if env else [],
        "reply_to": address_json(env.reply_to) if env else [],
        "to": address_json(env.to) if env else [],
        "cc": address_json(env.cc) if env else [],
        "bcc": address_json(env.bcc) if env else [],
        "in_reply_to": env.in_reply_to if env else None,
        "message_id": env.message_id if env else None,
    }


# ---- the listing's JSON Lines, written without building dicts first
#
# ``list --all --json`` prints tens of thousands of lines; building a dict per message and
# handing it to json.dumps cost as much as parsing the server's response. This writer makes the
# same text directly (tests check it equals json.dumps(message_json(m))), with each address
# list's JSON made once: listings repeat the same senders and recipients.

# Keyed by the tuple's identity: the parser hands out the very same tuple for a repeated
# address list, and hashing a tuple of tuples of strings for every lookup cost more than the
# lookup saved. The tuple is kept in the value, so an id cannot be reused while cached.
_ADDRESS_JSON: dict[int, tuple[tuple[AddressEntry, ...], str]] = {}


# A folder has a few flag combinations, and the parser hands out one tuple for each.
_FLAGS_JSON: dict[tuple[str, ...], str] = {}


def _str_json(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def _flags_json(flags: tuple[str, ...]) -> str:
    text = _FLAGS_JSON.get(flags)
    if text is None:
        text = "[" + ", ".join(encode_basestring(f) for f in flags) + "]"
        if len(_FLAGS_JSON) >= 1024:
            _FLAGS_JSON.clear()
        _FLAGS_JSON[flags] = text
    return text


def _addresses_json(entries: tuple[AddressEntry, ...]) -> str:
    if not entries:
        return "[]"
    cached = _ADDRESS_JSON.get(id(entries))
    if cached is not None and cached[0] is entries:
        return cached[1]
    parts: list[str] = []
    for entry in entries:
        if isinstance(entry, Group):
            text = json.dumps(address_json(entries), ensure_ascii=False, separators=_SEPARATORS)
            break
        # json.dumps writes strings with this very function (ensure_ascii=False): same text,
        # without a dict and an encoder call per address (most lists of a real mailbox are new)
        parts.append(f'{{"name": {_str_json(entry.name)}, "email": {_str_json(entry.email)}}}')
    else:
        text = "[" + ", ".join(parts) + "]"
    if len(_ADDRESS_JSON) >= 16384:
        _ADDRESS_JSON.clear()
    _ADDRESS_JSON[id(entries)] = (entries, text)
    return text


_SEPARATORS = (", ", ": ")


def message_json_line(message: MessageSummary) -> str:
    """``json.dumps(message_json(message))`` (with our separators), made faster; no newline."""
    env = message.envelope
    internal = "null" if message.internal_date is None else f'"{message.internal_date.isoformat()}"'
    head = (
        f'{{"seq": {message.seq}, "uid": {"null" if message.uid is None else message.uid}, '
        f'"flags": {_flags_json(message.flags)}, '
        f'"size": {"null" if message.size is None else message.size}, '
        f'"internal_date": {internal}, '
    )
    if env is None:
        return head + (
            '"date": null, "subject": null, "from": [], "sender": [], "reply_to": [], '
            '"to": [], "cc": [], "bcc": [], "in_reply_to": null, "message_id": null}'
        )
    date = "null" if env.date is None else f'"{env.date.isoformat()}"'
    return (
        f'{head}"date": {date}, "subject": {_str_json(env.subject)}, '
        f'"from": {_addresses_json(env.from_)}, "sender": {_addresses_json(env.sender)}, '
        f'"reply_to": {_addresses_json(env.reply_to)}, "to": {_addresses_json(env.to)}, '
        f'"cc": {_addresses_json(env.cc)}, "bcc": {_addresses_json(env.bcc)}, '
        f'"in_reply_to": {_str_json(env.in_reply_to)}, '
        f'"message_id": {_str_json(env.message_id)}}}'
    )


def folder_json(folder: Folder) -> dict[str, Any]:
    return {
        "name": folder.name,
        "delimiter": folder.delimiter,
        "flags": list(folder.flags),
        "special_use": folder.special_use,
    }


def folder_info_json(info: FolderInfo, status: FolderStatus) -> dict[str, Any]:
    """EXAMINE's answer; ``unseen`` (how many) comes from STATUS, ``first_unseen`` (the
    sequence number of the first one) from EXAMINE."""
    return {
        "name": info.name,
        "exists": info.exists,
        "recent": info.recent,
        "unseen": status.unseen,
        "first_unseen": info.first_unseen,
        "uidvalidity": info.uidvalidity,
        "uidnext": info.uidnext,
        "flags": list(info.flags),
        "permanent_flags": list(info.permanent_flags),
        "read_only": info.read_only,
    }


def capabilities_json(caps: Capabilities) -> dict[str, Any]:
    return {"capabilities": sorted(caps.names)}


def _who(entries: Sequence[AddressEntry]) -> str:
    if not entries:
        return ""
    first = entries[0]
    name = first.name if isinstance(first, Group) else first.name or first.email or ""
    return for_terminal(name, one_line=True)


def addresses_text(entries: Sequence[AddressEntry]) -> str:
    """``Name <a@b>, c@d, Group: ...;`` for a person to read."""
    return ", ".join(str(entry) for entry in entries)


# The listing's columns. UID, not the sequence number: it is what `show` and `save` take, and
# it stays the same when other messages are deleted. The date is local ("2024-03-05 18:00").
_DATE_FORMAT = "%Y-%m-%d %H:%M"
_MESSAGE_COLUMNS = (
    Column("UID", justify="right", style="dim"),
    Column("Date", width=16),
    Column("From", max_width=28),
    Column("Subject"),
    Column("Size", justify="right", width=10),  # "1023.9 KiB"
    Column("Flags", width=5),
)


def message_cells(message: MessageSummary) -> tuple[str, str, str, Styled, str, str]:
    """The listing's row of one message, as a person reads it."""
    env = message.envelope
    when = (env.date if env and env.date else message.internal_date) or None
    unread = "\\Seen" not in message.flags
    marks = ("●" if unread else " ") + ("★" if "\\Flagged" in message.flags else " ")
    subject = Styled(
        for_terminal(env.subject or "", one_line=True) if env else "",
        style="bold" if unread else "",
    )
    return (
        str(message.uid) if message.uid is not None else "",
        local_time(when, _DATE_FORMAT),
        _who(env.from_) if env else "",
        subject,
        human_size(message.size),
        marks,
    )


def print_messages(
    console: Console | None, messages: Iterable[MessageSummary], title: str, *, uid_digits: int = 3
) -> int:
    """The listing, written row by row as ``messages`` come (a table of 100,000 messages is
    never held); ``uid_digits``: the widest UID's digits (from UIDNEXT), fixed up front.
    ``console``: None for stdout in a pipe (``tables.table_console``)."""
    uid = replace(_MESSAGE_COLUMNS[0], width=max(3, uid_digits))
    writer = RowWriter(
        console, (uid, *_MESSAGE_COLUMNS[1:]), title=for_terminal(title, one_line=True)
    )
    for message in messages:
        writer.write(message_cells(message))
    return writer.count


def print_folders(console: Console | None, folders: Iterable[Folder]) -> None:
    rows = []
    for folder in folders:
        # The special use has its column: among the other flags it would say it twice.
        use = (folder.special_use or "").lower()
        flags = [flag for flag in folder.flags if flag.lower() != use]
        rows.append(
            (
                for_terminal(folder.name, one_line=True),
                folder.special_use or "",
                for_terminal(" ".join(flags), one_line=True),
            )
        )
    columns = (Column("Folder", wrap=True), Column("Special use"), Column("Flags", style="dim"))
    print_table(console, columns, rows, title="Folders")


def folder_info_rows(info: FolderInfo, status: FolderStatus) -> list[tuple[str, str]]:
    """``info``'s counts as a person reads them: words for true and false, an empty list
    left out, read-only said as such."""
    rows: list[tuple[str, str]] = []
    for key, value in folder_info_json(info, status).items():
        if key in ("name", "read_only") or value is None or value == []:
            continue
        shown = " ".join(value) if isinstance(value, list) else str(value)
        rows.append((key.replace("_", " "), for_terminal(shown, one_line=True)))
    rows.append(("opened", "read-only" if info.read_only else "read-write"))
    return rows


def print_folder_info(console: Console | None, info: FolderInfo, status: FolderStatus) -> None:
    columns = (Column("Field", style="bold"), Column("Value", wrap=True))
    rows = folder_info_rows(info, status)
    print_table(
        console, columns, rows, title=for_terminal(info.name, one_line=True), show_header=False
    )
