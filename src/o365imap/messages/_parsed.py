"""A message as bytes, read in one streamed pass of the MIME parser: an ``.eml`` file
(``open_eml``, ``save_eml_parts``), or a message on a server whose BODYSTRUCTURE cannot be
read (``_read_stream`` and ``_save_stream`` over its ``BODY.PEEK[]``).

The parser finds the same parts, with the same numbers and roles (``_structure._Walk``), as
BODYSTRUCTURE gives for a message on the server; a part to save flows from the parser's
events into its writer, already decoded; text to show is kept, capped at ``max_text``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from o365imap.errors import UsageError
from o365imap.messages._headers import _envelope_from, _header_envelope
from o365imap.messages._sinks import _PartWriter, _Saver
from o365imap.messages._structure import (
    _HEADER_TYPES,
    _asked_for,
    _no_such_parts,
    _report_info,
    _report_type,
    _started,
    _Walk,
)
from o365imap.messages._text import html_to_text
from o365imap.messages._types import (
    MAX_TEXT_BYTES,
    MessageView,
    PartHook,
    PartInfo,
    ProgressHook,
    SavedPart,
    _legacy_progress,
)
from o365imap.mime import MimeParser, PartData, PartEnd, PartStart
from o365imap.models import MessageSummary
from o365imap.protocol.text import decode_2047, decode_bytes

_READ_SIZE = 256 * 1024


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
    progress = _legacy_progress(progress, 3)
    saver = _Saver(Path(directory), overwrite, unpack_tnef, on_part, progress, on_saved)
    with handle:
        return _save_stream(_iter_file(handle), saver, parts, Path(path).stem, Path(path).name)


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
    chunks: Iterable[bytes],
    saver: _Saver,
    numbers: Sequence[str] | None,
    named: str = "message",
    said: str | None = None,
) -> list[SavedPart]:
    """``_select`` and the download in one pass: ``named`` and ``said`` as it takes them
    (``said`` None: ``named`` with its dash a space, ``message 63``)."""
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
                    info = _explicit(event, len(walk.parts) + len(writers) + 1, info, named)
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
        asked = [n.strip() for n in numbers or () if n.strip() in missing]
        raise _no_such_parts(said or named.replace("-", " ", 1), asked, walk.leaves)
    return saver.saved


def _explicit(event: PartStart, index: int, info: PartInfo | None, named: str) -> PartInfo:
    """A part asked for by number: its PartInfo even if it is body text or inside a message."""
    return info if info is not None else _asked_for(_started(event, index), named)
