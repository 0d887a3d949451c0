"""The text a person edits in ``$EDITOR`` to write a message, as mutt and aerc do.

Header lines first (From, To, Cc, Bcc, Subject, one ``Attach:`` line per file, then the draft's
extra headers), a blank line, then the body. Editing the lines edits the message: a line
deleted is a field emptied, an ``Attach:`` line added is a file attached. A line that is not
``Name: value`` is an error naming it; an unknown field is kept as an extra header if
``check_header`` allows it (``X-Priority: 1``), refused with its line number if not. A
template saved unchanged is the person's way of saying "do not send" (``unchanged``).
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

from o365imap.compose._addresses import check_header, check_value, format_address, parse_addresses
from o365imap.compose._draft import Attachment, Draft
from o365imap.errors import UsageError

__all__ = ["parse_template", "render_template", "unchanged"]

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_ADDRESS_FIELDS = {"from": "from", "to": "to", "cc": "cc", "bcc": "bcc", "reply-to": "reply_to"}


def render_template(draft: Draft) -> str:
    """The draft as the text a person edits (From, To, Cc, Bcc, Subject always shown)."""
    lines = [
        f"From: {draft.sender or ''}",
        f"To: {', '.join(draft.to)}",
        f"Cc: {', '.join(draft.cc)}",
        f"Bcc: {', '.join(draft.bcc)}",
    ]
    if draft.reply_to:
        lines.append(f"Reply-To: {', '.join(draft.reply_to)}")
    lines.append(f"Subject: {draft.subject}")
    lines += [f"Attach: {a.path}" for a in draft.files]
    lines += [f"{name}: {value}" for name, value in draft.headers]
    return "\n".join(lines) + "\n\n" + (draft.text or "")


def _fields(header: list[str]) -> list[tuple[int, str, str]]:
    """``(line number, name, value)`` for each field, continuation lines joined."""
    fields: list[tuple[int, str, str]] = []
    for number, line in enumerate(header, 1):
        if line[:1] in (" ", "\t") and fields:
            start, name, value = fields[-1]
            fields[-1] = (start, name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or name != name.rstrip() or " " in name.strip():
            raise UsageError(f"line {number} of the message is not 'Name: value': {line!r}")
        fields.append((number, name.strip(), value.strip()))
    return fields


def parse_template(text: str, *, base: Draft) -> Draft:
    """The draft a person's edited template says, built on ``base``.

    What the template shows replaces ``base``'s (From, To, Cc, Bcc, Reply-To, Subject, the
    attachments, the extra headers, the text); what it does not show is kept (In-Reply-To,
    References). The HTML of ``base`` is dropped: the person edited the text. An ``Attach:``
    path naming one of ``base``'s attachments keeps its name and type; ``~`` is expanded.
    UsageError naming the line: a line that is not ``Name: value``, an address that does not
    parse, a refused field. UsageError: no recipient at all; nothing to send (no text, no
    subject, no attachment).
    """
    text = text.replace("\r\n", "\n")
    # the header ends at the first blank line, spaces or not (an editor may leave one there):
    # else a body's first line "Note: ..." would become a header and the body go
    parts = _BLANK_LINE.split(text, maxsplit=1)
    header_text, body = parts[0], parts[1] if len(parts) > 1 else ""
    header = [line for line in header_text.split("\n") if line.strip()]
    known = {os.path.normpath(a.path): a for a in base.files}
    sender: str | None = None
    lists: dict[str, list[str]] = {"to": [], "cc": [], "bcc": [], "reply_to": []}
    subject = ""
    attachments: list[Attachment] = []
    extra: list[tuple[str, str]] = []
    for number, name, value in _fields(header):
        lower = name.lower()
        try:
            if lower in _ADDRESS_FIELDS:
                found = [format_address(a) for a in parse_addresses(value)]
                if lower != "from":
                    lists[_ADDRESS_FIELDS[lower]] += found
                elif len(found) > 1:
                    raise UsageError("From must be one address")
                else:
                    sender = found[0] if found else None
            elif lower == "subject":
                subject = check_value("the subject", value)
            elif lower == "attach":
                if value:
                    path = os.path.normpath(os.path.expanduser(value))
                    attachments.append(known.get(path) or Attachment(Path(path)))
            else:
                extra.append(check_header(name, value))
        except UsageError as exc:
            raise UsageError(f"line {number} of the message: {exc}") from exc
    body = body.rstrip("\n") + "\n" if body.strip() else ""
    draft = replace(
        base,
        sender=sender,
        to=tuple(lists["to"]),
        cc=tuple(lists["cc"]),
        bcc=tuple(lists["bcc"]),
        reply_to=tuple(lists["reply_to"]),
        subject=subject,
        text=body,
        html=None,
        attachments=tuple(attachments),
        headers=tuple(extra),
    )
    if not (draft.to or draft.cc or draft.bcc):
        raise UsageError("the message has no recipient: fill in To, Cc or Bcc")
    if not (body or draft.subject or draft.attachments):
        raise UsageError("the message is empty: no text, no subject, no attachment")
    return draft


def unchanged(before: str, after: str) -> bool:
    """Whether the person saved the template without editing it (trailing spaces, line
    endings and blank lines at the end do not count): the caller then does not send."""

    def normal(text: str) -> list[str]:
        lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    return normal(before) == normal(after)
