"""Header text decoding: RFC 2047 words, RFC 2231 parameters, dates."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import examples
from o365imap.protocol.text import (
    decode_2047,
    decode_bytes,
    decode_params,
    parse_header_date,
    parse_internal_date,
)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"plain ascii", "plain ascii"),
        (b"=?utf-8?q?Caf=C3=A9_au_lait?=", "Café au lait"),
        (b"=?UTF-8?B?0J/RgNC40LLQtdGC?=", "Привет"),
        (b"=?iso-8859-1?q?Gr=FC=DFe?=", "Grüße"),
        (b"=?iso-8859-2?q?=B1=B6?=", "ąś"),
        (b"=?windows-1251?b?z/Do4uXy?=", "Привет"),
        (b"=?koi8-r?b?8NLJ18XU?=", "Привет"),
        (b"=?gb2312?b?1tDOxA==?=", "中文"),
        (b"=?GBK?B?1tDOxA==?=", "中文"),
        (b"=?big5?b?pKSk5Q==?=", "中文"),
        (b"=?shift_jis?b?k/qWe4zq?=", "日本語"),
        (b"=?iso-2022-jp?b?GyRCRnxLXDhsGyhC?=", "日本語"),
        # whitespace between encoded words disappears (RFC 2047 section 6.2)
        (b"=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),
        # but not between a word and plain text
        (b"Re: =?utf-8?q?Caf=C3=A9?= menu", "Re: Café menu"),
        # a multi-byte character split across two words survives
        (b"=?utf-8?b?w6k=?= =?utf-8?b?4oKs?=", "é€"),
        (b"=?utf-8?b?4oI=?= =?utf-8?b?rA==?=", "€"),
        # folded header
        (b"=?utf-8?q?one?=\r\n =?utf-8?q?_two?=", "one two"),
        # raw 8-bit UTF-8 in a header (not allowed, common)
        ("Grüße aus Köln".encode(), "Grüße aus Köln"),
        # raw 8-bit Latin-1
        ("Grüße".encode("latin-1"), "Grüße"),
        # unknown charset: bytes still come out as text
        (b"=?x-unknown?q?abc?=", "abc"),
        # base64 without padding
        (b"=?utf-8?b?w6k?=", "é"),
        # RFC 2231 language in an encoded word
        (b"=?utf-8*en?q?hello?=", "hello"),
        # encoded CR LF in a subject stays data, never a header break
        (b"=?utf-8?q?a=0D=0Ab?=", "a\r\nb"),
    ],
)
def test_decode_2047(raw: bytes, text: str) -> None:
    assert decode_2047(raw) == text


@given(st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc"))), st.sampled_from("BQ"))
def test_decode_2047_agrees_with_the_stdlib(text: str, encoding: str) -> None:
    from email import charset as cs
    from email.header import Header, decode_header, make_header

    c = cs.Charset("utf-8")
    c.header_encoding = cs.BASE64 if encoding == "B" else cs.QP
    encoded = Header(text, c).encode(maxlinelen=10000)
    assert decode_2047(encoded.encode("ascii")) == str(make_header(decode_header(encoded)))


def test_decode_params_rfc2231() -> None:
    params = decode_params(
        [
            (b"NAME*0*", b"utf-8''%E3%81%8B%E3%81%8D"),
            (b"name*1*", b"%E3%81%8F.txt"),
            (b"CHARSET", b"us-ascii"),
        ]
    )
    assert params == {"name": "かきく.txt", "charset": "us-ascii"}


def test_decode_params_plain_2047_and_nil() -> None:
    params = decode_params([(b"name", b"=?utf-8?q?R=C3=A9sum=C3=A9.pdf?="), (b"x", None)])
    assert params == {"name": "Résumé.pdf", "x": ""}


def test_decode_params_unquoted_continuations_and_bad_charset() -> None:
    params = decode_params(
        [(b"filename*1", b"part2.txt"), (b"filename*0", b"part1-"), (b"f*", b"bogus''%E9t%E9")]
    )
    assert params["filename"] == "part1-part2.txt"
    assert params["f"] == "été"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            b"Thu, 17 Jul 2025 02:44:25 -0700",
            datetime(2025, 7, 17, 2, 44, 25, tzinfo=timezone(timedelta(hours=-7))),
        ),
        (
            b"17 Jul 2025 02:44:25 +0530",
            datetime(2025, 7, 17, 2, 44, 25, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        ),
        (
            b"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)",
            datetime(1996, 7, 17, 2, 23, 25, tzinfo=timezone(timedelta(hours=-7))),
        ),
        (b"Wed, 5 Feb 2025 9:05 GMT", datetime(2025, 2, 5, 9, 5, tzinfo=UTC)),
        (b"12 FEB 25 11:28:27 UT", datetime(2025, 2, 12, 11, 28, 27, tzinfo=UTC)),
        (
            b"Mon, 3 Mar 2025 10:00:00 EST",
            datetime(2025, 3, 3, 10, 0, tzinfo=timezone(timedelta(hours=-5))),
        ),
        (b"Tue, 1 Apr 2025 08:00:00", datetime(2025, 4, 1, 8, 0, tzinfo=UTC)),
        (b"wtf", None),
        (b"", None),
        (None, None),
        (b"Thu, 32 Jul 2025 02:44:25 -0700", None),
    ],
)
def test_header_dates(raw: bytes | None, expected: datetime | None) -> None:
    parsed = parse_header_date(raw)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is not None
        assert parsed.utcoffset() == expected.utcoffset()  # type: ignore[union-attr]


def test_internal_dates() -> None:
    assert parse_internal_date(b"17-Jul-1996 02:44:25 -0700") == datetime(
        1996, 7, 17, 2, 44, 25, tzinfo=timezone(timedelta(hours=-7))
    )
    assert parse_internal_date(b" 7-Jul-1996 02:44:25 +0000") == datetime(
        1996, 7, 7, 2, 44, 25, tzinfo=UTC
    )
    assert parse_internal_date(b"garbage") is None
    assert parse_internal_date(b"31-Feb-2020 00:00:00 +0000") is None


@given(
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9998, 12, 31)),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
    st.booleans(),
)
def test_internal_dates_of_the_fixed_layout(when: datetime, minutes: int, padded: bool) -> None:
    sign, offset = ("-" if minutes < 0 else "+"), abs(minutes)
    day = f"{when.day:02d}" if padded else f"{when.day:2d}"
    raw = (
        f"{day}-{when:%b}-{when.year:04d} {when:%H:%M:%S} {sign}{offset // 60:02d}{offset % 60:02d}"
    ).encode()
    zone = timezone(timedelta(minutes=minutes))
    assert parse_internal_date(raw) == when.replace(microsecond=0, tzinfo=zone)


@given(st.binary(min_size=26, max_size=26).map(lambda b: b[:2] + b"-" + b[3:]))
def test_internal_dates_of_any_bytes_in_the_fixed_layout(raw: bytes) -> None:
    parsed = parse_internal_date(raw)
    assert parsed is None or parsed.tzinfo is not None


@pytest.mark.parametrize(
    "raw",
    [
        b"=?hex?Q?41?=",
        b"=?rot13?Q?abc?=",
        b"=?zlib?B?eJw=?=",
        b"=?base64?Q?QQ==?=",
        b"=?undefined?Q?a?=",
        b"=?unicode_escape?Q?\\ud83d?=",
        b"=?utf-7?Q?+2D0-?=",
        b"=?utf-16?B?2D0=?=",
    ],
)
def test_hostile_charsets_never_raise_or_make_surrogates(raw: bytes) -> None:
    text = decode_2047(raw)
    text.encode("utf-8")  # would raise on a lone surrogate
    params = decode_params([(b"name*", b"hex''41"), (b"x*", b"utf-7''+2D0-")])
    params["x"].encode("utf-8")


# Codecs that are no charsets must not reach the caller as an exception: idna and punycode
# (names of domains, not text) have no "replace" handler and once made a whole listing fail.
@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"=?idna?q?=FF?=", "ÿ"),
        (b"=?IDNA?B?/w==?=", "ÿ"),
        (b"=?punycode?q?=FF?=", "ÿ"),
        (b"Re: =?punycode?q?bcher-kva?=", "Re: bcher-kva"),  # not "bücher": no text codec
        (b"=?idna?q?caf=C3=A9?=", "café"),  # the bytes are guessed as if no charset were named
    ],
)
def test_domain_name_codecs_are_not_charsets(raw: bytes, text: str) -> None:
    assert decode_2047(raw) == text


def test_domain_name_codecs_in_rfc2231_names() -> None:
    params = decode_params(
        [(b"filename*", b"idna''%FF.pdf"), (b"name*0*", b"punycode''%FF"), (b"name*1*", b".txt")]
    )
    assert params == {"filename": "ÿ.pdf", "name": "ÿ.txt"}


def _codec_names() -> list[str]:
    """Every codec name Python knows: the alias table's names and targets, and the modules."""
    import encodings
    import encodings.aliases
    import pkgutil

    names = set(encodings.aliases.aliases) | set(encodings.aliases.aliases.values())
    names |= {module.name for module in pkgutil.iter_modules(encodings.__path__)}
    return sorted(names)


