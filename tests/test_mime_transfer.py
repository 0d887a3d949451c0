"""Incremental transfer decoders: any chunking gives what the one-shot stdlib decoder gives."""

from __future__ import annotations

import base64
import binascii
import quopri
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import examples
from o365imap.mime.transfer import (
    Base64Decoder,
    IdentityDecoder,
    QuotedPrintableDecoder,
    TransferDecoder,
    decoder_for,
)

ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def decode_in_chunks(decoder: TransferDecoder, data: bytes, cuts: list[int]) -> bytes:
    out = bytearray()
    start = 0
    for cut in sorted(set(cuts)):
        out += decoder.feed(data[start:cut])
        start = cut
    out += decoder.feed(data[start:])
    out += decoder.flush()
    return bytes(out)


def reference_base64(data: bytes) -> bytes:
    """binascii's lenient decoding, with its end-of-data errors forgiven the way the decoder
    forgives them: missing padding is supplied, a lone last character is dropped."""
    for suffix in (b"", b"=", b"=="):
        try:
            return binascii.a2b_base64(data + suffix)
        except binascii.Error:
            pass
    last = max(data.rfind(bytes([c])) for c in ALPHABET)  # the lone character
    return binascii.a2b_base64(data[:last] + data[last + 1 :])


cuts_strategy = st.lists(st.integers(min_value=0, max_value=4096), max_size=40)


# ---------------------------------------------------------------- base64


@settings(max_examples=examples(300))
@given(
    payload=st.binary(max_size=600),
    width=st.sampled_from([76, 64, 73, 4, 1000]),
    newline=st.sampled_from([b"\r\n", b"\n"]),
    strip_padding=st.booleans(),
    junk=st.lists(
        st.tuples(st.integers(0, 2000), st.sampled_from([b" ", b"\t", b"!", b"*", b"\x00", b"\r"]))
    ),
    data=st.data(),
)
def test_base64_any_chunking_of_mail_shaped_input_gives_the_payload(
    payload: bytes,
    width: int,
    newline: bytes,
    strip_padding: bool,
    junk: list[tuple[int, bytes]],
    data: st.DataObject,
) -> None:
    text = base64.b64encode(payload)
    if strip_padding:
        text = text.rstrip(b"=")
    encoded = newline.join(text[i : i + width] for i in range(0, len(text), width)) + newline
    for wanted, byte in sorted(junk, reverse=True):
        position = min(wanted, len(encoded))
        encoded = encoded[:position] + byte + encoded[position:]
    cuts = data.draw(st.lists(st.integers(0, len(encoded)), max_size=30))
    assert decode_in_chunks(Base64Decoder(), encoded, cuts) == payload
    if not strip_padding:
        assert base64.b64decode(encoded) == payload


@settings(max_examples=examples(500))
@given(
    raw=st.lists(st.sampled_from(list(ALPHABET[:8] + b"+/=\r\n !-"))).map(bytes),
    cuts=cuts_strategy,
)
def test_base64_any_bytes_any_chunking_equals_one_shot(raw: bytes, cuts: list[int]) -> None:
    expected = reference_base64(raw)
    assert decode_in_chunks(Base64Decoder(), raw, cuts) == expected
    try:
        one_shot = base64.b64decode(raw)
    except binascii.Error:
        return  # b64decode refuses; the decoder forgives (tested above against the reference)
    assert expected == one_shot


def test_base64_one_byte_at_a_time_large() -> None:
    payload = random.Random(1).randbytes(20_000)
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    decoder = Base64Decoder()
    out = b"".join(decoder.feed(encoded[i : i + 1]) for i in range(len(encoded)))
    assert out + decoder.flush() == payload


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"QU", b"JD"], b"ABC"),  # mid-quartet
        ([b"QUJD\r", b"\nREVG"], b"ABCDEF"),  # between CR and LF
        ([b"QUJDRA"], b"ABCD"),  # missing padding
        ([b"QUJDRA="], b"ABCD"),  # half the padding
        ([b"QUJDR"], b"ABC"),  # a lone last character holds no byte
        ([b"QU*JD ~RE\x00VG"], b"ABCDEF"),  # characters outside the alphabet are skipped
        ([b"QQ==", b"QUJD"], b"A"),  # padding ends the data, as in b64decode
        ([b"QQ=", b"=QUJD"], b"A"),
        ([b"QQ=QUJD"], b"A\x04\x14\x24"),  # one pad after two characters does not end it
        ([b""], b""),
    ],
)
def test_base64_edges(chunks: list[bytes], expected: bytes) -> None:
    decoder = Base64Decoder()
    assert b"".join(decoder.feed(c) for c in chunks) + decoder.flush() == expected


