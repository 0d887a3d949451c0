"""Header text as mail really carries it: RFC 2047 encoded words, RFC 2231 parameters, dates.

Everything here is lenient by design: real messages mislabel charsets, split multi-byte
characters across encoded words, put raw 8-bit bytes in headers, and write dates every way
RFC 5322 forbids. Each function returns the best text it can and never raises on bad input.
The hot paths (plain ASCII, a well-formed date) are checked first because a listing decodes
tens of thousands of these per second.
"""

from __future__ import annotations

import binascii
import codecs
import re
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import unquote_to_bytes

__all__ = [
    "MONTHS",
    "decode_2047",
    "decode_bytes",
    "decode_param_value",
    "decode_params",
    "parse_header_date",
    "parse_internal_date",
]

# Labels that Python's codecs lack or that mail uses for a superset of what they name.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cn-gb": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "windows-874": "cp874",
    "unicode-1-1-utf-7": "utf-7",
    "iso-2022-jp": "iso2022_jp_2",
    "utf8": "utf-8",
    # Mislabelled 8-bit text under an ASCII label is far more often UTF-8 than anything else.
    "ascii": "utf-8",
    "us-ascii": "utf-8",
    "iso-8859-1": "cp1252",  # what senders labelled Latin-1 is nearly always Windows-1252
    "latin1": "cp1252",
    "x-user-defined": "cp1252",
}

_codec_cache: dict[str, str | None] = {}


# Codecs that are not character sets, or that can turn bytes into lone surrogates: a
# message must not be able to pick one by naming it in a header. idna and punycode spell
# domain names, not text (punycode makes "bücher" of "bcher-kva"), and know no "replace".
_NOT_CHARSETS = {"undefined", "unicode_escape", "raw_unicode_escape", "utf_7", "idna", "punycode"}
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _codec(charset: str) -> str | None:
    """Python codec name for a MIME charset label, or None if unknown or not a charset."""
    label = charset.strip().strip('"').lower()
    try:
        return _codec_cache[label]
    except KeyError:
        pass
    name: str | None = _CHARSET_ALIASES.get(label, label)
    try:
        info = codecs.lookup(name)  # type: ignore[arg-type]
    except (LookupError, TypeError, ValueError):
        name = None
    else:
        # hex, base64, zlib, rot13 ... are codecs too, but not text encodings.
        canonical = info.name.replace("-", "_")
        if not getattr(info, "_is_text_encoding", True) or canonical in _NOT_CHARSETS:
            name = "utf-7" if canonical == "utf_7" else None
    if len(_codec_cache) < 512:
        _codec_cache[label] = name
    return name


def decode_bytes(raw: bytes, charset: str | None = None) -> str:
    """Text from bytes of a stated (maybe wrong) charset: stated, then UTF-8, then Windows-1252.

    Never raises, and never returns lone surrogates (they cannot be written as UTF-8).
    """
    if charset:
        codec = _codec(charset)
        if codec is not None:
            text = _decode_as(raw, codec)
            if text is not None:
                return text
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def _decode_as(raw: bytes, codec: str) -> str | None:
    """``raw`` in ``codec``, bad bytes replaced; None to let the UTF-8/Windows-1252 guess decide.

    A stated UTF-8 or Windows-1252 that does not fit is a mislabel, so the guess gets it. A
    codec that cannot replace (``_NOT_CHARSETS`` keeps out the ones known) gets the guess too:
    whatever a header names, the caller gets text.
    """
    try:
        text = raw.decode(codec)
    except UnicodeError:
        if codec in ("utf-8", "cp1252"):
            return None
        try:
            text = raw.decode(codec, "replace")
        except UnicodeError:
            return None
    return _SURROGATE.sub("\ufffd", text) if codec == "utf-7" else text


# charset, optional RFC 2231 language, encoding, text. The text may hold spaces and quotes
# because broken senders put them there; '?=' still ends it.
_ENCODED_WORD = re.compile(rb"=\?([^?\s*]+)(?:\*[^?]*)?\?([QqBb])\?(.*?)\?=", re.S)
_FOLDING = re.compile(rb"\r?\n(?=[ \t])")


def _decode_word_bytes(encoding: bytes, text: bytes) -> bytes:
    if encoding in b"Qq":
        return binascii.a2b_qp(text, header=True)
    text = text.strip()
    text += b"=" * (-len(text) % 4)
    try:
        return binascii.a2b_base64(text)
    except binascii.Error:
        return b""


# Decoded encoded words by their raw bytes. A mailbox repeats a few hundred display names (in
# one or two encodings each) over thousands of distinct addresses, and threads repeat subjects:
# decoding each once saves most of their cost. Bounded: cleared when full.
_DECODED: dict[bytes, str] = {}
_DECODED_MAX = 8192
_DECODED_LONGEST = 512  # bytes: memory stays under a few MB whatever the headers hold


