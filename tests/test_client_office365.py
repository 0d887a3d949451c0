"""The client against a scripted server playing Office 365's side (tests/scripted_server.py).

What needs a real connection and Exchange's own ways: cuts, stalls and timeouts, BYE timing,
throttling retried after the pauses asked for, the reconnect after AccessTokenExpired, STARTTLS
and TLS, Exchange's replies turned into models. The command sequencing (tags, literals and
their continuations, SASL exchanges, state from untagged responses) is tested without a socket
in test_protocol_session.py. Dovecot cannot show these behaviours; the scripts follow captures
of outlook.office365.com. Everything runs on loopback; plain text is allowed there (and only
there).
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cli_runner import invoke
from o365imap import (
    Address,
    AuthenticationFailed,
    ConnectError,
    ConnectionClosed,
    ImapClient,
    NotConnectedAfterAuth,
    ReadTimeout,
    SessionExpired,
    Throttled,
    UsageError,
)
from o365imap._transport import Transport
from o365imap.protocol import Atom
from scripted_server import (
    TOKEN,
    USER,
    Command,
    Conversation,
    Hook,
    O365Session,
    ScriptedServer,
    auth_failed_no_challenge,
    auth_json_challenge,
    auth_no_sasl_ir,
    authenticated_but_not_connected,
    bye_token_expired_during,
    client_for,
    cut_in_literal,
    exchange_stub_message,
    fetch_items,
    make_message,
    o365_happy,
    server_unavailable,
    stall_after,
    throttled,
    throttled_bad_bye,
)


@pytest.fixture
def happy() -> Iterator[ScriptedServer]:
    messages = [
        make_message(1, 101, subject="First", flags=("\\Seen",)),
        make_message(2, 102, subject="Zweite Nachricht – Grüße"),
        exchange_stub_message(3, 103),
    ]
    with ScriptedServer(o365_happy(messages, user=USER, token=TOKEN)) as server:
        yield server


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


def interrupted_first_fetch(after: int, interrupt: Callable[[O365Session], None]) -> Hook:
    """The first FETCH gets ``after`` of its messages, then ``interrupt``, then the rest
    unless ``interrupt`` ended the session."""
    done = threading.Event()

    def hook(s: O365Session, cmd: Command) -> bool:
        if cmd.family != "FETCH" or done.is_set():
            return False
        done.set()
        items = fetch_items(cmd.args[1:])
        messages = s.resolve(cmd, str(cmd.args[0]))
        for msg in messages[:after]:
            s.send_fetch(cmd, msg, items)
        interrupt(s)
        if not s.done:
            for msg in messages[after:]:
                s.send_fetch(cmd, msg, items)
            s.ok(cmd)
        return True

    return hook


def token_expiry(s: O365Session) -> None:
    s.conv.send(b"* BYE Session invalidated - AccessTokenExpired\r\n")
    s.conv.hangup()
    s.done = True


def news_from_elsewhere(s: O365Session) -> None:
    """A new message, and message 1 read by another client (a FETCH with FLAGS only)."""
    s.send("* 4 EXISTS")
    s.send(r"* 1 FETCH (FLAGS (\Seen))")


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
        assert "\\HasNoChildren" in folders["Archive"].flags  # sent unasked, on a plain LIST
        [listed] = [line for line in happy.received if b" LIST " in line]
        assert listed.endswith(b' LIST "" "*"\r\n')  # no LIST-EXTENDED: no RETURN options
        info = client.select("INBOX", readonly=True)
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
        client.select("INBOX", readonly=True)
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


def test_authenticated_but_not_connected() -> None:
    with ScriptedServer(authenticated_but_not_connected()) as server, client_for(server) as client:
        client.authenticate_oauth(USER, TOKEN)
        with pytest.raises(NotConnectedAfterAuth) as info:
            client.select("INBOX", readonly=True)
    assert info.value.text == "User is authenticated but not connected."
    assert server.errors == []


def test_not_connected_on_authenticate_itself() -> None:
    script = authenticated_but_not_connected(on_authenticate=True)
    with ScriptedServer(script) as server, client_for(server) as client:
        with pytest.raises(NotConnectedAfterAuth):
            client.authenticate_oauth(USER, TOKEN)


def test_throttled_commands_wait_the_suggested_time_and_retry() -> None:
    with ScriptedServer(throttled(times=2, backoff_ms=150)) as server, client_for(server) as client:
        client.authenticate_oauth(USER, TOKEN)
        assert client.select("INBOX", readonly=True).exists == 3  # the SELECT that went through
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
                client.select("INBOX", readonly=True)
    assert waits == [30, 30]  # capped at max_backoff
    assert info.value.backoff == 120
    assert "Suggested Backoff Time" in info.value.text


def test_throttled_with_bye_reports_throttling_not_a_bare_disconnect() -> None:
    with ScriptedServer(throttled_bad_bye(times=1, on="SELECT")) as server:
        with client_for(server, sleep=lambda _s: None) as client:
            client.authenticate_oauth(USER, TOKEN)
            with pytest.raises(Throttled) as info:
                client.select("INBOX", readonly=True)
    assert "closed the connection" in str(info.value)


def test_server_unavailable_is_retried() -> None:
    waits: list[float] = []
    with ScriptedServer(server_unavailable(times=1)) as server:
        with client_for(server, sleep=waits.append) as client:
            client.authenticate_oauth(USER, TOKEN)
            client.select("INBOX", readonly=True)
    assert waits == [0.5]


def test_connection_cut_in_the_middle_of_a_literal() -> None:
    with ScriptedServer(cut_in_literal(announced=1000, sent=300)) as server:
        with client_for(server) as client:
            client.authenticate_oauth(USER, TOKEN)
            client.select("INBOX", readonly=True)
            with pytest.raises(ConnectionClosed) as info:
                list(client.iter_fetch("1", "(UID BODY.PEEK[])"))
    assert "middle of a response" in str(info.value)


def test_a_server_that_stops_answering_times_out() -> None:
    server = ScriptedServer(stall_after("SELECT")).start()
    try:
        client = client_for(server, timeout=0.5)
        client.connect()
        client.authenticate_oauth(USER, TOKEN)
        start = time.monotonic()
        with pytest.raises(ReadTimeout) as info:
            client.select("INBOX", readonly=True)
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


def test_a_flag_change_from_elsewhere_is_not_a_message_of_the_listing() -> None:
    with ScriptedServer(
        o365_happy(hooks=[interrupted_first_fetch(1, news_from_elsewhere)])
    ) as server:
        with client_for(server) as client:
            client.authenticate_oauth(USER, TOKEN)
            client.select("INBOX", readonly=True)
            assert [m.uid for m in client.iter_messages()] == [101, 102, 103]
            assert client.exists == 4  # the EXISTS that came in between was noted
    assert server.errors == []


def test_capabilities_are_asked_before_a_literal_then_literal_plus_is_used() -> None:
    """Exchange's AUTHENTICATE answer carries no CAPABILITY: before a command with a literal
    the client asks again (LITERAL+ decides the literal's form), then sends it at once."""
    script = o365_happy(hooks=[answering("SEARCH", "* SEARCH 2")])
    with ScriptedServer(script) as server, client_for(server) as client:
        client.authenticate_oauth(USER, TOKEN)
        client.select("INBOX", readonly=True)
        assert client.search([Atom("FROM"), "Jürgen"], charset="UTF-8") == [2]
    assert server.errors == []  # a client waiting for a '+' after {7+} would be one
    lines = server.received_lines()
    search = next(i for i, line in enumerate(lines) if " SEARCH " in line)
    assert lines[search - 1].endswith(" CAPABILITY")
    assert lines[search].endswith(" SEARCH CHARSET UTF-8 FROM {7+}")
    assert [(lit.size, lit.nonsync) for lit in server.literals] == [(7, True)]


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
            client.select("INBOX", readonly=True)
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
            client.select("INBOX", readonly=True)
            assert client.list_page()[0].envelope.subject == "after STARTTLS"  # type: ignore[union-attr]
    assert server.errors == []


def test_plain_text_injected_after_starttls_is_refused() -> None:
    from o365imap import ProtocolError

    def injecting(conv: Conversation) -> None:
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


@pytest.mark.slow
def test_a_server_silent_on_logout_does_not_fail_the_work() -> None:
    with ScriptedServer(stall_after("LOGOUT")) as server:
        start = time.monotonic()
        with client_for(server, timeout=1) as client:
            client.authenticate_oauth(USER, TOKEN)
        assert time.monotonic() - start < 3
        assert not client.connected


def test_reprs_hold_no_secrets() -> None:
    from o365imap.auth import ConnectionSettings
    from o365imap.protocol import Command, Raw, sasl

    payload = sasl.xoauth2(USER, TOKEN)
    command = Command("A1", "AUTHENTICATE", (Atom("XOAUTH2"), Raw(payload)), redact=True)
    assert payload.decode() not in repr(command) and TOKEN not in repr(command)
    conn = ConnectionSettings(host="h", user=USER, access_token=TOKEN, timeout=3.0)
    assert TOKEN not in repr(conn)


def test_debug_trace_never_shows_the_sasl_string(capfd: pytest.CaptureFixture[str]) -> None:
    import logging

    from o365imap.protocol import sasl

    logger = logging.getLogger("o365imap")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        # The payload after the server's empty challenge, then an empty line to its JSON error
        # challenge: the scripted servers record any other answer as an error.
        with ScriptedServer(auth_no_sasl_ir()) as plain, client_for(plain) as client:
            client.authenticate_oauth(USER, TOKEN)
        with ScriptedServer(auth_json_challenge()) as gmail, client_for(gmail) as client:
            with pytest.raises(AuthenticationFailed) as info:
                client.authenticate_oauth(USER, TOKEN)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    assert plain.errors == [] and gmail.errors == []
    assert plain.xoauth2 == [(USER, TOKEN)]
    assert info.value.code == "AUTHENTICATIONFAILED" and "400" in str(info.value)
    err = capfd.readouterr().err
    assert "[redacted continuation]" in err
    assert TOKEN not in err and sasl.xoauth2(USER, TOKEN).decode() not in err
    assert "Traceback" not in err and "Logging error" not in err


def test_listing_survives_token_expiry_without_losing_or_repeating_a_message() -> None:
    messages = [make_message(i, 100 + i, subject=f"message {i}") for i in range(1, 8)]
    tokens = iter(["fresh-token-2", "fresh-token-3"])
    with ScriptedServer(
        o365_happy(messages, hooks=[interrupted_first_fetch(3, token_expiry)])
    ) as server:
        with client_for(server) as client:
            client.authenticate_oauth(USER, "token-1", refresh=lambda: next(tokens))
            client.select("INBOX", readonly=True)
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
    with ScriptedServer(
        o365_happy(messages, hooks=[interrupted_first_fetch(1, token_expiry)])
    ) as server:
        with client_for(server) as client:
            client.authenticate_oauth(USER, TOKEN)
            client.select("INBOX", readonly=True)
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
        list(client.iter_fetch([7], "(UID BODY.PEEK[1])", uid=True))
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
        client.select("INBOX", readonly=True)
        return client.search("ALL")
    if case == "status":
        return client.status("INBOX")
    return client.select("INBOX", readonly=True)


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
