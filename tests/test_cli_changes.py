"""The commands that change the mailbox (issue 12's command line) against Dovecot: move, copy,
delete, flag, append, mkdir, rmdir and rename, each checked by reading the server's state
afterwards; the pipeline from ``search --json``; ``--dry-run``; UIDs that are not there."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner

import cli_runner
from cli_runner import invoke
from conftest import BOB
from o365imap import ImapClient, open_token
from o365imap.cli import changes_cmd
from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.seed import MaildirWriter, SeedAddress, SeedMessage
from test_cli import conn, environment, json_lines

CAROL = SeedAddress("Carol", "carol@example.net")
BILLING = SeedAddress("Billing", "billing@contoso.com")


class _Fed(CliRunner):
    """click's runner with ``stdin`` as the command's standard input."""

    def __init__(self, stdin: str) -> None:
        super().__init__()
        self.stdin = stdin

    def isolation(self, input: Any = None, env: Any = None, color: bool = False) -> Any:
        return super().isolation(input=self.stdin, env=env, color=color)


def cli(
    dovecot: DovecotServer, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``o365imap *args`` as Bob, ``stdin`` piped in."""
    argv = [*args, *conn(dovecot, BOB)]
    env = environment(dovecot.mint_token(BOB))
    if stdin is None:
        return invoke(argv, env)
    with mock.patch.object(cli_runner, "CliRunner", lambda: _Fed(stdin)):
        return invoke(argv, env)


@pytest.fixture
def bob(dovecot: DovecotServer) -> Iterator[ImapClient]:
    token = dovecot.mint_token(BOB)
    where = dovecot.host, dovecot.imaps_port, str(dovecot.ca_file)
    with open_token(BOB, token, host=where[0], port=where[1], ca_file=where[2]) as imap:
        yield imap


def _fill(
    dovecot: DovecotServer, folder: str, count: int, sender: SeedAddress = CAROL
) -> list[SeedMessage]:
    return MaildirWriter(dovecot.maildir(BOB), dovecot.mail_owner).write(
        folder,
        [
            SeedMessage(
                date=datetime(2025, 3, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=n),
                subject=f"{folder} message {n}",
                from_=(sender,),
                to=(SeedAddress("Bob", BOB),),
                body=f"Number {n}.\n",
            )
            for n in range(count)
        ],
    )


def _state(imap: ImapClient, folder: str) -> dict[int, tuple[str, frozenset[str]]]:
    """UID -> (subject, flags) of every message in ``folder``, read from the server."""
    imap.select(folder, readonly=True)
    uids = imap.search("ALL", uid=True)
    if not uids:
        return {}
    return {
        s.uid: (s.envelope.subject or "", frozenset(s.flags))
        for s in imap.iter_summaries(uids)
        if s.uid and s.envelope
    }


def _subjects(imap: ImapClient, folder: str) -> dict[int, str]:
    return {uid: subject for uid, (subject, _) in _state(imap, folder).items()}


# ---------------------------------------------------------------- move, copy, delete


