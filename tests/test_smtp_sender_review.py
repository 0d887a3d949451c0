"""The sender against replies the fault server cannot give: a line-by-line scripted peer.

A challenge that is not base64, a temporary AUTH refusal, DATA refused after MAIL and RCPT
were taken, a connection that outlives its token, a sender written with a display name: each
ends in one of o365imap's errors (never smtplib's, binascii's or a codec's) or in a send.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from o365imap import RetryPolicy
from o365imap.errors import (
    AuthenticationFailed,
    ProtocolError,
    SendFailed,
    Throttled,
    UsageError,
)
from o365imap.protocol.sasl import xoauth2
from o365imap.smtp import SmtpSender
from smtp_faults import TOKEN, USER, FaultySmtp

FAST = RetryPolicy(throttle_retries=3, max_backoff=0.01, max_reconnects=2)
EHLO = "250-scripted\r\n250-AUTH XOAUTH2\r\n250 8BITMIME"


class Scripted:
    """A loopback SMTP peer: each command's first word (upper case) picks its reply from
    ``replies`` ("250 ok" when absent); ``END`` answers the message's end. ``lines`` keeps
    what it was sent, message lines left out."""

    def __init__(self, replies: dict[str, str]) -> None:
        self.replies = {"EHLO": EHLO, "AUTH": "334 ", **replies}
        self.replies.setdefault(xoauth2(USER, TOKEN).decode().upper(), "235 2.7.0 ok")
        self.lines: list[str] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self.sock.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            stream.write(b"220 scripted\r\n")
            stream.flush()
            in_data = False
            while line := stream.readline():
                text = line.decode().rstrip("\r\n")
                if in_data:
                    if text != ".":
                        continue
                    in_data, reply = False, self.replies.get("END", "250 ok")
                else:
                    self.lines.append(text)
                    key = text.split(" ")[0].upper()
                    reply = self.replies.get(key, "250 ok")
                    in_data = key == "DATA" and reply.startswith("354")
                stream.write(reply.encode() + b"\r\n")
                stream.flush()


@pytest.fixture
def server() -> Iterator[FaultySmtp]:
    with FaultySmtp() as running:
        yield running


def _sender(port: int) -> SmtpSender:
    return SmtpSender("127.0.0.1", port, security="plain", retry=FAST, timeout=5)


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"] = USER, "bob@fabrikam.example"
    message["Subject"] = "Report"
    message.set_content("Hello\n")
    return message


def test_a_challenge_that_is_not_base64_is_a_protocol_error() -> None:
    peer = Scripted({"AUTH": "334 go ahead"})
    try:
        with _sender(peer.port) as sender, pytest.raises(ProtocolError):
            sender.authenticate_oauth(USER, TOKEN)
    finally:
        peer.close()


def test_a_temporary_auth_refusal_is_not_a_refused_token(server: FaultySmtp) -> None:
    server.faults.auth_reply = "454 4.7.0 Temporary authentication failure"
    refreshed: list[int] = []

    def refresh() -> str:
        refreshed.append(1)
        return TOKEN

    with _sender(server.port) as sender, pytest.raises(Throttled) as caught:
        sender.authenticate_oauth(USER, TOKEN, refresh=refresh)
    assert not isinstance(caught.value, AuthenticationFailed)  # exit 3, not 2
    assert "SMTP.Send" not in str(caught.value) and refreshed == []


def test_a_non_ascii_mailbox_is_a_usage_error(server: FaultySmtp) -> None:
    with _sender(server.port) as sender, pytest.raises(UsageError):
        sender.authenticate_oauth("jürgen@contoso.example", TOKEN)


def test_data_refused_ends_the_transaction_for_the_next_message() -> None:
    peer = Scripted({"DATA": "554 5.6.0 no"})
    try:
        with _sender(peer.port) as sender:
            sender.authenticate_oauth(USER, TOKEN)
            with pytest.raises(SendFailed):
                sender.send(_message())
        assert peer.lines[-3:] == ["DATA", "rset", "quit"]
    finally:
        peer.close()


def test_a_reconnect_gets_a_fresh_token_when_the_old_one_expired(server: FaultySmtp) -> None:
    with _sender(server.port) as sender:
        sender.authenticate_oauth(USER, TOKEN, refresh=lambda: "fresh-token")
        server.faults.tokens = ["fresh-token"]  # the first expired meanwhile
        server.faults.cut_in_data = 1  # and the connection ended
        sender.send(_message())
    assert len(server.received) == 1


def test_a_sender_with_a_display_name_is_its_address(server: FaultySmtp) -> None:
    message = _message()
    del message["From"]
    with _sender(server.port) as sender:
        sender.authenticate_oauth(USER, TOKEN)
        result = sender.send(message, sender=f"Adele Vance <{USER}>")
    assert result.sender == USER == server.received[0].sender
    assert result.message_id is not None and result.message_id.endswith("@contoso.example>")


def test_a_sender_with_a_line_break_is_a_usage_error(server: FaultySmtp) -> None:
    with _sender(server.port) as sender:
        sender.authenticate_oauth(USER, TOKEN)
        with pytest.raises(UsageError):
            sender.send(_message(), sender=f"{USER}\r\nRSET")
    assert server.received == []
