"""The streaming MIME parser on real-world shapes: part trees, names, decoded bytes; the same
events whole, byte by byte and in random chunks; bounded memory; stdlib ``email`` beside it."""

from __future__ import annotations

import base64
import email
import hashlib
import random
import tracemalloc
from email import policy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mime_samples as samples
from conftest import examples
from mime_samples import canonical, parse
from o365imap.errors import UsageError
from o365imap.mime.parser import (
    MAX_DEPTH,
    MimeParser,
    PartData,
    PartEnd,
    PartStart,
    iter_events,
    split_header_params,
)
from o365imap.protocol.decode import body_structure

Tree = list[tuple[str, int, str, str | None]]


def tree(events: list[Any]) -> Tree:
    return [
        (e.part, e.depth, e.content_type, e.filename) for e in events if isinstance(e, PartStart)
    ]


def data_of(events: list[Any]) -> dict[tuple[str, int], bytes]:
    return {(c[1], c[2]): c[4] for c in canonical(events) if c[0] == "end"}


def complete_of(events: list[Any]) -> dict[tuple[str, int], bool]:
    return {(c[1], c[2]): c[3] for c in canonical(events) if c[0] == "end"}


def starts(events: list[Any]) -> dict[tuple[str, int], PartStart]:
    return {(e.part, e.depth): e for e in events if isinstance(e, PartStart)}


# ---------------------------------------------------------------- expected trees

MIXED, ALT, TEXT, HTML = "multipart/mixed", "multipart/alternative", "text/plain", "text/html"

EXPECTED_TREES: dict[str, Tree] = {
    "same_boundary_inner_and_outer": [
        ("", 0, MIXED, None),
        ("1", 1, ALT, None),
        ("1.1", 2, TEXT, None),
        ("1.2", 2, HTML, None),
        ("2", 1, "image/gif", "graf.gif"),
    ],
    "duplicate_names_no_disposition": [
        ("", 0, MIXED, None),
        ("1", 1, TEXT, "notes.txt"),
        ("2", 1, TEXT, "notes.txt"),
    ],
    "dsn_report_rfc822_no_filename": [
        ("", 0, "multipart/report", None),
        ("1", 1, TEXT, None),
        ("2", 1, "message/delivery-status", None),
        ("3", 1, "message/rfc822", None),
        ("3.1", 2, TEXT, None),
    ],
    "inline_images_related": [
        ("", 0, ALT, None),
        ("1", 1, TEXT, None),
        ("2", 1, "multipart/related", None),
        ("2.1", 2, HTML, None),
        ("2.2", 2, "image/png", "spacer.png"),
        ("2.3", 2, "image/png", "badge.png"),
        ("2.4", 2, "image/png", "banner.png"),
    ],
    "inner_boundary_prefix_of_outer": [
        ("", 0, MIXED, None),
        ("1", 1, ALT, None),
        ("1.1", 2, TEXT, None),
        ("1.2", 2, HTML, None),
        ("2", 1, "application/octetstream", "EMBLEM.png"),
    ],
    "nested_message_rfc822_with_pdf": [
        ("", 0, MIXED, None),
        ("1", 1, TEXT, None),
        ("2", 1, "message/rfc822", "Forwarded.eml"),
        ("2", 2, MIXED, None),
        ("2.1", 3, TEXT, None),
        ("2.2", 3, "application/pdf", "draft.pdf"),
    ],
    "raw_8bit_filename": [("", 0, MIXED, None), ("1", 1, TEXT, None), ("2", 1, TEXT, "résumé.txt")],
    "rfc2231_continuation_plus_rfc2047_name": [
        ("", 0, MIXED, None),
        ("1", 1, TEXT, samples.LONG_JAPANESE_NAME),
    ],
    "rfc2231_iso2022jp_name_in_content_type_only": [
        ("", 0, MIXED, None),
        ("1", 1, TEXT, None),
        ("2", 1, "application/octet-stream", "02 Cancion Vieja\ufffd. Live.mp3"),
    ],
    "single_part_attachment_only": [("1", 0, "application/x-gzip", "backup.gz")],
    "unquoted_boundary_with_equals": [
        ("", 0, ALT, None),
        ("1", 1, TEXT, None),
        ("2", 1, HTML, None),
    ],
    "message_rfc822_subject_with_encoded_crlf": [
        ("", 0, MIXED, None),
        ("1", 1, TEXT, "problems.txt"),
        ("2", 1, "message/delivery-status", "status.txt"),
        ("3", 1, "message/rfc822", None),
        ("3.1", 2, TEXT, None),
    ],
    "missing_closing_boundary": [
        ("", 0, MIXED, None),
        ("1", 1, TEXT, None),
        ("2", 1, "application/pdf", "draft.pdf"),
    ],
    "inner_multipart_without_close": [
        ("", 0, MIXED, None),
        ("1", 1, ALT, None),
        ("1.1", 2, TEXT, None),
        ("1.2", 2, HTML, None),
        ("2", 1, "image/gif", "dot.gif"),
    ],
    "eight_bit_headers": [
        ("", 0, MIXED, None),
        ("1", 1, TEXT, None),
        ("2", 1, "text/csv", "Übersicht März.csv"),
    ],
}