def decode_2047(raw: bytes | bytearray) -> str:
    """Decode a header value with RFC 2047 encoded words (and raw 8-bit bytes) to text.

    Adjacent encoded words of one charset are joined as bytes before decoding, so a multi-byte
    character split between two words survives; whitespace between encoded words is dropped
    (RFC 2047 section 6.2). Never raises.
    """
    if type(raw) is not bytes:
        raw = bytes(raw)  # a bytearray cannot key the memo, nor pass the compiled build's checks
    if b"\n" in raw:
        raw = _FOLDING.sub(b"", raw)  # unfold (RFC 5322 2.2.3): the CRLF goes, the space stays
    if b"=?" not in raw:
        if raw.isascii():
            return raw.decode("ascii")
        return decode_bytes(raw)
    if len(raw) > _DECODED_LONGEST:
        return _decode_encoded_words(raw)  # hostile sizes are not kept
    text = _DECODED.get(raw)
    if text is None:
        text = _decode_encoded_words(raw)
        if len(_DECODED) >= _DECODED_MAX:
            _DECODED.clear()
        _DECODED[raw] = text
    return text


def _decode_encoded_words(raw: bytes) -> str:
    """``decode_2047`` of an unfolded value that holds ``=?`` (not memoized)."""
    # split() gives [text, charset, encoding, payload, text, charset, ...] in one C call.
    parts = _ENCODED_WORD.split(raw)
    if len(parts) == 1:
        return decode_bytes(raw)
    out: list[str] = []
    if parts[0]:
        out.append(decode_bytes(parts[0]))
    charset = parts[1].lower()
    pending = _decode_word_bytes(parts[2], parts[3])
    for i in range(4, len(parts), 4):
        between = parts[i]
        if i + 1 == len(parts):  # the text after the last encoded word
            out.append(decode_bytes(pending, charset.decode("ascii", "replace")))
            if between:
                out.append(decode_bytes(between))
            return "".join(out)
        next_charset = parts[i + 1].lower()
        word = _decode_word_bytes(parts[i + 2], parts[i + 3])
        if next_charset == charset and (not between or between.isspace()):
            pending += word
            continue
        out.append(decode_bytes(pending, charset.decode("ascii", "replace")))
        if between and not between.isspace():
            out.append(decode_bytes(between))
        charset, pending = next_charset, word
    out.append(decode_bytes(pending, charset.decode("ascii", "replace")))
    return "".join(out)


def decode_param_value(value: bytes) -> str:
    """A MIME parameter value that may be an RFC 2047 encoded word (common for file names)."""
    return decode_2047(value)


# name*0, name*0*, name* (RFC 2231 sections 3 and 4)
_CONTINUATION = re.compile(r"^(?P<name>[^*]+)(?:\*(?P<index>\d+))?(?P<star>\*)?$")


def decode_params(pairs: list[tuple[bytes, bytes | None]]) -> dict[str, str]:
    """Parameters with lower-case names, RFC 2231 continuations joined and charsets decoded.

    ``name*0*=utf-8''%E3%81%8B; name*1*=%E3%81%8D`` becomes ``name=かき``; plain values may be
    RFC 2047 encoded words (not allowed, but what Outlook sends for file names). A NIL value
    becomes the empty string (Exchange sends NIL for ``name=""``).
    """
    plain: dict[str, str] = {}
    extended: dict[str, list[tuple[tuple[int, str], bool, bytes]]] = {}
    for raw_name, raw_value in pairs:
        name = raw_name.decode("ascii", "replace").strip().lower()
        value = raw_value or b""
        match = _CONTINUATION.match(name)
        if match is None or (match.group("index") is None and match.group("star") is None):
            if name not in plain:
                plain[name] = decode_2047(value)
            continue
        # The index only orders the pieces. Compared as digits (fewer digits first), an index
        # of any length orders without int(), which refuses more than 4,300 digits.
        digits = (match.group("index") or "0").lstrip("0")
        extended.setdefault(match.group("name"), []).append(
            ((len(digits), digits), match.group("star") is not None, value)
        )
    for name, parts in extended.items():
        parts.sort(key=lambda p: p[0])
        charset = ""
        buffer = bytearray()
        for i, (_index, encoded, piece) in enumerate(parts):
            if encoded:
                text = piece
                if i == 0 and piece.count(b"'") >= 2:
                    charset_b, _lang, text = piece.split(b"'", 2)
                    charset = charset_b.decode("ascii", "replace")
                buffer += unquote_to_bytes(text)
            else:
                buffer += piece
        # RFC 2231 wins over a plain parameter of the same name: it is the better-specified one.
        plain[name] = decode_bytes(bytes(buffer), charset or None)
    return plain


# ---------------------------------------------------------------- dates

_TZ_CACHE: dict[int, timezone] = {0: UTC}


def _tz(minutes: int) -> timezone:
    tz = _TZ_CACHE.get(minutes)
    if tz is None:
        tz = timezone(timedelta(minutes=minutes))
        _TZ_CACHE[minutes] = tz
    return tz


_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_ZONES = {
    "ut": 0, "utc": 0, "gmt": 0, "z": 0,
    "est": -300, "edt": -240, "cst": -360, "cdt": -300,
    "mst": -420, "mdt": -360, "pst": -480, "pdt": -420,
}  # fmt: skip

