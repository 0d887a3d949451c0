"""Drafts that answer a message (reply, reply to all) or pass it on (forward).

The original is parsed whole by the stdlib (``BytesParser`` with ``policy.default``): it is the
message open in the browser, already bounded, and the stdlib's header objects give its
addresses, Date and IDs decoded. The quoted text is the one the browser shows (text/plain, or
``html_to_text`` of the HTML). A forward keeps the original's attachments: each is written
into a folder under the name ``safe_filename`` makes of it (the sanitiser saving uses too) and
attached again under that name. Threading follows RFC 5322 section 3.6.4.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Iterator
from email import policy as policies
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path
from typing import BinaryIO, cast

from o365imap.compose._addresses import UNSAFE_IN_HEADER, parse_addresses
from o365imap.compose._draft import Attachment, Draft
from o365imap.errors import StorageError, UsageError
from o365imap.messages import html_to_text
from o365imap.mime import safe_filename, unique_path

__all__ = ["MAX_REFERENCES", "forward_draft", "reply_draft", "subject_with"]

MAX_REFERENCES = 20  # the thread's first ID and the last 19: enough to thread, never unbounded
FORWARD_LINE = "---------- Forwarded message ---------"  # Gmail's words, which Outlook knows
_REPLY_PREFIX = re.compile(r"\A\s*(?:(?:re|aw)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_FORWARD_PREFIX = re.compile(r"\A\s*(?:(?:fwd?|wg)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)
# IDs that can be sent back (printable ASCII, as check_message_id wants): one odd ID in a
# long References chain is left out rather than stop the reply
_MESSAGE_ID = re.compile(r"<[!-;=?-~]+>")


def _parse(original: bytes | BinaryIO) -> EmailMessage:
    parser = BytesParser(policy=policies.default)
    parsed = parser.parsebytes(original) if isinstance(original, bytes) else parser.parse(original)
    return parsed


def _header(message: Message, name: str) -> str:
    """A header's decoded value, "" when missing or beyond the stdlib's parser."""
    try:
        value = message.get(name)
    except Exception:  # policy.default raises on a few malformed headers
        value = None
    return " ".join(UNSAFE_IN_HEADER.sub(" ", str(value)).split()) if value is not None else ""


def _addresses(message: Message, *names: str) -> list[str]:
    """The addresses of the fields ``names``, each as RFC 5322 writes it; the unusable
    (no domain, not ASCII) left out, so that one odd address does not stop a reply."""
    found: list[str] = []
    for name in names:
        try:
            headers = message.get_all(name, [])
            addresses = [a for h in headers for a in getattr(h, "addresses", ())]
        except Exception:  # see _header
            addresses = []
        for address in cast(list[HeaderAddress], addresses):
            text = str(address)
            try:
                parse_addresses(text)
            except UsageError:
                continue
            found.append(text)
    return found


def _email(address: str) -> str:
    return (parse_addresses(address)[0].email or "").lower()


def _without(addresses: Iterable[str], exclude: set[str]) -> list[str]:
    kept: list[str] = []
    for address in addresses:
        key = _email(address)
        if key not in exclude:
            exclude.add(key)
            kept.append(address)
    return kept


def subject_with(prefix: str, subject: str) -> str:
    """``Re: x`` or ``Fwd: x``: leading prefixes of the same kind (Re, RE, AW, Re[2]; Fwd, FW,
    WG; with or without a space) replaced by one."""
    pattern = _REPLY_PREFIX if prefix.lower().startswith("re") else _FORWARD_PREFIX
    return f"{prefix}: {pattern.sub('', subject).strip()}"


def _references(message: Message) -> tuple[str, ...]:
    chain = _MESSAGE_ID.findall(_header(message, "References"))
    if not chain:
        chain = _MESSAGE_ID.findall(_header(message, "In-Reply-To"))[:1]
    own = _MESSAGE_ID.findall(_header(message, "Message-ID"))[:1]
    chain += [i for i in own if i not in chain]
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1) :]]
    return tuple(chain)


def _body_text(message: EmailMessage) -> str:
    """The text a person reads: the text/plain part, else the HTML made text; "" if neither."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = str(part.get_content())
    except (LookupError, ValueError):  # an unknown charset: decode as UTF-8, replacing
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if part.get_content_subtype() == "html":
        return textwrap.dedent(html_to_text(content))  # a <div> indents it all
    return content.replace("\r\n", "\n")


