"""Open a message and save its parts: the policy between the IMAP client and ``mime``.

The rule this package keeps: attachment bytes flow, they are never gathered. A part goes
socket -> transfer decoder -> temporary file -> rename (``AtomicFile``), chunk by chunk, so
memory stays flat whatever its size; only the text shown to a person (capped) and a winmail.dat
being unpacked are held whole.

Two sources, one behaviour: a message on the server (BODYSTRUCTURE says what the parts are;
they are fetched by section and resumed after a dropped connection), and a message as bytes
(an ``.eml`` file, or a server whose BODYSTRUCTURE we cannot read: the streaming MIME parser
finds the same parts, with the same numbers, in one pass).

The modules, each owning one job; each imports only modules above it in this list:

* ``_types``: the public dataclasses (``PartInfo``, ``ReportInfo``, ``MessageView``,
  ``SavedPart``, ``Progress``) and the hooks (``PartHook``, ``ProgressHook``);
* ``_text``: text for a person (a text part decoded, ``html_to_text``, a header block);
* ``_headers``: an ENVELOPE made from raw header fields;
* ``_structure``: which parts are the text and which are attachments, for both sources;
* ``_sinks``: where a part's bytes go (file, stream, nowhere, winmail.dat unpacked);
* ``_sections``: fetching sections from the server, resumed after a drop;
* ``_parsed``: a message as bytes through the MIME parser (``open_eml``, ``save_eml_parts``);
* ``_server``: a message on the server (``open_message``, ``save_message``, ``save_parts``).

Everything public is re-exported here; the modules themselves are private.
"""

from __future__ import annotations

from o365imap.errors import MessageNotFound
from o365imap.messages._parsed import open_eml, save_eml_parts
from o365imap.messages._server import open_message, save_message, save_parts
from o365imap.messages._text import html_to_text
from o365imap.messages._types import (
    MAX_TEXT_BYTES,
    MessageView,
    PartHook,
    PartInfo,
    Progress,
    ProgressHook,
    ReportInfo,
    SavedPart,
    Writable,
)

__all__ = [
    "MAX_TEXT_BYTES",
    "MessageNotFound",
    "MessageView",
    "PartHook",
    "PartInfo",
    "Progress",
    "ProgressHook",
    "ReportInfo",
    "SavedPart",
    "Writable",
    "html_to_text",
    "open_eml",
    "open_message",
    "save_eml_parts",
    "save_message",
    "save_parts",
]
