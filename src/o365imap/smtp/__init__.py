"""Sending mail through an SMTP submission server (Office 365's smtp.office365.com:587) with
OAuth 2.0: :class:`SmtpSender` on the standard library's smtplib.

The sender takes a token and a refresh callable, as :class:`~o365imap.ImapClient` does;
:func:`o365imap.open_sender` makes one from a saved profile.
"""

from __future__ import annotations

from ._sender import DEFAULT_SMTP_HOST, SendResult, SmtpSender, default_smtp_port
from ._spool import MessageSource, Spooled, spool, spool_draft

__all__ = [
    "DEFAULT_SMTP_HOST",
    "MessageSource",
    "SendResult",
    "SmtpSender",
    "Spooled",
    "default_smtp_port",
    "spool",
    "spool_draft",
]
