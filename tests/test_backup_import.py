"""``o365imap import`` (issue 14, item 5): Maildirs, mboxes and folders of .eml files appended
to Dovecot with their flags and internal dates, once each: a rerun appends nothing, a run
killed between APPENDs (or between an APPEND and its journal line) and run again leaves every
message exactly once, and export -> import into an empty mailbox -> export gives the same
bytes, flags and dates.
"""

from __future__ import annotations

import json
import mailbox
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli_runner import invoke
from conftest import ALICE, BOB
from o365imap import ImapClient, UsageError, open_token
from o365imap.backup import (
    ExportOptions,
    ImportOptions,
    ImportReport,
    export_mailbox,
    import_mailbox,
)
from o365imap.backup._import import _tree_name
from o365imap.backup._journal import Journal
from o365imap.backup._sources import find_folders
from o365imap.protocol.commands import SequenceSet
from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.seed import Testbed
from test_cli import conn, environment, json_lines


def _client(dovecot: DovecotServer, user: str) -> ImapClient:
    return open_token(
        user, dovecot.mint_token(user), host=dovecot.host, port=dovecot.imaps_port,
        ca_file=str(dovecot.ca_file),
    )  # fmt: skip


@pytest.fixture
def bob(dovecot: DovecotServer) -> Iterator[ImapClient]:
    with _client(dovecot, BOB) as imap:
        yield imap


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def _message(subject: str, body: str = "Hello.\n", *, mid: bool = True, eol: str = "\n") -> bytes:
    lines = ["From: Alice <alice@example.com>", "To: Bob <bob@example.com>",
             f"Subject: {subject}", "Date: Tue, 04 Mar 2025 08:15:00 +0100"]  # fmt: skip
    if mid:
        lines.append(f"Message-ID: <{subject}.{uuid.uuid4().hex}@example.com>")
    text = "\n".join(lines) + "\n\n" + body
    return text.replace("\n", eol).encode()


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _folder(client: ImapClient, name: str) -> dict[bytes, tuple[frozenset[str], datetime]]:
    """Every message of ``name``: its bytes -> (flags, internal date)."""
    info = client.select(name, readonly=True)
    found: dict[bytes, tuple[frozenset[str], datetime]] = {}
    if not info.exists:
        return found
    items = "(FLAGS INTERNALDATE BODY.PEEK[])"
    for response in client.iter_fetch(SequenceSet.range(1, None), items):
        body = bytes(response.items["BODY[]"])
        assert body not in found, "a message appended twice"
        flags = frozenset(str(f) for f in response.items["FLAGS"]) - {"\\Recent"}
        found[body] = (flags, response.items["INTERNALDATE"])
    return found


def _import(
    client: ImapClient, source: Path, tmp_path: Path, to: str | None = None, batch: int = 50
) -> ImportReport:
    options = ImportOptions(source, to=to, account=BOB, state_dir=tmp_path / "state", batch=batch)
    return import_mailbox(client, options)


# -- reading sources, without a server -------------------------------------------------------


def _mboxrd(messages: list[tuple[bytes, bytes, bytes]], eol: bytes) -> bytes:
    """An mbox as mboxrd writers make it: From line, quoted From lines, an empty line after."""
    out = b""
    for from_line, headers, body in messages:
        quoted = b"\n".join(
            b">" + line if line.lstrip(b">").startswith(b"From ") else line
            for line in body.split(b"\n")
        )
        out += from_line + b"\n" + headers + b"\n" + quoted + b"\n"
    return out.replace(b"\n", eol)


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_mbox_messages_are_byte_ranges_unquoted_with_their_flags_and_dates(
    tmp_path: Path, eol: bytes
) -> None:
    body = b"From here on it is a body line.\n>From quoted once already.\nEnd.\n"
    headers = b"Subject: one\nMessage-ID: <one@example.com>\nStatus: RO  \nX-Status: AF  \n"
    path = tmp_path / "Inbox.mbox"
    path.write_bytes(
        _mboxrd(
            [
                (b"From alice@example.com Tue Mar  4 07:15:00 2025", headers, body),
                (b"From MAILER-DAEMON Wed Mar  5 10:00:01 2025", b"Subject: two\n", b"Two.\n"),
            ],
            eol,
        )
    )
    [folder] = find_folders(path)
    assert (folder.kind, folder.parts) == ("mbox", ("Inbox",))
    first, second = folder.iter_messages()
    assert first.flags == ("\\Seen", "\\Answered", "\\Flagged")
    assert first.internaldate == datetime(2025, 3, 4, 7, 15, tzinfo=UTC)
    assert second.flags == ()
    assert second.internaldate == datetime(2025, 3, 5, 10, 0, 1, tzinfo=UTC)
    with first.open() as data:
        assert not isinstance(data, Path)
        assert data.read() == _crlf(b"Subject: one\nMessage-ID: <one@example.com>\n\n" + body)
    with second.open() as data:
        assert not isinstance(data, Path)
        assert data.read() == b"Subject: two\r\n\r\nTwo.\r\n"


