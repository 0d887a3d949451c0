"""The thread view's FETCH against an Office 365-shaped peer: one command for the range,
References read from the header as Exchange sends it (missing, empty, folded), and the
FETCH responses a server may slip in between (a flag change from another client)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from o365imap import ImapClient
from o365imap.tui.model import MailSession
from scripted_server import (
    TOKEN,
    USER,
    Command,
    O365Session,
    ScriptedServer,
    _literal,
    client_for,
    make_message,
    o365_happy,
)

_ID = "@contoso.onmicrosoft.com>"
MESSAGES = [make_message(i, 10 + i, subject=f"m{i}") for i in range(1, 5)]
# The header as each message's FETCH carries it; None: the item left out of the answer.
HEADERS: dict[int, bytes | None] = {
    11: b"\r\n",  # no References: the header block's empty line alone
    12: b"References: <11.1" + _ID.encode() + b"\r\n\r\n",
    13: b"References: <11.1" + _ID.encode() + b"\r\n <12.2" + _ID.encode() + b"\r\n\r\n",
    14: None,
}
_PLAIN = ("UID", "FLAGS", "RFC822.SIZE", "INTERNALDATE", "ENVELOPE", "BODYSTRUCTURE")


def _thread_fetch(s: O365Session, cmd: Command) -> bool:
    if cmd.family != "FETCH" or b"HEADER.FIELDS" not in cmd.raw.upper():
        return False
    for msg in s.resolve(cmd, str(cmd.args[0])):
        parts = [s._fetch_item(msg, item) for item in _PLAIN]
        header = HEADERS[msg.uid]
        if header is not None:
            parts.append(b"BODY[HEADER.FIELDS (REFERENCES)] " + _literal(header))
        s.send(b"* %d FETCH (" % msg.seq + b" ".join(parts) + b")")
        if msg.seq == 1:  # another client marks message 2 read meanwhile (RFC 3501 7.4.2)
            s.send(b"* 2 FETCH (UID 12 FLAGS (\\Seen))")
    s.ok(cmd)
    return True


@pytest.fixture
def office365() -> Iterator[ScriptedServer]:
    script = o365_happy(MESSAGES, user=USER, token=TOKEN, hooks=[_thread_fetch])
    with ScriptedServer(script) as server:
        yield server


def test_the_thread_fetch_is_one_command_and_reads_office365_headers(
    office365: ScriptedServer,
) -> None:
    def connect() -> ImapClient:
        client = client_for(office365)
        client.connect()
        client.authenticate_oauth(USER, TOKEN)
        return client

    session = MailSession(connect)
    try:
        session.open_folder("INBOX")
        for uids in (None, [14, 13, 12, 11]):  # the folder, and search results (by UID)
            rows = session.thread_rows(uids, 500)
            # Each message once, with its envelope: the flag change is not a fifth row
            assert sorted(row.uid or 0 for row in rows) == [11, 12, 13, 14]
            assert all(row.summary.envelope is not None for row in rows)
            refs = {row.uid: row.references for row in rows}
            assert refs[14] is None and not (refs[11] or "").strip()
            assert [row.links.references for row in rows if row.uid == 13] == [refs[13]]
            assert "<12.2" + _ID in (refs[13] or "")
    finally:
        session.close()
    fetches = [c for c in office365.received if b"HEADER.FIELDS" in c.upper()]
    assert len(fetches) == 2, fetches  # one per threading, never one per message
    assert office365.errors == []
