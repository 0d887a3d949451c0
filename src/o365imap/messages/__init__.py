"""Open a message and save its parts: the policy between the IMAP client and ``mime``.

The rule this module keeps: attachment bytes flow, they are never gathered. A part goes
socket -> transfer decoder -> temporary file -> rename (``AtomicFile``), chunk by chunk, so
memory stays flat whatever its size; only the text shown to a person (capped) and a winmail.dat
being unpacked are held whole.

Two sources, one behaviour:

* a message on the server: BODYSTRUCTURE says what the parts are; text parts are fetched with
  ``BODY.PEEK`` (so nothing is marked read) and capped; the parts to save are fetched by
  section in one ``UID FETCH`` and streamed; a dropped connection is resumed where it broke
  (a partial ``BODY.PEEK[n]<offset>``) when the client can sign in again;
* a message as bytes (an ``.eml`` file, or a server whose BODYSTRUCTURE we cannot read): the
  streaming MIME parser finds the same parts, with the same numbers, in one pass; from a
  server, ``BODY.PEEK[]`` is resumed after a drop as the sections are.

Which parts are "the text" and which are "attachments" is decided here, once, the same way for
both sources (``_role``): a ``text/plain`` or ``text/html`` leaf without a file name that is not
marked ``attachment`` is body text; another leaf directly in a ``multipart/alternative`` is
another version of the text (``text/enriched``, ``text/calendar``: RFC 2046 5.1.4), never an
attachment; in a report (``multipart/report``, RFC 6522: a bounce, a delay notice, a read
receipt) the first part is the text, the second the machine-readable status and the third the
returned message or its headers; every other leaf, and every attached message (not looked
into), is an attachment (``disposition`` ``inline`` for images shown in the HTML).
"""

from __future__ import annotations

import email.utils
import hashlib
import itertools
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from o365imap.client import ImapClient
from o365imap.errors import (
    CommandError,
    ConnectionClosed,
    MessageNotFound,
    ProtocolError,
    ReadTimeout,
    StorageError,
    UsageError,
)
from o365imap.limits import check_uid
from o365imap.mime import AtomicFile, MimeParser, PartData, PartEnd, PartStart, safe_filename
from o365imap.mime.names import iter_numbered_names
from o365imap.mime.report import DELIVERY_STATUS_TYPES, DeliveryStatus, parse_delivery_status
from o365imap.mime.sink import make_directory
from o365imap.mime.tnef import TnefError, is_tnef, unpack_tnef
from o365imap.mime.transfer import IdentityDecoder, TransferDecoder, decoder_for
from o365imap.models import Address, AddressEntry, BodyPart, Envelope, MessageSummary
from o365imap.protocol import parse_number
from o365imap.protocol.events import Fetch, LiteralData, LiteralEnded, LiteralStarted
from o365imap.protocol.text import decode_2047, decode_bytes, parse_header_date

__all__ = [
    "MAX_TEXT_BYTES",
    "MessageNotFound",
    "MessageView",
    "PartHook",
    "PartInfo",
    "ProgressHook",
    "ReportInfo",
    "SavedPart",
    "html_to_text",
    "open_eml",
    "open_message",
    "save_eml_parts",
    "save_message",
    "save_parts",
]

log = logging.getLogger("o365imap.messages")

MAX_TEXT_BYTES = 4 << 20  # a text part shown to a person; a bigger one is cut (and says so)
_STREAM_THRESHOLD = 64 * 1024  # literals above this flow as chunks instead of values
_READ_SIZE = 256 * 1024
_MAX_RESUMES = 3
_PARTIAL_MAX = 0xFFFFFFFF  # RFC 3501 partial length is a 32-bit number: "to the end"
_SECTION = re.compile(r"^BODY\[([^\]]*)\](?:<([0-9]+)>)?$")
_ITEMS = "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)"


# ---------------------------------------------------------------- what a message holds


@dataclass(frozen=True, slots=True)
class PartInfo:
    """One part a person can save: an attachment, an inline image, an attached message.

    ``part`` is the IMAP part number (``"2"``, ``"1.2"``). ``filename`` is the name the sender
    gave (decoded, not yet made safe), or None. ``disposition`` is ``"attachment"`` or
    ``"inline"``. ``index`` is the position among the message's parts, used to name a part that
    has no name (``attachment-2.pdf``).

    Sizes, in bytes, each None when not known: ``encoded_size`` is the part as the message
    carries it, before transfer decoding (BODYSTRUCTURE's size, exact; counted for a parsed
    message); ``decoded_size`` is what saving it writes, known exactly only for a message that
    was parsed (an ``.eml`` file; ``SavedPart.size`` after a save); ``estimated_size`` is the
    decoded size, estimated from the encoded one when it is not known.
    """

    part: str
    content_type: str
    filename: str | None
    disposition: str
    content_id: str | None
    encoding: str | None = None
    index: int = 0
    container: str | None = None  # for a file unpacked from winmail.dat: that part's number
    encoded_size: int | None = None
    decoded_size: int | None = None

    @property
    def estimated_size(self) -> int | None:
        if self.decoded_size is not None:
            return self.decoded_size
        if self.encoded_size is None:
            return None
        if (self.encoding or "").lower() == "base64":
            # 76 characters and CRLF carry 57 bytes: an estimate, the last line being shorter
            return self.encoded_size * 57 // 78
        return self.encoded_size  # quoted-printable shrinks by an unknown amount; 7bit does not

    @property
    def is_tnef(self) -> bool:
        return is_tnef(self.content_type, self.filename)

    @property
    def safe_name(self) -> str:
        """The file name it is saved under (before `` (2)`` is added for a taken name)."""
        return safe_filename(
            self.filename, content_type=self.content_type, index=self.index, kind=self.disposition
        )


