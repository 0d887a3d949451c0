"""The mbox and eml stores of ``o365imap export``: driven directly with canned messages, killed
at every step and resumed, read back by Python's ``mailbox``; then one real export of each
against Dovecot.

A "run" below does what the engine does with a store (recover, stored, flags, then batches of
incoming -> write -> commit, checkpoint, state saved); a crash is an exception at a chosen
step, after which the store is dropped without another call (its writes are system calls, so
what is on disk is what a kill -9 there would leave) and a new store resumes from the last
saved state.
"""

from __future__ import annotations

import json
import mailbox
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import ALICE
from o365imap import ImapClient
from o365imap.backup import ExportOptions, export_mailbox
from o365imap.backup._eml import EmlStore
from o365imap.backup._engine import Format, _retire
from o365imap.backup._mbox import MboxrdWriter, MboxStore, unquote
from o365imap.backup._state import FolderState, state_path
from o365imap.backup._store import FolderStore, MessageMeta
from o365imap.protocol.commands import SequenceSet
from o365imap.sandbox.dovecot import DovecotServer

UIDVALIDITY = 1733400000
LONG = b"".join(b"QUJD" * 19 + b"\r\n" for _ in range(3000))  # a 240 kB base64-like body

# uid -> the bytes the server sends
MESSAGES: dict[int, bytes] = {
    3: b"Return-Path: <ann@example.com>\r\nSubject: plain\r\n\r\nHello.\r\n",
    5: (
        b"Subject: From lines\r\n\r\nFrom here on\r\n>From quoted\r\n>>From twice\r\n"
        b"From\r\nFromage\r\n >From indented\r\nFrom the end"
    ),
    6: b"Subject: had a status\r\nStatus: RO\r\nX-Status: F\r\nX-O365imap-UID: 1/1\r\n\r\nbody\r\n",
    7: b"Subject: headers only\r\n",
    8: b"",
    9: b"Subject: bare\nLF only\n\nand a lone CR\r here\r\r\n",
    11: b"Subject: long\r\nContent-Transfer-Encoding: base64\r\n\r\n" + LONG,
    12: b"From: someone\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <m12@x>\r\n\r\nok\r\n",
}
FLAGS: dict[int, tuple[str, ...]] = {
    3: ("\\Seen",),
    5: ("\\Answered", "\\Flagged"),
    6: (),
    7: ("\\Draft", "\\Seen"),
    8: ("\\Deleted",),
    9: ("$Forwarded", "\\Seen"),
    11: (),
    12: ("\\Flagged", "$Junk"),
}
DATE = {uid: datetime(2024, 5, uid, 9, 30, tzinfo=UTC) for uid in MESSAGES}


class Crash(Exception):
    """A kill -9 at a step."""


def meta(uid: int, flags: dict[int, tuple[str, ...]] = FLAGS) -> MessageMeta:
    return MessageMeta(uid, flags[uid], DATE[uid], len(MESSAGES[uid]))


# -- the formats, as the tests see them ----------------------------------------------------


def open_store(fmt: str, root: Path) -> FolderStore:
    path = root / "Projects" / "Alpha"
    return MboxStore(path, UIDVALIDITY) if fmt == "mbox" else EmlStore(path, UIDVALIDITY)


def mbox_expected(raw: bytes) -> bytes:
    """What a reader that unquotes gets of ``raw``: LF ends, the message's own Status,
    X-Status and X-O365imap-UID headers gone, a line end at the end."""
    data = raw.replace(b"\r\n", b"\n")
    head, sep, body = data.partition(b"\n\n")
    if not sep:
        head, body = data, b""
    lines = re.sub(rb"(?im)^(status|x-status|x-o365imap-uid):[^\n]*\n?", b"", head + b"\n")
    data = lines[:-1] + sep + body
    return data if data.endswith(b"\n") else data + b"\n"


