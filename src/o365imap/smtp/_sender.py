"""Submitting mail: the standard library's smtplib speaks SMTP, this module decides the rest.

What is ours: OAuth for AUTH (XOAUTH2 as Office 365 documents it: the token only after the
server's empty ``334``; OAUTHBEARER), certificates checked (STARTTLS required, never a silent
fall-back to clear text), the message streamed from disk in chunks (``_data``) instead of
smtplib's one bytes object, and what to do when something goes wrong:

- a 4xx (Office 365 throttles with ``432 4.3.2 ... sender thread limit exceeded``) or a
  connection lost before the message's end: the same transaction again after a growing wait,
  on a new connection if needed, a bounded number of times;
- a connection lost after the message's end went out: never again (it may have been
  delivered; sending it twice is worse), :class:`~o365imap.errors.MaybeSent`;
- a refused token: one fresh token when there is a ``refresh``, then the sentence of
  :mod:`._replies`;
- some recipients refused: the others get the message, :class:`SendResult` says who did not.

smtplib's own exceptions and the socket's never leave this module.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType

from o365imap._display import human_size
from o365imap._transport import Security, make_tls_context
from o365imap.client._policy import RetryPolicy
from o365imap.compose import bare_address
from o365imap.errors import (
    AuthenticationFailed,
    CapabilityMissing,
    ConnectError,
    ConnectionClosed,
    MaybeSent,
    MessageTooLarge,
    O365ImapError,
    ProtocolError,
    ReadTimeout,
    SmtpAuthDisabled,
    Throttled,
    UsageError,
)
from o365imap.limits import DEFAULT_TIMEOUT
from o365imap.protocol.sasl import decode_error_challenge, oauthbearer_text, xoauth2_text

from ._data import dot_stuffed
from ._replies import Reply, all_refused, auth_refused, refused, transient
from ._spool import MessageSource, Spooled, spool

__all__ = ["DEFAULT_SMTP_HOST", "SendResult", "SmtpSender", "default_smtp_port"]

log = logging.getLogger("o365imap.smtp")

DEFAULT_SMTP_HOST = "smtp.office365.com"
_PORTS = {Security.TLS: 465, Security.STARTTLS: 587, Security.PLAIN: 25}
_MECHANISMS = ("XOAUTH2", "OAUTHBEARER")
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?")
_FIRST_WAIT = 2.0  # seconds before the first retry; doubled each time, up to max_backoff


def default_smtp_port(security: Security | str) -> int:
    """587 for STARTTLS (Office 365's submission port), 465 for implicit TLS, 25 for plain."""
    return _PORTS[Security(security)]


@dataclass(frozen=True)
class SendResult:
    """What the server took: ``accepted`` got the message, ``refused`` maps the others to the
    server's reply. A result with refusals is a partial send, not a failure to raise."""

    message_id: str | None
    sender: str
    accepted: tuple[str, ...]
    refused: dict[str, str] = field(default_factory=dict)
    size: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "message_id": self.message_id,
            "sender": self.sender,
            "accepted": list(self.accepted),
            "refused": dict(self.refused),
            "size": self.size,
        }


class _Retry(Exception):
    """The transaction failed in a way the same transaction may not: wait and try again."""

    def __init__(self, reply: Reply | None, command: str, *, reconnect: bool) -> None:
        super().__init__(command)
        self.reply = reply
        self.command = command
        self.reconnect = reconnect


