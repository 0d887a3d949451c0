"""The test bed itself, proved with the standard library only (sockets, ssl, imaplib, email).

If these pass, the Dovecot sandbox behaves like an OAuth IMAP server (tokens accepted and
refused for the right reasons, with the server's exact words), and the seeded mailbox is what
the answer key in each SeedMessage says it is. The client's own tests build on both.
"""

from __future__ import annotations

import base64
import email
import email.policy
import functools
import imaplib
import json
import os
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from email.headerregistry import Address as StdAddress
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pytest

from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.mailbuild import build_message
from o365imap.sandbox.mailmodel import SeedAddress, SeedGroup, SeedMessage
from o365imap.sandbox.seed import MaildirWriter, Testbed, encode_mutf7, inbox_messages
from o365imap.sandbox.tokens import TokenSigner, decode_unverified

dovecot_test = pytest.mark.dovecot
# the users conftest.py creates
ALICE = "alice@example.com"
ALICE_PASSWORD = "alicepw"
BOB = "bob@example.com"


class RawImap:
    """Just enough IMAP over a socket to see the server's exact bytes."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb")
        self.count = 0
        self.greeting = self.line()
        while not self.greeting.startswith(b"* OK [CAPABILITY"):
            self.greeting = self.line()  # "* OK Waiting for authentication process..."

    def line(self) -> bytes:
        data = self.reader.readline()
        if not data:
            raise ConnectionError("server closed the connection")
        return data.rstrip(b"\r\n")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data + b"\r\n")

    def start(self, command: str) -> bytes:
        self.count += 1
        tag = f"t{self.count}".encode()
        self.send(tag + b" " + command.encode())
        return tag

    def finish(self, tag: bytes) -> tuple[list[bytes], bytes]:
        untagged: list[bytes] = []
        while True:
            line = self.line()
            match = re.search(rb"\{(\d+)\}$", line)
            if match:  # a literal: keep it inline, as one logical line
                line += b"\r\n" + self.reader.read(int(match.group(1))) + self.line()
            if line.startswith(tag + b" "):
                return untagged, line[len(tag) + 1 :]
            untagged.append(line)

    def command(self, command: str) -> tuple[list[bytes], bytes]:
        return self.finish(self.start(command))

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def tls_context(server: DovecotServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.ca_file))


@pytest.fixture
def imaps(dovecot: DovecotServer) -> Iterator[RawImap]:
    sock = socket.create_connection((dovecot.host, dovecot.imaps_port), timeout=10)
    conn = RawImap(tls_context(dovecot).wrap_socket(sock, server_hostname=dovecot.host))
    yield conn
    conn.close()


def xoauth2(user: str, token: str) -> str:
    return base64.b64encode(f"user={user}\x01auth=Bearer {token}\x01\x01".encode()).decode()


def oauthbearer(user: str, token: str) -> str:
    raw = f"n,a={user},\x01auth=Bearer {token}\x01\x01"
    return base64.b64encode(raw.encode()).decode()


def login_imaplib(server: DovecotServer, folder: str | None = None) -> imaplib.IMAP4_SSL:
    conn = imaplib.IMAP4_SSL(server.host, server.imaps_port, ssl_context=tls_context(server))
    conn.login(ALICE, ALICE_PASSWORD)
    if folder is not None:
        typ, _ = conn.select(encode_mutf7(folder), readonly=True)
        assert typ == "OK"
    return conn


def parse_internaldate(row: bytes) -> datetime:
    text = _item(rb'INTERNALDATE "([^"]+)"', row).decode()
    return datetime.strptime(text, "%d-%b-%Y %H:%M:%S %z")


# -- tokens ----------------------------------------------------------------------------------------


def test_token_shape() -> None:
    signer = TokenSigner()
    before = time.time()
    header, claims = decode_unverified(signer.mint(ALICE, scopes=("IMAP.AccessAsUser.All",)))
    assert header == {"typ": "JWT", "alg": "RS256", "kid": signer.kid}
    assert claims["aud"] == "https://outlook.office.com"
    assert claims["iss"] == f"https://sts.sandbox.o365imap.test/{signer.tenant_id}/"
    assert claims["scp"] == "IMAP.AccessAsUser.All"
    assert claims["scope"] == "https://outlook.office.com/IMAP.AccessAsUser.All"
    for name in ("upn", "preferred_username", "unique_name", "email"):
        assert claims[name] == ALICE
    # Dovecot allows no clock skew: never in its future
    assert claims["iat"] == claims["nbf"] <= before - 1
    after = time.time()
    # dated back, but the lifetime still counts from issue: an hour from now
    assert int(before) + 3600 <= claims["exp"] <= int(after) + 3600
    assert claims["ver"] == "2.0"
    assert None not in claims.values()


def test_token_claims_can_be_removed_not_nulled() -> None:
    signer = TokenSigner()
    _, claims = decode_unverified(signer.mint(ALICE, extra_claims={"upn": None, "azp": "x"}))
    assert "upn" not in claims and claims["azp"] == "x"
    _, claims = decode_unverified(signer.mint(ALICE, scopes=()))
    assert "scp" not in claims and "scope" not in claims
    with pytest.raises(ValueError, match="null"):
        signer.mint(ALICE, extra_claims={"roles": ["a", None]})


def test_signer_key_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    first = TokenSigner.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    second = TokenSigner.load_or_create(path)
    assert second.kid == first.kid
    assert second.public_key_pem() == first.public_key_pem()
    assert second.jwk()["kid"] == first.kid


# -- authentication ----------------------------------------------------------------------------


@dovecot_test
def test_capabilities(dovecot: DovecotServer, imaps: RawImap, token: str) -> None:
    assert b"AUTH=XOAUTH2" in imaps.greeting and b"AUTH=OAUTHBEARER" in imaps.greeting
    assert b"SASL-IR" in imaps.greeting
    _, done = imaps.command(f"AUTHENTICATE XOAUTH2 {xoauth2(ALICE, token)}")
    assert done.startswith(b"OK [CAPABILITY IMAP4rev1 ")
    assert b"SPECIAL-USE" in done and b"MOVE" in done and b"UIDPLUS" in done
    plain = socket.create_connection((dovecot.host, dovecot.imap_port), timeout=10)
    conn = RawImap(plain)
    try:
        assert b"STARTTLS" in conn.greeting
    finally:
        conn.close()


@dovecot_test
@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_oauth_succeeds(imaps: RawImap, token: str, mechanism: str) -> None:
    encode = xoauth2 if mechanism == "XOAUTH2" else oauthbearer
    untagged, done = imaps.command(f"AUTHENTICATE {mechanism} {encode(ALICE, token)}")
    assert done.endswith(b"] Logged in"), done
    untagged, done = imaps.command("NAMESPACE")
    assert untagged == [b'* NAMESPACE (("" "/")) NIL NIL']


@dovecot_test
def test_oauth_without_initial_response(dovecot: DovecotServer, token: str) -> None:
    conn = imaplib.IMAP4_SSL(dovecot.host, dovecot.imaps_port, ssl_context=tls_context(dovecot))
    try:
        raw = f"user={ALICE}\x01auth=Bearer {token}\x01\x01".encode()
        typ, _ = conn.authenticate("XOAUTH2", lambda _challenge: raw)
        assert typ == "OK"
    finally:
        conn.logout()


REFUSED: dict[str, Callable[[TokenSigner], str]] = {
    "expired": lambda s: s.mint(ALICE, now=time.time() - 7200),
    "other user": lambda s: s.mint(BOB),
    "other key": lambda s: TokenSigner().mint(ALICE),
    "other key, same kid": lambda s: TokenSigner(kid=s.kid).mint(ALICE),
    "no IMAP scope": lambda s: s.mint(ALICE, scopes=("Mail.Read",)),
    "wrong issuer": lambda s: TokenSigner(s.private_key, issuer="https://evil.test/").mint(ALICE),
    "wrong audience": lambda s: TokenSigner(
        s.private_key, audience="https://graph.microsoft.com"
    ).mint(ALICE, scopes=("https://outlook.office.com/IMAP.AccessAsUser.All",)),
    "not yet valid": lambda s: s.mint(ALICE, now=time.time() + 600),
}


# What Dovecot sends before its NO when it refuses a token (the client answers with an empty
# line). 2.4 adds its oauth2_openid_configuration_url (unset here, so empty), and for
# OAUTHBEARER the scope too.
XOAUTH2_CHALLENGE: dict[str, dict[str, str]] = {
    "2.3": {"status": "401", "schemes": "bearer", "scope": "mail"},
    "2.4": {"status": "401", "schemes": "bearer", "scope": "mail", "openid-configuration": ""},
}
OAUTHBEARER_CHALLENGE: dict[str, dict[str, str]] = {
    "2.3": {"status": "invalid_token"},
    "2.4": {"status": "invalid_token", "scope": "mail", "openid-configuration": ""},
}
REFUSED_AT_ONCE = b"NO [AUTHENTICATIONFAILED] Authentication failed."


def refusal(imaps: RawImap, command: str) -> tuple[dict[str, str] | None, bytes]:
    """Send ``command``; the error challenge Dovecot sent (None: none), and its tagged answer."""
    tag = imaps.start(command)
    line = imaps.line()
    if not line.startswith(b"+ "):
        assert line.startswith(tag + b" "), line
        return None, line[len(tag) + 1 :]
    challenge = json.loads(base64.b64decode(line[2:]))
    imaps.send(b"")
    _, done = imaps.finish(tag)
    return challenge, done


@dovecot_test
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_xoauth2_refused(dovecot: DovecotServer, imaps: RawImap, case: str) -> None:
    bad = REFUSED[case](dovecot.signer)
    challenge, done = refusal(imaps, f"AUTHENTICATE XOAUTH2 {xoauth2(ALICE, bad)}")
    dialect = dovecot.features.dialect
    if case == "other user" and dialect == "2.4":
        # 2.4 refuses a token for someone else with a bare NO: no challenge to answer
        assert challenge is None
    else:
        assert challenge == XOAUTH2_CHALLENGE[dialect]
    assert done == REFUSED_AT_ONCE


@dovecot_test
def test_oauthbearer_refused(dovecot: DovecotServer, imaps: RawImap) -> None:
    bad = dovecot.mint_token(ALICE, now=time.time() - 7200)
    challenge, done = refusal(imaps, f"AUTHENTICATE OAUTHBEARER {oauthbearer(ALICE, bad)}")
    assert challenge == OAUTHBEARER_CHALLENGE[dovecot.features.dialect]
    assert done == REFUSED_AT_ONCE


@dovecot_test
def test_token_without_username_claim(dovecot: DovecotServer, imaps: RawImap) -> None:
    bad = dovecot.mint_token(ALICE, extra_claims={"upn": None})
    challenge, done = refusal(imaps, f"AUTHENTICATE XOAUTH2 {xoauth2(ALICE, bad)}")
    if dovecot.features.dialect == "2.3":
        # a temporary failure; Dovecot appends "[host:time]" so the admin can find the log line
        assert challenge is None
        assert done.startswith(b"NO [UNAVAILABLE] Temporary authentication failure. ["), done
    else:
        # 2.4: a refusal like any other, with an "internal error" status in the challenge
        assert challenge == {**XOAUTH2_CHALLENGE["2.4"], "status": "500"}
        assert done == REFUSED_AT_ONCE


def next_answer(answers: Iterator[bytes], _challenge: bytes) -> bytes:
    return next(answers)


@dovecot_test
def test_refusals_are_not_delayed(dovecot: DovecotServer) -> None:
    # No failure delay and no per-IP penalty: the tenth failure is answered as fast as the
    # first, for passwords and tokens alike (Dovecot's defaults: 2 s, then growing).
    expired = dovecot.mint_token(ALICE, lifetime=-60)
    xoauth2_raw = f"user={ALICE}\x01auth=Bearer {expired}\x01\x01".encode()
    start = time.monotonic()
    conn = imaplib.IMAP4(dovecot.host, dovecot.imap_port)
    try:
        for _ in range(10):
            with pytest.raises(imaplib.IMAP4.error):
                conn.login(ALICE, "wrong")
            # the token, then an empty answer to the error challenge
            answers = iter([xoauth2_raw, b""])
            with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
                conn.authenticate("XOAUTH2", functools.partial(next_answer, answers))
    finally:
        conn.logout()
    assert time.monotonic() - start < 5


@dovecot_test
def test_password_login(dovecot: DovecotServer) -> None:
    conn = imaplib.IMAP4(dovecot.host, dovecot.imap_port)
    try:
        conn.starttls(tls_context(dovecot))
        typ, _ = conn.login(ALICE, ALICE_PASSWORD)
        assert typ == "OK"
    finally:
        conn.logout()


@dovecot_test
def test_user_added_while_running(dovecot: DovecotServer) -> None:
    dovecot.add_user("carol@example.com", "carol:pw")  # ':' is the passwd-file separator
    conn = imaplib.IMAP4(dovecot.host, dovecot.imap_port)
    try:
        assert conn.login("Carol@Example.com", "carol:pw")[0] == "OK"
    finally:
        conn.logout()


@dovecot_test  # the folder's settings come from the installed Dovecot
def test_server_folder_can_be_reused(tmp_path: Path) -> None:
    first = DovecotServer(tmp_path)
    maildir = first.add_user("Dave@Example.com", "pw")
    second = DovecotServer(tmp_path)
    assert second.signer.kid == first.signer.kid
    assert second.maildir("dave@example.com") == maildir
    assert second.users["dave@example.com"].password == "pw"


# -- the seeded mailbox ----------------------------------------------------------------------------


@dovecot_test
def test_list_shows_folders(dovecot: DovecotServer, testbed: Testbed) -> None:
    conn = login_imaplib(dovecot)
    try:
        _, lines = conn.list('""', "*")
    finally:
        conn.logout()
    listed: dict[str, set[str]] = {}
    for line in lines:
        assert isinstance(line, bytes)
        match = re.fullmatch(rb'\(([^)]*)\) "/" (.+)', line)
        assert match is not None, line
        listed[match.group(2).decode("ascii")] = set(match.group(1).decode().split())
    assert set(listed) == {encode_mutf7(name) for name in testbed.folders}
    assert "Entw&APw-rfe" in listed
    assert "&BB4EQgRHBFEEQgRL-/2024" in listed
    assert "&ZeVnLIqe-" in listed
    for name, flag in testbed.special_use().items():
        assert flag in listed[name]
    assert "\\HasChildren" in listed["Projects"]
    conn = login_imaplib(dovecot)
    try:
        _, lines = conn.lsub('""', "*")
    finally:
        conn.logout()
    subscribed = {
        line.rsplit(b'"/" ', 1)[1].decode() for line in lines if isinstance(line, bytes) and line
    }
    assert subscribed == {encode_mutf7(name) for name in testbed.folders} - {"INBOX"}


@dovecot_test
def test_bulk_has_20000_messages(dovecot: DovecotServer, testbed: Testbed) -> None:
    conn = login_imaplib(dovecot)
    try:
        typ, data = conn.select("Bulk", readonly=True)
        assert typ == "OK" and data == [b"20000"]
    finally:
        conn.logout()
    assert len(testbed.bulk) == 20_000
    assert [m.uid for m in testbed.bulk[:3]] == [1, 2, 3]


def _item(pattern: bytes, row: bytes) -> bytes:
    match = re.search(pattern, row)
    assert match is not None, (pattern, row)
    return match.group(1)


def _literal(part: tuple[object, ...]) -> bytes:
    data = part[1]
    assert isinstance(data, bytes)
    return data


def _check_listing(conn: imaplib.IMAP4, sample: list[SeedMessage]) -> None:
    """UID, RFC822.SIZE, INTERNALDATE and FLAGS of ``sample`` are what the seeder recorded."""
    expected = {m.uid: m for m in sample}
    uids = ",".join(str(uid) for uid in sorted(expected))
    typ, data = conn.uid("FETCH", uids, "(UID FLAGS RFC822.SIZE INTERNALDATE)")
    assert typ == "OK"
    rows = [row for row in data if isinstance(row, bytes)]
    assert len(rows) == len(expected)
    for row in rows:
        msg = expected[int(_item(rb"UID (\d+)", row))]
        assert int(_item(rb"RFC822.SIZE (\d+)", row)) == msg.size
        assert parse_internaldate(row) == msg.date
        flags = set(_item(rb"FLAGS \(([^)]*)\)", row).decode().split())
        assert flags - {"\\Recent"} == set(msg.flags)


@dovecot_test
def test_inbox_sizes_dates_flags(dovecot: DovecotServer, testbed: Testbed) -> None:
    conn = login_imaplib(dovecot, "INBOX")
    try:
        _check_listing(conn, testbed.inbox)
    finally:
        conn.logout()
    for msg in testbed.inbox:
        path = dovecot.maildir(ALICE) / "cur" / msg.filename
        assert path.stat().st_size == msg.size
        assert os.path.getmtime(path) == msg.date.timestamp()


@dovecot_test
def test_every_folder_in_uid_order(dovecot: DovecotServer, testbed: Testbed) -> None:
    conn = login_imaplib(dovecot)
    try:
        for folder, messages in testbed.folders.items():
            typ, data = conn.select(encode_mutf7(folder), readonly=True)
            assert typ == "OK" and data == [str(len(messages)).encode()], folder
            if not messages:
                continue
            step = max(1, len(messages) // 200)
            sample = [*messages[::step], messages[-1]]
            _check_listing(conn, sample)
            typ, data = conn.uid(
                "FETCH",
                ",".join(str(m.uid) for m in sample),
                "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
            )
            # typeshed says list[bytes | None]; literals really come as (prefix, data) tuples
            parts = cast("list[object]", data)
            fetched = [_literal(p).decode().strip() for p in parts if isinstance(p, tuple)]
            expected = [
                f"Message-ID: {m.message_id}" if m.message_id else ""
                for m in sorted({m.uid: m for m in sample}.values(), key=lambda m: m.uid)
            ]
            assert fetched == expected, folder
    finally:
        conn.logout()


@dovecot_test
def test_message_bytes_round_trip(dovecot: DovecotServer, testbed: Testbed) -> None:
    conn = login_imaplib(dovecot, "INBOX")
    try:
        for tag in ("inline-image", "raw-utf8-subject", "forwarded", "rfc2231-continued"):
            msg = testbed.tagged(tag)
            _, data = conn.uid("FETCH", str(msg.uid), "(BODY.PEEK[])")
            assert isinstance(data[0], tuple)
            assert data[0][1] == build_message(msg)
    finally:
        conn.logout()


@dovecot_test
def test_envelope_dates_as_dovecot_reports_them(
    dovecot: DovecotServer, testbed: Testbed, imaps: RawImap, token: str
) -> None:
    imaps.command(f"AUTHENTICATE XOAUTH2 {xoauth2(ALICE, token)}")
    imaps.command("EXAMINE INBOX")
    no_date = testbed.tagged("no-date")
    bad_date = testbed.tagged("bad-date")
    untagged, _ = imaps.command(f"UID FETCH {no_date.uid},{bad_date.uid} (INTERNALDATE ENVELOPE)")
    joined = b"\n".join(untagged)
    # Missing Date: ENVELOPE date is NIL; INTERNALDATE is still the file's mtime.
    assert b'ENVELOPE (NIL "No Date header at all"' in joined
    # Unparseable Date: Dovecot passes the header text through unchanged.
    assert b'ENVELOPE ("Someday soon, maybe next week" "An unparseable Date header"' in joined
    assert no_date.expected_date is None and bad_date.expected_date is None


@dovecot_test
def test_envelope_groups_as_dovecot_reports_them(
    dovecot: DovecotServer, testbed: Testbed, imaps: RawImap, token: str
) -> None:
    imaps.command(f"AUTHENTICATE XOAUTH2 {xoauth2(ALICE, token)}")
    imaps.command("EXAMINE INBOX")
    msg = testbed.tagged("group-members")
    untagged, _ = imaps.command(f"UID FETCH {msg.uid} (ENVELOPE)")
    # RFC 3501 7.4.2 group syntax: (NIL NIL "name" NIL) members... (NIL NIL NIL NIL)
    assert (
        b'((NIL NIL "Team" NIL)(NIL NIL "a" "contoso.com")("Bob B" NIL "b" "contoso.com")'
        b"(NIL NIL NIL NIL))" in untagged[0]
    )


# -- the answer key agrees with an independent reading of the bytes ---------------------------------


def _std_entries(header: object) -> tuple[object, ...]:
    out: list[object] = []
    for group in getattr(header, "groups", ()):
        members = tuple(_std_address(a) for a in group.addresses)
        if group.display_name is None:
            out.extend(members)
        else:
            out.append(SeedGroup(group.display_name, members))
    return tuple(out)


def _std_address(address: StdAddress) -> SeedAddress:
    return SeedAddress(address.display_name or None, address.addr_spec)


def _std_parse(msg: SeedMessage) -> EmailMessage:
    raw = build_message(msg)
    try:
        # the stdlib reads raw UTF-8 headers (RFC 6532) only from str, not from bytes
        parsed = email.message_from_string(raw.decode("utf-8"), policy=email.policy.default)
    except UnicodeDecodeError:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_answer_key_matches_stdlib_reading() -> None:
    for msg in inbox_messages(ALICE):
        parsed = _std_parse(msg)
        subject = parsed["subject"]
        assert (None if subject is None else str(subject)) == msg.subject, msg
        for field, expected in (
            ("from", msg.from_),
            ("to", msg.to),
            ("cc", msg.cc),
            ("bcc", msg.bcc),
            ("sender", msg.sender),
            ("reply-to", msg.reply_to),
        ):
            assert _std_entries(parsed[field]) == expected, (msg, field)
        assert parsed["message-id"] == msg.message_id
        if msg.expected_date is not None:
            assert parsed["date"].datetime == msg.expected_date, msg
        attachments = [part for part in parsed.walk() if part.get_content_disposition() is not None]
        assert len(attachments) == len(msg.attachments), msg
        for part, expected_part in zip(attachments, msg.attachments, strict=True):
            assert part.get_filename() == expected_part.filename, msg
            if part.get_content_type() == "message/rfc822":
                inner = part.get_payload(0)
                assert isinstance(inner, EmailMessage)
                assert inner["message-id"] == "<inner.angebot@adatum.de>"
            else:
                assert part.get_payload(decode=True) == expected_part.data
            assert part["content-id"] == expected_part.content_id
        body = parsed.get_body(("plain",))
        assert body is not None
        assert body.get_content().replace("\r\n", "\n") == msg.body


def test_group_display_names_survive() -> None:
    msg = next(m for m in inbox_messages(ALICE) if "group-encoded" in m.tags)
    assert _std_entries(_std_parse(msg)["to"])[0] == (
        "Équipe projet",
        (("Zoë Bélanger", "zoe@proseware.fr"), ("Alice Example", ALICE)),
    )


def test_seeding_is_deterministic(tmp_path: Path) -> None:
    first = [build_message(m) for m in inbox_messages(ALICE)]
    second = [build_message(m) for m in inbox_messages(ALICE)]
    assert first == second
    writer = MaildirWriter(tmp_path / "Maildir")
    writer.write("Отчёты/2024", inbox_messages(ALICE)[:2])
    assert (tmp_path / "Maildir" / ".&BB4EQgRHBFEEQgRL-.2024" / "cur").is_dir()
