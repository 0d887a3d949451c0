"""The client against a scripted server playing Office 365's side (tests/scripted_server.py).

Dovecot cannot show these behaviours; the scripts follow captures of outlook.office365.com.
Everything runs on loopback; plain text is allowed there (and only there).
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli_runner import invoke
from o365imap import (
    Address,
    AuthenticationFailed,
    CommandError,
    ConnectError,
    ConnectionClosed,
    ImapClient,
    NotConnectedAfterAuth,
    ReadTimeout,
    SessionExpired,
    Throttled,
    UsageError,
)
from o365imap.protocol import Atom
from o365imap.transport import Transport
from scripted_server import (
    Command,
    Hook,
    O365Session,
    ScriptedServer,
    auth_failed_no_challenge,
    auth_json_challenge,
    auth_no_sasl_ir,
    authenticated_but_not_connected,
    bye_token_expired_during,
    cut_in_literal,
    exchange_stub_message,
    literal_plus_check,
    make_message,
    o365_happy,
    server_unavailable,
    stall_after,
    throttled,
    throttled_bad_bye,
    unsolicited_during_fetch,
)

USER = "AdeleV@contoso.onmicrosoft.com"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.test-token.signature"


def client_for(server: ScriptedServer, **kw: object) -> ImapClient:
    options: dict[str, object] = {"security": "plain", "timeout": 5.0}
    options.update(kw)
    return ImapClient(server.host, server.port, **options)  # type: ignore[arg-type]


@pytest.fixture
def happy() -> Iterator[ScriptedServer]:
    messages = [
        make_message(1, 101, subject="First", flags=("\\Seen",)),
        make_message(2, 102, subject="Zweite Nachricht – Grüße"),
        exchange_stub_message(3, 103),
    ]
    with ScriptedServer(o365_happy(messages, user=USER, token=TOKEN)) as server:
        yield server


def test_sign_in_list_folders_and_messages(happy: ScriptedServer) -> None:
    with client_for(happy) as client:
        assert "AUTH=XOAUTH2" in client.capabilities
        client.authenticate_oauth(USER, TOKEN)
        folders = {f.name: f for f in client.list_folders()}
        assert folders["INBOX"].raw_name == b"Inbox"  # Office 365 answers in its own case
        assert folders["Sent Items"].special_use == "\\Sent"
        assert folders["Deleted Items"].special_use == "\\Trash"
        assert "Inbox/Przesyłki" in folders
        assert folders["Archive"].special_use is None  # Exchange omits \Archive
        info = client.examine("INBOX")
        assert info.exists == 3 and info.uidvalidity == 14 and info.read_only
        assert "$MDNSent" in info.flags
        page = client.list_page(1, 2)
        assert [m.uid for m in page] == [103, 102]
        assert page[1].envelope is not None
        assert page[1].envelope.subject == "Zweite Nachricht – Grüße"
        stub = page[0].envelope
        assert stub is not None and stub.date is None
        sender = stub.from_[0]
        assert isinstance(sender, Address)
        assert sender.mailbox is None and sender.email is None
        assert sender.name == "Microsoft Exchange Server"
        assert [m.uid for m in client.iter_messages()] == [101, 102, 103]
    assert happy.errors == []
    assert happy.xoauth2 == [(USER, TOKEN)]
    fetches = [line for line in happy.received if b" FETCH " in line]
    assert fetches == [
        next(line for line in fetches if b"FETCH 2:3 " in line),
        next(line for line in fetches if b"FETCH 1:* " in line),
    ]


def test_paging_sends_one_fetch_per_page_with_a_range(happy: ScriptedServer) -> None:
    with client_for(happy) as client:
        client.authenticate_oauth(USER, TOKEN)
        client.examine("INBOX")
        assert [m.seq for m in client.list_page(2, 2)] == [1]
        assert client.list_page(3, 2) == []
    fetches = [line for line in happy.received if b"FETCH" in line]
    assert (
        len(fetches) == 1 and b"FETCH 1 (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)" in fetches[0]
    )


def test_token_refused_without_challenge() -> None:
    with ScriptedServer(auth_failed_no_challenge()) as server, client_for(server) as client:
        with pytest.raises(AuthenticationFailed) as info:
            client.authenticate_oauth(USER, TOKEN)
    assert info.value.text == "AUTHENTICATE failed."
    assert info.value.status == "NO"
    assert TOKEN not in str(info.value)
    assert server.errors == []


def test_token_refused_with_json_challenge_is_answered_with_an_empty_line() -> None:
    with ScriptedServer(auth_json_challenge()) as server, client_for(server) as client:
        with pytest.raises(AuthenticationFailed) as info:
            client.authenticate_oauth(USER, TOKEN)
    assert info.value.code == "AUTHENTICATIONFAILED"
    assert "400" in str(info.value) or "401" in str(info.value)
    assert server.errors == []
    auth = next(i for i, line in enumerate(server.received) if b"AUTHENTICATE" in line)
    assert server.received[auth + 1] == b"\r\n"  # the empty answer to the error challenge


def test_server_without_sasl_ir_gets_the_payload_after_its_challenge() -> None:
    with ScriptedServer(auth_no_sasl_ir()) as server, client_for(server) as client:
        client.authenticate_oauth(USER, TOKEN)
        assert client.authenticated
    assert server.errors == []
    auth = [line for line in server.received if b"AUTHENTICATE" in line]
    assert auth and auth[0].rstrip().endswith(b"AUTHENTICATE XOAUTH2")


def test_authenticated_but_not_connected() -> None:
    with ScriptedServer(authenticated_but_not_connected()) as server, client_for(server) as client:
        client.authenticate_oauth(USER, TOKEN)
        with pytest.raises(NotConnectedAfterAuth) as info:
            client.examine("INBOX")
    assert info.value.text == "User is authenticated but not connected."
    assert server.errors == []


def test_not_connected_on_authenticate_itself() -> None:
    script = authenticated_but_not_connected(on_authenticate=True)
    with ScriptedServer(script) as server, client_for(server) as client:
        with pytest.raises(NotConnectedAfterAuth):
            client.authenticate_oauth(USER, TOKEN)


def test_throttled_commands_wait_the_suggested_time_and_retry() -> None:
    messages = [make_message(1, 101), make_message(2, 102)]
    script = throttled(times=2, backoff_ms=150, messages=messages)
    with ScriptedServer(script) as server, client_for(server) as client:
        client.authenticate_oauth(USER, TOKEN)
        info = client.examine("INBOX")
        assert info.exists == 2  # the answer of the SELECT that went through
    refusals = server.sent_times("throttled")
    selects = server.received_times(r"^\S+ (SELECT|EXAMINE) ")
    assert len(refusals) == 2 and len(selects) == 3
    assert selects[1] - refusals[0] >= 0.15
    assert selects[2] - refusals[1] >= 0.15


def test_throttling_gives_up_after_bounded_retries() -> None:
    waits: list[float] = []
    with ScriptedServer(throttled(times=10, backoff_ms=120_000)) as server:
        client = client_for(server, throttle_retries=2, max_backoff=30, sleep=waits.append)
        with client:
            client.authenticate_oauth(USER, TOKEN)
            with pytest.raises(Throttled) as info:
                client.examine("INBOX")
    assert waits == [30, 30]  # capped at max_backoff
    assert info.value.backoff == 120
    assert "Suggested Backoff Time" in info.value.text


def test_throttled_with_bye_reports_throttling_not_a_bare_disconnect() -> None:
    with ScriptedServer(throttled_bad_bye(times=1, on="SELECT")) as server:
        with client_for(server, sleep=lambda _s: None) as client:
            client.authenticate_oauth(USER, TOKEN)
            with pytest.raises(Throttled) as info:
                client.examine("INBOX")
    assert "closed the connection" in str(info.value)


def test_server_unavailable_is_retried() -> None:
    waits: list[float] = []
    with ScriptedServer(server_unavailable(times=1)) as server:
        with client_for(server, sleep=waits.append) as client:
            client.authenticate_oauth(USER, TOKEN)
            client.examine("INBOX")
    assert waits == [0.5]


def test_connection_cut_in_the_middle_of_a_literal() -> None:
    with ScriptedServer(cut_in_literal(announced=1000, sent=300)) as server:
        with client_for(server) as client:
            client.authenticate_oauth(USER, TOKEN)
            client.examine("INBOX")
            with pytest.raises(ConnectionClosed) as info:
                list(client.fetch("1", "(UID BODY.PEEK[])"))
    assert "middle of a response" in str(info.value)


def test_a_server_that_stops_answering_times_out() -> None:
    server = ScriptedServer(stall_after("SELECT")).start()
    try:
        client = client_for(server, timeout=0.5)
        client.connect()
        client.authenticate_oauth(USER, TOKEN)
        start = time.monotonic()
        with pytest.raises(ReadTimeout) as info:
            client.examine("INBOX")
        assert 0.4 < time.monotonic() - start < 3
        assert "did not answer within 0.5 s" in str(info.value)
        client.close()
    finally:
        server.close()


def test_token_expiry_bye_is_a_session_expired_error() -> None:
    with ScriptedServer(bye_token_expired_during("LIST")) as server, client_for(server) as client:
        client.authenticate_oauth(USER, TOKEN)
        with pytest.raises(SessionExpired) as info:
            client.list_folders()
    assert info.value.bye == "Session invalidated - AccessTokenExpired"
    assert isinstance(info.value, ConnectionClosed)


@pytest.mark.slow
def test_token_expiry_bye_on_a_socket_left_open_is_not_a_read_timeout() -> None:
    # Office 365 has been seen to say BYE ... AccessTokenExpired and keep the socket open,
    # answering nothing more: the client must report the expired session, and soon, not wait
    # out its (here 30 s) read timeout and call it a timeout.
    script = bye_token_expired_during("LIST", close=False)
    with ScriptedServer(script) as server, client_for(server, timeout=30.0) as client:
        client.authenticate_oauth(USER, TOKEN)
        started = time.monotonic()
        with pytest.raises(SessionExpired):
            client.list_folders()
        assert time.monotonic() - started < 15
        assert not client.connected


def test_unsolicited_responses_during_a_listing() -> None:
    with ScriptedServer(unsolicited_during_fetch()) as server, client_for(server) as client:
        client.authenticate_oauth(USER, TOKEN)
        client.examine("INBOX")
        messages = list(client.iter_messages())
        assert [m.uid for m in messages] == [101, 102, 103]
        assert client.exists == 4  # the EXISTS that came in between was noted
    assert server.errors == []


def test_literal_plus_sends_literals_without_waiting() -> None:
    with ScriptedServer(literal_plus_check()) as server, client_for(server) as client:
        client.authenticate_oauth(USER, TOKEN)
        client.examine("INBOX")
        with pytest.raises(CommandError):  # this script knows no CHARSET; the literal is the point
            client.search([Atom("FROM"), "Jürgen"], charset="UTF-8")  # 8-bit: must be a literal
    assert server.errors == []
    assert server.literals and all(lit.nonsync for lit in server.literals)


def test_never_sends_a_token_in_plain_text_to_a_non_loopback_host(
    happy: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Transport, "peer_is_loopback", property(lambda self: False))
    with client_for(happy) as client, pytest.raises(UsageError) as info:
        client.authenticate_oauth(USER, TOKEN)
    assert "unencrypted" in str(info.value)
    assert not [line for line in happy.received if b"AUTHENTICATE" in line]


def test_tls_with_a_private_ca(tmp_path: Path) -> None:
    from o365imap.sandbox.tls import make_certificates as _make_tls

    ca, cert, key = _make_tls(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    messages = [make_message(1, 7, subject="over TLS")]
    with ScriptedServer(
        o365_happy(messages, user=USER, token=TOKEN), ssl_context=context
    ) as server:
        with ImapClient("127.0.0.1", server.port, ca_file=str(ca), timeout=5) as client:
            client.authenticate_oauth(USER, TOKEN)
            client.examine("INBOX")
            assert client.list_page()[0].envelope.subject == "over TLS"  # type: ignore[union-attr]
        with pytest.raises(ConnectError) as info:
            ImapClient("127.0.0.1", server.port, timeout=5).connect()  # system CAs only
        assert "not trusted" in str(info.value) and "--ca-file" in str(info.value)


def _tls_context(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    from o365imap.sandbox.tls import make_certificates as _make_tls

    ca, cert, key = _make_tls(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return ca, context


def test_starttls_then_xoauth2(tmp_path: Path) -> None:
    from scripted_server import o365_starttls

    ca, context = _tls_context(tmp_path)
    messages = [make_message(1, 5, subject="after STARTTLS")]
    with ScriptedServer(o365_starttls(messages), starttls_context=context) as server:
        with ImapClient(
            "127.0.0.1", server.port, security="starttls", ca_file=str(ca), timeout=5
        ) as client:
            assert "LOGINDISABLED" not in client.capabilities  # asked again, over TLS
            client.authenticate_oauth(USER, TOKEN)
            client.examine("INBOX")
            assert client.list_page()[0].envelope.subject == "after STARTTLS"  # type: ignore[union-attr]
    assert server.errors == []


def test_plain_text_injected_after_starttls_is_refused() -> None:
    from o365imap import ProtocolError

    def injecting(conv: Any) -> None:
        conv.send_line("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready")
        tag = conv.tag_of(conv.read_line())
        conv.send(
            f"{tag} OK Begin TLS negotiation now.\r\n"
            "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected before the handshake\r\n".encode()
        )
        conv.stall(5)

    with ScriptedServer(injecting) as server:
        client = ImapClient("127.0.0.1", server.port, security="starttls", timeout=5)
        with pytest.raises(ProtocolError) as info:
            client.connect()
        assert "unencrypted data after agreeing to STARTTLS" in str(info.value)
        assert not client.connected


def test_responses_before_a_literal_continuation_are_kept() -> None:
    def no_literal_plus(conv: Any) -> None:
        conv.send_line("* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR] ready")
        tag = conv.tag_of(conv.read_line())  # AUTHENTICATE
        conv.send_line(f"{tag} OK AUTHENTICATE completed.")
        line = conv.read_line()  # CAPABILITY, asked because the next command has a literal
        conv.send_line("* CAPABILITY IMAP4rev1")
        conv.send_line(f"{conv.tag_of(line)} OK done")
        line = conv.read_line()  # SEARCH CHARSET UTF-8 SUBJECT {7}
        conv.send(b"* 7 EXISTS\r\n* OK [ALERT] hello\r\n+ go ahead\r\n")
        conv.read_exact(8)  # the literal and its CRLF
        conv.send(f"* SEARCH 1 3\r\n{conv.tag_of(line)} OK SEARCH completed.\r\n".encode())
        conv.stall(5)

    with ScriptedServer(no_literal_plus) as server:
        client = client_for(server, timeout=3)
        client.connect()
        client.authenticate_oauth(USER, TOKEN)
        assert client.search([Atom("SUBJECT"), "Grüße"], charset="UTF-8") == [1, 3]
        assert client.exists == 7
        client.close()


@pytest.mark.slow
def test_a_server_silent_on_logout_does_not_fail_the_work() -> None:
    with ScriptedServer(stall_after("LOGOUT")) as server:
        start = time.monotonic()
        with client_for(server, timeout=1) as client:
            client.authenticate_oauth(USER, TOKEN)
        assert time.monotonic() - start < 3
        assert not client.connected


def test_reprs_hold_no_secrets() -> None:
    from o365imap.cli import Connection
    from o365imap.protocol import Command, Raw, sasl

    payload = sasl.xoauth2(USER, TOKEN)
    command = Command("A1", "AUTHENTICATE", (Atom("XOAUTH2"), Raw(payload)), redact=True)
    assert payload.decode() not in repr(command) and TOKEN not in repr(command)
    conn = Connection("h", None, "tls", None, USER, TOKEN, "xoauth2", 3.0)
    assert TOKEN not in repr(conn)


def test_debug_trace_never_shows_the_sasl_string(capfd: pytest.CaptureFixture[str]) -> None:
    import logging

    from o365imap.protocol import sasl

    logger = logging.getLogger("o365imap")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        with ScriptedServer(auth_no_sasl_ir()) as server, client_for(server) as client:
            client.authenticate_oauth(USER, TOKEN)
        with ScriptedServer(auth_json_challenge()) as server, client_for(server) as client:
            with pytest.raises(AuthenticationFailed):
                client.authenticate_oauth(USER, TOKEN)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    err = capfd.readouterr().err
    assert "[redacted continuation]" in err
    assert TOKEN not in err and sasl.xoauth2(USER, TOKEN).decode() not in err
    assert "Traceback" not in err and "Logging error" not in err


def _expire_mid_fetch(after: int) -> Any:
    """A hook: the first FETCH gets ``after`` messages, then the token-expiry BYE."""
    from scripted_server import fetch_items

    state = {"done": False}

    def hook(session: Any, cmd: Any) -> bool:
        if cmd.family != "FETCH" or state["done"]:
            return False
        state["done"] = True
        items = fetch_items(cmd.args[1:])
        for msg in list(session.resolve(cmd, str(cmd.args[0])))[:after]:
            session.send_fetch(cmd, msg, items)
        session.conv.send(b"* BYE Session invalidated - AccessTokenExpired\r\n")
        session.conv.hangup()
        session.done = True
        return True

    return hook


def test_listing_survives_token_expiry_without_losing_or_repeating_a_message() -> None:
    messages = [make_message(i, 100 + i, subject=f"message {i}") for i in range(1, 8)]
    tokens = iter(["fresh-token-2", "fresh-token-3"])
    with ScriptedServer(o365_happy(messages, hooks=[_expire_mid_fetch(3)])) as server:
        with client_for(server) as client:
            client.authenticate_oauth(USER, "token-1", refresh=lambda: next(tokens))
            client.examine("INBOX")
            got = [m.uid for m in client.iter_messages()]
            assert got == [101, 102, 103, 104, 105, 106, 107]
            assert client.selected is not None and client.selected.name == "INBOX"
    assert [t for _, t in server.xoauth2] == ["token-1", "fresh-token-2"]
    fetches = [line for line in server.received if b"FETCH" in line]
    assert fetches[0].split(b" ", 1)[1].startswith(b"FETCH 1:* ")
    assert fetches[1].split(b" ", 1)[1].startswith(b"UID FETCH 104:* ")
    assert server.errors == []


def test_a_command_is_repeated_after_token_expiry() -> None:
    tokens = iter(["fresh"])
    with ScriptedServer(bye_token_expired_during("LIST")) as server:
        with client_for(server) as client:
            client.authenticate_oauth(USER, TOKEN, refresh=lambda: next(tokens))
            assert any(f.name == "INBOX" for f in client.list_folders())
    assert [t for _, t in server.xoauth2] == [TOKEN, "fresh"]


def test_without_a_token_source_expiry_is_an_error() -> None:
    messages = [make_message(i, 100 + i) for i in range(1, 4)]
    with ScriptedServer(o365_happy(messages, hooks=[_expire_mid_fetch(1)])) as server:
        with client_for(server) as client:
            client.authenticate_oauth(USER, TOKEN)
            client.examine("INBOX")
            with pytest.raises(SessionExpired):
                list(client.iter_messages())


def test_a_timeout_inside_a_response_drops_the_connection() -> None:
    # Half a literal arrived, then silence: the rest is lost, so the connection cannot be
    # used again (the next command would read the rest of this answer as its own).
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"* PREAUTH IMAP4rev1 ready\r\n")  # signed in: FETCH may follow
            tag = conn.recv(1024).split(b" ", 1)[0]
            assert tag
            conn.sendall(b"* 1 FETCH (UID 7 BODY[1] {100}\r\nhalf of it")
            conn.recv(1024)  # until the client hangs up

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = ImapClient("127.0.0.1", port, security="plain", timeout=0.5)
    client.connect()
    with pytest.raises(ReadTimeout):
        list(client.fetch([7], "(UID BODY.PEEK[1])", uid=True))
    assert not client.connected
    thread.join(5)
    listener.close()


def test_a_server_that_never_greets_leaves_no_open_socket() -> None:
    """`with ImapClient(...)` never reaches __exit__ when connecting fails: connect itself
    must close what it opened."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = ImapClient("127.0.0.1", listener.getsockname()[1], security="plain", timeout=0.5)
        with pytest.raises(ReadTimeout):
            with client:
                pass
        assert not client.connected
        accepted, _ = listener.accept()
        with accepted:
            accepted.settimeout(5)
            assert accepted.recv(1) == b""  # the client hung up


