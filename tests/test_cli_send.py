"""``o365imap send`` as a script uses it: options in, JSON and exit codes out.

The peer is the loopback fault server (tests/smtp_faults.py), reached with a token of the
caller's own (``O365IMAP_ACCESS_TOKEN``); the sandbox's real submission server, with
profiles and sign-in, is in tests/test_send_sandbox.py.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

import pytest

from cli_runner import invoke
from smtp_faults import TOKEN, USER, FaultySmtp


@pytest.fixture
def server() -> Iterator[FaultySmtp]:
    with FaultySmtp() as running:
        yield running


def _send(server: FaultySmtp, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {
        "O365IMAP_HOME": str(tmp_path / "home"),
        "O365IMAP_ACCESS_TOKEN": TOKEN,
        "O365IMAP_USER": USER,
        "PATH": "/usr/bin:/bin",
    }
    where = ["--smtp-host", server.host, "--smtp-port", str(server.port)]
    done = invoke(["send", *where, "--smtp-security", "plain", "--timeout", "5", *args], env)
    return done.returncode, done.stdout, done.stderr


def test_a_message_with_a_non_ascii_attachment_arrives_as_written(
    server: FaultySmtp, tmp_path: Path
) -> None:
    report = tmp_path / "Bericht März – 📈.pdf"
    content = bytes(range(256)) * 4000
    report.write_bytes(content)
    code, out, err = _send(
        server,
        tmp_path,
        "--to", "Bob Müller <bob@fabrikam.example>",
        "--cc", "carol@fabrikam.example",
        "--bcc", "audit@contoso.example",
        "--subject", "Quartalsbericht – Übersicht",
        "--body", "Anbei der Bericht.\n",
        "--attach", str(report),
        "--header", "X-Mailer-Job: nightly",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    (received,) = server.received
    assert (
        result["accepted"]
        == received.recipients
        == [
            "bob@fabrikam.example",
            "carol@fabrikam.example",
            "audit@contoso.example",
        ]
    )
    assert result["refused"] == {}
    message = BytesParser(policy=default_policy).parsebytes(received.data)
    assert message["Message-ID"] == result["message_id"]
    assert message["Subject"] == "Quartalsbericht – Übersicht"
    assert message["To"].addresses[0].display_name == "Bob Müller"
    assert message["X-Mailer-Job"] == "nightly" and "Bcc" not in message
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == report.name
    assert attachment.get_content() == content


def test_an_unreadable_attachment_stops_before_signing_in(
    server: FaultySmtp, tmp_path: Path
) -> None:
    code, _, err = _send(
        server, tmp_path, "--to", "bob@fabrikam.example", "--subject", "s", "--body", "b",
        "--attach", str(tmp_path / "missing.pdf"),
    )  # fmt: skip
    assert code == 1 and "missing.pdf" in err and err.count("\n") == 1
    assert server.handler.auth_logins == []


@pytest.mark.parametrize(
    "bad",
    [
        ["--to", "not an address"],
        ["--to", "bob@fabrikam.example", "--subject", "hi\r\nBcc: eve@evil.example"],
        ["--to", "bob@fabrikam.example\nBcc: eve@evil.example"],
    ],
)
def test_bad_input_is_exit_1_with_one_sentence(
    server: FaultySmtp, tmp_path: Path, bad: list[str]
) -> None:
    args = [*bad] if "--subject" in bad else [*bad, "--subject", "s"]
    code, _, err = _send(server, tmp_path, *args, "--body", "b")
    assert code == 1 and err.startswith("o365imap: ") and err.count("\n") == 1
    assert server.received == [] and server.handler.auth_logins == []


def test_a_refused_recipient_is_exit_1_and_the_others_get_it(
    server: FaultySmtp, tmp_path: Path
) -> None:
    server.faults.refuse = {
        "nobody@fabrikam.example": "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not "
        "found by SMTP address lookup"
    }
    code, out, err = _send(
        server, tmp_path, "--to", "bob@fabrikam.example, nobody@fabrikam.example",
        "--subject", "s", "--body", "b", "--json",
    )  # fmt: skip
    assert code == 1
    result = json.loads(out)
    assert result["accepted"] == ["bob@fabrikam.example"]
    assert "5.1.10" in result["refused"]["nobody@fabrikam.example"]
    assert "nobody@fabrikam.example" in err and "others got" in err
    assert server.received[0].recipients == ["bob@fabrikam.example"]


def test_smtp_auth_switched_off_is_exit_2_with_the_fix(server: FaultySmtp, tmp_path: Path) -> None:
    server.faults.auth_reply = (
        "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for "
        "the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information."
    )
    code, _, err = _send(
        server, tmp_path, "--to", "bob@fabrikam.example", "--subject", "s", "--body", "b"
    )
    assert code == 2
    assert "Set-CASMailbox" in err and "server said: 535 5.7.139" in err
    assert "IMAP.AccessAsUser.All" not in err  # IMAP's hints are not for SMTP


def test_a_ready_message_keeps_its_bytes_and_loses_its_bcc(
    server: FaultySmtp, tmp_path: Path
) -> None:
    eml = tmp_path / "ready.eml"
    body = b"Line one\r\n.starts with a dot\r\n"
    eml.write_bytes(
        b"From: Adele <adele.vance@contoso.example>\r\nTo: bob@fabrikam.example\r\n"
        b"Bcc: hidden@fabrikam.example,\r\n  other@fabrikam.example\r\nSubject: ready\r\n"
        b"Message-ID: <ready-1@contoso.example>\r\n\r\n" + body
    )
    code, out, err = _send(server, tmp_path, "--eml", str(eml), "--json")
    assert code == 0, err
    (received,) = server.received
    assert received.recipients == [
        "bob@fabrikam.example",
        "hidden@fabrikam.example",
        "other@fabrikam.example",
    ]
    assert b"hidden@" not in received.data and b"other@" not in received.data
    assert received.data.endswith(body)
    assert json.loads(out)["message_id"] == "<ready-1@contoso.example>"


def test_a_ready_message_without_from_is_sent_from_the_mailbox(
    server: FaultySmtp, tmp_path: Path
) -> None:
    eml = tmp_path / "ready.eml"
    eml.write_bytes(b"To: bob@fabrikam.example\nSubject: Report\n\nHello\n")
    code, _, err = _send(server, tmp_path, "--eml", str(eml))
    assert code == 0, err
    (received,) = server.received
    assert received.sender == USER and f"From: {USER}\r\n".encode() in received.data


def test_a_failed_save_after_sending_still_says_it_was_sent(
    server: FaultySmtp, tmp_path: Path
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        closed = probe.getsockname()[1]  # nothing listens there once closed
    imap = ["--host", "127.0.0.1", "--port", str(closed), "--security", "plain"]
    code, out, err = _send(
        server, tmp_path, *imap, "--to", "bob@fabrikam.example", "--subject", "S",
        "--body", "B", "--save-to", "Sent", "--json",
    )  # fmt: skip
    assert len(server.received) == 1 and code == 3
    assert json.loads(out)["accepted"] == ["bob@fabrikam.example"]  # a script sees it went
    assert "was sent, but not saved in Sent" in err