def read_mbox(
    file: Path, uidvalidity: int = UIDVALIDITY
) -> dict[int, list[tuple[bytes, set[str]]]]:
    """uid -> every copy of it in the mbox: (message as a reader gets it, flag letters)."""
    found: dict[int, list[tuple[bytes, set[str]]]] = {}
    box = mailbox.mbox(file, create=False)
    try:
        for key in box.iterkeys():
            message = box[key]
            ours = re.match(r"(\d+)/(\d+); size=(\d+)", message["X-O365imap-UID"])
            assert ours is not None and int(ours.group(1)) == uidvalidity
            data = box.get_bytes(key)
            # Status, X-Status when a flag needs it, X-O365imap-UID: ours, at the top.
            head = re.match(rb"Status: [RO]+\n(X-Status: [AFTD]+\n)?X-O365imap-UID: [^\n]*\n", data)
            assert head is not None
            message_bytes = unquote(data[head.end() :])
            found.setdefault(int(ours.group(2)), []).append(
                (message_bytes, set(message.get_flags()))
            )
    finally:
        box.close()
    return found


def letters(flags: tuple[str, ...]) -> set[str]:
    table = {"\\Seen": "R", "\\Answered": "A", "\\Flagged": "F", "\\Draft": "T", "\\Deleted": "D"}
    return {"O"} | {table[f] for f in flags if f in table}


def check_mbox(root: Path, uids: set[int], flags: dict[int, tuple[str, ...]] = FLAGS) -> None:
    found = read_mbox(root / "Projects" / "Alpha.mbox")
    assert set(found) == uids
    for uid, copies in found.items():
        assert len(copies) == 1, f"uid {uid} stored {len(copies)} times"
        data, got = copies[0]
        assert data == mbox_expected(MESSAGES[uid]), uid
        assert got == letters(flags[uid]), uid


def check_eml(root: Path, uids: set[int], flags: dict[int, tuple[str, ...]] = FLAGS) -> None:
    folder = root / "Projects" / "Alpha"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([f"{uid}.eml" for uid in uids] + ["index.json"])  # nothing else
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    assert index["uidvalidity"] == UIDVALIDITY
    assert set(index["messages"]) == {str(uid) for uid in uids}
    for uid in uids:
        path = folder / f"{uid}.eml"
        assert path.read_bytes() == MESSAGES[uid]
        assert path.stat().st_mtime == DATE[uid].timestamp()
        entry = index["messages"][str(uid)]
        assert entry["file"] == f"{uid}.eml"
        assert set(entry["flags"]) == set(flags[uid])
        assert entry["size"] == len(MESSAGES[uid])
        assert datetime.fromisoformat(entry["internaldate"]) == DATE[uid]


def check(fmt: str, root: Path, uids: set[int], flags: dict[int, tuple[str, ...]] = FLAGS) -> None:
    (check_mbox if fmt == "mbox" else check_eml)(root, uids, flags)


# -- the engine's part, with crashes ---------------------------------------------------------


def run(
    fmt: str,
    root: Path,
    crash_at: int | None = None,
    *,
    server: dict[int, tuple[str, ...]] = FLAGS,
    mirror: bool = False,
    chunk: int = 7,
    batch: int = 3,
    between: Callable[[FolderStore, int], None] | None = None,
) -> int:
    """One export run of the canned folder; the number of steps it went through."""
    steps = 0

    def step() -> None:
        nonlocal steps
        steps += 1
        if steps == crash_at:
            raise Crash

    where = root / "state.json"
    state = FolderState.load(where) or FolderState("Projects/Alpha", fmt, "Projects/Alpha")
    state.uidvalidity = UIDVALIDITY
    store = open_store(fmt, root)
    try:
        store.recover(state)
        stored = dict(store.stored())
        for uid, have in stored.items():
            if uid in server and set(have.flags) != set(server[uid]):
                store.set_flags(uid, server[uid])
                step()
            elif uid not in server and mirror:
                store.remove(uid)
                step()
        missing = [uid for uid in sorted(server) if uid not in stored]
        for at in range(0, len(missing), batch):
            for uid in missing[at : at + batch]:
                incoming = store.incoming()
                data = MESSAGES[uid]
                for i in range(0, len(data), chunk):
                    incoming.write(data[i : i + chunk])
                    if i == chunk:
                        step()  # part of it written
                step()  # all of it written
                store.commit(incoming, meta(uid, server))
                if between is not None:
                    between(store, uid)
                step()  # committed, not checkpointed
            store.checkpoint(state)
            step()  # checkpointed, state not saved
            state.save(where)
        before = state.store
        store.checkpoint(state)
        step()
        if state.store != before or not where.exists():
            state.save(where)
    finally:
        store.close()  # nothing more is written: what is on disk stays as the crash left it
    return steps


