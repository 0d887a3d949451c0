"""One body section as a stream of bytes, resumed where it stopped when the connection drops.

``BODY.PEEK[section]`` is asked once; after a cut the client reconnects (the policy's
``max_resumes`` times at most) and asks ``BODY.PEEK[section]<offset.>`` for the rest (RFC 3501
6.4.5 partial fetch), so a consumer sees one unbroken stream and never a gap.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Protocol

from o365imap.errors import ConnectionClosed, MessageNotFound, ProtocolError, ReadTimeout
from o365imap.protocol import Fetch, LiteralData, LiteralEnded, LiteralStarted
from o365imap.protocol.sections import PARTIAL_MAX, section_of


class _Client(Protocol):
    """What resuming needs of the client (ImapClient is one)."""

    @property
    def can_reconnect(self) -> bool: ...

    def reconnect(self) -> None: ...

    def iter_fetch_events(
        self,
        messages: Iterable[int],
        items: str,
        *,
        uid: bool = ...,
        stream_threshold: int | None = ...,
    ) -> Iterator[Fetch | LiteralStarted | LiteralData | LiteralEnded]: ...


__all__ = ["iter_section"]

log = logging.getLogger("o365imap.client")

STREAM_THRESHOLD = 64 * 1024  # literals above this flow as chunks instead of values


def iter_section(client: _Client, uid: int, section: str, *, max_resumes: int) -> Iterator[bytes]:
    """The raw bytes of one section (``""``: the whole message), as they arrive.

    A server that ignores the partial request and starts over has the bytes already handed on
    skipped; one that answers from a later byte than asked is an error, never a silent gap."""
    offset = 0  # bytes already handed on
    resumes = 0
    found = False
    while True:
        partial = f"<{offset}.{PARTIAL_MAX}>" if offset else ""
        events = client.iter_fetch_events(
            [uid],
            f"(UID BODY.PEEK[{section}]{partial})",
            uid=True,
            stream_threshold=STREAM_THRESHOLD,
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
            if not client.can_reconnect or resumes > max_resumes:
                raise
            log.warning("connection lost while reading UID %s (%s); resuming", uid, exc)
            client.reconnect()
    if not found:
        raise MessageNotFound(f"no message with UID {uid}")


def _overlap(item: str, section: str, offset: int) -> int | None:
    """How many leading bytes of an answer for ``item`` were already handed on; None when
    ``item`` is not ``section`` at all."""
    found = section_of(item)
    if found is None or found[0] != section:
        return None
    origin = found[1]
    if origin > offset:
        raise ProtocolError(
            f"asked for section [{section}] from byte {offset}, the server answered from "
            f"byte {origin}"
        )
    return offset - origin
