"""The o365imap command as scripts use it: JSON Lines, exit codes, one-sentence errors.

The commands run in this process (tests/cli_runner.py); those that need a process of their own
(the entry points, a closed pipe, a full disk, signals) start one.
"""

from __future__ import annotations

import imaplib
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cli_runner import invoke
from conftest import ALICE, BOB, BOB_PASSWORD
from expected import mismatches
from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.seed import MaildirWriter, SeedMessage, Testbed


def environment(token: str | None = None, **env: str) -> dict[str, str]:
    """This process's environment with ``token`` as the access token and none of our settings
    but the private home the tests run with."""
    keep = ("O365IMAP_HOME", "O365IMAP_TOKEN_STORE")
    values = {k: v for k, v in os.environ.items() if not k.startswith("O365IMAP_") or k in keep}
    values.update(env)
    if token is not None:
        values["O365IMAP_ACCESS_TOKEN"] = token
    return values


def run(args: list[str], token: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return invoke(args, environment(token, **env))


def conn(dovecot: DovecotServer, user: str = ALICE) -> list[str]:
    return [
        "--host", dovecot.host, "--port", str(dovecot.imaps_port),
        "--ca-file", str(dovecot.ca_file), "--user", user,
    ]  # fmt: skip


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_list_all_json_returns_every_message_with_every_field_right(
    dovecot: DovecotServer, testbed: Testbed, token: str
) -> None:
    result = run(["list", "Bulk", "--all", "--json", *conn(dovecot)], token)
    assert result.returncode == 0, result.stderr
    rows = json_lines(result.stdout)
    assert len(rows) == 20_000
    assert [r["seq"] for r in rows] == list(range(1, 20_001))  # sequence order in JSON
    bad = [
        (row["seq"], found)
        for row, seed in zip(rows, testbed.bulk, strict=True)
        if (found := mismatches(row, seed, row["seq"]))
    ]
    assert bad[:5] == []


def test_list_inbox_all_json(dovecot: DovecotServer, testbed: Testbed, token: str) -> None:
    result = run(["list", "--all", "--json", *conn(dovecot)], token)
    assert result.returncode == 0, result.stderr
    rows = json_lines(result.stdout)
    assert set(rows[0]) == {
        "seq", "uid", "flags", "size", "internal_date", "date", "subject", "from", "sender",
        "reply_to", "to", "cc", "bcc", "in_reply_to", "message_id",
    }  # fmt: skip
    problems = {
        seed.uid: found
        for row, seed in zip(rows, testbed.inbox, strict=True)
        if (found := mismatches(row, seed, row["seq"]))
    }
    assert problems == {}


def test_list_pages_newest_first(dovecot: DovecotServer, testbed: Testbed, token: str) -> None:
    result = run(
        ["list", "Bulk", "--page", "2", "--page-size", "3", "--json", *conn(dovecot)], token
    )
    assert result.returncode == 0, result.stderr
    assert [r["uid"] for r in json_lines(result.stdout)] == [
        m.uid for m in reversed(testbed.bulk[-6:-3])
    ]


def test_list_table_for_people(dovecot: DovecotServer, testbed: Testbed, token: str) -> None:
    terminal = {"COLUMNS": "200", "TTY_COMPATIBLE": "1"}
    result = run(["list", "INBOX", "--page-size", "5", *conn(dovecot)], token, **terminal)
    assert result.returncode == 0, result.stderr
    assert "page 1 of" in result.stdout
    newest = testbed.inbox[-1]
    assert newest.subject is not None
    assert newest.subject[:20] in result.stdout


@pytest.mark.parametrize("as_json", [[], ["--json"]], ids=["table", "json"])
def test_a_page_past_the_end_is_bad_input_said_in_one_sentence(
    dovecot: DovecotServer, testbed: Testbed, token: str, as_json: list[str]
) -> None:
    pages = -(-len(testbed.inbox) // 50)
    past = run(["list", "INBOX", "--page", "999", *as_json, *conn(dovecot)], token)
    assert (past.returncode, past.stdout) == (1, "")
    assert past.stderr == (
        f"o365imap: page 999 is past the end: INBOX has {len(testbed.inbox)} messages, "
        f"{pages} pages of 50.\n"
    )
    last = run(["list", "INBOX", "--page", str(pages), *as_json, *conn(dovecot)], token)
    assert last.returncode == 0, last.stderr


def test_an_empty_folder_says_so(dovecot: DovecotServer) -> None:
    MaildirWriter(dovecot.maildir(BOB), dovecot.mail_owner).create_folder("Nothing Here")
    token = dovecot.mint_token(BOB)
    for listing in ([], ["--all"]):
        table = run(["list", "Nothing Here", *listing, *conn(dovecot, BOB)], token)
        # in a pipe: the header and no row for a script; the sentence for a person, on stderr
        assert (table.returncode, table.stderr) == (0, "Nothing Here is empty.\n")
        assert table.stdout == "UID\tDate\tFrom\tSubject\tSize\tFlags\n"
        shown = run(
            ["list", "Nothing Here", *listing, *conn(dovecot, BOB)], token, TTY_COMPATIBLE="1"
        )
        assert (shown.returncode, shown.stdout, shown.stderr) == (0, "Nothing Here is empty.\n", "")
        as_json = run(["list", "Nothing Here", *listing, "--json", *conn(dovecot, BOB)], token)
        assert (as_json.returncode, as_json.stdout, as_json.stderr) == (0, "", "")
    past = run(["list", "Nothing Here", "--page", "2", *conn(dovecot, BOB)], token)
    assert (past.returncode, past.stderr) == (
        1,
        "o365imap: page 2 is past the end: Nothing Here is empty.\n",
    )


def test_folders_json(dovecot: DovecotServer, testbed: Testbed, token: str) -> None:
    result = run(["folders", "--json", *conn(dovecot)], token)
    assert result.returncode == 0, result.stderr
    folders = {f["name"]: f for f in json_lines(result.stdout)}
    assert set(testbed.folders) <= set(folders)
    sent = folders["Sent"]
    # \Marked / \Unmarked say whether new mail came since the last SELECT: they depend on what
    # tests ran before, not on the client.
    sent["flags"] = [f for f in sent["flags"] if f not in ("\\Marked", "\\Unmarked")]
    assert sent == {
        "name": "Sent",
        "delimiter": "/",
        "flags": ["\\HasNoChildren", "\\Sent"],  # asked for on Dovecot: RETURN (CHILDREN ...)
        "special_use": "\\Sent",
    }
    assert folders["INBOX"]["special_use"] is None
    assert "Отчёты/2024" in folders


def test_info_json(dovecot: DovecotServer, testbed: Testbed, token: str) -> None:
    result = run(["info", "Entwürfe", "--json", *conn(dovecot)], token)
    assert result.returncode == 0, result.stderr
    [info] = json_lines(result.stdout)
    assert info["name"] == "Entwürfe"
    assert info["exists"] == len(testbed.folders["Entwürfe"])
    assert info["read_only"] is True
    assert set(info) == {
        "name", "exists", "recent", "unseen", "first_unseen", "uidvalidity", "uidnext",
        "flags", "permanent_flags", "read_only",
    }  # fmt: skip


def test_info_counts_unseen_messages(dovecot: DovecotServer) -> None:
    """``unseen`` is how many (STATUS), ``first_unseen`` the first one's number (EXAMINE)."""
    seen = frozenset({"\\Seen"})
    flags = [seen, seen, frozenset(), seen, frozenset(), seen]
    writer = MaildirWriter(dovecot.maildir(BOB), dovecot.mail_owner)
    writer.write(
        "Counted",
        [
            SeedMessage(date=datetime(2025, 2, 1, 9, n, tzinfo=UTC), subject=f"m{n}", flags=f)
            for n, f in enumerate(flags)
        ],
    )
    result = run(["info", "Counted", "--json", *conn(dovecot, BOB)], dovecot.mint_token(BOB))
    assert result.returncode == 0, result.stderr
    [info] = json_lines(result.stdout)
    assert (info["exists"], info["unseen"], info["first_unseen"]) == (6, 2, 3)
    table = run(["info", "Counted", *conn(dovecot, BOB)], dovecot.mint_token(BOB))
    assert table.returncode == 0, table.stderr
    cells = {tuple(line.split("\t")) for line in table.stdout.splitlines() if "unseen" in line}
    assert cells == {("unseen", "2"), ("first unseen", "3")}, table.stdout


def test_listing_shows_no_placeholder_of_a_broken_address(dovecot: DovecotServer) -> None:
    """Dovecot fills a broken address with MISSING_MAILBOX/MISSING_DOMAIN/SYNTAX_ERROR; none of
    them reaches the JSON or the table as if it were an address."""
    headers = [
        b"To: , user@aol.com",
        b'To: "x" <matmail>',
        b"Cc: <<bad>>\r\nTo: <a@b",
        b"To: list: a, b@x;",
    ]
    writer = MaildirWriter(dovecot.maildir(BOB), dovecot.mail_owner)
    messages = []
    for n, header in enumerate(headers):
        raw = (
            b"From: @example.com\r\n" + header + b"\r\nSubject: broken %d\r\n"
            b"Date: Mon, 6 Jan 2025 09:0%d:00 +0000\r\n\r\nbody\r\n" % (n, n)
        )
        messages.append(
            SeedMessage(date=datetime(2025, 1, 6, 9, n, tzinfo=UTC), subject=None, raw=raw)
        )
    writer.write("Placeholders", messages)
    token = dovecot.mint_token(BOB)
    result = run(["list", "Placeholders", "--all", "--json", *conn(dovecot, BOB)], token)
    assert result.returncode == 0, result.stderr
    rows = json_lines(result.stdout)
    assert [r["cc"] for r in rows] == [[]] * len(headers)
    assert [(r["from"], r["to"]) for r in rows] == [
        ([], [{"name": None, "email": "user@aol.com"}]),
        ([], [{"name": "x", "email": "matmail"}]),
        ([], [{"name": None, "email": "a"}]),
        (
            [],
            [
                {
                    "group": "list",
                    "members": [{"name": None, "email": "a"}, {"name": None, "email": "b@x"}],
                }
            ],
        ),
    ]
    table = run(["list", "Placeholders", *conn(dovecot, BOB)], token, COLUMNS="200")
    assert table.returncode == 0, table.stderr
    assert "broken 3" in table.stdout
    for word in ("MISSING", "SYNTAX_ERROR"):
        assert word not in result.stdout + table.stdout


def test_capabilities(dovecot: DovecotServer, testbed: Testbed, token: str) -> None:
    result = run(["capabilities", "--json", *conn(dovecot)], token)
    assert result.returncode == 0, result.stderr
    [caps] = json_lines(result.stdout)
    assert "IMAP4REV1" in caps["capabilities"]


def test_oauthbearer_over_starttls(dovecot: DovecotServer, testbed: Testbed, token: str) -> None:
    args = [
        "info", "INBOX", "--json", "--host", dovecot.host, "--port", str(dovecot.imap_port),
        "--security", "starttls", "--ca-file", str(dovecot.ca_file), "--user", ALICE,
        "--mechanism", "oauthbearer",
    ]  # fmt: skip
    result = run(args, token)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- exit codes and errors


def test_bad_usage_exits_1() -> None:
    result = run(["list", "--page", "0"])
    assert result.returncode == 1
    assert "--page" in result.stderr
    assert run(["no-such-command"]).returncode == 1


def test_missing_token_exits_1(dovecot: DovecotServer) -> None:
    result = run(["folders", *conn(dovecot)])
    assert result.returncode == 1
    assert "no profile: sign in first" in result.stderr and "--access-token" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_folder_exits_1(dovecot: DovecotServer, testbed: Testbed, token: str) -> None:
    result = run(["info", "Nope", *conn(dovecot)], token)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "o365imap: there is no folder 'Nope' (`o365imap folders` lists them).\n  server said: NO"
    )


@pytest.mark.parametrize(
    ("args", "meant"),
    [
        (["list", "Bulkk"], "Bulk"),  # a near spelling
        (["info", "projects"], "Projects"),  # another case (Dovecot's names are case-sensitive)
        (["list", "Deleted"], "Trash"),  # the special use the word means (RFC 6154 \Trash)
        (["show", "1", "Spam"], "Junk"),
        (["search", "Sent Items", "--unseen"], "Sent"),
    ],
)
def test_a_wrong_folder_name_says_which_was_meant(
    dovecot: DovecotServer, testbed: Testbed, token: str, args: list[str], meant: str
) -> None:
    result = run([*args, *conn(dovecot)], token)
    assert (result.returncode, result.stdout) == (1, "")
    wrong = next(a for a in args if a[0].isalpha() and a not in ("list", "info", "show", "search"))
    first, server = result.stderr.splitlines()
    assert first == (
        f"o365imap: there is no folder {wrong!r}: did you mean {meant!r}? "
        "(`o365imap folders` lists them)."
    )
    assert server.startswith("  server said: NO")


def test_rejected_token_exits_2_with_the_servers_words(dovecot: DovecotServer) -> None:
    token = dovecot.mint_token(BOB)  # valid, but for another account than --user
    result = run(["folders", *conn(dovecot)], token)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("o365imap: ") and "refused the sign-in" in lines[0]
    # Dovecot's SASL error report, in words rather than as a Python dict
    assert "(its error report: status 401, " in lines[0] and "{" not in lines[0], lines[0]
    assert "server said: NO [AUTHENTICATIONFAILED] Authentication failed." in result.stderr
    assert token not in result.stderr and token not in result.stdout
    assert "Traceback" not in result.stderr


def test_expired_token_exits_2(dovecot: DovecotServer) -> None:
    result = run(["folders", *conn(dovecot)], dovecot.mint_token(ALICE, lifetime=-10))
    assert result.returncode == 2


def test_network_failure_exits_3() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run(["folders", "--host", "127.0.0.1", "--port", str(port), "--user", ALICE], "tok")
    assert result.returncode == 3
    assert result.stderr.startswith("o365imap: cannot connect to 127.0.0.1:")
    assert "Traceback" not in result.stderr


def test_untrusted_certificate_exits_3(dovecot: DovecotServer) -> None:
    args = ["folders", "--host", dovecot.host, "--port", str(dovecot.imaps_port), "--user", ALICE]
    result = run(args, "tok")
    assert result.returncode == 3
    assert "not trusted" in result.stderr and "--ca-file" in result.stderr


def test_debug_trace_redacts_the_token(
    dovecot: DovecotServer, testbed: Testbed, token: str
) -> None:
    result = run(["--debug", "info", "INBOX", *conn(dovecot)], token)
    assert result.returncode == 0, result.stderr
    assert "AUTHENTICATE [redacted]" in result.stderr
    assert "EXAMINE INBOX" in result.stderr
    assert token not in result.stderr
    import base64

    from o365imap.protocol import sasl

    assert sasl.xoauth2(ALICE, token).decode() not in result.stderr
    assert base64.b64encode(token.encode()).decode()[:40] not in result.stderr


def test_help_and_version() -> None:
    assert run([]).returncode == 0
    result = run(["--version"])
    assert result.returncode == 0 and "0.1.0" in result.stdout
    assert "--access-token" in run(["list", "--help"]).stdout


@pytest.mark.parametrize(
    "program",
    [[str(Path(sys.executable).with_name("o365imap"))], [sys.executable, "-m", "o365imap"]],
    ids=["installed-command", "python-m"],
)
def test_the_entry_points_are_the_command_the_tests_run(program: list[str]) -> None:
    """The other tests call ``o365imap.cli.main`` in this process: the command pip installs
    and ``python -m o365imap`` are that function, its exit codes and sentences included."""
    version = subprocess.run(
        [*program, "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert version.returncode == 0, version.stderr
    assert "0.1.0" in version.stdout
    usage = subprocess.run(
        [*program, "list", "--page", "0"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (usage.returncode, usage.stdout) == (1, "")
    assert usage.stderr == "o365imap: invalid value for '--page': 0 is not in the range x>=1.\n"


def test_json_output_survives_a_closed_pipe(
    dovecot: DovecotServer, testbed: Testbed, token: str
) -> None:
    command = [sys.executable, "-m", "o365imap", "list", "Bulk", "--all", "--json", *conn(dovecot)]
    env = dict(os.environ, O365IMAP_ACCESS_TOKEN=token)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()
        stderr = proc.stderr.read().decode()
        code = proc.wait(timeout=60)
    assert json.loads(first)["seq"] == 1
    assert code == 0
    assert "Traceback" not in stderr


def test_an_internal_error_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kw: object) -> None:
        raise RuntimeError("secret-ish detail")

    from o365imap.cli import mailbox

    monkeypatch.setattr(mailbox, "open_client", broken)
    result = run(["folders", "--host", "127.0.0.1", "--user", "u@example.com"], "tok")
    assert result.returncode == 3
    assert result.stderr.startswith("o365imap: internal error (RuntimeError)")
    assert "Traceback" not in result.stderr and "secret-ish" not in result.stderr


def test_an_invalid_host_name_is_bad_input() -> None:
    result = run(["folders", "--host", "foo..example", "--user", ALICE], "tok")
    assert result.returncode == 1
    assert "not a valid host name" in result.stderr


def hostile_folder(dovecot: DovecotServer, folder: str) -> None:
    """Three messages in BOB's ``folder``, the first deleted: UIDs 2 and 3 are sequence
    numbers 1 and 2. Their subjects carry a terminal escape, a bidi override and an encoded
    CR LF; the sender's name a window-title escape."""
    writer = MaildirWriter(dovecot.maildir(BOB), dovecot.mail_owner)
    subjects = (
        b"Deleted one",
        b"Red \x1b[31malert\x1b[0m \x1b[2J cleared \xe2\x80\xae reversed",
        b"=?utf-8?q?Fwd:_Ticket_123=0D=0A_resolved?=",
    )
    messages = []
    for n, subject in enumerate(subjects):
        raw = (
            b"From: =?utf-8?q?Mallory=1B=5D0=3Bpwned=07?= <mallory@example.net>\r\n"
            b"To: bob@example.com\r\nDate: Mon, 6 Jan 2025 09:0%d:00 +0000\r\n"
            b"Message-ID: <hostile-%d@example.net>\r\nSubject: " % (n, n) + subject + b"\r\n"
            b"Content-Type: text/plain\r\n\r\nHello \x1b]0;pwned\x07 there.\r\n"
        )
        messages.append(
            SeedMessage(
                date=datetime(2025, 1, 6, 9, n, tzinfo=UTC),
                subject=None,
                message_id=f"<hostile-{n}@example.net>",
                raw=raw,
            )
        )
    writer.write(folder, messages)
    context = ssl.create_default_context(cafile=str(dovecot.ca_file))
    imap = imaplib.IMAP4_SSL(dovecot.host, dovecot.imaps_port, ssl_context=context)
    try:
        imap.login(BOB, BOB_PASSWORD)
        imap.select(folder)
        imap.uid("STORE", "1", "+FLAGS", "(\\Deleted)")
        imap.expunge()
    finally:
        imap.logout()


def test_tables_show_uids_and_keep_escapes_out(dovecot: DovecotServer) -> None:
    hostile_folder(dovecot, "Hostile")
    token = dovecot.mint_token(BOB)
    for args in (["list", "Hostile"], ["search", "Hostile", "--subject", "e"]):
        # a terminal: a table 80 columns wide (rich's own styling taken away)
        result = run([*args, *conn(dovecot, BOB)], token, COLUMNS="80", TTY_COMPATIBLE="1")
        assert result.returncode == 0, result.stderr
        out = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out, out
        rows = out.splitlines()[3:]  # after the title, the header and its rule
        # the first column is what `show` takes: the UID, not the sequence number
        assert [row.split()[0] for row in rows] == ["3", "2"], out
        # the encoded CR LF does not split the row
        assert any("Fwd: Ticket 123 res" in row for row in rows), out
        assert all(len(line) <= 80 for line in out.splitlines()), out
        # a pipe: tab-separated values, the same rows, still nothing a terminal obeys
        piped = run([*args, *conn(dovecot, BOB)], token).stdout
        assert "\x1b" not in piped and "\x07" not in piped and "\u202e" not in piped, piped
        assert [line.split("\t")[0] for line in piped.splitlines()] == ["UID", "3", "2"]
    shown = run(["show", "2", "Hostile", *conn(dovecot, BOB)], token)
    assert shown.returncode == 0, shown.stderr
    assert "Red \ufffd[31malert" in shown.stdout


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_a_full_disk_under_the_output_is_exit_4(
    dovecot: DovecotServer, testbed: Testbed, token: str, debug: list[str]
) -> None:
    """`list --all --json > archive.jsonl` on a full disk: one sentence, the storage code."""
    args = [*debug, "list", "Bulk", "--all", "--json", *conn(dovecot)]
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "o365imap", *args],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "O365IMAP_ACCESS_TOKEN": token},
            timeout=120,
            check=False,
        )
    assert result.returncode == 4, result.stderr
    assert "cannot write the output: No space left on device." in result.stderr
    assert "Traceback" not in result.stderr


def test_stop_signals_raise_once_and_leave_an_ignored_one_alone() -> None:
    """SIGTERM raises Stopped where the program is; a second one during the cleanup is
    dropped; SIGHUP ignored beforehand (``nohup``) stays ignored; the handlers come back."""
    from o365imap.cli.signals import Stopped, stop_signals

    term = signal.getsignal(signal.SIGTERM)
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with pytest.raises(Stopped) as stopped, stop_signals() as received:
            os.kill(os.getpid(), signal.SIGHUP)  # nohup's: nothing happens
            assert received == []
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # the signal interrupts this
            finally:
                os.kill(os.getpid(), signal.SIGTERM)  # the cleanup is not cut short
        assert (stopped.value.exit_code, str(stopped.value)) == (143, "stopped by SIGTERM")
        assert received == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is term
    finally:
        signal.signal(signal.SIGHUP, before)


# ---------------------------------------------------------------- values people type

_UID_RULE = "is not a UID: UIDs are ASCII digits, 1 to 4294967295 (RFC 3501 nz-number)."
_TIMEOUT_RULE = "is not a finite number of seconds from 0.1 to 3600."
_FOLDER_RULE = "is not a folder name: folder names are 1 to 1000 characters long."


@pytest.mark.parametrize(
    ("args", "said"),
    [
        # Each was sent, and refused by the server (exit 3, its BAD twice), or overflowed.
        pytest.param(["save", "4294967296"], f"'4294967296' {_UID_RULE}", id="uid-2**32"),
        pytest.param(
            ["show", "9" * 30], f"'999999999999999999999999999999' {_UID_RULE}", id="uid-30-digits"
        ),
        pytest.param(
            ["save", "9" * 5000],
            f"'99999999999999999999'… (5000 characters) {_UID_RULE}",
            id="uid-5000-digits",
        ),
        pytest.param(["show", "0"], f"'0' {_UID_RULE}", id="uid-0"),
        # Digits of other scripts: int() reads them; `save １` saved UID 1.
        pytest.param(["save", "１"], f"'１' {_UID_RULE}", id="uid-fullwidth"),
        pytest.param(["save", "٣"], f"'٣' {_UID_RULE}", id="uid-arabic-indic"),
        pytest.param(["show", "²"], f"'²' {_UID_RULE}", id="uid-superscript"),
        pytest.param(
            ["folders", "--timeout", "nan"], f"'--timeout': 'nan' {_TIMEOUT_RULE}", id="timeout-nan"
        ),
        pytest.param(
            ["info", "--timeout", "inf"], f"'--timeout': 'inf' {_TIMEOUT_RULE}", id="timeout-inf"
        ),
        pytest.param(
            ["list", "--timeout", "1e300"],
            f"'--timeout': '1e300' {_TIMEOUT_RULE}",
            id="timeout-1e300",
        ),
        pytest.param(
            ["search", "--timeout", "٣٠"],
            f"'--timeout': '٣٠' {_TIMEOUT_RULE}",
            id="timeout-arabic-indic",
        ),
        pytest.param(
            ["show", "1", "--timeout", "3601"],
            f"'--timeout': '3601' {_TIMEOUT_RULE}",
            id="timeout-over-an-hour",
        ),
        pytest.param(
            ["capabilities", "--timeout", "0"], f"'--timeout': '0' {_TIMEOUT_RULE}", id="timeout-0"
        ),
        pytest.param(["info", ""], f"'[FOLDER]': '' {_FOLDER_RULE}", id="folder-empty-info"),
        pytest.param(
            ["list", "x" * 100_000],
            f"'xxxxxxxxxxxxxxxxxxxx'… (100000 characters) {_FOLDER_RULE}",
            id="folder-100000-list",
        ),
        pytest.param(
            ["search", "y" * 1001, "--unseen"],
            f"(1001 characters) {_FOLDER_RULE}",
            id="folder-1001-search",
        ),
        pytest.param(["show", "1", ""], f"'[FOLDER]': '' {_FOLDER_RULE}", id="folder-empty-show"),
        pytest.param(["save", "1", ""], f"'[FOLDER]': '' {_FOLDER_RULE}", id="folder-empty-save"),
        pytest.param(["tui", "--folder", ""], f"'--folder': '' {_FOLDER_RULE}", id="tui-folder"),
        pytest.param(
            ["tui", "--timeout", "nan"], f"'--timeout': 'nan' {_TIMEOUT_RULE}", id="tui-timeout"
        ),
        pytest.param(
            ["tui", "--poll", "inf"],
            "'--poll': 'inf' is not a finite number of seconds from 5 to",
            id="tui-poll",
        ),
        pytest.param(
            ["login", "--timeout", "1e300"],
            "'--timeout': '1e300' is not a finite number of seco",
            id="login-timeout",
        ),
    ],
)
def test_bad_uids_timeouts_and_folder_names_are_usage_errors(
    dovecot: DovecotServer,
    testbed: Testbed,
    token: str,
    tmp_path: Path,
    args: list[str],
    said: str,
) -> None:
    if args[0] in ("save", "show", "folders", "info", "list", "search", "capabilities"):
        args = [*args, *conn(dovecot)]  # a server that would take them, were they sent
    if args[0] == "save":
        args += ["--dir", str(tmp_path)]
    result = run(args, token)
    assert result.returncode == 1, result.stderr[:500]
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr[:500]  # one line
    assert result.stderr.startswith("o365imap: invalid value for ")
    assert said in result.stderr, result.stderr[:500]
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_uid_may_have_leading_zeros_and_a_folder_the_longest_name(
    dovecot: DovecotServer, testbed: Testbed, token: str
) -> None:
    msg = testbed.tagged("pdf")
    shown = run(["show", f"000{msg.uid}", "--json", *conn(dovecot)], token)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["uid"] == msg.uid
    longest = run(["info", "z" * 1000, *conn(dovecot)], token)  # allowed: the server says no
    assert longest.returncode == 1 and "there is no folder 'zzz" in longest.stderr


def test_click_usage_errors_are_one_sentence_too() -> None:
    unknown = run(["list", "--jsn"])
    assert (unknown.returncode, unknown.stderr) == (
        1,
        "o365imap: no such option '--jsn'. Did you mean '--json'?\n",
    )
    several = run(["list", "--pages", "2"])
    assert several.stderr == (
        "o365imap: no such option '--pages'. (Did you mean one of: '--page', '--page-size'?)\n"
    )
    missing = run(["show"])
    assert (missing.returncode, missing.stderr) == (1, "o365imap: missing argument 'UID|FILE'.\n")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["show", "Bulk", "5"],
            "'Bulk' is not a UID, and the UID comes first: did you mean `o365imap show 5 Bulk`?",
        ),
        (
            ["save", "Junk Email", "63", "--part", "1"],
            "'Junk Email' is not a UID, and the UID comes first: did you mean "
            "`o365imap save 63 'Junk Email'`?",
        ),
        (
            ["show", "Bulk"],
            "'Bulk' is neither a UID nor a message file (.eml): the UID comes first, then the "
            "folder, as in `o365imap show UID Bulk`.",
        ),
        (
            ["show", "Bulk", "Junk"],
            "invalid value for 'UID|FILE': 'Bulk' is neither a UID nor a message file (.eml).",
        ),
    ],
    ids=["swapped-show", "swapped-save", "folder-alone", "two-folders"],
)
def test_a_folder_where_the_uid_goes_says_the_uid_comes_first(args: list[str], said: str) -> None:
    result = run(args)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", f"o365imap: {said}\n")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["list", "--page", "٣"], "'--page': '٣' is not a whole number in ASCII digits."),
        (["list", "--page-size", "１０"], "'--page-size': '１０' is not a whole number in ASCII"),
        (["list", "--page", "9" * 5000], "'99999999999999999999'… (5000 characters) is not in"),
        (["login", "--port", "٩٩٣"], "'--port': '٩٩٣' is not a whole number in ASCII digits."),
    ],
    ids=["page", "page-size", "page-5000-digits", "port"],
)
def test_whole_numbers_are_ascii_digits_too(
    dovecot: DovecotServer, testbed: Testbed, token: str, args: list[str], said: str
) -> None:
    """int() reads other scripts' digits: `list --page ٣` listed page 3."""
    if args[0] == "list":
        args = [*args, *conn(dovecot)]
    result = run(args, token)
    assert result.returncode == 1, result.stderr[:300]
    assert result.stderr.count("\n") == 1 and said in result.stderr, result.stderr[:300]
