"""A realistic international mailbox's listing, as Dovecot answers it: the data of issue 16.

``make bench``'s own ``Bulk`` folder (``sandbox.mailgen.bulk_messages``) has 200 senders and 40
recipients, so the parser's address caches hit nearly every time. A real mailbox is harder:
senders and recipients are mostly distinct (thousands of addresses), while their display names
repeat (a few hundred people, the same names in many companies). This module makes such a
folder, deterministically from a seed:

- most display names RFC 2047-encoded (UTF-8, ISO-8859-1/-2/-15, Windows-1252/-1251, KOI8-R,
  ISO-2022-JP, GB2312; B and Q; one person's mailer keeps one encoding, a few switch), the
  rest plain, quoted (``"Smith, John"``) or with escaped quotes;
- about half of the subjects encoded, in the same charsets, long ones in several encoded words,
  with Re:/AW:/Fwd: prefixes and threads that repeat a subject;
- one to three To addresses (the mailbox owner in about half), Cc on a third, Sender and
  Reply-To mostly copies of From (as Dovecot reports a missing header), In-Reply-To on about
  45%, Message-IDs in the usual shapes; Date headers in the common shape and a few others;
- broken headers as real mail has them (about 5% of messages): raw 8-bit UTF-8 and Latin-1
  names and subjects, bad encoded words (bad base64, unknown charsets, unterminated words),
  NIL subjects and dates, unparseable dates, ``undisclosed-recipients:;`` groups, Dovecot's
  ``MISSING_DOMAIN`` placeholder.

:func:`realistic_fetch_response` renders the folder as the bytes of ``FETCH 1:N (UID FLAGS
RFC822.SIZE INTERNALDATE ENVELOPE)`` in Dovecot's quoting (``imap_append_nstring``: a string
with 8-bit bytes, CR or LF, or more than four quotes/backslashes is a literal ``{n}``; others
are quoted, ``"`` and ``\\`` escaped; a long folded subject arrives as a literal), followed by the
tagged ``a3 OK``. 20,000 messages make about 12 MB, as in the issue.
:func:`realistic_messages` gives the same folder as :class:`~o365imap.sandbox.mailbuild`
``SeedMessage`` objects carrying their exact bytes (``raw``), for a Maildir or APPEND into Dovecot,
whose ENVELOPE of them is what :func:`realistic_fetch_response` renders offline.
:func:`bench_fetch_response` renders ``make bench``'s own ``Bulk`` folder the same way, for
measuring both corpora without a server.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from o365imap.sandbox.mailgen import _TOPICS as _BULK_TOPICS
from o365imap.sandbox.mailmodel import SeedAddress, SeedGroup, SeedMessage, Wire

__all__ = [
    "bench_fetch_response",
    "imap_nstring",
    "realistic_fetch_response",
    "realistic_messages",
]

# ---------------------------------------------------------------- Dovecot's quoting


def imap_nstring(value: bytes | None) -> bytes:
    """``value`` as Dovecot writes an nstring (lib-imap imap-quote.c, imap_append_nstring)."""
    if value is None:
        return b"NIL"
    escapes = value.count(b'"') + value.count(b"\\")
    if escapes > 4 or b"\r" in value or b"\n" in value or not value.isascii():
        return b"{%d}\r\n%s" % (len(value), value)
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


# An address as ENVELOPE carries it: (name, mailbox, host); a group start is (None, name, None)
# and a group end (None, None, None), as RFC 3501 section 7.4.2 encodes group syntax.
_Addr = tuple[bytes | None, bytes | None, bytes | None]


def _address_list(addresses: list[_Addr]) -> bytes:
    if not addresses:
        return b"NIL"
    parts = [
        b"(%s NIL %s %s)" % (imap_nstring(name), imap_nstring(mailbox), imap_nstring(host))
        for name, mailbox, host in addresses
    ]
    return b"(" + b"".join(parts) + b")"


@dataclass(frozen=True, slots=True)
class _Record:
    """One message's listing data, header values as raw bytes (encoded words left encoded)."""

    uid: int
    flags: tuple[str, ...]
    size: int
    internal_date: datetime
    date: bytes | None
    subject: bytes | None
    from_: list[_Addr]
    sender: list[_Addr]
    reply_to: list[_Addr]
    to: list[_Addr]
    cc: list[_Addr]
    in_reply_to: bytes | None
    message_id: bytes | None


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _internal_date(when: datetime) -> bytes:
    offset = when.utcoffset() or timedelta()
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return (
        f"{when.day:02d}-{_MONTHS[when.month - 1]}-{when.year:04d} "
        f"{when:%H:%M:%S} {sign}{minutes // 60:02d}{minutes % 60:02d}"
    ).encode("ascii")


