"""The sans-I/O session at the byte level: commands in, bytes out; bytes in, events and state out.

No socket anywhere: each test plays the server by feeding bytes, as h11's tests do. Every
server script is fed whole and again one byte at a time, and must give the same events.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from o365imap.errors import ProtocolError, UsageError
from o365imap.protocol import (
    Atom,
    Continuation,
    Event,
    Fetch,
    LiteralData,
    Raw,
    Tagged,
    Untagged,
    sasl,
)
from o365imap.protocol.session import ImapSession, SessionState

GREETING = b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready\r\n"


def feed(session: ImapSession, data: bytes, *, bytewise: bool = False) -> list[Event]:
    """Give the session the server's bytes; every event they complete."""
    events: list[Event] = []
    pieces = [data[i : i + 1] for i in range(len(data))] if bytewise else [data]
    for piece in pieces:
        session.receive_data(piece)
        while (event := session.next_event()) is not None:
            events.append(event)
    return events


def greeted(*, capabilities: bytes = b"IMAP4rev1 SASL-IR AUTH=XOAUTH2") -> ImapSession:
    session = ImapSession()
    feed(session, b"* OK [CAPABILITY " + capabilities + b"] ready\r\n")
    return session


def both_ways(test: Callable[[bool], None]) -> Callable[[], None]:
    """Run a test with the server's bytes fed whole and one byte at a time."""

    def run() -> None:
        test(False)
        test(True)

    run.__name__ = test.__name__
    run.__doc__ = test.__doc__
    return run


def test_greeting_sets_state_and_capabilities() -> None:
    assert ImapSession().state is SessionState.GREETING
    session = ImapSession()
    [event] = feed(session, GREETING, bytewise=True)
    assert isinstance(event, Untagged) and event.kind == "OK"
    assert session.state is SessionState.NOT_AUTHENTICATED
    assert session.capabilities == frozenset({"IMAP4REV1", "SASL-IR", "AUTH=XOAUTH2"})
    assert session.greeting is event


@pytest.mark.parametrize(
    ("line", "state"),
    [
        (b"* PREAUTH welcome back\r\n", SessionState.AUTHENTICATED),
        (b"* BYE too busy\r\n", SessionState.LOGOUT),
    ],
)
def test_greeting_preauth_and_bye(line: bytes, state: SessionState) -> None:
    session = ImapSession()
    feed(session, line)
    assert session.state is state


@both_ways
def test_tags_count_up_and_completion_clears_pending(bytewise: bool) -> None:
    session = greeted()
    first = session.send("NOOP")
    second = session.send("CAPABILITY")
    assert session.data_to_send() == f"{first.tag} NOOP\r\n{second.tag} CAPABILITY\r\n".encode()
    assert session.data_to_send() == b""  # handed out once
    assert session.pending == (first.tag, second.tag)
    events = feed(
        session,
        f"{first.tag} OK done\r\n* CAPABILITY IMAP4rev1 IDLE\r\n{second.tag} OK done\r\n".encode(),
        bytewise=bytewise,
    )
    assert [type(e) for e in events] == [Tagged, Untagged, Tagged]
    assert not session.pending
    assert session.capabilities == frozenset({"IMAP4REV1", "IDLE"})


@both_ways
def test_a_synchronising_literal_waits_for_the_plus(bytewise: bool) -> None:
    session = greeted(capabilities=b"IMAP4rev1")
    command = session.send("SEARCH", Atom("CHARSET"), Atom("UTF-8"), Atom("SUBJECT"), "Grüße")
    assert (
        session.data_to_send() == f"{command.tag} SEARCH CHARSET UTF-8 SUBJECT {{7}}\r\n".encode()
    )
    # The server says other things first: they are passed on, the literal still waits.
    events = feed(session, b"* 7 EXISTS\r\n* OK [ALERT] hello\r\n", bytewise=bytewise)
    assert [e.kind for e in events if isinstance(e, Untagged)] == ["EXISTS", "OK"]
    assert session.exists == 7
    assert session.data_to_send() == b""
    events = feed(session, b"+ go ahead\r\n", bytewise=bytewise)
    assert events == []  # the '+' was the session's own business
    assert session.data_to_send() == "Grüße\r\n".encode()
    events = feed(session, f"* SEARCH 1 3\r\n{command.tag} OK done\r\n".encode(), bytewise=bytewise)
    assert isinstance(events[-1], Tagged) and events[-1].status == "OK"