@dataclass(frozen=True, slots=True)
class ReportInfo:
    """A report (RFC 6522 ``multipart/report``): a bounce, a delay notice, a read receipt.

    ``type`` is its ``report-type`` (``"delivery-status"`` for a bounce or a delay notice,
    ``"disposition-notification"`` for a read receipt; ``"delivery-status"`` when it names
    none but its status part is one), or None.
    ``status_part`` is the machine-readable part (``message/delivery-status``); ``delivery``
    what it says, when it is a delivery status (RFC 3464: per recipient, the action, status
    code and diagnostic). ``returned`` is the message sent back (``message/rfc822``) or only
    its header (``text/rfc822-headers``), None when the report has no third part;
    ``returned_envelope`` its header fields (subject, Message-ID...) when they could be read.
    None of these parts is an attachment; each can still be saved by its number.
    """

    type: str | None
    status_part: PartInfo | None = None
    delivery: DeliveryStatus | None = None
    returned: PartInfo | None = None
    returned_envelope: Envelope | None = None

    @property
    def is_delivery_report(self) -> bool:
        """A bounce, a delay or a delivery notice, rather than another kind of report."""
        return self.type in ("delivery-status", "global-delivery-status")


@dataclass(frozen=True, slots=True)
class MessageView:
    """A message opened for reading: its listing fields, its text, and its parts.

    ``parts`` are what a person calls attachments (what ``save_parts`` saves); versions of
    the text that are not shown (``text/enriched`` beside ``text/plain``) are
    ``alternatives``; a bounce or another report has ``report``.
    """

    summary: MessageSummary
    text: str | None
    html: str | None
    parts: tuple[PartInfo, ...]
    headers: str | None = None
    text_from_html: bool = False  # ``text`` was made from the HTML (no text/plain part)
    truncated: bool = False  # a text part was longer than MAX_TEXT_BYTES and was cut
    structure: BodyPart | None = None
    alternatives: tuple[PartInfo, ...] = ()
    report: ReportInfo | None = None


@dataclass(frozen=True, slots=True)
class SavedPart:
    """A part that was written: where (None when the hook gave a stream), as what.

    ``size`` is the bytes written. ``complete`` is False when the message ends inside the
    part (a multipart without its close delimiter): what there was is saved, maybe cut short.
    """

    path: Path | None
    filename: str
    content_type: str
    size: int
    part: str
    sha256: str
    complete: bool = True


class _Writable(Protocol):
    def write(self, data: bytes, /) -> Any: ...


# The hook an application gives to decide, per part, where its bytes go: None to skip it, a
# folder (saved there under its safe name), a file path (written atomically), or a writable
# binary stream of its own (written, flushed, not closed).
PartHook = Callable[[PartInfo], "str | os.PathLike[str] | _Writable | None"]
# Progress: the part, decoded bytes written so far, and its expected size (None if unknown).
ProgressHook = Callable[[PartInfo, int, int | None], None]


# ---------------------------------------------------------------- text and html


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


# ---------------------------------------------------------------- classification


def _is_body_text(content_type: str, disposition: str | None, filename: str | None) -> bool:
    return (
        content_type in ("text/plain", "text/html")
        and not filename
        and (disposition or "").lower() != "attachment"
    )


def _disposition_of(content_type: str, disposition: str | None, content_id: str | None) -> str:
    value = (disposition or "").lower()
    if value in ("attachment", "inline"):
        return value
    # No header: an image the HTML refers to by Content-ID is shown inline, anything else is
    # an attachment as far as a reader is concerned.
    return "inline" if content_id and content_type.startswith("image/") else "attachment"


def _leaves(node: BodyPart) -> Iterator[BodyPart]:
    """Leaves in order; an attached message is a leaf here (it is saved whole, as .eml)."""
    if node.content_type.startswith("multipart/"):
        for child in node.children:
            yield from _leaves(child)
    else:
        yield node


_Role = Literal["body", "alternative", "status", "returned", "attachment"]
_HEADER_TYPES = frozenset({"text/rfc822-headers", "message/global-headers"})


@dataclass(frozen=True, slots=True)
class _Container:
    """The multipart a leaf is directly in: its subtype, and whether it is the report."""

    subtype: str
    report: bool


def _role(
    parent: _Container | None,
    position: int,
    content_type: str,
    disposition: str | None,
    filename: str | None,
) -> _Role:
    """What the leaf at ``position`` (from 1) in ``parent`` is to a reader (module docstring)."""
    if parent is not None and parent.report:
        # RFC 6522: text for people, the machine-readable status, the returned message
        if position == 1 and content_type in ("text/plain", "text/html"):
            return "body"
        if position == 2:
            return "status"
        if position == 3:
            return "returned"
    if _is_body_text(content_type, disposition, filename):
        return "body"
    if parent is not None and parent.subtype == "alternative":
        return "alternative"
    return "attachment"


def _report_type(params: Mapping[str, str]) -> str | None:
    return params.get("report-type", "").strip().lower() or None


@dataclass
class _Classified:
    """A BODYSTRUCTURE's leaves sorted by role; the report's pieces by node."""

    body: list[BodyPart] = field(default_factory=list)
    parts: list[PartInfo] = field(default_factory=list)
    alternatives: list[BodyPart] = field(default_factory=list)
    report: BodyPart | None = None  # the first multipart/report
    status: BodyPart | None = None
    returned: BodyPart | None = None

    def visit(self, node: BodyPart, parent: _Container | None, position: int) -> None:
        if node.is_multipart:
            report = node.subtype == "report" and self.report is None
            if report:
                self.report = node
            container = _Container(node.subtype, report)
            for number, child in enumerate(node.children, 1):
                self.visit(child, container, number)
            return
        role = _role(parent, position, node.content_type, node.disposition, node.filename)
        if role == "body":
            self.body.append(node)
        elif role == "alternative":
            self.alternatives.append(node)
        elif role == "status":
            self.status = node
        elif role == "returned":
            self.returned = node
        else:
            self.parts.append(_info(node, len(self.parts) + 1))


def _classify(structure: BodyPart) -> _Classified:
    found = _Classified()
    found.visit(structure, None, 1)
    return found


def _info(node: BodyPart, index: int) -> PartInfo:
    return PartInfo(
        part=node.part,
        content_type=node.content_type,
        filename=node.filename,
        disposition=_disposition_of(node.content_type, node.disposition, node.id),
        content_id=node.id,
        encoding=node.encoding,
        index=index,
        # Exchange reports -1 for the size of some parts: not a size
        encoded_size=node.size if node.size is not None and node.size >= 0 else None,
    )


