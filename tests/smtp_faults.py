"""A loopback SMTP server (aiosmtpd) that misbehaves on request: the faults a real
submission server cannot be asked for.

The sandbox's Dovecot submission service is the peer for everything it can do (tests
against it use the ``smtp`` fixture). What it cannot do on demand is here: a connection cut
right after the message's end (did it arrive?), a throttled DATA answered again and again,
Office 365's own AUTH refusals word for word. The server speaks plain SMTP on 127.0.0.1 and
checks XOAUTH2 against one token; what it received is kept in ``messages``.
"""

from __future__ import annotations

import base64
import socket
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

USER = "adele.vance@contoso.example"
TOKEN = "token-for-the-fault-server"


@dataclass
class Faults:
    """What the server does wrong; each counter is used up by the attempts it spoils."""

    auth_reply: str | None = None  # refuse every AUTH with this reply
    tokens: list[str] = field(default_factory=lambda: [TOKEN])  # the tokens it accepts
    defer_data: int = 0  # answer the message's end with a 4xx this many times
    defer_reply: str = "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded"
    cut_after_data: int = 0  # close the connection after the message's end, unanswered
    cut_in_data: int = 0  # close the connection as soon as DATA starts
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> RCPT reply
    data_reply: str | None = None  # answer every message's end with this (a 5xx)


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes
    mail_options: list[str]


class _Handler:
    def __init__(self, faults: Faults, received: list[Received]) -> None:
        self.faults = faults
        self.received = received
        self.auth_logins: list[str] = []

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        answer = await server.challenge_auth("")
        if not isinstance(answer, bytes):
            return AuthResult(success=False, handled=False)
        fields = dict(part.split("=", 1) for part in answer.decode().split("\x01") if "=" in part)
        user, bearer = fields.get("user", ""), fields.get("auth", "")
        self.auth_logins.append(user)
        if self.faults.auth_reply is not None:
            return AuthResult(success=False, handled=False, message=self.faults.auth_reply)
        if user == USER and bearer.removeprefix("Bearer ") in self.faults.tokens:
            return AuthResult(success=True, auth_data=user)
        error = base64.b64encode(b'{"status":"401","schemes":"bearer"}').decode()
        await server.challenge_auth(error, encode_to_b64=False)
        return AuthResult(
            success=False, handled=False, message="535 5.7.3 Authentication unsuccessful"
        )

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.faults.refuse.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        faults = self.faults
        if faults.cut_after_data:
            faults.cut_after_data -= 1
            self.received.append(_received(envelope))  # it did arrive
            assert server.transport is not None
            server.transport.close()
            return "250 never seen"
        if faults.defer_data:
            faults.defer_data -= 1
            return faults.defer_reply
        if faults.data_reply is not None:
            return faults.data_reply
        self.received.append(_received(envelope))
        return "250 2.0.0 OK <queued>"


def _received(envelope: Envelope) -> Received:
    content = envelope.original_content or b""
    return Received(
        envelope.mail_from or "", list(envelope.rcpt_tos), content, list(envelope.mail_options)
    )


class _CuttingSMTP(SMTP):
    """Cuts the connection as DATA starts, when asked."""

    def __init__(self, handler: _Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._faults = handler.faults

    async def smtp_DATA(self, arg: str) -> None:
        if self._faults.cut_in_data:
            self._faults.cut_in_data -= 1
            assert self.transport is not None
            self.transport.close()
            return
        await super().smtp_DATA(arg)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _CuttingSMTP(self.handler, **self.SMTP_kwargs)


class FaultySmtp:
    """``with FaultySmtp() as server:`` a server on ``server.port``; set ``server.faults``."""

    def __init__(self, *, size_limit: int = 35 * 1024 * 1024) -> None:
        self.faults = Faults()
        self.received: list[Received] = []
        self.handler = _Handler(self.faults, self.received)
        self.host = "127.0.0.1"
        with socket.create_server((self.host, 0)) as probe:  # aiosmtpd cannot take port 0
            self.port = probe.getsockname()[1]
        self._controller = _Controller(
            self.handler,
            hostname=self.host,
            port=self.port,
            auth_require_tls=False,
            data_size_limit=size_limit,
            enable_SMTPUTF8=True,
            server_hostname="faulty.test",
        )

    def __enter__(self) -> FaultySmtp:
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._controller.stop()
