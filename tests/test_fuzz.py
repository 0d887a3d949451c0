"""The fuzz targets of fuzz/ as properties of the normal suite, and a short atheris run of each.

fuzz/fuzz_targets.py says what each target holds the code to: only the documented error
escapes (ProtocolError from the response parser; nothing from the decoders and the MIME parser),
and the same events whole and cut. Here hypothesis feeds it inputs shaped like real mailboxes:
listings of many senders with encoded words in most names (test_parse_properties' envelopes),
the project's fixtures (fuzz/make_corpus.py's seeds), each mutated as a broken server or
mailer would (bytes flipped, dropped, repeated, spliced, literal markers and encoded-word
delimiters put anywhere), and bytes of no shape at all; cut at random offsets.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from conftest import examples
from test_parse_properties import envelopes

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
sys.path.insert(0, str(FUZZ))

from fuzz_targets import TARGETS, check_imap, check_mime  # noqa: E402
from make_corpus import seeds  # noqa: E402

SEEDS = seeds()
SETTINGS = settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# What breaks parsers: literal markers and line ends, quotes and escapes, parentheses, NIL,
# encoded-word and RFC 2231 delimiters, boundaries, modified UTF-7 shifts, bytes no text has.
TOKENS = [
    b"{5}\r\n", b"{0}\r\n", b"{99999}\r\n", b"{4294967296}\r\n", b"{2+}\r\n", b"\r\n", b"\n",
    b"\r", b'"', b"\\", b"\\\"", b"(", b")", b"((((", b"))", b"NIL", b" ", b"* ", b"A1 OK ",
    b"=?", b"?=", b"=?utf-8?B?", b"=?utf-8?Q?", b"=?gbk?b?", b"=?x-unknown?q?=FF", b"*0*=",
    b"*1*=", b"''", b"%", b"%FF", b";", b"=", b"--", b"--\r\n", b"\r\n--b\r\n",
    b"Content-Type: multipart/mixed; boundary=b\r\n", b"Content-Transfer-Encoding: base64\r\n",
    b"\r\n\r\n", b"&", b"&-", b"&AAA-", b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80", b"9" * 30,
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, base: bytes, others: list[bytes]) -> bytes:
    """``base`` with 1 to 8 edits of the kinds real breakage makes."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data)))
        end = draw(st.integers(at, min(len(data), at + 64)))
        edit = draw(st.sampled_from(["flip", "insert", "delete", "repeat", "splice"]))
        if edit == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif edit == "insert":
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif edit == "delete":
            del data[at:end]
        elif edit == "repeat":
            data[at:at] = data[at:end] * draw(st.integers(1, 3))
        elif edit == "splice" and others:
            other = draw(st.sampled_from(others))
            start = draw(st.integers(0, len(other)))
            data[at:end] = other[start : start + draw(st.integers(0, 200))]
    return bytes(data)


@st.composite
def inputs(draw: st.DrawFn, target: str) -> bytes:
    """A seed of ``target``, mutated or not, or arbitrary bytes."""
    kind = draw(st.sampled_from(["seed", "mutated", "mutated", "mutated", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=400))
    base = draw(st.sampled_from(SEEDS[target]))
    return base if kind == "seed" else draw(mutated(base, SEEDS[target]))


def cuts_for(data: bytes) -> st.SearchStrategy[list[int]]:
    """Up to 30 offsets at which to cut ``data``."""
    if len(data) < 2:
        return st.just([])
    return st.lists(st.integers(1, len(data) - 1), max_size=30)


@SETTINGS
@pytest.mark.parametrize("target", sorted(TARGETS))
@given(data=st.data())
def test_only_the_documented_error_escapes_and_cuts_change_nothing(
    target: str, data: st.DataObject
) -> None:
    raw = data.draw(inputs(target), label="input")
    TARGETS[target](raw, data.draw(cuts_for(raw), label="cuts"))


@st.composite
def listings(draw: st.DrawFn) -> bytes:
    """A page of a listing: FETCH lines of many distinct senders, most names encoded words."""
    lines = [b"* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"]
    for seq in range(1, draw(st.integers(1, 6)) + 1):
        envelope, _ = draw(envelopes())
        lines.append(
            b"* %d FETCH (UID %d FLAGS (\\Seen) RFC822.SIZE %d INTERNALDATE"
            b' "17-Jul-1996 02:44:25 -0700" ENVELOPE %s)\r\n'
            % (seq, 1000 + seq, draw(st.integers(0, 10**8)), envelope)
        )
    lines.append(b"A7 OK FETCH done\r\n")
    return b"".join(lines)


@settings(SETTINGS, max_examples=examples(60))
@given(data=st.data())
def test_a_broken_listing_raises_only_protocol_error_however_cut(data: st.DataObject) -> None:
    stream = data.draw(listings(), label="listing")
    if data.draw(st.booleans(), label="broken"):
        stream = data.draw(mutated(stream, SEEDS["imap"]), label="broken listing")
    note(f"stream = {stream!r}")
    check_imap(stream, data.draw(cuts_for(stream), label="cuts"))


HEADER_NAMES = [b"From", b"To", b"Subject", b"Content-Type", b"Content-Disposition", b"Date"]


@SETTINGS
@given(data=st.data())
def test_a_message_with_broken_headers_parses_alike_however_cut(data: st.DataObject) -> None:
    """A sample message with header lines added (encoded words of many senders, half-written
    parameters, no colon, no value) and then mutated."""
    message = data.draw(st.sampled_from(SEEDS["mime"]), label="message")
    values = SEEDS["text"]
    extra = b""
    for _ in range(data.draw(st.integers(0, 6), label="headers")):
        name = data.draw(st.sampled_from(HEADER_NAMES))
        value = data.draw(mutated(data.draw(st.sampled_from(values)), values))
        extra += name + data.draw(st.sampled_from([b": ", b":", b" ", b""])) + value + b"\r\n"
    raw = data.draw(mutated(extra + message, SEEDS["mime"]), label="broken message")
    check_mime(raw, data.draw(cuts_for(raw), label="cuts"))


# The coverage-guided harness itself, for a few seconds per target, so that it keeps working:
# a finding exits 1 with the input and the traceback on stderr.
SHORT_RUNS = {"imap": 3000, "text": 5000, "dates": 5000, "utf7": 5000, "mime": 800}


@pytest.mark.slow
@pytest.mark.parametrize("target", sorted(SHORT_RUNS))
def test_the_atheris_harness_runs_each_target(target: str, tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    seeds_dir = tmp_path / "seeds"
    subprocess.run(
        [sys.executable, str(FUZZ / "make_corpus.py"), str(seeds_dir)], check=True, timeout=120
    )
    found = tmp_path / "found"
    found.mkdir()
    command = [sys.executable, str(FUZZ / "harness.py"), target, f"-runs={SHORT_RUNS[target]}"]
    command += [f"-artifact_prefix={tmp_path}/", str(found), str(seeds_dir / target)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    assert f"Done {SHORT_RUNS[target]} runs" in result.stderr
