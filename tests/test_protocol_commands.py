"""Command encoding: the exact bytes that go on the wire."""

from __future__ import annotations

import pytest

from o365imap.errors import UsageError
from o365imap.protocol import (
    Atom,
    Command,
    Literal,
    Raw,
    SequenceSet,
    TagGenerator,
    encode_astring,
    quote,
    sasl,
)


@pytest.mark.parametrize(
    ("ids", "text"),
    [
        ([1], "1"),
        ([1, 2, 3], "1:3"),
        ([3, 1, 2, 7, 9, 8, 20], "1:3,7:9,20"),
        ([5, 5, 5], "5"),
        (range(1, 20001), "1:20000"),
    ],
)
def test_sequence_sets_are_ranges(ids: list[int], text: str) -> None:
    assert str(SequenceSet(ids)) == text


def test_sequence_set_open_range_and_errors() -> None:
    assert str(SequenceSet.range(51, None)) == "51:*"
    assert str(SequenceSet.range(7, 7)) == "7"
    with pytest.raises(UsageError):
        SequenceSet([])
    with pytest.raises(UsageError):
        SequenceSet([0, 1])
    with pytest.raises(UsageError):
        SequenceSet.range(10, 2)


def test_tags_are_unique_and_ordered() -> None:
    tags = TagGenerator()
    assert [tags() for _ in range(3)] == ["A0001", "A0002", "A0003"]


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        ("INBOX", b"INBOX"),
        ("Sent Items", b'"Sent Items"'),
        ('say "hi"', b'"say \\"hi\\""'),
        ("back\\slash", b'"back\\\\slash"'),
        ("", b'""'),
        ("a*b", b'"a*b"'),
        ("x]y", b'"x]y"'),
    ],
)
def test_astring_forms(value: str, wire: bytes) -> None:
    assert encode_astring(value) == wire


def test_eight_bit_and_newlines_need_literals() -> None:
    assert encode_astring("Jürgen") == Literal("Jürgen".encode())
    assert encode_astring("a\r\nb") == Literal(b"a\r\nb")


def test_quote_escapes() -> None:
    assert quote(b'a"b\\c') == b'"a\\"b\\\\c"'


def test_command_with_synchronising_literal_is_split() -> None:
    command = Command("A0001", "SEARCH", (Atom("CHARSET"), Atom("UTF-8"), Atom("FROM"), "Jürgen"))
    pieces = command.encode(literal_plus=False)
    assert pieces == [b"A0001 SEARCH CHARSET UTF-8 FROM {7}\r\n", "Jürgen".encode() + b"\r\n"]


def test_command_with_literal_plus_is_one_piece() -> None:
    command = Command("A0002", "SELECT", ("Entwürfe",))
    assert command.encode(literal_plus=True) == [b"A0002 SELECT {9+}\r\nEntw\xc3\xbcrfe\r\n"]


def test_nested_lists_ints_and_raw() -> None:
    command = Command("A7", "STATUS", ("INBOX", [Atom("MESSAGES"), Atom("UNSEEN")]))
    assert command.encode() == [b"A7 STATUS INBOX (MESSAGES UNSEEN)\r\n"]
    fetch = Command("A8", "FETCH", (SequenceSet([1, 2]), Raw(b"(UID ENVELOPE)")))
    assert fetch.encode() == [b"A8 FETCH 1:2 (UID ENVELOPE)\r\n"]
    assert Command("A9", "X", (42,)).encode() == [b"A9 X 42\r\n"]


def test_redacted_commands_never_show_their_arguments() -> None:
    secret = sasl.xoauth2("alice@example.com", "SECRET-TOKEN")
    command = Command("A3", "AUTHENTICATE", (Atom("XOAUTH2"), Raw(secret)), redact=True)
    assert "SECRET" not in command.describe()
    assert secret.decode() not in command.describe()
    assert command.describe() == "A3 AUTHENTICATE [redacted]"


def test_xoauth2_and_oauthbearer_initial_responses() -> None:
    import base64

    assert (
        base64.b64decode(sasl.xoauth2("u@x.com", "tok"))
        == b"user=u@x.com\x01auth=Bearer tok\x01\x01"
    )
    bearer = base64.b64decode(sasl.oauthbearer("u,=@x.com", "tok", "imap.x.com", 993))
    assert bearer == b"n,a=u=2C=3D@x.com,\x01host=imap.x.com\x01port=993\x01auth=Bearer tok\x01\x01"


def test_error_challenge_decoding() -> None:
    import base64

    payload = base64.b64encode(b'{"status":"401","schemes":"bearer","scope":"mail"}')
    assert sasl.decode_error_challenge(payload) == {
        "status": "401",
        "schemes": "bearer",
        "scope": "mail",
    }
    assert sasl.decode_error_challenge(b"not base64 !!") is None
    assert sasl.decode_error_challenge(base64.b64encode(b"[1,2]")) is None