_HEADER_DATE = re.compile(
    rb"\s*(?:[A-Za-z]+,?\s*)?(\d{1,2})[\s-]+([A-Za-z]{3})[A-Za-z]*\.?[\s-]+(\d{2,4})\s+"
    rb"(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:\.\d+)?\s*(?:([+-])(\d\d):?(\d\d)|([A-Za-z]{1,5}))?"
)


# The shape nearly every server and mailer writes; it goes straight to fromisoformat (C code).
_COMMON_DATE = re.compile(
    rb"(?:[A-Za-z]{3}, )?(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d\d:\d\d:\d\d) ([+-]\d\d)(\d\d)"
    rb"(?: \([^)]*\))?\s*\Z"
)
# RFC 3501 and RFC 5322 month names: English whatever the locale.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_DIGITS = {m.encode(): f"{i + 1:02d}" for i, m in enumerate(MONTHS)}


def parse_header_date(raw: bytes | None) -> datetime | None:
    """An RFC 5322 Date header as an aware datetime, or None when it cannot be read.

    A missing or unknown zone is taken as UTC (RFC 5322 section 3.3: ``-0000`` means no zone
    information); two-digit years follow RFC 5322 section 4.3.
    """
    if not raw:
        return None
    if len(raw) == 31 and raw[3:5] == b", " and raw[16] == 0x20 and raw[25] == 0x20:
        # "Mon, 07 Jan 2019 10:09:31 +0000", as nearly every mailer writes it: no regex.
        month = _MONTH_DIGITS.get(raw[8:11])
        if month is not None:
            text = raw.decode("ascii", "replace")
            try:
                return datetime.fromisoformat(
                    f"{text[12:16]}-{month}-{text[5:7]}T{text[17:25]}{text[26:29]}:{text[29:31]}"
                )
            except ValueError:
                pass
    common = _COMMON_DATE.match(raw)
    if common is not None:
        day, mon, year, clock, zh, zm = common.groups()
        month = _MONTH_DIGITS.get(mon)
        if month is not None:
            try:
                return datetime.fromisoformat(
                    f"{year.decode()}-{month}-{int(day):02d}T{clock.decode()}"
                    f"{zh.decode()}:{zm.decode()}"
                )
            except ValueError:
                return None
    return _parse_date_general(raw)


def _parse_date_general(raw: bytes) -> datetime | None:
    match = _HEADER_DATE.match(raw)
    if match is not None:
        day, mon, year, hh, mm, ss, sign, zh, zm, zname = match.groups()
        month = _MONTHS.get(mon.lower().decode("ascii"))
        if month is not None:
            y = int(year)
            if len(year) <= 2 or y < 100:
                y += 2000 if y < 50 else 1900
            if sign is not None:
                offset = int(zh) * 60 + int(zm)
                if sign == b"-":
                    offset = -offset
            elif zname is not None:
                offset = _ZONES.get(zname.lower().decode("ascii"), 0)
            else:
                offset = 0
            try:
                return datetime(
                    y, month, int(day), int(hh), int(mm), int(ss or 0), tzinfo=_tz(offset)
                )
            except (ValueError, OverflowError):
                return None
    return _parse_date_fallback(raw)


def _parse_date_fallback(raw: bytes) -> datetime | None:
    from email.utils import parsedate_tz  # noqa: PLC0415 - rarely needed: 2 ms at start-up

    try:
        parsed = parsedate_tz(raw.decode("ascii", "replace"))
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    try:
        offset = (parsed[9] or 0) // 60
        return datetime(*parsed[:6], tzinfo=_tz(offset))
    except (ValueError, OverflowError, TypeError):
        return None


_INTERNAL_DATE = re.compile(
    rb"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\s*\Z"
)


def parse_internal_date(raw: bytes | None) -> datetime | None:
    """INTERNALDATE (``17-Jul-1996 02:44:25 -0700``, RFC 3501 section 9) or None if malformed."""
    if not raw:
        return None
    if len(raw) == 26 and raw[2] == 0x2D:  # the fixed layout: straight to fromisoformat
        month = _MONTH_DIGITS.get(raw[3:6])
        if month is not None:
            text = raw.decode("ascii", "replace")  # one character per byte, bad ones too
            mday = text[0:2].strip()
            try:
                return datetime.fromisoformat(
                    f"{text[7:11]}-{month}-{mday:0>2}T{text[12:20]}{text[21:24]}:{text[24:26]}"
                )
            except ValueError:
                pass
    match = _INTERNAL_DATE.match(raw)
    if match is None:
        return parse_header_date(raw)
    day, mon, year, hh, mm, ss, sign, zh, zm = match.groups()
    month_number = _MONTHS.get(mon.lower().decode("ascii"))
    if month_number is None:
        return None
    offset = int(zh) * 60 + int(zm)
    if sign == b"-":
        offset = -offset
    try:
        return datetime(
            int(year), month_number, int(day), int(hh), int(mm), int(ss), tzinfo=_tz(offset)
        )
    except (ValueError, OverflowError):
        return None
