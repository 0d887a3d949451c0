"""``o365imap send`` against the sandbox: its real submission server (Dovecot) checks the
emulator's tokens, and its relay delivers into the mailboxes, with Office 365's refusals.

The issue's "done when": a message with an attachment sent, then found by ``list`` and read
back by ``save`` byte for byte, a copy in Sent; each refusal with its one sentence and exit
code. A profile signed in through the emulator (``login``, the authorization-code flow) is
used as a person would.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

import pytest

from cli_runner import approving, invoke
from o365imap import RetryPolicy
from o365imap.auth import ProfileStore
from o365imap.compose import reply_draft
from o365imap.errors import AuthenticationFailed, Throttled
from o365imap.sandbox.environment import SANDBOX_PASSWORD, SANDBOX_USER, Sandbox
from o365imap.smtp import SmtpSender, spool_draft

_KEPT = ("O365IMAP_DOVECOT_ROOT", "O365IMAP_DOVECOT")


@pytest.fixture(scope="module")
def home(box: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A home whose sandbox profile is signed in (IMAP and SMTP.Send in one token)."""
    home = tmp_path_factory.mktemp("send-home")
    box.save_profile(ProfileStore(home / "profiles.toml"))
    person = approving(SANDBOX_USER, SANDBOX_PASSWORD, str(box.ca_file))
    done = invoke(["login", "--profile", "sandbox", "--no-browser"], _env(home), watch=person)
    assert done.returncode == 0, done.stderr
    yield home


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("O365IMAP_") or k in _KEPT}
    env.update(O365IMAP_HOME=str(home), O365IMAP_TOKEN_STORE="file")
    return env


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return invoke(list(args), _env(home))


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _find(home: Path, folder: str, subject: str) -> dict[str, object]:
    listed = _run(home, "list", folder, "--all", "--json")
    assert listed.returncode == 0, listed.stderr
    found = [m for m in _json_lines(listed.stdout) if m["subject"] == subject]
    assert len(found) == 1, [m["subject"] for m in _json_lines(listed.stdout)]
    return found[0]


def test_whoami_shows_the_send_permission(home: Path) -> None:
    done = _run(home, "whoami", "--json")
    assert done.returncode == 0, done.stderr
    assert any(s.endswith("SMTP.Send") for s in json.loads(done.stdout)["scopes"])


