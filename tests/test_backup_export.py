"""``o365imap export`` against a real Dovecot: a whole mailbox into Maildir, incrementally,
killed at random moments, verified, and served again by a second Dovecot.

The mailbox is the test bed's (every folder, names in several scripts, 2,000 generated
messages in ``Bulk``), on a Dovecot of the module's own so that tests may change it.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli_runner import invoke, on_terminal
from o365imap import ImapClient, SequenceSet
from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.seed import Testbed, seed_testbed
from test_cli import environment, json_lines

USER = "exporter@example.com"
BULK = 2_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    with DovecotServer(tmp_path_factory.mktemp("export-dovecot")) as running:
        yield running


@pytest.fixture(scope="module")
def testbed(server: DovecotServer) -> Testbed:
    return seed_testbed(server, USER, bulk_count=BULK)


def _client(server: DovecotServer, user: str = USER) -> ImapClient:
    client = ImapClient(server.host, server.imaps_port, ca_file=str(server.ca_file), timeout=20)
    client.connect()
    client.authenticate_oauth(user, server.mint_token(user))
    return client


def _args(server: DovecotServer, user: str = USER) -> list[str]:
    return [
        "--host", server.host, "--port", str(server.imaps_port),
        "--ca-file", str(server.ca_file), "--user", user,
    ]  # fmt: skip


def _export(server: DovecotServer, dest: Path, *args: str) -> list[dict[str, Any]]:
    done = invoke(
        ["export", str(dest), *args, "--json", *_args(server)],
        environment(server.mint_token(USER)),
    )
    assert done.returncode == 0, done.stderr
    return json_lines(done.stdout)


def _server_view(
    server: DovecotServer, user: str = USER
) -> dict[str, Counter[tuple[str, str, str]]]:
    """Per folder: (body digest, flags, internal date) of every message, as a multiset."""
    view: dict[str, Counter[tuple[str, str, str]]] = {}
    with _client(server, user) as client:
        for folder in client.list_folders():
            if not folder.selectable:
                continue
            info = client.select(folder.name, readonly=True)
            found: Counter[tuple[str, str, str]] = Counter()
            if info.exists:
                items = "(UID FLAGS INTERNALDATE)"
                listed = list(client.iter_fetch(SequenceSet.range(1, None), items))
                for response in listed:
                    digest = hashlib.sha256()
                    for chunk in client.iter_section(response.items["UID"]):
                        digest.update(chunk)
                    flags = sorted(f for f in response.items["FLAGS"] if f != "\\Recent")
                    when = response.items["INTERNALDATE"].isoformat()
                    found[(digest.hexdigest(), " ".join(flags), when)] += 1
            view[folder.name] = found
    return view


def _maildir_uids(folder: Path) -> Counter[int]:
    uids: Counter[int] = Counter()
    for sub in ("cur", "new"):
        for name in os.listdir(folder / sub):
            uids[int(name.split(".M", 1)[1].split("U", 1)[0])] += 1
    return uids


def test_a_first_export_holds_every_message_byte_for_byte(
    server: DovecotServer, testbed: Testbed, tmp_path: Path
) -> None:
    dest = tmp_path / "backup"
    lines = _export(server, dest)
    *folders, summary = lines
    assert summary["summary"] and summary["failed"] == 0
    by_name = {f["folder"]: f for f in folders}
    for name, seeded in testbed.folders.items():
        assert by_name[name]["new"] == len(seeded), name
    assert summary["messages"] == sum(len(m) for m in testbed.folders.values())
    # Bulk: every UID once, bytes as the server has them, date as the file's time
    with _client(server) as client:
        client.select("Bulk", readonly=True)
        first = next(client.iter_fetch("1", "(UID INTERNALDATE BODY.PEEK[])"))
    uid = first.items["UID"]
    (path,) = [p for p in (dest / "Bulk" / "cur").iterdir() if f".M{uid}U" in p.name]
    assert path.read_bytes() == first.items["BODY[]"]
    assert int(path.stat().st_mtime) == int(first.items["INTERNALDATE"].timestamp())
    assert sorted(_maildir_uids(dest / "Bulk").values()) == [1] * BULK
    # non-ASCII names are readable on disk
    assert (dest / "Отчёты" / "2024" / "cur").is_dir() and (dest / "日本語").is_dir()


def test_a_rerun_fetches_nothing_and_brings_flags_up_to_date(
    server: DovecotServer, testbed: Testbed, tmp_path: Path
) -> None:
    dest = tmp_path / "backup"
    _export(server, dest, "Projects/Alpha")
    with _client(server) as client:
        client.select("Projects/Alpha")
        client.add_flags([1], ["\\Flagged", "$Forwarded"])
        uid = client.append("Projects/Alpha", b"Subject: late\r\n\r\nlate\r\n")
        assert uid is not None
    try:
        (folder,) = [f for f in _export(server, dest, "Projects/Alpha") if not f.get("summary")]
        assert (folder["new"], folder["updated"]) == (1, 1)
        assert folder["kept"] == len(testbed.folders["Projects/Alpha"]) - 1
        names = os.listdir(dest / "Projects" / "Alpha" / "cur")
        (flagged,) = [n for n in names if ".M1U" in n]
        assert flagged.endswith(":2,Fa") or flagged.split(":2,")[1].startswith("F")
        assert "$Forwarded" in (dest / "Projects" / "Alpha" / "dovecot-keywords").read_text()
    finally:
        with _client(server) as client:
            client.select("Projects/Alpha")
            client.remove_flags([1], ["\\Flagged", "$Forwarded"])
            client.delete([uid], permanently=True)
    # deleted on the server: kept in the backup, unless --mirror
    (folder,) = [f for f in _export(server, dest, "Projects/Alpha") if not f.get("summary")]
    assert folder["deleted_on_server"] == 1 and folder["removed"] == 0
    assert f".M{uid}U" in " ".join(os.listdir(dest / "Projects" / "Alpha" / "cur"))
    (folder,) = [
        f for f in _export(server, dest, "Projects/Alpha", "--mirror") if not f.get("summary")
    ]
    assert folder["removed"] == 1
    assert f".M{uid}U" not in " ".join(os.listdir(dest / "Projects" / "Alpha" / "cur"))


def test_a_renumbered_folder_is_exported_afresh_beside_the_old_copy(
    server: DovecotServer, testbed: Testbed, tmp_path: Path
) -> None:
    dest = tmp_path / "backup"
    with _client(server) as client:
        client.create_folder("Renumbered", exist_ok=True)
        client.append("Renumbered", b"Subject: one\r\n\r\none\r\n")
    _export(server, dest, "Renumbered")
    with _client(server) as client:  # same name, new folder: a new UIDVALIDITY
        client.delete_folder("Renumbered")
        client.create_folder("Renumbered")
        client.append("Renumbered", b"Subject: two\r\n\r\ntwo\r\n")
    (folder,) = [f for f in _export(server, dest, "Renumbered") if not f.get("summary")]
    assert folder["retired"] and folder["new"] == 1
    old = dest / str(folder["retired"])
    assert [p.read_bytes() for p in (old / "cur").iterdir()] == [b"Subject: one\r\n\r\none\r\n"]
    assert [p.read_bytes() for p in (dest / "Renumbered" / "cur").iterdir()] == [
        b"Subject: two\r\n\r\ntwo\r\n"
    ]


def test_verify_matches_then_names_what_is_missing(
    server: DovecotServer, testbed: Testbed, tmp_path: Path
) -> None:
    dest = tmp_path / "backup"
    _export(server, dest, "INBOX", "Sent")
    env = environment(server.mint_token(USER))
    done = invoke(["export", str(dest), "--verify", *_args(server)], env)
    assert done.returncode == 0, done.stderr
    assert "matches the server" in done.stdout
    victim = next((dest / "Sent" / "cur").iterdir())
    uid = int(victim.name.split(".M", 1)[1].split("U", 1)[0])
    victim.unlink()
    done = invoke(["export", str(dest), "--verify", "--json", *_args(server)], env)
    assert done.returncode == 1
    sent = next(c for c in json_lines(done.stdout) if c["folder"] == "Sent")
    assert sent["missing"] == [uid] and not sent["ok"]


_KILLED = """
import sys
from o365imap.cli import main
main(sys.argv[1:])
"""


def _written(dest: Path) -> int:
    """Messages in ``dest``'s Maildirs (cur/ and new/; tmp/ holds the half-written)."""
    if not dest.exists():
        return 0
    return sum(len(os.listdir(sub)) for sub in dest.glob("**/*") if sub.name in ("cur", "new"))