def _fetch_line(seq: int, r: _Record) -> bytes:
    envelope = b" ".join(
        [
            imap_nstring(r.date),
            imap_nstring(r.subject),
            _address_list(r.from_),
            _address_list(r.sender),
            _address_list(r.reply_to),
            _address_list(r.to),
            _address_list(r.cc),
            b"NIL",
            imap_nstring(r.in_reply_to),
            imap_nstring(r.message_id),
        ]
    )
    return b'* %d FETCH (UID %d FLAGS (%s) RFC822.SIZE %d INTERNALDATE "%s" ENVELOPE (%s))\r\n' % (
        seq,
        r.uid,
        " ".join(r.flags).encode("ascii"),
        r.size,
        _internal_date(r.internal_date),
        envelope,
    )


def _response(records: Iterator[_Record]) -> bytes:
    lines = [_fetch_line(seq, r) for seq, r in enumerate(records, 1)]
    lines.append(b"a3 OK Fetch completed (0.001 + 0.000 secs).\r\n")
    return b"".join(lines)


# ---------------------------------------------------------------- encoded words


def _q_bytes(raw: bytes) -> bytes:
    out = bytearray()
    for byte in raw:
        if byte == 0x20:
            out += b"_"
        elif (0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A) or byte in (
            b"!*+-/"
        ):
            out.append(byte)
        else:
            out += b"=%02X" % byte
    return bytes(out)


def _encoded_words(text: str, charset: str, mode: str, chunk: int = 20) -> bytes:
    """``text`` as encoded words of ``chunk`` characters each, space-separated (one header line;
    a decoder drops the whitespace between adjacent encoded words)."""
    codec = {"gb2312": "gb18030", "iso-2022-jp": "iso2022_jp_2"}.get(charset.lower(), charset)
    words = []
    for start in range(0, len(text), chunk):
        raw = text[start : start + chunk].encode(codec)
        payload = base64.b64encode(raw) if mode == "B" else _q_bytes(raw)
        words.append(b"=?%s?%s?%s?=" % (charset.encode(), mode.encode(), payload))
    return b" ".join(words)


def _encodable(text: str, charset: str) -> bool:
    codec = {"gb2312": "gb18030", "iso-2022-jp": "iso2022_jp_2"}.get(charset.lower(), charset)
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


# ---------------------------------------------------------------- the people and their words


@dataclass(frozen=True, slots=True)
class _Language:
    first: tuple[str, ...]
    last: tuple[str, ...]
    subjects: tuple[str, ...]
    charsets: tuple[tuple[str, str], ...]  # (charset label, B or Q) their mailers use
    tlds: tuple[str, ...]


