"""The hand-written INBOX of the test bed and the demo: one named message per tricky case.

:func:`inbox_messages` is a hand-made INBOX where every case a client can get wrong carries a tag
(charsets, groups, odd dates, attachments ...), written step by step: one function per kind of
case, in the order the messages get their UIDs. The order of the steps, and of the cases in
each, fixes every message's UID and date (one clock dates them all): tests rely on both.
The other folders' few messages are :mod:`~o365imap.sandbox.mailfolders`'s, the ``Attachments``
folder :mod:`~o365imap.sandbox.mailsamples`'s and ``Bulk`` :mod:`~o365imap.sandbox.mailgen`'s.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from .mailbuild import build_message
from .mailgen import ZONES, bulk_messages, local_part
from .mailmodel import (
    ASCII,
    RAW_UTF8,
    UTF8_B,
    UTF8_Q,
    SeedAddress,
    SeedAttachment,
    SeedGroup,
    SeedMessage,
    Wire,
)

__all__ = ["PDF_BYTES", "PNG_1X1", "Clock", "inbox_messages"]

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

_SEEN = frozenset({"\\Seen"})


class Clock:
    """Dates for hand-written messages: steadily later, in rotating UTC offsets."""

    def __init__(self, start: datetime, step: timedelta) -> None:
        self._next = start
        self._step = step
        self._count = 0

    def __call__(self) -> datetime:
        when = self._next.astimezone(ZONES[self._count % len(ZONES)])
        self._next += self._step
        self._count += 1
        return when


def _addr(name: str | None, email: str) -> SeedAddress:
    return SeedAddress(name, email)


class _Inbox:
    """The INBOX being written: its messages so far, the people in them, and one clock."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.me = _addr("Alice Example", user)
        self.john = _addr("John Smith", "john.smith@contoso.com")
        self.mary = _addr("Mary Johnson", "mary.johnson@fabrikam.net")
        self.messages: list[SeedMessage] = []
        self._clock = Clock(datetime(2024, 1, 8, 9, 15, tzinfo=UTC), timedelta(hours=7, minutes=13))

    def add(self, tag: str, subject: str | None, **kw: object) -> SeedMessage:
        """One case: a message from John to Alice, read, unless ``kw`` says otherwise."""
        # keyword arguments override these defaults; "tags" adds to the case's own tag
        fields: dict[str, object] = {
            "date": self._clock(),  # drawn even if kw has a date: the next cases keep theirs
            "from_": (self.john,),
            "to": (self.me,),
            "message_id": f"<{tag}.{len(self.messages)}@sandbox.o365imap.test>",
            "flags": _SEEN,
            "body": f"This is the '{tag}' test message.\n",
        }
        fields.update(kw)
        tags = {tag, *fields.pop("tags", ())}  # type: ignore[misc]
        msg = SeedMessage(subject=subject, tags=frozenset(tags), **fields)  # type: ignore[arg-type]
        self.messages.append(msg)
        return msg


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
    inbox = _Inbox(user)
    for step in (
        _generated,
        _charset_subjects,
        _odd_subjects,
        _dates,
        _addresses,
        _threading,
        _attachments,
        _bodies,
        _flags,
    ):
        step(inbox)
    return inbox.messages


def _generated(inbox: _Inbox) -> None:
    """A dozen generated messages first: older, ordinary mail."""
    start = datetime(2023, 11, 20, 8, 0, tzinfo=UTC)
    for msg in bulk_messages(inbox.user, 12, seed=7, start=start):
        msg.tags = frozenset({"generated"})
        inbox.messages.append(msg)


def _charset_subjects(inbox: _Inbox) -> None:
    """The plain case, then one subject (and sender name) per charset and encoding."""
    inbox.add("plain", "Welcome to the sandbox", body="Hello Alice,\n\nwelcome aboard.\n\nJohn\n")
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
        local = local_part(name, index) or "sender"
        body_charset = body_charsets.get(charset, charset)
        inbox.add(
            f"subject-{charset.lower()}-{mode.lower()}",
            subject,
            from_=(_addr(name, f"{local}.{index}@example.org"),),
            to=(inbox.me, _addr(name, f"colleague.{index}@example.org")),
            subject_wire=Wire(charset, mode),  # type: ignore[arg-type]
            names_wire=names_wire,
            body=f"{subject}\n\n{subject} — {name}\n",
            body_charset=body_charset if charset != "utf-8" else "utf-8",
            body_encoding=("base64", "quoted-printable", "8bit")[index % 3]
            if body_charset != "iso-2022-jp"
            else "7bit",
        )
    # "—" is not in most national charsets: those bodies use the fallback below
    for msg in inbox.messages[-len(charset_cases) :]:
        try:
            msg.body.encode(msg.body_charset)
        except UnicodeEncodeError:
            msg.body = msg.body.replace(" — ", " - ")


