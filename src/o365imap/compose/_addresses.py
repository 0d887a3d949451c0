"""Addresses and header values as a person types them, checked before anything is sent.

The rule this module keeps: a value that reaches a header of an outgoing message is one the
stdlib can write back unchanged, so nothing a user types (or a template holds) can add a header
line or a recipient of its own. Parsing is the stdlib's (``email.headerregistry``, RFC 5322
section 3.4); this module only splits a list into the items a person typed, so that an error
names the item, and refuses what the stdlib would accept with a defect.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email import policy
from email.headerregistry import Address as HeaderAddress

from o365imap.errors import UsageError
from o365imap.models import Address

__all__ = [
    "UNSAFE_IN_HEADER",
    "bare_address",
    "check_header",
    "check_message_id",
    "check_value",
    "format_address",
    "parse_addresses",
    "to_header_address",
]

_FACTORY = policy.default.header_factory
# Control characters but TAB, and what str.splitlines() also breaks at (the stdlib refuses a
# header value that splits): any of them could end a header line somewhere down the road.
UNSAFE_IN_HEADER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
_MESSAGE_ID = re.compile(r"<[!-;=?-~]+>\Z")  # printable ASCII but < and >, no space
_FIELD_NAME = re.compile(r"[!-9;-~]+\Z")  # RFC 5322 section 3.6.8: printable ASCII but ':'
# Fields the message's structure depends on: the writer sets them and nobody else may.
_STRUCTURAL = frozenset(
    {"content-type", "content-transfer-encoding", "content-disposition", "mime-version"}
)
# Fields a Draft has a place of its own for (an option, a template line) or the writer sets.
_OWNED = {
    "from": "--from",
    "to": "--to",
    "cc": "--cc",
    "bcc": "--bcc",
    "reply-to": "--reply-to",
    "subject": "--subject",
    "date": None,
    "message-id": None,
    "in-reply-to": None,
    "references": None,
    "return-path": None,
}


def check_value(what: str, value: str) -> str:
    """``value`` unless it holds CR, LF or another control character (a header injection:
    TAB is allowed), else UsageError."""
    if UNSAFE_IN_HEADER.search(value):
        raise UsageError(f"{what} must be one line (no CR, LF or control character): {value!r}")
    return value


def check_header(name: str, value: str) -> tuple[str, str]:
    """An extra header (``--header "Name: value"``) that can go into a message as it is.

    Refused: a name that is not an RFC 5322 field name; the structural fields (Content-Type,
    Content-Transfer-Encoding, Content-Disposition, MIME-Version), which would break the
    message the writer builds; the fields a draft owns (From, To, Cc, Bcc, Reply-To, Subject,
    Date, Message-ID, In-Reply-To, References, Return-Path), which have options of their own
    or are set by the writer. Anything else (X-*, Importance, Sender, List-*...) is kept.
    """
    name = name.strip()
    if not _FIELD_NAME.match(name):
        raise UsageError(f"not a header name: {name!r}")
    lower = name.lower()
    if lower in _STRUCTURAL or lower.startswith("content-"):
        raise UsageError(f"the {name} header is set by the message's structure, not by hand")
    if lower in _OWNED:
        option = _OWNED[lower]
        instead = f": use {option}" if option else ""
        raise UsageError(f"the {name} header cannot be given as an extra header{instead}")
    return name, check_value(f"the {name} header", value.strip())


def check_message_id(value: str) -> str:
    """``value`` if it is one message ID (``<left@right>``, RFC 5322 section 3.6.4), printable
    ASCII with no space, else UsageError."""
    if not _MESSAGE_ID.match(value):
        raise UsageError(f"not a message ID (<...@...>): {value!r}")
    return value


def _split_items(text: str) -> list[str]:
    """Top-level comma-separated items: commas in quotes, <...> or comments do not split."""
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    angle = comment = 0
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and (quoted or comment):
            escaped = True
        elif char == '"' and not comment:
            quoted = not quoted
        elif not quoted:
            if char == "(":
                comment += 1
            elif char == ")" and comment:
                comment -= 1
            elif char == "<" and not comment:
                angle += 1
            elif char == ">" and angle and not comment:
                angle -= 1
            elif char == "," and not angle and not comment:
                items.append("".join(current))
                current = []
                continue
        current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items]


def _parse_one(item: str) -> HeaderAddress:
    if not item:
        raise UsageError("an empty address in the list")
    check_value("an address", item)
    try:
        header = _FACTORY("To", item)
        addresses = header.addresses
        defects = header.defects
    except Exception as exc:  # the stdlib's parser raises IndexError on some inputs
        raise UsageError(f"not an email address: {item!r}") from exc
    if len(addresses) != 1 or defects:
        raise UsageError(f"not an email address: {item!r}")
    found: HeaderAddress = addresses[0]
    spec = found.addr_spec
    if not found.username or not found.domain or any(c.isspace() for c in spec):
        raise UsageError(f"not an email address: {item!r}")
    if not spec.isascii():
        raise UsageError(f"only ASCII email addresses can be sent to: {item!r}")
    return found


def parse_addresses(value: str | Iterable[str]) -> tuple[Address, ...]:
    """Every address in ``value``: a string or strings, each one address or a comma list.

    Accepts ``a@b``, ``<a@b>``, ``Name <a@b>``, ``"Doe, John" <a@b>`` and display names in
    any script (``Jürgen Müller <j@example.de>``). UsageError names the first item that is not
    one address: no ``@``, a space in the address, an empty item (``a@b,,c@d``), a group, CR
    or LF anywhere, a non-ASCII address (which would need SMTPUTF8).
    """
    texts = [value] if isinstance(value, str) else list(value)
    found: list[Address] = []
    for text in texts:
        check_value("an address list", text)
        if not text.strip():
            continue
        for item in _split_items(text):
            parsed = _parse_one(item)
            found.append(Address(parsed.display_name or None, parsed.username, parsed.domain))
    return tuple(found)


def to_header_address(address: Address) -> HeaderAddress:
    """The stdlib's Address, which the header machinery quotes and RFC 2047-encodes."""
    return HeaderAddress(address.name or "", address.mailbox or "", address.host or "")


def format_address(address: Address) -> str:
    """``Name <a@b>`` quoted as RFC 5322 wants (``"Doe, John" <a@b>``), or ``a@b``."""
    return str(to_header_address(address))


def bare_address(text: str) -> str:
    """The one address in ``text`` as ``mailbox@host`` (for SMTP's MAIL FROM); UsageError."""
    found = parse_addresses(text)
    if len(found) != 1:
        raise UsageError(f"expected one email address, got {text!r}")
    return found[0].email or ""