_LANGUAGES = {
    "en": _Language(
        ("John", "Mary", "Robert", "Patricia", "Michael", "Linda", "David", "Susan", "James"),
        ("Smith", "Johnson", "Brown", "Davis", "Wilson", "O'Brien", "Taylor", "Clark", "Walker"),
        (
            "Quarterly report",
            "Lunch on Friday?",
            "Invoice {n}",
            "Meeting notes: {topic}",
            "Action required: {topic}",
            "Your order #{n} has shipped",
            "Weekly status – week {w}",
            "Question about {topic}",
            "[{list}] Digest, Vol {w}, Issue {n}",
            "Updated invitation: {topic} @ {day} 10:00 - 11:00 (CET)",
        ),
        (("utf-8", "Q"), ("us-ascii", "Q"), ("utf-8", "B")),
        ("com", "net", "org", "co.uk", "io"),
    ),
    "de": _Language(
        ("Jürgen", "Björn", "Käthe", "Günther", "Sören", "Anke", "Jörg", "Ursula", "Hans"),
        ("Müller", "Schäfer", "Groß", "Weiß", "Köhler", "Böhm", "Schröder", "Krüger", "Meier"),
        (
            "Grüße aus München",
            "Übergabe der Schlüssel",
            "Rechnung Nr. {n} – fällig am {day}",
            "Besprechung: Größe der Änderungen an {topic}",
            "Urlaubsplanung für März",
            "Protokoll der Sitzung vom {day}",
        ),
        (("iso-8859-1", "Q"), ("ISO-8859-15", "Q"), ("utf-8", "Q"), ("UTF-8", "B")),
        ("de", "at", "ch"),
    ),
    "fr": _Language(
        ("Élodie", "François", "Hélène", "Zoë", "Jérôme", "Cécile", "André", "Gaëlle"),
        ("Lefèvre", "Dupont", "Garçon", "Bélanger", "Mercier", "Lemaître", "Châtelet"),
        (
            "Réunion déplacée à jeudi",
            "Ça va ? Café à côté",
            "Présentation du projet {topic}",
            "Facture n° {n}",
            "Compte rendu de la réunion du {day}",
        ),
        (("iso-8859-1", "Q"), ("windows-1252", "Q"), ("utf-8", "Q"), ("utf-8", "B")),
        ("fr", "be", "ca"),
    ),
    "es": _Language(
        ("José", "María", "João", "Sofía", "Inês", "Ángel", "Begoña", "Raúl"),
        ("García", "Núñez", "Gonçalves", "Muñoz", "Conceição", "Peña", "Ibáñez"),
        (
            "Reunión del equipo",
            "Información sobre el pedido {n}",
            "Presupuesto año {w}",
            "Atualização do projeto {topic}",
        ),
        (("iso-8859-1", "Q"), ("utf-8", "B"), ("utf-8", "Q")),
        ("es", "pt", "com.br", "mx"),
    ),
    "nordic": _Language(
        ("Åsa", "Søren", "Björk", "Øystein", "Märta", "Jørgen", "Åke"),
        ("Lindström", "Sørensen", "Ødegård", "Åberg", "Hjálmarsson", "Bækgaard"),
        ("Möte på fredag", "Årsrapport {w}", "Mødereferat {day}", "Faktura {n}"),
        (("iso-8859-1", "Q"), ("utf-8", "Q"), ("utf-8", "B")),
        ("se", "dk", "no", "fi"),
    ),
    "pl": _Language(
        ("Paweł", "Małgorzata", "Zbigniew", "Agnieszka", "Łukasz", "Grażyna"),
        ("Wójcik", "Łukasiewicz", "Żółkiewski", "Kościuszko", "Wiśniewski", "Dąbrowska"),
        ("Zażółć gęślą jaźń", "Spotkanie w środę", "Faktura nr {n} – płatność"),
        (("iso-8859-2", "Q"), ("ISO-8859-2", "B"), ("utf-8", "B")),
        ("pl",),
    ),
    "ru": _Language(
        ("Иван", "Ольга", "Сергей", "Наталья", "Алексей", "Татьяна", "Дмитрий"),
        ("Петров", "Смирнова", "Кузнецов", "Соколова", "Попов", "Волкова", "Морозов"),
        ("Отчёт за {day}", "Привет, коллеги", "Встреча в четверг", "Счёт № {n}"),
        (("koi8-r", "B"), ("windows-1251", "B"), ("utf-8", "B")),
        ("ru", "com"),
    ),
    "el": _Language(
        ("Γιώργος", "Μαρία", "Νίκος", "Ελένη"),
        ("Παπαδόπουλος", "Οικονόμου", "Γεωργίου"),
        ("Συνάντηση την Τρίτη", "Αναφορά προόδου {n}"),
        (("iso-8859-7", "B"), ("utf-8", "B")),
        ("gr",),
    ),
    "ja": _Language(
        ("太郎", "花子", "一郎", "美咲", "健"),
        ("山田", "佐藤", "鈴木", "田中", "高橋"),
        ("会議の議事録", "来週の予定について", "【重要】システムメンテナンスのお知らせ"),
        (("ISO-2022-JP", "B"), ("utf-8", "B")),
        ("jp", "co.jp"),
    ),
    "zh": _Language(
        ("小明", "华", "伟", "洋", "静"),
        ("王", "李", "张", "刘", "陈"),
        ("季度报告", "项目进度更新 {n}", "关于下周会议的通知"),
        (("gb2312", "B"), ("utf-8", "B")),
        ("cn", "com.cn"),
    ),
}
# How often each language's people write: an international company's mailbox.
_WEIGHTS = {
    "en": 30,
    "de": 18,
    "fr": 12,
    "es": 8,
    "nordic": 7,
    "pl": 6,
    "ru": 7,
    "el": 3,
    "ja": 5,
    "zh": 4,
}
_TOPICS = (*_BULK_TOPICS, "migration", "Jahresabschluss")
_LISTS = ("python-dev", "dovecot", "users", "announce", "devel")
_PREFIXES = ("Re: ", "RE: ", "AW: ", "Fwd: ", "FW: ", "TR: ", "Re: Re: ", "SV: ")
_FOLD = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ø": "o", "å": "a", "æ": "ae", "ł": "l"}