def test_literal_plus_sends_everything_at_once() -> None:
    session = greeted(capabilities=b"IMAP4rev1 LITERAL+")
    command = session.send("SEARCH", Atom("SUBJECT"), "Grüße")
    assert session.data_to_send() == f"{command.tag} SEARCH SUBJECT {{7+}}\r\nGrüße\r\n".encode()


def test_capabilities_unknown_means_ask_before_a_literal() -> None:
    session = ImapSession()
    feed(session, b"* OK ready\r\n")
    assert session.needs_capabilities(Atom("SUBJECT"), "Grüße")
    assert not session.needs_capabilities(Atom("SUBJECT"), "plain")


@both_ways
def test_a_refusal_before_the_plus_sends_nothing_more(bytewise: bool) -> None:
    session = greeted(capabilities=b"IMAP4rev1")
    command = session.send("SEARCH", Atom("SUBJECT"), "Grüße")
    later = session.send("NOOP")  # held back behind the literal
    assert session.data_to_send() == f"{command.tag} SEARCH SUBJECT {{7}}\r\n".encode()
    feed(session, f"{command.tag} BAD no literals today\r\n".encode(), bytewise=bytewise)
    assert session.data_to_send() == f"{later.tag} NOOP\r\n".encode()
    assert session.pending == (later.tag,)


def test_commands_queued_behind_a_literal_go_after_it() -> None:
    session = greeted(capabilities=b"IMAP4rev1")
    first = session.send("SEARCH", Atom("SUBJECT"), "Grüße")
    second = session.send("NOOP")
    session.data_to_send()
    feed(session, b"+ \r\n")
    assert session.data_to_send() == f"Grüße\r\n{second.tag} NOOP\r\n".encode()
    assert session.pending == (first.tag, second.tag)


def test_an_unasked_continuation_is_a_protocol_error() -> None:
    session = greeted()
    session.send("NOOP")
    with pytest.raises(ProtocolError, match="continuation nobody asked for"):
        feed(session, b"+ what?\r\n")


@both_ways
def test_sasl_continuations_are_passed_on_and_sign_in_changes_state(bytewise: bool) -> None:
    session = greeted(capabilities=b"IMAP4rev1 AUTH=XOAUTH2")
    command = session.send("AUTHENTICATE", Atom("XOAUTH2"), redact=True, continuations=True)
    assert session.data_to_send() == f"{command.tag} AUTHENTICATE XOAUTH2\r\n".encode()
    [challenge] = feed(session, b"+ \r\n", bytewise=bytewise)
    assert isinstance(challenge, Continuation)
    session.send_continuation(b"c2VjcmV0\r\n")
    assert session.data_to_send() == b"c2VjcmV0\r\n"
    feed(
        session, f"{command.tag} OK [CAPABILITY IMAP4rev1 IDLE] hi\r\n".encode(), bytewise=bytewise
    )
    assert session.state is SessionState.AUTHENTICATED
    assert session.capabilities == frozenset({"IMAP4REV1", "IDLE"})


