"""Which parts of a message are its text and which are attachments: decided here, once, the
same way whether the parts come from the server's BODYSTRUCTURE (``_classify``) or from the
MIME parser as it meets them (``_Walk``), so both sources number and name parts alike.

The rule (``_role``): a ``text/plain`` or ``text/html`` leaf without a file name that is not
marked ``attachment`` is body text; another leaf directly in a ``multipart/alternative`` is
another version of the text (``text/enriched``, ``text/calendar``: RFC 2046 5.1.4), never an
attachment; in a report (``multipart/report``, RFC 6522: a bounce, a delay notice, a read
receipt) the first part is the text, the second the machine-readable status and the third the
returned message or its headers; every other leaf, and every attached message (not looked
into), is an attachment (``disposition`` ``inline`` for images shown in the HTML).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from o365imap.errors import UsageError
from o365imap.messages._types import PartInfo, ReportInfo
from o365imap.mime import PartEnd, PartStart
from o365imap.mime.report import DELIVERY_STATUS_TYPES, parse_delivery_status
from o365imap.models import BodyPart, Envelope


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


def _started(event: PartStart, index: int) -> PartInfo:
    """What ``_info`` is for a BODYSTRUCTURE node, for a part the MIME parser has met."""
    return PartInfo(
        part=event.part,
        content_type=event.content_type,
        filename=event.filename,
        disposition=_disposition_of(event.content_type, event.disposition, event.content_id),
        content_id=event.content_id,
        encoding=event.encoding,
        index=index,
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


def _last_leaf(structure: BodyPart) -> BodyPart | None:
    """The part a multipart message ends in (None for a single part: no delimiter to miss)."""
    if not structure.is_multipart:
        return None
    node = structure
    while node.is_multipart and node.children:
        node = node.children[-1]
    return None if node.is_multipart else node


def _select(
    structure: BodyPart,
    numbers: Sequence[str] | None,
    named: str = "message",
    said: str = "the message",
) -> list[PartInfo]:
    """The attachments, or the parts ``numbers`` asks for (UsageError naming the parts there
    are, when one is not). ``named`` is the message as a file name says it (``message-63``):
    a part asked for that is no attachment and has no name is saved as ``<named>-part-N``;
    ``said`` is the message as a sentence says it (``message 63``)."""
    attachable = _classify(structure).parts
    if numbers is None:
        return attachable
    by_number = {p.part: p for p in attachable}
    asked = [number.strip() for number in numbers]
    missing = [n for n in asked if n not in by_number and _find(structure, n) is None]
    if missing:
        leaves = ((leaf.part, leaf.content_type, leaf.filename) for leaf in _leaves(structure))
        raise _no_such_parts(said, missing, leaves)
    chosen: list[PartInfo] = []
    for number in asked:
        if number in by_number:
            chosen.append(by_number[number])
            continue
        node = _find(structure, number)
        assert node is not None  # missing parts were refused above
        chosen.append(_asked_for(_info(node, len(attachable) + len(chosen) + 1), named))
    return chosen


def _asked_for(info: PartInfo, named: str) -> PartInfo:
    """A part asked for by number that is no attachment (the text, a part inside an attached
    message): when nameless, named after the message and its number (``message-63-part-1``),
    not ``attachment-2`` after a position among attachments it is not one of."""
    return replace(info, stem=f"{named}-part-{info.part}")


_PARTS_SHOWN = 20  # parts named in the sentence at the most; the rest are counted


def _no_such_parts(
    said: str, missing: Sequence[str], leaves: Iterable[tuple[str, str, str | None]]
) -> UsageError:
    """One sentence: the parts asked for that are not there, and the parts that are (by
    number, with their file name or else their type)."""
    there = [f"{part} ({filename or content_type})" for part, content_type, filename in leaves]
    listed = ", ".join(there[:_PARTS_SHOWN]) or "none"
    if len(there) > _PARTS_SHOWN:
        listed += f" and {len(there) - _PARTS_SHOWN} more"
    absent = " or ".join(dict.fromkeys(missing))
    return UsageError(f"{said} has no part {absent}: its parts are {listed}")


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
    # every leaf of the outer message (number, type, file name): what a part asked for is not
    leaves: list[tuple[str, str, str | None]] = field(default_factory=list)
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
        self.leaves.append((event.part, event.content_type, event.filename))
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
        info = _started(event, len(self.parts) + 1)
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