def _find(structure: BodyPart, number: str) -> BodyPart | None:
    if structure.part == number and not structure.content_type.startswith("multipart/"):
        return structure
    for child in structure.children:
        found = _find(child, number)
        if found is not None:
            return found
    return None


def _is_broken(structure: BodyPart) -> bool:
    """Parts of the message itself that the server could not describe (NIL types, garbage).
    Attached messages are not looked into: they are saved whole, whatever is inside."""
    if structure.raw is not None:
        return True
    return any(leaf.raw is not None for leaf in _leaves(structure))


# ---------------------------------------------------------------- on the server


def _fetch_one(client: ImapClient, uid: int, items: str, *, keep: int = 1 << 20) -> Fetch:
    """The FETCH response for ``uid``; literals up to ``keep`` bytes are kept as values.

    Only a response carrying this UID counts: another client's flag change (an unsolicited
    ``FETCH (FLAGS ...)``) is not the answer."""
    found: Fetch | None = None
    for event in client.iter_fetch_events([uid], items, uid=True, stream_threshold=keep):
        if isinstance(event, Fetch) and found is None and event.items.get("UID") == uid:
            found = event
    if found is None:
        folder = client.selected.name if client.selected else "the folder"
        raise MessageNotFound(f"no message with UID {uid} in {folder}")
    return found


def _section_value(items: dict[str, Any], section: str) -> bytes | None:
    for name, value in items.items():
        match = _SECTION.match(name)
        if match and match.group(1) == section and isinstance(value, bytes):
            return value
    return None


def open_message(
    client: ImapClient,
    uid: int,
    *,
    headers: bool = False,
    mark_read: bool = False,
    max_text: int = MAX_TEXT_BYTES,
) -> MessageView:
    """The message ``uid`` of the selected folder: listing fields, text, html and parts.

    Reads with ``BODY.PEEK``: the message stays unread unless ``mark_read``. Two round trips
    (structure, then the text parts, each capped at ``max_text`` bytes), three with
    ``headers``. A server whose BODYSTRUCTURE cannot be read gets the message parsed whole,
    streamed, instead. ``mark_read`` needs the folder opened with ``select()``, not
    ``examine()`` (UsageError before anything is read).
    """
    check_uid(uid)
    if mark_read and client.selected is not None and client.selected.read_only:
        raise UsageError(
            f"{client.selected.name} is open read-only (examine): select() it to mark messages read"
        )
    try:
        response = _fetch_one(client, uid, _ITEMS)
    except CommandError as exc:
        # Exchange refuses BODYSTRUCTURE for some damaged messages; the message itself
        # usually still comes (parsed here instead).
        log.info("the server refused the structure of UID %s (%s)", uid, exc)
        response = _fetch_one(client, uid, _ITEMS.replace(" BODYSTRUCTURE", ""))
    summary = _summary_of(response)
    structure = response.items.get("BODYSTRUCTURE")
    if not isinstance(structure, BodyPart) or _is_broken(structure):
        log.info("BODYSTRUCTURE of UID %s is unreadable; parsing the message itself", uid)
        view = _read_stream(
            _iter_section(client, uid, ""), summary=summary, max_text=max_text, want_headers=headers
        )
    else:
        view = _read_structured(client, uid, summary, structure, headers, max_text)
    if mark_read and "\\Seen" not in summary.flags:
        client.store([uid], "+FLAGS", ["\\Seen"], uid=True)
        view = replace(view, summary=summary._replace(flags=(*summary.flags, "\\Seen")))
    return view


def _read_structured(
    client: ImapClient,
    uid: int,
    summary: MessageSummary,
    structure: BodyPart,
    want_headers: bool,
    max_text: int,
) -> MessageView:
    found = _classify(structure)
    body, parts = found.body, found.parts
    plain = [p for p in body if p.content_type == "text/plain"]
    html_part = next((p for p in body if p.content_type == "text/html"), None)
    wanted = [*plain, *([html_part] if html_part else [])]
    # What a report's status part says, and the header of a message returned as headers only,
    # come in the same FETCH as the text (the header of a returned message is in its ENVELOPE).
    status, returned = found.status, found.returned
    if status is not None and status.content_type in DELIVERY_STATUS_TYPES:
        wanted.append(status)
    if returned is not None and returned.content_type in _HEADER_TYPES:
        wanted.append(returned)
    items = [f"BODY.PEEK[{p.part}]<0.{max_text}>" for p in wanted]
    if want_headers:
        items.append(f"BODY.PEEK[HEADER]<0.{max_text}>")
    values: dict[str, Any] = {}
    if items:
        command = "(UID " + " ".join(items) + ")"
        values = _fetch_one(client, uid, command, keep=max_text + 1).items
    truncated = False
    texts: list[str] = []
    for part in plain:
        raw = _section_value(values, part.part) or b""
        truncated |= part.size is not None and part.size > max_text
        texts.append(_decode_text(raw, part.encoding, part.params.get("charset")))
    html = None
    if html_part is not None:
        raw = _section_value(values, html_part.part) or b""
        truncated |= html_part.size is not None and html_part.size > max_text
        html = _decode_text(raw, html_part.encoding, html_part.params.get("charset"))
    header_text = None
    if want_headers:
        header_text = _header_block(_section_value(values, "HEADER") or b"")
    text = "\n".join(texts) if texts else None
    from_html = text is None and html is not None
    if from_html:
        text = html_to_text(html or "")
    others = itertools.count(len(parts) + 1)  # the other parts are numbered after them
    alternatives = tuple(_info(node, next(others)) for node in found.alternatives)
    report = None
    if found.report is not None:

        def decoded(node: BodyPart | None) -> bytes | None:
            raw = _section_value(values, node.part) if node is not None else None
            if node is None or raw is None:
                return None
            decoder = decoder_for(node.encoding)
            return decoder.feed(raw) + decoder.flush()

        returned_envelope = returned.envelope if returned is not None else None
        if returned is not None and returned.content_type in _HEADER_TYPES:
            returned_envelope = _header_envelope(decoded(returned))
        report = _report_info(
            _report_type(found.report.params),
            _info(status, next(others)) if status is not None else None,
            decoded(status),
            _info(returned, next(others)) if returned is not None else None,
            returned_envelope,
        )
    return MessageView(
        summary,
        text,
        html,
        tuple(parts),
        header_text,
        from_html,
        truncated,
        structure,
        alternatives,
        report,
    )


