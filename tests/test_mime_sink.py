"""Atomic, contained file writing: nothing partial under the final name, nothing outside."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import mime_samples as samples
from o365imap.errors import UsageError
from o365imap.mime.names import StorageError, UnsafeFileName, safe_filename
from o365imap.mime.parser import MimeParser, PartData, PartEnd, PartStart
from o365imap.mime.sink import AtomicFile, SavedFile, remove_stale_temporaries


def listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_commit_writes_the_bytes_with_size_and_hash(tmp_path: Path) -> None:
    with AtomicFile(tmp_path, "report.pdf") as out:
        out.write(b"%PDF-")
        out.write(memoryview(b"1.4 body"))
        out.write(b"")
    saved = out.result
    assert saved == SavedFile(
        tmp_path / "report.pdf",
        "report.pdf",
        13,
        hashlib.sha256(b"%PDF-1.4 body").hexdigest(),
    )
    assert (tmp_path / "report.pdf").read_bytes() == b"%PDF-1.4 body"
    assert listing(tmp_path) == ["report.pdf"]


def test_large_writes_go_through_unbuffered(tmp_path: Path) -> None:
    blob = os.urandom(3 * 1024 * 1024 + 17)
    with AtomicFile(tmp_path, "big.bin") as out:
        for i in range(0, len(blob), 100_000):
            out.write(blob[i : i + 100_000])
    assert (tmp_path / "big.bin").read_bytes() == blob
    assert out.result.sha256 == hashlib.sha256(blob).hexdigest()


def test_modes_private_while_writing_then_0644_less_umask(tmp_path: Path) -> None:
    with AtomicFile(tmp_path, "a.txt") as out:
        out.write(b"x")
        (temp,) = listing(tmp_path)
        assert temp == out.temp_name and temp.startswith(".") and temp.endswith(".o365imap-part")
        assert stat.S_IMODE(os.stat(tmp_path / temp).st_mode) == 0o600
    mode = stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode)
    assert mode == 0o644 & ~current_umask()


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_an_interrupted_write_leaves_nothing(tmp_path: Path, error: type[BaseException]) -> None:
    with pytest.raises(error), AtomicFile(tmp_path, "movie.mp4") as out:
        out.write(b"x" * 1_000_000)
        raise error("connection lost")
    assert listing(tmp_path) == []


def test_an_interrupted_parse_and_save_leaves_nothing(tmp_path: Path) -> None:
    """The real shape: events flow into a file and the source dies half-way."""
    chunks = samples.iter_large_message(2_000_000)
    parser = MimeParser()

    def source() -> list[bytes]:
        taken = []
        for i, chunk in enumerate(chunks):
            if i == 10:
                raise ConnectionResetError("peer went away")
            taken.append(chunk)
        return taken

    with pytest.raises(ConnectionResetError), AtomicFile(tmp_path, "big.bin") as out:
        for chunk in source():
            for event in parser.feed(chunk):
                if isinstance(event, PartData) and event.part == "2":
                    out.write(event.data)
    assert listing(tmp_path) == []


def test_abort_is_explicit_and_idempotent(tmp_path: Path) -> None:
    out = AtomicFile(tmp_path, "a.txt")
    out.open()
    out.write(b"data")
    out.abort()
    out.abort()
    assert listing(tmp_path) == []
    with pytest.raises(UsageError):
        out.write(b"more")
    with pytest.raises(UsageError):
        out.commit()
    with pytest.raises(UsageError):
        _ = out.result


def test_collisions_get_numbered_names(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_bytes(b"original")
    saved = []
    for text in (b"second", b"third"):
        with AtomicFile(tmp_path, "notes.txt") as out:
            out.write(text)
        saved.append(out.result.name)
    assert saved == ["notes (2).txt", "notes (3).txt"]
    assert (tmp_path / "notes.txt").read_bytes() == b"original"
    assert (tmp_path / "notes (3).txt").read_bytes() == b"third"


def test_overwrite_replaces(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_bytes(b"original")
    with AtomicFile(tmp_path, "notes.txt", overwrite=True) as out:
        out.write(b"new")
    assert out.result.name == "notes.txt"
    assert (tmp_path / "notes.txt").read_bytes() == b"new"
    assert listing(tmp_path) == ["notes.txt"]


def test_two_writers_of_one_name_never_clobber(tmp_path: Path) -> None:
    first = AtomicFile(tmp_path, "same.txt")
    second = AtomicFile(tmp_path, "same.txt")
    first.open()
    second.open()
    first.write(b"one")
    second.write(b"two")
    assert second.commit().name == "same.txt"
    assert first.commit().name == "same (2).txt"
    assert (tmp_path / "same.txt").read_bytes() == b"two"
    assert (tmp_path / "same (2).txt").read_bytes() == b"one"


def test_a_symlink_at_the_final_name_is_not_followed(tmp_path: Path) -> None:
    folder, outside = tmp_path / "folder", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    target = outside / "authorized_keys"
    target.write_bytes(b"keep me")
    os.symlink(target, folder / "invoice.pdf")
    with AtomicFile(folder, "invoice.pdf") as out:
        out.write(b"attacker bytes")
    assert out.result.name == "invoice (2).pdf"
    assert target.read_bytes() == b"keep me"
    with AtomicFile(folder, "invoice.pdf", overwrite=True) as out:
        out.write(b"attacker bytes")
    assert target.read_bytes() == b"keep me"
    assert not os.path.islink(folder / "invoice.pdf")
    assert (folder / "invoice.pdf").read_bytes() == b"attacker bytes"


def test_a_dangling_symlink_is_not_followed_either(tmp_path: Path) -> None:
    os.symlink(tmp_path / "created-elsewhere", tmp_path / "a.txt")
    with AtomicFile(tmp_path, "a.txt") as out:
        out.write(b"x")
    assert out.result.name == "a (2).txt"
    assert not (tmp_path / "created-elsewhere").exists()


@pytest.mark.parametrize("bad", ["../escape.txt", "a/b.txt", "..", ".", "", "x\x00y", "a\\b"])
def test_names_that_could_escape_are_refused(tmp_path: Path, bad: str) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(UnsafeFileName):
        AtomicFile(folder, bad)
    assert listing(tmp_path) == ["folder"]
    assert listing(folder) == []


def test_a_folder_swapped_for_a_symlink_mid_way_is_refused(tmp_path: Path) -> None:
    folder, elsewhere = tmp_path / "downloads", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    with pytest.raises(StorageError), AtomicFile(folder, "a.txt") as out:
        out.write(b"data")
        os.rename(folder, tmp_path / "moved")
        os.symlink(elsewhere, folder)
    assert listing(elsewhere) == []
    assert listing(tmp_path / "moved") == []  # the temporary file went too


def test_a_missing_folder_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as caught:
        AtomicFile(tmp_path / "missing", "a.txt").open()
    assert isinstance(caught.value.__cause__, FileNotFoundError)


def test_a_file_system_without_hard_links_still_never_replaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    (tmp_path / "a.txt").write_bytes(b"original")
    with AtomicFile(tmp_path, "a.txt") as out:
        out.write(b"new")
    assert out.result.name == "a (2).txt"
    assert (tmp_path / "a.txt").read_bytes() == b"original"
    assert listing(tmp_path) == ["a (2).txt", "a.txt"]


# ---------------------------------------------------------------- parser + names + sink


def save_all(message: bytes, folder: Path) -> list[SavedFile]:
    """Every leaf part with a name or an attachment disposition, saved as the CLI will."""
    parser = MimeParser()
    saved: list[SavedFile] = []
    open_files: dict[str, AtomicFile] = {}
    index = 0
    for event in [*parser.feed(message), *parser.close()]:
        if isinstance(event, PartStart):
            if event.is_multipart or event.is_message:
                continue
            if event.filename is None and event.disposition != "attachment":
                continue
            index += 1
            name = safe_filename(
                event.filename,
                content_type=event.content_type,
                index=index,
                kind=event.disposition or "",
            )
            out = AtomicFile(folder, name)
            out.open()
            open_files[event.part] = out
        elif isinstance(event, PartData) and event.part in open_files:
            open_files[event.part].write(event.data)
        elif isinstance(event, PartEnd) and event.part in open_files:
            saved.append(open_files.pop(event.part).commit())
    return saved


def test_hostile_names_are_saved_inside_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    saved = save_all(samples.hostile_names(), folder)
    assert len(saved) == samples.HOSTILE_COUNT
    assert listing(tmp_path) == ["inbox"]
    for item in saved:
        assert item.path.parent == folder
        assert os.path.realpath(item.path).startswith(os.path.realpath(folder) + os.sep)
    assert [s.name for s in saved][:8] == [
        "passwd",
        "boot.ini",
        "path",
        "y.txt",
        "_con.txt",
        "txt.exe",
        "a b.txt",
        "attachment-8.bin",
    ]
    assert (folder / "passwd").read_bytes() == b"payload 0\r\n"


def test_duplicate_names_get_numbered(tmp_path: Path) -> None:
    saved = save_all(samples.duplicate_names_no_disposition(), tmp_path)
    assert [s.name for s in saved] == ["notes.txt", "notes (2).txt"]
    assert (tmp_path / "notes (2).txt").read_bytes() == b"second draft of the notes\n"


def test_nameless_rfc822_and_named_parts(tmp_path: Path) -> None:
    saved = save_all(samples.message_rfc822_subject_with_encoded_crlf(), tmp_path)
    # message/rfc822 is not saved by save_all (is_message); its text part has no name
    assert [s.name for s in saved] == ["problems.txt", "status.txt"]


def test_large_attachment_streams_to_disk_with_the_right_hash(tmp_path: Path) -> None:
    size = 8_000_000
    parser = MimeParser()
    out = AtomicFile(tmp_path, "big.bin")
    out.open()
    for chunk in samples.iter_large_message(size):
        for event in parser.feed(chunk):
            if isinstance(event, PartData) and event.part == "2":
                out.write(event.data)
    for event in parser.close():
        if isinstance(event, PartData) and event.part == "2":
            out.write(event.data)
    saved = out.commit()
    assert saved.size == size
    assert saved.sha256 == samples.large_payload_sha256(size)


# ---------------------------------------------------------------- leftovers of killed writers

_WRITER = """
import sys, time
from o365imap.mime.sink import AtomicFile
out = AtomicFile(sys.argv[1], "big.bin")
out.open()
out.write(b"x" * 300_000)  # past the buffer: on disk
print(out.temp_name, flush=True)
time.sleep(600)
"""


@contextlib.contextmanager
def writer_in(folder: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """Another process writing big.bin into ``folder``, stopped half-way; its temporary file."""
    with subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(folder)], stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            temp = folder / proc.stdout.readline().strip()
            assert temp.stat().st_size == 300_000
            yield proc, temp
        finally:
            proc.kill()


def age(path: Path, seconds: float) -> None:
    """Make ``path`` look unchanged for ``seconds``."""
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def test_a_killed_writers_leftover_goes_a_live_writers_file_stays(tmp_path: Path) -> None:
    with writer_in(tmp_path) as (live, temp):
        age(temp, 3600)  # old, but its writer holds the lock: alive
        assert remove_stale_temporaries(tmp_path) == []
        live.send_signal(signal.SIGKILL)
        live.wait()
    age(temp, 30)  # the writer is dead, but the file changed too recently to be sure
    assert remove_stale_temporaries(tmp_path) == []
    age(temp, 61)
    assert remove_stale_temporaries(tmp_path) == [temp.name]
    assert listing(tmp_path) == []


def test_the_first_file_saved_in_a_folder_removes_the_leftovers(tmp_path: Path) -> None:
    with writer_in(tmp_path) as (_killed, temp):
        pass
    age(temp, 120)
    with AtomicFile(tmp_path, "next.txt") as out:
        out.write(b"x")
    assert listing(tmp_path) == ["next.txt"]


def test_only_regular_temporary_files_of_the_pattern_are_removed(tmp_path: Path) -> None:
    kept = [
        ".0123456789abcdef.o365imap-part.bak",
        ".0123456789ABCDEF.o365imap-part",
        "0123456789abcdef.o365imap-part",
        ".report.pdf.o365imap-part",
        ".0123456789abcdef.part",
    ]
    for name in kept:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / ".aaaaaaaaaaaaaaaa.o365imap-part").mkdir()
    os.mkfifo(tmp_path / ".bbbbbbbbbbbbbbbb.o365imap-part")
    target = tmp_path / "target.txt"
    target.write_bytes(b"kept")
    os.symlink(target, tmp_path / ".cccccccccccccccc.o365imap-part")
    (tmp_path / ".dddddddddddddddd.o365imap-part").write_bytes(b"stale")
    for path in tmp_path.iterdir():
        age(path, 7200)
    before = listing(tmp_path)
    assert remove_stale_temporaries(tmp_path) == [".dddddddddddddddd.o365imap-part"]
    assert listing(tmp_path) == [n for n in before if n != ".dddddddddddddddd.o365imap-part"]
    assert target.read_bytes() == b"kept"
    assert remove_stale_temporaries(tmp_path / "missing") == []
