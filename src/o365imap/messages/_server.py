"""A message on the server: open it (``open_message``), save it whole (``save_message``), save
its parts (``save_parts``).

BODYSTRUCTURE says what the parts are; text parts are fetched with ``BODY.PEEK`` (so nothing
is marked read) and capped; the parts to save are fetched by section in one ``UID FETCH`` and
streamed to their sinks, resumed after a drop (``_sections``). A server whose BODYSTRUCTURE
cannot be read has the message's bytes parsed instead (``_parsed``), with the same result.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from o365imap._replies import summary_from
from o365imap.client import ImapClient
from o365imap.errors import CommandError, UsageError
from o365imap.limits import check_uid
from o365imap.messages._headers import _header_envelope
from o365imap.messages._parsed import _read_stream, _save_stream
from o365imap.messages._sections import (
    _download,
    _fetch_one,
    _message_ends_inside,
    _section_value,
)
from o365imap.messages._sinks import _Saver
from o365imap.messages._structure import (
    _HEADER_TYPES,
    _classify,
    _info,
    _is_broken,
    _last_leaf,
    _report_info,
    _report_type,
    _select,
)
from o365imap.messages._text import _decode_text, _header_block, html_to_text
from o365imap.messages._types import (
    MAX_TEXT_BYTES,
    MessageView,
    PartHook,
    Progress,
    ProgressHook,
    SavedPart,
    _legacy_progress,
)
from o365imap.mime import AtomicFile, safe_filename
from o365imap.mime.report import DELIVERY_STATUS_TYPES
from o365imap.mime.sink import make_directory
from o365imap.mime.transfer import decoder_for
from o365imap.models import BodyPart, Envelope, MessageSummary

log = logging.getLogger("o365imap.messages")

_ITEMS = "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)"


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
    summary = summary_from(response)
    structure = response.items.get("BODYSTRUCTURE")
    if not isinstance(structure, BodyPart) or _is_broken(structure):
        log.info("BODYSTRUCTURE of UID %s is unreadable; parsing the message itself", uid)
        view = _read_stream(
            client.iter_section(uid), summary=summary, max_text=max_text, want_headers=headers
        )
    else:
        view = _read_structured(client, uid, summary, structure, headers, max_text)
    if mark_read and "\\Seen" not in summary.flags:
        client.add_flags([uid], ["\\Seen"])
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


def save_message(
    client: ImapClient,
    uid: int,
    directory: str | os.PathLike[str] = ".",
    *,
    filename: str | None = None,
    overwrite: bool = False,
    progress: ProgressHook | None = None,
) -> SavedPart:
    """The whole raw message as ``<subject>.eml`` (or ``filename``) in ``directory``, streamed.

    ``progress`` hears a ``Progress`` with no ``part`` as the bytes land: raw bytes written
    against the message's RFC822.SIZE."""
    check_uid(uid)
    progress = _legacy_progress(progress, 2)
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
        for chunk in client.iter_section(uid):
            out.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(Progress(done, size))
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
    ``progress`` hears a ``Progress`` for the part being written as its decoded bytes land;
    ``on_saved`` hears of each file as it lands. A file unpacked from winmail.dat has the
    winmail.dat's part number (and ``PartInfo.container``).
    If the connection drops and the client can sign in again (``authenticate_oauth(...,
    refresh=...)``), the download goes on from where it stopped.
    """
    check_uid(uid)
    progress = _legacy_progress(progress, 3)
    structure, message_size = _fetch_structure(client, uid)
    saver = _Saver(Path(directory), overwrite, unpack_tnef, on_part, progress, on_saved)
    if not isinstance(structure, BodyPart) or _is_broken(structure):
        log.info("BODYSTRUCTURE of UID %s is unreadable; parsing the message itself", uid)
        return _save_stream(client.iter_section(uid), saver, parts, f"message-{uid}")
    selected = _select(structure, parts, f"message-{uid}", f"message {uid}")
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


def _fetch_structure(client: ImapClient, uid: int) -> tuple[BodyPart | None, int | None]:
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
