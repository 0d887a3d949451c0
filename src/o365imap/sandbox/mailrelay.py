"""The sandbox's mail transport: where Dovecot's submission service relays every message.

Dovecot's submission service plays smtp.office365.com:587 (TLS, XOAUTH2, size limit) but
delivers nothing itself: it hands each accepted message to a relay. :class:`MailRelay` is
that relay, an SMTP server on loopback (aiosmtpd, in a thread of its own) that does what
Exchange Online's transport does after SMTP AUTH:

- a recipient that is a sandbox mailbox gets the message through Dovecot (its LMTP where it
  can reach the mail; see :meth:`~o365imap.sandbox.dovecot.DovecotServer.deliver`);
- an unknown address at a sandbox domain is refused at RCPT with Office 365's
  ``550 5.1.10 RESOLVER.ADR.RecipientNotFound`` (Dovecot passes the reply on to the client);
- a recipient elsewhere is kept in the outbox folder, one ``.eml`` per message, headed by
  ``X-Sandbox-Envelope-*`` lines naming the envelope (Bcc'd recipients included);
- the sender gets a copy in ``Sent``, marked ``\\Seen``, as Exchange Online saves one.

Two emulations are switched at run time: :meth:`MailRelay.throttle` (the next messages refused
with ``432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded``) and
:attr:`MailRelay.send_as_check` (``554 5.2.252 SendAsDenied`` when the envelope sender or the
From: header is not the user who logged in). Dovecot tells the relay who logged in with
``XCLIENT LOGIN=`` because its configuration trusts the relay (``submission_relay_trusted``).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.utils
import itertools
import logging
import re
import smtplib
import socket
import threading
import time
from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session, syntax

__all__ = [
    "RECIPIENT_NOT_FOUND",
    "SEND_AS_DENIED",
    "THROTTLED",
    "MailRelay",
    "OutboxMessage",
]

# Office 365's replies, word for word.
RECIPIENT_NOT_FOUND = (
    "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"
)
THROTTLED = "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded"
SEND_AS_DENIED = (
    "554 5.2.252 SendAsDenied; {user} not allowed to send as {sender}; "
    "STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied"
)
_QUEUED = "250 2.0.0 OK Queued mail for delivery"
_DELIVERY_FAILED = "451 4.3.0 Temporary server error: delivery to a sandbox mailbox failed"
# Dovecot enforces the advertised limit (submission_max_mail_size); the relay only must not
# refuse first (aiosmtpd's default, 32 MiB, is below Office 365's 35 MB).
_RELAY_SIZE_LIMIT = 64 * 1024 * 1024
_ENVELOPE_FROM = "X-Sandbox-Envelope-From"
_ENVELOPE_TO = "X-Sandbox-Envelope-To"

log = logging.getLogger("o365imap.sandbox.relay")


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message that would have left the tenant: its envelope and where it is kept."""

    mail_from: str
    recipients: tuple[str, ...]
    path: Path

    def content(self) -> bytes:
        """The message as relayed (without the relay's ``X-Sandbox-Envelope-*`` lines)."""
        data = self.path.read_bytes()
        while data.startswith((_ENVELOPE_FROM.encode(), _ENVELOPE_TO.encode())):
            data = data.split(b"\r\n", 1)[1]
        return data