def _report_info(
    report_type: str | None,
    status: PartInfo | None,
    status_data: bytes | None,
    returned: PartInfo | None,
    returned_envelope: Envelope | None,
) -> ReportInfo:
    delivery = None
    if status is not None and status_data is not None:
        delivery = parse_delivery_status(status_data)
    if report_type is None and status and status.content_type in DELIVERY_STATUS_TYPES:
        report_type = "delivery-status"  # a report that does not say what it is, but shows it
    return ReportInfo(report_type, status, delivery, returned, returned_envelope)


def _header_envelope(data: bytes | None) -> Envelope | None:
    """The ENVELOPE of a header block (a returned message's, sent as text/rfc822-headers)."""
    if not data:
        return None
    parser = MimeParser()
    events = [*parser.feed(data), *parser.close()]
    return _envelope_from(next((e for e in events if isinstance(e, PartStart)), None))


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


def _summary_of(response: Fetch) -> MessageSummary:
    items = response.items
    return MessageSummary(
        seq=response.seq,
        uid=items.get("UID"),
        flags=items.get("FLAGS", ()),
        size=items.get("RFC822.SIZE"),
        internal_date=items.get("INTERNALDATE"),
        envelope=items.get("ENVELOPE"),
    )


def _iter_section(client: ImapClient, uid: int, section: str) -> Iterator[bytes]:
    """The raw bytes of one section (``""``: the whole message), as they arrive.

    A dropped connection is resumed (``BODY.PEEK[section]<offset.>`` on a new one) when the
    client can sign in again, so a consumer sees one unbroken stream. A server that ignores
    the partial request and starts over has the bytes already handed on skipped; one that
    answers from a later byte than asked is an error, never a silent gap."""
    offset = 0  # bytes already handed on
    resumes = 0
    found = False
    while True:
        partial = f"<{offset}.{_PARTIAL_MAX}>" if offset else ""
        events = client.iter_fetch_events(
            [uid],
            f"(UID BODY.PEEK[{section}]{partial})",
            uid=True,
            stream_threshold=_STREAM_THRESHOLD,
        )
        skip: int | None = None  # of the literal being read: bytes handed on before a drop
        try:
            for event in events:
                chunk: bytes | None = None
                if isinstance(event, LiteralStarted):
                    skip = _overlap(event.item or "", section, offset)  # None: not ours
                elif isinstance(event, LiteralData):
                    chunk = event.data if skip is not None else None
                elif isinstance(event, Fetch) and event.items.get("UID") == uid:
                    found = True  # the body came streamed (or is empty)
                    for name, value in event.items.items():
                        skip = _overlap(name, section, offset)
                        if skip is not None and isinstance(value, bytes):
                            chunk = value
                            break
                if chunk is not None:
                    found = True
                    if skip:  # a server that ignored <offset.> and started over
                        cut = min(skip, len(chunk))
                        chunk, skip = chunk[cut:], skip - cut
                    if chunk:
                        offset += len(chunk)
                        yield chunk
            break
        except (ConnectionClosed, ReadTimeout) as exc:
            resumes += 1
            if not client.can_reconnect or resumes > _MAX_RESUMES:
                raise
            log.warning("connection lost while reading UID %s (%s); resuming", uid, exc)
            client.reconnect()
    if not found:
        raise MessageNotFound(f"no message with UID {uid}")


def _origin(digits: str | None) -> int:
    """The ``<origin>`` of a partial FETCH answer (0 when absent), bounded as every number."""
    if not digits:
        return 0
    return parse_number(digits.encode("ascii"), b"<" + digits[:40].encode("ascii") + b">")


def _overlap(item: str, section: str, offset: int) -> int | None:
    """How many leading bytes of an answer for ``item`` were already handed on; None when
    ``item`` is not ``section`` at all."""
    match = _SECTION.match(item)
    if match is None or match.group(1) != section:
        return None
    origin = _origin(match.group(2))
    if origin > offset:
        raise ProtocolError(
            f"asked for section [{section}] from byte {offset}, the server answered from "
            f"byte {origin}"
        )
    return offset - origin


def save_message(
    client: ImapClient,
    uid: int,
    directory: str | os.PathLike[str] = ".",
    *,
    filename: str | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
) -> SavedPart:
    """The whole raw message as ``<subject>.eml`` (or ``filename``) in ``directory``, streamed."""
    check_uid(uid)
    response = _fetch_one(client, uid, "(UID RFC822.SIZE ENVELOPE)")
    envelope = response.items.get("ENVELOPE")
    size = response.items.get("RFC822.SIZE")
    subject = envelope.subject if isinstance(envelope, Envelope) else None
    if subject and subject.strip():
        # A subject is text, not a path: "Notes 1/2" must not become "2.eml".
        subject = re.sub(r"[/\\]", "_", subject.strip())
    name = safe_filename(
        filename or (subject + ".eml" if subject else None),
        content_type="message/rfc822",
        index=uid,
        kind="attachment",
    )
    if not name.lower().endswith(".eml"):
        name += ".eml"
    done = 0
    with AtomicFile(make_directory(directory), name, overwrite=overwrite) as out:
        for chunk in _iter_section(client, uid, ""):
            out.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, size)
    saved = out.result
    return SavedPart(saved.path, saved.name, "message/rfc822", saved.size, "", saved.sha256)


