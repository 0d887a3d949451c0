"""The SMTP sender's own decisions, against a loopback SMTP server that misbehaves on request.

Throttling answered again and again, a connection cut before or after the message's end, a
token refused and refreshed, Office 365's refusals word for word: what the sender does with
each, and that the token never reaches a log or an error. The sandbox's real submission
server is the peer in tests/test_send_sandbox.py.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

import pytest

from o365imap import RetryPolicy
from o365imap.errors import (
    AuthenticationFailed,
    MaybeSent,
    MessageTooLarge,
    RecipientsRefused,
    SendAsDenied,
    SendFailed,
    SmtpAuthDisabled,
    Throttled,
)
from o365imap.smtp import SmtpSender
from smtp_faults import TOKEN, USER, FaultySmtp

FAST = RetryPolicy(throttle_retries=3, max_backoff=0.01, max_reconnects=2)


@pytest.fixture
def server() -> Iterator[FaultySmtp]:
    with FaultySmtp() as running:
        yield running


def _sender(server: FaultySmtp, **kw: object) -> SmtpSender:
    sender = SmtpSender(server.host, server.port, security="plain", retry=FAST, timeout=5, **kw)  # type: ignore[arg-type]
    sender.connect()
    return sender


def _message(body: str = "Hello\n") -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Adele Vance <{USER}>"
    message["To"] = "Bob <bob@fabrikam.example>, carol@fabrikam.example"
    message["Cc"] = "dan@fabrikam.example"
    message["Bcc"] = "secret@fabrikam.example"
    message["Subject"] = "Quarterly report"
    message.set_content(body)
    return message


def test_a_message_goes_to_every_recipient_and_bcc_stays_out_of_the_headers(
    server: FaultySmtp,
) -> None:
    with _sender(server) as sender:
        sender.authenticate_oauth(USER, TOKEN)
        result = sender.send(_message())
    (received,) = server.received
    assert received.sender == USER
    assert received.recipients == [
        "bob@fabrikam.example",
        "carol@fabrikam.example",
        "dan@fabrikam.example",
        "secret@fabrikam.example",
    ]
    assert result.accepted == tuple(received.recipients) and result.refused == {}
    parsed = BytesParser(policy=default_policy).parsebytes(received.data)
    assert "Bcc" not in parsed and b"secret@" not in received.data
    assert parsed["Message-ID"] == result.message_id and parsed["Date"]
    assert f"SIZE={result.size}" in received.mail_options


def test_lines_starting_with_a_dot_arrive_unchanged(server: FaultySmtp) -> None:
    body = ".\n..two\n.\r\nend\n." + "x" * 300_000 + "\n.last\n"
    with _sender(server) as sender:
        sender.authenticate_oauth(USER, TOKEN)
        sender.send(_message(body))
    parsed = BytesParser(policy=default_policy).parsebytes(server.received[0].data)
    assert parsed.get_content().replace("\r\n", "\n") == body.replace("\r\n", "\n")


def test_a_throttled_message_is_sent_again_after_a_wait(server: FaultySmtp) -> None:
    server.faults.defer_data = 2
    with _sender(server) as sender:
        sender.authenticate_oauth(USER, TOKEN)
        result = sender.send(_message())
    assert len(server.received) == 1 and result.accepted


def test_throttling_that_outlasts_the_retries_is_an_error_and_nothing_is_sent(
    server: FaultySmtp,
) -> None:
    server.faults.defer_data = 10
    with _sender(server) as sender, pytest.raises(Throttled) as caught:
        sender.authenticate_oauth(USER, TOKEN)
        sender.send(_message())
    assert server.received == []
    assert caught.value.status == "432" and caught.value.code == "4.3.2"
    assert "nothing was sent" in str(caught.value)


def test_a_cut_before_the_message_ends_is_retried_on_a_new_connection(
    server: FaultySmtp,
) -> None:
    server.faults.cut_in_data = 1
    with _sender(server) as sender:
        sender.authenticate_oauth(USER, TOKEN)
        sender.send(_message())
    assert len(server.received) == 1
    assert server.handler.auth_logins == [USER, USER]  # signed in again on the new one


def test_a_cut_after_the_message_ends_is_not_sent_twice(server: FaultySmtp) -> None:
    server.faults.cut_after_data = 1
    with _sender(server) as sender, pytest.raises(MaybeSent) as caught:
        sender.authenticate_oauth(USER, TOKEN)
        sender.send(_message())
    assert len(server.received) == 1  # it did arrive, once
    assert "may have been delivered" in str(caught.value)


def test_some_recipients_refused_the_others_get_it(server: FaultySmtp) -> None:
    refusal = (
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient carol@fabrikam.example not "
        "found by SMTP address lookup"
    )
    server.faults.refuse = {"carol@fabrikam.example": refusal}
    with _sender(server) as sender:
        sender.authenticate_oauth(USER, TOKEN)
        result = sender.send(_message())
    assert server.received[0].recipients == [
        "bob@fabrikam.example",
        "dan@fabrikam.example",
        "secret@fabrikam.example",
    ]
    assert result.refused == {"carol@fabrikam.example": refusal}
    assert "carol@fabrikam.example" not in result.accepted


def test_every_recipient_refused_is_a_usage_error_and_nothing_is_sent(
    server: FaultySmtp,
) -> None:
    server.faults.refuse = {
        a: "550 5.1.1 User unknown"
        for a in ("bob@fabrikam.example", "carol@fabrikam.example", "dan@fabrikam.example")
    }
    with _sender(server) as sender, pytest.raises(RecipientsRefused) as caught:
        sender.authenticate_oauth(USER, TOKEN)
        sender.send(_message(), recipients=["bob@fabrikam.example", "carol@fabrikam.example"])
    assert server.received == []
    assert set(caught.value.refused) == {"bob@fabrikam.example", "carol@fabrikam.example"}


@pytest.mark.parametrize(
    ("reply", "scope", "fix"),
    [
        (
            "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for "
            "the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. "
            "[MN2PR05CA0004.namprd05.prod.outlook.com 2023-09-12T20:59:57.214Z]",
            "tenant",
            "Set-TransportConfig -SmtpClientAuthenticationDisabled $false",
        ),
        (
            "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for "
            "the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information.",
            "mailbox",
            f"Set-CASMailbox -Identity {USER} -SmtpClientAuthenticationDisabled $false",
        ),
    ],
)
def test_smtp_auth_switched_off_says_how_to_switch_it_on(
    server: FaultySmtp, reply: str, scope: str, fix: str
) -> None:
    server.faults.auth_reply = reply
    refreshed: list[int] = []
    with _sender(server) as sender, pytest.raises(SmtpAuthDisabled) as caught:

        def refresh() -> str:
            refreshed.append(1)
            return TOKEN

        sender.authenticate_oauth(USER, TOKEN, refresh=refresh)
    assert caught.value.scope == scope and fix in str(caught.value)
    assert caught.value.status == "535" and caught.value.code == "5.7.139"
    assert refreshed == []  # a new token would not help


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        ("535 5.7.3 Authentication unsuccessful [SN4PR0501CA0054.outlook.com]", "SMTP.Send"),
        (
            "535 5.7.139 Authentication unsuccessful, basic authentication is disabled. "
            "[BN9PR03CA0421.namprd03.prod.outlook.com]",
            "no longer takes passwords",
        ),
        (
            "535 5.7.139 Authentication unsuccessful, the request did not meet the criteria "
            "to be authenticated successfully. Contact your administrator.",
            "Conditional Access",
        ),
        ("550 5.7.30 Basic authentication is not supported for Client Submission.", "OAuth"),
    ],
)
def test_each_refused_sign_in_gets_its_own_sentence(
    server: FaultySmtp, reply: str, words: str
) -> None:
    server.faults.auth_reply = reply
    with _sender(server) as sender, pytest.raises(AuthenticationFailed) as caught:
        sender.authenticate_oauth(USER, TOKEN)
    assert words in str(caught.value)
    assert not isinstance(caught.value, SmtpAuthDisabled)


def test_a_refused_token_is_refreshed_once(server: FaultySmtp) -> None:
    server.faults.tokens = ["fresh-token"]
    calls: list[int] = []

    def refresh() -> str:
        calls.append(1)
        return "fresh-token"

    with _sender(server) as sender:
        sender.authenticate_oauth(USER, TOKEN, refresh=refresh)
        sender.send(_message())
    assert calls == [1] and len(server.received) == 1


def test_a_refused_token_without_refresh_names_the_missing_permission(
    server: FaultySmtp,
) -> None:
    server.faults.tokens = []
    with _sender(server) as sender, pytest.raises(AuthenticationFailed) as caught:
        sender.authenticate_oauth(USER, TOKEN)
    assert caught.value.code == "5.7.3" and "SMTP.Send" in str(caught.value)


def test_send_as_denied_names_who_may_not_send_as_whom(server: FaultySmtp) -> None:
    server.faults.data_reply = (
        f"554 5.2.252 SendAsDenied; {USER} not allowed to send as ceo@contoso.example; "
        "STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied"
    )
    with _sender(server) as sender, pytest.raises(SendAsDenied) as caught:
        sender.authenticate_oauth(USER, TOKEN)
        sender.send(_message(), sender="ceo@contoso.example")
    assert f"{USER} may not send as ceo@contoso.example" in str(caught.value)
    assert "Add-RecipientPermission" in str(caught.value)


def test_the_daily_recipient_limit_is_said_plainly(server: FaultySmtp) -> None:
    server.faults.data_reply = (
        "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed "
        "to process message due to a permanent exception"
    )
    with _sender(server) as sender, pytest.raises(SendFailed) as caught:
        sender.authenticate_oauth(USER, TOKEN)
        sender.send(_message())
    assert "10,000 recipients a day" in str(caught.value)


def test_a_message_over_the_servers_size_is_refused_before_it_is_uploaded() -> None:
    with FaultySmtp(size_limit=50_000) as server:
        with _sender(server) as sender, pytest.raises(MessageTooLarge) as caught:
            sender.authenticate_oauth(USER, TOKEN)
            sender.send(_message("x" * 60_000))
        assert server.received == []
    assert "KiB" in str(caught.value)  # the same units as everywhere a person reads sizes


def test_a_message_just_over_the_size_says_the_bytes_when_the_units_round_alike() -> None:
    with FaultySmtp(size_limit=50_000) as server:
        with _sender(server) as sender, pytest.raises(MessageTooLarge) as caught:
            sender.authenticate_oauth(USER, TOKEN)
            head = (
                f"From: {USER}\r\nTo: bob@fabrikam.example\r\nSubject: big\r\n"
                "Date: Tue, 05 Mar 2024 10:00:00 +0000\r\nMessage-ID: <big@example.com>\r\n\r\n"
            ).encode()
            sender.send(head + b"x" * (50_010 - len(head)))  # 10 bytes too many: both 48.8 KiB
        assert server.received == []
    assert "takes at most 50,000 bytes" in str(caught.value)


def test_the_token_never_reaches_a_log_or_an_error(
    server: FaultySmtp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.faults.tokens = []
    with _sender(server) as sender, pytest.raises(AuthenticationFailed) as caught:
        sender.authenticate_oauth(USER, TOKEN, refresh=lambda: TOKEN + "-2")
    server.faults.tokens = [TOKEN]
    with _sender(server) as sender:
        sender.authenticate_oauth(USER, TOKEN)
        sender.send(_message())
    shown = caplog.text + str(caught.value) + repr(caught.value.__dict__)
    assert TOKEN not in shown and "auth=Bearer" not in shown
    assert "dXNlcj1" not in shown  # base64 of "user=": no SASL string either


_MEMORY_PROBE = """
import sys, tracemalloc
from pathlib import Path
from o365imap.compose import Attachment, Draft
from o365imap.smtp import SmtpSender, spool_draft