@both_ways
def test_sasl_without_initial_response_then_a_json_error_challenge(bytewise: bool) -> None:
    """No SASL-IR: the payload answers the server's empty challenge. A refused token may
    come back as a second challenge carrying JSON (Gmail, Dovecot); its answer, an empty
    line, ends the exchange and the server's NO completes the command."""
    session = greeted(capabilities=b"IMAP4rev1 AUTH=XOAUTH2")
    command = session.send("AUTHENTICATE", Atom("XOAUTH2"), redact=True, continuations=True)
    assert session.data_to_send() == f"{command.tag} AUTHENTICATE XOAUTH2\r\n".encode()
    [empty] = feed(session, b"+ \r\n", bytewise=bytewise)
    assert isinstance(empty, Continuation) and empty.text == b""
    payload = sasl.xoauth2("AdeleV@contoso.onmicrosoft.com", "token")
    session.send_continuation(payload + b"\r\n")
    assert session.data_to_send() == payload + b"\r\n"
    error = b'{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}'
    [challenge] = feed(session, b"+ " + base64.b64encode(error) + b"\r\n", bytewise=bytewise)
    assert isinstance(challenge, Continuation)
    assert sasl.decode_error_challenge(challenge.text) == {
        "status": "400",
        "schemes": "Bearer",
        "scope": "https://mail.google.com/",
    }
    session.send_continuation(b"\r\n")
    assert session.data_to_send() == b"\r\n"
    [refusal] = feed(
        session,
        f"{command.tag} NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n".encode(),
        bytewise=bytewise,
    )
    assert isinstance(refusal, Tagged) and refusal.code == "AUTHENTICATIONFAILED"
    assert session.state is SessionState.NOT_AUTHENTICATED and not session.pending


def test_office365_says_its_capabilities_only_when_asked() -> None:
    """Neither Exchange's greeting nor its AUTHENTICATE answer carries CAPABILITY: the
    session knows LITERAL+ only once asked, and asked again after signing in."""
    session = ImapSession()
    feed(session, b"* OK The Microsoft Exchange IMAP4 service is ready. [TQBOADIA]\r\n")
    assert session.capabilities is None
    criteria = (Atom("CHARSET"), Atom("UTF-8"), Atom("FROM"), "Jürgen")
    assert session.needs_capabilities(*criteria)
    ask = session.send("CAPABILITY")
    feed(session, f"* CAPABILITY IMAP4rev1 SASL-IR LITERAL+\r\n{ask.tag} OK done\r\n".encode())
    sign_in = session.send("AUTHENTICATE", Atom("XOAUTH2"), Raw(b"c2VjcmV0"), continuations=True)
    feed(session, f"{sign_in.tag} OK AUTHENTICATE completed.\r\n".encode())
    assert session.needs_capabilities(*criteria)  # forgotten with the sign-in
    ask = session.send("CAPABILITY")
    feed(session, f"* CAPABILITY IMAP4rev1 IDLE LITERAL+\r\n{ask.tag} OK done\r\n".encode())
    session.data_to_send()
    search = session.send("SEARCH", *criteria)
    assert session.data_to_send() == (
        f"{search.tag} SEARCH CHARSET UTF-8 FROM {{7+}}\r\nJürgen\r\n".encode()
    )


def test_sign_in_forgets_capabilities_unless_told_again() -> None:
    session = greeted()
    command = session.send("AUTHENTICATE", Atom("XOAUTH2"), continuations=True)
    feed(session, f"{command.tag} OK signed in\r\n".encode())
    assert session.capabilities is None  # RFC 3501 6.2.2: ask again


def test_a_refused_sign_in_keeps_the_state() -> None:
    session = greeted()
    command = session.send("AUTHENTICATE", Atom("XOAUTH2"), continuations=True)
    feed(session, f"{command.tag} NO AUTHENTICATE failed.\r\n".encode())
    assert session.state is SessionState.NOT_AUTHENTICATED


def test_starttls_forgets_what_was_said_in_plain_text() -> None:
    session = greeted(capabilities=b"IMAP4rev1 STARTTLS AUTH=XOAUTH2")
    command = session.send("STARTTLS")
    feed(session, f"{command.tag} OK begin TLS\r\n".encode())
    assert session.capabilities is None
    assert session.buffered == 0


def test_bytes_after_starttls_ok_stay_buffered_for_the_driver_to_refuse() -> None:
    session = greeted(capabilities=b"IMAP4rev1 STARTTLS")
    command = session.send("STARTTLS")
    session.receive_data(f"{command.tag} OK begin TLS\r\n* OK injected\r\n".encode())
    assert isinstance(session.next_event(), Tagged)
    assert session.buffered > 0


