"""Realistic, deterministic mail for the sandbox: the messages behind the test bed and the demo.

:func:`inbox_messages` is a hand-made INBOX where every case a client can get wrong carries a tag
(charsets, groups, odd dates, attachments ...); :func:`bulk_messages` makes any number of
ordinary messages from a seed, fast; :func:`small_folders` fills the other folders. They return
:class:`~o365imap.sandbox.mailbuild.SeedMessage` lists; ``seed.MaildirWriter`` writes them.
"""

from __future__ import annotations

import random
import textwrap
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from itertools import cycle, islice

from .mailbuild import (
    ASCII,
    RAW_UTF8,
    UTF8_B,
    UTF8_Q,
    AddressEntry,
    SeedAddress,
    SeedAttachment,
    SeedGroup,
    SeedMessage,
    Wire,
    build_message,
)

__all__ = [
    "BULK_COUNT",
    "BULK_SEED",
    "PDF_BYTES",
    "PNG_1X1",
    "bulk_messages",
    "inbox_messages",
    "small_folders",
]

BULK_COUNT = 20_000
BULK_SEED = 20240229

_TZ = [
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

# A tiny valid PNG (1x1 transparent pixel) and a PDF-looking file: real magic numbers, so
# content sniffers and viewers treat them as what they claim to be.
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
PDF_BYTES = (
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
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


def _local_part(name: str, index: int) -> str:
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
        email = f"{_local_part(name, index)}.{index}@{rng.choice(_DOMAINS)}"
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
                date=when.astimezone(_TZ[i % len(_TZ)]),
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


class _Clock:
    """Dates for hand-written messages: steadily later, in rotating UTC offsets."""

    def __init__(self, start: datetime, step: timedelta) -> None:
        self._next = start
        self._step = step
        self._count = 0

    def __call__(self) -> datetime:
        when = self._next.astimezone(_TZ[self._count % len(_TZ)])
        self._next += self._step
        self._count += 1
        return when


def _addr(name: str | None, email: str) -> SeedAddress:
    return SeedAddress(name, email)


def inbox_messages(user: str) -> list[SeedMessage]:
    """About 60 INBOX messages; every tricky case carries a tag (``Testbed.tagged("no-date")``).

    One message each: plain, subject-<charset>-<mode> (13 charsets: subject-utf-8-b,
    subject-koi8-r-q, subject-iso-2022-jp-b ...), long-encoded, long-ascii, mixed-prefix, emoji,
    always-encoded, whitespace-encoded, no-subject, empty-subject, quote-backslash,
    raw-utf8-subject, no-date, bad-date, obs-date, date-comment, two-digit-year, undisclosed,
    group-members, group-encoded, names-quoted, no-display-name, sender-reply-to, multi-from,
    bcc, thread-1, thread-2, thread-3, no-message-id, pdf, inline-image, no-filename, rfc2231,
    rfc2231-continued, rfc2047-filename, filename-8bit, forwarded, html, large,
    latin1-8bit-body, cp1252-quotes, unread, flagged-unseen. Several each (``Testbed.with_tag``):
    generated (12 ordinary messages first), unseen, flagged; answered marks thread-2.
    """
    me = _addr("Alice Example", user)
    john = _addr("John Smith", "john.smith@contoso.com")
    mary = _addr("Mary Johnson", "mary.johnson@fabrikam.net")
    clock = _Clock(datetime(2024, 1, 8, 9, 15, tzinfo=UTC), timedelta(hours=7, minutes=13))
    seen = frozenset({"\\Seen"})
    out: list[SeedMessage] = []

    # a dozen generated ones first: older, ordinary mail
    for msg in bulk_messages(user, 12, seed=7, start=datetime(2023, 11, 20, 8, 0, tzinfo=UTC)):
        msg.tags = frozenset({"generated"})
        out.append(msg)

    def add(tag: str, subject: str | None, **kw: object) -> SeedMessage:
        # keyword arguments override these defaults; "tags" adds to the case's own tag
        fields: dict[str, object] = {
            "date": clock(),
            "from_": (john,),
            "to": (me,),
            "message_id": f"<{tag}.{len(out)}@sandbox.o365imap.test>",
            "flags": seen,
            "body": f"This is the '{tag}' test message.\n",
        }
        fields.update(kw)
        tags = {tag, *fields.pop("tags", ())}  # type: ignore[misc]
        msg = SeedMessage(subject=subject, tags=frozenset(tags), **fields)  # type: ignore[arg-type]
        out.append(msg)
        return msg

    add("plain", "Welcome to the sandbox", body="Hello Alice,\n\nwelcome aboard.\n\nJohn\n")
    charset_cases = [
        ("utf-8", "B", "Grüße aus München", "Jürgen Müller", Wire("iso-8859-1", "Q")),
        ("utf-8", "Q", "Réunion déplacée à jeudi", "Élodie Lefèvre", Wire("windows-1252", "Q")),
        ("iso-8859-1", "Q", "Ça va ? Café à côté", "François Dupont", Wire("iso-8859-1", "B")),
        ("iso-8859-2", "B", "Zażółć gęślą jaźń", "Zbigniew Łukasiewicz", Wire("iso-8859-2", "Q")),
        ("windows-1251", "B", "Отчёт за март", "Ольга Смирнова", Wire("windows-1251", "B")),
        ("koi8-r", "Q", "Привет, коллеги", "Иван Петров", Wire("koi8-r", "B")),
        ("Shift_JIS", "B", "会議の議事録", "佐藤花子", Wire("Shift_JIS", "B")),
        ("ISO-2022-JP", "B", "来週の予定について", "山田太郎", Wire("ISO-2022-JP", "B")),
        ("gb2312", "B", "季度报告", "王小明", Wire("gb2312", "B")),
        ("GBK", "B", "项目进度更新：第二阶段", "张伟", Wire("GBK", "Q")),
        ("big5", "B", "會議通知", "陳志明", Wire("big5", "B")),
        ("euc-kr", "B", "회의 일정 안내", "김민준", Wire("euc-kr", "B")),
        ("iso-8859-7", "B", "Συνάντηση την Τρίτη", "Μαρία Οικονόμου", Wire("iso-8859-7", "Q")),
    ]
    body_charsets = {"utf-8": "utf-8", "Shift_JIS": "shift_jis", "ISO-2022-JP": "iso-2022-jp"}
    for index, (charset, mode, subject, name, names_wire) in enumerate(charset_cases):
        local = _local_part(name, index) or "sender"
        body_charset = body_charsets.get(charset, charset)
        add(
            f"subject-{charset.lower()}-{mode.lower()}",
            subject,
            from_=(_addr(name, f"{local}.{index}@example.org"),),
            to=(me, _addr(name, f"colleague.{index}@example.org")),
            subject_wire=Wire(charset, mode),  # type: ignore[arg-type]
            names_wire=names_wire,
            body=f"{subject}\n\n{subject} — {name}\n",
            body_charset=body_charset if charset != "utf-8" else "utf-8",
            body_encoding=("base64", "quoted-printable", "8bit")[index % 3]
            if body_charset != "iso-2022-jp"
            else "7bit",
        )
    # "—" is not in most national charsets: those bodies use the fallback below
    for msg in out[-len(charset_cases) :]:
        if not _fits(msg.body, msg.body_charset):
            msg.body = msg.body.replace(" — ", " - ")

    add(
        "long-encoded",
        "Re: Очень длинная тема письма, которая не помещается в одно закодированное слово "
        "и переносится на несколько строк заголовка",
        subject_wire=UTF8_B,
        from_=(_addr("Сергей Кузнецов", "sergey@litware.ru"),),
    )
    add(
        "long-ascii",
        "This is a deliberately long subject line that has to be folded across several "
        "header lines by the sender's mail program",
    )
    add(
        "mixed-prefix",
        "Re: Fwd: Übergabe der Schlüssel (Büro 3)",
        subject_wire=Wire("iso-8859-1", "Q"),
    )
    add("emoji", "🎉 Launch day 🚀 — all hands", subject_wire=UTF8_B)
    add(
        "always-encoded",
        "Plain ASCII, encoded anyway",
        subject_wire=Wire("utf-8", "Q", always=True),
    )
    add("whitespace-encoded", "Two  spaces,\ta tab and a trailing space ", subject_wire=UTF8_Q)
    add("no-subject", None)
    add("empty-subject", "")
    add("quote-backslash", 'He said "use C:\\Temp\\new" \\ then left', subject_wire=ASCII)
    add(
        "raw-utf8-subject",
        "Übergröße: naïve café — 日本語",
        subject_wire=RAW_UTF8,
        names_wire=RAW_UTF8,
        from_=(_addr("Jürgen Weiß", "juergen.weiss@adatum.de"),),
    )

    add("no-date", "No Date header at all", date_header=None)
    add(
        "bad-date",
        "An unparseable Date header",
        date_header="Someday soon, maybe next week",
        header_date=None,
    )
    obs = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
    add(
        "obs-date",
        "Date without weekday, GMT",
        date=obs,
        date_header="5 Mar 2024 10:00:00 GMT",
        header_date=obs,
    )
    pst = datetime(2024, 3, 5, 10, 0, tzinfo=timezone(timedelta(hours=-8)))
    add(
        "date-comment",
        "Date with a zone comment",
        date=pst,
        date_header="Tue, 5 Mar 2024 10:00:00 -0800 (PST)",
        header_date=pst,
    )
    cet = datetime(2024, 3, 5, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    add(
        "two-digit-year",
        "Obsolete two-digit year",
        date=cet,
        date_header="Tue, 05 Mar 24 10:00:00 +0100",
        header_date=cet,
    )

    add("undisclosed", "To undisclosed recipients", to=(SeedGroup("undisclosed-recipients"),))
    team = SeedGroup("Team", (_addr(None, "a@contoso.com"), _addr("Bob B", "b@contoso.com")))
    add("group-members", "A group with members", to=(team,), cc=(me,))
    add(
        "group-encoded",
        "Équipe: an encoded group name",
        subject_wire=UTF8_Q,
        to=(SeedGroup("Équipe projet", (_addr("Zoë Bélanger", "zoe@proseware.fr"), me)), mary),
        names_wire=Wire("iso-8859-1", "Q"),
    )
    add(
        "names-quoted",
        "Display names that need quoting",
        from_=(_addr('Doe, John "JD"', "jd@contoso.com"),),
        to=(
            _addr("O'Brien, James", "james@contoso.com"),
            _addr("Back\\slash (Admin)", "admin@contoso.com"),
            me,
        ),
    )
    add(
        "no-display-name",
        "Bare addresses",
        from_=(_addr(None, "noreply@northwind.example"),),
        to=(_addr(None, user), _addr(None, "archive@northwind.example")),
    )
    add(
        "sender-reply-to",
        "Sent on behalf of someone",
        from_=(mary,),
        sender=(_addr("Assistant", "assistant@fabrikam.net"),),
        reply_to=(_addr("Support", "support@fabrikam.net"), _addr(None, "tickets@fabrikam.net")),
    )
    add(
        "multi-from",
        "Two authors",
        from_=(john, mary),
        sender=(john,),
    )
    add(
        "bcc",
        "Note to self",
        from_=(me,),
        to=(me,),
        bcc=(_addr("Hidden Person", "hidden@contoso.com"),),
    )

    first = add("thread-1", "Project kickoff", from_=(mary,))
    second = add(
        "thread-2",
        "Re: Project kickoff",
        from_=(me,),
        to=(mary,),
        in_reply_to=first.message_id,
        references=(first.message_id,),
        flags=frozenset({"\\Seen", "\\Answered"}),
        tags={"answered"},
    )
    add(
        "thread-3",
        "Re: Re: Project kickoff",
        from_=(mary,),
        in_reply_to=second.message_id,
        references=(first.message_id, second.message_id),
    )
    add("no-message-id", "A message without Message-ID", message_id=None)

    add(
        "pdf",
        "Quarterly report attached",
        attachments=(
            SeedAttachment("Quarterly report Q1.pdf", "application/pdf", PDF_BYTES),
            SeedAttachment("figures.csv", "text/csv", b"quarter,revenue\r\nQ1,1200\r\nQ2,1350\r\n"),
        ),
        flags=frozenset({"\\Seen", "\\Flagged"}),
        tags={"flagged"},
    )
    add(
        "inline-image",
        "Newsletter with a logo",
        body="See our logo below.\n",
        html='<html><body><p>See our logo:</p><img src="cid:logo.png@sandbox.test"></body></html>',
        attachments=(
            SeedAttachment(
                "logo.png", "image/png", PNG_1X1, inline=True, content_id="<logo.png@sandbox.test>"
            ),
            SeedAttachment("terms.pdf", "application/pdf", PDF_BYTES),
        ),
    )
    add(
        "no-filename",
        "An attachment without a name",
        attachments=(SeedAttachment(None, "application/octet-stream", bytes(range(256)) * 4),),
    )
    add(
        "rfc2231",
        "RFC 2231 file name",
        attachments=(
            SeedAttachment(
                "Résumé – final (v2).pdf", "application/pdf", PDF_BYTES, filename_style="rfc2231"
            ),
        ),
    )
    add(
        "rfc2231-continued",
        "RFC 2231 continued file name",
        attachments=(
            SeedAttachment(
                "Протокол совещания по проекту Альфа от 12 марта 2024 года.docx",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                b"PK\x03\x04" + bytes(200),
                filename_style="rfc2231-continued",
            ),
        ),
    )
    add(
        "rfc2047-filename",
        "RFC 2047 file name (Outlook style)",
        attachments=(
            SeedAttachment(
                "見積書_2024年3月.xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                b"PK\x03\x04" + bytes(100),
                filename_style="rfc2047",
            ),
        ),
    )
    add(
        "filename-8bit",
        "Raw UTF-8 file name",
        attachments=(
            SeedAttachment(
                "Übersicht März.txt", "text/plain", "Größe: 3 m²\n".encode(), filename_style="8bit"
            ),
        ),
    )
    inner = SeedMessage(
        date=datetime(2024, 2, 1, 12, 0, tzinfo=timezone(timedelta(hours=1))),
        subject="Angebot für das Büro",
        from_=(_addr("Käthe Groß", "kaethe@adatum.de"),),
        to=(john,),
        message_id="<inner.angebot@adatum.de>",
        body="Sehr geehrter Herr Smith,\nanbei unser Angebot.\n",
        body_charset="iso-8859-1",
        subject_wire=Wire("iso-8859-1", "Q"),
        names_wire=Wire("iso-8859-1", "Q"),
    )
    add(
        "forwarded",
        "Fwd: Angebot für das Büro",
        subject_wire=Wire("iso-8859-1", "Q"),
        body="Forwarding the offer below.\n",
        attachments=(SeedAttachment(None, "message/rfc822", build_message(inner)),),
    )
    add(
        "html",
        "HTML newsletter",
        body="Plain text version.\n",
        html="<html><body><h1>Newsletter</h1><p>HTML version.</p></body></html>",
    )
    big = random.Random(42).randbytes(600_000)  # noqa: S311 - reproducible bytes
    add(
        "large",
        "A large attachment",
        attachments=(SeedAttachment("big.bin", "application/octet-stream", big),),
    )
    add(
        "latin1-8bit-body",
        "Body in ISO-8859-1, 8bit",
        body="Grüße, Jürgen.\nÀ bientôt.\n",
        body_charset="iso-8859-1",
        body_encoding="8bit",
    )
    add(
        "cp1252-quotes",
        "“Smart quotes” and – dashes …",
        subject_wire=Wire("windows-1252", "Q"),
        body="“Smart quotes” and – dashes …\n",
        body_charset="windows-1252",
        body_encoding="quoted-printable",
    )
    add("unread", "You have not read this yet", flags=frozenset(), tags={"unseen"})
    add(
        "flagged-unseen",
        "Flagged and unread",
        flags=frozenset({"\\Flagged"}),
        tags={"unseen", "flagged"},
    )
    return out


def _fits(text: str, charset: str) -> bool:
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        return False
    return True


def _simple(
    clock: _Clock,
    folder: str,
    subjects: Sequence[tuple[str, Wire]],
    sender: SeedAddress,
    to: SeedAddress,
    flags: frozenset[str],
) -> list[SeedMessage]:
    stem = "".join(c if c.isascii() and c.isalnum() else "-" for c in folder)
    return [
        SeedMessage(
            date=clock(),
            subject=subject,
            from_=(sender,),
            to=(to,),
            message_id=f"<{stem}.{i}@sandbox.o365imap.test>",
            flags=flags,
            body=f"{subject}\n",
            subject_wire=wire,
            names_wire=wire if wire.mode != "ascii" else UTF8_B,
            tags=frozenset({folder}),
        )
        for i, (subject, wire) in enumerate(subjects)
    ]


def small_folders(user: str) -> dict[str, list[SeedMessage]]:
    """A few messages for each folder besides INBOX and Bulk (``Projects`` stays empty)."""
    me = _addr("Alice Example", user)
    boss = _addr("Mary Johnson", "mary.johnson@fabrikam.net")
    ivan = _addr("Иван Петров", "ivan@litware.ru")
    taro = _addr("山田太郎", "taro@tailspin.co.jp")
    clock = _Clock(datetime(2024, 2, 1, 8, 0, tzinfo=UTC), timedelta(hours=5))
    seen = frozenset({"\\Seen"})
    koi8 = Wire("koi8-r", "B")
    jis = Wire("ISO-2022-JP", "B")
    folders = {
        "Sent": _simple(
            clock,
            "Sent",
            [
                ("Re: Lunch on Friday?", ASCII),
                ("Agenda for Monday", ASCII),
                ("Grüße zurück", UTF8_Q),
            ],
            me,
            boss,
            seen,
        ),
        "Drafts": _simple(
            clock,
            "Drafts",
            [("Unfinished thoughts", ASCII), ("Entwurf: Antwort", UTF8_B)],
            me,
            boss,
            frozenset({"\\Draft"}),
        ),
        "Junk": _simple(
            clock,
            "Junk",
            [("You won!!! 💰💰💰", UTF8_B), ("Ваш выигрыш ждёт", koi8), ("Cheap meds", ASCII)],
            _addr("Prize Center", "win@spam.example"),
            me,
            frozenset(),
        ),
        "Trash": _simple(
            clock, "Trash", [("Old newsletter", ASCII), ("Deleted draft", ASCII)], boss, me, seen
        ),
        "Archive": _simple(
            clock,
            "Archive",
            [
                ("2023 tax documents", ASCII),
                ("Contract signed", ASCII),
                ("Reisekosten 2023", UTF8_B),
                ("Старый отчёт", koi8),
            ],
            boss,
            me,
            seen,
        ),
        "Archive/2024": _simple(
            clock,
            "Archive/2024",
            [("January invoices", ASCII), ("Februar-Abrechnung", UTF8_Q), ("March review", ASCII)],
            boss,
            me,
            seen,
        ),
        "Entwürfe": _simple(
            clock,
            "Entwürfe",
            [
                ("Entwurf: Angebot für Müller", Wire("iso-8859-1", "Q")),
                ("Notizen zur Besprechung", ASCII),
            ],
            me,
            _addr("Jürgen Müller", "juergen@adatum.de"),
            frozenset({"\\Draft"}),
        ),
        "Отчёты": _simple(clock, "Отчёты", [("Сводный отчёт", koi8)], ivan, me, seen),
        "Отчёты/2024": _simple(
            clock,
            "Отчёты/2024",
            [
                ("Отчёт за январь", koi8),
                ("Отчёт за февраль", Wire("windows-1251", "B")),
                ("Отчёт за март", UTF8_B),
            ],
            ivan,
            me,
            seen,
        ),
        "日本語": _simple(
            clock,
            "日本語",
            [("会議の議事録", jis), ("来週の予定", Wire("Shift_JIS", "B")), ("お知らせ", UTF8_B)],
            taro,
            me,
            frozenset(),
        ),
        "Projects": [],
        "Projects/Alpha": _simple(
            clock,
            "Projects/Alpha",
            [
                ("Alpha kickoff", ASCII),
                ("Alpha: status", ASCII),
                ("Alpha: Änderungen", UTF8_B),
                ("Alpha: go-live", ASCII),
            ],
            boss,
            me,
            seen,
        ),
    }
    folders["Trash"][1].flags = frozenset({"\\Seen", "\\Deleted"})
    folders["Trash"][1].tags = frozenset({"Trash", "deleted-flag"})
    return folders
