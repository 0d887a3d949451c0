"""Reading messages from a server whose BODYSTRUCTURE cannot be trusted (Office 365's NIL parts).

The scripted server plays Exchange; the message is parsed from ``BODY.PEEK[]`` instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import pytest

from cutting_proxy import CuttingProxy
from o365imap import ImapClient, ProtocolError
from o365imap.messages import open_message, save_message, save_parts
from o365imap.sandbox.mailbuild import build_message
from o365imap.sandbox.mailsamples import EXPECTED, attachment_messages
from scripted_server import TOKEN, USER, O365Config, ScriptedServer, make_message, o365_happy

SAMPLE = next(m for m in attachment_messages(USER) if "boundary-prefix" in m.tags)
# What Exchange Online sends for some messages: parts with every field NIL.
NIL_PARTS = (
    b'((NIL NIL NIL NIL NIL "7BIT" 0 NIL NIL NIL NIL)'
    b'(NIL NIL NIL NIL NIL "7BIT" 0 NIL NIL NIL NIL) "mixed" ("boundary" "b1") NIL NIL)'
)


def _server(bodystructure: bytes) -> ScriptedServer:
    message = make_message(1, 41, body=build_message(SAMPLE), bodystructure=bodystructure)
    return ScriptedServer(o365_happy([message]))


def _client(server: ScriptedServer) -> ImapClient:
    client = ImapClient(server.host, server.port, security="plain", timeout=5.0)
    client.connect()
    client.authenticate_oauth(USER, TOKEN)
    client.select("INBOX", readonly=True)
    return client


def test_nil_parts_are_read_from_the_message_itself(tmp_path: Path) -> None:
    with _server(NIL_PARTS) as server:
        client = _client(server)
        try:
            view = open_message(client, 41)
            saved = save_parts(client, 41, tmp_path)
        finally:
            client.logout()
    assert [p.safe_name for p in view.parts] == ["report.pdf"]
    assert view.text == "Plain."
    assert [s.filename for s in saved] == ["report.pdf"]
    assert (tmp_path / "report.pdf").read_bytes() == dict(EXPECTED["boundary-prefix"])["report.pdf"]
    assert any(b"BODY.PEEK[]" in line for line in server.received)


def test_a_nil_bodystructure_is_not_taken_for_one_attachment(tmp_path: Path) -> None:
    with _server(b"NIL") as server:
        client = _client(server)
        try:
            saved = save_parts(client, 41, tmp_path)
        finally:
            client.logout()
    assert [s.filename for s in saved] == ["report.pdf"]


BIG = next(m for m in attachment_messages(USER) if "unnamed-parts" in m.tags)  # a 3 MB part


@pytest.mark.parametrize("partial", ["honour", "ignore"])
def test_a_dropped_fallback_download_resumes(
    tmp_path: Path, partial: Literal["honour", "ignore"]
) -> None:
    """BODY.PEEK[] parsed as it streams, cut at 1 MB: it goes on from that byte on a new
    connection (or, from a server that ignores <offset.>, skips what it had), byte-exact."""
    body = build_message(BIG)
    config = O365Config(partial=partial)
    message = make_message(1, 41, body=body, bodystructure=NIL_PARTS)
    with (
        ScriptedServer(o365_happy([message], config=config)) as server,
        CuttingProxy((server.host, server.port), cut_after=1_000_000) as proxy,
    ):
        client = ImapClient(proxy.host, proxy.port, security="plain", timeout=5.0)
        with client:
            client.authenticate_oauth(USER, TOKEN, refresh=lambda: TOKEN)
            client.select("INBOX", readonly=True)
            saved = save_parts(client, 41, tmp_path)
        assert proxy.connections == 2  # dropped once, resumed on a new connection
    assert [s.filename for s in saved] == [n for n, _ in EXPECTED["unnamed-parts"]]
    for name, data in EXPECTED["unnamed-parts"]:
        assert (tmp_path / name).read_bytes() == data, name
    fetches = [line for line in server.received if b"BODY.PEEK[]" in line]
    assert len(fetches) == 2 and re.search(rb"BODY\.PEEK\[\]<\d+\.\d+>", fetches[1])


@pytest.mark.parametrize(
    ("partial", "said"),
    [("later", "answered from byte"), ("overlong", "a number of 5000 digits")],
)
def test_a_server_resuming_from_the_wrong_byte_is_refused(
    tmp_path: Path, partial: Literal["later", "overlong"], said: str
) -> None:
    """Resumed from a later byte than asked, or from a number no IMAP server sends: an error,
    and no .eml with a hole in it."""
    message = make_message(1, 41, body=build_message(BIG), bodystructure=NIL_PARTS)
    with (
        ScriptedServer(o365_happy([message], config=O365Config(partial=partial))) as server,
        CuttingProxy((server.host, server.port), cut_after=1_000_000) as proxy,
    ):
        client = ImapClient(proxy.host, proxy.port, security="plain", timeout=5.0)
        with client:
            client.authenticate_oauth(USER, TOKEN, refresh=lambda: TOKEN)
            client.select("INBOX", readonly=True)
            with pytest.raises(ProtocolError, match=said):
                save_message(client, 41, tmp_path)
        assert proxy.connections == 2
    assert list(tmp_path.iterdir()) == []  # not even a temporary file