def _odd_subjects(inbox: _Inbox) -> None:
    """Subjects that are long, mixed, encoded without need, empty, absent or raw UTF-8."""
    inbox.add(
        "long-encoded",
        "Re: Очень длинная тема письма, которая не помещается в одно закодированное слово "
        "и переносится на несколько строк заголовка",
        subject_wire=UTF8_B,
        from_=(_addr("Сергей Кузнецов", "sergey@litware.ru"),),
    )
    inbox.add(
        "long-ascii",
        "This is a deliberately long subject line that has to be folded across several "
        "header lines by the sender's mail program",
    )
    inbox.add(
        "mixed-prefix",
        "Re: Fwd: Übergabe der Schlüssel (Büro 3)",
        subject_wire=Wire("iso-8859-1", "Q"),
    )
    inbox.add("emoji", "🎉 Launch day 🚀 — all hands", subject_wire=UTF8_B)
    inbox.add(
        "always-encoded",
        "Plain ASCII, encoded anyway",
        subject_wire=Wire("utf-8", "Q", always=True),
    )
    inbox.add(
        "whitespace-encoded", "Two  spaces,\ta tab and a trailing space ", subject_wire=UTF8_Q
    )
    inbox.add("no-subject", None)
    inbox.add("empty-subject", "")
    inbox.add("quote-backslash", 'He said "use C:\\Temp\\new" \\ then left', subject_wire=ASCII)
    inbox.add(
        "raw-utf8-subject",
        "Übergröße: naïve café — 日本語",
        subject_wire=RAW_UTF8,
        names_wire=RAW_UTF8,
        from_=(_addr("Jürgen Weiß", "juergen.weiss@adatum.de"),),
    )