# ------------------------------------------------------------ numbers longer than IMAP's

HUGE = "9" * 5000  # int() refuses more than 4,300 digits (ValueError); IMAP allows 19


def answering(family: str, *lines: str, done: str | None = None) -> Hook:
    """Answer every signed-in ``family`` command (SELECT covers EXAMINE) with ``lines``, then
    OK ``done``."""

    def hook(s: O365Session, cmd: Command) -> bool:
        if cmd.family != family or not s.authenticated:
            return False
        for line in lines:
            s.send(line)
        s.ok(cmd, done)
        return True

    return hook


OVERLONG = {
    "search": answering("SEARCH", f"* SEARCH 1 {HUGE} 3"),
    "status": answering("STATUS", f"* STATUS INBOX (MESSAGES {HUGE} UNSEEN 0)"),
    "uidvalidity": answering(
        "SELECT",
        "* 3 EXISTS",
        f"* OK [UIDVALIDITY {HUGE}] UIDVALIDITY value",
        done="[READ-ONLY] EXAMINE completed.",
    ),
    "uidnext": answering(
        "SELECT", "* 3 EXISTS", f"* OK [UIDNEXT {HUGE}] The next unique identifier value"
    ),
}


def _use(client: ImapClient, case: str) -> object:
    if case == "search":
        client.examine("INBOX")
        return client.search("ALL")
    if case == "status":
        return client.status("INBOX")
    return client.examine("INBOX")