CODEC_NAMES = _codec_names()
# What a header can spell as a charset: any of the above in any case, or made-up words.
CHARSET_LABELS = st.one_of(
    st.sampled_from(CODEC_NAMES),
    st.sampled_from(CODEC_NAMES).map(str.upper),
    st.from_regex(r"[A-Za-z0-9_.:-]{1,20}", fullmatch=True),
)


def test_codec_names_are_all_there() -> None:
    assert len(CODEC_NAMES) > 400
    assert {"idna", "punycode", "utf_7", "hex_codec", "cp1252"} <= set(CODEC_NAMES)


def _percent(data: bytes) -> bytes:
    return b"".join(b"%%%02X" % byte for byte in data)


@settings(max_examples=examples(1000))
@given(CHARSET_LABELS, st.binary(max_size=24))
def test_no_charset_label_makes_a_decoder_raise(label: str, data: bytes) -> None:
    charset = label.encode("ascii")
    texts = [
        decode_bytes(data, label),
        decode_2047(b"=?" + charset + b"?q?" + _percent(data).replace(b"%", b"=") + b"?="),
        decode_2047(b"=?" + charset + b"?b?" + base64.b64encode(data) + b"?="),
        decode_params([(b"filename*", charset + b"''" + _percent(data))])["filename"],
    ]
    for text in texts:
        assert isinstance(text, str)
        text.encode("utf-8")  # would raise on a lone surrogate