port, path, user, token = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
tracemalloc.start()
draft = Draft(to=("bob@fabrikam.example",), subject="big", text="see attached",
              attachments=(Attachment(path),))
spooled = spool_draft(draft, sender=user)
with SmtpSender("127.0.0.1", port, security="plain", timeout=60) as sender:
    sender.authenticate_oauth(user, token)
    sender.send_spooled(spooled)
print(tracemalloc.get_traced_memory()[1], spooled.size)
"""


@pytest.mark.slow
def test_a_30_mb_message_is_sent_in_a_fraction_of_its_size_of_memory(tmp_path: Path) -> None:
    """Written and sent from disk in chunks: the sender's peak Python memory stays below the
    message's size (the issue's bound is three times it; loading the attachment whole, as
    EmailMessage does, would be two to three times it on its own)."""
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(22 * 1024 * 1024))  # 30 MB once base64-encoded
    with FaultySmtp(size_limit=64 * 1024 * 1024) as server:
        done = subprocess.run(
            [sys.executable, "-c", _MEMORY_PROBE, str(server.port), str(big), USER, TOKEN],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert len(server.received) == 1
    peak, size = map(int, done.stdout.split())
    assert size > 30_000_000
    assert peak < size / 4, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB message"


def test_a_message_without_from_is_sent_from_the_signed_in_mailbox(server: FaultySmtp) -> None:
    message = EmailMessage()
    message["To"], message["Subject"] = "bob@fabrikam.example", "Report"
    message.set_content("See attached.")
    with _sender(server) as sender:
        sender.authenticate_oauth(USER, TOKEN)
        result = sender.send(message)
    (received,) = server.received
    parsed = BytesParser(policy=default_policy).parsebytes(received.data)
    assert parsed["From"] == USER and received.sender == USER == result.sender
    assert "From" not in message  # the caller's object is left as it was