class SmtpSender:
    """One SMTP submission connection, signed in with OAuth 2.0.

    ``connect()``, ``authenticate_oauth()``, then ``send()`` as often as needed; a ``with``
    block says QUIT at the end. Every failure is one of o365imap's errors.
    """

    def __init__(
        self,
        host: str = DEFAULT_SMTP_HOST,
        port: int | None = None,
        *,
        security: Security | str = Security.STARTTLS,
        ca_file: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        local_hostname: str | None = None,
    ) -> None:
        try:
            self.security = Security(security)
        except ValueError:
            raise UsageError(
                f"SMTP security must be one of tls, starttls, plain, not {security!r}"
            ) from None
        self.host = host
        self.port = port or default_smtp_port(self.security)
        self.ca_file = ca_file
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        hostname = socket.gethostname()  # no DNS lookup, unlike smtplib's getfqdn()
        self.local_hostname = local_hostname or (
            hostname if _HOSTNAME.fullmatch(hostname) else "localhost"
        )
        self._smtp: smtplib.SMTP | None = None
        self._user: str | None = None
        self._token: str | None = None
        self._mechanism = "XOAUTH2"
        self._refresh: Callable[[], str] | None = None
        self._signed_in = False

    # -- connecting ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._smtp is not None and self._smtp.sock is not None

    @property
    def max_size(self) -> int | None:
        """The largest message the server takes (its SIZE), None when it does not say."""
        if self._smtp is None:
            return None
        value = self._smtp.esmtp_features.get("size", "").strip()
        return int(value) if value.isdigit() and int(value) > 0 else None

    def connect(self) -> None:
        """Connect, say EHLO and make the connection private (TLS or STARTTLS)."""
        self.close()
        where = f"{self.host}:{self.port}"
        context = make_tls_context(self.ca_file)
        with self._translated(f"connecting to {where}"):
            smtp: smtplib.SMTP
            if self.security is Security.TLS:
                smtp = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    local_hostname=self.local_hostname,
                    timeout=self.timeout,
                    context=context,
                )
            else:
                smtp = smtplib.SMTP(
                    self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
                )
            self._smtp = smtp
            smtp.ehlo_or_helo_if_needed()
            if self.security is Security.STARTTLS:
                if not smtp.has_extn("starttls"):
                    raise CapabilityMissing(
                        f"{where} does not offer STARTTLS, so the token would cross the network "
                        "in clear: use --smtp-security tls with the server's TLS port",
                        capability="STARTTLS",
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            elif self.security is Security.PLAIN and not _loopback(smtp):
                raise UsageError(
                    f"--smtp-security plain is only for a server on this machine: {where} is "
                    "not a loopback address, and the token would cross the network in clear"
                )
        log.debug("connected to %s (%s)", where, self.security.value)

    def authenticate_oauth(
        self,
        user: str,
        access_token: str,
        mechanism: str = "xoauth2",
        *,
        refresh: Callable[[], str] | None = None,
    ) -> None:
        """Sign in as ``user`` with ``access_token``; ``refresh`` gives a new one when the
        server refuses this one (it may have expired) or a new connection needs one."""
        if mechanism.upper() not in _MECHANISMS:
            raise UsageError(f"mechanism must be xoauth2 or oauthbearer, not {mechanism!r}")
        if not user.isascii():
            raise UsageError(f"SMTP AUTH takes an ASCII mailbox address, not {user!r}")
        self._user, self._token = user, access_token
        self._mechanism, self._refresh = mechanism.upper(), refresh
        self._sign_in()

    def _sign_in(self) -> None:
        """Connect if needed and AUTH; a refused token is refreshed once (it may have expired,
        also while a long-lived sender waited to reconnect)."""
        if not self.connected:
            self.connect()
        try:
            self._authenticate()
        except O365ImapError as exc:
            if self._refresh is None or not _worth_a_new_token(exc):
                raise
            log.info("the server refused the token; trying once more with a fresh one")
            self._token = self._refresh()
            if not self.connected:
                self.connect()
            self._authenticate()

    def _authenticate(self) -> None:
        smtp = self._require()
        assert self._user is not None and self._token is not None
        offered = smtp.esmtp_features.get("auth", "").upper().split()
        if self._mechanism not in offered:
            raise CapabilityMissing(
                f"{self.host} does not offer AUTH {self._mechanism} (it offers: "
                f"{', '.join(offered) or 'no AUTH at all'})",
                capability=f"AUTH={self._mechanism}",
            )
        if self._mechanism == "XOAUTH2":
            initial = xoauth2_text(self._user, self._token)
        else:
            initial = oauthbearer_text(self._user, self._token, self.host, self.port)
        answers = iter([initial])  # smtplib base64-encodes what it is given

        def answer(challenge: bytes | None = None) -> str:
            # The token goes after the server's first (empty) 334, as Microsoft documents
            # it: some servers limit an AUTH line's length, an initial response makes it
            # 2-3 KB. A second 334 carries the server's JSON reason; an empty line ends it.
            if challenge:
                detail = decode_error_challenge(base64.b64encode(challenge))
                if detail:
                    log.info("the server refused the token: %s", detail)
            return next(answers, "")

        try:
            smtp.auth(self._mechanism, answer, initial_response_ok=False)
        except smtplib.SMTPAuthenticationError as exc:
            reply = Reply.parse(exc.smtp_code, exc.smtp_error)
            if transient(reply):  # "454 4.7.0 Temporary authentication failure": not the token
                raise Throttled(
                    f"{self.host} cannot sign anyone in just now ({reply}): try again later",
                    command="AUTH",
                    status=str(reply.status),
                    code=reply.code,
                    text=reply.text,
                    backoff=None,
                ) from None
            raise auth_refused(reply, host=self.host, user=self._user) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise self._lost(exc, "signing in") from None
        except ValueError:  # a 334 challenge that is not base64 (smtplib decodes it)
            self.close()
            raise ProtocolError(
                f"{self.host} answered AUTH {self._mechanism} with a challenge that is not "
                "base64: not an SMTP AUTH server o365imap can sign in to"
            ) from None
        self._signed_in = True
        log.debug("signed in to %s as %s with %s", self.host, self._user, self._mechanism)

    # -- sending -----------------------------------------------------------------------------

    def send(
        self,
        message: MessageSource,
        *,
        sender: str | None = None,
        recipients: Sequence[str] | None = None,
    ) -> SendResult:
        """Submit ``message`` (an EmailMessage, bytes, a binary file or a path).

        The envelope comes from the message's From, To, Cc and Bcc unless ``sender`` or
        ``recipients`` say otherwise; Bcc headers never reach the server. Date, Message-ID
        and From (the signed-in mailbox, or ``sender``) are added when missing.
        """
        sender = bare_address(sender) if sender else None
        domain = (sender or self._user or "").rpartition("@")[2] or None
        with spool(
            message, recipients=recipients, domain=domain, default_from=sender or self._user
        ) as spooled:
            return self.send_spooled(spooled, sender=sender)

    def send_spooled(self, spooled: Spooled, *, sender: str | None = None) -> SendResult:
        """Submit a message already spooled (the CLI spools once, sends, then saves a copy)."""
        if not self._signed_in:
            raise UsageError("sign in first (authenticate_oauth) before sending")
        # "Name <a@b>" or a line break would reach MAIL FROM (and the Message-ID's domain)
        envelope_from = bare_address(sender) if sender else spooled.sender or self._user or ""
        limit = self.max_size
        if limit is not None and spooled.size > limit:
            size, most = human_size(spooled.size), human_size(limit)
            if size == most:  # rounded alike: the bytes say which is larger
                size, most = f"{spooled.size:,} bytes", f"{limit:,} bytes"
            raise MessageTooLarge(
                f"the message is {size} and {self.host} takes at most "
                f"{most}: send a link or smaller attachments",
                command="MAIL",
                status="",
                code=None,
                text="",
            )
        attempt = 0
        while True:
            try:
                if not self.connected:
                    self._sign_in()
                accepted, refusals = self._transaction(spooled, envelope_from)
                break
            except _Retry as retry:
                attempt += 1
                self._wait_or_give_up(retry, attempt)
                if retry.reconnect:
                    self.close()
                else:
                    self._reset()
        log.info(
            "sent %s (%d bytes) to %d of %d recipients",
            spooled.message_id,
            spooled.size,
            len(accepted),
            len(spooled.recipients),
        )
        return SendResult(
            spooled.message_id,
            envelope_from,
            tuple(accepted),
            {address: str(reply) for address, reply in refusals.items()},
            spooled.size,
        )

    def _transaction(
        self, spooled: Spooled, envelope_from: str
    ) -> tuple[list[str], dict[str, Reply]]:
        smtp = self._require()
        options: list[str] = []
        if smtp.has_extn("size"):
            options.append(f"SIZE={spooled.size}")
        if smtp.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")  # allowed for 7-bit messages too (RFC 6152)
        addresses = [envelope_from, *spooled.recipients]
        if not all(a.isascii() for a in addresses):
            if not smtp.has_extn("smtputf8"):
                raise UsageError(
                    f"{self.host} does not take addresses with non-ASCII characters (no "
                    "SMTPUTF8): use the ASCII form of the address"
                )
            options.append("SMTPUTF8")
        try:
            self._expect("MAIL", *smtp.mail(envelope_from, options), envelope_from)
            accepted: list[str] = []
            refusals: dict[str, Reply] = {}
            for recipient in spooled.recipients:
                code, text = smtp.rcpt(recipient)
                if code in (250, 251):
                    accepted.append(recipient)
                    continue
                reply = Reply.parse(code, text)
                if transient(reply):
                    raise _Retry(reply, "RCPT", reconnect=code == 421)
                refusals[recipient] = reply
            if not accepted:
                smtp.rset()
                raise all_refused(refusals)
            self._expect("DATA", *smtp.docmd("DATA"), envelope_from, wanted=354)
            for piece in dot_stuffed(spooled.chunks()):
                smtp.send(piece)
        except smtplib.SMTPServerDisconnected:
            raise _Retry(None, "DATA", reconnect=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise self._lost(exc, "sending") from None
        # The whole message is out: from here on, a lost connection may have delivered it.
        try:
            code, text = smtp.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise MaybeSent(
                f"the connection to {self.host} ended after the whole message was sent but "
                "before the server confirmed it: it may have been delivered, so it is not sent "
                "again; look in Sent Items before sending it once more",
                command="DATA",
                status="",
                code=None,
                text=str(exc),
            ) from None
        self._expect("DATA", code, text, envelope_from)
        return accepted, refusals

    def _expect(
        self, command: str, code: int, text: bytes, envelope_from: str, *, wanted: int = 250
    ) -> None:
        if code == wanted:
            return
        reply = Reply.parse(code, text)
        if transient(reply):
            raise _Retry(reply, command, reconnect=code == 421)
        if wanted == 354:  # MAIL and RCPT were taken: end that transaction for the next send
            self._reset()
        assert self._user is not None
        raise refused(reply, command=command, host=self.host, user=self._user, sender=envelope_from)

    def _wait_or_give_up(self, retry: _Retry, attempt: int) -> None:
        reply = retry.reply
        limit = self.retry.throttle_retries if reply else self.retry.max_reconnects
        if attempt > limit:
            if reply is None:
                raise ConnectionClosed(
                    f"the connection to {self.host} kept ending before the message was sent "
                    f"({limit} retries); nothing was sent"
                )
            raise Throttled(
                f"{self.host} kept deferring the message ({limit} retries, Office 365 takes "
                "30 messages a minute per mailbox); nothing was sent: try again later",
                command=retry.command,
                status=str(reply.status),
                code=reply.code,
                text=reply.text,
                backoff=None,
            )
        wait = min(_FIRST_WAIT * 2 ** (attempt - 1), self.retry.max_backoff)
        log.info(
            "%s said %s; trying again in %.1f s (%d of %d)",
            self.host,
            reply or "nothing (the connection ended)",
            wait,
            attempt,
            limit,
        )
        time.sleep(wait)

    def _reset(self) -> None:
        try:
            self._require().rset()
        except (smtplib.SMTPException, OSError):
            self.close()  # the next attempt connects anew

    # -- ending --------------------------------------------------------------------------------

    def close(self) -> None:
        """QUIT when connected; never raises."""
        smtp, self._smtp = self._smtp, None
        self._signed_in = False
        if smtp is None:
            return
        try:
            if smtp.sock is not None:
                smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- one translation of smtplib's and the socket's errors ----------------------------------

    def _require(self) -> smtplib.SMTP:
        if self._smtp is None:
            raise ConnectionClosed(f"not connected to {self.host}")
        return self._smtp

    def _lost(self, exc: BaseException, doing: str) -> O365ImapError:
        self.close()
        if isinstance(exc, TimeoutError):
            return ReadTimeout(f"{self.host} did not answer within {self.timeout:g} s ({doing})")
        return ConnectionClosed(f"the connection to {self.host} ended while {doing}: {exc}")

    @contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        try:
            yield
        except O365ImapError:
            self.close()
            raise
        except ssl.SSLCertVerificationError as exc:
            self.close()
            raise ConnectError(
                f"the certificate of {self.host} is not trusted ({exc.verify_message}); "
                "use --ca-file if the server uses a private CA"
            ) from None
        except socket.gaierror as exc:
            self.close()
            raise ConnectError(f"cannot find the server {self.host!r} ({exc.strerror})") from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            reply = Reply.parse(exc.smtp_code, exc.smtp_error)
            raise ConnectError(f"{self.host} turned the connection away ({reply})") from None
        except TimeoutError:
            self.close()
            raise ConnectError(f"timed out after {self.timeout:g} s {doing}") from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            reason = getattr(exc, "strerror", None) or exc
            raise ConnectError(f"cannot connect to {self.host}:{self.port}: {reason}") from None


def _loopback(smtp: smtplib.SMTP) -> bool:
    try:
        address = smtp.sock.getpeername()[0] if smtp.sock else ""
        return ipaddress.ip_address(str(address).split("%")[0]).is_loopback
    except (OSError, ValueError):
        return False


def _worth_a_new_token(exc: O365ImapError) -> bool:
    """A refused token may have expired; SMTP AUTH switched off will not change."""
    return isinstance(exc, AuthenticationFailed) and not isinstance(exc, SmtpAuthDisabled)
