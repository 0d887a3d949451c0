"""Whatever message the caller has, as a finished file ready for DATA: the one input the
sender streams from.

A caller may hand over an ``email.message.EmailMessage``, bytes, an open binary file or a
path. Each becomes the same thing: a temporary file (unlinked at once, so a killed process
leaves nothing behind) holding the message with CRLF line ends, without its Bcc headers,
with Date and Message-ID, and the envelope taken from its headers unless given. Disk, not
memory, holds the message: a 30 MB attachment costs a few chunks of RAM. Rewriting the
headers is :mod:`o365imap.compose`'s job; this module only chooses the source.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import IO, BinaryIO, cast

from o365imap.compose import Draft, copy_ready_message, write_message
from o365imap.errors import UsageError

from ._data import CHUNK
from ._flatten import flatten

__all__ = ["MessageSource", "Spooled", "spool", "spool_draft"]

MessageSource = (
    Message | bytes | bytearray | memoryview | BinaryIO | IO[bytes] | str | os.PathLike[str]
)


@dataclass
class Spooled:
    """The message ready to send, and its envelope."""

    message_id: str | None
    sender: str | None  # the From header's address: the envelope sender unless one is given
    recipients: tuple[str, ...]
    size: int
    file: BinaryIO = field(repr=False)

    def chunks(self) -> Iterator[bytes]:
        self.file.seek(0)
        while chunk := self.file.read(CHUNK):
            yield chunk

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> Spooled:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def spool(
    message: MessageSource,
    *,
    recipients: Sequence[str] | None = None,
    domain: str | None = None,
    default_from: str | None = None,
) -> Spooled:
    """``message`` written to a temporary file, ready for DATA; ``default_from`` becomes its
    From when it has none."""
    out = cast("BinaryIO", tempfile.TemporaryFile())  # noqa: SIM115 - Spooled closes it
    try:
        with _opened(message) as source:
            written = copy_ready_message(
                cast("BinaryIO", source),
                out,
                recipients=list(recipients) if recipients else None,
                domain=domain,
                default_from=default_from,
            )
    except BaseException:
        out.close()
        raise
    return Spooled(written.message_id, written.sender, tuple(written.recipients), written.size, out)


def spool_draft(
    draft: Draft, *, sender: str, file: BinaryIO | None = None, message_id: str | None = None
) -> Spooled:
    """``draft`` written by :func:`o365imap.compose.write_message` (From ``sender`` unless
    the draft names one) into ``file``, or a temporary file the Spooled closes.
    ``message_id``: the one to use (a retry of a message that may have gone keeps its
    first one, so that the recipient's mail program can drop the copy)."""
    out = file if file is not None else cast("BinaryIO", tempfile.TemporaryFile())  # noqa: SIM115
    try:
        written = write_message(draft, out, sender=draft.sender or sender, message_id=message_id)
    except BaseException:
        if file is None:
            out.close()
        raise
    return Spooled(written.message_id, written.sender, written.recipients, written.size, out)


class _opened:
    """``message`` as a binary file to read from; closes what it opened itself."""

    def __init__(self, message: MessageSource) -> None:
        self._message = message
        self._own: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        message = self._message
        if isinstance(message, Message):
            # The caller's object, written once to disk part by part (_flatten says why not
            # BytesGenerator); Bcc is dropped from the file, not from the object.
            self._own = tempfile.TemporaryFile()
            flatten(message, cast("BinaryIO", self._own))
            self._own.seek(0)
            return self._own
        if isinstance(message, bytes | bytearray | memoryview):
            return io.BytesIO(bytes(message))
        if isinstance(message, str | os.PathLike):
            path = Path(message)
            try:
                self._own = path.open("rb")
            except OSError as exc:
                raise UsageError(
                    f"cannot read the message {str(path)!r}: {exc.strerror or exc}"
                ) from exc
            return self._own
        return message

    def __exit__(self, *exc: object) -> None:
        if self._own is not None:
            self._own.close()