def test_an_mbox_written_by_pythons_mailbox_module_reads_back(tmp_path: Path) -> None:
    """mboxo as Python writes it (``>From`` quoting, a From line of its own, LF)."""
    path = tmp_path / "py.mbox"
    box = mailbox.mbox(path)
    originals = [_message("py-1", "From the body.\nLast.\n"), _message("py-2", "x\n")]
    for original in originals:
        entry = mailbox.mboxMessage(original)
        entry.set_flags("RA")
        entry.set_from("sender@example.com", time.gmtime(1_700_000_000))
        box.add(entry)
    box.close()
    read = list(find_folders(path)[0].iter_messages())
    assert [m.flags for m in read] == [("\\Seen", "\\Answered")] * 2
    assert [m.internaldate for m in read] == [datetime.fromtimestamp(1_700_000_000, UTC)] * 2
    for message, sent in zip(read, originals, strict=True):
        with message.open() as data:
            assert not isinstance(data, Path)
            assert data.read() == _crlf(sent)


def test_sources_are_told_apart_and_named(tmp_path: Path) -> None:
    # Maildir++ (a root that is INBOX, .Sub.Deeper beside it, names in modified UTF-7), an
    # export's fs layout with escapes, a folder of .mbox files, a folder of .eml files.
    plus = tmp_path / "plus"
    for sub in ("", ".Work", ".Work.2024", ".Entw&APw-rfe"):
        for part in ("cur", "new", "tmp"):
            (plus / sub / part).mkdir(parents=True)
    assert [f.parts for f in find_folders(plus)] == [
        ("INBOX",), ("Entwürfe",), ("Work",), ("Work", "2024"),
    ]  # fmt: skip
    tree = tmp_path / "tree"
    for sub in ("INBOX", "Archive/2024", "%2Ehidden"):
        for part in ("cur", "new", "tmp"):
            (tree / sub / part).mkdir(parents=True)
    (tree / ".o365imap").mkdir()  # the export's state: not a folder
    (tree / "Lists").mkdir()
    (tree / "Lists" / "py.mbox").write_bytes(b"From x Tue Mar  4 07:15:00 2025\nSubject: a\n\nA\n")
    (tree / "Saved").mkdir()
    (tree / "Saved" / "1.eml").write_bytes(b"Subject: a\r\n\r\nA\r\n")
    assert sorted((f.kind, f.parts) for f in find_folders(tree)) == [
        ("eml", ("Saved",)), ("maildir", (".hidden",)), ("maildir", ("Archive", "2024")), ("maildir", ("INBOX",)), ("mbox", ("Lists", "py")),
    ]  # fmt: skip
    assert _tree_name(("inbox",), "/") == "INBOX"
    assert _tree_name(("Work", "2024"), ".") == "Work.2024"


