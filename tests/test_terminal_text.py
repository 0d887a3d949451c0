"""Strangers' text on the way to a terminal: no control character gets through."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from o365imap._terminal_text import REPLACEMENT, for_terminal


def test_escapes_and_overrides_are_shown_not_obeyed() -> None:
    assert for_terminal("a\x1b[2Jb") == f"a{REPLACEMENT}[2Jb"
    assert for_terminal("\x1b]0;title\x07") == f"{REPLACEMENT}]0;title{REPLACEMENT}"
    assert for_terminal("x\u202eevil") == f"x{REPLACEMENT}evil"
    assert for_terminal("c1\x9bcsi") == f"c1{REPLACEMENT}csi"


def test_line_breaks_kept_in_text_and_folded_in_one_line() -> None:
    assert for_terminal("one\r\ntwo\rthree\n") == "one\ntwo\nthree\n"
    assert for_terminal("Fwd: Ticket 123\r\n resolved", one_line=True) == "Fwd: Ticket 123 resolved"
    assert for_terminal("a\tb\u2028c", one_line=True) == "a b c"
    assert for_terminal("tab\tkept") == "tab\tkept"


def test_unicode_line_separators_are_line_feeds() -> None:
    assert for_terminal("a\u2028b\u2029c") == "a\nb\nc"
    assert for_terminal("a\u2028b", one_line=True) == "a b"


def test_ordinary_text_is_untouched() -> None:
    text = "Grüße, Отчёт — 日本語 ✓ (2) [b]"
    assert for_terminal(text) == text
    assert for_terminal(text, one_line=True) == text


@given(st.text())
def test_nothing_that_moves_the_cursor_survives(text: str) -> None:
    for one_line in (False, True):
        shown = for_terminal(text, one_line=one_line)
        allowed = {" "} if one_line else {"\n", "\t"}
        bad = [
            ch
            for ch in shown
            if ch not in allowed
            and (
                unicodedata.category(ch) == "Cc"
                or ch in "\u2028\u2029\u202a\u202b\u202c\u202d\u202e"
            )
        ]
        assert not bad, (text, shown)
        if one_line:
            assert "\n" not in shown and "\r" not in shown
