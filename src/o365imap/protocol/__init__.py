"""The sans-I/O IMAP core: bytes in, typed events out; commands in, bytes out.

Nothing in this package opens a socket, reads a clock or imports anything outside the standard
library and o365imap's models and errors. (RFC 3501 throughout; RFC 7888 LITERAL+, RFC 6154
SPECIAL-USE, RFC 2342 NAMESPACE, RFC 7628 OAUTHBEARER.)
"""

from o365imap.protocol.commands import (
    Atom,
    Command,
    Literal,
    Raw,
    SequenceSet,
    TagGenerator,
    encode_astring,
    quote,
)
from o365imap.protocol.events import (
    Continuation,
    Event,
    Fetch,
    LiteralData,
    LiteralEnded,
    LiteralStarted,
    Tagged,
    Unparsed,
    Untagged,
)
from o365imap.protocol.lexer import parse_number, parse_values
from o365imap.protocol.parser import ResponseParser, parse_bodystructure, parse_envelope
from o365imap.protocol.session import ImapSession, SessionState
from o365imap.protocol.utf7 import decode_utf7, encode_utf7

__all__ = [
    "Atom",
    "Command",
    "Continuation",
    "Event",
    "Fetch",
    "ImapSession",
    "Literal",
    "LiteralData",
    "LiteralEnded",
    "LiteralStarted",
    "Raw",
    "ResponseParser",
    "SequenceSet",
    "SessionState",
    "TagGenerator",
    "Tagged",
    "Unparsed",
    "Untagged",
    "decode_utf7",
    "encode_astring",
    "encode_utf7",
    "parse_bodystructure",
    "parse_envelope",
    "parse_number",
    "parse_values",
    "quote",
]