# Decoded bytes of some parts, by (part, depth): exact where short, the payload constants else.
EXPECTED_DATA: dict[str, dict[tuple[str, int], bytes]] = {
    "same_boundary_inner_and_outer": {
        ("1.1", 2): b"Tallene er vedh\xe6ftet.\n",
        ("2", 1): samples.GIF_PIXEL,
    },
    "duplicate_names_no_disposition": {
        ("1", 1): b"first draft of the notes\n",
        ("2", 1): b"second draft of the notes\n",
    },
    "dsn_report_rfc822_no_filename": {("3.1", 2): samples.DSN_INNER_TEXT},
    "inline_images_related": {
        ("1", 1): "Добро пожаловать\n".encode(),
        ("2.2", 2): samples.PNG_SPACER,
        ("2.3", 2): samples.PNG_BADGE,
        ("2.4", 2): samples.PNG_BANNER,
    },
    "inner_boundary_prefix_of_outer": {
        ("1.1", 2): b"Thank you\r\n",
        ("2", 1): samples.PNG_EMBLEM,
    },
    "nested_message_rfc822_with_pdf": {
        ("2.1", 3): b"Here is the draft; tell me what you think.\r\n",
        ("2.2", 3): samples.PDF_DRAFT,
    },
    "raw_8bit_filename": {("2", 1): b"Noor, engineer.\r\n"},
    "rfc2231_continuation_plus_rfc2047_name": {("1", 1): b"the attached data\r\n"},
    "rfc2231_iso2022jp_name_in_content_type_only": {("2", 1): samples.CERT_BLOB},
    "single_part_attachment_only": {("1", 0): samples.GZIP_BACKUP},
    "unquoted_boundary_with_equals": {
        ("1", 1): b"Hello\r\nThis is an outlook test, caf\xe9 included.\r\n",
    },
    "missing_closing_boundary": {("2", 1): samples.PDF_DRAFT},
    "inner_multipart_without_close": {("1.1", 2): b"plain words", ("2", 1): samples.GIF_PIXEL},
    "eight_bit_headers": {
        ("1", 1): "Grüße\r\n".encode(),
        ("2", 1): b"Monat;Wert\r\nM\xe4rz;42\r\n",
    },
}


@pytest.mark.parametrize("name", sorted(EXPECTED_TREES))
def test_part_tree_names_and_bytes(name: str) -> None:
    events = parse(samples.ALL_SAMPLES[name]())
    assert tree(events) == EXPECTED_TREES[name]
    found = data_of(events)
    for key, expected in EXPECTED_DATA.get(name, {}).items():
        assert hashlib.sha256(found[key]).hexdigest() == samples.sha256(expected), key
    for start in starts(events).values():  # containers never carry data
        if start.is_multipart:
            assert found[(start.part, start.depth)] == b""


@pytest.mark.parametrize("name", sorted(samples.ALL_SAMPLES))
def test_whole_byte_by_byte_and_random_chunks_give_the_same_events(name: str) -> None:
    message = samples.ALL_SAMPLES[name]()
    whole = canonical(parse(message))
    assert canonical(parse(message, list(range(1, len(message))))) == whole
    for seed in range(5):
        rng = random.Random(seed)
        cuts = [rng.randrange(len(message)) for _ in range(rng.randrange(1, 60))]
        assert canonical(parse(message, cuts)) == whole


@settings(max_examples=examples(150), suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(samples.ALL_SAMPLES)), data=st.data())
def test_any_chunking_gives_the_same_events(name: str, data: st.DataObject) -> None:
    message = samples.ALL_SAMPLES[name]()
    cuts = data.draw(st.lists(st.integers(0, len(message)), max_size=80))
    assert canonical(parse(message, cuts)) == canonical(parse(message))


