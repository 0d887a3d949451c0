"""Outgoing messages built from what a person wants sent: pure, no network.

The rule this package keeps: a message of any size is written in memory that does not grow with
its attachments (each file is read once, in chunks, into base64 in the output file), and what
reaches a header is checked first, so that no value typed by a person can add a line or a
recipient of its own.

* ``_addresses``: addresses and header values parsed and checked (``parse_addresses``);
* ``_draft``: the values (``Draft``, ``Attachment``, ``Written``);
* ``_write``: a Draft written as a MIME message (``write_message``);
* ``_copy``: a ready ``.eml`` file copied for sending, Bcc taken out (``copy_ready_message``);
* ``_reply``: drafts answering or forwarding a message (``reply_draft``, ``forward_draft``);
* ``_template``: the text a person edits in ``$EDITOR`` (``render_template``,
  ``parse_template``, ``unchanged``).

Everything public is re-exported here; the modules themselves are private.
"""

from __future__ import annotations

from o365imap.compose._addresses import bare_address, check_header, parse_addresses
from o365imap.compose._copy import MAX_HEADER_BYTES, copy_ready_message
from o365imap.compose._draft import Attachment, Draft, Written
from o365imap.compose._reply import forward_draft, reply_draft, subject_with
from o365imap.compose._template import parse_template, render_template, unchanged
from o365imap.compose._write import write_message

__all__ = [
    "MAX_HEADER_BYTES",
    "Attachment",
    "Draft",
    "Written",
    "bare_address",
    "check_header",
    "copy_ready_message",
    "forward_draft",
    "parse_addresses",
    "parse_template",
    "render_template",
    "reply_draft",
    "subject_with",
    "unchanged",
    "write_message",
]
