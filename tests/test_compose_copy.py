"""``send --eml``: a finished message copied for SMTP, its Bcc gone, its line endings CRLF."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from o365imap.compose import MAX_HEADER_BYTES, Written, copy_ready_message
from o365imap.errors import UsageError
from traced import peak_writing

WHEN = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)

READY = (
    b"From: Ann Example <ann@example.com>\n"
    b"To: Bob <bob@example.org>,\n"
    b"  carol@example.org\n"
    b"Bcc: hidden@example.net,\n"
    b"\tAlso Hidden <also@example.net>\n"
    b"Cc: Dave <dave@example.org>, BOB@example.org\n"
    b"bcc: third@example.net\n"
    b"Subject: Quarterly figures\n"
    b"\n"
    b"Line one\n"
    b"Bcc: in the body stays\n"
    b"\n"
    b"last line\n"
)


def copy(data: bytes, **options: object) -> tuple[bytes, Written]:
    out = io.BytesIO()
    written = copy_ready_message(io.BytesIO(data), out, date=WHEN, **options)  # type: ignore[arg-type]
    result = out.getvalue()
    assert written.size == len(result)
    assert b"\n" not in result.replace(b"\r\n", b"") and b"\r" not in result.replace(b"\r\n", b"")
    return result, written


def test_bcc_goes_with_its_continuation_lines_and_recipients_stay() -> None:
    result, written = copy(READY)
    head, _, body = result.partition(b"\r\n\r\n")
    assert b"hidden" not in head.lower() and b"third" not in head
    assert b"Also Hidden" not in head
    assert body == b"Line one\r\nBcc: in the body stays\r\n\r\nlast line\r\n"
    assert written.recipients == (
        "bob@example.org",
        "carol@example.org",
        "dave@example.org",
        "hidden@example.net",
        "also@example.net",
        "third@example.net",
    )
    assert written.sender == "ann@example.com"
    message = BytesParser(policy=policy.default).parsebytes(result)
    assert message["To"] == "Bob <bob@example.org>, carol@example.org"
    assert message["Bcc"] is None
    assert message["Date"].datetime == WHEN
    assert message["Message-ID"] == written.message_id
    assert written.message_id.endswith("@example.com>")


def test_given_recipients_and_sender_win_and_date_and_id_are_kept() -> None:
    data = (
        b"From: ann@example.com\r\nSender: sec@example.com\r\nTo: bob@example.org\r\n"
        b"Date: Mon, 1 Dec 2026 10:00:00 +0100\r\nMessage-ID: <keep@example.com>\r\n\r\nhi\r\n"
    )
    result, written = copy(data, recipients=["x@example.org", "X@example.org, y@example.org"])
    assert written.recipients == ("x@example.org", "y@example.org")
    assert written.sender == "sec@example.com"
    assert written.message_id == "<keep@example.com>"
    assert result == data
    _, other = copy(data, sender="Me <me@example.com>")
    assert other.sender == "me@example.com"


def test_line_endings_split_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("o365imap.compose._copy._READ_SIZE", 3)
    data = b"From: a@x.org\nTo: b@x.org\n\nab\r\ncd\ref\n\rgh\r"
    result, _ = copy(data)
    assert result.partition(b"\r\n\r\n")[2] == b"ab\r\ncd\r\nef\r\n\r\ngh\r\n"


def test_a_message_without_recipients_is_refused() -> None:
    with pytest.raises(UsageError, match="no recipient"):
        copy(b"From: a@x.org\nSubject: x\n\nbody\n")
    with pytest.raises(UsageError, match="no recipient"):
        copy(b"From: a@x.org\nTo: undisclosed-recipients:;\n\nbody\n")


def test_a_message_without_a_sender_needs_one() -> None:
    with pytest.raises(UsageError, match="no From"):
        copy(b"To: a@x.org\n\nbody\n")
    _, written = copy(b"To: a@x.org\n\nbody\n", sender="me@x.org")
    assert written.sender == "me@x.org"


def test_a_header_over_the_bound_is_refused() -> None:
    huge = b"From: a@x.org\nTo: b@x.org\nX-Filler: " + b"y" * MAX_HEADER_BYTES + b"\n\nbody\n"
    with pytest.raises(UsageError, match="header is over"):
        copy(huge)
    many = b"From: a@x.org\nTo: b@x.org\n" + b"X-Line: 0123456789\n" * (MAX_HEADER_BYTES // 19 + 1)
    with pytest.raises(UsageError, match="header is over"):
        copy(many + b"\nbody\n")


def test_a_file_that_is_not_a_message(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="line 2 is not a header field"):
        copy(b"From: a@x.org\nthis is prose\n\n")
    with pytest.raises(UsageError, match="cannot read"):
        copy_ready_message(tmp_path / "missing.eml", io.BytesIO())


def test_an_mbox_from_line_is_dropped_and_a_path_is_read(tmp_path: Path) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(b"From ann@x.org Mon Dec  1 10:00:00 2026\n" + READY)
    out = io.BytesIO()
    copy_ready_message(path, out, date=WHEN, message_id="<given@x.org>")
    assert out.getvalue().startswith(b"From: Ann Example <ann@example.com>\r\n")
    assert b"Message-ID: <given@x.org>\r\n" in out.getvalue()


def test_a_big_body_streams_in_bounded_memory(tmp_path: Path) -> None:
    source = tmp_path / "big.eml"
    line = b"0123456789abcdef" * 4 + b"\n"
    with source.open("wb") as handle:
        handle.write(b"From: a@x.org\nTo: b@x.org\n\n")
        for _ in range(30):
            handle.write(line * ((1 << 20) // len(line)))
    target = tmp_path / "out.eml"
    written, peak = peak_writing(target, lambda out: copy_ready_message(source, out, date=WHEN))
    assert peak < 2 << 20, f"peak {peak / 2**20:.1f} MiB"
    assert written.size == target.stat().st_size > 30 << 20
    with target.open("rb") as handle:
        handle.seek(-2 * (len(line) + 1), 2)
        assert handle.read() == line.replace(b"\n", b"\r\n") * 2