def save_parts(
    client: ImapClient,
    uid: int,
    directory: str | os.PathLike[str] = ".",
    *,
    parts: Sequence[str] | None = None,
    overwrite: bool = False,
    unpack_tnef: bool = True,
    on_part: PartHook | None = None,
    progress: ProgressHook | None = None,
    on_saved: Callable[[SavedPart], None] | None = None,
) -> list[SavedPart]:
    """Save the attachments and inline images of message ``uid`` (or just ``parts``).

    Every selected part is fetched by section in one ``UID FETCH`` and streamed through its
    transfer decoder into a temporary file that is renamed into place when complete. Names come
    from the message (made safe) or from type and position; a taken name gets `` (2)``...
    unless ``overwrite``. winmail.dat is unpacked into the files it carries unless
    ``unpack_tnef`` is False. ``on_part`` decides per part where the bytes go (see PartHook);
    it runs while the FETCH answer is being read, so it must not use ``client`` itself.
    ``on_saved`` hears of each file as it lands. A file unpacked from winmail.dat has the
    winmail.dat's part number (and ``PartInfo.container``).
    If the connection drops and the client can sign in again (``authenticate_oauth(...,
    refresh=...)``), the download goes on from where it stopped.
    """
    check_uid(uid)
    structure, message_size = _structure(client, uid)
    saver = _Saver(Path(directory), overwrite, unpack_tnef, on_part, progress, on_saved)
    if not isinstance(structure, BodyPart) or _is_broken(structure):
        log.info("BODYSTRUCTURE of UID %s is unreadable; parsing the message itself", uid)
        return _save_stream(_iter_section(client, uid, ""), saver, parts)
    selected = _select(structure, parts)
    if not selected:
        return []
    # Only the part a message ends in can be cut short by a missing close delimiter.
    last = _last_leaf(structure)
    cut = None
    if (
        last is not None
        and any(p.part == last.part for p in selected)
        and _message_ends_inside(client, uid, last, message_size)
    ):
        cut = last.part
    _download(client, uid, selected, saver, cut)
    # Small parts come inside the FETCH response, after streamed big ones: report in part order.
    order = {p.part: i for i, p in enumerate(selected)}
    return sorted(saver.saved, key=lambda s: order.get(s.part, len(order)))


def _structure(client: ImapClient, uid: int) -> tuple[BodyPart | None, int | None]:
    """BODYSTRUCTURE (None when the server refuses it or sends garbage) and RFC822.SIZE."""
    try:
        items = _fetch_one(client, uid, "(UID RFC822.SIZE BODYSTRUCTURE)").items
    except CommandError as exc:
        log.info("the server refused the structure of UID %s (%s)", uid, exc)
        _fetch_one(client, uid, "(UID)")  # MessageNotFound if it is not there at all
        return None, None
    value, size = items.get("BODYSTRUCTURE"), items.get("RFC822.SIZE")
    return (
        value if isinstance(value, BodyPart) else None,
        size if isinstance(size, int) else None,
    )


def _last_leaf(structure: BodyPart) -> BodyPart | None:
    """The part a multipart message ends in (None for a single part: no delimiter to miss)."""
    if not structure.is_multipart:
        return None
    node = structure
    while node.is_multipart and node.children:
        node = node.children[-1]
    return None if node.is_multipart else node


_TAIL = 512  # bytes of a part's end compared with the message's end
_TAIL_SLACK = 256  # how far RFC822.SIZE may be off (Exchange computes it) and still be used
_MIN_TAIL = 8  # fewer bytes could end a whole message by chance ("--\r\n")


def _message_ends_inside(
    client: ImapClient, uid: int, leaf: BodyPart, message_size: int | None
) -> bool:
    """Whether the message ends inside ``leaf``, its last part: the close delimiter of its
    multipart is missing, so the part may be cut short (the MIME parser's ``complete``).

    The server does not say so, and its BODYSTRUCTURE looks whole; but a part runs to the
    end of the message only then (a close delimiter comes after it otherwise), so the last
    bytes of the part and of the message are compared: one small FETCH."""
    size = leaf.size
    if size is None or size < _MIN_TAIL or message_size is None:
        return False
    length = min(size, _TAIL)
    start = max(message_size - length - _TAIL_SLACK, 0)
    items = (
        f"(UID BODY.PEEK[]<{start}.{length + 2 * _TAIL_SLACK}> "
        f"BODY.PEEK[{leaf.part}]<{size - length}.{length}>)"
    )
    values = _fetch_one(client, uid, items).items
    message_end = _section_value(values, "")
    part_end = _section_value(values, leaf.part)
    if not message_end or not part_end or len(part_end) < _MIN_TAIL:
        return False
    return message_end.endswith(part_end)


def _select(structure: BodyPart, numbers: Sequence[str] | None) -> list[PartInfo]:
    attachable = _classify(structure).parts
    if numbers is None:
        return attachable
    by_number = {p.part: p for p in attachable}
    chosen: list[PartInfo] = []
    for asked in numbers:
        number = asked.strip()
        if number in by_number:
            chosen.append(by_number[number])
            continue
        node = _find(structure, number)
        if node is None:
            known = ", ".join(p.part for p in attachable) or "none"
            raise UsageError(f"the message has no part {number!r} (attachments: {known})")
        chosen.append(_info(node, len(attachable) + len(chosen) + 1))
    return chosen


def _download(
    client: ImapClient, uid: int, selected: list[PartInfo], saver: _Saver, cut: str | None
) -> None:
    """Fetch and save ``selected``; ``cut`` is the part the message ends inside, if any."""
    pending = {p.part: p for p in selected}
    offsets: dict[str, int] = {}  # encoded bytes already received of a part cut off mid-way
    active: dict[str, _PartWriter] = {}
    resumes = 0
    try:
        while pending:
            items = []
            for number in pending:
                start = offsets.get(number, 0)
                partial = f"<{start}.{_PARTIAL_MAX}>" if start else ""
                items.append(f"BODY.PEEK[{number}]{partial}")
            try:
                _receive(client, uid, items, pending, offsets, active, saver, cut)
            except (ConnectionClosed, ReadTimeout) as exc:
                resumes += 1
                if not client.can_reconnect or resumes > _MAX_RESUMES:
                    raise
                log.warning("connection lost while saving (%s); resuming", exc)
                client.reconnect()
                continue
            if pending:  # the server answered OK without some of them (NIL, or nothing)
                missing = ", ".join(sorted(pending))
                raise ProtocolError(
                    f"the server sent no data for part {missing} of UID {uid}; "
                    "the other parts were saved"
                )
    finally:
        for writer in active.values():
            writer.abort()


