"""Fetching a message's sections from the server, resumed where a dropped connection cut them.

Text is fetched with ``BODY.PEEK`` (nothing is marked read); literals above
``_STREAM_THRESHOLD`` arrive as chunks, never whole. When the connection drops and the client
can sign in again, a section goes on from the byte it stopped at (a partial
``BODY.PEEK[n]<offset.>``), at most ``_MAX_RESUMES`` times: one section as a stream of bytes
(``_iter_section``), or several parts at once into their writers (``_download``). A server
that ignores the partial request and starts over has the bytes already handed on skipped; one
that answers from a later byte than asked is an error, never a silent gap.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from o365imap.client import ImapClient
from o365imap.errors import ConnectionClosed, MessageNotFound, ProtocolError, ReadTimeout
from o365imap.messages._sinks import _PartWriter, _Saver
from o365imap.messages._types import PartInfo
from o365imap.models import BodyPart
from o365imap.protocol import parse_number
from o365imap.protocol.events import Fetch, LiteralData, LiteralEnded, LiteralStarted

log = logging.getLogger("o365imap.messages")

_STREAM_THRESHOLD = 64 * 1024  # literals above this flow as chunks instead of values
_MAX_RESUMES = 3
_PARTIAL_MAX = 0xFFFFFFFF  # RFC 3501 partial length is a 32-bit number: "to the end"
_SECTION = re.compile(r"^BODY\[([^\]]*)\](?:<([0-9]+)>)?$")


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
