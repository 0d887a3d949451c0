"""Modified UTF-7 folder names (RFC 3501 section 5.1.3)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from o365imap.protocol import decode_utf7, encode_utf7


def test_known_names() -> None:
    assert encode_utf7("Entwürfe") == b"Entw&APw-rfe"
    assert encode_utf7("Отчёты") == b"&BB4EQgRHBFEEQgRL-"
    assert encode_utf7("日本語") == b"&ZeVnLIqe-"
    assert encode_utf7("Tom & Jerry") == b"Tom &- Jerry"
    assert encode_utf7("~peter/mail/台北/日本語") == b"~peter/mail/&U,BTFw-/&ZeVnLIqe-"


def test_decoding_known_names() -> None:
    assert decode_utf7(b"Entw&APw-rfe") == "Entwürfe"
    assert decode_utf7(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-") == "~peter/mail/台北/日本語"
    assert decode_utf7(b"Tom &- Jerry") == "Tom & Jerry"


def test_broken_names_come_back_as_sent() -> None:
    assert decode_utf7(b"&&&-") == "&&&-"
    assert decode_utf7(b"caf\xc3\xa9") == "café"  # a server sending raw UTF-8
    assert decode_utf7(b"caf\xe9") == "café"  # or raw Latin-1


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"])))
def test_round_trip(name: str) -> None:
    assert decode_utf7(encode_utf7(name)) == name