# ---------------------------------------------------------------- sample details


def test_same_boundary_inside_and_outside_keeps_the_attachment() -> None:
    events = parse(samples.same_boundary_inner_and_outer())
    assert complete_of(events) == {
        ("", 0): True,
        ("1", 1): True,
        ("1.1", 2): True,
        ("1.2", 2): True,
        ("2", 1): True,
    }
    assert starts(events)[("2", 1)].disposition == "attachment"
    assert starts(events)[("2", 1)].params["x-mac-type"] == "47494666"


def test_inline_images_have_content_ids_and_inline_disposition() -> None:
    found = starts(parse(samples.inline_images_related()))
    assert [(found[k].content_id, found[k].disposition) for k in sorted(found) if k[0] > "2.1"] == [
        ("<spacer.7a1@mail.example.ru>", "inline"),
        ("<badge.7a2@mail.example.ru>", "inline"),
        ("<banner.7a3@mail.example.ru>", "inline"),
    ]
    assert found[("", 0)].header("subject") == "Добро пожаловать"


def test_message_rfc822_data_is_the_raw_message() -> None:
    message = samples.nested_message_rfc822_with_pdf()
    events = parse(message)
    raw = data_of(events)[("2", 1)]
    assert raw.startswith(b"From alex@example.net Mon Jun  6 09:00:00 2005\r\nReturn-Path:")
    assert raw.endswith(b"------=_Part_1717_27182818.1118048400000--\r\n")
    assert raw in message
    inner = starts(events)[("2", 2)]
    assert inner.header("Subject") == "the draft"  # the mbox From line was skipped
    assert [name for name, _ in inner.headers][:2] == ["Return-Path", "Received"]
    # the encapsulated message parses the same on its own
    alone = parse(raw)
    assert [(p, c, f) for p, _d, c, f in tree(alone)] == [
        ("", MIXED, None),
        ("1", TEXT, None),
        ("2", "application/pdf", "draft.pdf"),
    ]


def test_dsn_nameless_rfc822_and_encoded_from() -> None:
    events = parse(samples.dsn_report_rfc822_no_filename())
    found = starts(events)
    assert found[("3", 1)].filename is None and found[("3", 1)].disposition is None
    assert found[("3.1", 2)].header("from") == '"André" <pat@example.org>'
    assert found[("1", 1)].headers == ()  # a part with no header at all
    assert data_of(events)[("3", 1)].endswith(samples.DSN_INNER_TEXT)


def test_otrs_subject_with_encoded_crlf_and_early_header_end() -> None:
    events = parse(samples.message_rfc822_subject_with_encoded_crlf())
    inner = starts(events)[("3.1", 2)]
    assert inner.header("subject") == samples.OTRS_SUBJECT
    assert inner.header("date") is None  # the blank line after Subject ended the header block
    assert data_of(events)[("3.1", 2)].startswith(b"Date: Thu, 19 Mar 2014 09:00:00 +0100\n")


def test_missing_close_delimiters_are_reported() -> None:
    events = parse(samples.missing_closing_boundary())
    assert complete_of(events) == {("", 0): False, ("1", 1): True, ("2", 1): False}
    events = parse(samples.inner_multipart_without_close())
    assert complete_of(events)[("1", 1)] is False
    assert complete_of(events)[("2", 1)] is True


def test_single_part_message_is_part_1() -> None:
    found = starts(parse(samples.single_part_attachment_only()))
    start = found[("1", 0)]
    assert start.encoding == "base64" and start.description == "wiki backup"
    assert start.params == {"name": "backup.gz"}


def test_eight_bit_headers() -> None:
    found = starts(parse(samples.eight_bit_headers()))
    assert found[("", 0)].header("subject") == "Prüfbericht für März"
    assert found[("", 0)].header("from") == "Jürgen <j@example.de>"


# ---------------------------------------------------------------- numbering as IMAP does