@both_ways
def test_select_tracks_exists_and_expunge(bytewise: bool) -> None:
    session = greeted()
    session.state = SessionState.AUTHENTICATED
    command = session.send("SELECT", "INBOX")
    feed(
        session,
        b"* 3 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 7] ok\r\n"
        + f"{command.tag} OK [READ-WRITE] done\r\n".encode(),
        bytewise=bytewise,
    )
    assert session.state is SessionState.SELECTED
    assert session.exists == 3
    noop = session.send("NOOP")
    feed(session, b"* 2 EXPUNGE\r\n* 4 EXISTS\r\n* 1 EXPUNGE\r\n" + f"{noop.tag} OK\r\n".encode())
    assert session.exists == 3
    failed = session.send("SELECT", "Nope")
    assert session.exists is None  # the old folder's count no longer applies
    feed(session, f"{failed.tag} NO [NONEXISTENT] no such folder\r\n".encode())
    assert session.state is SessionState.AUTHENTICATED  # RFC 3501 6.3.1


@both_ways
def test_idle_and_done(bytewise: bool) -> None:
    session = greeted()
    session.state = SessionState.SELECTED
    command = session.send("IDLE", continuations=True)
    assert session.data_to_send() == f"{command.tag} IDLE\r\n".encode()
    assert not session.idling
    [plus] = feed(session, b"+ idling\r\n", bytewise=bytewise)
    assert isinstance(plus, Continuation) and session.idling
    with pytest.raises(UsageError, match="end IDLE"):
        session.send("NOOP")  # nothing may be sent while idling but DONE
    [news] = feed(session, b"* 5 EXISTS\r\n", bytewise=bytewise)
    assert isinstance(news, Untagged) and session.exists == 5
    session.done()
    assert session.data_to_send() == b"DONE\r\n"
    assert not session.idling
    [done] = feed(session, f"{command.tag} OK IDLE terminated\r\n".encode(), bytewise=bytewise)
    assert isinstance(done, Tagged)
    with pytest.raises(UsageError, match="not idling"):
        session.done()


@both_ways
def test_unsolicited_responses_inside_a_fetch_answer(bytewise: bool) -> None:
    """News from elsewhere between a FETCH's own responses (a new message, a flag change, an
    expunge) come out in the order sent, and EXISTS follows them as they come."""
    session = greeted()
    session.state = SessionState.SELECTED
    session.exists = 3
    command = session.send("UID FETCH", Atom("1:*"), Atom("(UID FLAGS)"))
    events = feed(
        session,
        b"* 1 FETCH (UID 101 FLAGS (\\Seen))\r\n* 4 EXISTS\r\n* 1 FETCH (FLAGS (\\Seen))\r\n",
        bytewise=bytewise,
    )
    assert [type(e) for e in events] == [Fetch, Untagged, Fetch]
    assert session.exists == 4
    events += feed(
        session,
        b"* 2 FETCH (UID 102 FLAGS ())\r\n* 2 EXPUNGE\r\n* 2 FETCH (UID 103 FLAGS ())\r\n"
        + f"{command.tag} OK FETCH completed.\r\n".encode(),
        bytewise=bytewise,
    )
    assert [type(e) for e in events[3:]] == [Fetch, Untagged, Fetch, Tagged]
    assert [e.items.get("UID") for e in events if isinstance(e, Fetch)] == [101, None, 102, 103]
    assert session.exists == 3 and not session.pending


def test_bye_ends_the_session() -> None:
    session = greeted()
    command = session.send("NOOP")
    events = feed(session, b"* BYE Session invalidated - AccessTokenExpired\r\n")
    assert session.bye == "Session invalidated - AccessTokenExpired"
    assert session.state is SessionState.LOGOUT
    assert [e.kind for e in events if isinstance(e, Untagged)] == ["BYE"]
    # A tagged answer may still come after BYE (Office 365 does that): it is passed on.
    [late] = feed(session, f"{command.tag} NO authenticated but not connected\r\n".encode())
    assert isinstance(late, Tagged)
    with pytest.raises(UsageError, match="session is over"):
        session.send("NOOP")


def test_a_stale_tag_is_passed_on_without_touching_state() -> None:
    session = greeted()
    command = session.send("NOOP")
    [stale] = feed(session, b"A9999 OK from long ago\r\n")
    assert isinstance(stale, Tagged) and session.pending == (command.tag,)