def test_base64_flush_makes_the_decoder_reusable() -> None:
    decoder = Base64Decoder()
    assert decoder.feed(b"QQ==") + decoder.flush() == b"A"
    assert decoder.feed(b"Qg") + decoder.flush() == b"B"


def test_base64_odd_line_lengths_switch_to_the_general_path() -> None:
    payload = random.Random(2).randbytes(5000)
    text = base64.b64encode(payload)
    encoded = b"\r\n".join(text[i : i + 73] for i in range(0, len(text), 73))
    assert decode_in_chunks(Base64Decoder(), encoded, list(range(0, len(encoded), 997))) == payload


# ---------------------------------------------------------------- quoted-printable


@settings(max_examples=examples(500))
@given(
    raw=st.lists(st.sampled_from(list(b"==\r\n\t AF0a9g_x"))).map(bytes),
    cuts=cuts_strategy,
    max_line=st.sampled_from([1, 2, 3, 8, 64 * 1024]),
)
def test_qp_any_bytes_any_chunking_equals_quopri(
    raw: bytes, cuts: list[int], max_line: int
) -> None:
    decoder = QuotedPrintableDecoder(max_line=max_line)
    assert decode_in_chunks(decoder, raw, cuts) == quopri.decodestring(raw)


@settings(max_examples=examples(200))
@given(payload=st.binary(max_size=800), crlf=st.booleans(), data=st.data())
def test_qp_round_trip_any_chunking(payload: bytes, crlf: bool, data: st.DataObject) -> None:
    encoded = quopri.encodestring(payload)
    if crlf:
        encoded = encoded.replace(b"\n", b"\r\n")
    cuts = data.draw(st.lists(st.integers(0, len(encoded)), max_size=30))
    expected = quopri.decodestring(encoded)
    assert decode_in_chunks(QuotedPrintableDecoder(), encoded, cuts) == expected
    if not crlf:
        assert expected == payload


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"caf=", b"E9"], b"caf\xe9"),  # mid escape
        ([b"caf=E", b"9"], b"caf\xe9"),
        ([b"soft=", b"\r\n", b"break"], b"softbreak"),  # mid soft line break
        ([b"soft=\r", b"\nbreak"], b"softbreak"),
        ([b"soft=\nbreak"], b"softbreak"),  # bare LF
        ([b"a=3D=\r\nb\r\n"], b"a=b\r\n"),
        ([b"not=hex=4g"], b"not=hex=4g"),  # escapes that are not escapes pass through
        ([b"end="], b"end"),  # a soft break at the very end
        ([b"x=4"], b"x=4"),
    ],
)
def test_qp_edges(chunks: list[bytes], expected: bytes) -> None:
    decoder = QuotedPrintableDecoder()
    assert b"".join(decoder.feed(c) for c in chunks) + decoder.flush() == expected


def test_qp_endless_line_is_decoded_with_bounded_holdback() -> None:
    """A line with no LF at all is still decoded as it arrives, not held whole."""
    decoder = QuotedPrintableDecoder(max_line=1024)
    piece = b"caf=C3=A9 " * 1000
    out = bytearray()
    for _ in range(50):
        out += decoder.feed(piece)
        assert len(piece) * 50 > len(out) > 0
    out += decoder.flush()
    assert bytes(out) == quopri.decodestring(piece * 50)


# ---------------------------------------------------------------- choice


@pytest.mark.parametrize(
    ("encoding", "kind"),
    [
        ("base64", Base64Decoder),
        (" Base64 ", Base64Decoder),
        ("quoted-printable", QuotedPrintableDecoder),
        ("Quoted-Printable", QuotedPrintableDecoder),
        ("7bit", IdentityDecoder),
        ("8bit", IdentityDecoder),
        ("binary", IdentityDecoder),
        ("x-uuencode", IdentityDecoder),
        (None, IdentityDecoder),
        ("", IdentityDecoder),
    ],
)
def test_decoder_for(encoding: str | None, kind: type) -> None:
    decoder = decoder_for(encoding)
    assert isinstance(decoder, kind)
    assert decoder is not decoder_for(encoding) or kind is IdentityDecoder  # fresh state


def test_identity_passes_bytes_through() -> None:
    decoder = decoder_for("8bit")
    assert decoder.feed(b"=41 \xff") == b"=41 \xff"
    assert decoder.flush() == b""