@dataclass(frozen=True, slots=True)
class _Name:
    """One display name and the header bytes its mailers make of it (main, alternative)."""

    text: str
    local: str  # an ASCII local part made of it
    wires: tuple[bytes, bytes]


def _ascii_local(first: str, last: str, rng: random.Random) -> str:
    import unicodedata

    def fold(word: str) -> str:
        word = "".join(_FOLD.get(c, c) for c in word.lower())
        word = unicodedata.normalize("NFKD", word)
        return "".join(c for c in word if c.isascii() and c.isalnum())

    f, last_part = fold(first), fold(last)
    if not f or not last_part:  # Cyrillic, Greek, CJK: a transliteration stands in
        f, last_part = f or f"u{rng.randrange(100)}", last_part or f"x{rng.randrange(1000)}"
    return rng.choice((f"{f}.{last_part}", f"{f[0]}{last_part}", f"{f}_{last_part}", last_part))


def _name_wire(text: str, lang: _Language, rng: random.Random) -> bytes:
    """The header bytes one mailer makes of a display name (encoded, plain or quoted)."""
    if text.isascii():
        if rng.random() < 0.25:  # Outlook and others encode even ASCII names
            charset, mode = rng.choice(lang.charsets)
            return _encoded_words(text, charset, mode, chunk=40)
        return text.encode("ascii")
    candidates = [cw for cw in lang.charsets if _encodable(text, cw[0])]
    charset, mode = rng.choice(candidates)
    return _encoded_words(text, charset, mode, chunk=40)


def _names(rng: random.Random, count: int) -> list[tuple[_Name, _Language]]:
    names: dict[str, tuple[_Name, _Language]] = {}
    keys = list(_WEIGHTS)
    weights = [_WEIGHTS[k] for k in keys]
    while len(names) < count:
        lang = _LANGUAGES[rng.choices(keys, weights)[0]]
        first, last = rng.choice(lang.first), rng.choice(lang.last)
        if lang is _LANGUAGES["ja"] or lang is _LANGUAGES["zh"]:
            text = last + first
        elif rng.random() < 0.12:
            text = f"{last}, {first}"  # "Smith, John": quoted in the header, plain in ENVELOPE
        elif rng.random() < 0.03:
            text = f'{first} "{last}"'  # escaped quotes in the ENVELOPE string
        else:
            text = f"{first} {last}"
        if text in names:
            continue
        wires = (_name_wire(text, lang, rng), _name_wire(text, lang, rng))
        names[text] = (_Name(text, _ascii_local(first, last, rng), wires), lang)
    return list(names.values())


def _domains(rng: random.Random, count: int) -> list[bytes]:
    syllables = ("con", "to", "so", "fab", "ri", "kam", "north", "wind", "ada", "tum", "lit")
    more = ("ware", "tail", "spin", "wood", "grove", "pro", "se", "wing", "tip", "blue", "yon")
    tlds = [t for lang in _LANGUAGES.values() for t in lang.tlds]
    out: set[bytes] = set()
    while len(out) < count:
        word = rng.choice(syllables) + rng.choice(more) + rng.choice(("", "", "-group", "-it"))
        sub = rng.choice(("", "", "", "mail.", "eu.", "corp."))
        out.add(f"{sub}{word}.{rng.choice(tlds)}".encode("ascii"))
    return sorted(out)