FORMATS: list[Format] = ["mbox", "eml"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_run_stores_every_message_once(fmt: str, tmp_path: Path) -> None:
    run(fmt, tmp_path)
    check(fmt, tmp_path, set(MESSAGES))
    steps = run(fmt, tmp_path)  # a rerun finds everything there
    assert steps == 1
    check(fmt, tmp_path, set(MESSAGES))


@pytest.mark.parametrize("fmt", FORMATS)
def test_killed_at_every_step_then_rerun(fmt: str, tmp_path: Path) -> None:
    total = run(fmt, tmp_path / "clean")
    for crash_at in range(1, total):
        root = tmp_path / str(crash_at)
        with pytest.raises(Crash):
            run(fmt, root, crash_at)
        run(fmt, root)
        check(fmt, root, set(MESSAGES))


@pytest.mark.parametrize("fmt", FORMATS)
def test_killed_twice_in_a_row(fmt: str, tmp_path: Path) -> None:
    for first, second in [(2, 3), (5, 1), (9, 9), (14, 4), (20, 2)]:
        root = tmp_path / f"{first}-{second}"
        with pytest.raises(Crash):
            run(fmt, root, first)
        with pytest.raises(Crash):
            run(fmt, root, second)
        run(fmt, root)
        check(fmt, root, set(MESSAGES))


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_state_lost_keeps_what_is_whole(fmt: str, tmp_path: Path) -> None:
    # Killed after commits with no state saved (the first batch), or the state deleted: the
    # store finds its messages itself.
    with pytest.raises(Crash):
        run(fmt, tmp_path, 12)
    run(fmt, tmp_path)
    (tmp_path / "state.json").unlink()
    # Nothing fetched again; an mbox rebuilt from the file has lost the keywords (they were in
    # the state only): two flag updates put $Forwarded and $Junk back.
    assert run(fmt, tmp_path) == (3 if fmt == "mbox" else 1)
    check(fmt, tmp_path, set(MESSAGES))


def test_mbox_cut_in_the_middle_of_an_append(tmp_path: Path) -> None:
    # A kill -9 inside commit leaves a prefix of the entry: cut back on resume, with and
    # without a state.
    sizes: list[int] = []

    def record(store: FolderStore, uid: int) -> None:
        sizes.append((tmp_path / "x" / "Projects" / "Alpha.mbox").stat().st_size)

    run("mbox", tmp_path / "x", between=record)
    for lost_state in (False, True):
        for cut in [1, 5, 40, 80, 81, 120, 200, 1000, 5000, 100_000, 250_000]:
            root = tmp_path / f"{lost_state}-{cut}"
            crash = 12  # the second batch: its first message committed, a state saved before it
            with pytest.raises(Crash):
                run("mbox", root, crash)
            file = root / "Projects" / "Alpha.mbox"
            end = file.stat().st_size
            with open(file, "ab") as handle:  # part of the next entry, as a kill leaves it
                whole = (tmp_path / "x" / "Projects" / "Alpha.mbox").read_bytes()
                handle.write(whole[end : end + cut % max(1, len(whole) - end)])
            if lost_state:
                (root / "state.json").unlink(missing_ok=True)
            run("mbox", root)
            check_mbox(root, set(MESSAGES))


def test_mbox_rereads_what_python_writes_back(tmp_path: Path) -> None:
    # Python's mailbox is a reader here, not a writer; but the stored form must be one that
    # it and mutt parse: every message found, the From line ours.
    run("mbox", tmp_path)
    box = mailbox.mbox(tmp_path / "Projects" / "Alpha.mbox", create=False)
    froms = [box[key].get_from() for key in box.iterkeys()]
    assert len(froms) == len(MESSAGES)
    assert froms[0] == "ann@example.com Fri May  3 09:30:00 2024"
    assert froms[1] == "MAILER-DAEMON Sun May  5 09:30:00 2024"


@pytest.mark.parametrize("fmt", FORMATS)
def test_flags_follow_the_server(fmt: str, tmp_path: Path) -> None:
    run(fmt, tmp_path)
    file = tmp_path / "Projects" / "Alpha.mbox"
    size = file.stat().st_size if fmt == "mbox" else 0
    changed = dict(FLAGS)
    changed[3] = ()
    changed[6] = ("\\Answered", "\\Deleted", "\\Draft", "\\Flagged", "\\Seen")
    changed[12] = ("$Junk",)
    changed[9] = ("\\Seen",)  # a keyword only: the mbox keeps it in its index
    with pytest.raises(Crash):  # killed after a flag change, before the state is saved
        run(fmt, tmp_path, 2, server=changed)
    assert run(fmt, tmp_path, server=changed) >= 1
    check(fmt, tmp_path, set(MESSAGES), changed)
    assert run(fmt, tmp_path, server=changed) == 1  # nothing left to change
    if fmt == "mbox":
        assert file.stat().st_size == size  # rewritten in place


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("crash_at", [None, 1, 2, 3])
def test_mirror_removes(fmt: str, crash_at: int | None, tmp_path: Path) -> None:
    run(fmt, tmp_path)
    server = {uid: flags for uid, flags in FLAGS.items() if uid not in (5, 9)}
    if crash_at is not None:  # 1, 2: after a removal; 3: after the rewrite, state not saved
        with pytest.raises(Crash):
            run(fmt, tmp_path, crash_at, server=server, mirror=True)
    run(fmt, tmp_path, server=server, mirror=True)
    check(fmt, tmp_path, set(server))
    assert run(fmt, tmp_path, server=server, mirror=True) == 1
    if fmt == "mbox":  # no temporary file left beside it
        assert sorted(p.name for p in (tmp_path / "Projects").iterdir()) == ["Alpha.mbox"]


def test_mbox_other_uidvalidity_or_foreign_file_is_refused(tmp_path: Path) -> None:
    from o365imap.errors import StorageError

    run("mbox", tmp_path)
    (tmp_path / "state.json").unlink()
    store = MboxStore(tmp_path / "Projects" / "Alpha", UIDVALIDITY + 1)
    with pytest.raises(StorageError, match="UIDVALIDITY"):
        store.recover(FolderState("Projects/Alpha", "mbox", "Projects/Alpha", UIDVALIDITY + 1))
    store.close()
    foreign = tmp_path / "foreign"
    junk = b"From x Mon Jan  1 00:00:00 2024\n" * 500
    foreign.with_name("foreign.mbox").write_bytes(junk)
    store = MboxStore(foreign, UIDVALIDITY)
    with pytest.raises(StorageError, match="did not write"):
        store.recover(FolderState("f", "mbox", "foreign", UIDVALIDITY))
    store.close()
    assert foreign.with_name("foreign.mbox").read_bytes() == junk  # untouched


def test_eml_other_uidvalidity_is_refused(tmp_path: Path) -> None:
    from o365imap.errors import StorageError

    run("eml", tmp_path)
    store = EmlStore(tmp_path / "Projects" / "Alpha", UIDVALIDITY + 1)
    with pytest.raises(StorageError, match="UIDVALIDITY"):
        store.recover(FolderState("Projects/Alpha", "eml", "Projects/Alpha", UIDVALIDITY + 1))


def test_eml_killed_with_a_journal_at_every_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # run() closes the store after its Crash, and close() folds the journal: a kill does not.
    # Without it, each kill leaves index.jsonl (and the index the last fold wrote) as is.
    total = run("eml", tmp_path / "clean")
    for crash_at in range(1, total):
        root = tmp_path / str(crash_at)
        with monkeypatch.context() as patched:
            patched.setattr(EmlStore, "close", lambda self: None)
            with pytest.raises(Crash):
                run("eml", root, crash_at)
        run("eml", root)
        check_eml(root, set(MESSAGES))


def test_eml_journal_cut_by_a_kill(tmp_path: Path) -> None:
    # A last line cut short (a power cut in the append) is skipped: its file is described.
    folder = tmp_path / "Projects" / "Alpha"
    store = EmlStore(folder, UIDVALIDITY)
    store.recover(FolderState("Projects/Alpha", "eml", "Projects/Alpha", UIDVALIDITY))
    for uid in (5, 6, 7):
        incoming = store.incoming()
        incoming.write(MESSAGES[uid])
        store.commit(incoming, meta(uid))
        store.checkpoint(FolderState("Projects/Alpha", "eml", "Projects/Alpha", UIDVALIDITY))
    journal = folder / "index.jsonl"
    lines = journal.read_text("utf-8").splitlines(keepends=True)
    assert len(lines) == 3  # the first checkpoint folded its line into index.json
    journal.write_text("".join(lines)[:-20], "utf-8")
    kept = {uid: (folder / f"{uid}.eml").stat().st_ino for uid in (5, 6, 7)}
    run("eml", tmp_path)
    check_eml(tmp_path, set(MESSAGES))
    assert kept == {uid: (folder / f"{uid}.eml").stat().st_ino for uid in (5, 6, 7)}


def test_eml_index_written_by_hand_is_read_whole(tmp_path: Path) -> None:
    run("eml", tmp_path)
    index = tmp_path / "Projects" / "Alpha" / "index.json"
    data = json.loads(index.read_text("utf-8"))
    data["messages"]["9"]["flags"] = ["\\Seen"]  # the next run puts $Forwarded back
    index.write_text(json.dumps(data, indent=4), "utf-8")
    assert run("eml", tmp_path) == 2  # one flag update, nothing fetched
    check_eml(tmp_path, set(MESSAGES))
    assert index.read_text("utf-8").count("\n") == len(MESSAGES) + 3  # a message a line again


def test_eml_index_describes_the_messages(tmp_path: Path) -> None:
    run("eml", tmp_path)
    index = json.loads((tmp_path / "Projects" / "Alpha" / "index.json").read_text("utf-8"))
    entry = index["messages"]["12"]
    assert entry["message_id"] == "<m12@x>"
    assert entry["subject"] == "Grüße"
    assert index["messages"]["8"]["subject"] is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_message_larger_than_the_spool(fmt: str, tmp_path: Path) -> None:
    # Beyond 1 MB the mbox's spool is a file; the eml's is one anyway.
    big = b"Subject: big\r\n\r\n" + b"From x\r\n" + LONG * 12
    store = open_store(fmt, tmp_path)
    state = FolderState("Projects/Alpha", fmt, "Projects/Alpha", UIDVALIDITY)
    store.recover(state)
    incoming = store.incoming()
    for i in range(0, len(big), 65536):
        incoming.write(big[i : i + 65536])
    store.commit(incoming, MessageMeta(1, ("\\Seen",), DATE[3], len(big)))
    store.checkpoint(state)
    store.close()
    if fmt == "mbox":
        found = read_mbox(tmp_path / "Projects" / "Alpha.mbox")
        assert found == {1: [(mbox_expected(big), {"R", "O"})]}
    else:
        assert (tmp_path / "Projects" / "Alpha" / "1.eml").read_bytes() == big
    assert [p.name for p in (tmp_path / "Projects").iterdir() if p.name.startswith(".")] == []


def test_a_retired_mbox_leaves_its_children(tmp_path: Path) -> None:
    # UIDVALIDITY of Projects changed: Projects.mbox moves aside, Projects/Alpha.mbox stays.
    (tmp_path / "Projects").mkdir()
    (tmp_path / "Projects.mbox").write_bytes(b"old")
    (tmp_path / "Projects" / "Alpha.mbox").write_bytes(b"child")
    (tmp_path / "Projects~uidvalidity-5.mbox").write_bytes(b"retired before")
    state = FolderState("Projects", "mbox", "Projects", 5)
    assert _retire(tmp_path, state) == "Projects~uidvalidity-5-2"
    assert (tmp_path / "Projects~uidvalidity-5-2.mbox").read_bytes() == b"old"
    assert (tmp_path / "Projects~uidvalidity-5.mbox").read_bytes() == b"retired before"
    assert (tmp_path / "Projects" / "Alpha.mbox").read_bytes() == b"child"
    assert not (tmp_path / "Projects.mbox").exists()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 64, 4096])
