"""The SMTP side of the test bed, as the ``smtp`` fixture gives it: a client's view and switches.

:class:`SmtpBed` wraps a :class:`~o365imap.sandbox.dovecot.DovecotServer` started with
``submission=True``: where to connect (:attr:`host`, :attr:`port` with STARTTLS, :attr:`tls_port`
with implicit TLS, :attr:`ca_file`), tokens for its users, a signed-in stdlib ``smtplib.SMTP``
(:meth:`connect`), the switches (:meth:`set_smtp_auth`, ``relay.throttle``,
``relay.send_as_check``) and what arrived (:meth:`folder`, ``relay.outbox_messages()``).
"""

from __future__ import annotations

import email
import imaplib
import smtplib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message

from o365imap.protocol.sasl import xoauth2_text
from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.mailrelay import MailRelay

IMAP_SCOPE = "IMAP.AccessAsUser.All"
SMTP_SCOPE = "SMTP.Send"
# What a profile that sends signs in for: one token for IMAP and submission alike (and the
# only kind Dovecot 2.4's submission takes: see dovecot_config._submission_24).
SEND_SCOPES = (IMAP_SCOPE, SMTP_SCOPE)


# smtplib and imaplib encode the SASL response themselves: the text, not its base64
xoauth2 = xoauth2_text


@dataclass
class SmtpBed:
    server: DovecotServer

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        """Submission with STARTTLS, as smtp.office365.com:587."""
        return self.server.submission_port

    @property
    def tls_port(self) -> int:
        return self.server.submissions_port

    @property
    def ca_file(self) -> str:
        return str(self.server.ca_file)

    @property
    def relay(self) -> MailRelay:
        return self.server.relay

    @property
    def checks_smtp_scope(self) -> bool:
        """Whether submission wants SMTP.Send rather than IMAP's scope (2.3 only)."""
        return self.server.features.dialect == "2.3"

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def token(self, user: str, scopes: Iterable[str] = SEND_SCOPES) -> str:
        return self.server.mint_token(user, scopes=scopes)

    def connect(self, user: str, token: str | None = None) -> smtplib.SMTP:
        """Signed in as ``user`` with XOAUTH2 after STARTTLS (SMTPAuthenticationError if not).

        The token goes after the server's 334, not on the AUTH line: Dovecot's submission
        refuses an AUTH line that long (``500 5.5.2 Line too long``).
        """
        conn = smtplib.SMTP(self.host, self.port, timeout=20)
        try:
            conn.starttls(context=self.context())
            secret = token if token is not None else self.token(user)
            conn.auth("XOAUTH2", lambda _=None: xoauth2(user, secret), initial_response_ok=False)
        except BaseException:
            conn.close()
            raise
        return conn

    def set_smtp_auth(self, user: str, enabled: bool) -> None:
        """The switch; on returns once Dovecot sees it (DovecotServer.set_smtp_auth waits)."""
        self.server.set_smtp_auth(user, enabled)

    def folder(self, user: str, name: str = "INBOX") -> list[tuple[Message, bytes]]:
        """Every message in ``user``'s folder ``name`` with its flags, read over IMAP."""
        token = self.server.mint_token(user)
        with imaplib.IMAP4_SSL(self.host, self.server.imaps_port, ssl_context=self.context()) as im:
            im.authenticate("XOAUTH2", lambda _: xoauth2(user, token).encode())
            im.select(name, readonly=True)
            _, data = im.fetch("1:*", "(FLAGS BODY.PEEK[])")
        found = []
        for item in data:
            if isinstance(item, tuple):
                found.append((email.message_from_bytes(item[1]), item[0]))
        return found

    def subjects(self, user: str, name: str = "INBOX") -> list[str]:
        return [str(message["Subject"]) for message, _ in self.folder(user, name)]