@both_ways
def test_a_streamed_literal_uses_the_commands_threshold_then_the_old_one(bytewise: bool) -> None:
    session = greeted()
    session.state = SessionState.SELECTED
    command = session.send("UID FETCH", Atom("7"), Atom("(UID BODY.PEEK[])"), stream_threshold=4)
    body = b"0123456789"
    events = feed(
        session,
        b"* 1 FETCH (UID 7 BODY[] {10}\r\n"
        + body
        + b")\r\n"
        + f"{command.tag} OK done\r\n".encode(),
        bytewise=bytewise,
    )
    assert b"".join(e.data for e in events if isinstance(e, LiteralData)) == body
    [fetch] = [e for e in events if isinstance(e, Fetch)]
    assert fetch.items["UID"] == 7
    # The command is done: a 10-byte literal is a value again.
    again = session.send("UID FETCH", Atom("7"), Atom("(UID BODY.PEEK[])"))
    events = feed(
        session,
        b"* 1 FETCH (UID 7 BODY[] {10}\r\n" + body + b")\r\n" + f"{again.tag} OK\r\n".encode(),
    )
    [fetch] = [e for e in events if isinstance(e, Fetch)]
    assert fetch.items["BODY[]"] == body


def test_garbage_is_a_protocol_error() -> None:
    session = greeted()
    session.send("NOOP")
    session.receive_data(b"* 1 FETCH (UID {99999999999999999999}\r\n")
    with pytest.raises(ProtocolError):
        while session.next_event() is not None:
            pass


def test_a_select_without_exists_has_no_messages_and_close_forgets_the_count() -> None:
    session = greeted()
    session.state = SessionState.AUTHENTICATED
    command = session.send("SELECT", "INBOX")
    feed(session, f"* OK [UIDVALIDITY 1] ok\r\n{command.tag} OK [READ-WRITE] done\r\n".encode())
    assert session.exists == 0
    close = session.send("CLOSE")
    feed(session, f"{close.tag} OK closed\r\n".encode())
    assert session.state is SessionState.AUTHENTICATED
    assert session.exists is None


def test_append_streams_its_message_after_literal_plus() -> None:
    session = greeted(capabilities=b"IMAP4rev1 LITERAL+")
    session.state = SessionState.AUTHENTICATED
    command = session.send("APPEND", "Sent", body=11)
    assert session.data_to_send() == f"{command.tag} APPEND Sent {{11+}}\r\n".encode()
    assert session.ready_for_body
    session.send_body(b"Subject: a\r")
    assert session.data_to_send() == b"Subject: a\r\r\n"  # the body, then the line's end
    assert not session.ready_for_body
    [done] = feed(session, f"{command.tag} OK [APPENDUID 7 42] done\r\n".encode())
    assert isinstance(done, Tagged) and done.code == "APPENDUID"


@both_ways
def test_append_without_literal_plus_waits_for_the_plus(bytewise: bool) -> None:
    session = greeted(capabilities=b"IMAP4rev1")
    session.state = SessionState.AUTHENTICATED
    command = session.send("APPEND", "Sent", body=4)
    later = session.send("NOOP")  # waits behind the message
    assert session.data_to_send() == f"{command.tag} APPEND Sent {{4}}\r\n".encode()
    assert not session.ready_for_body and session.awaiting_continuation
    assert feed(session, b"+ Ready\r\n", bytewise=bytewise) == []
    assert session.ready_for_body
    with pytest.raises(UsageError, match="5 bytes given where 4"):
        session.send_body(b"abcde")
    session.send_body(b"ab")
    session.send_body(b"cd")
    assert session.data_to_send() == f"abcd\r\n{later.tag} NOOP\r\n".encode()


def test_a_refused_append_sends_no_body() -> None:
    session = greeted(capabilities=b"IMAP4rev1")
    session.state = SessionState.AUTHENTICATED
    command = session.send("APPEND", "Nope", body=4)
    session.data_to_send()
    feed(session, f"{command.tag} NO [TRYCREATE] no such folder\r\n".encode())
    assert not session.ready_for_body
    with pytest.raises(UsageError, match="no command waits"):
        session.send_body(b"abcd")
