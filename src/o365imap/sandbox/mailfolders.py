"""The test bed's small folders: a few hand-written messages in each but INBOX, Attachments, Bulk.

:func:`small_folders` gives each special-use folder (Sent, Drafts, Junk, Trash, Archive) and the
folders with national names (``Entwürfe``, ``Отчёты``, ``日本語``) and hierarchies
(``Archive/2024``, ``Projects/Alpha``) a few messages whose subjects are in the charsets their
names suggest; every message is tagged with its folder's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from .mailcatalog import Clock
from .mailmodel import ASCII, UTF8_B, UTF8_Q, SeedAddress, SeedMessage, Wire

__all__ = ["small_folders"]


def _simple(
    clock: Clock,
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
    me = SeedAddress("Alice Example", user)
    boss = SeedAddress("Mary Johnson", "mary.johnson@fabrikam.net")
    ivan = SeedAddress("Иван Петров", "ivan@litware.ru")
    taro = SeedAddress("山田太郎", "taro@tailspin.co.jp")
    clock = Clock(datetime(2024, 2, 1, 8, 0, tzinfo=UTC), timedelta(hours=5))
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
            SeedAddress("Prize Center", "win@spam.example"),
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
            SeedAddress("Jürgen Müller", "juergen@adatum.de"),
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
