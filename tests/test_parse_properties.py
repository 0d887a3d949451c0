"""Property tests for the IMAP parser.

We generate envelopes and body structures, serialise them to IMAP bytes ourselves (quoted strings
with ``"`` and ``\\`` escaped, ``{n}`` literals, NIL, RFC 2047 encoded-words in many charsets,
groups, source routes, NIL elements inside address lists, ``()`` for an empty list, missing
trailing fields) and require ``parse_envelope`` / ``parse_bodystructure`` to give back exactly
what we meant. ``ResponseParser`` must produce the same events however the bytes are split.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from conftest import examples
from fixtures_imap import BODY_CASES, ENVELOPE_CASES, events_in_chunks, events_whole
from o365imap.models import Address, Group
from o365imap.protocol import Fetch, parse_bodystructure, parse_envelope

SETTINGS = settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ENVELOPE_FIELDS = (
    "date",
    "raw_date",
    "subject",
    "from_",
    "sender",
    "reply_to",
    "to",
    "cc",
    "bcc",
    "in_reply_to",
    "message_id",
)

# --------------------------------------------------------------------------------------------
# wire helpers
# --------------------------------------------------------------------------------------------


def quoted(data: bytes) -> bytes:
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def literal(data: bytes) -> bytes:
    return b"{%d}\r\n" % len(data) + data


@st.composite
def wire(draw: st.DrawFn, text: str | None) -> bytes:
    """NIL, a quoted string or (one time in five) a literal, UTF-8."""
    if text is None:
        return b"NIL"
    data = text.encode("utf-8")
    if draw(st.integers(0, 4)) == 0:
        return literal(data)
    return quoted(data)


def join_items(draw: st.DrawFn, tokens: list[bytes]) -> bytes:
    """Parenthesised items; between two structures the space is optional (Dovecot omits it)."""
    out = b"("
    for i, token in enumerate(tokens):
        if i:
            previous = tokens[i - 1]
            if previous.endswith(b")") and token.startswith(b"("):
                out += draw(st.sampled_from([b"", b" "]))
            else:
                out += b" "
        out += token
    return out + b")"


# --------------------------------------------------------------------------------------------
# text: raw, or RFC 2047 encoded-words in many charsets
# --------------------------------------------------------------------------------------------

TEXT = (
    st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=30)
    .map(str.strip)
    .filter(lambda s: bool(s) and "=?" not in s)
)

CHARSETS = (
    "utf-8",
    "UTF-8",
    "iso-8859-1",
    "ISO-8859-2",
    "iso-8859-15",
    "windows-1251",
    "windows-1252",
    "koi8-r",
    "gbk",
    "big5",
    "shift_jis",
)


# Mail readers decode some labels as the superset senders really use (as the WHATWG Encoding
# Standard does): only text on which label and superset agree has one right answer.
SUPERSETS = {
    "iso-8859-1": "cp1252",
    "gbk": "gb18030",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
}


def round_trips(text: str, charset: str) -> bool:
    codecs_ = {charset.lower(), SUPERSETS.get(charset.lower(), charset.lower())}
    try:
        data = text.encode(charset)
        return all(data.decode(codec) == text for codec in codecs_)
    except (UnicodeError, LookupError):
        return False


def q_encode(data: bytes) -> str:
    out = []
    for byte in data:
        if chr(byte).isascii() and chr(byte).isalnum():
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("_")
        else:
            out.append(f"={byte:02X}")
    return "".join(out)


@st.composite
def encoded_words(draw: st.DrawFn, text: str) -> str:
    """``text`` as 1..4 adjacent encoded-words (split on characters), B or Q, any case."""
    charset = draw(st.sampled_from([cs for cs in CHARSETS if round_trips(text, cs)]))
    cuts: list[int] = []
    if len(text) > 1:
        cuts = sorted(set(draw(st.lists(st.integers(1, len(text) - 1), max_size=3))))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    words = []
    for piece in pieces:
        data = piece.encode(charset)
        if draw(st.booleans()):
            letter = draw(st.sampled_from("Bb"))
            words.append(f"=?{charset}?{letter}?{base64.b64encode(data).decode()}?=")
        else:
            letter = draw(st.sampled_from("Qq"))
            words.append(f"=?{charset}?{letter}?{q_encode(data)}?=")
    return " ".join(words)


@st.composite
def phrase(draw: st.DrawFn, prefixes: bool = False) -> tuple[bytes, str | None]:
    """(wire bytes, decoded text): NIL, raw text, or encoded-words (maybe after "Re: ")."""
    kind = draw(st.sampled_from(["nil", "raw", "encoded", "encoded"]))
    if kind == "nil":
        return b"NIL", None
    text = draw(TEXT)
    if kind == "raw":
        spaces = [i for i, c in enumerate(text) if c == " "]
        if spaces and draw(st.integers(0, 4)) == 0:
            # a folded header line, CRLF kept: only a literal can carry it; unfolding (RFC 5322
            # section 2.2.3) removes the CRLF and gives the text back
            i = draw(st.sampled_from(spaces))
            return literal((text[:i] + "\r\n" + text[i:]).encode("utf-8")), text
        return draw(wire(text)), text
    prefix = draw(st.sampled_from(["", "Re: ", "AW: ", "Fwd: "])) if prefixes else ""
    # encoded-words hold no spaces; the whitespace between them (folded or not) is not text
    separator = draw(st.sampled_from([" ", " ", " ", "\r\n ", "\r\n\t"]))
    value = prefix + draw(encoded_words(text)).replace(" ", separator)
    if "\r\n" in value:
        return literal(value.encode("utf-8")), prefix + text
    return draw(wire(value)), prefix + text


# --------------------------------------------------------------------------------------------
# addresses
# --------------------------------------------------------------------------------------------

HOST = st.one_of(
    st.from_regex(
        r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?"
        r"(\.[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?){0,3}",
        fullmatch=True,
    ),
    st.sampled_from(["MISSING_DOMAIN", "EXAMPLE.EDU", "unknown-domain"]),
)
LOCAL = st.one_of(
    st.from_regex(
        r"[A-Za-z0-9!#$%&'*+/=^_`{|}~-]{1,12}"
        r"(\.[A-Za-z0-9!#$%&'*+/=^_`{|}~-]{1,8}){0,2}",
        fullmatch=True,
    ),
    # a quoted local part, quotes included, as Yahoo's "\"undisclosed-recipients\""
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=12).map(
        lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    ),
)
ROUTE = st.one_of(
    st.none(), st.lists(HOST, min_size=1, max_size=3).map(lambda hs: ",".join("@" + h for h in hs))
)
GROUP_NAME = st.from_regex(
    r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,14}[A-Za-z0-9]|[A-Za-z0-9]", fullmatch=True
)


@st.composite
def address(draw: st.DrawFn) -> tuple[bytes, Address]:
    name_wire, name = draw(phrase())
    route, mailbox, host = draw(ROUTE), draw(LOCAL), draw(HOST)
    tokens = [name_wire, draw(wire(route)), draw(wire(mailbox)), draw(wire(host))]
    # Dovecot's placeholder for a missing domain decodes to no domain
    decoded_host = None if host == "MISSING_DOMAIN" else host
    return b"(" + b" ".join(tokens) + b")", Address(name, mailbox, decoded_host, route)


@st.composite
def group(draw: st.DrawFn) -> tuple[bytes, Group]:
    name = draw(GROUP_NAME)
    members = draw(st.lists(address(), max_size=3))
    tokens = [b"(NIL NIL " + draw(wire(name)) + b" NIL)"]
    tokens += [w for w, _ in members]
    tokens.append(b"(NIL NIL NIL NIL)")
    body = join_items(draw, tokens)[1:-1]  # the group is a run of items inside the list
    return body, Group(name, tuple(a for _, a in members))


@st.composite
def address_list(draw: st.DrawFn) -> tuple[bytes, tuple[Address | Group, ...]]:
    kind = draw(st.sampled_from(["nil", "empty", "only-nil", "list", "list", "list"]))
    if kind == "nil":
        return b"NIL", ()
    if kind == "empty":
        return b"()", ()
    if kind == "only-nil":
        return b"(NIL)", ()
    entries = draw(st.lists(st.one_of(address(), address(), group()), min_size=1, max_size=4))
    tokens = [w for w, _ in entries]
    for _ in range(draw(st.integers(0, 2))):  # NIL elements inside the list are dropped
        tokens.insert(draw(st.integers(0, len(tokens))), b"NIL")
    return join_items(draw, tokens), tuple(v for _, v in entries)


# --------------------------------------------------------------------------------------------
# envelopes
# --------------------------------------------------------------------------------------------

OFFSETS = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
GARBAGE_DATES = ("wtf", "not a date", "32 Foo 2020 25:61:61 +0000", "yesterday, 5pm")
MSGID = st.builds(
    lambda local, host: f"<{local}@{host}>",
    st.from_regex(r'[A-Za-z0-9.$%_"\\-]{1,20}', fullmatch=True),
    HOST,
)


@st.composite
def date_field(draw: st.DrawFn) -> tuple[bytes, datetime | None, bytes | None]:
    kind = draw(st.sampled_from(["nil", "date", "date", "date", "garbage"]))
    if kind == "nil":
        return b"NIL", None, None
    if kind == "garbage":
        text = draw(st.sampled_from(GARBAGE_DATES))
        return draw(wire(text)), None, text.encode()
    value = draw(
        st.datetimes(
            min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31), timezones=OFFSETS
        )
    ).replace(microsecond=0)
    text = format_datetime(value)
    text += draw(st.sampled_from(["", "", " (UTC)", " (CEST)", " (Pacific Standard Time)"]))
    return draw(wire(text)), value, text.encode()


@st.composite
def envelopes(draw: st.DrawFn, truncate: bool = True) -> tuple[bytes, dict[str, Any]]:
    date_wire, date, raw_date = draw(date_field())
    subject_wire, subject = draw(phrase(prefixes=True))
    lists = [draw(address_list()) for _ in range(6)]
    in_reply_to = draw(st.one_of(st.none(), MSGID))
    message_id = draw(st.one_of(st.none(), MSGID))
    fields = [date_wire, subject_wire, *(w for w, _ in lists)]
    fields += [draw(wire(in_reply_to)), draw(wire(message_id))]
    if truncate and message_id is None and draw(st.booleans()):
        fields.pop()  # 9 fields
        if in_reply_to is None and draw(st.booleans()):
            fields.pop()  # 8 fields
    raw = b"(" + draw(st.sampled_from([b"", b" "])) + b" ".join(fields) + b")"
    expected: dict[str, Any] = {
        "date": date,
        "raw_date": raw_date,
        "subject": subject,
        "in_reply_to": in_reply_to,
        "message_id": message_id,
    }
    for name, (_, value) in zip(
        ("from_", "sender", "reply_to", "to", "cc", "bcc"), lists, strict=True
    ):
        expected[name] = value
    return raw, expected


def envelope_problems(env: object, expected: dict[str, Any]) -> list[str]:
    problems = []
    for name in ENVELOPE_FIELDS:
        got, want = getattr(env, name, "<missing>"), expected[name]
        if isinstance(want, datetime):
            if not (
                isinstance(got, datetime) and got == want and got.utcoffset() == want.utcoffset()
            ):
                problems.append(f"{name}: {got!r} != {want!r}")
        elif got != want:
            problems.append(f"{name}: {got!r} != {want!r}")
    return problems


@SETTINGS
@given(envelopes())
def test_envelope_round_trip(case: tuple[bytes, dict[str, Any]]) -> None:
    raw, expected = case
    note(f"raw = {raw!r}")
    problems = envelope_problems(parse_envelope(raw), expected)
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------------------------
# body structures
# --------------------------------------------------------------------------------------------

SINGLE_TYPES = (
    ("text", "plain"),
    ("text", "html"),
    ("application", "pdf"),
    ("application", "octet-stream"),
    ("application", "vnd.ms-excel"),
    ("image", "png"),
    ("audio", "mpeg"),
    ("message", "delivery-status"),
)
MULTI_SUBTYPES = ("mixed", "alternative", "related", "report", "signed", "digest")
ENCODINGS = ("7bit", "8BIT", "base64", "BASE64", "quoted-printable", "QUOTED-PRINTABLE", "binary")
PARAM_KEYS = ("charset", "format", "name", "delsp", "x-mac-type", "type", "report-type")
DSP_PARAM_KEYS = ("filename", "size", "creation-date", "modification-date")
VALUE = (
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=20)
    .map(str.strip)
    .filter(lambda s: bool(s) and "=?" not in s)
)


def recase(draw: st.DrawFn, word: str) -> str:
    return draw(st.sampled_from([word, word.upper(), word.capitalize()]))


@st.composite
def param_list(
    draw: st.DrawFn, keys: tuple[str, ...], name_key: str
) -> tuple[bytes, dict[str, str]]:
    """NIL or ("key" "value" ...); the name/filename value may be RFC 2047 encoded."""
    chosen = draw(st.lists(st.sampled_from(keys), unique=True, max_size=3))
    if not chosen and draw(st.booleans()):
        return b"NIL", {}
    tokens, expected = [], {}
    for key in chosen:
        if key == name_key and draw(st.booleans()):
            text = draw(TEXT)
            value_wire = draw(wire(draw(encoded_words(text))))
        else:
            text = draw(VALUE)
            value_wire = draw(wire(text))
        tokens += [draw(wire(recase(draw, key))), value_wire]
        expected[key] = text
    return b"(" + b" ".join(tokens) + b")", expected


@st.composite
def disposition(draw: st.DrawFn) -> tuple[bytes, str | None, dict[str, str]]:
    if draw(st.booleans()):
        return b"NIL", None, {}
    kind = draw(st.sampled_from(["attachment", "inline"]))
    params_wire, params = draw(param_list(DSP_PARAM_KEYS, "filename"))
    return b"(" + draw(wire(recase(draw, kind))) + b" " + params_wire + b")", kind, params


@st.composite
def language(draw: st.DrawFn) -> tuple[bytes, tuple[str, ...]]:
    tags = draw(st.lists(st.sampled_from(["en", "en-US", "de-DE", "fi", "pl", "la"]), max_size=3))
    if not tags:
        return b"NIL", ()
    if len(tags) == 1 and draw(st.booleans()):
        return draw(wire(tags[0])), (tags[0],)  # a bare string, as Office 365 sends
    return b"(" + b" ".join([draw(wire(t)) for t in tags]) + b")", tuple(tags)


EXTENSION = st.sampled_from([b"NIL", b"42", b'"x-ext"', b'("x" 1 ("y" NIL))'])


@st.composite
def extension_fields(
    draw: st.DrawFn, first: tuple[bytes, dict[str, Any]]
) -> tuple[list[bytes], dict[str, Any]]:
    """The optional tail: ``first`` (md5 or multipart params), dsp, lang, loc, extensions."""
    count = draw(st.integers(0, 5))
    expected: dict[str, Any] = {
        "disposition": None,
        "disposition_params": {},
        "language": (),
        "location": None,
    }
    tokens: list[bytes] = []
    if count >= 1:
        tokens.append(first[0])
        expected.update(first[1])
    if count >= 2:
        dsp_wire, dsp, dsp_params = draw(disposition())
        tokens.append(dsp_wire)
        expected["disposition"], expected["disposition_params"] = dsp, dsp_params
    if count >= 3:
        lang_wire, lang = draw(language())
        tokens.append(lang_wire)
        expected["language"] = lang
    if count >= 4:
        location = draw(st.one_of(st.none(), st.just("http://example.com/a b/c.txt")))
        tokens.append(draw(wire(location)))
        expected["location"] = location
    if count >= 5:
        tokens += draw(st.lists(EXTENSION, min_size=1, max_size=2))
    return tokens, expected


def filename_of(node: dict[str, Any]) -> str | None:
    return node["disposition_params"].get("filename") or node["params"].get("name") or None


@st.composite
def body(
    draw: st.DrawFn, part: str, depth: int, shape: str = "any"
) -> tuple[bytes, list[dict[str, Any]]]:
    """Serialised body at ``part`` and the expected walk() of it, node by node.

    ``shape``: "multi", "leaf" (a basic or text part), "nonmulti" (leaf or message/rfc822) or
    "any". Below depth 3 everything is a leaf, which bounds the tree.
    """
    if depth >= 3 and shape != "multi":
        kind = "single"
    elif shape == "multi":
        kind = "multi"
    elif shape == "leaf":
        kind = "single"
    elif shape == "nonmulti":
        kind = draw(st.sampled_from(["single", "single", "rfc822"]))
    else:
        kind = draw(st.sampled_from(["single", "single", "multi", "rfc822"]))

    if kind == "multi":
        n = draw(st.integers(1, 3))
        children = [
            draw(body(f"{part}.{i}" if part else str(i), depth + 1)) for i in range(1, n + 1)
        ]
        subtype = draw(st.sampled_from(MULTI_SUBTYPES))
        params_wire, params = draw(param_list(("boundary", "type", "report-type"), ""))
        tail, multi = draw(extension_fields((params_wire, {"params": params})))
        multi.setdefault("params", {})
        multi.update(part=part, content_type=f"multipart/{subtype}", encoding="")
        multi.update(id=None, description=None, size=None, lines=None, md5=None)
        multi["filename"] = filename_of(multi)
        tokens = [w for w, _ in children] + [draw(wire(recase(draw, subtype))), *tail]
        walk = [multi]
        for _, child_walk in children:
            walk += child_walk
        return join_items(draw, tokens), walk

    node: dict[str, Any] = {"part": part}
    if kind == "rfc822":
        maintype, subtype = "message", "rfc822"
    else:
        maintype, subtype = draw(st.sampled_from(SINGLE_TYPES))
    params_wire, params = draw(param_list(PARAM_KEYS, "name"))
    content_id = draw(st.one_of(st.none(), MSGID))
    description = draw(st.one_of(st.none(), TEXT))
    encoding = draw(st.sampled_from(ENCODINGS))
    size = draw(st.integers(0, 2**31))
    tokens = [
        draw(wire(recase(draw, maintype))),
        draw(wire(recase(draw, subtype))),
        params_wire,
        draw(wire(content_id)),
        draw(wire(description)),
        draw(wire(encoding)),
        b"%d" % size,
    ]
    node.update(
        content_type=f"{maintype}/{subtype}",
        params=params,
        id=content_id,
        description=description,
        encoding=encoding.lower(),
        size=size,
        lines=None,
    )
    inner: list[dict[str, Any]] = []
    if kind == "rfc822":
        env_raw, env_expected = draw(envelopes(truncate=False))
        if draw(st.booleans()):  # a multipart body keeps the message's own part number
            body_raw, inner = draw(body(part, depth + 1, "multi"))
        else:
            body_raw, inner = draw(body(f"{part}.1", depth + 1, "nonmulti"))
        lines = draw(st.integers(0, 10**6))
        tokens += [env_raw, body_raw, b"%d" % lines]
        node.update(lines=lines, envelope=env_expected)
    elif maintype == "text":
        lines = draw(st.integers(0, 10**6))
        tokens.append(b"%d" % lines)
        node["lines"] = lines
    md5 = draw(st.one_of(st.none(), st.just("Q2hlY2sgSW50ZWdyaXR5IQ==")))
    tail, extra = draw(extension_fields((draw(wire(md5)), {"md5": md5})))
    extra.setdefault("md5", None)
    node.update(extra)
    node["filename"] = filename_of(node)
    return b"(" + b" ".join(tokens + tail) + b")", [node, *inner]


@st.composite
def bodystructures(draw: st.DrawFn) -> tuple[bytes, list[dict[str, Any]]]:
    if draw(st.booleans()):
        return draw(body("", 0, "multi"))  # a multipart message: root ""
    return draw(body("1", 0, "leaf"))  # a single-part message: root "1"


NODE_FIELDS = (
    "part",
    "content_type",
    "params",
    "id",
    "description",
    "size",
    "lines",
    "md5",
    "disposition",
    "disposition_params",
    "language",
    "location",
    "filename",
)


@SETTINGS
@given(bodystructures())
def test_bodystructure_round_trip(case: tuple[bytes, list[dict[str, Any]]]) -> None:
    raw, expected = case
    note(f"raw = {raw!r}")
    got = list(parse_bodystructure(raw).walk())
    assert [(n.part, n.content_type) for n in got] == [
        (e["part"], e["content_type"]) for e in expected
    ]
    problems = []
    for node, want in zip(got, expected, strict=True):
        where = f"part {want['part']!r} ({want['content_type']})"
        for name in NODE_FIELDS:
            value = getattr(node, name)
            if name.endswith("params"):
                value = dict(value)
            if value != want[name]:
                problems.append(f"{where} {name}: {value!r} != {want[name]!r}")
        if (node.encoding or "").lower() != want["encoding"]:
            problems.append(f"{where} encoding: {node.encoding!r} != {want['encoding']!r}")
        if "envelope" in want:
            problems += [
                f"{where} envelope {p}" for p in envelope_problems(node.envelope, want["envelope"])
            ]
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------------------------
# ResponseParser: any split of the bytes gives the same events
# --------------------------------------------------------------------------------------------


def interesting_cuts(data: bytes) -> list[int]:
    """Positions around literal headers, CRLFs, quotes and backslashes."""
    cuts: set[int] = set()
    for i, byte in enumerate(data):
        if byte in b'{}\r\n"\\':
            cuts.update((i, i + 1))
    return sorted(c for c in cuts if 0 < c < len(data))


BODY_RAWS = [c.raw for c in BODY_CASES]
ENVELOPE_RAWS = [c.raw for c in ENVELOPE_CASES]


@SETTINGS
@given(
    st.one_of(envelopes().map(lambda case: case[0]), st.sampled_from(ENVELOPE_RAWS)),
    st.one_of(bodystructures().map(lambda case: case[0]), st.sampled_from(BODY_RAWS)),
    st.data(),
)
def test_response_parser_any_chunking(
    envelope_raw: bytes, body_raw: bytes, data: st.DataObject
) -> None:
    stream = (
        b"* 3 FETCH (UID 42 FLAGS (\\Seen) ENVELOPE "
        + envelope_raw
        + b" BODYSTRUCTURE "
        + body_raw
        + b")\r\n* 4 FETCH (UID 43 RFC822.SIZE 2048 ENVELOPE "
        + envelope_raw
        # the message listing's own item order
        + b")\r\n* 5 FETCH (UID 44 FLAGS (\\Seen $MDNSent) RFC822.SIZE 2048 INTERNALDATE"
        b' "17-Jul-1996 02:44:25 -0700" ENVELOPE ' + envelope_raw + b")\r\nA7 OK FETCH done\r\n"
    )
    note(f"stream = {stream!r}")
    candidates = st.one_of(
        st.integers(1, len(stream) - 1), st.sampled_from(interesting_cuts(stream))
    )
    cuts = sorted(set(data.draw(st.lists(candidates, max_size=40), label="cuts")))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    whole = events_whole(stream)
    assert [type(e).__name__ for e in whole] == ["Fetch", "Fetch", "Fetch", "Tagged"]
    assert events_in_chunks(chunks) == whole
    first, second, third, _ = whole
    assert isinstance(first, Fetch) and isinstance(second, Fetch) and isinstance(third, Fetch)
    expected = parse_envelope(envelope_raw)
    assert first.items["ENVELOPE"] == expected
    assert first.items["BODYSTRUCTURE"] == parse_bodystructure(body_raw)
    assert second.items["ENVELOPE"] == expected
    assert third.items["ENVELOPE"] == expected
    assert third.items["FLAGS"] == ("\\Seen", "$MDNSent")