def test_a_source_that_is_no_mail_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    result = invoke(["import", str(tmp_path), "--user", BOB, "--access-token", "t"], environment())
    assert result.returncode == 1
    assert "holds no Maildir, mbox or .eml files" in result.stderr
    result = invoke(["import", str(tmp_path / "notes.txt"), "--user", BOB, "--access-token", "t",
                     "--host", "127.0.0.1", "--port", "9"], environment())  # fmt: skip
    assert result.returncode in (1, 3)  # not an mbox (1), or no server to tell it to (3)


# -- against Dovecot ---------------------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_an_mbox_arrives_with_flags_and_dates_and_a_rerun_appends_nothing(
    bob: ImapClient, tmp_path: Path, eol: bytes
) -> None:
    target = _unique("ImpMbox")
    starts_with_from = b"From the start of the body, a line that mbox quotes.\n>From twice.\n"
    path = tmp_path / "mail.mbox"
    path.write_bytes(
        _mboxrd(
            [
                (b"From a@example.com Tue Mar  4 07:15:00 2025",
                 b"Subject: one\nMessage-ID: <m1@example.com>\nStatus: RO\nX-Status: F\n",
                 starts_with_from),
                (b"From b@example.com Sat Jan  3 23:59:59 2026",
                 b"Subject: two\nX-Keywords: $Forwarded\n", b"Second.\n\n"),
            ],
            eol,
        )
    )  # fmt: skip
    report = _import(bob, path, tmp_path, to=target)
    assert report.total("appended") == 2
    found = _folder(bob, target)
    one = _crlf(b"Subject: one\nMessage-ID: <m1@example.com>\n\n" + starts_with_from)
    assert found[one] == (
        frozenset({"\\Seen", "\\Flagged"}),
        datetime(2025, 3, 4, 7, 15, tzinfo=UTC),
    )
    two = b"Subject: two\r\n\r\nSecond.\r\n\r\n"
    assert found[two] == (frozenset({"$Forwarded"}), datetime(2026, 1, 3, 23, 59, 59, tzinfo=UTC))
    again = _import(bob, path, tmp_path, to=target)
    assert (again.total("appended"), again.total("skipped")) == (0, 2)
    assert len(_folder(bob, target)) == 2


def test_a_folder_of_eml_files_with_and_without_an_index(bob: ImapClient, tmp_path: Path) -> None:
    indexed, plain = tmp_path / "indexed", tmp_path / "plain"
    indexed.mkdir()
    plain.mkdir()
    a, b = _message("eml-a", eol="\r\n"), _message("eml-b")  # b: LF, made CRLF
    (indexed / "7.eml").write_bytes(a)
    (indexed / "9.eml").write_bytes(b)
    (indexed / "index.json").write_text(json.dumps({
        "7": {"flags": ["\\Seen", "$Label1"], "internaldate": "2024-02-29T12:00:00+00:00"},
        "9": {"flags": [], "internaldate": "2023-01-01T00:00:00+01:00"},
    }))  # fmt: skip
    (plain / "x.eml").write_bytes(a)
    os.utime(plain / "x.eml", (1_700_000_000, 1_700_000_000))
    target = _unique("ImpEml")
    _import(bob, indexed, tmp_path, to=target)
    found = _folder(bob, target)
    assert found[a] == (frozenset({"\\Seen", "$Label1"}), datetime(2024, 2, 29, 12, tzinfo=UTC))
    assert found[_crlf(b)] == (frozenset(), datetime(2022, 12, 31, 23, tzinfo=UTC))
    other = _unique("ImpEmlPlain")
    _import(bob, plain, tmp_path, to=other)
    assert _folder(bob, other) == {a: (frozenset(), datetime.fromtimestamp(1_700_000_000, UTC))}


