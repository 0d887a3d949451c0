"""winmail.dat: recognised by type or name, unpacked with tnefparse, kept when unreadable."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from o365imap.messages import save_eml_parts
from o365imap.mime.tnef import TnefError, is_tnef, unpack_tnef
from o365imap.sandbox.tnefbuild import build_tnef


def test_recognised_by_type_or_by_outlooks_name() -> None:
    assert is_tnef("application/ms-tnef", None)
    assert is_tnef("application/vnd.ms-tnef", "x.bin")
    assert is_tnef("application/octet-stream", "WINMAIL.DAT")
    assert not is_tnef("application/octet-stream", "winmail.dat.txt")


def test_files_come_out_with_long_unicode_names_and_guessed_types() -> None:
    carried = [("Résumé final.docx", b"PK\x03\x04data"), ("notes.txt", b"hello\r\n"), ("x", b"")]
    files = unpack_tnef(build_tnef(carried))
    assert [(f.name, f.data) for f in files] == carried
    assert files[1].content_type == "text/plain"
    assert files[2].content_type == "application/octet-stream"


@pytest.mark.parametrize("data", [b"", b"not tnef at all", b"\x78\x9f\x3e\x22"])
def test_garbage_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(TnefError, match="not readable TNEF"):
        unpack_tnef(data)


@pytest.mark.parametrize("cut", [30, 4000, -1])
def test_a_cut_stream_is_refused_not_half_unpacked(cut: int) -> None:
    # tnefparse alone would hand back a.txt whole and b.pdf short, and drop c.bin.
    whole = build_tnef([("a.txt", b"a" * 1000), ("b.pdf", b"b" * 5000), ("c.bin", b"c" * 3000)])
    with pytest.raises(TnefError, match="cut short"):
        unpack_tnef(whole[:cut])


def test_a_damaged_attribute_is_refused_and_trailing_junk_allowed() -> None:
    whole = bytearray(build_tnef([("a.txt", b"a" * 100)]))
    assert [f.name for f in unpack_tnef(bytes(whole) + b"junk!")] == ["a.txt"]
    whole[-200] ^= 0xFF  # inside the attachment's data
    with pytest.raises(TnefError, match="checksum"):
        unpack_tnef(bytes(whole))


def _message(payload: bytes) -> bytes:
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    return (
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="t"\r\n\r\n'
        b"--t\r\nContent-Type: text/plain\r\n\r\nRich text follows.\r\n--t\r\n"
        b'Content-Type: application/ms-tnef; name="winmail.dat"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + b"--t--\r\n"
    )


def test_unreadable_winmail_dat_is_saved_as_it_is(tmp_path: Path) -> None:
    source = tmp_path / "m.eml"
    source.write_bytes(_message(b"\x78\x9f\x3e\x22 truncated"))
    out = tmp_path / "out"
    out.mkdir()
    saved = save_eml_parts(source, out)
    assert [s.filename for s in saved] == ["winmail.dat"]
    assert (out / "winmail.dat").read_bytes() == b"\x78\x9f\x3e\x22 truncated"


def test_cut_winmail_dat_is_saved_whole_not_as_short_files(tmp_path: Path) -> None:
    whole = build_tnef([("a.txt", b"a" * 1000), ("b.pdf", b"b" * 5000), ("c.bin", b"c" * 3000)])
    source = tmp_path / "m.eml"
    source.write_bytes(_message(whole[:4000]))
    out = tmp_path / "out"
    out.mkdir()
    assert [s.filename for s in save_eml_parts(source, out)] == ["winmail.dat"]
    assert (out / "winmail.dat").read_bytes() == whole[:4000]


def test_tnef_without_files_is_kept(tmp_path: Path) -> None:
    source = tmp_path / "m.eml"
    empty = build_tnef([])
    source.write_bytes(_message(empty))
    out = tmp_path / "out"
    out.mkdir()
    assert [s.filename for s in save_eml_parts(source, out)] == ["winmail.dat"]
    assert (out / "winmail.dat").read_bytes() == empty


def test_unpacked_names_are_made_safe(tmp_path: Path) -> None:
    source = tmp_path / "m.eml"
    source.write_bytes(_message(build_tnef([("../../evil.txt", b"x"), ("CON", b"y")])))
    out = tmp_path / "out"
    out.mkdir()
    saved = save_eml_parts(source, out)
    assert [s.filename for s in saved] == ["evil.txt", "_CON"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.eml", "out"]