def _receive(
    client: ImapClient,
    uid: int,
    items: list[str],
    pending: dict[str, PartInfo],
    offsets: dict[str, int],
    active: dict[str, _PartWriter],
    saver: _Saver,
    cut: str | None,
) -> None:
    current: str | None = None
    events = client.iter_fetch_events(
        [uid], "(UID " + " ".join(items) + ")", uid=True, stream_threshold=_STREAM_THRESHOLD
    )
    for event in events:
        if isinstance(event, LiteralStarted):
            match = _SECTION.match(event.item or "")
            current = match.group(1) if match else None
            if current not in pending:
                current = None  # not ours (cannot happen with a sane server): skip its bytes
                continue
            origin = _origin(match.group(2) if match else None)
            if origin != offsets.get(current, 0):
                if origin:
                    raise ProtocolError(
                        f"asked to resume part {current} at byte {offsets.get(current, 0)}, "
                        f"the server answered from byte {origin}"
                    )
                # It ignored the partial request and starts over: so do we.
                stale = active.pop(current, None)
                if stale is not None:
                    stale.abort()
                offsets.pop(current, None)
            if current not in active:
                active[current] = saver.open(pending[current])
        elif isinstance(event, LiteralData):
            if current is not None:
                active[current].feed(event.data)
                offsets[current] = offsets.get(current, 0) + len(event.data)
        elif isinstance(event, LiteralEnded):
            if current is not None:
                active.pop(current).finish(complete=current != cut)
                pending.pop(current)
                offsets.pop(current, None)
            current = None
        elif isinstance(event, Fetch):
            for name, value in event.items.items():
                match = _SECTION.match(name)
                number = match.group(1) if match else None
                if number in pending and isinstance(value, bytes):
                    writer = active.pop(number, None) or saver.open(pending[number])
                    writer.feed(value)
                    writer.finish(complete=number != cut)
                    del pending[number]


# ---------------------------------------------------------------- writing parts


class _Sink(Protocol):
    def write(self, data: bytes) -> None: ...
    def commit(self) -> list[SavedPart]: ...
    def abort(self) -> None: ...


class _FileSink:
    def __init__(self, info: PartInfo, directory: Path, name: str, overwrite: bool) -> None:
        self._info = info
        self._file = AtomicFile(directory, name, overwrite=overwrite)
        self._file.open()

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def commit(self) -> list[SavedPart]:
        saved = self._file.commit()
        info = self._info
        return [
            SavedPart(
                saved.path, saved.name, info.content_type, saved.size, info.part, saved.sha256
            )
        ]

    def abort(self) -> None:
        self._file.abort()


class _StreamSink:
    def __init__(self, info: PartInfo, stream: _Writable) -> None:
        self._info = info
        self._stream = stream
        self._hash = hashlib.sha256()
        self._size = 0

    def write(self, data: bytes) -> None:
        try:
            self._stream.write(data)
        except OSError as exc:
            raise StorageError(f"cannot write part {self._info.part}: {exc}") from exc
        except TypeError as exc:  # a text-mode stream: the hook's mistake, said plainly
            raise UsageError(
                f"the part hook gave a stream that does not take bytes ({exc})"
            ) from exc
        self._hash.update(data)
        self._size += len(data)

    def commit(self) -> list[SavedPart]:
        flush = getattr(self._stream, "flush", None)
        if callable(flush):
            flush()
        info = self._info
        name = info.safe_name
        return [
            SavedPart(None, name, info.content_type, self._size, info.part, self._hash.hexdigest())
        ]

    def abort(self) -> None:
        pass  # the application's stream is the application's to clean up


class _SkipSink:
    def write(self, data: bytes) -> None:
        pass

    def commit(self) -> list[SavedPart]:
        return []

    def abort(self) -> None:
        pass


class _TnefSink:
    """Spool winmail.dat to an anonymous temporary file, then unpack it (tnefparse reads
    bytes); if it holds no files or is not TNEF, keep it as the winmail.dat it was."""

    def __init__(self, info: PartInfo, saver: _Saver) -> None:
        self._info = info
        self._saver = saver
        self._spool: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in commit/abort

    def write(self, data: bytes) -> None:
        try:
            self._spool.write(data)
        except OSError as exc:
            raise StorageError(f"cannot spool winmail.dat: {exc.strerror}") from exc

    def commit(self) -> list[SavedPart]:
        try:
            self._spool.seek(0)
            data = self._spool.read()
        finally:
            self._spool.close()
        try:
            files = unpack_tnef(data)
        except TnefError as exc:
            log.warning("part %s: %s; saving it as it is", self._info.part, exc)
            files = []
        if not files:
            return self._saver.write_whole(self._info, data)
        saved: list[SavedPart] = []
        for number, carried in enumerate(files, 1):
            info = PartInfo(
                part=self._info.part,
                content_type=carried.content_type,
                filename=carried.name,
                decoded_size=len(carried.data),
                disposition="attachment",
                content_id=None,
                index=self._info.index * 100 + number,
                container=self._info.part,
            )
            saved += self._saver.write_whole(info, carried.data)
        return saved

    def abort(self) -> None:
        self._spool.close()


class _PartWriter:
    """One part on its way out: transfer decoding, progress, then the sink."""

    def __init__(
        self,
        info: PartInfo,
        decoder: TransferDecoder,
        sink: _Sink,
        saver: _Saver,
    ) -> None:
        self._info = info
        self._decoder = decoder
        self._sink = sink
        self._saver = saver
        self._done = 0

    def feed(self, encoded: bytes) -> None:
        data = self._decoder.feed(encoded)
        if data:
            self._sink.write(data)
            self._done += len(data)
            if self._saver.progress is not None:
                self._saver.progress(self._info, self._done, self._info.estimated_size)

    def finish(self, *, complete: bool = True) -> None:
        tail = self._decoder.flush()
        if tail:
            self._sink.write(tail)
        for item in self._sink.commit():
            if complete:
                self._saver.record(item)
                continue
            # The bytes are all the message has; keeping them loses nothing, but say so.
            log.warning("%s is cut short: the message ends inside it", item.filename)
            self._saver.record(replace(item, complete=False))

    def abort(self) -> None:
        self._sink.abort()