def test_a_sent_attachment_is_listed_and_saved_back_byte_for_byte(
    home: Path, tmp_path: Path
) -> None:
    report = tmp_path / "Übersicht März 2026.pdf"
    content = os.urandom(300_000)
    report.write_bytes(content)
    subject = "Quartalsbericht – März"
    sent = _run(
        home, "send", "--to", SANDBOX_USER, "--subject", subject,
        "--body", "Anbei der Bericht.", "--attach", str(report), "--json",
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    result = json.loads(sent.stdout)
    assert result["accepted"] == [SANDBOX_USER] and result["refused"] == {}
    message = _find(home, "INBOX", subject)
    saved_dir = tmp_path / "saved"
    saved_dir.mkdir()
    save = _run(home, "save", str(message["uid"]), "INBOX", "--dir", str(saved_dir), "--json")
    assert save.returncode == 0, save.stderr
    (record,) = _json_lines(save.stdout)
    saved = Path(str(record["path"]))
    assert saved.name == report.name and saved.read_bytes() == content
    # Exchange files a copy in Sent Items itself: the sandbox does too, read.
    copy = _find(home, "Sent", subject)
    assert "\\Seen" in copy["flags"]  # type: ignore[operator]


def test_html_with_bcc_outside_the_tenant(home: Path, box: Sandbox, tmp_path: Path) -> None:
    page = tmp_path / "news.html"
    page.write_text("<h1>Neuigkeiten</h1><p>Alles <b>gut</b>.</p>", encoding="utf-8")
    subject = "Newsletter (HTML)"
    sent = _run(
        home, "send", "--to", SANDBOX_USER, "--bcc", "auditor@fabrikam.example",
        "--subject", subject, "--html", str(page), "--json",
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    uid = _find(home, "INBOX", subject)["uid"]
    shown = _run(home, "show", str(uid), "INBOX", "--json")
    assert shown.returncode == 0, shown.stderr
    assert "Alles gut" in shown.stdout  # the text version, made from the HTML
    (outside,) = [m for m in box.relay.outbox_messages() if subject.encode() in m.content()]
    assert list(outside.recipients) == ["auditor@fabrikam.example"]
    head = outside.content().split(b"\r\n\r\n", 1)[0].splitlines()
    # the envelope the sandbox notes for itself names the Bcc; the message does not
    assert not [line for line in head if b"auditor@" in line and not line.startswith(b"X-Sandbox")]


def test_a_refused_recipient_is_exit_1_and_the_others_get_it(home: Path) -> None:
    subject = "Some went, some did not"
    sent = _run(
        home, "send", "--to", f"{SANDBOX_USER}, nobody@contoso.example",
        "--subject", subject, "--body", "x", "--json",
    )  # fmt: skip
    assert sent.returncode == 1
    result = json.loads(sent.stdout)
    assert result["accepted"] == [SANDBOX_USER]
    assert "5.1.10" in result["refused"]["nobody@contoso.example"]
    assert "refused: nobody@contoso.example" in sent.stderr
    _find(home, "INBOX", subject)


def test_sending_as_someone_else_is_exit_2_naming_who_and_whom(home: Path) -> None:
    sent = _run(
        home, "send", "--from", "ceo@contoso.example", "--to", SANDBOX_USER,
        "--subject", "Not mine to send", "--body", "x",
    )  # fmt: skip
    assert sent.returncode == 2
    assert f"{SANDBOX_USER} may not send as ceo@contoso.example" in sent.stderr
    assert "server said: 554 5.2.252 SendAsDenied" in sent.stderr


def test_smtp_auth_switched_off_for_the_mailbox_is_exit_2_with_the_fix(
    home: Path, box: Sandbox
) -> None:
    box.set_smtp_auth(SANDBOX_USER, False)
    try:
        sent = _run(home, "send", "--to", SANDBOX_USER, "--subject", "off", "--body", "x")
    finally:
        box.set_smtp_auth(SANDBOX_USER, True)
    assert sent.returncode == 2
    assert f"Set-CASMailbox -Identity {SANDBOX_USER} -SmtpClientAuthenticationDisabled" in (
        sent.stderr
    )
    assert "SmtpClientAuthentication is disabled for the Mailbox" in sent.stderr


def test_one_throttled_message_is_sent_after_a_wait(home: Path, box: Sandbox) -> None:
    box.relay.throttle(1)
    try:
        sent = _run(home, "send", "--to", SANDBOX_USER, "--subject", "Patience", "--body", "x")
    finally:
        box.relay.throttle(0)
    assert sent.returncode == 0, sent.stderr
    _find(home, "INBOX", "Patience")


def _eml(home: Path, uid: object, folder: Path) -> Path:
    """The whole message as ``o365imap save --eml`` writes it."""
    folder.mkdir()
    saved = _run(home, "save", str(uid), "INBOX", "--eml", "--dir", str(folder), "--json")
    assert saved.returncode == 0, saved.stderr
    (record,) = _json_lines(saved.stdout)
    return Path(str(record["path"]))


def _sender(box: Sandbox, token: str, retry: RetryPolicy | None = None) -> SmtpSender:
    sender = SmtpSender(
        box.smtp_host, box.smtp_port, ca_file=str(box.ca_file), timeout=20, retry=retry
    )
    sender.connect()
    try:
        sender.authenticate_oauth(SANDBOX_USER, token)
    except BaseException:
        sender.close()
        raise
    return sender


def test_throttling_that_lasts_is_an_error_and_nothing_is_delivered(box: Sandbox) -> None:
    box.relay.throttle(5)
    fast = RetryPolicy(throttle_retries=2, max_backoff=0.05)
    try:
        with (
            _sender(box, box.dovecot.mint_token(SANDBOX_USER, scopes=_SEND), fast) as sender,
            pytest.raises(Throttled) as caught,
        ):
            sender.send(b"To: " + SANDBOX_USER.encode() + b"\r\nSubject: throttled\r\n\r\nx\r\n")
    finally:
        box.relay.throttle(0)
    assert caught.value.code == "4.3.2" and "nothing was sent" in str(caught.value)


_SEND = ("IMAP.AccessAsUser.All", "SMTP.Send")


def test_an_expired_token_is_refused_with_the_sentence(box: Sandbox) -> None:
    expired = box.dovecot.mint_token(SANDBOX_USER, scopes=_SEND, lifetime=-600)
    with pytest.raises(AuthenticationFailed) as caught:
        _sender(box, expired).close()
    assert caught.value.status == "535" and "SMTP.Send" in str(caught.value)


def test_a_token_without_smtp_send(box: Sandbox) -> None:
    """Dovecot 2.3 refuses it as Office 365 does; 2.4's submission cannot ask for its own
    scope (docs/dovecot-versions.md), and takes it."""
    imap_only = box.dovecot.mint_token(SANDBOX_USER, scopes=("IMAP.AccessAsUser.All",))
    if box.dovecot.features.dialect == "2.3":
        with pytest.raises(AuthenticationFailed, match=r"SMTP\.Send"):
            _sender(box, imap_only).close()
    else:
        _sender(box, imap_only).close()


def test_a_reply_threads_under_the_original(home: Path, box: Sandbox, tmp_path: Path) -> None:
    subject = "Planung Q3"
    sent = _run(home, "send", "--to", SANDBOX_USER, "--subject", subject, "--body", "Wann?")
    assert sent.returncode == 0, sent.stderr
    uid = _find(home, "INBOX", subject)["uid"]
    raw = _eml(home, uid, tmp_path / "original")
    original = BytesParser(policy=default_policy).parsebytes(raw.read_bytes())
    draft = reply_draft(raw.read_bytes(), me=SANDBOX_USER)
    token = box.dovecot.mint_token(SANDBOX_USER, scopes=_SEND)
    with spool_draft(draft, sender=SANDBOX_USER) as spooled, _sender(box, token) as sender:
        sender.send_spooled(spooled)
    reply = _find(home, "INBOX", f"Re: {subject}")
    parsed = BytesParser(policy=default_policy).parsebytes(
        _eml(home, reply["uid"], tmp_path / "reply").read_bytes()
    )
    assert parsed["In-Reply-To"] == original["Message-ID"]
    assert parsed["References"].split()[-1] == original["Message-ID"]
    assert "> Wann?" in parsed.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def test_a_profile_signed_in_before_smtp_gets_the_permission_or_one_sentence(
    box: Sandbox, tmp_path: Path
) -> None:
    """Signed in for IMAP only: sending asks the refresh token for SMTP.Send too. The
    sandbox's app has SMTP.Send consented, so, as with Entra, the refresh gets it."""
    store = ProfileStore(tmp_path / "profiles.toml")
    box.save_profile(store)
    store.save(replace(store.get("sandbox"), send=False))
    person = approving(SANDBOX_USER, SANDBOX_PASSWORD, str(box.ca_file))
    done = invoke(["login", "--profile", "sandbox", "--no-browser"], _env(tmp_path), watch=person)
    assert done.returncode == 0, done.stderr
    whoami = json.loads(_run(tmp_path, "whoami", "--json").stdout)
    assert not any(s.endswith("SMTP.Send") for s in whoami["scopes"])
    sent = _run(tmp_path, "send", "--to", SANDBOX_USER, "--subject", "Late", "--body", "x")
    assert sent.returncode == 0, sent.stderr


def test_a_profile_whose_app_lacks_smtp_send_gets_one_sentence(
    box: Sandbox, tmp_path: Path
) -> None:
    """An app registered with IMAP only: the refresh cannot get SMTP.Send (AADSTS65001), and
    the error says what to run, once, instead of the identity platform's words."""
    imap_only_app = "5a1dbe0c-0e65-4e5a-9c1d-0000000013a1"
    box.identity.register_app(imap_only_app, redirect_uris=("http://localhost",))
    store = ProfileStore(tmp_path / "profiles.toml")
    box.save_profile(store)
    store.save(replace(store.get("sandbox"), client_id=imap_only_app, send=False))
    person = approving(SANDBOX_USER, SANDBOX_PASSWORD, str(box.ca_file))
    done = invoke(["login", "--profile", "sandbox", "--no-browser"], _env(tmp_path), watch=person)
    assert done.returncode == 0, done.stderr
    sent = _run(tmp_path, "send", "--to", SANDBOX_USER, "--subject", "Late", "--body", "x")
    assert sent.returncode == 2
    assert sent.stderr.strip() == (
        "o365imap: profile 'sandbox' signed in without the permission to send (SMTP.Send): "
        "run `o365imap login --smtp --profile sandbox` once to add it."
    )


def test_smtp_settings_given_to_login_are_kept_and_used(box: Sandbox, tmp_path: Path) -> None:
    """``login --smtp --smtp-security tls --smtp-port N`` keeps them in the profile, and
    ``send`` then goes over implicit TLS (the sandbox's second submission port)."""
    store = ProfileStore(tmp_path / "profiles.toml")
    box.save_profile(store)
    store.save(replace(store.get("sandbox"), send=False, smtp_port=None))
    person = approving(SANDBOX_USER, SANDBOX_PASSWORD, str(box.ca_file))
    done = invoke(
        ["login", "--profile", "sandbox", "--no-browser", "--smtp", "--smtp-security", "tls",
         "--smtp-port", str(box.smtps_port)],
        _env(tmp_path),
        watch=person,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "o365imap send" in done.stderr
    saved = ProfileStore(tmp_path / "profiles.toml").get("sandbox")
    assert (saved.send, saved.smtp_security, saved.smtp_port) == (True, "tls", box.smtps_port)
    sent = _run(tmp_path, "send", "--to", SANDBOX_USER, "--subject", "Over TLS", "--body", "x")
    assert sent.returncode == 0, sent.stderr
    _find(tmp_path, "INBOX", "Over TLS")
