"""Hostile or odd input to the commands that change mail: UID sets at their length limit, JSON nested past the parser, dates at the calendar's edge, pipes, lines of another folder."""

from __future__ import annotations

import pytest

from o365imap import UsageError
from o365imap.cli.selection import _stdin_spans
from o365imap.client._args import MAX_SET_LENGTH, uid_batches
from o365imap.protocol import SequenceSet


def test_uid_batches_keep_every_set_within_max_length() -> None:
    # A range whose end has more digits than its start ("1:1000000") is paid for as if
    # its end were as short as its start: the set grows past MAX_SET_LENGTH.
    uids = list(range(1, 1_000_001))
    x = 1_000_002
    while len(uids) < 1_000_000 + 3000:
        uids += [x, x + 1]
        x += 3
    batches = list(uid_batches(uids))
    assert sorted(u for b in batches for u in b) == sorted(set(uids))
    lengths = [len(str(SequenceSet(b))) for b in batches]
    assert max(lengths) <= MAX_SET_LENGTH, lengths[:3]


def test_deeply_nested_json_on_stdin_is_a_usage_error() -> None:
    line = '{"a":' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(UsageError):
        _stdin_spans([line], "INBOX")


def test_a_json_line_of_another_folder_is_refused() -> None:
    """``copy ... --folder Archive --json | delete -``: those UIDs are Archive's, not INBOX's."""
    line = '{"uid": 3, "folder": "Archive", "action": "copy", "to": "X", "new_uid": 9}'
    with pytest.raises(UsageError, match="folder 'Archive', not 'INBOX'"):
        _stdin_spans([line], "INBOX")
    assert _stdin_spans([line], "Archive") == [(3, 3, "3")]
    assert _stdin_spans(['{"uid": 5}'], "INBOX") == [(5, 5, "5")]  # list --json: no folder


def test_date_at_the_edge_of_the_calendar_is_a_usage_error() -> None:
    import click

    from o365imap.cli.append_cmd import IsoDateTime

    # Naive: astimezone() of year 1 fails with ValueError/OverflowError, which the CLI turns
    # into "internal error" (exit 3) rather than a usage error.
    with pytest.raises(click.BadParameter):
        IsoDateTime().convert("0001-01-01", None, None)


def test_append_date_of_a_named_pipe_is_not_an_internal_error() -> None:
    import os

    from o365imap.cli.append_cmd import _date_of, _message

    read, write = os.pipe()
    os.write(write, b"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\nSubject: x\r\n\r\nhi\r\n")
    os.close(write)
    # `o365imap append <(cat msg.eml) --to X`: click.Path accepts /dev/fd/N, _date_of seeks.
    with _message(f"/dev/fd/{read}") as message:
        assert _date_of(message) is not None