def test_part_numbers_match_body_structure() -> None:
    """The numbers ``body_structure`` gives a server's BODYSTRUCTURE of the same message."""
    text = [b"TEXT", b"PLAIN", [b"CHARSET", b"ISO-8859-1"], None, None, b"QUOTED-PRINTABLE", b"28"]
    inner_text = [*text, b"2"]
    pdf = [b"APPLICATION", b"PDF", [b"NAME", b"draft.pdf"], None, None, b"BASE64", b"2100"]
    inner = [inner_text, pdf, b"MIXED", [b"BOUNDARY", b"x"]]
    forwarded = [b"MESSAGE", b"RFC822", [b"NAME", b"Forwarded.eml"], None, None, b"7BIT"]
    value = [[*text, b"1"], [*forwarded, b"3032", [None] * 10, inner, b"60"], b"MIXED"]
    theirs = [(p.part, p.content_type, p.filename) for p in body_structure(value).walk()]
    ours = [(p, c, f) for p, _d, c, f in tree(parse(samples.nested_message_rfc822_with_pdf()))]
    assert ours == theirs

    single = [b"APPLICATION", b"X-GZIP", [b"NAME", b"backup.gz"], None, None, b"BASE64", b"80"]
    assert body_structure(single).part == "1"
    assert tree(parse(samples.single_part_attachment_only()))[0][0] == "1"

    single_in_message = [*forwarded, b"10", [None] * 10, [*text, b"1"], b"3"]
    numbers = [p.part for p in body_structure([single_in_message, b"MIXED"]).walk()]
    message = samples.dsn_report_rfc822_no_filename()
    assert numbers == ["", "1", "1.1"]  # a single-part encapsulated body is X.1
    assert [p for p, _d, _c, _f in tree(parse(message))][-2:] == ["3", "3.1"]


# ---------------------------------------------------------------- against the stdlib

# Where Python's email (policy.default) gets these right, the leaves agree byte for byte.
EMAIL_AGREES = [
    "duplicate_names_no_disposition",
    "inline_images_related",
    "inner_boundary_prefix_of_outer",
    "nested_message_rfc822_with_pdf",
    "raw_8bit_filename",
    "rfc2231_continuation_plus_rfc2047_name",
    "rfc2231_iso2022jp_name_in_content_type_only",
    "single_part_attachment_only",
    "missing_closing_boundary",
    "inner_multipart_without_close",
]


def our_leaves(message: bytes) -> list[tuple[str, str | None, str]]:
    events = parse(message)
    data = data_of(events)
    return [
        (s.content_type, s.filename, samples.sha256(data[(s.part, s.depth)]))
        for s in (e for e in events if isinstance(e, PartStart))
        if not s.is_multipart and not s.is_message
    ]


def _decoded(part: email.message.Message) -> bytes:
    payload = part.get_payload(decode=True)  # bytes for a leaf; typeshed can't know it is one
    assert payload is None or isinstance(payload, bytes)
    return payload or b""


def email_leaves(message: bytes) -> list[tuple[str, str | None, str]]:
    parsed = email.message_from_bytes(message, policy=policy.default)
    return [
        (p.get_content_type(), p.get_filename(), samples.sha256(_decoded(p)))
        for p in parsed.walk()
        if not p.is_multipart()
    ]


@pytest.mark.parametrize("name", EMAIL_AGREES)
def test_agrees_with_email_where_email_is_right(name: str) -> None:
    message = samples.ALL_SAMPLES[name]()
    assert our_leaves(message) == email_leaves(message)


def test_email_loses_the_attachment_after_a_reused_boundary() -> None:
    message = samples.same_boundary_inner_and_outer()
    assert "image/gif" not in [leaf[0] for leaf in email_leaves(message)]
    assert ("image/gif", "graf.gif", samples.sha256(samples.GIF_PIXEL)) in our_leaves(message)


def test_email_default_policy_misreads_an_unquoted_boundary_with_equals() -> None:
    message = samples.unquoted_boundary_with_equals()
    parsed = email.message_from_bytes(message, policy=policy.default)
    assert parsed.get_boundary() == "----" and not parsed.is_multipart()
    assert [leaf[0] for leaf in our_leaves(message)] == [TEXT, HTML]


def test_email_garbles_a_raw_latin1_file_name() -> None:
    message = samples.eight_bit_headers()
    assert email_leaves(message)[1][1] == "\ufffdbersicht M\ufffdrz.csv"
    assert our_leaves(message)[1][1] == "Übersicht März.csv"


# ---------------------------------------------------------------- edges


def test_empty_input_is_an_empty_text_part() -> None:
    assert canonical(parse(b"")) == [
        ("start", PartStart("1", 0, TEXT, {}, None, {}, None, None, None, None, ())),
        ("end", "1", 0, True, b""),
    ]


