"""Self-tests of the scripted Office 365 IMAP server, driven with raw sockets only.

They pin what the client tests rely on: the recording (lines and their times), prompt shutdown,
TLS and STARTTLS, Exchange's answers and the failure scripts' timing on the wire.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripted_server import (
    CAPABILITIES_POST_AUTH,
    CAPABILITIES_PRE_AUTH,
    EXCHANGE_STUB_ENVELOPE,
    Conversation,
    LiteralInfo,
    Message,
    ScriptedServer,
    auth_failed_no_challenge,
    auth_json_challenge,
    auth_no_sasl_ir,
    authenticated_but_not_connected,
    bye_token_expired_during,
    cut_in_literal,
    exchange_stub_message,
    make_message,
    o365_happy,
    o365_starttls,
    office365_greeting,
    parse_args,
    parse_sequence_set,
    server_unavailable,
    stall_after,
    throttled,
    throttled_bad_bye,
    xoauth2_initial_response,
)

pytestmark = pytest.mark.timeout(30)

USER = "MeganB@contoso.onmicrosoft.com"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.test.sig"
IR = xoauth2_initial_response(USER, TOKEN)


class Raw:
    """A bare-socket IMAP client: exactly the bytes we write, exactly the bytes we get."""

    def __init__(
        self,
        server: ScriptedServer,
        tls: ssl.SSLContext | None = None,
        timeout: float = 5.0,
    ) -> None:
        sock = socket.create_connection((server.host, server.port), timeout=timeout)
        self.sock: socket.socket = (
            tls.wrap_socket(sock, server_hostname="localhost") if tls else sock
        )
        self.buf = b""

    def send(self, data: bytes | str) -> None:
        self.sock.sendall(data if isinstance(data, bytes) else data.encode() + b"\r\n")

    def _fill(self) -> bool:
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            return False
        self.buf += data
        return bool(data)

    def line(self) -> bytes:
        while b"\n" not in self.buf:
            if not self._fill():
                rest, self.buf = self.buf, b""
                return rest
        i = self.buf.index(b"\n") + 1
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                break
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self) -> bytes:
        """One response line with its literals."""
        out = self.line()
        while m := re.search(rb"\{(\d+)\}\r\n\Z", out):
            out += self.exact(int(m[1]))
            out += self.line()
        return out

    def until_tag(self, tag: str) -> list[bytes]:
        lines: list[bytes] = []
        while True:
            r = self.response()
            if not r:
                raise EOFError(lines)
            lines.append(r)
            if r.startswith(tag.encode() + b" "):
                return lines

    def cmd(self, tag: str, text: str) -> list[bytes]:
        self.send(f"{tag} {text}")
        return self.until_tag(tag)

    def read_to_eof(self) -> bytes:
        while self._fill():
            pass
        rest, self.buf = self.buf, b""
        return rest

    def login(self) -> None:
        assert self.line().startswith(b"* OK ")
        assert (
            self.cmd("A1", f"AUTHENTICATE XOAUTH2 {IR}")[-1] == b"A1 OK AUTHENTICATE completed.\r\n"
        )

    def close(self) -> None:
        self.sock.close()


def _texts(lines: list[bytes]) -> list[str]:
    return [x.decode().removesuffix("\r\n") for x in lines]


def _scripted_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("scripted-imap")]


# --------------------------------------------------------------------------------------------
# TLS material (generated, never leaves tmp)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    d: Path = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(d / "cert.pem", d / "key.pem")
    client_ctx = ssl.create_default_context(cafile=str(d / "cert.pem"))
    return server_ctx, client_ctx


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    yield
    assert _scripted_threads() == []


# --------------------------------------------------------------------------------------------
# Basics: constants, parsing helpers, the Conversation API
# --------------------------------------------------------------------------------------------


def test_greeting_and_capabilities_match_the_captures() -> None:
    greeting = office365_greeting()
    assert greeting == (
        "* OK The Microsoft Exchange IMAP4 service is ready. "
        "[TQBOADIAUABSADEANgBDAEEAMAAwADYAMwAuAG4AYQBtAHAAcgBkADEANgAuAHAAcgBvAGQALgBvAHUAdABs"
        "AG8AbwBrAC4AYwBvAG0A]"
    )
    host = base64.b64decode(greeting.rsplit("[", 1)[1].rstrip("]")).decode("utf-16-le")
    assert host == "MN2PR16CA0063.namprd16.prod.outlook.com"
    assert CAPABILITIES_PRE_AUTH.endswith("CHILDREN IDLE NAMESPACE LITERAL+")
    assert "BACKENDAUTHENTICATE" in CAPABILITIES_POST_AUTH.split()
    assert "CONDSTORE" not in CAPABILITIES_POST_AUTH


def test_parsers() -> None:
    assert parse_sequence_set("1:3,5,7:*", 9) == [(1, 3), (5, 5), (7, 9)]
    assert parse_sequence_set("200:*", 103) == [(103, 200)]
    with pytest.raises(ValueError):
        parse_sequence_set("0:2", 5)
    assert parse_args(b'"" "INBOX" (A "b c") {3+}\r\nx y BODY.PEEK[HEADER.FIELDS (FROM)]<0.9>') == [
        "",
        "INBOX",
        ["A", "b c"],
        "x y",
        "BODY.PEEK[HEADER.FIELDS (FROM)]<0.9>",
    ]


def test_custom_script_records_lines_times_and_failures() -> None:
    def script(conv: Conversation) -> None:
        conv.send_line("* OK hello")
        for answer in ("OK NOOP Completed", "OK done"):
            line = conv.read_line()
            conv.send_line(f"{conv.tag_of(line)} {answer}")
        if conv.read_line():
            conv.fail("this script knows no more commands")

    with ScriptedServer(script) as server:
        c = Raw(server)
        assert c.line() == b"* OK hello\r\n"
        assert c.cmd("x1", "NOOP") == [b"x1 OK NOOP Completed\r\n"]
        time.sleep(0.2)
        assert c.cmd("x2", "CHECK") == [b"x2 OK done\r\n"]
        c.send("x3 LOGOUT")
        assert c.read_to_eof() == b""
        c.close()
        assert server.wait_idle()
    assert server.received == [b"x1 NOOP\r\n", b"x2 CHECK\r\n", b"x3 LOGOUT\r\n"]
    assert server.received_at[1] - server.received_at[0] >= 0.19
    assert server.errors == ["conn#0: this script knows no more commands"]
    assert server.sent[0] == b"* OK hello\r\n"


def test_read_command_joins_literals() -> None:
    commands: list[bytes] = []

    def script(conv: Conversation) -> None:
        conv.send_line("* OK hello")
        commands.append(conv.read_command())
        conv.send_line("a OK")

    with ScriptedServer(script) as server:
        c = Raw(server)
        c.line()
        c.send(b"a LOGIN {4}\r\n")
        assert c.line() == b"+ Ready for additional command text.\r\n"
        c.send(b"user {3+}\r\npwd\r\n")
        assert c.line() == b"a OK\r\n"
        c.close()
    assert commands == [b"a LOGIN {4}\r\nuser {3+}\r\npwd\r\n"]
    assert [(x.size, x.nonsync) for x in server.literals] == [(4, False), (3, True)]
    assert server.received == [b"a LOGIN {4}\r\n", b"user", b" {3+}\r\n", b"pwd", b"\r\n"]


def test_a_client_waiting_for_a_plus_after_a_literal_plus_is_recorded() -> None:
    def script(conv: Conversation) -> None:
        conv.send_line("* OK hello")
        conv.read_command(nonsync_wait=0.3)

    with ScriptedServer(script) as server:
        c = Raw(server)
        c.line()
        c.send(b"a SELECT {5+}\r\n")  # and then waits: no continuation ever comes
        assert c.read_to_eof() == b""
        c.close()
    assert len(server.errors) == 1 and "without waiting" in server.errors[0]


def test_close_is_prompt_with_a_stalled_script_and_leaves_no_threads() -> None:
    def script(conv: Conversation) -> None:
        conv.send_line("* OK hello")
        conv.stall(3600)

    server = ScriptedServer(script).start()
    c = Raw(server)
    c.line()
    assert server.wait_connections(1)
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < 1.5
    assert _scripted_threads() == []
    c.close()


def test_implicit_tls(tls_pair: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_ctx, client_ctx = tls_pair
    with ScriptedServer(o365_happy(), ssl_context=server_ctx) as server:
        c = Raw(server, tls=client_ctx)
        c.login()
        assert c.cmd("A2", "LOGOUT")[-1] == b"A2 OK LOGOUT completed.\r\n"
        c.close()
    assert server.errors == []


def test_starttls_upgrade_and_plaintext_credentials_detection(
    tls_pair: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_ctx, client_ctx = tls_pair
    with ScriptedServer(o365_starttls(), starttls_context=server_ctx) as server:
        c = Raw(server)
        assert c.line().startswith(b"* OK The Microsoft Exchange")
        caps = c.cmd("A0", "CAPABILITY")[0]
        assert b" STARTTLS " in caps and b"AUTH=XOAUTH2" not in caps
        assert c.cmd("A1", "STARTTLS") == [b"A1 OK Begin TLS negotiation now.\r\n"]
        c.sock = client_ctx.wrap_socket(c.sock, server_hostname="localhost")
        assert b"AUTH=XOAUTH2" in c.cmd("A2", "CAPABILITY")[0]
        assert c.cmd("A3", f"AUTHENTICATE XOAUTH2 {IR}")[-1].startswith(b"A3 OK")
        c.cmd("A4", "LOGOUT")
        c.close()
    assert server.errors == []

    with ScriptedServer(o365_starttls(), starttls_context=server_ctx) as server:
        c = Raw(server)
        c.line()
        assert c.cmd("A1", f"AUTHENTICATE XOAUTH2 {IR}") == [
            b"A1 BAD Command received in Invalid state.\r\n"
        ]
        c.close()
    assert any("plain text" in e for e in server.errors)
    assert any(IR.encode() in r for r in server.received)  # the leak is on record


# --------------------------------------------------------------------------------------------
# o365_happy: the Office 365 session
# --------------------------------------------------------------------------------------------


def test_o365_happy_full_session() -> None:
    with ScriptedServer(o365_happy(user=USER, token=TOKEN)) as server:
        c = Raw(server)
        assert c.line() == office365_greeting().encode() + b"\r\n"
        assert _texts(c.cmd("A0", "CAPABILITY")) == [
            f"* CAPABILITY {CAPABILITIES_PRE_AUTH}",
            "A0 OK CAPABILITY completed.",
        ]
        assert c.cmd("A1", 'LIST "" "*"') == [b"A1 BAD Command received in Invalid state.\r\n"]
        assert _texts(c.cmd("A2", f"AUTHENTICATE XOAUTH2 {IR}")) == [
            "A2 OK AUTHENTICATE completed."
        ]
        assert c.cmd("A3", "CAPABILITY")[0] == f"* CAPABILITY {CAPABILITIES_POST_AUTH}\r\n".encode()
        assert _texts(c.cmd("A5", 'LIST "" "INBOX"')) == [
            r'* LIST (\Marked \HasChildren) "/" Inbox',
            "A5 OK LIST completed.",
        ]
        listing = _texts(c.cmd("A6", 'LIST "" "*"'))
        assert r'* LIST (\Marked \HasNoChildren \Trash) "/" "Deleted Items"' in listing
        assert r'* LIST (\HasNoChildren \Sent) "/" "Sent Items"' in listing
        assert r'* LIST (\HasNoChildren \Junk) "/" "Junk Email"' in listing
        assert r'* LIST (\HasNoChildren \Drafts) "/" Drafts' in listing
        assert r'* LIST (\HasNoChildren) "/" Inbox/Przesy&AUI-ki' in listing
        assert r'* LIST (\HasNoChildren) "/" Archive' in listing
        assert _texts(c.cmd("A7", 'LIST "" "%"'))[-1] == "A7 OK LIST completed."
        c.send(b"A8 EXAMINE {5+}\r\nINBOX\r\n")  # LITERAL+: no continuation to wait for
        assert _texts(c.until_tag("A8")) == [
            "* 3 EXISTS",
            "* 0 RECENT",
            r"* FLAGS (\Seen \Answered \Flagged \Deleted \Draft $MDNSent)",
            "* OK [PERMANENTFLAGS ()] Permanent flags",
            "* OK [UNSEEN 2] Is the first unseen message",
            "* OK [UIDVALIDITY 14] UIDVALIDITY value",
            "* OK [UIDNEXT 104] The next unique identifier value",
            "A8 OK [READ-ONLY] EXAMINE completed.",
        ]
        rows = c.cmd("A9", "FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)")
        assert [r.split(b" (", 1)[0] for r in rows[:3]] == [
            b"* 1 FETCH",
            b"* 2 FETCH",
            b"* 3 FETCH",
        ]
        assert rows[0].startswith(rb"* 1 FETCH (UID 101 FLAGS (\Seen) RFC822.SIZE ")
        assert b'INTERNALDATE "03-Mar-2026 09:15:04 +0000" ENVELOPE ("Tue, 3 Mar 2026' in rows[0]
        assert (
            b"{19}\r\nGr\xc3\xbc\xc3\x9fe aus Z\xc3\xbcrich" in rows[2]
        )  # non-ASCII subject literal
        assert rows[3] == b"A9 OK FETCH completed.\r\n"
        assert _texts(c.cmd("B1", "UID FETCH 102:* (FLAGS)")) == [
            "* 2 FETCH (UID 102 FLAGS ())",
            r"* 3 FETCH (UID 103 FLAGS (\Seen \Flagged $MDNSent))",
            "B1 OK FETCH completed.",
        ]
        part = c.cmd("B2", "UID FETCH 103 (BODY.PEEK[]<0.6>)")
        assert part[0] == b"* 3 FETCH (UID 103 BODY[]<0> {6}\r\nFrom: )\r\n"
        assert c.cmd("B6", "NOOP") == [b"B6 OK NOOP Completed\r\n"]
        assert _texts(c.cmd("B7", "LOGOUT")) == [
            "* BYE Microsoft Exchange Server IMAP4 server signing off.",
            "B7 OK LOGOUT completed.",
        ]
        assert c.read_to_eof() == b""
        c.close()
    assert server.errors == []
    assert server.xoauth2 == [(USER, TOKEN)]
    assert server.received[2] == f"A2 AUTHENTICATE XOAUTH2 {IR}\r\n".encode()
    assert server.literals == [LiteralInfo(5, True, b"INBOX")]


def test_commands_the_client_never_sends_are_refused_and_recorded() -> None:
    with ScriptedServer(o365_happy()) as server:
        c = Raw(server)
        c.login()
        c.cmd("A2", "SELECT INBOX")
        assert c.cmd("A3", "UID MOVE 101 Archive") == [b"A3 BAD Command Error. 12\r\n"]
        assert c.cmd("A4", "FETCH 1 BODY.PEEK[HEADER]") == [
            b"A4 BAD Command Argument Error. 11\r\n"
        ]
        c.close()
    assert len(server.errors) == 2
    assert "unhandled command b'A3 UID MOVE" in server.errors[0]
    assert "unsupported FETCH item 'BODY.PEEK[HEADER]'" in server.errors[1]


def test_o365_happy_select_and_wrong_token() -> None:
    with ScriptedServer(o365_happy(token=TOKEN)) as server:
        c = Raw(server)
        c.line()
        bad = xoauth2_initial_response(USER, "stale")
        assert c.cmd("A0", f"AUTHENTICATE XOAUTH2 {bad}") == [b"A0 NO AUTHENTICATE failed.\r\n"]
        assert c.cmd("A1", f"AUTHENTICATE XOAUTH2 {IR}")[-1].startswith(b"A1 OK")
        sel = _texts(c.cmd("A2", 'SELECT "Inbox"'))
        assert (
            sel[3]
            == r"* OK [PERMANENTFLAGS (\Seen \Answered \Flagged \Deleted \Draft $MDNSent)] Permanent flags"
        )
        assert sel[-1] == "A2 OK [READ-WRITE] SELECT completed."
        assert c.cmd("A5", "SELECT Nowhere") == [b"A5 NO Nowhere doesn't exist.\r\n"]
        assert c.cmd("A6", "FETCH 1 (UID)") == [b"A6 BAD Command received in Invalid state.\r\n"]
        c.close()
    assert server.errors == []
    assert [t for _, t in server.xoauth2] == ["stale", TOKEN]


def test_o365_happy_serves_exchange_broken_envelopes() -> None:
    msgs = [
        make_message(1, 5),
        exchange_stub_message(2, 7),
        Message(
            3,
            9,
            (r"\Seen",),
            1234,
            "01-Jan-2026 00:00:00 +0000",
            b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
        ),
    ]
    with ScriptedServer(o365_happy(msgs)) as server:
        c = Raw(server)
        c.login()
        c.cmd("A2", "EXAMINE INBOX")
        rows = c.cmd("A3", "UID FETCH 7:* (UID RFC822.SIZE ENVELOPE)")
        assert (
            rows[0]
            == b"* 2 FETCH (UID 7 RFC822.SIZE 0 ENVELOPE " + EXCHANGE_STUB_ENVELOPE + b")\r\n"
        )
        assert b'"Microsoft Exchange Server" NIL NIL ".MISSING-HOST-NAME."' in rows[0]
        assert rows[1] == (
            b"* 3 FETCH (UID 9 RFC822.SIZE 1234 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n"
        )
        c.close()
    assert server.errors == []


def test_o365_happy_per_folder_messages_and_status() -> None:
    inbox = [make_message(1, 31), make_message(2, 32, flags=(r"\Seen",))]
    script = o365_happy({"INBOX": inbox, "Archive": [make_message(1, 5)]})
    with ScriptedServer(script) as server:
        c = Raw(server)
        c.login()
        assert _texts(c.cmd("A3", 'STATUS "Archive" (MESSAGES UIDNEXT UNSEEN)')) == [
            "* STATUS Archive (MESSAGES 1 UIDNEXT 6 UNSEEN 1)",
            "A3 OK STATUS completed.",
        ]
        assert _texts(c.cmd("A4", "SELECT INBOX"))[0] == "* 2 EXISTS"
        assert _texts(c.cmd("A5", "UID FETCH 1:* (FLAGS)")) == [
            "* 1 FETCH (UID 31 FLAGS ())",
            r"* 2 FETCH (UID 32 FLAGS (\Seen))",
            "A5 OK FETCH completed.",
        ]
        assert _texts(c.cmd("A6", "EXAMINE Drafts"))[0] == "* 0 EXISTS"
        c.close()
    assert server.errors == []


# --------------------------------------------------------------------------------------------
# Sign-in variants
# --------------------------------------------------------------------------------------------


def test_auth_failed_no_challenge() -> None:
    with ScriptedServer(auth_failed_no_challenge()) as server:
        c = Raw(server)
        c.line()
        assert c.cmd("A1", f"AUTHENTICATE XOAUTH2 {IR}") == [b"A1 NO AUTHENTICATE failed.\r\n"]
        assert c.cmd("A2", "SELECT INBOX") == [b"A2 BAD Command received in Invalid state.\r\n"]
        c.cmd("A3", "LOGOUT")
        c.close()
    assert server.errors == []


def test_auth_json_challenge() -> None:
    with ScriptedServer(auth_json_challenge()) as server:
        c = Raw(server)
        assert c.line().startswith(b"* OK Gimap ready")
        c.send(f"A1 AUTHENTICATE XOAUTH2 {IR}")
        challenge = c.line()
        assert challenge.startswith(b"+ ")
        assert json.loads(base64.b64decode(challenge[2:]))["status"] == "400"
        c.send(b"\r\n")
        assert c.line() == b"A1 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n"
        c.close()
    assert server.errors == []

    with ScriptedServer(auth_json_challenge()) as server:  # answering with data is an error
        c = Raw(server)
        c.line()
        c.send(f"A1 AUTHENTICATE XOAUTH2 {IR}")
        c.line()
        c.send(IR)
        assert c.line().startswith(b"A1 NO [AUTHENTICATIONFAILED]")
        c.close()
    assert len(server.errors) == 1 and "empty line" in server.errors[0]


def test_auth_no_sasl_ir() -> None:
    with ScriptedServer(auth_no_sasl_ir()) as server:
        c = Raw(server)
        c.line()
        assert b"SASL-IR" not in c.cmd("A0", "CAPABILITY")[0]
        c.send("A1 AUTHENTICATE XOAUTH2")
        assert c.line() == b"+ \r\n"
        c.send(IR)
        assert c.line() == b"A1 OK AUTHENTICATE completed.\r\n"
        c.close()
    assert server.errors == []

    with ScriptedServer(auth_no_sasl_ir()) as server:
        c = Raw(server)
        c.line()
        assert c.cmd("A1", f"AUTHENTICATE XOAUTH2 {IR}") == [
            b"A1 BAD Command Argument Error. 11\r\n"
        ]
        c.close()
    assert any("SASL-IR" in e for e in server.errors)


# --------------------------------------------------------------------------------------------
# Exchange's failure answers
# --------------------------------------------------------------------------------------------


def test_authenticated_but_not_connected() -> None:
    with ScriptedServer(authenticated_but_not_connected()) as server:
        c = Raw(server)
        c.login()
        assert c.cmd("A2", "CAPABILITY")[-1] == b"A2 OK CAPABILITY completed.\r\n"
        c.send("A3 SELECT INBOX")
        assert c.read_to_eof() == (
            b"A3 BAD User is authenticated but not connected.\r\n* BYE Connection closed. 14\r\n"
        )
        c.close()
    assert server.errors == []
    assert server.sent[-1] == (
        b"A3 BAD User is authenticated but not connected.\r\n* BYE Connection closed. 14\r\n"
    )


def test_throttled_then_success_with_timestamps() -> None:
    with ScriptedServer(throttled(times=2, backoff_ms=150)) as server:
        c = Raw(server)
        c.login()
        for tag in ("A2", "A3"):
            reply = c.cmd(tag, "SELECT INBOX")
            assert reply == [
                f"{tag} NO Request is throttled. Suggested Backoff Time: 150 milliseconds\r\n".encode()
            ]
            m = re.search(rb"Backoff Time: (\d+) milliseconds", reply[0])
            assert m is not None
            time.sleep(int(m[1]) / 1000)
        assert c.cmd("A4", "SELECT INBOX")[-1] == b"A4 OK [READ-WRITE] SELECT completed.\r\n"
        c.close()
    assert server.errors == []
    refused = server.sent_times("throttled")
    selects = server.received_times(r"^\S+ SELECT ")
    assert len(refused) == 2 and len(selects) == 3
    assert selects[1] - refused[0] >= 0.15 and selects[2] - refused[1] >= 0.15


def test_throttled_bad_bye_then_reconnect() -> None:
    with ScriptedServer(throttled_bad_bye(times=1, backoff_ms=100, on="FETCH")) as server:
        c = Raw(server)
        c.login()
        c.cmd("A2", "EXAMINE INBOX")
        c.send("A3 UID FETCH 1:* (FLAGS)")
        assert c.read_to_eof() == (
            b"A3 BAD Request is throttled. Suggested Backoff Time: 100 milliseconds\r\n"
            b"* BYE Connection closed. 14\r\n"
        )
        c.close()
        c = Raw(server)
        c.login()
        c.cmd("A2", "EXAMINE INBOX")
        assert c.cmd("A3", "UID FETCH 1:* (FLAGS)")[-1] == b"A3 OK FETCH completed.\r\n"
        c.close()
    assert server.errors == []
    assert server.connections == 2


def test_server_unavailable() -> None:
    with ScriptedServer(server_unavailable()) as server:
        c = Raw(server)
        c.login()
        assert c.cmd("A2", "SELECT INBOX") == [b"A2 NO Server Unavailable. 15\r\n"]
        assert c.cmd("A3", "SELECT INBOX")[-1].startswith(b"A3 OK [READ-WRITE]")
        c.close()
    assert server.errors == []


# --------------------------------------------------------------------------------------------
# Broken connections: cuts, stalls, BYE timing
# --------------------------------------------------------------------------------------------


def test_cut_in_literal() -> None:
    with ScriptedServer(cut_in_literal(announced=1000, sent=300)) as server:
        c = Raw(server)
        c.login()
        c.cmd("A2", "EXAMINE INBOX")
        assert c.cmd("A3", "FETCH 1:* (UID FLAGS)")[-1] == b"A3 OK FETCH completed.\r\n"
        c.send("A4 UID FETCH 101 (UID BODY.PEEK[])")
        assert c.line() == b"* 1 FETCH (UID 101 BODY[] {1000}\r\n"
        rest = c.read_to_eof()
        assert len(rest) == 300  # of the 1000 announced
        c.close()
    assert server.errors == []


def test_stall_after_select_client_times_out_and_close_is_prompt() -> None:
    server = ScriptedServer(stall_after("SELECT")).start()
    try:
        c = Raw(server)
        c.login()
        c.sock.settimeout(0.3)
        c.send("A2 SELECT INBOX")
        with pytest.raises(TimeoutError):
            c.line()
        c.sock.settimeout(5)
        started = time.monotonic()
    finally:
        server.close()
    assert time.monotonic() - started < 1.5
    assert server.errors == []
    assert server.received[-1] == b"A2 SELECT INBOX\r\n"
    c.close()


def test_stall_after_then_reconnect() -> None:
    with ScriptedServer(stall_after("NOOP")) as server:
        c = Raw(server)
        c.login()
        c.sock.settimeout(0.2)
        c.send("A2 NOOP")
        with pytest.raises(TimeoutError):
            c.line()
        c.close()
        c = Raw(server)  # the second connection is served normally
        c.login()
        assert c.cmd("A2", "NOOP") == [b"A2 OK NOOP Completed\r\n"]
        c.close()
    assert server.errors == []


def test_bye_token_expired_during_list_then_reconnect_with_fresh_token() -> None:
    with ScriptedServer(bye_token_expired_during("LIST")) as server:
        c = Raw(server)
        c.login()
        c.send('A2 LIST "" "*"')
        assert c.read_to_eof() == b"* BYE Session invalidated - AccessTokenExpired\r\n"
        c.close()
        c = Raw(server)
        c.line()
        fresh = xoauth2_initial_response(USER, "fresh-token")
        assert c.cmd("A1", f"AUTHENTICATE XOAUTH2 {fresh}")[-1].startswith(b"A1 OK")
        assert c.cmd("A2", 'LIST "" "*"')[-1] == b"A2 OK LIST completed.\r\n"
        c.close()
    assert server.errors == []
    assert [t for _, t in server.xoauth2] == [TOKEN, "fresh-token"]

    with ScriptedServer(bye_token_expired_during("SELECT", close=False)) as server:
        c = Raw(server)
        c.login()
        c.send("A2 SELECT INBOX")
        assert c.line() == b"* BYE Session invalidated - AccessTokenExpired\r\n"
        assert c.cmd("A3", "NOOP") == [b"A3 BAD Command received in Invalid state.\r\n"]
        c.close()


def test_bye_and_close_over_tls_is_seen_at_once(
    tls_pair: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_ctx, client_ctx = tls_pair
    with ScriptedServer(authenticated_but_not_connected(), ssl_context=server_ctx) as server:
        c = Raw(server, tls=client_ctx)
        c.login()
        c.send("A2 SELECT INBOX")
        started = time.monotonic()
        assert c.read_to_eof().endswith(b"* BYE Connection closed. 14\r\n")
        assert time.monotonic() - started < 0.3
        c.close()
        assert server.wait_idle()
    assert server.errors == []