def test_an_eml_export_killed_with_its_journal(tmp_path: Path) -> None:
    # A killed export leaves index.jsonl beside index.json (see _eml): read after it.
    for uid in (7, 8, 9):
        (tmp_path / f"{uid}.eml").write_bytes(_message(f"j{uid}", eol="\r\n"))
    (tmp_path / "index.json").write_text(
        '{"uidvalidity": 1,\n"messages": {\n "7": {"file": "7.eml", "flags": ["\\\\Seen"], '
        '"internaldate": "2024-02-29T12:00:00+00:00"}\n}}\n'
    )
    (tmp_path / "index.jsonl").write_text(
        '{"uidvalidity": 1}\n'
        '{"uid": 8, "file": "8.eml", "flags": [], "internaldate": "2024-03-01T00:00:00+00:00"}\n'
        '{"uid": 7, "flags": ["$Label1"]}\n'
        '{"uid": 8, "flags": ["\\\\Flagged"]}\n'
        '{"uid": 9, "file": "9.eml", "fl'  # cut by the kill: 9's file's own date, no flags
    )
    os.utime(tmp_path / "9.eml", (1_700_000_000, 1_700_000_000))
    [folder] = find_folders(tmp_path)
    found = {m.path.name: (m.flags, m.internaldate) for m in folder.iter_messages()}
    assert found == {
        "7.eml": (("$Label1",), datetime(2024, 2, 29, 12, tzinfo=UTC)),
        "8.eml": (("\\Flagged",), datetime(2024, 3, 1, tzinfo=UTC)),
        "9.eml": ((), datetime.fromtimestamp(1_700_000_000, UTC)),
    }


def test_a_maildir_plus_plus_tree_with_keywords_recreated(bob: ImapClient, tmp_path: Path) -> None:
    # A Dovecot/mutt Maildir++ under a directory of a unique name (so the tree is ours alone).
    top = _unique("ImpTree")
    root = tmp_path / "src" / top
    for sub in ("", ".Work", ".Work.2024"):
        for part in ("cur", "new", "tmp"):
            (root / sub / part).mkdir(parents=True)
    (root / ".Work" / "dovecot-keywords").write_text("0 $Forwarded\n1 Important\n")
    messages = {
        root / "cur" / "1700000000.M1P1.host,S=100:2,RS": _message("inbox"),
        root / "new" / "1700000001.M2P1.host": _message("new-one"),
        root / ".Work" / "cur" / "1700000002.M3P1.host:2,Fb": _message("work"),
        root / ".Work.2024" / "cur" / "1700000003.M4P1.host:2,": _message("deep", eol="\r\n"),
    }
    for path, data in messages.items():
        path.write_bytes(data)
        stamp = int(path.name.split(".")[0])
        os.utime(path, (stamp, stamp))
    delimiter = bob.list_folders("INBOX")[0].delimiter or "/"
    report = _import(bob, tmp_path / "src", tmp_path)
    names = [f.folder for f in report.folders]
    base = top  # a Maildir++ root inside a tree is the folder its directory names
    assert names == [base, f"{base}{delimiter}Work", f"{base}{delimiter}Work{delimiter}2024"]

    def when(stamp: int) -> datetime:
        return datetime.fromtimestamp(stamp, UTC)

    assert _folder(bob, base) == {
        _crlf(messages[root / "cur" / "1700000000.M1P1.host,S=100:2,RS"]):
            (frozenset({"\\Seen", "\\Answered"}), when(1_700_000_000)),
        _crlf(messages[root / "new" / "1700000001.M2P1.host"]): (frozenset(), when(1_700_000_001)),
    }  # fmt: skip
    assert _folder(bob, f"{base}{delimiter}Work") == {
        _crlf(messages[root / ".Work" / "cur" / "1700000002.M3P1.host:2,Fb"]):
            (frozenset({"\\Flagged", "Important"}), when(1_700_000_002)),
    }  # fmt: skip


def _export_folders(
    dovecot: DovecotServer, user: str, folders: tuple[str, ...], into: Path
) -> None:
    report = export_mailbox(
        lambda: _client(dovecot, user), ExportOptions(into, folders=folders, jobs=1)
    )
    assert not [f.error for f in report.folders if f.error]


def _maildir_files(root: Path) -> dict[str, list[tuple[bytes, str, int]]]:
    """Each folder of an export: its messages' (bytes, info flags, mtime), in UID order."""
    found: dict[str, list[tuple[bytes, str, int]]] = {}
    for cur in sorted(root.rglob("cur")):
        folder = str(cur.parent.relative_to(root))
        files = sorted(cur.iterdir(), key=lambda p: int(p.name.split(".M")[1].split("U")[0]))
        found[folder] = [
            (p.read_bytes(), p.name.rsplit(":2,", 1)[1], int(p.stat().st_mtime)) for p in files
        ]
    return found