def test_headers_only_without_blank_line() -> None:
    events = parse(b"Subject: hi\r\nContent-Type: text/plain; charset=utf-8")
    (start,) = [e for e in events if isinstance(e, PartStart)]
    assert start.params == {"charset": "utf-8"} and start.header("subject") == "hi"
    assert data_of(events) == {("1", 0): b""}


def test_a_line_that_is_not_a_header_starts_the_body() -> None:
    events = parse(b"Subject: hi\nthis is body text\nmore\n")
    assert data_of(events) == {("1", 0): b"this is body text\nmore\n"}


def test_oversized_header_block_is_cut_and_the_rest_is_body() -> None:
    message = b"Subject: a\r\nX-Long: " + b"y" * 500 + b"\r\n\r\nbody"
    parser = MimeParser(max_header_bytes=100)
    events = parser.feed(message) + parser.close()
    (start,) = [e for e in events if isinstance(e, PartStart)]
    assert start.header("subject") == "a" and start.header("x-long") is None
    assert data_of(events)[("1", 0)].startswith(b"X-Long: yyy")


def test_a_delimiter_before_the_blank_line_ends_a_part_with_no_body() -> None:
    message = b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/csv\n--b--\n'
    events = parse(message)
    assert tree(events) == [("", 0, MIXED, None), ("1", 1, "text/csv", None)]
    assert data_of(events)[("1", 1)] == b""


def test_delimiters_with_transport_padding_and_text_that_only_looks_like_one() -> None:
    message = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b \t\r\n\r\n--bx\r\n--b-\r\n-- b\r\n--b---\r\nend\r\n"
        b"--b--  \r\nepilogue\r\n--b\r\nnot a part\r\n"
    )
    events = parse(message)
    assert tree(events) == [("", 0, MIXED, None), ("1", 1, TEXT, None)]
    assert data_of(events)[("1", 1)] == b"--bx\r\n--b-\r\n-- b\r\n--b---\r\nend"


def test_message_rfc822_in_base64_is_decoded_then_parsed() -> None:
    inner = b"Subject: inner\r\nContent-Type: text/plain\r\n\r\nhello inside\r\n"
    message = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nouter\r\n--b\r\n"
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(inner).replace(b"\n", b"\r\n")
        + b"--b--\r\n"
    )
    events = parse(message)
    assert [t[0] for t in tree(events)] == ["", "1", "2", "2.1"]
    assert data_of(events)[("2", 1)] == inner
    assert data_of(events)[("2.1", 2)] == b"hello inside\r\n"
    assert starts(events)[("2.1", 2)].header("subject") == "inner"


def test_a_forwarded_message_reusing_the_outer_boundary_keeps_its_parts() -> None:
    message = (
        b'Content-Type: multipart/mixed; boundary="same"\n\n'
        b"--same\nContent-Type: message/rfc822\n\n"
        b'Subject: fwd\nContent-Type: multipart/alternative; boundary="same"\n\n'
        b"--same\nContent-Type: text/plain\n\ninner plain\n"
        b"--same\nContent-Type: text/html\n\n<p>inner</p>\n"
        b"--same--\n"
        b"--same\nContent-Type: text/plain\n\nouter again\n"
        b"--same--\n"
    )
    events = parse(message)
    assert [(p, d, c) for p, d, c, _f in tree(events)] == [
        ("", 0, MIXED),
        ("1", 1, "message/rfc822"),
        ("1", 2, ALT),
        ("1.1", 3, TEXT),
        ("1.2", 3, HTML),
        ("2", 1, TEXT),
    ]
    assert data_of(events)[("2", 1)] == b"outer again"


def test_digest_children_default_to_message_rfc822() -> None:
    message = (
        b'Content-Type: multipart/digest; boundary="d"\n\n'
        b"--d\n\nSubject: one\n\nfirst\n--d\n\nSubject: two\n\nsecond\n--d--\n"
    )
    events = parse(message)
    assert [(p, c) for p, _d, c, _f in tree(events)] == [
        ("", "multipart/digest"),
        ("1", "message/rfc822"),
        ("1.1", TEXT),
        ("2", "message/rfc822"),
        ("2.1", TEXT),
    ]
    assert data_of(events)[("2.1", 2)] == b"second"