def _dates(inbox: _Inbox) -> None:
    """Date headers missing, unparseable, obsolete or commented."""
    inbox.add("no-date", "No Date header at all", date_header=None)
    inbox.add(
        "bad-date",
        "An unparseable Date header",
        date_header="Someday soon, maybe next week",
        header_date=None,
    )
    obs = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
    inbox.add(
        "obs-date",
        "Date without weekday, GMT",
        date=obs,
        date_header="5 Mar 2024 10:00:00 GMT",
        header_date=obs,
    )
    pst = datetime(2024, 3, 5, 10, 0, tzinfo=timezone(timedelta(hours=-8)))
    inbox.add(
        "date-comment",
        "Date with a zone comment",
        date=pst,
        date_header="Tue, 5 Mar 2024 10:00:00 -0800 (PST)",
        header_date=pst,
    )
    cet = datetime(2024, 3, 5, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    inbox.add(
        "two-digit-year",
        "Obsolete two-digit year",
        date=cet,
        date_header="Tue, 05 Mar 24 10:00:00 +0100",
        header_date=cet,
    )


def _addresses(inbox: _Inbox) -> None:
    """Groups, names that need quoting or encoding, bare addresses, Sender and Reply-To."""
    inbox.add("undisclosed", "To undisclosed recipients", to=(SeedGroup("undisclosed-recipients"),))
    team = SeedGroup("Team", (_addr(None, "a@contoso.com"), _addr("Bob B", "b@contoso.com")))
    inbox.add("group-members", "A group with members", to=(team,), cc=(inbox.me,))
    inbox.add(
        "group-encoded",
        "Équipe: an encoded group name",
        subject_wire=UTF8_Q,
        to=(
            SeedGroup("Équipe projet", (_addr("Zoë Bélanger", "zoe@proseware.fr"), inbox.me)),
            inbox.mary,
        ),
        names_wire=Wire("iso-8859-1", "Q"),
    )
    inbox.add(
        "names-quoted",
        "Display names that need quoting",
        from_=(_addr('Doe, John "JD"', "jd@contoso.com"),),
        to=(
            _addr("O'Brien, James", "james@contoso.com"),
            _addr("Back\\slash (Admin)", "admin@contoso.com"),
            inbox.me,
        ),
    )
    inbox.add(
        "no-display-name",
        "Bare addresses",
        from_=(_addr(None, "noreply@northwind.example"),),
        to=(_addr(None, inbox.user), _addr(None, "archive@northwind.example")),
    )
    inbox.add(
        "sender-reply-to",
        "Sent on behalf of someone",
        from_=(inbox.mary,),
        sender=(_addr("Assistant", "assistant@fabrikam.net"),),
        reply_to=(_addr("Support", "support@fabrikam.net"), _addr(None, "tickets@fabrikam.net")),
    )
    inbox.add(
        "multi-from",
        "Two authors",
        from_=(inbox.john, inbox.mary),
        sender=(inbox.john,),
    )
    inbox.add(
        "bcc",
        "Note to self",
        from_=(inbox.me,),
        to=(inbox.me,),
        bcc=(_addr("Hidden Person", "hidden@contoso.com"),),
    )


def _threading(inbox: _Inbox) -> None:
    """A thread of three (In-Reply-To, References) and a message without Message-ID."""
    first = inbox.add("thread-1", "Project kickoff", from_=(inbox.mary,))
    second = inbox.add(
        "thread-2",
        "Re: Project kickoff",
        from_=(inbox.me,),
        to=(inbox.mary,),
        in_reply_to=first.message_id,
        references=(first.message_id,),
        flags=frozenset({"\\Seen", "\\Answered"}),
        tags={"answered"},
    )
    inbox.add(
        "thread-3",
        "Re: Re: Project kickoff",
        from_=(inbox.mary,),
        in_reply_to=second.message_id,
        references=(first.message_id, second.message_id),
    )
    inbox.add("no-message-id", "A message without Message-ID", message_id=None)


def _attachments(inbox: _Inbox) -> None:
    """Attachments and inline parts, named every way mailers name them, and a forward."""
    inbox.add(
        "pdf",
        "Quarterly report attached",
        attachments=(
            SeedAttachment("Quarterly report Q1.pdf", "application/pdf", PDF_BYTES),
            SeedAttachment("figures.csv", "text/csv", b"quarter,revenue\r\nQ1,1200\r\nQ2,1350\r\n"),
        ),
        flags=frozenset({"\\Seen", "\\Flagged"}),
        tags={"flagged"},
    )
    inbox.add(
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
    inbox.add(
        "no-filename",
        "An attachment without a name",
        attachments=(SeedAttachment(None, "application/octet-stream", bytes(range(256)) * 4),),
    )
    inbox.add(
        "rfc2231",
        "RFC 2231 file name",
        attachments=(
            SeedAttachment(
                "Résumé – final (v2).pdf", "application/pdf", PDF_BYTES, filename_style="rfc2231"
            ),
        ),
    )
    inbox.add(
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
    inbox.add(
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
    inbox.add(
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
        to=(inbox.john,),
        message_id="<inner.angebot@adatum.de>",
        body="Sehr geehrter Herr Smith,\nanbei unser Angebot.\n",
        body_charset="iso-8859-1",
        subject_wire=Wire("iso-8859-1", "Q"),
        names_wire=Wire("iso-8859-1", "Q"),
    )
    inbox.add(
        "forwarded",
        "Fwd: Angebot für das Büro",
        subject_wire=Wire("iso-8859-1", "Q"),
        body="Forwarding the offer below.\n",
        attachments=(SeedAttachment(None, "message/rfc822", build_message(inner)),),
    )


def _bodies(inbox: _Inbox) -> None:
    """HTML, a large attachment, and text bodies in 8-bit and quoted-printable charsets."""
    inbox.add(
        "html",
        "HTML newsletter",
        body="Plain text version.\n",
        html="<html><body><h1>Newsletter</h1><p>HTML version.</p></body></html>",
    )
    big = random.Random(42).randbytes(600_000)  # noqa: S311 - reproducible bytes
    inbox.add(
        "large",
        "A large attachment",
        attachments=(SeedAttachment("big.bin", "application/octet-stream", big),),
    )
    inbox.add(
        "latin1-8bit-body",
        "Body in ISO-8859-1, 8bit",
        body="Grüße, Jürgen.\nÀ bientôt.\n",
        body_charset="iso-8859-1",
        body_encoding="8bit",
    )
    inbox.add(
        "cp1252-quotes",
        "“Smart quotes” and – dashes …",
        subject_wire=Wire("windows-1252", "Q"),
        body="“Smart quotes” and – dashes …\n",
        body_charset="windows-1252",
        body_encoding="quoted-printable",
    )


def _flags(inbox: _Inbox) -> None:
    """Unread and flagged."""
    inbox.add("unread", "You have not read this yet", flags=frozenset(), tags={"unseen"})
    inbox.add(
        "flagged-unseen",
        "Flagged and unread",
        flags=frozenset({"\\Flagged"}),
        tags={"unseen", "flagged"},
    )
