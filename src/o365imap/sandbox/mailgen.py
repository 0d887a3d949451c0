"""Realistic, deterministic bulk mail for the sandbox: any number of ordinary messages from a seed.

:func:`bulk_messages` fills the test bed's ``Bulk`` folder (20,000 messages) and the demo's, fast:
correspondents in ten languages, subjects and bodies in the charsets their mailers use, sizes and
flags spread as in a real mailbox. The same seed gives the same messages, byte for byte, and a
longer run starts with the messages of a shorter one (the sandbox tops a folder up that way).
The hand-written cases are :mod:`~o365imap.sandbox.mailcatalog`'s. Both return
:class:`~o365imap.sandbox.mailbuild.SeedMessage` lists; ``seed.MaildirWriter`` writes them.
"""

from __future__ import annotations

import random
import textwrap
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from itertools import cycle, islice

from .mailmodel import (
    ASCII,
    UTF8_B,
    UTF8_Q,
    AddressEntry,
    SeedAddress,
    SeedAttachment,
    SeedMessage,
    Wire,
)

__all__ = ["BULK_COUNT", "BULK_SEED", "ZONES", "bulk_messages", "local_part"]

BULK_COUNT = 20_000
BULK_SEED = 20240229

# UTC offsets that dates rotate through, so clients meet more than their own.
ZONES = [
    UTC,
    timezone(timedelta(hours=1)),
    timezone(timedelta(hours=2)),
    timezone(timedelta(hours=-5)),
    timezone(timedelta(hours=-8)),
    timezone(timedelta(hours=9)),
    timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=-3, minutes=-30)),
]

_LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt "
    "ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco "
    "laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in "
    "voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat "
    "cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum."
)


@dataclass(frozen=True, slots=True)
class _Lang:
    """Names, subjects and body text of one language, with the charsets its mailers use."""

    names: tuple[str, ...]
    subjects: tuple[str, ...]
    text: str
    wires: tuple[Wire, ...]
    body_charsets: tuple[str, ...]