def test_a_multipart_without_boundary_is_text() -> None:
    events = parse(b"Content-Type: multipart/mixed\n\n--x\nhello\n")
    assert tree(events) == [("1", 0, TEXT, None)]
    assert data_of(events)[("1", 0)] == b"--x\nhello\n"


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [(b"", TEXT), (b"text", TEXT), (b"application", "application/octet-stream"),
     (b"TEXT/HTML", HTML), (b"bad type/x", TEXT), (b'"image/png"', "image/png")],
)  # fmt: skip
def test_content_type_fallbacks(content_type: bytes, expected: str) -> None:
    events = parse(b"Content-Type: " + content_type + b"\n\nx")
    assert tree(events)[0][2] == expected


def test_deep_nesting_is_capped_without_recursion_errors() -> None:
    depth = 300
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i) for i in range(depth)
    )
    events = parse(head + b"Content-Type: text/plain\n\ndeep\n")
    found = tree(events)
    assert max(d for _p, d, _c, _f in found) == MAX_DEPTH
    assert found[-1][2] == "application/octet-stream"  # the multipart too deep to open
    messages = b"Content-Type: message/rfc822\n\n" * depth + b"Subject: bottom\n\nhi\n"
    found = tree(parse(messages))
    assert max(d for _p, d, _c, _f in found) == MAX_DEPTH


def test_long_lines_that_start_like_a_delimiter_are_streamed() -> None:
    """A 1 MB line starting with '--' in a multipart is data, handed out as it arrives."""
    parser = MimeParser()
    parser.feed(b'Content-Type: multipart/mixed; boundary="b"\n\n--b\n\n')
    seen = 0
    for piece in [b"--" + b"a" * 9998] + [b"a" * 10_000] * 99:
        seen += sum(len(e.data) for e in parser.feed(piece) if isinstance(e, PartData))
    assert seen > 900_000
    events = parser.feed(b"\n--b--\n") + parser.close()
    assert [type(e) for e in events][-2:] == [PartEnd, PartEnd]


def test_feed_after_close_is_a_usage_error() -> None:
    parser = MimeParser()
    parser.feed(b"Subject: x\n\nbody")
    parser.close()
    assert parser.close() == []
    with pytest.raises(UsageError):
        parser.feed(b"more")


def test_iter_events_takes_an_iterable_of_chunks() -> None:
    message = samples.inline_images_related()
    chunks = (message[i : i + 100] for i in range(0, len(message), 100))
    assert canonical(list(iter_events(chunks))) == canonical(parse(message))


@pytest.mark.parametrize(
    ("value", "main", "pairs"),
    [
        (b'text/plain; charset="utf-8"', b"text/plain", [(b"charset", b"utf-8")]),
        (
            b"multipart/alternative; boundary=----=_NextPart_000_0042_01D9",
            b"multipart/alternative",
            [(b"boundary", b"----=_NextPart_000_0042_01D9")],
        ),
        (b'a/b; name="x; y.txt"; n2=z', b"a/b", [(b"name", b"x; y.txt"), (b"n2", b"z")]),
        (b'a/b; name="q\\"uote\\\\d"', b"a/b", [(b"name", b'q"uote\\d')]),
        (b'a/b; name="C:\\dir\\f.txt"', b"a/b", [(b"name", b"C:\\dir\\f.txt")]),
        (b'a/b; name="unterminated', b"a/b", [(b"name", b"unterminated")]),
        (b"a/b; name=my file.pdf ;x", b"a/b", [(b"name", b"my file.pdf"), (b"x", None)]),
        (b"a/b;; ;flag; k = v", b"a/b", [(b"flag", None), (b"k", b"v")]),
        (
            b"attachment; filename*0*=utf-8''%E3%81; filename*1*=%8B.txt",
            b"attachment",
            [(b"filename*0*", b"utf-8''%E3%81"), (b"filename*1*", b"%8B.txt")],
        ),
        (b"inline", b"inline", []),
        (b"", b"", []),
    ],
)
def test_split_header_params(
    value: bytes, main: bytes, pairs: list[tuple[bytes, bytes | None]]
) -> None:
    assert split_header_params(value) == (main, pairs)


# ---------------------------------------------------------------- memory