def test_round_trip_export_import_export_keeps_bytes_flags_and_dates(
    dovecot: DovecotServer, testbed: Testbed, tmp_path: Path
) -> None:
    """Alice's folders exported, imported into an empty mailbox, exported again: the same."""
    empty = f"{_unique('import-rt-')}@example.com"
    dovecot.add_user(empty)
    folders = ("INBOX", "Archive", "Archive/2024", "Entwürfe", "Отчёты/2024", "Projects/Alpha")
    first, second = tmp_path / "first", tmp_path / "second"
    _export_folders(dovecot, ALICE, folders, first)
    with _client(dovecot, empty) as imap:
        report = import_mailbox(imap, ImportOptions(first, account=empty,
                                                    state_dir=tmp_path / "state"))  # fmt: skip
        assert report.total("failed") == 0
        assert {f.folder for f in report.folders} >= set(folders)
    _export_folders(dovecot, empty, folders, second)
    before, after = _maildir_files(first), _maildir_files(second)
    assert set(before) == set(after) and before
    for folder in before:
        assert after[folder] == before[folder], folder


def _bob_cli(dovecot: DovecotServer, *args: str) -> list[str]:
    return ["import", *args, *conn(dovecot, BOB)]


def _eml_source(tmp_path: Path, count: int) -> tuple[Path, list[bytes]]:
    source = tmp_path / "emls"
    source.mkdir()
    messages = []
    for n in range(count):
        data = _message(f"m{n:03d}", f"Message {n}.\n" * 20, eol="\r\n")
        (source / f"{n:03d}.eml").write_bytes(data)
        messages.append(data)
    return source, messages


def _settled(client: ImapClient, folder: str) -> int:
    count, since = -1, time.monotonic()
    while time.monotonic() - since < 0.5:
        now = client.status(folder, ("MESSAGES",)).messages or 0
        if now != count:
            count, since = now, time.monotonic()
        time.sleep(0.05)
    return count


def test_killed_with_sigkill_between_appends_then_rerun_appends_each_exactly_once(
    dovecot: DovecotServer, bob: ImapClient, tmp_path: Path
) -> None:
    source, messages = _eml_source(tmp_path, 60)
    target = _unique("ImpKill")
    bob.create_folder(target)
    env = environment(dovecot.mint_token(BOB))
    argv = [sys.executable, "-m", "o365imap", *_bob_cli(dovecot, str(source), "--to", target)]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while bob.status(target, ("MESSAGES",)).messages < 10:  # type: ignore[operator]
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    # An APPEND whose bytes had all left when the client died is still saved by the server,
    # a moment later: wait for the folder to settle (a rerun seconds later sees it all).
    killed_at = _settled(bob, target)
    assert killed_at >= 10
    result = invoke(_bob_cli(dovecot, str(source), "--to", target, "--json"), env)
    assert result.returncode == 0, result.stderr
    *folders, summary = json_lines(result.stdout)
    assert [(f["folder"], f["failed"]) for f in folders] == [(target, 0)]
    assert summary["appended"] + summary["skipped"] == 60
    assert set(_folder(bob, target)) == set(messages)  # each once (_folder asserts no twins)