def test_mboxrd_conversion_does_not_depend_on_the_chunks(size: int) -> None:
    for raw in MESSAGES.values():
        writer = MboxrdWriter()
        out = b"".join(writer.feed(raw[i : i + size]) for i in range(0, len(raw), size))
        out += writer.end()
        whole = MboxrdWriter()
        assert out == whole.feed(raw) + whole.end()
        assert unquote(out) == raw.replace(b"\r\n", b"\n")
        assert not re.search(rb"(?m)^From ", out)
        assert writer.ends_with_newline == out.endswith(b"\n")


# -- a real export of each, against Dovecot ---------------------------------------------------

FOLDERS = ("INBOX", "Attachments", "Projects/Alpha", "日本語")


def server_flags(client: ImapClient, folder: str) -> Iterator[tuple[int, set[str]]]:
    client.select(folder, readonly=True)
    for response in client.iter_fetch(SequenceSet.range(1, None), "(UID FLAGS)"):
        uid = int(response.items["UID"])
        flags = {str(f) for f in response.items.get("FLAGS", ()) if str(f) != "\\Recent"}
        yield uid, flags


def server_bytes(client: ImapClient, uid: int) -> bytes:
    return b"".join(client.iter_section(uid))


def connector(dovecot: DovecotServer) -> Callable[[], ImapClient]:
    def connect() -> ImapClient:
        imap = ImapClient(dovecot.host, dovecot.imaps_port, ca_file=str(dovecot.ca_file))
        imap.connect()
        imap.authenticate_oauth(ALICE, dovecot.mint_token(ALICE))
        return imap

    return connect


