"""The public types of ``o365imap.messages``: what a message holds, what saving wrote, and the
hooks an application gives (where a part goes, how far a download has got).

Frozen dataclasses with no behaviour beyond naming and sizing a part; every other module of the
package builds or consumes them, and this one imports none of them.
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from o365imap.mime import safe_filename
from o365imap.mime.report import DeliveryStatus
from o365imap.mime.tnef import is_tnef
from o365imap.models import BodyPart, Envelope, MessageSummary

MAX_TEXT_BYTES = 4 << 20  # a text part shown to a person; a bigger one is cut (and says so)


@dataclass(frozen=True, slots=True)
class PartInfo:
    """One part a person can save: an attachment, an inline image, an attached message.

    ``part`` is the IMAP part number (``"2"``, ``"1.2"``). ``filename`` is the name the sender
    gave (decoded, not yet made safe), or None. ``disposition`` is ``"attachment"`` or
    ``"inline"``. ``index`` is the position among the message's parts, used to name a part that
    has no name (``attachment-2.pdf``). ``stem`` names instead a part that is no attachment but
    was asked for by number, the text say: ``message-63-part-1`` (``.txt`` is added).

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
    stem: str | None = None

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
            self.filename,
            content_type=self.content_type,
            index=self.index,
            kind=self.disposition,
            stem=self.stem,
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


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a download has got, told to a ``ProgressHook`` as bytes are written.

    ``done`` is the bytes written so far and ``total`` what is expected in all (None when not
    known). ``part`` is the part being saved (``save_parts``, ``save_eml_parts``: ``done`` and
    ``total`` are then decoded bytes of that part, ``total`` being its ``estimated_size``), or
    None when the download is a whole message (``save_message``: its raw bytes against its
    RFC822.SIZE).
    """

    done: int
    total: int | None
    part: PartInfo | None = None


class Writable(Protocol):
    """Where a ``PartHook`` may send a part's bytes: anything with ``write(bytes)``."""

    def write(self, data: bytes, /) -> Any: ...


# The hook an application gives to decide, per part, where its bytes go: None to skip it, a
# folder (saved there under its safe name), a file path (written atomically), or a writable
# binary stream of its own (written, flushed, not closed).
PartHook = Callable[[PartInfo], str | os.PathLike[str] | Writable | None]
# The hook an application gives to follow a download: called with each Progress, in order.
ProgressHook = Callable[[Progress], None]


def _legacy_progress(progress: Any, legacy: int) -> ProgressHook | None:
    """``progress`` as a ProgressHook; an old-style hook (``legacy`` positional arguments:
    ``(done, total)`` for save_message, ``(part, done, total)`` for the part savers) is
    wrapped, with a DeprecationWarning, for one release (docs/api.md, "Renamed names")."""
    if progress is None:
        return None
    try:
        parameters = inspect.signature(progress).parameters.values()
    except (TypeError, ValueError):
        return cast("ProgressHook", progress)
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    # An old hook needs the old arguments, or can take them and names them as they were
    # (``total=None``); a new one takes one Progress (``lambda p, x=1`` too). ``*args``
    # alone fits both: it is taken for a new one.
    named = {p.name for p in positional} & {"done", "total"}
    old = len(required) == legacy or (bool(named) and len(required) <= legacy <= len(positional))
    if not old:
        return cast("ProgressHook", progress)
    warnings.warn(
        "a progress hook now takes one Progress(done, total, part)",
        DeprecationWarning,
        stacklevel=3,
    )
    if legacy == 2:
        return lambda p: progress(p.done, p.total)
    return lambda p: progress(p.part, p.done, p.total)