_LANGS = {
    "en": _Lang(
        (
            "John Smith",
            "Mary Johnson",
            "Robert Brown",
            "Patricia Davis",
            "Michael Wilson",
            "Linda Taylor",
            "David Clark",
            "Susan Lewis",
            "James O'Brien",
            "Karen Walker",
        ),
        (
            "Quarterly report",
            "Lunch on Friday?",
            "Invoice {n}",
            "Meeting notes: {topic}",
            "Action required: {topic}",
            "Your order #{n} has shipped",
            "Weekly status",
            "Re: {topic}",
            "FW: {topic}",
            "Reminder: timesheets due",
            "Question about {topic}",
        ),
        _LOREM,
        (ASCII,),
        ("us-ascii", "utf-8"),
    ),
    "de": _Lang(
        (
            "Jürgen Müller",
            "Björn Schäfer",
            "Käthe Groß",
            "Günther Weiß",
            "Sören Köhler",
            "Hans Meier",
            "Anke Böhm",
        ),
        (
            "Grüße aus München",
            "Übergabe der Schlüssel",
            "Rechnung Nr. {n} – fällig",
            "Besprechung: Größe der Änderungen",
            "AW: Urlaubsplanung für März",
        ),
        "Sehr geehrte Damen und Herren, anbei die Unterlagen für die Besprechung. Grüße, Jürgen.",
        (Wire("iso-8859-1", "Q"), Wire("ISO-8859-15", "Q"), Wire("utf-8", "Q"), UTF8_B),
        ("iso-8859-1", "utf-8"),
    ),
    "fr": _Lang(
        ("Élodie Lefèvre", "François Dupont", "Hélène Garçon", "Zoë Bélanger"),
        (
            "Réunion déplacée à jeudi",
            "Ça va ? Café à côté",
            "Re: Présentation du projet",
            "Facture n° {n}",
        ),
        "Bonjour à tous, la réunion de lundi est déplacée à jeudi. À bientôt, Élodie.",
        (Wire("iso-8859-1", "Q"), Wire("windows-1252", "Q"), UTF8_Q),
        ("iso-8859-1", "utf-8"),
    ),
    "pl": _Lang(
        ("Zbigniew Łukasiewicz", "Małgorzata Wójcik", "Paweł Żółkiewski", "Agnieszka Kościuszko"),
        ("Zażółć gęślą jaźń", "Spotkanie w środę", "Faktura nr {n} – płatność"),
        "Dzień dobry, przesyłam poprawioną wersję dokumentu. Pozdrawiam, Paweł.",
        (Wire("iso-8859-2", "B"), Wire("ISO-8859-2", "Q"), UTF8_B),
        ("iso-8859-2", "utf-8"),
    ),
    "ru": _Lang(
        ("Иван Петров", "Ольга Смирнова", "Сергей Кузнецов", "Наталья Соколова", "Алексей Попов"),
        (
            "Отчёт за март",
            "Привет, коллеги",
            "Встреча в четверг",
            "Счёт № {n}",
            "Re: Планы на следующую неделю",
        ),
        "Добрый день! Прошу ознакомиться с отчётом до пятницы. С уважением, Ольга.",
        (Wire("koi8-r", "B"), Wire("KOI8-R", "Q"), Wire("windows-1251", "B"), UTF8_B),
        ("koi8-r", "windows-1251", "utf-8"),
    ),
    "ja": _Lang(
        ("山田太郎", "佐藤花子", "鈴木一郎", "田中美咲", "高橋健"),
        (
            "会議の議事録",
            "来週の予定について",
            "【重要】システムメンテナンスのお知らせ",
            "見積書の送付（No.{n}）",
        ),
        "お疲れ様です。来週の会議の資料を添付します。よろしくお願いいたします。",
        (Wire("ISO-2022-JP", "B"), Wire("Shift_JIS", "B"), Wire("iso-2022-jp", "Q"), UTF8_B),
        ("iso-2022-jp", "shift_jis", "utf-8"),
    ),
    "zh": _Lang(
        ("王小明", "李华", "张伟", "刘洋"),
        ("季度报告", "项目进度更新", "关于下周会议的通知", "发票 {n}"),
        "大家好，附件是本季度的报告，请查收。谢谢！",
        (Wire("gb2312", "B"), Wire("GBK", "B"), Wire("gb18030", "B"), UTF8_B),
        ("gb2312", "gbk", "utf-8"),
    ),
    "zh-tw": _Lang(
        ("陳志明", "林美玲", "黃建國"),
        ("會議通知", "專案進度報告", "請確認訂單 {n}"),
        "各位好，附件是會議記錄，請參閱。謝謝。",
        (Wire("big5", "B"), Wire("Big5", "Q"), UTF8_B),
        ("big5", "utf-8"),
    ),
    "ko": _Lang(
        ("김민준", "이서연", "박지훈"),
        ("안녕하세요", "회의 일정 안내", "견적서 {n} 송부"),
        "안녕하세요. 첨부 파일을 확인해 주세요. 감사합니다.",
        (Wire("euc-kr", "B"), UTF8_B),
        ("euc-kr", "utf-8"),
    ),
    "el": _Lang(
        ("Γιώργος Παπαδόπουλος", "Μαρία Οικονόμου"),
        ("Συνάντηση την Τρίτη", "Αναφορά προόδου"),
        "Καλημέρα σας, επισυνάπτω την αναφορά. Ευχαριστώ.",
        (Wire("iso-8859-7", "B"), Wire("utf-8", "Q")),
        ("iso-8859-7", "utf-8"),
    ),
}
_TOPICS = (
    "budget",
    "roadmap",
    "Q3 planning",
    "the offsite",
    "hiring",
    "security review",
    "release 2.4",
    "customer feedback",
    "vendor contract",
    "office move",
)
_DOMAINS = (
    "contoso.com",
    "fabrikam.net",
    "example.org",
    "northwind.example",
    "adatum.de",
    "tailspin.co.jp",
    "litware.ru",
    "wingtip.cn",
    "proseware.fr",
    "woodgrove.pl",
)
_ATTACHMENT_KINDS = (
    ("report.pdf", "application/pdf"),
    ("photo.jpg", "image/jpeg"),
    ("data.csv", "text/csv"),
    ("slides.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ("archive.zip", "application/zip"),
    ("Übersicht März.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("отчёт.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("見積書.pdf", "application/pdf"),
)
_WRAP = 72
_BULK_START = datetime(2019, 1, 7, 8, 0, tzinfo=UTC)


@cache
def _lines(text: str) -> tuple[str, ...]:
    # Wrapped once per text: bodies are then slices of these lines, which keeps 20,000
    # messages cheap and every line far below the 998-octet limit (CJK text has no spaces).
    return tuple(textwrap.wrap(text, _WRAP // 2 if not text.isascii() else _WRAP))


def _text_of_size(base: str, size: int, offset: int) -> str:
    """About ``size`` characters of ``base``'s lines, starting at line ``offset``."""
    lines = _lines(base)
    out: list[str] = []
    total = 0
    for line in islice(cycle(lines), offset % len(lines), None):
        out.append(line)
        total += len(line) + 1
        if total >= size:
            break
    return "\n".join(out) + "\n"


def local_part(name: str, index: int) -> str:
    """An ASCII local part made of a display name, accents dropped (``user<index>`` if none)."""
    name = unicodedata.normalize("NFKD", name)  # "Jürgen" -> "Ju" + combining mark + "rgen"
    kept = "".join(
        c for c in name.lower().replace(" ", ".") if (c.isascii() and c.isalnum()) or c == "."
    )
    return kept.strip(".") or f"user{index}"


def _people(count: int, rng: random.Random) -> list[tuple[SeedAddress, str]]:
    """``count`` distinct correspondents as (address, language): about half English."""
    langs = sorted(_LANGS)
    people: list[tuple[SeedAddress, str]] = []
    for index in range(count):
        lang = "en" if rng.random() < 0.45 else rng.choice(langs)
        name = rng.choice(_LANGS[lang].names)
        email = f"{local_part(name, index)}.{index}@{rng.choice(_DOMAINS)}"
        display: str | None = name if rng.random() > 0.08 else None
        people.append((SeedAddress(display, email), lang))
    return people


def bulk_messages(
    user: str,
    count: int = BULK_COUNT,
    *,
    seed: int = BULK_SEED,
    start: datetime = _BULK_START,
) -> list[SeedMessage]:
    """``count`` deterministic messages for a big folder (same ``seed``, same messages).

    200 senders, 1-3 recipients, about 30% of subjects RFC 2047-encoded in assorted charsets
    (and about as many bodies in a national charset), bodies from ~150 bytes to ~100 kB, 3%
    with an attachment; dates rise with the UID, in eight different UTC offsets.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    people = _people(200, rng)
    me = SeedAddress("Alice Example", user)
    others = [p for p, _ in _people(40, rng)]
    messages: list[SeedMessage] = []
    when = start
    for i in range(count):
        when += timedelta(seconds=rng.randint(60, 9000))
        sender, lang_key = rng.choice(people)
        lang = _LANGS[lang_key]
        national = lang_key != "en" and rng.random() < 0.55
        text_lang = lang if national else _LANGS["en"]
        template = rng.choice(text_lang.subjects)
        subject = template.format(n=rng.randint(1000, 99999), topic=rng.choice(_TOPICS))
        wire = rng.choice(lang.wires)
        to: tuple[AddressEntry, ...] = (me, *rng.sample(others, rng.randint(0, 2)))
        if rng.random() < 0.2:
            to = tuple(rng.sample(others, rng.randint(1, 3)))  # alice in Bcc, or a list
        cc: tuple[AddressEntry, ...] = (rng.choice(others),) if rng.random() < 0.15 else ()
        size = int(min(100_000, max(150, rng.lognormvariate(6.5, 1.0))))
        charset = rng.choice(text_lang.body_charsets)
        body = _text_of_size(text_lang.text, size, rng.randrange(1000))
        attachments: tuple[SeedAttachment, ...] = ()
        if rng.random() < 0.03:
            filename, ctype = rng.choice(_ATTACHMENT_KINDS)
            blob = rng.randbytes(int(rng.lognormvariate(8.5, 1.0)) + 1)
            attachments = (SeedAttachment(filename, ctype, blob),)
        flags = {"\\Seen"} if rng.random() < 0.85 else set()
        if rng.random() < 0.05:
            flags.add("\\Flagged")
        if rng.random() < 0.1:
            flags.add("\\Answered")
        messages.append(
            SeedMessage(
                date=when.astimezone(ZONES[i % len(ZONES)]),
                subject=subject,
                from_=(sender,),
                to=to,
                cc=cc,
                message_id=f"<bulk.{seed}.{i}@{sender.email.rsplit('@', 1)[1]}>",
                flags=frozenset(flags),
                body=body,
                attachments=attachments,
                subject_wire=wire,
                names_wire=wire if wire.mode != "ascii" else UTF8_B,
                body_charset="us-ascii" if body.isascii() else charset,
                tags=frozenset({"bulk"}),
            )
        )
    return messages
