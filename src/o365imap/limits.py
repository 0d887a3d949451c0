"""The bounds of the values people type: UIDs, timeouts, folder names.

One rule each, kept here so that the library, which checks what it is given, and its front
ends, which check what they parse (to name the option at fault), refuse the same values with
the same words. A value out of bounds is a UsageError, never a request the server refuses or
an overflow deep in the socket layer.
"""

from __future__ import annotations

import math
import re

from o365imap.errors import UsageError

__all__ = [
    "DEFAULT_TIMEOUT",
    "FLAG_RULE",
    "FOLDER_RULE",
    "MAX_FOLDER_NAME",
    "MAX_TIMEOUT",
    "MAX_UID",
    "UID_RULE",
    "check_flag_name",
    "check_folder_name",
    "check_seconds",
    "check_uid",
    "parse_uid",
    "seconds_rule",
    "shown",
]

# RFC 3501 section 2.3.1.1: a UID is a 32-bit value; its syntax is nz-number (section 9).
MAX_UID = 4_294_967_295
UID_RULE = f"UIDs are ASCII digits, 1 to {MAX_UID} (RFC 3501 nz-number)"

# Seconds to wait for the server, the one default of the library, the command line and the
# mail browser. It bounds each wait for the next bytes, not a whole command: a 200 MB download
# streams for as long as bytes keep coming. Half a minute is far more than Office 365 or
# Dovecot take to start answering anything the client sends (a SEARCH of a large folder
# included), and still short enough that a dead connection is noticed while a person waits.
DEFAULT_TIMEOUT: float = 30.0

# An hour: far longer than any server takes to answer, and well within what a socket takes.
MAX_TIMEOUT = 3600.0

# Characters. In modified UTF-7 (RFC 3501 section 5.1.3) each takes at most about 5.4 octets,
# so the longest name still fits a command line of 8192 octets, the most a client should send
# (RFC 7162 section 4); Exchange allows 255 characters per level.
MAX_FOLDER_NAME = 1000
FOLDER_RULE = f"folder names are 1 to {MAX_FOLDER_NAME} characters long"


def shown(value: object, limit: int = 40) -> str:
    """``value`` quoted for an error message; a long text is cut, with its length."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[: limit // 2]!r}… ({len(value)} characters)"
    if isinstance(value, int) and value.bit_length() > 64:
        # repr() of an int past 4300 digits raises ValueError; and nobody reads 40 digits.
        return f"an integer of {value.bit_length()} bits"
    return repr(value)


def check_uid(uid: int) -> int:
    """``uid`` if it can be a UID, else UsageError."""
    if isinstance(uid, bool) or not isinstance(uid, int) or not 1 <= uid <= MAX_UID:
        raise UsageError(f"{shown(uid)} is not a UID: {UID_RULE}")
    return uid


def parse_uid(text: str) -> int:
    """The UID written in ``text`` (leading zeros and surrounding spaces allowed).

    Only ASCII digits: ``int()`` also reads other scripts' digits ("١", "１"), which nobody
    means as a UID; and a few thousand digits are past what ``int()`` converts at all.
    """
    digits = text.strip()
    significant = digits.lstrip("0")
    if (
        not (digits.isascii() and digits.isdigit())
        or len(significant) > len(str(MAX_UID))  # before int(), which stops at 4300 digits
        or not 1 <= int(significant or "0") <= MAX_UID
    ):
        raise UsageError(f"{shown(text)} is not a UID: {UID_RULE}")
    return int(significant)


def seconds_rule(least: float | None = None, most: float = MAX_TIMEOUT) -> str:
    """What a number of seconds must be: more than 0, or at least ``least``; at most ``most``."""
    if least is None:
        return f"a finite number of seconds, more than 0 and at most {most:g}"
    return f"a finite number of seconds from {least:g} to {most:g}"


def check_seconds(
    value: float, what: str = "timeout", *, least: float | None = None, most: float = MAX_TIMEOUT
) -> float:
    """``value`` if it is a number of seconds within bounds (see ``seconds_rule``), else
    UsageError: not NaN, not infinite, not so large that a socket or clock overflows."""
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value > 0 if least is None else value >= least)
        and value <= most
    )
    if not ok:
        raise UsageError(f"the {what} must be {seconds_rule(least, most)}, not {shown(value)}")
    return value


# A flag or keyword as IMAP sends it unquoted (RFC 3501 flag-keyword / flag-extension): no
# spaces, parentheses, quotes or wildcards, so none can break out of a command's flag list.
_FLAG_NAME = re.compile(r"\\?[A-Za-z0-9$_.\-]+")
FLAG_RULE = "flag names are ASCII letters, digits and $_.- (a system flag begins with \\)"


def check_flag_name(name: str) -> str:
    """``name`` if it can name a flag or keyword: ``\\Seen``, ``$Invoice``, ``Processed``."""
    if not isinstance(name, str) or not _FLAG_NAME.fullmatch(name):
        raise UsageError(f"{shown(name)} is not a flag name: {FLAG_RULE}")
    return name


def check_folder_name(name: str) -> str:
    """``name`` if it can name a folder: not empty, not longer than MAX_FOLDER_NAME."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_FOLDER_NAME:
        raise UsageError(f"{shown(name)} is not a folder name: {FOLDER_RULE}")
    return name