@pytest.mark.parametrize("case", [*sorted(OVERLONG), "throttled"])
def test_a_number_longer_than_imap_allows_is_a_protocol_error(case: str) -> None:
    from o365imap import ProtocolError

    if case == "throttled":  # "Suggested Backoff Time: <5000 digits> milliseconds"
        script = throttled(times=1, backoff_ms=HUGE)  # type: ignore[arg-type]
    else:
        script = o365_happy([make_message(1, 101)], hooks=[OVERLONG[case]])
    with ScriptedServer(script) as server, client_for(server, sleep=lambda _s: None) as client:
        client.authenticate_oauth(USER, TOKEN)
        with pytest.raises(ProtocolError) as info:
            _use(client, case)
    assert "5000 digits" in str(info.value)
    assert b"9" * 20 in info.value.excerpt  # the bytes at fault, cut short


@pytest.mark.parametrize(
    ("case", "args"),
    [("status", ["info", "INBOX"]), ("uidvalidity", ["info", "INBOX"]), ("search", ["search"])],
)
def test_the_cli_says_one_sentence_for_an_overlong_number(case: str, args: list[str]) -> None:
    script = o365_happy([make_message(1, 101)], hooks=[OVERLONG[case]])
    with ScriptedServer(script) as server:
        connection = ["--host", server.host, "--port", str(server.port), "--security", "plain"]
        env = {**os.environ, "O365IMAP_ACCESS_TOKEN": TOKEN}
        result = invoke([*args, *connection, "--user", USER], env)
    assert result.returncode == 3
    err = result.stderr
    assert err.startswith("o365imap: the server sent a number of 5000 digits"), err
    assert "internal error" not in err and len(err.strip().splitlines()) == 1, err