def test_an_append_not_recorded_in_the_journal_is_found_by_message_id(
    dovecot: DovecotServer, bob: ImapClient, tmp_path: Path
) -> None:
    """A crash between the server's OK and the journal line (simulated by cutting the last
    lines off the journal): the rerun finds those messages in the folder, appends the rest."""
    source, messages = _eml_source(tmp_path, 12)
    target = _unique("ImpJournal")
    report = _import(bob, source, tmp_path, to=target, batch=5)
    journal = report.journal
    assert journal is not None
    lines = journal.read_text().splitlines(keepends=True)
    records = [i for i, line in enumerate(lines) if '"k":' in line]
    # The last three records are lost, as if killed after their APPENDs (the intents of
    # their batches stay, fsynced before), the last one torn half-way.
    lost = set(records[-3:])
    cut = [line for i, line in enumerate(lines) if i not in lost] + [lines[records[-1]][:-8]]
    journal.write_text("".join(cut))
    again = _import(bob, source, tmp_path, to=target, batch=5)
    assert again.total("appended") == 0
    assert again.total("found") == 3
    assert set(_folder(bob, target)) == set(messages)
    # A message never intended is appended without a search; one intended but not appended
    # (killed before its APPEND) is searched for, not found, appended.
    extra = _message("late", eol="\r\n")
    (source / "999.eml").write_bytes(extra)
    with journal.open("a") as handle:
        handle.write(json.dumps({"f": ".", "intend": [f"999.eml:{len(extra)}"]}) + "\n")
    last = _import(bob, source, tmp_path, to=target, batch=5)
    assert (last.total("appended"), last.total("found")) == (1, 0)
    assert set(_folder(bob, target)) == {*messages, extra}


def test_cli_json_dry_run_and_the_last_line(
    dovecot: DovecotServer, bob: ImapClient, tmp_path: Path
) -> None:
    source, messages = _eml_source(tmp_path, 3)
    target = _unique("ImpCli")
    env = environment(dovecot.mint_token(BOB))
    dry = invoke(_bob_cli(dovecot, str(source), "--to", target, "--dry-run", "--json"), env)
    assert dry.returncode == 0, dry.stderr
    *folders, summary = json_lines(dry.stdout)
    assert folders == [{"source": str(source), "folder": target, "appended": 3, "skipped": 0,
                        "failed": 0, "found": 0, "bytes": sum(map(len, messages)),
                        "seconds": folders[0]["seconds"], "error": None}]  # fmt: skip
    assert summary["summary"] is True and summary["dry_run"] is True
    assert target not in {f.name for f in bob.list_folders()}  # a dry run creates nothing
    real = invoke(_bob_cli(dovecot, str(source), "--to", target), env)
    assert real.returncode == 0, real.stderr
    assert real.stdout.splitlines()[-1].startswith("1 folder: 3 messages appended")
    again = invoke(_bob_cli(dovecot, str(source), "--to", target), env)
    assert "0 messages appended" in again.stdout and "3 already there" in again.stdout
    both = invoke(_bob_cli(dovecot, str(source), "--to", target, "--tree"), env)
    assert both.returncode == 1 and "either-or" in both.stderr


def test_one_run_at_a_time_per_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal.open(path, {}) as first:
        first.intend(".", ["a"])
        with pytest.raises(UsageError, match="another o365imap import"):
            Journal.open(path, {})
        first.record(".", "a", 7)
    with Journal.open(path, {}) as second:
        assert (second.done("."), second.unsure(".")) == ({"a": 7}, set())


def test_a_large_mbox_message_is_rewritten_in_bounded_memory(tmp_path: Path) -> None:
    """16 MB of message in an mbox: read and rewritten (CRLF) with a few MB at most held."""
    line = b"0123456789" * 7 + b"\n"
    body = line * (16 * 1024 * 1024 // len(line))
    path = tmp_path / "big.mbox"
    with open(path, "wb") as handle:
        handle.write(b"From x Tue Mar  4 07:15:00 2025\nSubject: big\n\n")
        handle.write(body)
        handle.write(b"\nFrom y Tue Mar  4 07:16:00 2025\nSubject: small\n\nS\n")
    tracemalloc.start()
    try:
        big, small = find_folders(path)[0].iter_messages()
        with big.open() as data:
            assert not isinstance(data, Path)
            size = data.seek(0, os.SEEK_END)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert size == len(b"Subject: big\r\n\r\n") + len(body) // len(line) * (len(line) + 1)
    assert peak < 4 * 1024 * 1024, peak
    assert small.length == len(b"Subject: small\n\nS\n")