@dataclass
class _Saver:
    directory: Path
    overwrite: bool
    unpack_tnef: bool
    on_part: PartHook | None
    progress: ProgressHook | None
    on_saved: Callable[[SavedPart], None] | None = None
    saved: list[SavedPart] = field(default_factory=list)
    # Paths this run writes: ``overwrite`` replaces files from before it, never one of its
    # own. Two parts both called scan.pdf give scan.pdf and scan (2).pdf, on every run.
    taken: set[Path] = field(default_factory=set)

    def record(self, item: SavedPart) -> None:
        self.saved.append(item)
        if self.on_saved is not None:
            self.on_saved(item)  # as each file lands, so a later failure cannot hide it

    def open(self, info: PartInfo, *, decoded: bool = False) -> _PartWriter:
        decoder: TransferDecoder = IdentityDecoder() if decoded else decoder_for(info.encoding)
        tnef = self.unpack_tnef and info.is_tnef
        sink: _Sink = _TnefSink(info, self) if tnef else self.sink_for(info)
        return _PartWriter(info, decoder, sink, self)

    def sink_for(self, info: PartInfo) -> _Sink:
        target: object = self.directory if self.on_part is None else self.on_part(info)
        if target is None:
            return _SkipSink()
        if isinstance(target, str | os.PathLike):
            path = Path(target)
            if path == self.directory:  # the folder given, made on the first file saved
                directory, name = make_directory(path), info.safe_name
            elif path.is_dir():  # a hook's folder
                directory, name = path, info.safe_name
            else:  # a hook's file path
                directory, name = path.parent, path.name
            if self.overwrite:
                name = next(n for n in iter_numbered_names(name) if directory / n not in self.taken)
            self.taken.add(directory / name)
            return _FileSink(info, directory, name, self.overwrite)
        if callable(getattr(target, "write", None)):
            return _StreamSink(info, target)  # type: ignore[arg-type]
        raise UsageError(f"the part hook returned {type(target).__name__}, not a path or stream")

    def write_whole(self, info: PartInfo, data: bytes) -> list[SavedPart]:
        sink = self.sink_for(info)
        try:
            sink.write(data)
        except BaseException:
            sink.abort()
            raise
        return sink.commit()


# ---------------------------------------------------------------- messages as bytes


def _open_file(path: str | os.PathLike[str]) -> tuple[IO[bytes], int]:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the caller's with
        size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        raise UsageError(f"cannot read {os.fspath(path)}: {exc.strerror}") from exc
    return handle, size


def _iter_file(handle: IO[bytes]) -> Iterator[bytes]:
    while chunk := handle.read(_READ_SIZE):
        yield chunk


def open_eml(
    path: str | os.PathLike[str], *, headers: bool = False, max_text: int = MAX_TEXT_BYTES
) -> MessageView:
    """A message file (``.eml``, RFC 5322) opened as ``open_message`` opens one on the server."""
    handle, size = _open_file(path)
    with handle:
        view = _read_stream(
            _iter_file(handle), summary=None, max_text=max_text, want_headers=headers
        )
    return replace(view, summary=view.summary._replace(size=size))


def save_eml_parts(
    path: str | os.PathLike[str],
    directory: str | os.PathLike[str] = ".",
    *,
    parts: Sequence[str] | None = None,
    overwrite: bool = False,
    unpack_tnef: bool = True,
    on_part: PartHook | None = None,
    progress: ProgressHook | None = None,
    on_saved: Callable[[SavedPart], None] | None = None,
) -> list[SavedPart]:
    """``save_parts`` for a message file: one streamed pass of the MIME parser."""
    handle, _ = _open_file(path)
    saver = _Saver(Path(directory), overwrite, unpack_tnef, on_part, progress, on_saved)
    with handle:
        return _save_stream(_iter_file(handle), saver, parts)


@dataclass
class _Walk:
    """Classifies parts as the parser meets them, as ``_classify`` does from BODYSTRUCTURE."""

    parts: list[PartInfo] = field(default_factory=list)
    body: dict[str, PartStart] = field(default_factory=dict)
    alternatives: list[PartInfo] = field(default_factory=list)
    report: PartStart | None = None  # the first multipart/report
    status: PartInfo | None = None
    returned: PartInfo | None = None
    returned_root: PartStart | None = None  # the header of the returned message
    # the depth of each leaf listed: an attached message's multipart body shares its number
    depths: dict[str, int] = field(default_factory=dict)
    root: PartStart | None = None
    _containers: dict[str, _Container] = field(default_factory=dict)  # multiparts by number
    _inside: list[tuple[str, int]] = field(default_factory=list)  # attached messages open

    def start(self, event: PartStart) -> PartInfo | None:
        """The PartInfo when ``event`` starts an attachable part of the outer message."""
        if self.root is None:
            self.root = event
        if self._inside:
            returned = self.returned
            if (
                returned is not None
                and self.returned_root is None
                and self._inside == [(returned.part, self.depths[returned.part])]
            ):
                self.returned_root = event  # the first part inside a message is its root
            return None
        if event.is_multipart:
            report = event.content_type == "multipart/report" and self.report is None
            if report:
                self.report = event
            self._containers[event.part] = _Container(event.content_type.partition("/")[2], report)
            return None
        number, _, position = event.part.rpartition(".")
        parent = self._containers.get(number)  # None: the message is this one part
        role = _role(
            parent,
            int(position) if parent is not None else 1,
            event.content_type,
            event.disposition,
            event.filename,
        )
        if event.is_message:
            self._inside.append((event.part, event.depth))
        if role == "body":
            self.body[event.part] = event
            return None
        self.depths[event.part] = event.depth
        info = PartInfo(
            part=event.part,
            content_type=event.content_type,
            filename=event.filename,
            disposition=_disposition_of(event.content_type, event.disposition, event.content_id),
            content_id=event.content_id,
            encoding=event.encoding,
            index=len(self.parts) + 1,
        )
        if role == "attachment":
            self.parts.append(info)
            return info
        if role == "alternative":
            self.alternatives.append(info)
        elif role == "status":
            self.status = info
        else:
            self.returned = info
        return None

    def end(self, event: PartEnd) -> None:
        if self._inside and self._inside[-1] == (event.part, event.depth):
            self._inside.pop()

    def kept(self, event: PartStart) -> bool:
        """Whether ``event``'s bytes are read for the view: a report's status, returned headers."""
        if event.part in self.body:
            return True
        for info, types in ((self.status, DELIVERY_STATUS_TYPES), (self.returned, _HEADER_TYPES)):
            if info is not None and info.part == event.part and info.content_type in types:
                return True
        return False


