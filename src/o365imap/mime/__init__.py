"""Streaming MIME: parsing, transfer decoding, attachment naming and atomic saving.

No sockets and no IMAP here: bytes in, events and files out, in bounded memory.

    transfer   incremental base64 / quoted-printable decoders (binascii on whole runs)
    parser     MimeParser: bytes -> events, IMAP part numbers (the streaming state machine)
    events     PartStart / PartData / PartEnd: what the parser says about each part
    headers    split_header_params and the other header values that steer the parser
    names      safe_filename, unique_path: decoded names made safe, generated, numbered
    report     parse_delivery_status: what a bounce's machine-readable part says (RFC 3464)
    sink       AtomicFile: temporary file in the folder, fsync, link into place; the
               temporary files of killed writers removed
"""

from __future__ import annotations

from o365imap.mime.events import MimeEvent, PartData, PartEnd, PartStart
from o365imap.mime.headers import split_header_params
from o365imap.mime.names import (
    StorageError,
    UnsafeFileName,
    extension_for,
    iter_numbered_names,
    safe_filename,
    unique_path,
)
from o365imap.mime.parser import MimeParser, iter_events
from o365imap.mime.sink import AtomicFile, SavedFile, make_directory, remove_stale_temporaries
from o365imap.mime.transfer import (
    Base64Decoder,
    IdentityDecoder,
    QuotedPrintableDecoder,
    TransferDecoder,
    decoder_for,
)

__all__ = [
    "AtomicFile",
    "Base64Decoder",
    "IdentityDecoder",
    "MimeEvent",
    "MimeParser",
    "PartData",
    "PartEnd",
    "PartStart",
    "QuotedPrintableDecoder",
    "SavedFile",
    "StorageError",
    "TransferDecoder",
    "UnsafeFileName",
    "decoder_for",
    "extension_for",
    "iter_events",
    "iter_numbered_names",
    "make_directory",
    "remove_stale_temporaries",
    "safe_filename",
    "split_header_params",
    "unique_path",
]