def _quoted(text: str) -> Iterator[str]:
    if not text.strip():
        return
    for line in text.rstrip("\n").split("\n"):
        if not line:
            yield ">"
        elif line.startswith(">"):
            yield ">" + line
        else:
            yield "> " + line


def _attribution(message: Message) -> str:
    senders = message.get("From")
    addresses = getattr(senders, "addresses", ()) if senders is not None else ()
    who = (addresses[0].display_name or addresses[0].addr_spec) if addresses else "someone"
    try:
        date = getattr(message.get("Date"), "datetime", None)
    except Exception:  # see _header
        date = None
    when = f"On {date:%a, %d %b %Y at %H:%M}, " if date is not None else ""
    return f"{when}{who} wrote:" if when else f"{who} wrote:"


def reply_draft(original: bytes | BinaryIO, *, me: str, reply_all: bool = False) -> Draft:
    """A reply to ``original`` (a message's bytes, or a binary file of them) from ``me``.

    To: the original's Reply-To, else its From (its To when that is ``me``: a reply to one's
    own message goes on to its recipients). ``reply_all`` adds its To and Cc as Cc, without
    ``me`` and without repeats (addresses compared case-insensitively). Subject ``Re: ...``
    (never ``Re: Re:``); In-Reply-To its Message-ID; References its References (or
    In-Reply-To) and its Message-ID, at most MAX_REFERENCES. The text: ``On <date>, <name>
    wrote:`` and its text quoted with ``> ``.
    """
    message = _parse(original)
    mine = {_email(me)}
    targets = _addresses(message, "Reply-To") or _addresses(message, "From")
    if targets and all(_email(a) in mine for a in targets):
        targets = _addresses(message, "To") or targets
    to = _without(targets, set())
    cc = _without(_addresses(message, "To", "Cc"), mine | {_email(a) for a in to})
    own_id = _MESSAGE_ID.findall(_header(message, "Message-ID"))
    quote = "\n".join([_attribution(message), *_quoted(_body_text(message))])
    return Draft(
        sender=me,
        to=tuple(to),
        cc=tuple(cc) if reply_all else (),
        subject=subject_with("Re", _header(message, "Subject")),
        text=f"{quote}\n\n",
        in_reply_to=own_id[0] if own_id else None,
        references=_references(message),
    )


def _save_attachments(message: EmailMessage, directory: Path) -> list[Attachment]:
    """Each attachment of ``message`` written into ``directory`` under its safe name."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {directory}: {exc.strerror}") from exc
    saved: list[Attachment] = []
    for index, part in enumerate(message.iter_attachments(), 1):
        content_type = part.get_content_type()
        name = safe_filename(
            part.get_filename(),
            content_type=content_type,
            index=index,
            kind=part.get_content_disposition() or "",
        )
        if part.get_content_maintype() == "message" and part.is_multipart():
            data = cast(Message, part.get_payload(0)).as_bytes(policy=policies.SMTP)
        else:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
        path = unique_path(directory, name)
        try:
            with open(path, "xb") as handle:
                handle.write(data)
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc.strerror}") from exc
        saved.append(Attachment(path, filename=name, content_type=content_type))
    return saved


def forward_draft(original: bytes | BinaryIO, *, me: str, attachments_dir: Path) -> Draft:
    """A forward of ``original`` from ``me``, to nobody yet (the person fills in To).

    Subject ``Fwd: ...`` (never ``Fwd: Fwd:``); the text: a ``---------- Forwarded message
    ---------`` block (From, Date, Subject, To, Cc) and the original's text. Its attachments
    are kept: written into ``attachments_dir`` (created if needed; a name taken there gets
    `` (2)``) and attached under their own names, made safe. StorageError when they cannot
    be written.
    """
    message = _parse(original)
    block = [FORWARD_LINE]
    for name in ("From", "Date", "Subject", "To", "Cc"):
        value = _header(message, name)
        if value:
            block.append(f"{name}: {value}")
    body = _body_text(message).rstrip("\n")
    text = "\n".join(["", "", *block, "", body]) + "\n"
    return Draft(
        sender=me,
        subject=subject_with("Fwd", _header(message, "Subject")),
        text=text,
        attachments=tuple(_save_attachments(message, Path(attachments_dir))),
    )
