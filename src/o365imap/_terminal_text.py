"""Text from a mailbox made safe to show in a terminal.

Subjects, names, folder names, bodies and server replies are written by strangers. Control
characters in them must never reach the terminal: ``ESC ] 0 ; ... BEL`` retitles the window,
``ESC [ 2 J`` clears the screen, a lone CR rewrites the line, and the bidi overrides (U+202E)
reverse what follows. Rich and Textual strip only a few of them (BEL, BS, VT, FF, CR), so both
front ends pass such text through here first.
"""

from __future__ import annotations

import re

__all__ = ["REPLACEMENT", "for_terminal"]

REPLACEMENT = "\ufffd"

# C0 controls but tab and line feed, DEL, C1 controls, and the bidi marks and overrides.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# In one line (a table cell, a list row) a line break with the blanks around it, or a tab, is
# one space: a subject that decodes to "Fwd: a\r\n b" must not split a row in two.
_BREAKS = re.compile(r"\s*[\n\v\f\r\x85\u2028\u2029]\s*|\t")


def for_terminal(text: str, *, one_line: bool = False) -> str:
    """``text`` with every control character shown as U+FFFD; CR LF, lone CRs and the Unicode
    line and paragraph separators (U+2028, U+2029: terminals differ on them) become LF.

    ``one_line`` turns each run of line breaks and tabs into one space instead, for table
    cells and list rows.
    """
    text = _BREAKS.sub(" ", text) if one_line else re.sub(r"\r\n?|[\u2028\u2029]", "\n", text)
    return _UNPRINTABLE.sub(REPLACEMENT, text)
