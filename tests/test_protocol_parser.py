"""The response parser: framing, literals, streaming, every response kind, fast vs general path.

Every fixture is fed whole and one byte at a time; the events must be the same.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import examples
from fixtures_imap import merge_literal_chunks
from o365imap._replies import folder_from
from o365imap.client._connection import list_return_options
from o365imap.errors import ProtocolError
from o365imap.models import Address, Group, StreamedLiteral
from o365imap.protocol import (
    Continuation,
    Fetch,
    LiteralData,
    LiteralEnded,
    LiteralStarted,
    ResponseParser,
    Tagged,
    Unparsed,
    Untagged,
    decode,
    lexer,
    listing,
)
from o365imap.protocol import parser as parser_module


def feed_whole(data: bytes, **kw: Any) -> list[Any]:
    parser = ResponseParser(**kw)
    parser.feed(data)
    return parser.events()


def feed_bytewise(data: bytes, **kw: Any) -> list[Any]:
    parser = ResponseParser(**kw)
    events: list[Any] = []
    for i in range(len(data)):
        parser.feed(data[i : i + 1])
        events += parser.events()
    return events


def both(data: bytes, **kw: Any) -> list[Any]:
    whole = feed_whole(data, **kw)
    assert feed_bytewise(data, **kw) == merge_literal_chunks(whole) or merge_literal_chunks(
        feed_bytewise(data, **kw)
    ) == merge_literal_chunks(whole)
    return whole


GREETING = b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] Dovecot ready.\r\n"


def test_greeting_with_capability_code() -> None:
    [event] = both(GREETING)
    assert event == Untagged(
        "OK",
        code="CAPABILITY",
        code_data=b"IMAP4rev1 SASL-IR AUTH=XOAUTH2",
        text="Dovecot ready.",
    )


def test_office365_greeting() -> None:
    line = b"* OK The Microsoft Exchange IMAP4 service is ready. [TQBOADIAUABSADEANgBDAEEAMAAwADYAMwAuAG4AYQBtAHAAcgBkADEANgAuAHAAcgBvAGQALgBvAHUAdABsAG8AbwBrAC4AYwBvAG0A]\r\n"
    [event] = both(line)
    assert isinstance(event, Untagged) and event.kind == "OK" and event.code is None
    assert event.text.startswith("The Microsoft Exchange IMAP4 service is ready.")


def test_tagged_with_and_without_codes() -> None:
    events = both(
        b"A0001 OK [READ-ONLY] EXAMINE completed.\r\n"
        b"A0002 NO AUTHENTICATE failed.\r\n"
        b"A0003 BAD Command Error. 10\r\n"
        b"A0004 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
        b"a5 ok done\r\n"
    )
    assert events == [
        Tagged("A0001", "OK", "READ-ONLY", None, "EXAMINE completed."),
        Tagged("A0002", "NO", None, None, "AUTHENTICATE failed."),
        Tagged("A0003", "BAD", None, None, "Command Error. 10"),
        Tagged("A0004", "NO", "AUTHENTICATIONFAILED", None, "Authentication failed."),
        Tagged("a5", "OK", None, None, "done"),
    ]


def test_not_connected_and_bye_in_one_read() -> None:
    events = both(
        b"A0002 BAD User is authenticated but not connected.\r\n* BYE Connection closed. 14\r\n"
    )
    assert events == [
        Tagged("A0002", "BAD", None, None, "User is authenticated but not connected."),
        Untagged("BYE", text="Connection closed. 14"),
    ]


def test_continuations() -> None:
    assert both(
        b"+ \r\n+\r\n+ eyJzdGF0dXMiOiI0MDEifQ==\r\n+ IDLE accepted, awaiting DONE command.\r\n"
    ) == [
        Continuation(b""),
        Continuation(b""),
        Continuation(b"eyJzdGF0dXMiOiI0MDEifQ=="),
        Continuation(b"IDLE accepted, awaiting DONE command."),
    ]


def test_select_responses() -> None:
    data = (
        b"* 23 EXISTS\r\n* 1 RECENT\r\n"
        b"* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $MDNSent)\r\n"
        b"* OK [PERMANENTFLAGS ()] No permanent flags permitted\r\n"
        b"* OK [UNSEEN 12] Is the first unseen message\r\n"
        b"* OK [UIDVALIDITY 14] UIDVALIDITY value\r\n"
        b"* OK [UIDNEXT 1567] The next unique identifier value\r\n"
        b"A3 OK [READ-ONLY] EXAMINE completed.\r\n"
    )
    events = both(data)
    assert events[0] == Untagged("EXISTS", number=23)
    assert events[1] == Untagged("RECENT", number=1)
    assert events[2] == Untagged(
        "FLAGS",
        values=([b"\\Seen", b"\\Answered", b"\\Flagged", b"\\Deleted", b"\\Draft", b"$MDNSent"],),
    )
    assert events[3].code == "PERMANENTFLAGS" and events[3].code_data == b"()"
    assert events[4].code == "UNSEEN" and events[4].code_data == b"12"


def test_list_namespace_status_search_capability() -> None:
    events = both(
        b'* LIST (\\HasNoChildren \\Drafts) "/" Drafts\r\n'
        b'* LIST (\\HasNoChildren) "/" "Sent Items"\r\n'
        b"* LIST (\\Noselect) NIL {10}\r\nEntw&APw-r\r\n"
        b'* NAMESPACE (("" "/")) NIL NIL\r\n'
        b"* STATUS INBOX (MESSAGES 231 UIDNEXT 44292)\r\n"
        b"* SEARCH 2 84 882\r\n"
        b"* SEARCH\r\n"
        b"* CAPABILITY IMAP4rev1 LITERAL+ AUTH=XOAUTH2\r\n"
    )
    assert events[0].values == ([b"\\HasNoChildren", b"\\Drafts"], b"/", b"Drafts")
    assert events[1].values == ([b"\\HasNoChildren"], b"/", b"Sent Items")
    assert events[2].values == ([b"\\Noselect"], None, b"Entw&APw-r")
    assert events[3].values == ([[b"", b"/"]], None, None)
    assert events[4].values == (b"INBOX", [b"MESSAGES", b"231", b"UIDNEXT", b"44292"])
    assert events[5].values == (b"2", b"84", b"882")
    assert events[6] == Untagged("SEARCH")
    assert events[7].values == (b"IMAP4rev1", b"LITERAL+", b"AUTH=XOAUTH2")


def test_extended_list_answers_keep_children_and_special_use() -> None:
    # Dovecot's answer to LIST "" "*" RETURN (CHILDREN SPECIAL-USE) (RFC 5258, RFC 3348,
    # RFC 6154), and an extended-data item after the name (RFC 5258 CHILDINFO).
    events = both(
        b'* LIST (\\HasChildren) "/" Projects\r\n'
        b'* LIST (\\HasNoChildren \\Trash) "/" Trash\r\n'
        b'* LIST (\\HasNoChildren) "/" Projects/Alpha ("CHILDINFO" ("SUBSCRIBED"))\r\n'
    )
    folders = [folder_from(event.values) for event in events]
    assert [f.flags if f else None for f in folders] == [
        ("\\HasChildren",),
        ("\\HasNoChildren", "\\Trash"),
        ("\\HasNoChildren",),
    ]
    assert [f.name if f else None for f in folders] == ["Projects", "Trash", "Projects/Alpha"]
    assert folders[1] is not None and folders[1].special_use == "\\Trash"


@pytest.mark.parametrize(
    ("offered", "returned"),
    [
        ({"LIST-EXTENDED", "SPECIAL-USE", "CHILDREN"}, ("CHILDREN", "SPECIAL-USE")),
        ({"LIST-EXTENDED", "SPECIAL-USE"}, ("CHILDREN", "SPECIAL-USE")),
        ({"LIST-EXTENDED"}, ("CHILDREN",)),
        ({"CHILDREN", "SPECIAL-USE"}, ()),  # no LIST-EXTENDED: no RETURN; plain LIST says both
        (set(), ()),
    ],
)
def test_list_asks_for_children_where_list_extended_is_offered(
    offered: set[str], returned: tuple[str, ...]
) -> None:
    assert list_return_options(offered) == returned


def test_unsolicited_responses_between_fetches() -> None:
    data = (
        b"* 1 FETCH (UID 10 FLAGS (\\Seen))\r\n"
        b"* 3 EXISTS\r\n"
        b"* 2 EXPUNGE\r\n"
        b"* 2 FETCH (FLAGS (\\Seen \\Flagged))\r\n"
        b"A1 OK FETCH completed.\r\n"
    )
    events = both(data)
    assert events[0] == Fetch(1, {"UID": 10, "FLAGS": ("\\Seen",)})
    assert events[1] == Untagged("EXISTS", number=3)
    assert events[2] == Untagged("EXPUNGE", number=2)
    assert events[3] == Fetch(2, {"FLAGS": ("\\Seen", "\\Flagged")})


LISTING_LINE = (
    b'* 12 FETCH (UID 112 FLAGS (\\Seen $Forwarded) RFC822.SIZE 4321 INTERNALDATE "17-Jul-2025 02:44:25 -0700" '
    b'ENVELOPE ("Thu, 17 Jul 2025 11:44:25 +0200" "=?utf-8?q?Caf=C3=A9?= \\"menu\\"" '
    b'(("Ana =?iso-8859-1?q?M=FCller?=" NIL "ana" "example.com")) '
    b'(("Ana" NIL "ana" "example.com")) NIL '
    b'(("Bob" NIL "bob" "example.org")(NIL NIL "carol" "example.net")) '
    b'((NIL NIL "team" NIL)("Dan" NIL "dan" "example.com")(NIL NIL NIL NIL)) NIL '
    b'"<parent@example.com>" "<msg-12@example.com>"))\r\n'
)


def test_listing_line_is_fully_decoded() -> None:
    [event] = both(LISTING_LINE)
    assert isinstance(event, Fetch) and event.seq == 12
    items = event.items
    assert items["UID"] == 112
    assert items["FLAGS"] == ("\\Seen", "$Forwarded")
    assert items["RFC822.SIZE"] == 4321
    assert items["INTERNALDATE"] == datetime(
        2025, 7, 17, 2, 44, 25, tzinfo=timezone(timedelta(hours=-7))
    )
    env = items["ENVELOPE"]
    assert env.date == datetime(2025, 7, 17, 11, 44, 25, tzinfo=timezone(timedelta(hours=2)))
    assert env.raw_date == b"Thu, 17 Jul 2025 11:44:25 +0200"
    assert env.subject == 'Café "menu"'
    assert env.from_ == (Address("Ana Müller", "ana", "example.com"),)
    assert env.sender == (Address("Ana", "ana", "example.com"),)
    assert env.reply_to == ()
    assert env.to == (Address("Bob", "bob", "example.org"), Address(None, "carol", "example.net"))
    assert env.cc == (Group("team", (Address("Dan", "dan", "example.com"),)),)
    assert env.in_reply_to == "<parent@example.com>"
    assert env.message_id == "<msg-12@example.com>"


def _general_path(line: bytes) -> Any:
    # Every fast path off: the line matched in the buffer (whole, or around a subject literal),
    # and the line matched item by item.
    with (
        mock.patch.object(parser_module, "_LISTING_IN_BUFFER", re.compile(rb"(?!)")),
        mock.patch.object(parser_module, "_listing_with_subject_literal", lambda *_: None),
        mock.patch.object(parser_module, "_fast_fetch", lambda _line: None),
    ):
        return feed_whole(line)


def test_fast_and_general_paths_agree() -> None:
    assert listing._fast_fetch(LISTING_LINE.rstrip(b"\r\n")) is not None
    assert _general_path(LISTING_LINE) == feed_whole(LISTING_LINE)


nstrings = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
)


def _q(value: str | None) -> bytes:
    if value is None:
        return b"NIL"
    return b'"' + value.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


addresses = st.lists(st.tuples(nstrings, nstrings, nstrings, nstrings), max_size=3)


@settings(max_examples=examples(300))
@given(
    seq=st.integers(1, 10**6),
    uid=st.integers(1, 10**9),
    subject=nstrings,
    date=nstrings,
    lists=st.lists(addresses, min_size=6, max_size=6),
    irt=nstrings,
    mid=nstrings,
    copies=st.booleans(),
)
def test_fast_and_general_paths_agree_on_random_envelopes(
    seq: int,
    uid: int,
    subject: str | None,
    date: str | None,
    lists: list[Any],
    irt: str | None,
    mid: str | None,
    copies: bool,
) -> None:
    if copies:  # Sender and Reply-To as a server reports them when the message has neither
        lists[1] = lists[2] = lists[0]

    def alist(items: list[Any]) -> bytes:
        if not items:
            return b"NIL"
        return b"(" + b"".join(b"(" + b" ".join(_q(x) for x in a) + b")" for a in items) + b")"

    line = (
        b'* %d FETCH (UID %d FLAGS (\\Seen) RFC822.SIZE 10 INTERNALDATE "01-Jan-2020 00:00:00 +0000" ENVELOPE ('
        % (seq, uid)
        + b" ".join([_q(date), _q(subject), *(alist(x) for x in lists), _q(irt), _q(mid)])
        + b"))\r\n"
    )
    fast = feed_whole(line)
    assert _general_path(line) == fast
    assert fast[0].items["ENVELOPE"].subject == subject


# Fields as servers fill them for broken headers (placeholders, encoded words, escapes), beside
# ordinary ones: a new address is made straight from its match on the fast path, and must come
# out as the general decoder makes it (placeholders taken out, empty entries and groups).
hostile_fields = st.one_of(
    st.sampled_from(
        [
            None,
            "MISSING_DOMAIN",
            "SYNTAX_ERROR",
            ".MISSING-HOST-NAME.",
            ".SYNTAX-ERROR.",
            "MISSING_MAILBOX",
            "INVALID_ROUTE",
            "",
            "a\\b",
            'x"y',
            "=?utf-8?B?w6k=?=",
            "=?iso-8859-1?q?Ren=E9e?= x",
            "=?x-bad?Q?caf=E9?=",
            "=?utf-8?Q?unterminated",
            "Müller, Jürgen",
            "example.com",
        ]
    ),
    nstrings,
)


@settings(max_examples=examples(500))
@given(
    st.lists(
        st.tuples(hostile_fields, hostile_fields, hostile_fields, hostile_fields),
        min_size=1,
        max_size=4,
    )
)
def test_fast_address_lists_agree_with_the_general_decoder(items: list[Any]) -> None:
    raw = b"(" + b"".join(b"(" + b" ".join(_q(x) for x in a) + b")" for a in items) + b")"
    expected = decode.address_list(lexer.parse_values([raw])[0])
    listing._SINGLE_CACHE.clear()
    decode._ADDRESS_CACHE.clear()
    assert listing._fast_addresses(raw) == expected  # every address new
    decode._ADDRESS_CACHE.clear()
    assert listing._fast_addresses(raw) == expected  # every address known, the list new
    assert listing._fast_addresses(raw) == expected  # the list known


def test_long_addresses_are_decoded_but_not_kept() -> None:
    """The address caches bound their bytes, not only their entries: a hostile mailbox of
    huge From fields must not stay in memory for the rest of a listing."""
    name = b"x" * 100_000
    single = b'(("' + name + b'" NIL "a" "example.net"))'
    group = b'((NIL NIL "team" NIL)("' + name + b'" NIL "a" "example.net")(NIL NIL NIL NIL))'
    listing._SINGLE_CACHE.clear()
    decode._ADDRESS_CACHE.clear()
    for raw in (single, group):
        expected = decode.address_list(lexer.parse_values([raw])[0])
        assert listing._fast_addresses(raw) == expected
        assert listing._fast_addresses(raw) == expected
    assert max(map(len, listing._SINGLE_CACHE), default=0) <= 512
    assert max(map(len, decode._ADDRESS_CACHE), default=0) <= 2048
    short = b'(("Kim" NIL "kim" "example.net"))'
    listing._fast_addresses(short)
    assert short in decode._ADDRESS_CACHE  # the usual sizes are still kept


def test_literals_inside_envelope() -> None:
    data = (
        b"* 1 FETCH (UID 5 ENVELOPE ({31}\r\nWed, 17 Jul 1996 02:23:25 -0700 {36}\r\n"
        b'IMAP4rev1 WG mtg summary and minutes (({10}\r\nTerry Gray NIL {4}\r\ngray "cac.washington.edu")) '
        b"NIL NIL NIL NIL NIL NIL {35}\r\n<B27397-0100000@cac.washington.edu>))\r\n"
    )
    [event] = both(data)
    env = event.items["ENVELOPE"]
    assert env.subject == "IMAP4rev1 WG mtg summary and minutes"
    assert env.from_ == (Address("Terry Gray", "gray", "cac.washington.edu"),)
    assert env.date == datetime(1996, 7, 17, 2, 23, 25, tzinfo=timezone(timedelta(hours=-7)))
    assert env.message_id == "<B27397-0100000@cac.washington.edu>"


def test_literal_with_crlf_and_parens_inside() -> None:
    body = b'line 1\r\n(not a list) "quoted"\r\n* 5 EXISTS\r\n'
    data = b"* 3 FETCH (UID 9 BODY[TEXT] {%d}\r\n" % len(body) + body + b")\r\nA1 OK done\r\n"
    events = both(data)
    assert events[0] == Fetch(3, {"UID": 9, "BODY[TEXT]": body})
    assert events[1] == Tagged("A1", "OK", None, None, "done")


def test_section_names_with_spaces() -> None:
    data = b"* 2 FETCH (BODY[HEADER.FIELDS (FROM SUBJECT)] {12}\r\nSubject: x\r\n UID 4)\r\n"
    [event] = both(data)
    assert event.items == {"BODY[HEADER.FIELDS (FROM SUBJECT)]": b"Subject: x\r\n", "UID": 4}


def test_large_literal_streams_in_chunks_and_is_never_joined() -> None:
    body = bytes(range(256)) * 4000  # 1 MB
    data = (
        b"* 7 FETCH (UID 70 BODY[1] {%d}\r\n" % len(body)
        + body
        + b" FLAGS (\\Seen))\r\nA9 OK FETCH done\r\n"
    )
    parser = ResponseParser(stream_threshold=64 * 1024)
    events: list[Any] = []
    chunk_sizes = []
    for i in range(0, len(data), 50_000):
        parser.feed(data[i : i + 50_000])
        for event in parser.events():
            if isinstance(event, LiteralData):
                chunk_sizes.append(len(event.data))
                assert len(event.data) <= 50_000
            events.append(event)
        assert parser.buffered < 100_000  # nothing piles up
    assert events[0] == LiteralStarted(7, "BODY[1]", len(body))
    streamed = b"".join(e.data for e in events if isinstance(e, LiteralData))
    assert streamed == body
    assert len(chunk_sizes) > 10
    tail = [e for e in events if not isinstance(e, LiteralData | LiteralStarted)]
    assert tail == [
        LiteralEnded(len(body)),
        Fetch(7, {"UID": 70, "BODY[1]": StreamedLiteral(len(body)), "FLAGS": ("\\Seen",)}),
        Tagged("A9", "OK", None, None, "FETCH done"),
    ]


def test_literal_wanted_tells_how_much_of_a_streamed_literal_is_still_to_come() -> None:
    parser = ResponseParser(stream_threshold=100)
    assert parser.literal_wanted == 0
    parser.feed(b"* 1 FETCH (BODY[2] {1000}\r\n" + b"x" * 300)
    events = parser.events()
    assert isinstance(events[0], LiteralStarted)
    assert parser.literal_wanted == 700
    parser.feed(bytearray(b"y" * 700))  # a reader's exact-size buffer is accepted as it is
    parser.events()
    assert parser.literal_wanted == 0
    small = ResponseParser(stream_threshold=10_000)
    small.feed(b"* 1 FETCH (BODY[2] {1000}\r\n")
    small.events()
    assert small.literal_wanted == 0  # collected, not streamed: the reader takes what comes


def test_streamed_literal_bytewise_matches_whole() -> None:
    body = b"x" * 5000
    data = b"* 1 FETCH (BODY[] {5000}\r\n" + body + b")\r\n"
    assert merge_literal_chunks(feed_bytewise(data, stream_threshold=100)) == merge_literal_chunks(
        feed_whole(data, stream_threshold=100)
    )


def test_davmail_literal_counted_in_characters() -> None:
    name = 'Рецепция "Дечев" №6'
    data = (
        b'* 1 FETCH (ENVELOPE (NIL "s" (({%d}\r\n' % len(name)
        + name.encode()
        + b' NIL "desk" "example.com")) NIL NIL NIL NIL NIL NIL "<id@x>"))\r\n'
    )
    [event] = both(data)
    env = event.items["ENVELOPE"]
    assert env.from_ == (Address(name, "desk", "example.com"),)
    assert env.message_id == "<id@x>"


def test_unbalanced_and_truncated_lists_do_not_crash() -> None:
    events = both(b"* 1 FETCH (UID 3 FLAGS (\\Seen)\r\n* 2 FETCH (UID 4))) FLAGS ())\r\n")
    assert events[0].items["UID"] == 3
    assert events[1].items["UID"] == 4


def test_stray_lines_are_kept_not_fatal() -> None:
    events = both(b"[COPYUID 55 31 6]\r\n\r\nA1 OK done\r\n")
    assert events[0] == Unparsed(b"[COPYUID 55 31 6]")
    assert events[-1] == Tagged("A1", "OK", None, None, "done")


def test_bare_lf_line_endings_are_tolerated() -> None:
    assert feed_whole(b"* 4 EXISTS\nA1 OK done\n") == [
        Untagged("EXISTS", number=4),
        Tagged("A1", "OK", None, None, "done"),
    ]


def test_endless_line_is_a_protocol_error() -> None:
    parser = ResponseParser(max_line=1000)
    parser.feed(b"* OK " + b"x" * 2000)
    with pytest.raises(ProtocolError) as info:
        parser.next_event()
    assert info.value.excerpt.startswith(b"* OK xxx")


def test_in_response_tracks_partial_data() -> None:
    parser = ResponseParser()
    assert not parser.in_response
    parser.feed(b"* 1 FETCH (BODY[] {10}\r\n12345")
    assert parser.events() == []
    assert parser.in_response
    parser.feed(b"67890)\r\n")
    assert parser.events()[0].items["BODY[]"] == b"1234567890"
    assert not parser.in_response


def test_8bit_bytes_in_quoted_strings() -> None:
    [event] = both(
        '* 1 FETCH (ENVELOPE (NIL "Grüße" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n'.encode()
    )
    assert event.items["ENVELOPE"].subject == "Grüße"


def test_modseq_and_zero_length_literal() -> None:
    [event] = both(b"* 1 FETCH (UID 1 MODSEQ (12345) BODY[1] {0}\r\n)\r\n")
    assert event.items == {"UID": 1, "MODSEQ": 12345, "BODY[1]": b""}


@pytest.mark.parametrize(
    ("items", "modseq"),
    [
        (b"MODSEQ (12345)", 12345),  # RFC 7162
        (b"MODSEQ 4", 4),  # without the parentheses, as IMAPClient reads it too
        (b"UID 9 MODSEQ 4 FLAGS ()", 4),
        (b"MODSEQ ()", None),
        (b"MODSEQ NIL", None),
        (b"MODSEQ (x)", None),
    ],
)
def test_modseq_with_and_without_parentheses(items: bytes, modseq: int | None) -> None:
    [event] = both(b"* 2 FETCH (" + items + b")\r\n")
    assert event.items["MODSEQ"] == modseq


@settings(max_examples=examples(200))
@given(st.lists(st.integers(1, 40), min_size=1, max_size=60))
def test_random_chunking_gives_identical_events(sizes: list[int]) -> None:
    data = (
        GREETING + LISTING_LINE + b"* 2 FETCH (BODY[] {20}\r\n01234567890123456789)\r\nA1 OK x\r\n"
    )
    parser = ResponseParser()
    events: list[Any] = []
    pos = 0
    for size in sizes * 100:
        if pos >= len(data):
            break
        parser.feed(data[pos : pos + size])
        pos += size
        events += parser.events()
    parser.feed(data[pos:])
    events += parser.events()
    assert events == feed_whole(data)


def test_timezones_are_aware() -> None:
    [event] = both(b'* 1 FETCH (INTERNALDATE "01-Jan-2026 00:00:00 +0000")\r\n')
    assert event.items["INTERNALDATE"] == datetime(2026, 1, 1, tzinfo=UTC)


def test_listing_line_with_a_subject_literal_is_taken_verbatim() -> None:
    subject = b'He said "use C:\\Temp\\new" \\ then\r\n left'
    line = (
        b'* 9 FETCH (UID 19 FLAGS () RFC822.SIZE 5 INTERNALDATE "01-Jan-2020 00:00:00 +0000" '
        b'ENVELOPE ("Wed, 01 Jan 2020 00:00:00 +0000" {%d}\r\n'
        % len(subject)
        + subject
        + b' (("A" NIL "a" "x.org")) (("A" NIL "a" "x.org")) (("A" NIL "a" "x.org")) NIL NIL NIL NIL "<m@x>"))\r\n'
    )
    [event] = both(line)
    assert event.items["ENVELOPE"].subject == 'He said "use C:\\Temp\\new" \\ then left'
    assert event.items["ENVELOPE"].raw_subject == subject
    assert _general_path(line) == [event]


def _nested_bodystructure(levels: int) -> bytes:
    value = b'("text" "plain" NIL NIL NIL "7bit" 1 1)'
    for _ in range(levels):
        value = b"(" + value + b' "mixed")'
    return value


def test_deep_bodystructures_are_cut_off_by_the_decoder() -> None:
    from o365imap.protocol import parse_bodystructure
    from o365imap.protocol.decode import MAX_DEPTH

    # as deep as the parser takes: the FETCH list and the text part are two more levels
    value = _nested_bodystructure(lexer.MAX_NESTING - 2)
    events = both(b"* 1 FETCH (UID 1 BODYSTRUCTURE " + value + b")\r\nA1 OK done\r\n")
    tree = events[0].items["BODYSTRUCTURE"]
    assert tree == parse_bodystructure(value)
    depth = 0
    while tree.children:
        tree = tree.children[0]
        depth += 1
    assert depth == MAX_DEPTH + 1
    assert tree.content_type == "application/octet-stream"
    assert events[1] == Tagged("A1", "OK", None, None, "done")


def test_dovecots_deepest_structure_decodes() -> None:
    # Dovecot nests MIME parts up to 100 deep; the deepest an attached message with addresses
    part = (
        b'("message" "rfc822" NIL NIL NIL "7bit" 10 (NIL "s" (("A" NIL "a" "x.org")) NIL NIL '
        b'NIL NIL NIL NIL NIL) ("text" "plain" NIL NIL NIL "7bit" 1 1 NIL ("attachment" '
        b'("filename" "a.txt")) NIL NIL) 1 NIL ("attachment" ("filename" "m.eml")) NIL NIL)'
    )
    for _ in range(99):
        part = b"(" + part + b' "mixed")'
    [event] = both(b"* 1 FETCH (BODYSTRUCTURE " + part + b")\r\n")
    assert event.items["BODYSTRUCTURE"].content_type == "multipart/mixed"


@pytest.mark.parametrize(
    "data",
    [
        b"* LIST " + b"(" * 1_000_000 + b"\r\n",  # once a value that == and repr recursed into
        b"* 1 FETCH (UID 1 BODYSTRUCTURE " + _nested_bodystructure(5000) + b")\r\n",
        b"* 1 FETCH (BODY[] {3}\r\nabc " + b"(" * 300 + b"x))\r\n",  # after a literal
    ],
    ids=["million", "bodystructure", "after-literal"],
)
def test_lists_nested_too_deep_are_a_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError, match=f"more than {lexer.MAX_NESTING} deep"):
        feed_whole(data)


def test_the_nesting_limit_is_the_same_whole_and_byte_at_a_time() -> None:
    limit = lexer.MAX_NESTING
    deepest = b"* LIST " + b"(" * limit + b"x" + b")" * limit + b"\r\n"
    [event] = both(deepest)
    value = event.values[0]
    for _ in range(limit - 1):
        value = value[0]
    assert value == [b"x"]
    error = _protocol_error_both(deepest.replace(b"x", b"(x)"))
    assert error.excerpt == b" " + b"(" * 199  # the line as the tokenizer had it, cut at 200


def test_parse_bodystructure_refuses_hostile_nesting() -> None:
    from o365imap.protocol import parse_bodystructure

    with pytest.raises(ProtocolError):
        parse_bodystructure(_nested_bodystructure(5000))


@pytest.mark.parametrize(
    "data",
    [
        # a correct 8-bit body followed by another item
        b"* 1 FETCH (UID 5 BODY[] {60}\r\n" + ("é" * 30).encode() + b" FLAGS (\\Seen))\r\n",
        # a correct 8-bit subject literal followed by NILs
        b'* 1 FETCH (ENVELOPE ("Mon, 1 Jan 2024 00:00:00 +0000" {48}\r\n'
        + ("é" * 24).encode()
        + b' NIL NIL NIL NIL NIL NIL "<irt>" "<mid>"))\r\n',
        # a correct 8-bit description literal followed by another literal
        b'* 1 FETCH (BODYSTRUCTURE ("text" "plain" NIL NIL {6}\r\n'
        + "¡𐀀".encode()
        + b" {4}\r\n7bit 10 1))\r\n",
    ],
)
def test_correct_8bit_literals_are_taken_as_announced(data: bytes) -> None:
    whole = feed_whole(data)
    assert feed_bytewise(data) == whole
    assert len(whole) == 1 and isinstance(whole[0], Fetch)
    items = whole[0].items
    if "BODY[]" in items:
        assert items["FLAGS"] == ("\\Seen",)
    if "ENVELOPE" in items:
        assert items["ENVELOPE"].subject == "é" * 24
        assert items["ENVELOPE"].message_id == "<mid>"
    if "BODYSTRUCTURE" in items:
        part = items["BODYSTRUCTURE"]
        assert part.description == "¡𐀀" and part.encoding == "7bit" and part.size == 10


def test_braces_at_the_end_of_status_text_are_words() -> None:
    assert feed_whole(
        b"* OK [ALERT] Quota {5}\r\n* 3 EXISTS\r\nA1 NO Bad folder name {15}\r\n"
    ) == [
        Untagged("OK", code="ALERT", text="Quota {5}"),
        Untagged("EXISTS", number=3),
        Tagged("A1", "NO", None, None, "Bad folder name {15}"),
    ]


def test_subject_literal_over_the_stream_threshold_streams_either_way() -> None:
    subject = b"s" * 40
    line = (
        b'* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 1 INTERNALDATE "01-Jan-2020 00:00:00 +0000" '
        b'ENVELOPE ("Wed, 01 Jan 2020 00:00:00 +0000" {40}\r\n'
        + subject
        + b" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n"
    )
    assert merge_literal_chunks(feed_whole(line, stream_threshold=10)) == merge_literal_chunks(
        feed_bytewise(line, stream_threshold=10)
    )


def test_flags_nil_means_none_on_both_paths() -> None:
    line = b'* 1 FETCH (UID 1 FLAGS (NIL) RFC822.SIZE 1 INTERNALDATE "01-Jan-2020 00:00:00 +0000" ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n'
    assert feed_whole(line)[0].items["FLAGS"] == ()
    assert _general_path(line)[0].items["FLAGS"] == ()


def test_domain_name_codecs_as_charsets_decode_on_both_paths() -> None:
    # "=?idna?q?=FF?=" once made a whole listing fail ("internal error (UnicodeError)").
    line = (
        b'* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 1 INTERNALDATE "01-Jan-2020 00:00:00 +0000" '
        b'ENVELOPE (NIL "=?idna?q?=FF?=" (("=?punycode?q?=FF?=" NIL "a" "example.com")) '
        b"NIL NIL NIL NIL NIL NIL NIL))\r\n"
        b'* 2 FETCH (UID 2 BODYSTRUCTURE ("application" "pdf" ("name*" "punycode\'\'%FF.pdf") '
        b'NIL NIL "base64" 10 NIL ("attachment" ("filename*" "idna\'\'%FF.pdf")) NIL))\r\n'
    )
    listing, structure = both(line)
    assert _general_path(line)[0] == listing
    assert listing.items["ENVELOPE"].subject == "ÿ"
    assert listing.items["ENVELOPE"].from_ == (Address("ÿ", "a", "example.com"),)
    part = structure.items["BODYSTRUCTURE"]
    assert (part.filename, part.params["name"]) == ("ÿ.pdf", "ÿ.pdf")


HUGE = b"9" * 5000  # past int()'s 4,300-digit limit: once a ValueError, not a ProtocolError


def _protocol_error_both(data: bytes, **kw: Any) -> ProtocolError:
    """The ProtocolError that ``data`` raises, the same whole and one byte at a time."""
    with pytest.raises(ProtocolError) as whole:
        feed_whole(data, **kw)
    with pytest.raises(ProtocolError) as bytewise:
        feed_bytewise(data, **kw)
    assert str(bytewise.value) == str(whole.value)
    return whole.value


@pytest.mark.parametrize(
    "data",
    [
        b"* " + HUGE + b" EXISTS\r\n",
        b"* " + HUGE + b" FETCH (UID 1)\r\n",  # the fast path's shape
        LISTING_LINE.replace(b"* 12 ", b"* " + HUGE + b" "),  # the listing's own shape
        b"* 1 FETCH (BODY[] {" + HUGE + b"}\r\nabc)\r\n",
        b"* " + HUGE + b" FETCH (BODY[] {2000000}\r\nabc",  # refused before the stream starts
        b'* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 1 INTERNALDATE "01-Jan-2020 00:00:00 +0000" '
        b"ENVELOPE (NIL {" + HUGE + b"}\r\nabc NIL NIL NIL NIL NIL NIL NIL NIL))\r\n",
        b"* 18446744073709551616 EXPUNGE\r\n",  # 20 digits: more than any IMAP number has
    ],
    ids=["seq", "seq-fast", "seq-listing", "literal", "streamed", "subject-literal", "20-digits"],
)
def test_numbers_longer_than_imap_allows_are_protocol_errors(data: bytes) -> None:
    error = _protocol_error_both(data, stream_threshold=1000)
    assert "digits" in str(error) and error.excerpt.startswith(data[:20])


def test_the_longest_imap_numbers_are_numbers() -> None:
    top = b"9223372036854775807"  # 2**63 - 1: number64 (RFC 9051), mod-sequence (RFC 7162)
    events = both(
        b"* " + top + b" EXISTS\r\n* " + top + b" FETCH (UID " + top + b" MODSEQ (" + top
        + b"))\r\n* 1 FETCH (BODY[] {0000000000000000003}\r\nabc)\r\n"
    )  # fmt: skip
    assert events == [
        Untagged("EXISTS", number=2**63 - 1),
        Fetch(2**63 - 1, {"UID": 2**63 - 1, "MODSEQ": 2**63 - 1}),
        Fetch(1, {"BODY[]": b"abc"}),
    ]


def test_item_numbers_too_long_to_be_numbers_are_none_on_both_paths() -> None:
    line = LISTING_LINE.replace(b"UID 112", b"UID " + HUGE).replace(b"4321", b"1" * 20)
    [event] = both(line)
    assert _general_path(line) == [event]
    assert (event.items["UID"], event.items["RFC822.SIZE"]) == (None, None)
    assert event.items["ENVELOPE"].subject == 'Café "menu"'
    [fetch] = both(b"* 1 FETCH (UID " + HUGE + b" MODSEQ (" + HUGE + b"))\r\n")
    assert fetch.items == {"UID": None, "MODSEQ": None}


# ---------------------------------------------------------------- linear time on hostile lines

# The general tokenizer as it was: one findall, which retried a failed quoted string or section
# at every later start (a LIST line of 40 KB of \" took 3.8 s, 1 MB would take most of an hour).
# What it made of a line is the reference: the linear tokenizer must make exactly the same.
REFERENCE_TOKEN = re.compile(
    rb'"([^"\\]*+(?:(?:\\.|"(?=[^\s()]))[^"\\]*+)*+)"'
    rb"|([()])"
    rb"|([^\s()\"\[\]]*\[[^\]]*\][^\s()\"]*)"
    rb"|([^\s()\"]+)"
)
HOSTILE_BYTES = st.sampled_from(
    [b'"', b"\\", b"(", b")", b"[", b"]", b" ", b"a", b"7", b"\r", b"<"]
)


@settings(max_examples=examples(2000))
@given(st.lists(HOSTILE_BYTES, max_size=40).map(b"".join))
def test_the_linear_tokenizer_makes_what_findall_made(line: bytes) -> None:
    assert lexer._tokens(line) == REFERENCE_TOKEN.findall(line)


def _hostile_lines(pairs: int) -> dict[str, tuple[bytes, tuple[Any, ...]]]:
    """LIST lines whose names make a findall retry to the end of the line at every start, and
    the values they give (the same as before: a '"' that opens nothing is skipped)."""
    head = b'* LIST () "/" '
    return {
        "open quote": (head + b'"' + b'\\"' * pairs, ([], b"/", *[b"\\"] * pairs)),
        "no quote": (head + b'\\"' * pairs, ([], b"/", *[b"\\"] * pairs)),
        "closed quote": (head + b'"' + b'\\"' * pairs + b'"', ([], b"/", b'"' * pairs)),
        "open sections": (head + b"[ " * pairs, ([], b"/", *[b"["] * pairs)),
        "open section": (head + b"a[" * pairs, ([], b"/", b"a[" * pairs)),
        "quote after": (head + b"[ " * pairs + b'"\\', ([], b"/", *[b"["] * pairs, b"\\")),
    }


@pytest.mark.parametrize("shape", sorted(_hostile_lines(1)))
def test_a_hostile_line_of_a_megabyte_parses(shape: str) -> None:
    # Quadratic tokenizing made these take an hour (the suite's timeout stops it first).
    line, values = _hostile_lines(500_000)[shape]
    [event] = feed_whole(line + b"\r\n")
    assert event == Untagged("LIST", values=values)
    small_line, small_values = _hostile_lines(20_000)[shape]
    assert both(small_line + b"\r\nA1 OK done\r\n") == [
        Untagged("LIST", values=small_values),
        Tagged("A1", "OK", None, None, "done"),
    ]


@pytest.mark.parametrize(
    ("before", "item"),
    [
        (b"BODY[1] ", "BODY[1]"),
        (b"BODY[HEADER.FIELDS (FROM TO)]<0> ", "BODY[HEADER.FIELDS (FROM TO)]<0>"),
        (b"UID 4 binary[2] ", "BINARY[2]"),
        (b"BODY[1]<> ", None),
        (b'"x" ', None),
        (b"a[" * 500_000 + b" RFC822 ", "RFC822"),  # once a search tried every start
        (b"a[" * 500_000 + b" ", None),
    ],
    ids=["body", "header-fields", "binary", "bad-partial", "quoted", "after-a[", "a["],
)
def test_a_streamed_literal_is_named_by_the_item_before_it(before: bytes, item: str | None) -> None:
    data = b"* 3 FETCH (" + before + b"{20}\r\n" + b"x" * 20 + b")\r\n"
    events = feed_whole(data, stream_threshold=10)
    assert events[0] == LiteralStarted(3, item, 20)
    assert isinstance(events[-1], Fetch) and events[-1].seq == 3
