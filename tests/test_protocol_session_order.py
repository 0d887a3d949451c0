"""ImapSession when commands overlap: thresholds of two commands in flight, IDLE's '+' against
a later command's literal, STARTTLS's capability code (each a fault found in review)."""

from __future__ import annotations

from o365imap.protocol import Atom, Fetch, LiteralData
from o365imap.protocol.events import Event
from o365imap.protocol.session import ImapSession, SessionState


def feed(session: ImapSession, data: bytes) -> list[Event]:
    session.receive_data(data)
    events: list[Event] = []
    while (event := session.next_event()) is not None:
        events.append(event)
    return events


def greeted(capabilities: bytes = b"IMAP4rev1 IDLE") -> ImapSession:
    session = ImapSession()
    feed(session, b"* OK [CAPABILITY " + capabilities + b"] ready\r\n")
    return session


def test_starttls_ok_with_a_capability_code_leaves_capabilities_unknown() -> None:
    """The STARTTLS OK is plain text: RFC 3501 6.2.1 says forget, not replace."""
    session = greeted(b"IMAP4rev1 STARTTLS LOGINDISABLED")
    command = session.send("STARTTLS")
    feed(session, f"{command.tag} OK [CAPABILITY IMAP4rev1 LITERAL+ LOGINDISABLED] go\r\n".encode())
    assert session.capabilities is None


def test_thresholds_of_two_commands_in_flight_are_restored_in_order() -> None:
    """A command whose answer the driver gave up on (ReadTimeout outside a response keeps
    the connection) stays in flight with its lowered threshold; the next command saves that
    lowered value as its 'restore', and whichever completes last wins: the parser's
    threshold stays at 4 bytes for good."""
    body = b"0123456789"
    answer = b"* 1 FETCH (UID 7 BODY[] {10}\r\n" + body + b")\r\n"
    session = greeted()
    session.state = SessionState.SELECTED
    gave_up = session.send("UID FETCH", Atom("7"), Atom("(UID BODY.PEEK[])"), stream_threshold=4)
    retry = session.send(
        "UID FETCH", Atom("7"), Atom("(UID BODY.PEEK[])"), stream_threshold=1 << 20
    )
    feed(session, answer + f"{gave_up.tag} OK late\r\n".encode())
    feed(session, answer + f"{retry.tag} OK\r\n".encode())
    assert not session.pending
    plain = session.send("UID FETCH", Atom("7"), Atom("(UID BODY.PEEK[])"))
    events = feed(session, answer + f"{plain.tag} OK\r\n".encode())
    assert not [e for e in events if isinstance(e, LiteralData)]
    [fetch] = [e for e in events if isinstance(e, Fetch)]
    assert fetch.items["BODY[]"] == body  # actual: StreamedLiteral(10), threshold stuck at 4


def test_idles_plus_is_not_taken_for_a_later_commands_literal() -> None:
    """IDLE sent, its '+ idling' not here yet: send() lets another command out (only
    'idling' after the '+' is refused), and the '+' then releases that command's literal:
    the literal's bytes go to a server that is idling, and the session never idles."""
    session = greeted()
    session.state = SessionState.SELECTED
    idle = session.send("IDLE", continuations=True)
    session.data_to_send()
    session.send("SEARCH", Atom("CHARSET"), Atom("UTF-8"), Atom("SUBJECT"), "Grüße")
    sent_early = session.data_to_send()
    events = feed(session, b"+ idling\r\n")
    # Either the SEARCH must wait for IDLE's end (nothing sent), or send() must refuse it;
    # what happens: the SEARCH's first line went out during IDLE, then its literal.
    assert sent_early == b"", sent_early
    assert session.idling and events, (idle.tag, events, session.data_to_send())