def _events(chunks: Iterable[bytes]) -> Iterator[PartStart | PartData | PartEnd]:
    parser = MimeParser()
    for chunk in chunks:
        yield from parser.feed(chunk)
    yield from parser.close()


def _read_stream(
    chunks: Iterable[bytes], *, summary: MessageSummary | None, max_text: int, want_headers: bool
) -> MessageView:
    walk = _Walk()
    kept: dict[str, bytearray] = {}  # body text, a report's status and returned headers
    ends: dict[str, PartEnd] = {}
    truncated = False
    for event in _events(chunks):
        if isinstance(event, PartStart):
            walk.start(event)
            if walk.kept(event):
                kept[event.part] = bytearray()
        elif isinstance(event, PartData):
            buffer = kept.get(event.part)
            if buffer is not None:
                room = max_text - len(buffer)
                truncated |= len(event.data) > room and event.part in walk.body
                buffer += event.data[: max(room, 0)]
        else:
            walk.end(event)
            if walk.depths.get(event.part) == event.depth:
                ends[event.part] = event

    def sized(info: PartInfo, **changes: Any) -> PartInfo:
        end = ends.get(info.part)
        if end is not None:
            changes.update(encoded_size=end.encoded_size, decoded_size=end.size)
        return replace(info, **changes)

    parts = tuple(sized(p) for p in walk.parts)
    plain: list[str] = []
    html = None
    for number, start in walk.body.items():
        text = decode_bytes(bytes(kept[number]), start.params.get("charset"))
        text = text.replace("\r\n", "\n")
        if start.content_type == "text/plain":
            plain.append(text)
        elif html is None:
            html = text
    text_out = "\n".join(plain) if plain else None
    from_html = text_out is None and html is not None
    if from_html:
        text_out = html_to_text(html or "")
    root = walk.root
    header_text = None
    if want_headers and root is not None:
        header_text = "\n".join(f"{name}: {decode_2047(value)}" for name, value in root.headers)
    if summary is None:
        summary = MessageSummary(0, None, (), None, None, _envelope_from(root))
    others = itertools.count(len(parts) + 1)  # the other parts are numbered after them
    alternatives = tuple(sized(p, index=next(others)) for p in walk.alternatives)
    report = None
    if walk.report is not None:
        status, returned = walk.status, walk.returned
        status_data = kept.get(status.part) if status is not None else None
        if returned is None:
            returned_envelope = None
        elif returned.content_type in _HEADER_TYPES:
            returned_envelope = _header_envelope(bytes(kept.get(returned.part, b"")))
        else:
            returned_envelope = _envelope_from(walk.returned_root)
        report = _report_info(
            _report_type(walk.report.params),
            sized(status, index=next(others)) if status is not None else None,
            bytes(status_data) if status_data is not None else None,
            sized(returned, index=next(others)) if returned is not None else None,
            returned_envelope,
        )
    return MessageView(
        summary,
        text_out,
        html,
        parts,
        header_text,
        from_html,
        truncated,
        None,
        alternatives,
        report,
    )


def _save_stream(
    chunks: Iterable[bytes], saver: _Saver, numbers: Sequence[str] | None
) -> list[SavedPart]:
    walk = _Walk()
    wanted = None if numbers is None else {n.strip() for n in numbers}
    # An attached message and its multipart body share a number; the writer closes at the
    # PartEnd of its own depth (the message's), which comes after all of its body's bytes.
    writers: dict[str, tuple[_PartWriter, int]] = {}
    seen: set[str] = set()
    try:
        for event in _events(chunks):
            if isinstance(event, PartStart):
                info = walk.start(event)
                if event.is_multipart:
                    continue
                seen.add(event.part)
                if wanted is not None:
                    info = _explicit(event, len(walk.parts) + len(writers) + 1, info)
                    if event.part not in wanted:
                        info = None
                if info is not None and event.part not in writers:
                    writers[event.part] = (saver.open(info, decoded=True), event.depth)
            elif isinstance(event, PartData):
                entry = writers.get(event.part)
                if entry is not None:
                    entry[0].feed(event.data)
            else:
                walk.end(event)
                entry = writers.get(event.part)
                if entry is not None and entry[1] == event.depth:
                    del writers[event.part]
                    entry[0].finish(complete=event.complete)
    finally:
        for writer, _ in writers.values():
            writer.abort()
    if wanted is not None and (missing := wanted - seen):
        raise UsageError(f"the message has no part {', '.join(sorted(missing))}")
    return saver.saved


def _explicit(event: PartStart, index: int, info: PartInfo | None) -> PartInfo:
    """A part asked for by number: its PartInfo even if it is body text or inside a message."""
    if info is not None:
        return info
    return PartInfo(
        part=event.part,
        content_type=event.content_type,
        filename=event.filename,
        disposition=_disposition_of(event.content_type, event.disposition, event.content_id),
        content_id=event.content_id,
        index=index,
    )


# ---------------------------------------------------------------- envelope from headers


def _addresses(value: str | None) -> tuple[AddressEntry, ...]:
    if not value:
        return ()
    out: list[AddressEntry] = []
    for name, addr in email.utils.getaddresses([value]):
        mailbox, _, host = addr.rpartition("@") if "@" in addr else (addr, "", "")
        out.append(Address(name or None, mailbox or None, host or None))
    return tuple(out)


def _envelope_from(root: PartStart | None) -> Envelope | None:
    if root is None:
        return None

    def raw(name: str) -> bytes | None:
        for field_name, value in root.headers:
            if field_name.lower() == name:
                return value
        return None

    def text(name: str) -> str | None:
        value = root.header(name)
        return value.strip() if value is not None else None

    date_raw = raw("date")
    date: datetime | None = parse_header_date(date_raw) if date_raw else None
    subject = raw("subject")
    return Envelope(
        date=date,
        raw_date=date_raw,
        subject=decode_2047(subject).strip() if subject is not None else None,
        from_=_addresses(text("from")),
        sender=_addresses(text("sender")),
        reply_to=_addresses(text("reply-to")),
        to=_addresses(text("to")),
        cc=_addresses(text("cc")),
        bcc=_addresses(text("bcc")),
        in_reply_to=text("in-reply-to"),
        message_id=text("message-id"),
        raw_subject=subject,
    )
