"""Fill a sandbox user's Maildir with realistic mail, fast, and keep the answer key.

Messages are written straight into Dovecot's Maildir++ layout (``cur/`` files, ``.Name``
folders in modified UTF-7, ``.`` as the on-disk separator), which is ~200 times faster than
APPENDing them: 20,000 messages take about a second. Each file's mtime is the message's
``date``, which Dovecot reports as INTERNALDATE; its name carries the flags (``:2,FS``) and the
size (``S=``/``W=``, so Dovecot need not read the file to answer RFC822.SIZE). File names start
with a strictly increasing number because Dovecot gives new files their UIDs in file-name
order: a folder's messages get UIDs 1, 2, 3 ... in the order they were written.

:func:`seed_testbed` builds the shared test mailbox; :func:`inbox_messages` and
:func:`bulk_messages` are the reusable generators behind it (the demo mailbox uses them too).
Every :class:`SeedMessage` keeps the values a client must decode from it.
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from .mailbuild import (
    ASCII,
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

if TYPE_CHECKING:
    from .dovecot import DovecotServer

__all__ = [
    "BULK_COUNT",
    "BULK_SEED",
    "SPECIAL_USE",
    "AddressEntry",
    "MaildirWriter",
    "SeedAddress",
    "SeedAttachment",
    "SeedGroup",
    "SeedMessage",
    "Testbed",
    "Wire",
    "build_message",
    "bulk_messages",
    "encode_mutf7",
    "inbox_messages",
    "seed_testbed",
]

BULK_COUNT = 20_000
BULK_SEED = 20240229
# Special-use folders the sandbox's Dovecot config creates (RFC 6154).
SPECIAL_USE = {
    "Sent": "\\Sent",
    "Drafts": "\\Drafts",
    "Junk": "\\Junk",
    "Trash": "\\Trash",
    "Archive": "\\Archive",
}
# Maildir file names start at this number; it only orders files, it is not a date.
_NAME_BASE = 1_000_000_000


# -- modified UTF-7 (RFC 3501 section 5.1.3) -----------------------------------------------------


def encode_mutf7(name: str) -> str:
    """A folder name in modified UTF-7: printable ASCII as itself (``&`` as ``&-``), the rest as
    ``&`` + base64 of UTF-16BE with ``,`` for ``/`` + ``-``."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            b64 = binascii.b2a_base64(raw, newline=False).decode("ascii").rstrip("=")
            out.append("&" + b64.replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


# -- writing Maildir++ -----------------------------------------------------------------------------


class MaildirWriter:
    """Writes folders and message files into one user's Maildir++ root, as Dovecot lays it out.

    ``owner`` is the (uid, gid) to give every created file and folder (the sandbox's mail user
    when running as root), or None to leave ownership alone.
    """

    def __init__(self, maildir: Path, owner: tuple[int, int] | None = None) -> None:
        self.maildir = maildir
        self.owner = owner

    def folder_path(self, folder: str) -> Path:
        """``INBOX`` is the root; ``Archive/2024`` is ``.Archive.2024`` (names in mUTF-7)."""
        if folder.upper() == "INBOX":
            return self.maildir
        parts = folder.split("/")
        for part in parts:
            # Maildir++ uses "." as its separator on disk, so a name cannot contain one
            if not part or "." in part:
                raise ValueError(f"folder name not representable in Maildir++: {folder!r}")
        return self.maildir / ("." + ".".join(encode_mutf7(p) for p in parts))

    def _mkdir(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self.owner is not None:
            os.chown(path, *self.owner)

    def create_folder(self, folder: str) -> Path:
        path = self.folder_path(folder)
        self._mkdir(self.maildir)
        self._mkdir(path)
        for sub in ("cur", "new", "tmp"):
            self._mkdir(path / sub)
        if path != self.maildir:
            marker = path / "maildirfolder"
            marker.touch()
            if self.owner is not None:
                os.chown(marker, *self.owner)
        return path

    def write(self, folder: str, messages: Iterable[SeedMessage]) -> list[SeedMessage]:
        """Write ``messages`` into ``folder``'s ``cur/``, in order, and fill in their uid, size,
        folder and filename. Messages already in the folder keep their UIDs; new ones follow."""
        cur = self.create_folder(folder) / "cur"
        existing = [name for name in os.listdir(cur) if not name.startswith(".")]
        number = max((int(n.split(".", 1)[0]) for n in existing), default=_NAME_BASE - 1) + 1
        uid = len(existing) + 1
        written = []
        owner = self.owner
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        for msg in messages:
            data = build_message(msg)
            size = len(data)
            # S= and W= (physical and virtual size: equal, as every line ends in CRLF) let
            # Dovecot answer RFC822.SIZE without reading the file.
            name = f"{number}.{uid}.sandbox,S={size},W={size}:2,{msg.flag_letters}"
            fd = os.open(cur / name, flags, 0o600)
            try:
                os.write(fd, data)
                if owner is not None:
                    os.fchown(fd, *owner)
                stamp = msg.date.timestamp()
                os.utime(fd, (stamp, stamp))  # Dovecot's INTERNALDATE for Maildir is the mtime
            finally:
                os.close(fd)
            msg.uid, msg.size, msg.folder, msg.filename = uid, size, folder, name
            written.append(msg)
            number += 1
            uid += 1
        return written

    def subscribe(self, folders: Iterable[str]) -> None:
        """Write Dovecot's ``subscriptions`` file (version 2: tab-separated hierarchy, mUTF-7)."""
        names = sorted({f for f in folders if f.upper() != "INBOX"})
        lines = "".join("\t".join(encode_mutf7(p) for p in f.split("/")) + "\n" for f in names)
        path = self.maildir / "subscriptions"
        path.write_text("V\t2\n\n" + lines, encoding="ascii")
        if self.owner is not None:
            os.chown(path, *self.owner)


# -- the test bed ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Testbed:
    """A seeded user: every folder's messages in UID order (``folders["INBOX"][0].uid == 1``).

    Folder keys are the names a client shows (decoded, ``/``-separated): ``"Отчёты/2024"``.
    """

    __test__: ClassVar[bool] = False  # not a pytest test class, despite its name

    user: str
    folders: dict[str, list[SeedMessage]] = field(default_factory=dict)

    @property
    def inbox(self) -> list[SeedMessage]:
        return self.folders["INBOX"]

    @property
    def bulk(self) -> list[SeedMessage]:
        return self.folders["Bulk"]

    def tagged(self, tag: str, folder: str = "INBOX") -> SeedMessage:
        """The one message of ``folder`` carrying ``tag`` (see the tags in :func:`inbox_messages`)."""
        found = [m for m in self.folders[folder] if tag in m.tags]
        if len(found) != 1:
            raise KeyError(f"{len(found)} messages tagged {tag!r} in {folder}")
        return found[0]

    def special_use(self) -> dict[str, str]:
        return {name: flag for name, flag in SPECIAL_USE.items() if name in self.folders}


def seed_testbed(
    server: DovecotServer, user: str, *, bulk_count: int = BULK_COUNT, seed: int = BULK_SEED
) -> Testbed:
    """Seed ``user`` (added without a password if the server does not know it yet).

    INBOX gets :func:`inbox_messages`; ``Bulk`` gets ``bulk_count`` generated messages; the
    special-use folders, ``Entwürfe``, ``Отчёты`` (with ``Отчёты/2024``), ``日本語``,
    ``Projects`` (with ``Projects/Alpha``) and ``Archive/2024`` get a few each. Call it before
    a client opens those folders (messages must be new to Dovecot to get UIDs in order).
    """
    if user.lower() not in server.users:
        server.add_user(user)
    writer = MaildirWriter(server.maildir(user), server.mail_owner)
    bed = Testbed(user)
    contents = {"INBOX": inbox_messages(user), **small_folders(user)}
    for folder, messages in contents.items():
        bed.folders[folder] = writer.write(folder, messages)
    bed.folders["Bulk"] = writer.write("Bulk", bulk_messages(user, bulk_count, seed=seed))
    writer.subscribe(bed.folders)
    return bed


# -- content -------------------------------------------------------------------------------------

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