def check_export(fmt: Format, dest: Path, client: ImapClient, folders: tuple[str, ...]) -> None:
    """Every message of ``folders`` in the export exactly once, whole, with its flags."""
    for folder in folders:
        state = FolderState.load(state_path(dest, folder))
        assert state is not None
        path = dest / state.path
        flags_of = dict(server_flags(client, folder))  # (this selects the folder)
        messages = [(uid, server_bytes(client, uid), flags) for uid, flags in flags_of.items()]
        assert messages
        if fmt == "mbox":
            stored = read_mbox(path.with_name(path.name + ".mbox"), state.uidvalidity or 0)
            assert set(stored) == {uid for uid, _, _ in messages}
            for uid, raw, flags in messages:
                assert stored[uid] == [(mbox_expected(raw), letters(tuple(flags)))]
            leftovers = f".{path.name}.mbox."  # a rewrite's temporary file
            assert not [p for p in path.parent.iterdir() if p.name.startswith(leftovers)]
        else:
            index = json.loads((path / "index.json").read_text("utf-8"))["messages"]
            assert set(index) == {str(uid) for uid, _, _ in messages}
            assert {p.name for p in path.iterdir() if p.is_file()} == {
                "index.json",
                *(f"{uid}.eml" for uid in flags_of),
            }
            for uid, raw, flags in messages:
                assert (path / f"{uid}.eml").read_bytes() == raw
                assert set(index[str(uid)]["flags"]) == flags


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_against_dovecot(
    fmt: Format, dovecot: DovecotServer, client: ImapClient, tmp_path: Path
) -> None:
    connect = connector(dovecot)
    options = ExportOptions(tmp_path, format=fmt, folders=FOLDERS, jobs=2, batch_messages=7)
    report = export_mailbox(connect, options)
    assert [f.error for f in report.folders] == [None] * len(FOLDERS)
    assert all(not f.size_differs for f in report.folders)
    again = export_mailbox(connect, options)
    assert again.total("new") == 0
    assert again.total("kept") == report.total("new")
    check_export(fmt, tmp_path, client, FOLDERS)