# ---------------------------------------------------------------- broken headers

_BROKEN_NAMES = (
    "Jürgen Müller".encode(),  # raw UTF-8: 8-bit, so a literal
    "François Lefèvre".encode("latin-1"),  # raw Latin-1: not UTF-8 at all
    b"=?utf-8?B?SsO8cmdlbiBNw7xsbGVy?=",  # fine, for contrast
    b"=?utf-8?B?SsO8cmdlbiBNw7xsbGV?=",  # bad base64 padding
    b"=?x-unknown?Q?caf=E9_cr=E8me?=",  # unknown charset
    b"=?utf-8?Q?unterminated_word",  # never closed
    b"=?iso-8859-1?q?Ren=E9e?= =?utf-8?b?w6k=?=",  # lower-case modes, two charsets
    "Иван Петров".encode("koi8-r"),  # raw KOI8-R
)
_BROKEN_SUBJECTS = (
    "Grüße aus München".encode(),
    "Réunion à côté".encode("latin-1"),
    b"=?utf-8?B?w6nDqMOg?=x=?utf-8?B?!!!?=",
    b"=?utf-8?Q?half_=E2=82?= =?utf-8?Q?=AC_split?=",  # a character split across words
    b"=?unknown?B?SGVsbG8=?= world",
    b"Re: =?windows-1252?Q?Caf=E9?= \x80 menu",
)
_BROKEN_DATES = (
    b"Mon, 32 Foo 2019 25:61:00 +0000",
    b"yesterday",
    b"2019-01-07T10:09:31Z",
    b"Mon,  7 Jan 19 10:09 EST",
)


# ---------------------------------------------------------------- the folder


_ZONES = [timezone(timedelta(minutes=m)) for m in (0, 60, 120, -300, -480, 540, 330, 180)]
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_OWNER: _Addr = (b"Alex Owner", b"alex.owner", b"company.example")
_START = datetime(2018, 3, 5, 8, 0, tzinfo=UTC)


def _date_header(when: datetime, rng: random.Random) -> bytes | None:
    roll = rng.random()
    if roll < 0.003:
        return None
    if roll < 0.01:
        return rng.choice(_BROKEN_DATES)
    offset = int((when.utcoffset() or timedelta()).total_seconds()) // 60
    zone = f"{'-' if offset < 0 else '+'}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"
    day, month = _DAYS[when.weekday()], _MONTHS[when.month - 1]
    clock = f"{when:%H:%M:%S}"
    if roll < 0.08:
        text = f"{when.day} {month} {when.year} {clock} {zone}"
    elif roll < 0.16:
        text = f"{day}, {when.day} {month} {when.year} {clock} {zone} (CET)"
    elif roll < 0.19:
        text = f"{day}, {when.day:02d} {month} {when.year} {clock} GMT"
    else:
        text = f"{day}, {when.day:02d} {month} {when.year} {clock} {zone}"
    return text.encode("ascii")


def _subject(
    rng: random.Random, lang: _Language, n: int, when: datetime, earlier: list[bytes]
) -> bytes | None:
    roll = rng.random()
    if roll < 0.005:
        return None
    if roll < 0.015:
        return rng.choice(_BROKEN_SUBJECTS)
    if earlier and roll < 0.3:  # a reply in a thread: a subject seen before, prefixed
        return rng.choice(_PREFIXES).encode() + rng.choice(earlier)
    if rng.random() < 0.35:
        lang = _LANGUAGES["en"]
    text = rng.choice(lang.subjects).format(
        n=n, topic=rng.choice(_TOPICS), day=f"{when:%d.%m.%Y}", w=when.isocalendar()[1],
        list=rng.choice(_LISTS),
    )  # fmt: skip
    if text.isascii() and rng.random() > 0.1:
        raw = text.encode("ascii")
    else:
        candidates = [cw for cw in lang.charsets if _encodable(text, cw[0])]
        charset, mode = rng.choice(candidates or [("utf-8", "B")])
        raw = _encoded_words(text, charset, mode, chunk=rng.choice((12, 20, 30)))
        if len(raw) > 76 and rng.random() < 0.3:
            raw = raw.replace(b"?= =?", b"?=\r\n =?", 1)  # folded: Dovecot sends a literal
    if len(earlier) < 400:
        earlier.append(raw)
    else:
        earlier[rng.randrange(400)] = raw
    return raw