def _written_at_least(dest: Path, count: int, process: subprocess.Popen[bytes]) -> bool:
    """Whether ``count`` messages were in ``dest`` while ``process`` still ran; False once it
    has ended first."""
    while process.poll() is None:
        if _written(dest) >= count:
            return True
        time.sleep(0.002)
    return False


def test_killed_at_random_moments_a_rerun_holds_every_message_exactly_once(
    server: DovecotServer, testbed: Testbed, tmp_path: Path
) -> None:
    """The issue's test: an export killed (SIGKILL) at random points, twice, then run to the
    end; six times over, each into a fresh destination."""
    env = environment(server.mint_token(USER))
    rng = random.Random(14)
    kills = 0
    expected = {name: len(messages) for name, messages in testbed.folders.items()}
    total = sum(expected.values())
    for trial in range(6):
        dest = tmp_path / f"backup-{trial}"
        argv = [sys.executable, "-c", _KILLED, "export", str(dest), "--jobs", "2", *_args(server)]
        for _ in range(2):
            process = subprocess.Popen(
                argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            # Killed once a random share of the messages is on disk: by what it has done, not
            # by a time, which a faster start-up or a slower machine would move.
            before = _written(dest)  # the second run starts where the first was cut
            if _written_at_least(
                dest, before + rng.randint(1, max(1, total - before - 1)), process
            ):
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait()
        _export(server, dest)
        for name, count in expected.items():
            folder = dest.joinpath(*name.split("/"))
            uids = _maildir_uids(folder)
            assert len(uids) == count and set(uids.values()) <= {1}, (trial, name)
            assert not os.listdir(folder / "tmp"), (trial, name)  # nothing half-written
    assert kills >= 8  # most runs were cut mid-way
    done = invoke(["export", str(dest), "--verify", *_args(server)], env)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_second_dovecot_serves_the_export_as_the_first(
    server: DovecotServer, testbed: Testbed, tmp_path: Path
) -> None:
    """Messages, flags and internal dates, folder by folder, as Dovecot reads the Maildir."""
    dest = tmp_path / "backup"
    _export(server, dest)
    other = DovecotServer(tmp_path / "second")
    # One directory per folder, UTF-8 names, INBOX in its own: the export's layout, said in
    # the language of the Dovecot found.
    if other.features.dialect == "2.4":
        other.settings.update(
            mailbox_list_layout="fs",
            mailbox_list_utf8="yes",
            mail_inbox_path="~/Maildir/INBOX",
        )
    else:
        other.settings["mail_location"] = "maildir:~/Maildir:LAYOUT=fs:INBOX=~/Maildir/INBOX:UTF-8"
    reader = "reader@example.com"
    other.add_user(reader)
    maildir = other.maildir(reader)
    if maildir.exists():
        shutil.rmtree(maildir)
    shutil.copytree(
        dest, maildir, copy_function=shutil.copy2, ignore=shutil.ignore_patterns(".o365imap")
    )
    other.chown_tree(maildir)
    with other:
        seen = _server_view(other, reader)
    source = _server_view(server)
    assert set(seen) == set(source)
    for name in source:
        assert seen[name] == source[name], name


def test_sigterm_ends_the_export_at_once_and_a_rerun_completes(
    server: DovecotServer, testbed: Testbed, tmp_path: Path
) -> None:
    dest = tmp_path / "backup"
    env = environment(server.mint_token(USER))
    argv = [sys.executable, "-c", _KILLED, "export", str(dest), "--jobs", "3", *_args(server)]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    bulk = dest / "Bulk" / "cur"
    deadline = time.monotonic() + 30
    while not (bulk.is_dir() and any(os.scandir(bulk))) and time.monotonic() < deadline:
        time.sleep(0.01)  # the first messages of Bulk stored: the export is under way
    process.send_signal(signal.SIGTERM)
    # (how soon it ends is not timed here: make bench measures, tests do not)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    (summary,) = [line for line in _export(server, dest) if line.get("summary")]
    assert summary["failed"] == 0
    for name, messages in testbed.folders.items():
        uids = _maildir_uids(dest.joinpath(*name.split("/")))
        assert len(uids) == len(messages) and set(uids.values()) <= {1}, name


def test_since_exports_only_the_newer_messages(
    server: DovecotServer, testbed: Testbed, tmp_path: Path
) -> None:
    dates = sorted(m.date for m in testbed.folders["Bulk"])
    middle = dates[len(dates) // 2]
    (folder,) = [
        f
        for f in _export(server, tmp_path / "b", "Bulk", "--since", middle.strftime("%Y-%m-%d"))
        if not f.get("summary")
    ]
    # SINCE compares the internal date's day in the server's time zone: a day's slack
    newer = [d for d in dates if d.date() >= middle.date()]
    new = int(str(folder["new"]))
    assert len(newer) - 40 <= new <= len(newer) + 40
    assert 0 < new < BULK


def test_users_file_exports_each_mailbox_into_its_own_folder(
    server: DovecotServer, testbed: Testbed, tmp_path: Path
) -> None:
    users = tmp_path / "users.txt"
    users.write_text(f"# mailboxes\n{USER}\n\n", encoding="utf-8")
    env = environment(server.mint_token(USER))
    args = [a for a in _args(server) if a not in (USER, "--user")]
    done = invoke(
        ["export", str(tmp_path / "all"), "Sent", "--users", str(users), "--json", *args], env
    )
    assert done.returncode == 0, done.stderr
    *folders, summary = json_lines(done.stdout)
    assert summary["mailbox"] == USER and folders[0]["new"] == len(testbed.folders["Sent"])
    assert (tmp_path / "all" / USER / "Sent" / "cur").is_dir()


def test_with_condstore_a_rerun_asks_only_what_changed_and_still_finds_a_lost_file(
    server: DovecotServer, testbed: Testbed, tmp_path: Path
) -> None:
    """Dovecot offers CONDSTORE (Office 365 does not): the state keeps HIGHESTMODSEQ, a rerun
    asks UID SEARCH ALL and FETCH ... CHANGEDSINCE instead of listing the folder, and a
    message the backup lost without the server changing is fetched again all the same."""
    dest = tmp_path / "backup"
    _export(server, dest, "Junk")
    from o365imap.backup._state import FolderState, state_path

    state = FolderState.load(state_path(dest, "Junk"))
    assert state is not None and state.highestmodseq is not None
    # not UID 2's, whose flag changes below: lost, it would come back new, not updated
    lost = next(p for p in (dest / "Junk" / "cur").iterdir() if ".M2U" not in p.name)
    lost_bytes = lost.read_bytes()
    lost.unlink()
    with _client(server) as client:
        client.select("Junk")
        (before,) = client.iter_fetch([2], "(FLAGS)", uid=True)
        flag = next(f for f in ("$Checked", "$Checked2") if f not in before.items["FLAGS"])
        client.add_flags([2], [flag])
    try:
        (folder,) = [f for f in _export(server, dest, "Junk") if not f.get("summary")]
    finally:
        with _client(server) as client:
            client.select("Junk")
            client.remove_flags([2], [flag])
    assert folder["new"] == 1 and folder["updated"] == 1
    assert [
        p.read_bytes()
        for p in (dest / "Junk" / "cur").iterdir()
        if p.name.split(":")[0] == lost.name.split(":")[0]
    ] == [lost_bytes]
    again = FolderState.load(state_path(dest, "Junk"))
    assert again is not None and again.highestmodseq is not None
    assert again.highestmodseq > state.highestmodseq


def test_a_second_export_into_the_same_folder_at_once_is_refused(
    server: DovecotServer, testbed: Testbed, tmp_path: Path
) -> None:
    import fcntl

    dest = tmp_path / "backup"
    (dest / ".o365imap").mkdir(parents=True)
    with open(dest / ".o365imap" / "lock", "a+b") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a running export holds it
        done = invoke(
            ["export", str(dest), "Sent", *_args(server)], environment(server.mint_token(USER))
        )
    assert done.returncode == 1
    assert "another o365imap export into" in done.stderr
    assert not (dest / "Sent").exists()


def test_the_last_line_says_what_was_done(
    server: DovecotServer, testbed: Testbed, tmp_path: Path
) -> None:
    dest = tmp_path / "backup"
    env = environment(server.mint_token(USER))
    done = invoke(["export", str(dest), "Sent", *_args(server)], env)
    assert done.returncode == 0, done.stderr
    count = len(testbed.folders["Sent"])
    assert re.fullmatch(
        rf"Exported 1 folder, {count} messages into {re.escape(str(dest))}: {count} new "
        r"\((\d+ B|\d+\.\d [KMG]iB)\), 0 updated, 0 kept, in \d+\.\d\d s\.\n",
        done.stdout,
    ), done.stdout
    again = invoke(["export", str(dest), "Sent", *_args(server)], env)
    assert f": 0 new (0 B), 0 updated, {count} kept, in " in again.stdout


def test_a_person_watching_sees_bars_per_folder_and_the_last_line(
    server: DovecotServer, testbed: Testbed, tmp_path: Path
) -> None:
    """stderr a terminal: the bars are drawn (and vanish), stdout keeps the last line."""
    env = {**environment(server.mint_token(USER)), "COLUMNS": "120", "TERM": "xterm"}
    argv = [sys.executable, "-c", _KILLED, "export", str(tmp_path / "b"), "Bulk", "Sent"]
    done, drawn = on_terminal([*argv, *_args(server)], env)
    assert done.returncode == 0, drawn[-500:]
    assert b"all folders" in drawn and b"Bulk" in drawn
    assert done.stdout.decode().startswith("Exported 2 folders, ")
