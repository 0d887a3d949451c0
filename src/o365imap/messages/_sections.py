"""Fetching a message's sections from the server, resumed where a dropped connection cut them.

Text is fetched with ``BODY.PEEK`` (nothing is marked read); literals above
``_STREAM_THRESHOLD`` arrive as chunks, never whole. When the connection drops and the client
can sign in again, the parts go on from the byte each stopped at (a partial
``BODY.PEEK[n]<offset.>``), as often as the client's ``policy.max_resumes`` allows: several
parts at once into their writers (``_download``); one section as a stream of bytes is the
client's ``iter_section``. A server that ignores the partial request and starts over has the
bytes already received dropped; one that answers from a later byte than asked is an error,
never a silent gap.
"""

from __future__ import annotations

import logging
from typing import Any

from o365imap.client import ImapClient
from o365imap.errors import ConnectionClosed, MessageNotFound, ProtocolError, ReadTimeout
from o365imap.messages._sinks import _PartWriter, _Saver
from o365imap.messages._types import PartInfo
from o365imap.models import BodyPart
from o365imap.protocol.events import Fetch, LiteralData, LiteralEnded, LiteralStarted
from o365imap.protocol.sections import PARTIAL_MAX, section_of

log = logging.getLogger("o365imap.messages")

_STREAM_THRESHOLD = 64 * 1024  # literals above this flow as chunks instead of values


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
        found = section_of(name)
        if found is not None and found[0] == section and isinstance(value, bytes):
            return value
    return None


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
                partial = f"<{start}.{PARTIAL_MAX}>" if start else ""
                items.append(f"BODY.PEEK[{number}]{partial}")
            try:
                _receive(client, uid, items, pending, offsets, active, saver, cut)
            except (ConnectionClosed, ReadTimeout) as exc:
                resumes += 1
                if not client.can_reconnect or resumes > client.policy.max_resumes:
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
            found = section_of(event.item or "")
            current = found[0] if found else None
            if found is None or current not in pending:
                current = None  # not ours (cannot happen with a sane server): skip its bytes
                continue
            origin = found[1]
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
                found = section_of(name)
                number = found[0] if found else None
                if number in pending and isinstance(value, bytes):
                    writer = active.pop(number, None) or saver.open(pending[number])
                    writer.feed(value)
                    writer.finish(complete=number != cut)
                    del pending[number]
