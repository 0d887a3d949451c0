"""Where a part's bytes go: a file written atomically, the application's own stream, nowhere
(skipped), or winmail.dat unpacked into the files it carries.

The rule this module keeps: bytes flow, they are never gathered. A part goes transfer decoder
-> sink (temporary file -> rename, ``AtomicFile``), chunk by chunk, so memory stays flat
whatever its size; only a winmail.dat being unpacked is held whole. ``_Saver`` holds what one
``save_parts`` call asked for (folder, overwrite, hooks) and what it has written so far;
``_PartWriter`` is one part on its way out. Where the bytes come from is not known here.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Protocol

from o365imap.errors import StorageError, UsageError
from o365imap.messages._types import (
    PartHook,
    PartInfo,
    Progress,
    ProgressHook,
    SavedPart,
    Writable,
)
from o365imap.mime import AtomicFile
from o365imap.mime.names import iter_numbered_names
from o365imap.mime.sink import make_directory
from o365imap.mime.tnef import TnefError, unpack_tnef
from o365imap.mime.transfer import IdentityDecoder, TransferDecoder, decoder_for

log = logging.getLogger("o365imap.messages")


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
    def __init__(self, info: PartInfo, stream: Writable) -> None:
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
                self._saver.progress(Progress(self._done, self._info.estimated_size, self._info))

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
