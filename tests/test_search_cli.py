"""``o365imap search`` as scripts use it: a real process against the Dovecot test bed."""

from __future__ import annotations

from datetime import timedelta

from conftest import ALICE
from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.mailmodel import SeedAddress
from o365imap.sandbox.seed import Testbed
from test_cli import conn, json_lines, run


def _ascii_word(testbed: Testbed) -> str:
    return next(
        w
        for m in testbed.bulk[200:]
        if m.subject and m.subject.isascii()
        for w in m.subject.split()
        if len(w) > 6 and w.isalpha()
    )


def test_subject_search_prints_what_list_prints_newest_first(
    dovecot: DovecotServer, testbed: Testbed, token: str
) -> None:
    word = _ascii_word(testbed)
    expected = sorted(
        (m.uid for m in testbed.bulk if m.subject and word.lower() in m.subject.lower()),
        reverse=True,
    )
    result = run(["search", "Bulk", "--subject", word, "--json", *conn(dovecot)], token)
    assert result.returncode == 0, result.stderr
    rows = json_lines(result.stdout)
    assert [r["uid"] for r in rows] == expected
    listed = run(["list", "Bulk", "--page-size", "1", "--json", *conn(dovecot)], token)
    assert set(rows[0]) == set(json_lines(listed.stdout)[0])  # the same objects as `list`
    by_uid = {m.uid: m for m in testbed.bulk}
    for row in rows[:20]:
        assert row["subject"] == by_uid[row["uid"]].subject


def test_non_ascii_text_is_searched_as_utf8(
    dovecot: DovecotServer, testbed: Testbed, token: str
) -> None:
    # (Debian's Dovecot here cannot read every legacy charset, so the word is in a subject
    # the seeder encoded as UTF-8: the test is about our side, CHARSET and the literal.)
    word = "Grüße"
    expected = sorted(
        (m.uid for m in testbed.inbox if m.subject and word.lower() in m.subject.lower()),
        reverse=True,
    )
    assert expected
    result = run(["search", "--subject", word, "--json", *conn(dovecot)], token)
    assert result.returncode == 0, result.stderr
    assert [r["uid"] for r in json_lines(result.stdout)] == expected


def test_unseen_between_dates(dovecot: DovecotServer, testbed: Testbed, token: str) -> None:
    bulk = testbed.bulk
    since, before = bulk[3000].date.date(), bulk[6000].date.date()
    dates = ["--since", since.isoformat(), "--before", before.isoformat()]
    result = run(["search", "Bulk", "--unseen", *dates, "--json", *conn(dovecot)], token)
    assert result.returncode == 0, result.stderr
    found = {r["uid"] for r in json_lines(result.stdout)}
    by_uid = {m.uid: m for m in bulk}
    assert found
    assert all("\\Seen" not in by_uid[uid].flags for uid in found)
    # Day boundaries follow the server's idea of the date: only a day's margin is certain.
    day = timedelta(days=1)
    for m in bulk:
        inside = since + day <= m.date.date() < before - day
        outside = m.date.date() < since - day or m.date.date() >= before + day
        if "\\Seen" not in m.flags and inside:
            assert m.uid in found
        if outside:
            assert m.uid not in found


def test_from_search_and_table_output(dovecot: DovecotServer, testbed: Testbed, token: str) -> None:
    address = "john.smith@contoso.com"
    expected = [
        m
        for m in testbed.inbox
        if any(isinstance(a, SeedAddress) and a.email == address for a in m.from_)
    ]
    result = run(["search", "INBOX", "--from", address, *conn(dovecot)], token, TTY_COMPATIBLE="1")
    assert result.returncode == 0, result.stderr
    assert f"{len(expected)} messages of {len(testbed.inbox)} match" in result.stdout
    piped = run(["search", "INBOX", "--from", address, *conn(dovecot)], token)
    rows = [line.split("\t") for line in piped.stdout.splitlines()]
    assert rows[0][:4] == ["UID", "Date", "From", "Subject"]
    assert sorted(int(row[0]) for row in rows[1:]) == sorted(m.uid for m in expected)


def test_unknown_folder_and_bad_date_are_usage_errors(dovecot: DovecotServer, token: str) -> None:
    missing = run(["search", "No such folder", *conn(dovecot)], token)
    assert missing.returncode == 1
    assert "no folder" in missing.stderr
    bad = run(["search", "--since", "March 1", *conn(dovecot, ALICE)], token)
    assert bad.returncode == 1
    assert "YYYY-MM-DD" in bad.stderr or "%Y-%m-%d" in bad.stderr