def test_move_prints_each_new_uid_and_the_server_agrees(
    dovecot: DovecotServer, bob: ImapClient
) -> None:
    _fill(dovecot, "Cli12Move", 5)
    bob.create_folder("Cli12MoveTo")
    before = _subjects(bob, "Cli12Move")
    result = cli(dovecot, "move", "1,3:4", "--folder", "Cli12Move", "--to", "Cli12MoveTo",
                 "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = json_lines(result.stdout)
    assert [(r["uid"], r["folder"], r["action"], r["to"]) for r in rows] == [
        (uid, "Cli12Move", "move", "Cli12MoveTo") for uid in (1, 3, 4)
    ]
    moved = _subjects(bob, "Cli12MoveTo")
    assert {r["uid"]: moved[r["new_uid"]] for r in rows} == {u: before[u] for u in (1, 3, 4)}
    assert set(_subjects(bob, "Cli12Move")) == {2, 5}


def test_copy_keeps_the_originals_and_says_so_in_a_sentence(
    dovecot: DovecotServer, bob: ImapClient
) -> None:
    _fill(dovecot, "Cli12Copy", 3)
    bob.create_folder("Cli12CopyTo")
    result = cli(dovecot, "copy", "2", "3", "--folder", "Cli12Copy", "--to", "Cli12CopyTo")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Copied 2 messages (UID 2:3) from Cli12Copy to Cli12CopyTo.\n"
    assert sorted(_subjects(bob, "Cli12CopyTo").values()) == [
        "Cli12Copy message 1",
        "Cli12Copy message 2",
    ]
    assert len(_subjects(bob, "Cli12Copy")) == 3


def test_copy_all_needs_all(dovecot: DovecotServer, bob: ImapClient) -> None:
    _fill(dovecot, "Cli12All", 4)
    bob.create_folder("Cli12AllTo")
    refused = cli(dovecot, "copy", "--folder", "Cli12All", "--to", "Cli12AllTo")
    assert refused.returncode == 1
    assert "which messages?" in refused.stderr and "--all" in refused.stderr
    both = cli(dovecot, "copy", "1", "--all", "--folder", "Cli12All", "--to", "Cli12AllTo")
    assert both.returncode == 1 and "--all" in both.stderr
    assert _subjects(bob, "Cli12AllTo") == {}
    done = cli(dovecot, "copy", "--all", "--folder", "Cli12All", "--to", "Cli12AllTo", "--json")
    assert done.returncode == 0, done.stderr
    assert [r["uid"] for r in json_lines(done.stdout)] == [1, 2, 3, 4]
    assert len(_subjects(bob, "Cli12AllTo")) == 4


def test_delete_moves_to_the_trash_and_permanently_expunges_exactly_those(
    dovecot: DovecotServer, bob: ImapClient
) -> None:
    _fill(dovecot, "Cli12Delete", 4)
    trash = bob.special_folder("\\Trash")
    assert trash is not None
    before = _subjects(bob, "Cli12Delete")
    result = cli(dovecot, "delete", "2", "--folder", "Cli12Delete", "--json")
    assert result.returncode == 0, result.stderr
    [row] = json_lines(result.stdout)
    assert row["action"] == "delete" and row["to"] == trash.name
    assert _subjects(bob, trash.name)[row["new_uid"]] == before[2]
    bob.select("Cli12Delete")
    bob.add_flags([4], ["\\Deleted"])  # marked by someone else: must survive
    gone = cli(dovecot, "delete", "1", "--permanently", "--folder", "Cli12Delete", "--json")
    assert gone.returncode == 0, gone.stderr
    assert json_lines(gone.stdout) == [
        {"uid": 1, "folder": "Cli12Delete", "action": "delete", "to": None, "new_uid": None}
    ]
    assert set(_subjects(bob, "Cli12Delete")) == {3, 4}


def test_without_move_a_move_is_copy_and_expunge_and_without_uidplus_refused(
    without_move: DovecotServer, without_uidplus: DovecotServer
) -> None:
    """Against Dovecots that offer no MOVE, and neither MOVE nor UIDPLUS (imap_capability)."""
    _fill(without_move, "Cli12NoMove", 4)
    with _bob_on(without_move) as bob:
        bob.create_folder("Cli12NoMoveTo")
        before = _subjects(bob, "Cli12NoMove")
        bob.select("Cli12NoMove")
        bob.add_flags([4], ["\\Deleted"])  # marked by someone else: must survive the expunge
        moved = cli(without_move, "move", "1:2", "--folder", "Cli12NoMove", "--to",
                    "Cli12NoMoveTo", "--json")  # fmt: skip
        assert moved.returncode == 0, moved.stderr
        filed = _subjects(bob, "Cli12NoMoveTo")
        assert {r["uid"]: filed[r["new_uid"]] for r in json_lines(moved.stdout)} == {
            1: before[1], 2: before[2],
        }  # fmt: skip
        assert set(_subjects(bob, "Cli12NoMove")) == {3, 4}
    _fill(without_uidplus, "Cli12NoPlus", 2)
    with _bob_on(without_uidplus) as bob:
        bob.create_folder("Cli12NoPlusTo")
        server = without_uidplus
        refused = cli(server, "move", "1", "--folder", "Cli12NoPlus", "--to", "Cli12NoPlusTo")
        purge = cli(server, "delete", "1", "--permanently", "--folder", "Cli12NoPlus")
        dry = cli(server, "delete", "1", "--permanently", "--dry-run", "--folder", "Cli12NoPlus")
        assert refused.returncode == 3 and "neither MOVE nor UIDPLUS" in refused.stderr
        assert purge.returncode == 3 and "lacks UIDPLUS" in purge.stderr
        assert dry.returncode == 3 and "lacks UIDPLUS" in dry.stderr  # the dry run says so too
        assert set(_subjects(bob, "Cli12NoPlus")) == {1, 2}
        assert _subjects(bob, "Cli12NoPlusTo") == {}


def _bob_on(server: DovecotServer) -> ImapClient:
    where = server.host, server.imaps_port, str(server.ca_file)
    return open_token(BOB, server.mint_token(BOB), host=where[0], port=where[1], ca_file=where[2])


def test_deleting_many_asks_at_a_terminal_only(
    dovecot: DovecotServer, bob: ImapClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(dovecot, "Cli12Ask", changes_cmd.ASK_ABOVE + 1)
    many = ("--all", "--folder", "Cli12Ask")
    monkeypatch.setattr(changes_cmd, "_at_terminal", lambda: True)
    declined = cli(dovecot, "delete", *many, stdin="n\n")
    assert declined.returncode == 1
    assert "Delete 51 messages of Cli12Ask to " in declined.stderr
    assert len(_subjects(bob, "Cli12Ask")) == 51
    assert cli(dovecot, "delete", "1", "--folder", "Cli12Ask").returncode == 0  # a few: no
    yes = cli(dovecot, "delete", *many, "--permanently", "--yes")
    assert yes.returncode == 0, yes.stderr
    assert "Delete" not in yes.stderr
    assert _subjects(bob, "Cli12Ask") == {}
    monkeypatch.undo()  # no terminal: nothing is asked
    _fill(dovecot, "Cli12Ask", changes_cmd.ASK_ABOVE + 1)
    quiet = cli(dovecot, "delete", *many, "--permanently")
    assert quiet.returncode == 0, quiet.stderr
    assert _subjects(bob, "Cli12Ask") == {}


# ---------------------------------------------------------------- flags


def test_flags_are_set_and_taken_off(dovecot: DovecotServer, bob: ImapClient) -> None:
    _fill(dovecot, "Cli12Flag", 3)
    on = cli(dovecot, "flag", "1:2", "--folder", "Cli12Flag", "--read", "--flagged",
             "--add", "$Invoice", "--json")  # fmt: skip
    assert on.returncode == 0, on.stderr
    assert json_lines(on.stdout)[0] == {
        "uid": 1, "folder": "Cli12Flag", "action": "flag", "to": None, "new_uid": None,
        "added": ["$Invoice", "\\Seen", "\\Flagged"], "removed": [],
    }  # fmt: skip
    flags = {uid: f for uid, (_, f) in _state(bob, "Cli12Flag").items()}
    assert flags[1] == flags[2] == {"\\Seen", "\\Flagged", "$Invoice"}
    assert flags[3] == frozenset()
    off = cli(dovecot, "flag", "2", "--folder", "Cli12Flag", "--unread", "--remove", "$Invoice")
    assert off.returncode == 0, off.stderr
    assert "took off $Invoice \\Seen" in off.stdout
    assert {uid: f for uid, (_, f) in _state(bob, "Cli12Flag").items()}[2] == {"\\Flagged"}


def test_flag_usage_errors_change_nothing(dovecot: DovecotServer) -> None:
    nothing = cli(dovecot, "flag", "1")
    assert nothing.returncode == 1 and "what to change?" in nothing.stderr
    both = cli(dovecot, "flag", "1", "--add", "X", "--remove", "x")
    assert both.returncode == 1 and "both added and taken off" in both.stderr
    bad = cli(dovecot, "flag", "1", "--add", "two words")
    assert bad.returncode == 1 and "not a flag name" in bad.stderr


# ---------------------------------------------------------------- which messages


def test_search_json_piped_into_move_moves_every_found_message(
    dovecot: DovecotServer, bob: ImapClient
) -> None:
    _fill(dovecot, "Cli12Pipe", 3)
    bills = _fill(dovecot, "Cli12Pipe", 4, BILLING)
    bob.create_folder("Cli12Invoices")
    found = cli(dovecot, "search", "Cli12Pipe", "--from", "billing@", "--json")
    assert found.returncode == 0, found.stderr
    moved = cli(dovecot, "move", "-", "--folder", "Cli12Pipe", "--to", "Cli12Invoices",
                "--json", stdin=found.stdout)  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    rows = json_lines(moved.stdout)
    assert sorted(r["uid"] for r in rows) == sorted(m.uid for m in bills)
    assert all(r["new_uid"] for r in rows)
    filed = _subjects(bob, "Cli12Invoices")
    assert sorted(filed[r["new_uid"]] for r in rows) == sorted(m.subject or "" for m in bills)
    assert set(_subjects(bob, "Cli12Pipe")) == {1, 2, 3}


def test_uids_from_standard_input_one_per_line(dovecot: DovecotServer, bob: ImapClient) -> None:
    _fill(dovecot, "Cli12Lines", 6)
    bob.create_folder("Cli12LinesTo")
    result = cli(dovecot, "copy", "-", "--folder", "Cli12Lines", "--to", "Cli12LinesTo",
                 "--json", stdin="2\n\n 5 \n3:4\n")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [r["uid"] for r in json_lines(result.stdout)] == [2, 3, 4, 5]
    bad = cli(dovecot, "copy", "-", "--folder", "Cli12Lines", "--to", "Cli12LinesTo",
              stdin='1\n{"seq": 2}\n')  # fmt: skip
    assert bad.returncode == 1
    assert "line 2 of standard input" in bad.stderr and '"uid"' in bad.stderr
    assert len(_subjects(bob, "Cli12LinesTo")) == 4
    # A search that found nothing, piped in: nothing is chosen, whatever the criteria say.
    empty = cli(dovecot, "copy", "-", "--folder", "Cli12Lines", "--subject", "Cli12Lines",
                "--to", "Cli12LinesTo", "--json", stdin="")  # fmt: skip
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout == ""
    assert len(_subjects(bob, "Cli12LinesTo")) == 4


def test_long_lists_on_standard_input_from_a_list_and_by_hand(
    dovecot: DovecotServer, bob: ImapClient
) -> None:
    _fill(dovecot, "Cli12Long", 1200)
    bob.create_folder("Cli12LongTo")
    odd = "\n".join(str(uid) for uid in range(1, 1201, 2))  # no ranges: several commands
    copied = cli(dovecot, "copy", "-", "--folder", "Cli12Long", "--to", "Cli12LongTo",
                 "--json", stdin=odd)  # fmt: skip
    assert copied.returncode == 0, copied.stderr
    rows = json_lines(copied.stdout)
    assert [r["uid"] for r in rows] == list(range(1, 1201, 2))
    assert len({r["new_uid"] for r in rows}) == 600
    assert bob.status("Cli12LongTo").messages == 600
    listed = cli(dovecot, "list", "Cli12Long", "--all", "--json")
    gone = cli(dovecot, "delete", "-", "--permanently", "--folder", "Cli12Long",
               stdin=listed.stdout)  # fmt: skip
    assert gone.returncode == 0, gone.stderr  # more than 50, but no terminal: not asked
    assert gone.stdout == "Deleted 1,200 messages (UID 1:1200) from Cli12Long permanently.\n"
    assert bob.status("Cli12Long").messages == 0


def test_criteria_and_uids_together_take_the_given_ones_that_match(
    dovecot: DovecotServer, bob: ImapClient
) -> None:
    _fill(dovecot, "Cli12Both", 2)
    _fill(dovecot, "Cli12Both", 2, BILLING)  # UIDs 3 and 4
    result = cli(dovecot, "flag", "2:3", "--from", "billing@", "--folder", "Cli12Both",
                 "--flagged", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [r["uid"] for r in json_lines(result.stdout)] == [3]
    none = cli(dovecot, "flag", "--subject", "no such subject", "--folder", "Cli12Both",
               "--flagged")  # fmt: skip
    assert none.returncode == 0 and none.stdout == ""
    assert "no messages" in none.stderr


def test_missing_uids_are_named_the_others_acted_on_and_the_exit_is_1(
    dovecot: DovecotServer, bob: ImapClient
) -> None:
    _fill(dovecot, "Cli12Missing", 3)
    bob.create_folder("Cli12MissingTo")
    result = cli(dovecot, "move", "2,9,40:50", "--folder", "Cli12Missing",
                 "--to", "Cli12MissingTo", "--json")  # fmt: skip
    assert result.returncode == 1
    assert [r["uid"] for r in json_lines(result.stdout)] == [2]
    assert "not in Cli12Missing" in result.stderr
    assert "9, 40:50" in result.stderr and " 2" not in result.stderr.split("UID")[-1]
    assert set(_subjects(bob, "Cli12Missing")) == {1, 3}
    assert len(_subjects(bob, "Cli12MissingTo")) == 1
    gone = cli(dovecot, "delete", "2", "--folder", "Cli12Missing")  # moved away already
    assert gone.returncode == 1 and "left out: UID 2." in gone.stderr
    nowhere = cli(dovecot, "move", "1", "--folder", "Cli12Missing", "--to", "Cli12 nowhere")
    assert nowhere.returncode == 1 and "no folder" in nowhere.stderr
    assert set(_subjects(bob, "Cli12Missing")) == {1, 3}


def test_bad_uids_are_usage_errors_before_connecting() -> None:
    for bad in ("0", "1:x", "1,,2", "١"):
        result = invoke(["move", bad, "--to", "X", "--user", BOB, "--access-token", "t",
                         "--host", "127.0.0.1", "--port", "9"])  # fmt: skip
        assert result.returncode == 1, bad
        assert "is not a UID or a range of UIDs" in result.stderr, bad


# ---------------------------------------------------------------- --dry-run


def test_dry_run_changes_nothing(dovecot: DovecotServer, bob: ImapClient, tmp_path: Path) -> None:
    _fill(dovecot, "Cli12Dry", 3)
    bob.create_folder("Cli12DryTo")
    before = {f: _state(bob, f) for f in ("Cli12Dry", "Cli12DryTo")}
    folders = {f.name for f in bob.list_folders()}
    eml = tmp_path / "dry.eml"
    eml.write_bytes(b"Subject: dry\r\nDate: Sun, 2 Mar 2025 10:00:00 +0000\r\n\r\nDry.\r\n")
    where = ("--folder", "Cli12Dry")
    runs = {
        "move": ["move", "1:3", *where, "--to", "Cli12DryTo"],
        "copy": ["copy", "--all", *where, "--to", "Cli12DryTo"],
        "delete": ["delete", "1", *where],
        "purge": ["delete", "2", "--permanently", *where],
        "flag": ["flag", "1", "--read", "--add", "$Dry", *where],
        "append": ["append", str(eml), "--to", "Cli12Dry"],
        "mkdir": ["mkdir", "Cli12DryNew"],
        "rmdir": ["rmdir", "Cli12Dry", "--force"],
        "rename": ["rename", "Cli12DryTo", "Cli12DryRenamed"],
    }
    for name, args in runs.items():
        said = cli(dovecot, *args, "--dry-run")
        assert said.returncode == 0, (name, said.stderr)
        assert said.stdout.startswith("Would "), (name, said.stdout)
    for name, args in runs.items():
        said = cli(dovecot, *args, "--dry-run", "--json")
        assert said.returncode == 0, (name, said.stderr)
        assert json_lines(said.stdout), name
    assert json_lines(cli(dovecot, *runs["move"], "--dry-run", "--json").stdout)[0] == {
        "uid": 1, "folder": "Cli12Dry", "action": "move", "to": "Cli12DryTo", "new_uid": None,
    }  # fmt: skip
    assert {f: _state(bob, f) for f in ("Cli12Dry", "Cli12DryTo")} == before
    assert {f.name for f in bob.list_folders()} == folders
    nowhere = cli(dovecot, "move", "1", *where, "--to", "Cli12 no such folder", "--dry-run")
    assert nowhere.returncode == 1 and "no folder" in nowhere.stderr


# ---------------------------------------------------------------- append


def _eml(subject: str, date: str | None) -> bytes:
    dated = f"Date: {date}\r\n" if date else ""
    return (
        f"From: Carol <carol@example.net>\r\nTo: {BOB}\r\nSubject: {subject}\r\n{dated}"
        "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nAppended.\r\n"
    ).encode()


def test_append_files_and_standard_input_with_flags_and_dates(
    dovecot: DovecotServer, bob: ImapClient, tmp_path: Path
) -> None:
    bob.create_folder("Cli12Append")
    first, second = tmp_path / "first.eml", tmp_path / "second.eml"
    first.write_bytes(_eml("first", "Tue, 4 Mar 2025 08:15:00 +0100"))
    second.write_bytes(_eml("second", None))
    result = cli(dovecot, "append", str(first), str(second), "--to", "Cli12Append",
                 "--flag", "\\Seen", "--flag", "$Filed", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = json_lines(result.stdout)
    assert [(r["file"], r["folder"]) for r in rows] == [
        (str(first), "Cli12Append"), (str(second), "Cli12Append"),
    ]  # fmt: skip
    piped = cli(dovecot, "append", "-", "--to", "Cli12Append", "--date", "2024-12-24T18:00:00Z",
                stdin=_eml("piped", "Tue, 4 Mar 2025 08:15:00 +0100").decode())  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith("Appended standard input to Cli12Append as UID ")
    bob.select("Cli12Append", readonly=True)
    uids = [r["uid"] for r in rows] + [int(piped.stdout.split("UID ")[1].split(",")[0])]
    found = {s.envelope.subject: s for s in bob.iter_summaries(uids) if s.envelope}
    assert found["first"].internal_date == datetime(2025, 3, 4, 7, 15, tzinfo=UTC)
    assert set(found["first"].flags) - {"\\Recent"} == {"\\Seen", "$Filed"}
    assert found["second"].internal_date is not None  # no Date header: the server's now
    assert datetime.now(UTC) - found["second"].internal_date < timedelta(minutes=5)
    assert found["piped"].internal_date == datetime(2024, 12, 24, 18, 0, tzinfo=UTC)
    assert "\\Seen" not in found["piped"].flags


def test_append_refuses_a_missing_folder_and_two_standard_inputs(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    eml = tmp_path / "x.eml"
    eml.write_bytes(_eml("x", None))
    missing = cli(dovecot, "append", str(eml), "--to", "Cli12 nowhere")
    assert missing.returncode == 1 and "no folder" in missing.stderr
    twice = cli(dovecot, "append", "-", "-", "--to", "INBOX", stdin="x")
    assert twice.returncode == 1 and "once" in twice.stderr
    bad_date = cli(dovecot, "append", str(eml), "--to", "INBOX", "--date", "yesterday")
    assert bad_date.returncode == 1 and "ISO 8601" in bad_date.stderr


# ---------------------------------------------------------------- folders


def test_folders_with_non_ascii_names_made_renamed_and_removed(
    dovecot: DovecotServer, bob: ImapClient
) -> None:
    made = cli(dovecot, "mkdir", "Cli12 Grüße/Rechnungen", "--json")
    assert made.returncode == 0, made.stderr
    assert json_lines(made.stdout) == [
        {"folder": "Cli12 Grüße/Rechnungen", "action": "create", "to": None}
    ]
    assert {"Cli12 Grüße", "Cli12 Grüße/Rechnungen"} <= {f.name for f in bob.list_folders()}
    again = cli(dovecot, "mkdir", "Cli12 Grüße/Rechnungen")
    assert again.returncode == 1 and "already" in again.stderr
    renamed = cli(dovecot, "rename", "Cli12 Grüße/Rechnungen", "Cli12 Grüße/Factures été")
    assert renamed.returncode == 0, renamed.stderr
    assert renamed.stdout == (
        "Renamed folder Cli12 Grüße/Rechnungen to Cli12 Grüße/Factures été.\n"
    )
    names = {f.name for f in bob.list_folders()}
    assert "Cli12 Grüße/Factures été" in names and "Cli12 Grüße/Rechnungen" not in names
    _fill(dovecot, "Cli12 Grüße/Factures été", 2)
    moved = cli(dovecot, "move", "1", "--folder", "Cli12 Grüße/Factures été", "--to", "INBOX",
                "--json")  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    assert json_lines(moved.stdout)[0]["folder"] == "Cli12 Grüße/Factures été"
    refused = cli(dovecot, "rmdir", "Cli12 Grüße/Factures été")
    assert refused.returncode == 1 and "holds 1 message: --force" in refused.stderr
    assert "Cli12 Grüße/Factures été" in {f.name for f in bob.list_folders()}
    forced = cli(dovecot, "rmdir", "Cli12 Grüße/Factures été", "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    assert json_lines(forced.stdout) == [
        {"folder": "Cli12 Grüße/Factures été", "action": "delete", "to": None}
    ]
    assert not {n for n in (f.name for f in bob.list_folders()) if n.startswith("Cli12 Gr")}
    assert cli(dovecot, "mkdir", "Cli12 Été").returncode == 0
    empty = cli(dovecot, "rmdir", "Cli12 Été")
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout == "Deleted folder Cli12 Été.\n"
    assert "Cli12 Été" not in {f.name for f in bob.list_folders()}
    gone = cli(dovecot, "rmdir", "Cli12 Été")
    assert gone.returncode == 1 and "no folder" in gone.stderr
    # An empty folder with subfolders: Office 365 would delete them, and their mail, with it.
    assert cli(dovecot, "mkdir", "Cli12 Parent/Child").returncode == 0
    _fill(dovecot, "Cli12 Parent/Child", 1)
    parent = cli(dovecot, "rmdir", "Cli12 Parent")
    assert parent.returncode == 1 and "has subfolders (Cli12 Parent/Child)" in parent.stderr
    assert "Cli12 Parent/Child" in {f.name for f in bob.list_folders()}


# ---------------------------------------------------------------- the README's script


def _readme_script() -> str:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    after = readme.split("A script that files mail", 1)[1]
    return after.split("```sh\n", 1)[1].split("```", 1)[0]


def test_the_readmes_filing_script_files_mail(
    dovecot: DovecotServer, bob: ImapClient, tmp_path: Path
) -> None:
    """Run by sh, with `o365imap` on PATH, as cron would (each command its own process)."""
    yesterday = datetime.now(UTC) - timedelta(days=1)
    for n in range(3):
        bill = _eml(f"Cli12 readme invoice {n}", None).replace(
            b"carol@example.net", b"billing@contoso.com"
        )
        bob.append("INBOX", bill, date=yesterday)
    bob.append("INBOX", _eml("Cli12 readme other", None), date=yesterday)
    program = tmp_path / "bin" / "o365imap"
    program.parent.mkdir()
    src = Path(__file__).parent.parent / "src"
    program.write_text(
        f'#!/bin/sh\nPYTHONPATH={src} exec {sys.executable} -m o365imap "$@" '
        f"--port {dovecot.imaps_port}\n"
    )
    program.chmod(0o755)
    env = environment(
        dovecot.mint_token(BOB),
        PATH=f"{program.parent}:{os.environ['PATH']}",
        HOME=str(tmp_path),
        O365IMAP_HOST=dovecot.host,
        O365IMAP_CA_FILE=str(dovecot.ca_file),
        O365IMAP_USER=BOB,
    )
    script = tmp_path / "file-invoices"
    script.write_text(_readme_script())
    for _ in range(2):  # the second run finds the folder made and nothing more to move
        ran = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True,
                             timeout=120, check=False)  # fmt: skip
        assert ran.returncode == 0, ran.stderr
    filed = json_lines((tmp_path / "filed-invoices.jsonl").read_text())
    assert len(filed) == 3 and {r["to"] for r in filed} == {"Invoices"}
    state = _state(bob, "Invoices")
    invoices = {state[r["new_uid"]] for r in filed}
    assert {subject for subject, _ in invoices} == {f"Cli12 readme invoice {n}" for n in range(3)}
    assert all({"\\Seen", "$Invoice"} <= flags for _, flags in invoices)
    assert "Cli12 readme other" in _subjects(bob, "INBOX").values()
