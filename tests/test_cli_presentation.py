"""What a person reads from the command line: local times, IEC sizes, tables fitted to a
terminal and tab-separated values in a pipe, bars that end full and leave a clean last line."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli_runner import on_terminal
from conftest import BOB
from o365imap._display import human_size
from o365imap.models import MessageSummary
from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.seed import MaildirWriter, SeedMessage, Testbed
from test_cli import conn, environment, run

# rich's own styling (bold, dim) when a terminal is asked for: not the sender's text
_SGR = re.compile(r"\x1b\[[0-9;]*m")
TERMINAL = {"TTY_COMPATIBLE": "1", "COLUMNS": "80"}


@pytest.fixture
def tokyo(reader_zone: Callable[[str], None]) -> None:
    """The reader is in Tokyo (UTC+9, no summer time)."""
    reader_zone("Asia/Tokyo")


def _tsv(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines()]


# The three messages: 09:00, 10:00 and 18:00 UTC, each written "10:00" by its sender.
_SENT = [
    ("Mon, 4 Mar 2024 10:00:00 +0100", datetime(2024, 3, 4, 9, 0, tzinfo=UTC)),
    ("Mon, 4 Mar 2024 10:00:00 +0000", datetime(2024, 3, 4, 10, 0, tzinfo=UTC)),
    ("Mon, 4 Mar 2024 10:00:00 -0800", datetime(2024, 3, 4, 18, 0, tzinfo=UTC)),
]


def _three_zones(dovecot: DovecotServer, folder: str) -> None:
    messages = []
    for n, (header, moment) in enumerate(_SENT):
        raw = (
            b"From: Sender %d <s%d@example.com>\r\nTo: bob@example.com\r\n"
            b"Subject: zone %d\r\nDate: %s\r\n\r\nbody\r\n" % (n, n, n, header.encode())
        )
        messages.append(SeedMessage(date=moment, subject=None, raw=raw))
    MaildirWriter(dovecot.maildir(BOB), dovecot.mail_owner).write(folder, messages)


def test_times_are_local_in_list_and_show_alike(dovecot: DovecotServer, tokyo: None) -> None:
    _three_zones(dovecot, "Zones")
    token = dovecot.mint_token(BOB)
    listed = run(["list", "Zones", *conn(dovecot, BOB)], token)
    assert listed.returncode == 0, listed.stderr
    header, *rows = _tsv(listed.stdout)
    assert header == ["UID", "Date", "From", "Subject", "Size", "Flags"]
    # newest first, and in Tokyo: 18:00 UTC is the next day's 03:00
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("3", "2024-03-05 03:00", "zone 2"),
        ("2", "2024-03-04 19:00", "zone 1"),
        ("1", "2024-03-04 18:00", "zone 0"),
    ]
    for uid, when, *_ in rows:
        shown = run(["show", uid, "Zones", *conn(dovecot, BOB)], token)
        assert shown.returncode == 0, shown.stderr
        [date] = [line[8:] for line in shown.stdout.splitlines() if line.startswith("Date")]
        read = datetime.strptime(date, "%a, %d %b %Y %H:%M %z")
        assert read.utcoffset() == timedelta(hours=9), date
        assert read.strftime("%Y-%m-%d %H:%M") == when
    # the JSON keeps the time as sent, with the sender's offset
    data = run(["list", "Zones", "--json", *conn(dovecot, BOB)], token).stdout
    assert '"date": "2024-03-04T10:00:00-08:00"' in data


def test_times_follow_tz(dovecot: DovecotServer, reader_zone: Callable[[str], None]) -> None:
    _three_zones(dovecot, "ZonesUTC")
    reader_zone("UTC")
    listed = run(["list", "ZonesUTC", *conn(dovecot, BOB)], dovecot.mint_token(BOB))
    assert [r[1] for r in _tsv(listed.stdout)[1:]] == [
        "2024-03-04 18:00",
        "2024-03-04 10:00",
        "2024-03-04 09:00",
    ]


def test_sizes_are_binary_with_iec_names() -> None:
    assert [human_size(n) for n in (0, 512, 1536, 150 << 20, int(2.1 * (1 << 30)))] == [
        "0 B",
        "512 B",
        "1.5 KiB",
        "150.0 MiB",
        "2.1 GiB",
    ]
    assert human_size(1536, compact=True) == "1.5 K"
    assert human_size(None) == ""


def test_a_pipe_gets_whole_rows_as_tab_separated_values(
    dovecot: DovecotServer, testbed: Testbed, token: str
) -> None:
    """Nothing cut at 80 columns: the whole subject, for grep and cut."""
    longest = max(testbed.inbox, key=lambda m: len(m.subject or ""))
    assert longest.subject is not None and len(longest.subject) > 40
    listed = run(["list", "--page-size", "100", *conn(dovecot)], token, COLUMNS="80")
    assert listed.returncode == 0, listed.stderr
    rows = _tsv(listed.stdout)
    assert rows[0] == ["UID", "Date", "From", "Subject", "Size", "Flags"]
    assert all(len(row) == 6 for row in rows)
    assert [longest.uid, longest.subject] in [[int(r[0]), r[3]] for r in rows[1:]]
    assert all(re.fullmatch(r"\d+ B|\d+\.\d [KMG]iB", r[4]) for r in rows[1:]), rows
    found = run(["search", "--subject", longest.subject[:20], *conn(dovecot)], token)
    assert any(r[3] == longest.subject for r in _tsv(found.stdout)[1:]), found.stdout
    folders = _tsv(run(["folders", *conn(dovecot)], token).stdout)
    assert folders[0] == ["Folder", "Special use", "Flags"]
    assert [r[0] for r in folders if r[0] == "Отчёты/2024"] == ["Отчёты/2024"]


def test_a_terminal_gets_a_table_fitted_to_its_width(
    dovecot: DovecotServer, testbed: Testbed, token: str
) -> None:
    listed = run(["list", "--page-size", "30", *conn(dovecot)], token, **TERMINAL)
    assert listed.returncode == 0, listed.stderr
    lines = _SGR.sub("", listed.stdout).splitlines()
    assert lines[0].startswith("INBOX: page 1 of ") and lines[0].endswith(" messages)")
    assert lines[1].split() == ["UID", "Date", "From", "Subject", "Size", "Flags"]
    assert set(lines[2]) <= {"─", " "}
    assert len(lines) == 3 + 30
    assert all(len(line) <= 80 for line in lines), "\n".join(lines)
    newest = testbed.inbox[-1]
    assert lines[3].split()[0] == str(newest.uid)
    assert any("…" in line for line in lines[3:])  # long subjects end with an ellipsis


def test_folders_and_info_read_as_words(
    dovecot: DovecotServer, testbed: Testbed, token: str
) -> None:
    folders = _tsv(run(["folders", *conn(dovecot)], token).stdout)
    sent = next(row for row in folders if row[0] == "Sent")
    assert sent[1] == "\\Sent" and "\\Sent" not in sent[2].split(), sent
    info = dict(row for row in _tsv(run(["info", "Sent", *conn(dovecot)], token).stdout)[1:])
    assert info["opened"] == "read-only"
    assert "read only" not in info and "permanent flags" not in info  # empty under EXAMINE
    assert info["exists"] == str(len(testbed.folders["Sent"]))


def test_one_message_is_one_message(dovecot: DovecotServer) -> None:
    writer = MaildirWriter(dovecot.maildir(BOB), dovecot.mail_owner)
    writer.write("Single", [SeedMessage(date=datetime(2025, 1, 1, tzinfo=UTC), subject="only")])
    token = dovecot.mint_token(BOB)
    listed = run(["list", "Single", *conn(dovecot, BOB)], token, **TERMINAL)
    assert "Single: page 1 of 1 (1 message)" in listed.stdout
    found = run(["search", "Single", *conn(dovecot, BOB)], token, **TERMINAL)
    assert "Single: 1 message of 1 matches" in found.stdout


def test_show_parts_exact_or_marked_and_no_empty_column(
    dovecot: DovecotServer, testbed: Testbed, token: str
) -> None:
    msg = testbed.tagged("unnamed-parts", "Attachments")
    where = [str(msg.uid), "Attachments", *conn(dovecot)]
    shown = run(["show", *where], token)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    start = lines.index("Part\tType\tFile name\tSize\tDisposition")  # no Content-ID column
    parts = [line.split("\t") for line in lines[start + 1 :]]
    assert [p[1] for p in parts] == ["application/pdf", "image/png", "application/octet-stream"]
    # base64 on the server: the decoded size is an estimate, and says so
    assert parts[2][3] == "~3.0 MiB", parts
    wide = run(["show", *where], token, TTY_COMPATIBLE="1", COLUMNS="60")
    table = _SGR.sub("", wide.stdout)
    assert "application/octet-stream" in table  # one piece, not wrapped
    assert "Content-ID" not in table
    assert all(len(line) <= 60 for line in table.splitlines() if "│" in line)


def test_show_date_is_local_from_a_file(tmp_path: Path, tokyo: None) -> None:
    source = tmp_path / "m.eml"
    source.write_bytes(
        b"From: a@example.com\r\nSubject: s\r\nDate: Tue, 5 Mar 2024 09:00:00 +0000\r\n\r\nhi\r\n"
    )
    shown = run(["show", str(source)])
    assert "Date    Tue, 05 Mar 2024 18:00 +0900" in shown.stdout.splitlines()


_MAIN = "import sys\nfrom o365imap.cli import main\nmain(sys.argv[1:])\n"


def test_save_bars_end_full_and_the_path_gets_its_own_line(
    dovecot: DovecotServer, testbed: Testbed, token: str, tmp_path: Path
) -> None:
    """stdout and stderr the same terminal: the bar ends at its total, then vanishes, and the
    saved path is a line of its own (it was glued onto the bar's line)."""
    msg = testbed.tagged("unnamed-parts", "Attachments")
    env = {**environment(token), "COLUMNS": "120", "TERM": "xterm"}
    argv = [sys.executable, "-c", _MAIN, "save", str(msg.uid), "Attachments"]
    done, drawn = on_terminal([*argv, "--dir", str(tmp_path), *conn(dovecot)], env, stdout_too=True)
    text = drawn.decode(errors="replace")
    assert done.returncode == 0, text[-500:]
    assert "MiB" in text and " MB" not in text
    # the last drawing of the bar: done equals the total (the written size)
    amounts = re.findall(r"(\d+\.\d)/(\d+\.\d) MiB", _SGR.sub("", text))
    assert amounts and amounts[-1][0] == amounts[-1][1], amounts
    for name in ("attachment-1.pdf", "image-2.png", "attachment-3.bin"):
        path = str(tmp_path / name)
        [line] = [line for line in text.split("\n") if path in line]
        # what precedes the path on its line is the bars' erasing (escapes, CR), no text
        before = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\r", "", line[: line.index(path)])
        assert before == "", repr(line)
    assert (tmp_path / "attachment-3.bin").stat().st_size == 3 << 20


def test_list_all_as_a_table_is_written_a_page_at_a_time(
    dovecot: DovecotServer, testbed: Testbed, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each page's rows are out before the next FETCH: the table never holds the folder."""
    from o365imap import ImapClient
    from o365imap.cli import mailbox

    monkeypatch.setattr(mailbox, "_ALL_PAGE", 7)
    written: list[int] = []  # lines on stdout when each page is asked for
    real = ImapClient.list_page

    def watched(self: ImapClient, page: int = 1, page_size: int = 50) -> list[MessageSummary]:
        sys.stdout.flush()
        captured = sys.stdout.buffer  # the runner's BytesIO
        assert isinstance(captured, io.BytesIO)
        written.append(captured.getvalue().count(b"\n"))
        return real(self, page, page_size)

    monkeypatch.setattr(ImapClient, "list_page", watched)
    listed = run(["list", "--all", *conn(dovecot)], token)
    assert listed.returncode == 0, listed.stderr
    uids = [int(row[0]) for row in _tsv(listed.stdout)[1:]]
    assert uids == sorted((m.uid for m in testbed.inbox), reverse=True)
    pages = -(-len(testbed.inbox) // 7)
    assert written == [1 + 7 * n for n in range(pages)]  # the header, then 7 rows a page


def test_append_says_the_date_in_local_time(
    dovecot: DovecotServer, tmp_path: Path, tokyo: None
) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(
        b"From: a@example.com\r\nTo: bob@example.com\r\nSubject: dated\r\n"
        b"Date: Tue, 5 Mar 2024 10:00:00 +0100\r\n\r\nbody\r\n"
    )
    token = dovecot.mint_token(BOB)
    writer = MaildirWriter(dovecot.maildir(BOB), dovecot.mail_owner)
    writer.write("Dated", [SeedMessage(date=datetime(2025, 1, 1, tzinfo=UTC), subject="first")])
    done = run(["append", str(message), "--to", "Dated", "--dry-run", *conn(dovecot, BOB)], token)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith(", dated 2024-03-05 18:00 +0900."), done.stdout


def test_uids_are_whole_when_the_server_does_not_say_uidnext(
    dovecot: DovecotServer, testbed: Testbed, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RFC 3501 lets a server leave UIDNEXT out of SELECT's answer: the UID column cannot be
    sized from the message count then (UIDs are not below it), and a UID cut to "12…" is
    one nobody can pass to `show`."""
    from dataclasses import replace

    from o365imap import ImapClient
    from o365imap.models import FolderInfo

    real_select, real_page = ImapClient.select, ImapClient.list_page

    def no_uidnext(self: ImapClient, folder: str, **kwargs: bool) -> FolderInfo:
        return replace(real_select(self, folder, **kwargs), uidnext=None)

    def big_uids(self: ImapClient, page: int = 1, page_size: int = 50) -> list[MessageSummary]:
        return [
            m._replace(uid=(m.uid or 0) + 123_456_000) for m in real_page(self, page, page_size)
        ]

    monkeypatch.setattr(ImapClient, "select", no_uidnext)
    monkeypatch.setattr(ImapClient, "list_page", big_uids)
    listed = run(["list", "--page-size", "5", *conn(dovecot)], token, **TERMINAL)
    assert listed.returncode == 0, listed.stderr
    rows = _SGR.sub("", listed.stdout).splitlines()[3:]
    newest = testbed.inbox[-1].uid + 123_456_000
    assert rows[0].split()[0] == str(newest), rows


def test_search_shows_whole_uids_when_the_server_does_not_say_uidnext(
    dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Search knows its UIDs before the first row: the column fits the largest, whatever
    SELECT said (here nothing: UIDNEXT left out; a folder of 3 messages with 9-digit UIDs)."""
    import os
    from dataclasses import replace

    from o365imap import ImapClient
    from o365imap.models import FolderInfo

    writer = MaildirWriter(dovecot.maildir(BOB), dovecot.mail_owner)
    uidlist = writer.create_folder("BigUids") / "dovecot-uidlist"
    uidlist.write_text("3 V1700000000 N123456789\n")  # Dovecot numbers new files from here
    if dovecot.mail_owner is not None:
        os.chown(uidlist, *dovecot.mail_owner)
    day = datetime(2025, 1, 1, tzinfo=UTC)
    writer.write("BigUids", [SeedMessage(date=day, subject=f"big {n}") for n in range(3)])
    real_select = ImapClient.select

    def no_uidnext(self: ImapClient, folder: str, **kwargs: bool) -> FolderInfo:
        return replace(real_select(self, folder, **kwargs), uidnext=None)

    monkeypatch.setattr(ImapClient, "select", no_uidnext)
    found = run(["search", "BigUids", *conn(dovecot, BOB)], dovecot.mint_token(BOB), **TERMINAL)
    assert found.returncode == 0, found.stderr
    rows = _SGR.sub("", found.stdout).splitlines()[3:]
    assert [row.split()[0] for row in rows] == ["123456791", "123456790", "123456789"], rows


def test_a_date_at_the_end_of_time_is_shown_as_sent(dovecot: DovecotServer, tokyo: None) -> None:
    """A sender's Date can be any year: one that local time cannot hold (9999-12-31 at -0500
    is past year 9999 in UTC) is shown as sent, rather than ending the listing with an
    internal error for every message of the folder."""
    raw = (
        b"From: a@example.com\r\nTo: bob@example.com\r\nSubject: far\r\n"
        b"Date: Fri, 31 Dec 9999 23:30:00 -0500\r\n\r\nbody\r\n"
    )
    writer = MaildirWriter(dovecot.maildir(BOB), dovecot.mail_owner)
    writer.write("Far", [SeedMessage(date=datetime(2025, 1, 1, tzinfo=UTC), subject=None, raw=raw)])
    token = dovecot.mint_token(BOB)
    listed = run(["list", "Far", *conn(dovecot, BOB)], token)
    assert listed.returncode == 0, listed.stderr
    assert [r[1] for r in _tsv(listed.stdout)[1:]] == ["9999-12-31 23:30"]
    shown = run(["show", "1", "Far", *conn(dovecot, BOB)], token)
    assert shown.returncode == 0, shown.stderr
    assert "Date    Fri, 31 Dec 9999 23:30 -0500" in shown.stdout.splitlines()


class _Stdout(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.mark.parametrize("tty", [False, True])
@pytest.mark.parametrize(
    "env",
    [
        {},
        {"TTY_COMPATIBLE": "1"},
        {"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"},
        {"TTY_COMPATIBLE": "yes", "FORCE_COLOR": "1"},
        {"FORCE_COLOR": "1"},
        {"FORCE_COLOR": ""},
    ],
)
def test_the_terminal_is_told_as_rich_tells_it(
    monkeypatch: pytest.MonkeyPatch, tty: bool, env: dict[str, str]
) -> None:
    """Tables and listings choose their form without rich (a pipe never imports it): the
    same answer as rich's Console on stdout, for the same environment."""
    from rich.console import Console

    from o365imap.cli import tables

    for name in ("TTY_COMPATIBLE", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "stdout", _Stdout(tty))
    expected = Console(soft_wrap=False).is_terminal
    assert tables.stdout_is_terminal() is expected
    assert (tables.table_console(soft_wrap=False) is not None) is expected


def test_counts_agree_with_their_noun_in_both_front_ends() -> None:
    from o365imap._display import counted

    assert counted(1) == "1 message"
    assert counted(0, "file") == "0 files"
    assert counted(20_000) == "20,000 messages"