def _records(count: int, seed: int) -> Iterator[_Record]:
    rng = random.Random(seed)  # reproducible test data, not secrets
    names = _names(rng, 340)
    domains = _domains(rng, 1500)
    recent: list[_Addr] = []  # people who wrote before: some write again
    subjects: list[bytes] = []
    serial = 0

    def person(new: float = 0.85) -> _Addr:
        nonlocal serial
        if recent and rng.random() > new:
            return rng.choice(recent)
        serial += 1
        roll = rng.random()
        name, _lang = rng.choice(names)
        local = name.local
        if rng.random() < 0.6:
            local = f"{local}{rng.randrange(1, 999)}"
        host = rng.choice(domains)
        raw_name: bytes | None = name.wires[0] if rng.random() < 0.85 else name.wires[1]
        if roll < 0.015:
            raw_name = rng.choice(_BROKEN_NAMES)
        elif roll < 0.1:
            raw_name = None  # a bare address
        elif roll < 0.104:
            host = b"MISSING_DOMAIN"
        addr: _Addr = (raw_name, local.encode("ascii"), host)
        if len(recent) < 3000:
            recent.append(addr)
        else:
            recent[rng.randrange(3000)] = addr
        return addr

    when = _START
    for i in range(count):
        when += timedelta(seconds=rng.randint(30, 5000))
        local_when = when.astimezone(_ZONES[rng.randrange(len(_ZONES))])
        sender = person()
        lang = _LANGUAGES[rng.choices(list(_WEIGHTS), list(_WEIGHTS.values()))[0]]
        from_ = [sender] if rng.random() > 0.003 else []
        sender_list = from_ if rng.random() > 0.05 else [person()]
        reply_to = from_ if rng.random() > 0.12 else [person()]
        to = [person() for _ in range(rng.choice((1, 1, 1, 2, 2, 3)))]
        if rng.random() < 0.5:
            to[0] = _OWNER
        if rng.random() < 0.004:
            to = [(None, b"undisclosed-recipients", None), (None, None, None)]
        cc = [person() for _ in range(rng.randint(1, 3))] if rng.random() < 1 / 3 else []
        host = sender[2] or b"localhost"
        message_id = b"<%s.%d@%s>" % (
            rng.choice((b"%08X" % rng.getrandbits(32), b"CAF%d" % rng.getrandbits(40))),
            seed + i,
            host,
        )
        in_reply_to = None
        if rng.random() < 0.45:
            in_reply_to = b"<%X.%d@%s>" % (rng.getrandbits(64), rng.getrandbits(20), host)
        flags = ["\\Seen"] if rng.random() < 0.85 else []
        if rng.random() < 0.1:
            flags.append("\\Answered")
        if rng.random() < 0.04:
            flags.append("\\Flagged")
        if rng.random() < 0.03:
            flags.append("$Forwarded")
        yield _Record(
            uid=i + 1,
            flags=tuple(flags),
            size=int(min(5_000_000, max(600, rng.lognormvariate(9.0, 1.2)))),
            internal_date=local_when.replace(microsecond=0),
            date=_date_header(local_when, rng),
            subject=_subject(rng, lang, rng.randint(1000, 999999), local_when, subjects),
            from_=from_,
            sender=sender_list,
            reply_to=reply_to,
            to=to,
            cc=cc,
            in_reply_to=in_reply_to,
            message_id=message_id,
        )


def realistic_fetch_response(count: int, seed: int) -> bytes:
    """The bytes of Dovecot's answer to ``a3 FETCH 1:count (UID FLAGS RFC822.SIZE INTERNALDATE
    ENVELOPE)`` on the realistic folder, tagged ``a3 OK`` line included. Same arguments, same
    bytes; a longer folder starts with the messages of a shorter one."""
    return _response(_records(count, seed))


# ---------------------------------------------------------------- as messages