@given(st.text(max_size=30), st.binary(max_size=8))
def test_any_charset_string_is_taken(label: str, data: bytes) -> None:
    text = decode_bytes(data, label)
    assert [c for c in text if "\ud800" <= c <= "\udfff"] == []  # no lone surrogate


def test_a_codec_that_cannot_replace_gives_way_to_the_guess() -> None:
    # Python may gain codecs like idna that refuse "replace"; the decoders must not care.
    import codecs

    def strict_only(data: Any, errors: str = "strict", /) -> tuple[str, int]:
        if errors != "strict":
            raise UnicodeError(f"no {errors!r} here")
        return codecs.ascii_decode(data, errors)

    info = codecs.CodecInfo(codecs.ascii_encode, strict_only, name="x-strict-only")

    def search(name: str) -> codecs.CodecInfo | None:
        return info if name == "x_strict_only" else None

    codecs.register(search)
    try:
        assert codecs.lookup("x-strict-only") is info
        assert decode_bytes(b"plain", "x-strict-only") == "plain"
        assert decode_bytes("café".encode(), "x-strict-only") == "café"
        assert decode_2047(b"=?x-strict-only?q?=FF?=") == "ÿ"
    finally:
        codecs.unregister(search)


def test_continuation_indexes_of_any_length_order_the_pieces() -> None:
    # int() refuses more than 4,300 digits: such an index once raised ValueError
    params = decode_params(
        [
            (b"filename*" + b"9" * 5000 + b"*", b"%21"),
            (b"filename*10", b"c"),
            (b"filename*02", b"b"),  # a leading zero does not change the order
            (b"filename*" + b"9" * 4999 + b"*", b"d"),
            (b"filename*0*", b"utf-8''%C3%A9"),
        ]
    )
    assert params == {"filename": "ébcd!"}


# ---------------------------------------------------------------- the memo of decode_2047

# Header values as real and hostile mail has them: encoded words of any charset and mode (with
# payloads that are not base64 or quoted-printable), plain and 8-bit text, folds, stray "=?".
_WORD = st.builds(
    lambda charset, mode, payload: b"=?" + charset + b"?" + mode + b"?" + payload + b"?=",
    st.sampled_from([b"utf-8", b"UTF-8", b"iso-8859-1", b"koi8-r", b"gb2312", b"x-bad", b"hex"]),
    st.sampled_from([b"B", b"b", b"Q", b"q"]),
    st.one_of(
        st.binary(max_size=12).map(base64.b64encode),
        st.binary(max_size=12).map(lambda d: _percent(d).replace(b"%", b"=")),
        st.binary(max_size=8),
    ),
)
HEADER_VALUES = st.lists(
    st.one_of(
        _WORD,
        st.sampled_from([b" ", b"\r\n ", b"\t", b"=?", b"?=", b"Re: ", b"\xc3\xa9", b"\xe9"]),
        st.binary(max_size=6),
    ),
    max_size=6,
).map(b"".join)


@settings(max_examples=examples(500))
@given(st.lists(HEADER_VALUES, max_size=12), st.integers(1, 4))
def test_memoized_decoding_equals_unmemoized(values: list[bytes], cache_size: int) -> None:
    from unittest import mock

    from o365imap.protocol import text

    with mock.patch.object(text, "_DECODED_LONGEST", -1):  # nothing is kept: the reference
        expected = [decode_2047(v) for v in values]
    # a tiny memo, cleared again and again
    with (
        mock.patch.object(text, "_DECODED", {}),
        mock.patch.object(text, "_DECODED_MAX", cache_size),
    ):
        for _ in range(2):  # the first pass fills the memo, the second reads it
            assert [decode_2047(v) for v in values] == expected
            # a bytearray (not hashable) is decoded as its bytes
            assert [decode_2047(bytearray(v)) for v in values] == expected
            assert len(text._DECODED) <= cache_size


def test_the_memo_keeps_no_long_value() -> None:
    from o365imap.protocol import text

    text._DECODED.clear()
    long_value = b"=?utf-8?q?" + b"a" * 600 + b"?="
    assert decode_2047(long_value) == "a" * 600
    assert decode_2047(b"=?utf-8?q?short?=") == "short"
    assert list(text._DECODED) == [b"=?utf-8?q?short?="]
