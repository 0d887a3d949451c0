"""``o365imap show`` and ``save`` as scripts use them, against Dovecot; and dropped downloads."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli_runner import in_own_process
from conftest import ALICE, BOB
from cutting_proxy import CuttingProxy
from o365imap import ConnectionClosed, ImapClient
from o365imap.messages import save_message, save_parts
from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.mailbuild import build_message
from o365imap.sandbox.mailsamples import EXPECTED, REPORTS
from o365imap.sandbox.seed import MaildirWriter, SeedMessage, Testbed
from test_cli import conn, environment, json_lines, run

PART_FIELDS = {
    "part",
    "content_type",
    "filename",
    "encoded_size",
    "decoded_size",
    "estimated_size",
    "disposition",
    "content_id",
}


def test_show_json_has_listing_fields_text_and_parts(
    dovecot: DovecotServer, testbed: Testbed, token: str
) -> None:
    msg = testbed.tagged("inline-image")
    result = run(["show", str(msg.uid), "--json", *conn(dovecot)], token)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["uid"] == msg.uid and data["subject"] == "Newsletter with a logo"
    assert data["text"] == "See our logo below.\n"
    assert "cid:logo.png@sandbox.test" in data["html"]
    assert [set(p) for p in data["parts"]] == [PART_FIELDS] * 2
    assert [(p["filename"], p["disposition"]) for p in data["parts"]] == [
        ("logo.png", "inline"),
        ("terms.pdf", "attachment"),
    ]


def test_sizes_in_json_are_exact_or_named_as_estimates(
    dovecot: DovecotServer, testbed: Testbed, token: str, tmp_path: Path
) -> None:
    """A 5,000-byte file was listed as "size": 4999 (and 300 bytes as 299): an estimate from
    the encoded size, under a name that said nothing of it."""
    msg = testbed.tagged("exact-sizes", "Attachments")
    files = EXPECTED["exact-sizes"]
    shown = run(["show", str(msg.uid), "Attachments", "--json", *conn(dovecot)], token)
    assert shown.returncode == 0, shown.stderr
    parts = json.loads(shown.stdout)["parts"]
    assert [set(p) for p in parts] == [PART_FIELDS] * 2
    with ImapClient(dovecot.host, dovecot.imaps_port, ca_file=str(dovecot.ca_file)) as client:
        client.authenticate_oauth(ALICE, token)
        client.select("Attachments", readonly=True)
        [response] = client.iter_fetch([msg.uid], "(UID BODY.PEEK[2] BODY.PEEK[3])", uid=True)
    sent = [response.items["BODY[2]"], response.items["BODY[3]"]]
    assert [p["encoded_size"] for p in parts] == [len(b) for b in sent]  # the server's figure
    assert [p["decoded_size"] for p in parts] == [None, None]  # not known before a download
    assert [p["estimated_size"] for p in parts] == [4999, 299]  # what "size" used to say
    saved = run(["save", str(msg.uid), "Attachments", "--dir", str(tmp_path), "--json",
                 *conn(dovecot)], token)  # fmt: skip
    assert [r["size"] for r in json_lines(saved.stdout)] == [5000, 300]
    source = tmp_path / "sizes.eml"
    source.write_bytes(build_message(msg))
    parsed = json.loads(run(["show", str(source), "--json"]).stdout)["parts"]
    assert [p["encoded_size"] for p in parsed] == [len(b) for b in sent]
    assert [p["decoded_size"] for p in parsed] == [len(d) for _, d in files]
    assert [p["estimated_size"] for p in parsed] == [5000, 300]  # exact where it is known


def test_show_tells_a_bounce_as_a_bounce(
    dovecot: DovecotServer, testbed: Testbed, token: str, tmp_path: Path
) -> None:
    """An Office 365 bounce was shown as its text plus two unnamed attachments
    (attachment-1.bin, message-2.eml), from the server and from a file alike."""
    msg = testbed.tagged("bounce-office365", "Attachments")
    expected = REPORTS["bounce-office365"]
    source = tmp_path / "bounce.eml"
    source.write_bytes(build_message(msg))
    server = [str(msg.uid), "Attachments", *conn(dovecot)]
    for where in (server, [str(source)]):
        shown = run(["show", *where], token)
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        assert f"Delivery report from {expected.reporting_mta}" in lines
        address, action, status, diagnostic = expected.recipients[0]
        assert f"  {address}: {action}, {status} ({diagnostic})" in lines
        assert (
            f'  Returned message (part 3): "{expected.returned_subject}" '
            f"{expected.returned_message_id}" in lines
        )
        assert expected.text_begins in lines and "Parts" not in lines
        data = json.loads(run(["show", *where, "--json"], token).stdout)
        assert data["parts"] == [] and data["alternatives"] == []
        assert data["text"].startswith(expected.text_begins)
        report = data["report"]
        assert set(report) == {"type", "status_part", "reporting_mta", "recipients", "returned"}
        assert report["type"] == "delivery-status"
        assert report["status_part"]["part"] == "2"
        assert report["reporting_mta"] == expected.reporting_mta
        assert [
            (r["recipient"], r["action"], r["status"], r["diagnostic"])
            for r in report["recipients"]
        ] == list(expected.recipients)
        returned = report["returned"]
        assert set(returned) == PART_FIELDS | {"subject", "message_id", "date"}
        assert (returned["part"], returned["content_type"]) == ("3", "message/rfc822")
        assert returned["subject"] == expected.returned_subject
        assert returned["message_id"] == expected.returned_message_id
        assert returned["date"] == "2024-05-06T08:58:00+00:00"
        out = tmp_path / str(len(where))
        nothing = run(["save", *where, "--dir", str(out), "--json"], token)
        assert nothing.returncode == 0 and nothing.stdout == ""  # no attachments to save
        asked = run(["save", *where, "--part", "3", "--dir", str(out), "--json"], token)
        (row,) = json_lines(asked.stdout)  # still there, by its number
        assert row["content_type"] == "message/rfc822"
        assert b"Message-ID: <quarterly-numbers@contoso.example>" in Path(row["path"]).read_bytes()


def test_show_lists_other_versions_of_the_text_apart(
    dovecot: DovecotServer, testbed: Testbed, token: str
) -> None:
    """A text/enriched alternative was listed as the unnamed attachment attachment-1.txt."""
    msg = testbed.tagged("enriched-alternative", "Attachments")
    shown = run(["show", str(msg.uid), "Attachments", *conn(dovecot)], token)
    assert "Other versions of the text: text/enriched (part 1.2)" in shown.stdout
    assert "attachment-1" not in shown.stdout
    data = json.loads(
        run(["show", str(msg.uid), "Attachments", "--json", *conn(dovecot)], token).stdout
    )
    assert [(p["part"], p["filename"]) for p in data["parts"]] == [("2", "agenda.pdf")]
    assert [(p["part"], p["content_type"]) for p in data["alternatives"]] == [
        ("1.2", "text/enriched")
    ]
    assert [set(p) for p in data["alternatives"]] == [PART_FIELDS]
    assert data["text"] == "The agenda is attached. Please be on time."
    assert data["report"] is None


def test_show_human_output_and_html(dovecot: DovecotServer, testbed: Testbed, token: str) -> None:
    msg = testbed.tagged("html-only", "Attachments")
    result = run(["show", str(msg.uid), "Attachments", *conn(dovecot)], token)
    assert result.returncode == 0, result.stderr
    assert "Quarterly update" in result.stdout and "<h1>" not in result.stdout
    assert "image-1.png" in result.stdout and "Subject" in result.stdout
    html = run(["show", str(msg.uid), "Attachments", "--html", *conn(dovecot)], token)
    assert "<h1>Quarterly update</h1>" in html.stdout


def test_save_json_lines_and_exact_bytes(
    dovecot: DovecotServer, testbed: Testbed, token: str, tmp_path: Path
) -> None:
    msg = testbed.tagged("tnef", "Attachments")
    args = ["save", str(msg.uid), "Attachments", "--dir", str(tmp_path), "--json"]
    result = run([*args, *conn(dovecot)], token)
    assert result.returncode == 0, result.stderr
    rows = json_lines(result.stdout)
    assert [set(r) for r in rows] == [
        {"path", "filename", "content_type", "size", "part", "sha256", "complete"}
    ] * 2
    assert [r["complete"] for r in rows] == [True, True]
    for row, (name, data) in zip(rows, EXPECTED["tnef"], strict=True):
        assert row["filename"] == name and row["size"] == len(data)
        assert Path(row["path"]).read_bytes() == data
        assert row["sha256"] == hashlib.sha256(data).hexdigest()
    kept = run([*args, "--keep-tnef", *conn(dovecot)], token)
    assert [r["filename"] for r in json_lines(kept.stdout)] == ["winmail.dat"]


def test_save_eml_and_plain_output(
    dovecot: DovecotServer, testbed: Testbed, token: str, tmp_path: Path
) -> None:
    msg = testbed.tagged("pdf")
    result = run(["save", str(msg.uid), "--eml", "--dir", str(tmp_path), *conn(dovecot)], token)
    assert result.returncode == 0, result.stderr
    (path,) = result.stdout.splitlines()
    assert Path(path).read_bytes() == build_message(msg)
    parts = run(["save", str(msg.uid), "--dir", str(tmp_path), *conn(dovecot)], token)
    assert [Path(p).name for p in parts.stdout.splitlines()] == [
        "Quarterly report Q1.pdf",
        "figures.csv",
    ]


def test_save_from_an_eml_file_needs_no_server(tmp_path: Path, testbed: Testbed) -> None:
    msg = testbed.tagged("boundary-prefix", "Attachments")
    source = tmp_path / "in.eml"
    source.write_bytes(build_message(msg))
    out = tmp_path / "out"
    out.mkdir()
    # No connection options and an unroutable host: a file needs no server.
    result = run(["save", str(source), "--dir", str(out), "--host", "127.0.0.1", "--port", "1"])
    assert result.returncode == 0, result.stderr
    assert (out / "report.pdf").read_bytes() == dict(EXPECTED["boundary-prefix"])["report.pdf"]
    shown = run(["show", str(source), "--json"])
    assert json.loads(shown.stdout)["subject"] == "A boundary that is the prefix of another"


def test_bad_input_exits_1_and_a_folder_that_cannot_be_made_4(
    dovecot: DovecotServer, testbed: Testbed, token: str, tmp_path: Path
) -> None:
    assert run(["show", "not-a-uid-or-file"]).returncode == 1
    typo = run(["show", str(tmp_path / "nonexistent.eml")])
    assert typo.returncode == 1 and "no such file: " in typo.stderr
    missing = run(["show", "999999", "--json", *conn(dovecot)], token)
    assert missing.returncode == 1 and "no message with UID 999999" in missing.stderr
    (tmp_path / "file").write_bytes(b"")
    # a folder that cannot be made is a storage error
    nodir = run(["save", "1", "--dir", str(tmp_path / "file" / "dir"), *conn(dovecot)], token)
    assert nodir.returncode == 4, nodir.stderr
    assert "cannot make the folder" in nodir.stderr and "Traceback" not in nodir.stderr


def _small_file_limit() -> None:
    # Files may not grow past 1 MB, and the signal that would kill the process is ignored, so
    # write() fails with EFBIG instead: a disk that fills up, without filling a disk.
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_a_write_that_fails_exits_4_and_leaves_nothing(
    dovecot: DovecotServer, testbed: Testbed, token: str, tmp_path: Path
) -> None:
    msg = testbed.tagged("unnamed-parts", "Attachments")  # a 3 MB part cannot be written
    args = ["save", str(msg.uid), "Attachments", "--dir", str(tmp_path), *conn(dovecot)]
    result = in_own_process(args, environment(token), limits=_small_file_limit)
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr and "attachment-3.bin" in result.stderr
    assert not (tmp_path / "attachment-3.bin").exists()
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_interrupted_download_leaves_no_partial_file(
    dovecot: DovecotServer, testbed: Testbed, token: str, tmp_path: Path
) -> None:
    msg = testbed.tagged("unnamed-parts", "Attachments")  # 3 MB attachment-3.bin
    with CuttingProxy((dovecot.host, dovecot.imaps_port), cut_after=1_500_000) as proxy:
        args = ["save", str(msg.uid), "Attachments", "--dir", str(tmp_path), "--json"]
        options = ["--host", "127.0.0.1", "--port", str(proxy.port)]
        options += ["--ca-file", str(dovecot.ca_file), "--user", ALICE]
        result = run([*args, *options], token)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert "connection" in result.stderr.lower()
    assert not (tmp_path / "attachment-3.bin").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@contextlib.contextmanager
def _through(proxy: CuttingProxy, dovecot: DovecotServer) -> Iterator[ImapClient]:
    """A client on Attachments through ``proxy``, able to sign in again after a drop."""
    client = ImapClient("127.0.0.1", proxy.port, ca_file=str(dovecot.ca_file), timeout=20)
    with client:
        client.authenticate_oauth(
            ALICE, dovecot.mint_token(ALICE), refresh=lambda: dovecot.mint_token(ALICE)
        )
        client.select("Attachments", readonly=True)
        yield client


def test_dropped_download_resumes_where_it_stopped(
    dovecot: DovecotServer, testbed: Testbed, tmp_path: Path
) -> None:
    msg = testbed.tagged("unnamed-parts", "Attachments")
    big = dict(EXPECTED["unnamed-parts"])["attachment-3.bin"]
    with CuttingProxy((dovecot.host, dovecot.imaps_port), cut_after=2_000_000) as proxy:
        with _through(proxy, dovecot) as client:
            saved = save_parts(client, msg.uid, tmp_path)
        assert proxy.connections == 2  # dropped once, resumed on a new connection
    assert [s.filename for s in saved] == [n for n, _ in EXPECTED["unnamed-parts"]]
    assert (tmp_path / "attachment-3.bin").read_bytes() == big
    assert saved[2].sha256 == hashlib.sha256(big).hexdigest()


def test_dropped_eml_download_resumes_byte_exact(
    dovecot: DovecotServer, testbed: Testbed, tmp_path: Path
) -> None:
    msg = testbed.tagged("unnamed-parts", "Attachments")
    with CuttingProxy((dovecot.host, dovecot.imaps_port), cut_after=1_500_000) as proxy:
        with _through(proxy, dovecot) as client:
            saved = save_message(client, msg.uid, tmp_path)
        assert proxy.connections == 2  # dropped once, resumed with BODY.PEEK[]<offset.>
    assert saved.path is not None and saved.path.read_bytes() == build_message(msg)
    assert [p.name for p in tmp_path.iterdir()] == [saved.filename]


def test_dropped_download_without_a_token_source_raises(
    dovecot: DovecotServer, testbed: Testbed, tmp_path: Path
) -> None:
    msg = testbed.tagged("unnamed-parts", "Attachments")
    with CuttingProxy((dovecot.host, dovecot.imaps_port), cut_after=2_000_000) as proxy:
        client = ImapClient("127.0.0.1", proxy.port, ca_file=str(dovecot.ca_file), timeout=20)
        with client:
            client.authenticate_oauth(ALICE, dovecot.mint_token(ALICE))
            client.select("Attachments", readonly=True)
            with pytest.raises(ConnectionClosed):
                save_parts(client, msg.uid, tmp_path)
    assert not any(p.name == "attachment-3.bin" for p in tmp_path.iterdir())
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_show_keeps_terminal_escapes_out(tmp_path: Path) -> None:
    source = tmp_path / "esc.eml"
    source.write_bytes(
        b"From: =?utf-8?q?Evil=1B]0;pwned=07?= <e@x>\r\nSubject: hi\x1b[2J there\r\n"
        b"Content-Type: text/plain\r\n\r\nBody \x1b[31mred\x1b[0m and \xe2\x80\xae reversed\r\n"
    )
    result = run(["show", str(source)])
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\u202e" not in result.stdout
    assert "hi\ufffd[2J there" in result.stdout


def test_a_cut_message_saves_what_it_has_and_says_so(tmp_path: Path) -> None:
    blob = bytes(range(256)) * 400
    encoded = base64.encodebytes(blob).replace(b"\n", b"\r\n")
    source = tmp_path / "cut.eml"
    source.write_bytes(
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="c"\r\n\r\n'
        b"--c\r\nContent-Type: text/plain\r\n\r\nHi\r\n--c\r\n"
        b'Content-Type: application/pdf; name="big.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded[: len(encoded) // 2]
    )
    out = tmp_path / "out"
    out.mkdir()
    result = run(["save", str(source), "--dir", str(out), "--json"])
    assert result.returncode == 0, result.stderr
    assert "big.pdf is cut short" in result.stderr
    (row,) = json_lines(result.stdout)
    assert 0 < row["size"] < len(blob) and row["complete"] is False
    assert blob.startswith((out / "big.pdf").read_bytes())


def test_save_json_says_which_part_the_message_ends_inside(
    dovecot: DovecotServer, testbed: Testbed, token: str, tmp_path: Path
) -> None:
    """A missing close delimiter was said on stderr only, and only for a file; a script
    reading the JSON could not tell the last part might be cut short."""
    msg = testbed.tagged("missing-close", "Attachments")
    source = tmp_path / "open.eml"
    source.write_bytes(build_message(msg))
    from_server = ["save", str(msg.uid), "Attachments", *conn(dovecot)]
    for command, folder in ((from_server, "server"), (["save", str(source)], "file")):
        out = tmp_path / folder
        result = run([*command, "--dir", str(out), "--json"], token)
        assert result.returncode == 0, result.stderr
        rows = json_lines(result.stdout)
        assert [(r["filename"], r["complete"]) for r in rows] == [("pixel.png", False)], folder
        assert "pixel.png is cut short" in result.stderr, folder
        assert (out / "pixel.png").read_bytes() == dict(EXPECTED["missing-close"])["pixel.png"]
    whole = run(["save", str(msg.uid), "Attachments", "--eml", "--dir", str(tmp_path), "--json",
                 *conn(dovecot)], token)  # fmt: skip
    assert [r["complete"] for r in json_lines(whole.stdout)] == [True]  # the message is all there


def test_files_saved_before_a_failure_are_still_reported(tmp_path: Path) -> None:
    small = b"%PDF-1.4 small\n"
    big = bytes(range(256)) * 8192  # 2 MB: over the 1 MB file size limit below
    source = tmp_path / "two.eml"
    source.write_bytes(
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="t"\r\n\r\n'
        b'--t\r\nContent-Type: application/pdf; name="small.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(small) + b"--t\r\n"
        b'Content-Type: application/octet-stream; name="big.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(big) + b"--t--\r\n"
    )
    out = tmp_path / "out"
    out.mkdir()
    args = ["save", str(source), "--dir", str(out), "--json"]
    result = in_own_process(args, limits=_small_file_limit)
    assert result.returncode == 4, result.stderr
    (row,) = json_lines(result.stdout)
    assert row["filename"] == "small.pdf" and Path(row["path"]).read_bytes() == small
    assert sorted(p.name for p in out.iterdir()) == ["small.pdf"]


def test_save_makes_the_folder_it_is_given(tmp_path: Path) -> None:
    source = tmp_path / "note.eml"
    source.write_bytes(
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nHi\r\n--b\r\n"
        b'Content-Type: text/csv; name="data.csv"\r\n\r\na,b\r\n--b--\r\n'
    )
    target = tmp_path / "out" / "2025"
    result = run(["save", str(source), "--dir", str(target)])
    assert result.returncode == 0, result.stderr
    assert (target / "data.csv").read_bytes() == b"a,b"
    blocked = run(["save", str(source), "--dir", str(source)])
    assert blocked.returncode == 1
    assert "is a file" in blocked.stderr


def _hidden_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the command ended ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within 60 s")
        time.sleep(0.02)


@contextlib.contextmanager
def _slow_save(
    dovecot: DovecotServer, testbed: Testbed, token: str, folder: Path
) -> Iterator[subprocess.Popen[str]]:
    """``save`` of the 3 MB attachment through a link of 500 kB/s, caught while it writes."""
    msg = testbed.tagged("unnamed-parts", "Attachments")
    with CuttingProxy((dovecot.host, dovecot.imaps_port), pace=500_000) as proxy:
        args = ["save", str(msg.uid), "Attachments", "--dir", str(folder), "--json"]
        options = ["--host", "127.0.0.1", "--port", str(proxy.port)]
        options += ["--ca-file", str(dovecot.ca_file), "--user", ALICE]
        command = [sys.executable, "-m", "o365imap", *args, *options]
        environment = dict(os.environ, O365IMAP_ACCESS_TOKEN=token)
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
        ) as proc:
            try:
                # Some bytes in the temporary file: the download is under way.
                _wait_for(
                    lambda: any(p.stat().st_size for p in folder.glob(".*")),
                    proc,
                    "temporary file with data",
                )
                yield proc
            finally:
                if proc.poll() is None:
                    proc.kill()


@pytest.mark.parametrize(
    ("signum", "code", "said"),
    [
        (signal.SIGTERM, 143, "stopped by SIGTERM"),  # kill, timeout, systemd
        (signal.SIGHUP, 129, "stopped by SIGHUP"),  # the terminal went away
        (signal.SIGINT, 130, "interrupted"),  # Ctrl-C, which the others now match
    ],
)
def test_a_stop_signal_in_the_middle_of_a_save_leaves_nothing(
    dovecot: DovecotServer,
    testbed: Testbed,
    token: str,
    tmp_path: Path,
    signum: int,
    code: int,
    said: str,
) -> None:
    with _slow_save(dovecot, testbed, token, tmp_path) as proc:
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=30)
    assert (proc.returncode, stderr) == (code, f"o365imap: {said}.\n")
    assert stdout == ""
    assert list(tmp_path.iterdir()) == []  # no file, hidden or not


def test_a_later_save_removes_what_a_killed_one_left_never_a_live_ones(
    dovecot: DovecotServer, testbed: Testbed, token: str, tmp_path: Path
) -> None:
    small = testbed.tagged("pdf")
    later = ["save", str(small.uid), "--dir", str(tmp_path), "--overwrite", *conn(dovecot)]
    with _slow_save(dovecot, testbed, token, tmp_path) as first:
        (temp,) = tmp_path.glob(".*")
        # Stopped, the first run neither writes nor ends: its file only ages, and it is alive.
        first.send_signal(signal.SIGSTOP)
        then = time.time() - 3600
        os.utime(temp, (then, then))
        # In processes of their own: a process looks for leftovers once per folder.
        result = in_own_process(later, environment(token))
        assert result.returncode == 0, result.stderr
        assert temp.exists()
        first.send_signal(signal.SIGKILL)  # kill -9: no cleanup of its own
        first.wait(timeout=30)
    assert temp.exists()
    result = in_own_process(later, environment(token))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Quarterly report Q1.pdf", "figures.csv"]


# A charset named after a domain-name codec once failed list, list --all and search for the
# whole folder, and show and save for the message ("internal error (UnicodeError)").
IDNA_MESSAGE = (
    b"From: =?idna?q?=FF?= <mallory@example.net>\r\nTo: bob@example.com\r\n"
    b"Date: Mon, 6 Jan 2025 09:00:00 +0000\r\nMessage-ID: <idna@example.net>\r\n"
    b"Subject: =?idna?q?=FF?=\r\n"
    b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain; charset=punycode\r\n\r\nbcher-kva\r\n"
    b"--b\r\nContent-Type: application/pdf\r\n"
    b"Content-Disposition: attachment; filename*=idna''%FF.pdf\r\n\r\n%PDF-1.4\r\n--b--\r\n"
)


def test_domain_name_codecs_as_charsets_on_the_server_and_in_a_file(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    writer = MaildirWriter(dovecot.maildir(BOB), dovecot.mail_owner)
    date = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    writer.write(
        "Idna",
        [
            SeedMessage(date=date, subject="fine", message_id="<fine@example.net>"),
            SeedMessage(date=date, subject=None, message_id="<idna@example.net>", raw=IDNA_MESSAGE),
        ],
    )
    token = dovecot.mint_token(BOB)
    for args in (["list"], ["list", "--all"], ["search", "--since", "2025-01-01"]):
        result = run([*args, "Idna", "--json", *conn(dovecot, BOB)], token)
        assert result.returncode == 0, result.stderr
        assert sorted(row["subject"] for row in json_lines(result.stdout)) == ["fine", "ÿ"], args
    source = tmp_path / "idna.eml"
    source.write_bytes(IDNA_MESSAGE)
    for where, connection in (("2", ["Idna", *conn(dovecot, BOB)]), (str(source), [])):
        shown = run(["show", where, *connection, "--json"], token)
        assert shown.returncode == 0, shown.stderr
        view = json.loads(shown.stdout)
        assert (view["subject"], view["text"]) == ("ÿ", "bcher-kva")
        out = tmp_path / f"out-{len(connection)}"
        saved = run(["save", where, *connection, "--dir", str(out)], token)
        assert saved.returncode == 0, saved.stderr
        assert (out / "ÿ.pdf").read_bytes() == b"%PDF-1.4"


def test_save_part_by_number_names_the_text_and_says_which_parts_there_are(
    dovecot: DovecotServer, testbed: Testbed, token: str, tmp_path: Path
) -> None:
    """`save 63 --part 1` named the text attachment-2.txt; `--part 9` said `no part '9'
    (attachments: 2)`, naming none of the parts there are."""
    msg = testbed.tagged("inline-image")
    uid = str(msg.uid)
    text = run(["save", uid, "--part", "1.1", "--dir", str(tmp_path), *conn(dovecot)], token)
    assert (text.returncode, text.stderr) == (0, "")
    assert text.stdout == f"{tmp_path / f'message-{uid}-part-1.1.txt'}\n"
    assert Path(text.stdout.strip()).read_text() == "See our logo below.\n"
    missing = run(["save", uid, "--part", "9", "--dir", str(tmp_path), *conn(dovecot)], token)
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == (
        f"o365imap: message {uid} has no part 9: its parts are 1.1 (text/plain), "
        "1.2.1 (text/html), 1.2.2 (logo.png), 2 (terms.pdf).\n"
    )
