"""Attachment file names: decoded from real-world header shapes, made safe, numbered."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mime_samples as samples
from conftest import examples
from o365imap.mime.names import (
    MAX_NAME_BYTES,
    UnsafeFileName,
    extension_for,
    iter_numbered_names,
    safe_filename,
    split_extension,
    unique_path,
)
from o365imap.mime.parser import MimeParser, PartStart, split_header_params
from o365imap.protocol.text import decode_2047, decode_params


def safe(name: str | None, content_type: str = "application/octet-stream", index: int = 1) -> str:
    return safe_filename(name, content_type=content_type, index=index, kind="attachment")


# ---------------------------------------------------------------- hostile names


@pytest.mark.parametrize(
    ("hostile", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("/abs/path", "path"),
        ("C:\\x\\y.txt", "y.txt"),
        ("dir/", "dir"),
        ("foo/..", "foo"),
        ("con.txt", "_con.txt"),
        ("CON", "_CON"),
        ("Aux.", "_Aux"),
        ("nul.tar.gz", "_nul.tar.gz"),
        ("LPT9.log", "_LPT9.log"),
        ("com¹.txt", "_com¹.txt"),
        ("conference.txt", "conference.txt"),
        ("COM10.txt", "COM10.txt"),
        ("a\x00b", "a b"),
        ("a\x00b.txt", "a b.txt"),
        ("\u202etxt.exe", "txt.exe"),  # RTL override: would display as "exe.txt"
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ("zero\u200bwidth\ufeff.txt", "zerowidth.txt"),
        ("line\u2028break.txt", "line break.txt"),
        ("tab\there.txt", "tab here.txt"),
        ("\x85next.txt", "next.txt"),
        (" .hidden. ", "hidden"),
        ('a:b?c*<d>|".txt', "a_b_c__d___.txt"),
        ("e\u0301te\u0301.doc", "été.doc"),  # NFC
        ("report .pdf", "report.pdf"),
    ],
)
def test_hostile_names_are_made_safe(hostile: str, expected: str) -> None:
    assert safe(hostile) == expected


@pytest.mark.parametrize("dots", [".", "..", "...", ". .", " . . ", "/..", "../.."])
def test_names_that_are_only_dots_get_a_generated_name(dots: str) -> None:
    assert safe(dots, "application/pdf", 4) == "attachment-4.pdf"


def test_length_is_capped_keeping_the_extension() -> None:
    name = safe("x" * 1000 + ".pdf")
    assert len(name.encode()) == MAX_NAME_BYTES
    assert name.endswith("x.pdf")
    assert safe("x" * 1000) == "x" * MAX_NAME_BYTES


def test_length_cap_never_splits_a_character() -> None:
    name = safe("é" * 300 + ".txt")
    assert name.endswith(".txt")
    assert len(name.encode()) <= MAX_NAME_BYTES
    assert set(name[:-4]) == {"é"}
    name = safe("猫" * 200 + ".tar.gz")
    assert name.endswith("猫.tar.gz") and len(name.encode()) <= MAX_NAME_BYTES


# ---------------------------------------------------------------- generated names


@pytest.mark.parametrize(
    ("content_type", "kind", "index", "expected"),
    [
        ("application/pdf", "attachment", 2, "attachment-2.pdf"),
        ("image/png", "inline", 1, "image-1.png"),
        ("image/jpeg", "attachment", 5, "image-5.jpg"),
        ("message/rfc822", "attachment", 3, "message-3.eml"),
        ("message/rfc822", "", 3, "message-3.eml"),
        ("application/octet-stream", "", 4, "part-4.bin"),
        ("text/calendar", "attachment", 1, "attachment-1.ics"),
        ("text/plain; charset=utf-8", "inline", 2, "part-2.txt"),
        ("application/ms-tnef", "attachment", 6, "winmail.dat"),
        ("application/vnd.ms-tnef", "", 6, "winmail.dat"),
        ("application/x-unheard-of", "attachment", 7, "attachment-7.bin"),
        ("APPLICATION/PDF", "Attachment", 8, "attachment-8.pdf"),
    ],
)
def test_parts_without_a_name_get_one_from_type_and_position(
    content_type: str, kind: str, index: int, expected: str
) -> None:
    assert safe_filename(None, content_type=content_type, index=index, kind=kind) == expected
    assert safe_filename("", content_type=content_type, index=index, kind=kind) == expected


def test_a_tnef_part_with_a_name_keeps_it() -> None:
    name = safe_filename("WINMAIL.DAT", content_type="application/ms-tnef", index=1, kind="")
    assert name == "WINMAIL.DAT"


@pytest.mark.parametrize(
    ("content_type", "extension"),
    [("application/pdf", ".pdf"), ("text/html", ".html"), ("video/quicktime", ".mov")],
)
def test_extension_for(content_type: str, extension: str) -> None:
    assert extension_for(content_type) == extension


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("report.pdf", ("report", ".pdf")),
        ("backup.tar.gz", ("backup", ".tar.gz")),
        ("README", ("README", "")),
        (".tar.gz", (".tar", ".gz")),
        ("notes.from the meeting", ("notes.from the meeting", "")),
        ("trailing.", ("trailing.", "")),
    ],
)
def test_split_extension(name: str, parts: tuple[str, str]) -> None:
    assert split_extension(name) == parts


# ---------------------------------------------------------------- the whole chain


def _name_of(content_type: bytes, disposition: bytes = b"") -> str | None:
    """What the parser does with two header values: split, decode_params, pick the name."""
    _main, pairs = split_header_params(content_type)
    _dsp, dsp_pairs = split_header_params(disposition)
    return decode_params(dsp_pairs).get("filename") or decode_params(pairs).get("name")


@pytest.mark.parametrize(
    ("content_type", "disposition", "decoded"),
    [
        (  # RFC 2231 continuations with a charset, split mid-character between pieces
            b"text/plain",
            b"attachment; filename*0*=utf-8''%E3%81%95%E3; filename*1*=%81%97.txt",
            "さし.txt",
        ),
        (  # RFC 2047 in a quoted name (not allowed; what Outlook sends)
            b'application/pdf; name="=?utf-8?B?0L7RgtGH0ZHRgi5wZGY=?="',
            b"",
            "отчёт.pdf",
        ),
        (  # raw 8-bit UTF-8, unquoted
            "text/plain; name=naïve.txt".encode(),
            b"",
            "naïve.txt",
        ),
        (  # raw 8-bit Windows-1252, quoted
            b'text/plain; name="\xdcbersicht.txt"',
            b"",
            "Übersicht.txt",
        ),
        (  # ISO-2022-JP with a byte it cannot have: replaced, not fatal
            b"application/octet-stream; name*=iso-2022-jp'ja'01%20Canci%8an.mp3",
            b"attachment",
            "01 Canci\ufffdn.mp3",
        ),
        (  # upper-case parameter name, unquoted
            b"application/x-gzip; NAME=blah.gz",
            b"",
            "blah.gz",
        ),
        (  # a quoted Windows path keeps its backslashes (only \\ and \" are unescaped)
            b'application/octet-stream; name="C:\\Temp\\a.txt"',
            b"",
            "C:\\Temp\\a.txt",
        ),
    ],
)
def test_real_world_name_shapes_decode(
    content_type: bytes, disposition: bytes, decoded: str
) -> None:
    assert _name_of(content_type, disposition) == decoded


def test_otrs_subject_with_encoded_crlf_makes_a_clean_name() -> None:
    raw = (
        b"=?UTF-8?Q?=0D=0A=0D=0A=0D=0AReport \r\n draft =0Afinal =0Dversion "
        b"=0D=0Asummary=0D=0A=0D=0A=0D=0A?="
    )
    subject = decode_2047(raw)
    assert subject == samples.OTRS_SUBJECT
    name = safe_filename(subject + ".eml", content_type="message/rfc822", index=3, kind="")
    assert name == "Report  draft final version summary.eml"


def _starts(message: bytes) -> list[PartStart]:
    parser = MimeParser()
    events = parser.feed(message) + parser.close()
    return [e for e in events if isinstance(e, PartStart)]


@pytest.mark.parametrize(
    ("sample", "part", "expected"),
    [
        ("rfc2231_continuation_plus_rfc2047_name", "1", samples.LONG_JAPANESE_NAME),
        ("rfc2231_iso2022jp_name_in_content_type_only", "2", "02 Cancion Vieja\ufffd. Live.mp3"),
        ("raw_8bit_filename", "2", "résumé.txt"),
        ("eight_bit_headers", "2", "Übersicht März.csv"),
        ("single_part_attachment_only", "1", "backup.gz"),
        ("nested_message_rfc822_with_pdf", "2.2", "draft.pdf"),
        ("same_boundary_inner_and_outer", "2", "graf.gif"),
        ("inner_boundary_prefix_of_outer", "2", "EMBLEM.png"),
    ],
)
def test_names_from_whole_messages(sample: str, part: str, expected: str) -> None:
    starts = {s.part: s for s in _starts(samples.ALL_SAMPLES[sample]())}
    start = starts[part]
    assert start.filename is not None
    assert safe_filename(
        start.filename, content_type=start.content_type, index=1, kind=start.disposition or ""
    ) == unicodedata.normalize("NFC", expected)


def test_rfc2047_name_equals_rfc2231_filename_in_the_long_japanese_sample() -> None:
    (start,) = [
        s for s in _starts(samples.rfc2231_continuation_plus_rfc2047_name()) if s.part == "1"
    ]
    assert start.params["name"] == start.disposition_params["filename"]


def test_hostile_sample_every_name_is_one_safe_component() -> None:
    starts = [s for s in _starts(samples.hostile_names()) if not s.is_multipart]
    names = [
        safe_filename(s.filename, content_type=s.content_type, index=i + 1, kind="attachment")
        for i, s in enumerate(starts)
    ]
    assert names[:8] == [
        "passwd",
        "boot.ini",
        "path",
        "y.txt",
        "_con.txt",
        "txt.exe",
        "a b.txt",
        "attachment-8.bin",
    ]
    assert names[8].endswith(".pdf") and len(names[8].encode()) == MAX_NAME_BYTES
    assert len(names) == samples.HOSTILE_COUNT


# ---------------------------------------------------------------- property


_REAL_WORLD_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("./\\: \t\r\n\x00\u202e\u200b\u0301ée猫CONLPT1aux")),
        st.characters(),
    ),
    max_size=300,
)


@settings(max_examples=examples(500))
@given(name=_REAL_WORLD_TEXT, index=st.integers(1, 10_000))
def test_any_text_gives_one_safe_component(name: str, index: int) -> None:
    result = safe(name, "application/pdf", index)
    assert result
    assert len(result.encode("utf-8")) <= MAX_NAME_BYTES
    assert "/" not in result and "\\" not in result
    assert result not in (".", "..")
    assert result == result.strip(" .")
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in result)
    assert result.split(".")[0].rstrip(" ").upper() not in {"CON", "PRN", "AUX", "NUL"}
    assert unicodedata.normalize("NFC", result) == result
    assert safe(result, "application/pdf", index) == result  # idempotent


# ---------------------------------------------------------------- numbering


def test_iter_numbered_names() -> None:
    names = iter_numbered_names("report.pdf")
    assert [next(names) for _ in range(4)] == [
        "report.pdf",
        "report (2).pdf",
        "report (3).pdf",
        "report (4).pdf",
    ]
    names = iter_numbered_names("backup.tar.gz")
    assert [next(names) for _ in range(2)] == ["backup.tar.gz", "backup (2).tar.gz"]
    names = iter_numbered_names("README")
    assert [next(names) for _ in range(2)] == ["README", "README (2)"]


def test_numbered_long_names_stay_within_the_limit() -> None:
    name = safe("y" * 1000 + ".docx")
    names = iter_numbered_names(name)
    next(names)
    second = next(names)
    assert second.endswith(" (2).docx") and len(second.encode()) <= MAX_NAME_BYTES


def test_unique_path(tmp_path: Path) -> None:
    assert unique_path(tmp_path, "notes.txt") == tmp_path / "notes.txt"
    (tmp_path / "notes.txt").write_text("1")
    assert unique_path(tmp_path, "notes.txt") == tmp_path / "notes (2).txt"
    (tmp_path / "notes (2).txt").write_text("2")
    assert unique_path(tmp_path, "notes.txt") == tmp_path / "notes (3).txt"


def test_unique_path_counts_a_dangling_symlink_as_taken(tmp_path: Path) -> None:
    os.symlink(tmp_path / "nowhere", tmp_path / "a.txt")
    assert unique_path(tmp_path, "a.txt") == tmp_path / "a (2).txt"


@pytest.mark.parametrize("bad", ["", ".", "..", "../x", "a/b", "a\\b", "a\x00b", "x" * 300])
def test_unique_path_refuses_names_that_are_not_one_component(tmp_path: Path, bad: str) -> None:
    with pytest.raises(UnsafeFileName):
        unique_path(tmp_path, bad)


def test_a_continuation_index_of_5000_digits_still_gives_a_name() -> None:
    # int() refuses more than 4,300 digits: this header once made show and save fail
    disposition = b"attachment; filename*0=report; filename*" + b"9" * 5000 + b"*=.pdf"
    assert _name_of(b"application/pdf", disposition) == "report.pdf"
    message = b"Content-Type: application/pdf\r\nContent-Disposition: " + disposition + b"\r\n\r\nx"
    [start] = _starts(message)
    assert start.filename == "report.pdf"