@pytest.mark.slow
def test_memory_stays_bounded_whatever_the_attachment_size() -> None:
    size = 24_000_000
    digest = hashlib.sha256()
    parser = MimeParser()
    tracemalloc.start()
    try:
        for piece in samples.iter_large_message(size):
            for event in parser.feed(piece):
                if isinstance(event, PartData) and event.part == "2":
                    digest.update(event.data)
        for event in parser.close():
            if isinstance(event, PartData) and event.part == "2":
                digest.update(event.data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert digest.hexdigest() == samples.large_payload_sha256(size)
    assert peak < 2 * 1024 * 1024, peak  # a few chunks' worth, never the attachment


# ---------------------------------------------------------------- generated trees

# Boundaries chosen to collide: reused at every level, prefixes of one another, with '='.
BOUNDARIES = ["b", "b_alt", "=_Part_1", "b--"]


def leaves() -> st.SearchStrategy[tuple[Any, ...]]:
    text = st.text(alphabet="abc xyz=.\n", max_size=60).map(
        lambda t: "\n".join(line.lstrip("-") for line in t.split("\n")).encode()
    )
    return st.one_of(
        st.tuples(st.just("leaf"), st.just("base64"), st.binary(max_size=300)),
        st.tuples(st.just("leaf"), st.just("quoted-printable"), st.binary(max_size=200)),
        st.tuples(st.just("leaf"), st.just("7bit"), text),
    )


def trees() -> st.SearchStrategy[tuple[Any, ...]]:
    return st.recursive(
        leaves(),
        lambda children: st.one_of(
            st.tuples(
                st.just("multipart"),
                st.sampled_from(BOUNDARIES),
                st.lists(children, min_size=1, max_size=3),
                st.sampled_from([b"", b"preamble text"]),
                st.sampled_from([b"", b"epilogue text"]),
            ),
            st.tuples(st.just("message"), children),
        ),
        max_leaves=7,
    )


def serialize(node: tuple[Any, ...], nl: bytes) -> tuple[bytes, list[tuple[str, bytes | None]]]:
    """Bytes of the entity (headers and body), and its expected (content type, data) in
    PartStart order; data None for containers."""
    kind = node[0]
    if kind == "leaf":
        _, encoding, payload = node
        if encoding == "base64":
            text = base64.b64encode(payload)
            body = nl.join(text[i : i + 76] for i in range(0, len(text), 76))
            decoded = payload
        elif encoding == "quoted-printable":
            body = samples.qp_encode(payload).replace(b"\n", nl)
            decoded = samples.qp_decode(body)
        else:
            body = payload.replace(b"\n", nl)
            decoded = body
        head = b"Content-Type: application/x-test\nContent-Transfer-Encoding: %s\n\n" % (
            encoding.encode()
        )
        return head.replace(b"\n", nl) + body, [("application/x-test", decoded)]
    if kind == "message":
        inner, inner_expected = serialize(node[1], nl)
        head = b"Content-Type: message/rfc822\n\nSubject: inner\n".replace(b"\n", nl)
        return head + inner, [("message/rfc822", None), *inner_expected]
    _, boundary, children, preamble, epilogue = node
    delimiter = b"--" + boundary.encode()
    out = [b'Content-Type: multipart/mixed; boundary="%s"' % boundary.encode(), nl, nl]
    if preamble:
        out += [preamble, nl]
    expected: list[tuple[str, bytes | None]] = [("multipart/mixed", None)]
    for child in children:
        body, child_expected = serialize(child, nl)
        out += [delimiter, nl, body, nl]
        expected += child_expected
    out += [delimiter, b"--", nl, epilogue]
    return b"".join(out), expected


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=trees(), crlf=st.booleans(), data=st.data())
def test_generated_trees_parse_back_in_any_chunking(
    node: tuple[Any, ...], crlf: bool, data: st.DataObject
) -> None:
    nl = b"\r\n" if crlf else b"\n"
    message, expected = serialize(node, nl)
    message = b"Subject: generated" + nl + message
    cuts = data.draw(st.lists(st.integers(0, len(message)), max_size=20))
    events = parse(message, cuts)
    ends = [c for c in canonical(events) if c[0] == "end"]
    found = [e for e in events if isinstance(e, PartStart)]
    assert [s.content_type for s in found] == [t for t, _ in expected]
    by_key = {(c[1], c[2]): c[4] for c in ends}
    for start, (_type, payload) in zip(found, expected, strict=True):
        if payload is not None:
            assert by_key[(start.part, start.depth)] == payload
    assert all(c[3] for c in ends)  # everything was closed properly
    assert canonical(events) == canonical(parse(message))