def _header_address(addr: _Addr) -> bytes:
    name, mailbox, host = addr
    if host is None:
        return (mailbox or b"") + b":;"
    email = (mailbox or b"") if host == b"MISSING_DOMAIN" else (mailbox or b"") + b"@" + host
    if name is None:
        return email
    if b"=?" not in name and any(c in name for c in b',."()<>@:;[]\\'):
        name = b'"' + name.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return name + b" <" + email + b">"


def _header_list(addresses: list[_Addr]) -> bytes:
    return b", ".join(_header_address(a) for a in addresses if a != (None, None, None))


def _message_bytes(r: _Record) -> bytes:
    lines: list[bytes] = []
    if r.date is not None:
        lines.append(b"Date: " + r.date)
    if r.from_:
        lines.append(b"From: " + _header_list(r.from_))
    if r.sender is not r.from_:
        lines.append(b"Sender: " + _header_list(r.sender))
    if r.reply_to is not r.from_:
        lines.append(b"Reply-To: " + _header_list(r.reply_to))
    lines.append(b"To: " + _header_list(r.to))
    if r.cc:
        lines.append(b"Cc: " + _header_list(r.cc))
    if r.subject is not None:
        lines.append(b"Subject: " + r.subject)
    if r.message_id is not None:
        lines.append(b"Message-ID: " + r.message_id)
    if r.in_reply_to is not None:
        lines.append(b"In-Reply-To: " + r.in_reply_to)
    lines += [b"MIME-Version: 1.0", b"Content-Type: text/plain; charset=utf-8", b""]
    head = b"\r\n".join(lines) + b"\r\n"
    filler = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n"
    body = filler * max(1, (min(r.size, 60_000) - len(head)) // len(filler))
    return head + body


def realistic_messages(count: int, seed: int) -> list[SeedMessage]:
    """The same folder as whole messages (``SeedMessage.raw`` holds each one's exact bytes; the
    other fields only describe it), for a Maildir or APPEND into Dovecot. Bodies are filler of
    about the listed size (at most 60 kB); system flags only ($Forwarded is left out)."""
    out: list[SeedMessage] = []
    for r in _records(count, seed):
        flags = frozenset(f for f in r.flags if f.startswith("\\"))
        out.append(
            SeedMessage(
                date=r.internal_date,
                subject=None,
                message_id=None if r.message_id is None else r.message_id.decode("ascii"),
                flags=flags,
                raw=_message_bytes(r),
                tags=frozenset({"realistic"}),
            )
        )
    return out


# ---------------------------------------------------------------- make bench's folder


def _seed_addresses(entries: tuple[SeedAddress | SeedGroup, ...], wire: Wire) -> list[_Addr]:
    from o365imap.sandbox.mailbuild import encode_phrase

    out: list[_Addr] = []
    for entry in entries:
        assert isinstance(entry, SeedAddress)
        mailbox, _, host = entry.email.partition("@")
        name = None if entry.name is None else encode_phrase(entry.name, wire).strip('"')
        out.append((None if name is None else name.encode(), mailbox.encode(), host.encode()))
    return out


def bench_fetch_response(count: int = 20_000) -> bytes:
    """``make bench``'s ``Bulk`` folder (``bulk_messages``) rendered as Dovecot's FETCH answer,
    offline: what ``benchmarks/run.py`` captures from the sandbox, without a server."""
    from o365imap.sandbox.mailbuild import encode_unstructured
    from o365imap.sandbox.mailgen import bulk_messages

    def records() -> Iterator[_Record]:
        for i, m in enumerate(bulk_messages("bench@example.com", count)):
            from_ = _seed_addresses(m.from_, m.names_wire)
            subject = None if m.subject is None else encode_unstructured(m.subject, m.subject_wire)
            yield _Record(
                uid=i + 1,
                flags=tuple(sorted(m.flags)),
                size=len(m.body) + 900,
                internal_date=m.date,
                date=None if m.raw_date is None else m.raw_date.encode("ascii"),
                subject=None if subject is None else subject.encode(),
                from_=from_,
                sender=from_,
                reply_to=from_,
                to=_seed_addresses(m.to, m.names_wire),
                cc=_seed_addresses(m.cc, m.names_wire),
                in_reply_to=None,
                message_id=None if m.message_id is None else m.message_id.encode("ascii"),
            )

    return _response(records())