def _xtext_decode(value: str) -> str:
    """RFC 3461 xtext, as XCLIENT values are written: ``+XX`` is a hex-coded byte."""
    return re.sub(r"\+([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), value)


class _RelaySMTP(SMTP):
    """aiosmtpd's server, plus the XCLIENT command Dovecot sends a trusted relay."""

    login: str | None = None  # who logged in to Dovecot's submission, from XCLIENT LOGIN=

    @syntax("XCLIENT attribute=value ...")
    async def smtp_XCLIENT(self, arg: str) -> None:
        # Postfix's XCLIENT: the relay now speaks for that client; the answer is a new
        # greeting, after which the client says EHLO again.
        for item in (arg or "").split():
            name, _, value = item.partition("=")
            if name.upper() == "LOGIN":
                value = _xtext_decode(value)
                self.login = None if value.startswith("[") else value.lower()
        await self.push(f"220 {self.hostname} ESMTP sandbox relay")


class _Controller(Controller):
    """aiosmtpd's threaded server on a socket bound beforehand.

    Bound here, a taken port fails at once with OSError; aiosmtpd binding it itself would
    wait out its whole ready timeout first.
    """

    def __init__(self, handler: _Handler, sock: socket.socket, **kwargs: Any) -> None:
        self._sock = sock
        super().__init__(handler, **kwargs)

    def factory(self) -> SMTP:
        return _RelaySMTP(self.handler, **self.SMTP_kwargs)

    def _create_server(self) -> Coroutine[Any, Any, asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)


class MailRelay:
    """An SMTP relay on ``host:port`` that delivers the sandbox's mail (see the module).

    ``mailboxes`` lists the sandbox's addresses (lower case) when asked, so users added later
    count; ``deliver(sender, recipient, message)`` puts a message in a mailbox's INBOX (an
    SMTPException or OSError: it failed); ``save_sent(user, message)`` stores a copy in the
    user's ``Sent`` folder, marked ``\\Seen``; ``outbox`` is the folder for mail to outside
    addresses.
    """

    def __init__(
        self,
        *,
        port: int,
        mailboxes: Callable[[], Collection[str]],
        deliver: Callable[[str, str, bytes], None],
        save_sent: Callable[[str, bytes], None],
        outbox: Path,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.port = port
        self.deliver = deliver
        self.mailboxes = mailboxes
        self.save_sent = save_sent
        self.outbox = outbox
        # On by default, as in Office 365: a user may send as themselves only.
        self.send_as_check = True
        self._throttled = 0
        self._lock = threading.Lock()
        self._serial = itertools.count(1)
        self._controller: _Controller | None = None

    # -- switches --------------------------------------------------------------------------------

    def throttle(self, messages: int = 1) -> None:
        """Refuse the next ``messages`` messages with Office 365's 4xx (0: stop throttling)."""
        with self._lock:
            self._throttled = max(0, messages)

    # -- what left -------------------------------------------------------------------------------

    def outbox_messages(self) -> list[OutboxMessage]:
        """Every message kept for outside recipients so far, oldest first."""
        found = []
        for path in sorted(self.outbox.glob("*.eml")):
            head = path.read_bytes().split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
            sender, recipients = "", []
            for line in head.split("\r\n"):
                name, _, value = line.partition(": ")
                if name == _ENVELOPE_FROM:
                    sender = value
                elif name == _ENVELOPE_TO:
                    recipients.append(value)
            found.append(OutboxMessage(sender, tuple(recipients), path))
        return found

    def clear_outbox(self) -> None:
        for path in self.outbox.glob("*.eml"):
            path.unlink()

    # -- process ---------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> MailRelay:
        """Listen on ``host:port`` (OSError when taken) and serve in a background thread."""
        if self._controller is not None:
            return self
        self.outbox.mkdir(parents=True, exist_ok=True)
        sock = socket.create_server((self.host, self.port))
        controller = _Controller(
            _Handler(self),
            sock,
            hostname=self.host,
            port=self.port,
            server_hostname="relay.sandbox.o365imap.test",
            data_size_limit=_RELAY_SIZE_LIMIT,
            ready_timeout=10,
        )
        try:
            controller.start()
        except BaseException:
            sock.close()
            raise
        self._controller = controller
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            with contextlib.suppress(AssertionError, RuntimeError):
                controller.stop()

    # -- the work, in the relay's thread pool ----------------------------------------------------

    def _take_throttle(self) -> bool:
        with self._lock:
            if self._throttled:
                self._throttled -= 1
                return True
            return False

    def _sent_as(self, login: str, envelope: Envelope, content: bytes) -> str | None:
        """The address ``login`` may not send as (From: first, then MAIL FROM), if any."""
        headers = email.parser.BytesHeaderParser().parsebytes(content)
        senders = [addr for _, addr in email.utils.getaddresses(headers.get_all("From", []))]
        senders.append(envelope.mail_from or "")
        for sender in senders:
            if sender and sender.lower() != login:
                return sender
        return None

    def _deliver(self, login: str | None, envelope: Envelope, content: bytes) -> str:
        local = set(self.mailboxes())
        mail_from = envelope.mail_from or ""
        inside = [r for r in envelope.rcpt_tos if r.lower() in local]
        outside = [r for r in envelope.rcpt_tos if r.lower() not in local]
        for rcpt in inside:
            try:
                self.deliver(mail_from, rcpt.lower(), content)
            except (smtplib.SMTPException, OSError) as exc:
                log.warning("delivery to %s failed: %s", rcpt, exc)
                return _DELIVERY_FAILED
        if outside:
            self._keep(mail_from, outside, content)
        owner = login or mail_from.lower()
        if owner in local:
            try:
                self.save_sent(owner, content)
            except Exception as exc:  # the mail went: a lost copy is only logged
                log.warning("the Sent copy for %s failed: %s", owner, exc)
        return _QUEUED

    def _keep(self, mail_from: str, recipients: list[str], content: bytes) -> None:
        head = f"{_ENVELOPE_FROM}: {mail_from}\r\n" + "".join(
            f"{_ENVELOPE_TO}: {r}\r\n" for r in recipients
        )
        # nanoseconds: names sort by time, also across runs in the same folder
        name = f"{time.time_ns()}-{next(self._serial):05d}.eml"
        data = head.encode() + content.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        path = self.outbox / name
        path.write_bytes(data)


class _Handler:
    """aiosmtpd's hooks: what the relay answers at EHLO, RCPT and DATA."""

    def __init__(self, relay: MailRelay) -> None:
        self.relay = relay

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        # ENHANCEDSTATUSCODES: without it Dovecot reads "5.1.10" as text and puts its own
        # 5.0.0 in front. XCLIENT: Dovecot then says who logged in.
        extra = ["250-ENHANCEDSTATUSCODES", "250-XCLIENT ADDR PORT PROTO HELO LOGIN NAME"]
        return [*responses[:-1], *extra, responses[-1]]

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        mailboxes = set(self.relay.mailboxes())
        domains = {m.rpartition("@")[2] for m in mailboxes}
        lowered = address.lower()
        if lowered not in mailboxes and lowered.rpartition("@")[2] in domains:
            return RECIPIENT_NOT_FOUND
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        relay = self.relay
        content = envelope.original_content or b""
        if relay._take_throttle():
            return THROTTLED
        login = server.login if isinstance(server, _RelaySMTP) else None
        if login is not None and relay.send_as_check:
            sender = relay._sent_as(login, envelope, content)
            if sender is not None:
                return SEND_AS_DENIED.format(user=login, sender=sender)
        loop = asyncio.get_running_loop()
        # LMTP and the Sent copy block: off the event loop, so other sessions go on.
        reply: Any = await loop.run_in_executor(None, relay._deliver, login, envelope, content)
        return str(reply)