KILLED = """
import sys
from pathlib import Path
from o365imap import ImapClient
from o365imap.backup import ExportOptions, export_mailbox

host, port, ca, user, token, dest, fmt = sys.argv[1:]

def connect():
    imap = ImapClient(host, int(port), ca_file=ca)
    imap.connect()
    imap.authenticate_oauth(user, token)
    return imap

def progress(event):
    if event.kind == "message":
        print("m", flush=True)

folders = ("INBOX", "Attachments")
export_mailbox(connect, ExportOptions(Path(dest), format=fmt, folders=folders, jobs=1,
                                      batch_messages=5), progress)
print("done", flush=True)
"""


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_killed_with_sigkill_then_rerun(
    fmt: Format, dovecot: DovecotServer, client: ImapClient, tmp_path: Path
) -> None:
    # A real kill -9 of a real export, at several points, each rerun taking up from there.
    token = dovecot.mint_token(ALICE)
    argv = [sys.executable, "-c", KILLED, dovecot.host, str(dovecot.imaps_port)]
    argv += [str(dovecot.ca_file), ALICE, token, str(tmp_path), fmt]
    midway = 0
    for messages in (1, 3, 8, 13, 20, 30):
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, env=os.environ.copy())
        assert child.stdout is not None
        seen = 0
        for line in child.stdout:
            seen += line.startswith(b"m")
            if seen >= messages:
                midway += 1
                break
            if line.startswith(b"done"):
                break
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert midway >= 4  # most kills came in the middle of the export
    export_mailbox(
        connector(dovecot), ExportOptions(tmp_path, format=fmt, folders=("INBOX", "Attachments"))
    )
    check_export(fmt, tmp_path, client, ("INBOX", "Attachments"))
