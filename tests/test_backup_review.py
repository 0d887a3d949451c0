"""Review of issue 14's export: cases the first tests left out (each a finding of the review)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from conftest import BOB
from o365imap import ImapClient, open_token
from o365imap.backup import ExportOptions, export_mailbox, verify_backup
from o365imap.backup._engine import Format
from o365imap.backup._mbox import MboxStore
from o365imap.backup._state import FolderState
from o365imap.backup._store import MessageMeta
from o365imap.sandbox.dovecot import DovecotServer


def _connector(dovecot: DovecotServer) -> Callable[[], ImapClient]:
    def connect() -> ImapClient:
        return open_token(
            BOB, dovecot.mint_token(BOB), host=dovecot.host, port=dovecot.imaps_port,
            ca_file=str(dovecot.ca_file),
        )  # fmt: skip

    return connect


@pytest.fixture
def bob(dovecot: DovecotServer) -> Iterator[ImapClient]:
    with _connector(dovecot)() as imap:
        yield imap


def _message(subject: str) -> bytes:
    return f"From: a@example.com\r\nSubject: {subject}\r\n\r\nHello.\r\n".encode()


def _maildir_flags(folder: Path) -> dict[int, str]:
    found = {}
    for name in (p.name for p in (folder / "cur").iterdir()):
        uid = int(name.split(".M", 1)[1].split("U", 1)[0])
        found[uid] = name.rsplit(":2,", 1)[1]
    return found


def test_since_after_a_full_export_does_not_lose_flag_changes_of_older_messages(
    dovecot: DovecotServer, bob: ImapClient, tmp_path: Path
) -> None:
    # With CONDSTORE, a --since run used to keep the folder's HIGHESTMODSEQ although it
    # compared the flags of the newer messages only: a flag set on an older message before it
    # was never brought into the backup by any later run.
    name = f"Since{uuid.uuid4().hex[:8]}"
    bob.create_folder(name)
    old = bob.append(name, _message("old"), date=datetime(2020, 1, 2, tzinfo=UTC))
    bob.append(name, _message("new"), date=datetime.now(UTC))
    assert old is not None
    connect = _connector(dovecot)
    export_mailbox(connect, ExportOptions(tmp_path, folders=(name,)))
    bob.select(name)
    bob.add_flags([old], ["\\Flagged"])
    since = ExportOptions(tmp_path, folders=(name,), since=date.today().replace(year=2024))
    export_mailbox(connect, since)
    export_mailbox(connect, ExportOptions(tmp_path, folders=(name,)))
    assert "F" in _maildir_flags(tmp_path / name)[old]


def test_a_renumbered_maildir_folder_leaves_its_children_in_place(
    dovecot: DovecotServer, bob: ImapClient, tmp_path: Path
) -> None:
    # A Maildir's subfolders are directories inside it: retiring the parent moved the
    # children's copies too, so each child was exported again from nothing (twice on disk).
    parent = f"Parent{uuid.uuid4().hex[:8]}"
    child = f"{parent}/Child"
    bob.create_folder(parent)
    bob.create_folder(child)
    bob.append(parent, _message("p"))
    bob.append(child, _message("c"))
    connect = _connector(dovecot)
    options = ExportOptions(tmp_path, folders=(parent, child), jobs=1)
    export_mailbox(connect, options)
    # the parent is renumbered: its state says another UIDVALIDITY
    from o365imap.backup._state import state_path

    where = state_path(tmp_path, parent)
    state = FolderState.load(where)
    assert state is not None
    state.uidvalidity = (state.uidvalidity or 0) + 1
    state.save(where)
    report = export_mailbox(connect, options)
    by_name = {f.folder: f for f in report.folders}
    assert by_name[parent].retired is not None
    assert by_name[child].new == 0  # still where it was: nothing fetched again
    assert len(list((tmp_path / parent / "Child" / "cur").iterdir())) == 1


def test_an_mbox_entry_with_a_long_return_path_is_read_back(tmp_path: Path) -> None:
    # The From line carries the Return-Path address; the index is read 4096 bytes at a
    # time, so one message with a long address made every later run refuse the file
    # (StorageError: the whole export stopped, each time).
    store = MboxStore(tmp_path / "INBOX", 7)
    state = FolderState("INBOX", "mbox", "INBOX", 7)
    store.recover(state)
    incoming = store.incoming()
    raw = b"Return-Path: <" + b"a" * 5000 + b"@example.com>\r\nSubject: x\r\n\r\nbody\r\n"
    incoming.write(raw)
    store.commit(incoming, MessageMeta(1, ("\\Seen",), datetime(2024, 1, 1, tzinfo=UTC), len(raw)))
    store.checkpoint(state)
    store.set_flags(1, ("\\Flagged",))
    store.close()
    again = MboxStore(tmp_path / "INBOX", 7)
    again.recover(state)
    assert set(again.stored()) == {1}
    again.close()


def test_a_folder_name_too_long_for_the_disk_is_a_folder_error(
    dovecot: DovecotServer, bob: ImapClient, tmp_path: Path
) -> None:
    # folder_path's ValueError escaped the engine: a traceback instead of one folder failed
    name = "日" * 70  # 210 bytes in UTF-8: over the layout's 200 (189 in modified UTF-7)
    bob.create_folder(name, exist_ok=True)
    report = export_mailbox(_connector(dovecot), ExportOptions(tmp_path, folders=(name,)))
    assert report.folders[0].error


@pytest.mark.parametrize("fmt", ["maildir", "mbox", "eml"])
def test_verify_finds_every_message_of_an_export_in_each_format(
    fmt: Format, dovecot: DovecotServer, bob: ImapClient, tmp_path: Path
) -> None:
    # verify_backup read the store's index without recover(): an mbox's index is read from
    # the file there, so every message of a whole mbox export was said to be missing.
    name = f"Verify{uuid.uuid4().hex[:8]}"
    bob.create_folder(name)
    for n in range(3):
        bob.append(name, _message(f"m{n}"), flags=["\\Seen"] if n else [])
    connect = _connector(dovecot)
    export_mailbox(connect, ExportOptions(tmp_path, format=fmt, folders=(name,)))
    (check,) = verify_backup(connect, tmp_path)
    assert (check.missing, check.stored, check.server, check.ok) == ([], 3, 3, True)


def test_an_mbox_line_whose_crlf_straddles_a_read_keeps_one_cr(tmp_path: Path) -> None:
    # _copy_mbox_message reads 64 KB of a line at a time: a CR ending one read and its LF
    # opening the next became CR CR LF (a long HTML line, one in 65,536 of them).
    import io

    from o365imap.backup._sources import _copy_mbox_message, _mbox_messages

    line = b"y" * (64 * 1024 - 1) + b"\r\n"
    path = tmp_path / "one.mbox"
    path.write_bytes(b"From a Mon Jan  1 00:00:00 2024\r\nSubject: x\r\n\r\n" + line + b"end\r\n")
    (message,) = _mbox_messages(path)
    out = io.BytesIO()
    with open(path, "rb") as handle:
        handle.seek(message.offset)
        _copy_mbox_message(handle, message.length or 0, out)
    assert out.getvalue() == b"Subject: x\r\n\r\n" + line + b"end\r\n"


def test_users_file_one_mailbox_that_fails_does_not_stop_the_others(
    dovecot: DovecotServer, bob: ImapClient, tmp_path: Path
) -> None:
    # "each independent": a mailbox that cannot be signed in to (left the tenant, no
    # mailbox) ended the command, and every mailbox after it in the file went unexported.
    from cli_runner import invoke
    from test_cli import environment

    name = f"Users{uuid.uuid4().hex[:8]}"
    bob.create_folder(name)
    bob.append(name, _message("one"))
    users = tmp_path / "users.txt"
    users.write_text(f"gone@example.com\n{BOB}\n", encoding="utf-8")
    args = ["--host", dovecot.host, "--port", str(dovecot.imaps_port)]
    args += ["--ca-file", str(dovecot.ca_file)]
    done = invoke(
        ["export", str(tmp_path / "all"), name, "--users", str(users), *args],
        environment(dovecot.mint_token(BOB)),
    )
    assert (tmp_path / "all" / BOB / name / "cur").is_dir(), done.stderr
    assert done.returncode == 3, done.stderr


def test_a_token_expiring_in_the_middle_of_a_folder_does_not_fail_it(tmp_path: Path) -> None:
    # Office 365 ends a session when its token expires (an hour): the commands a client
    # repeats reconnect, but a folder whose body FETCH the BYE cut was reported failed
    # (exit 3), once an hour per connection, for an export that only had to go on.
    import threading

    from scripted_server import (
        TOKEN,
        USER,
        Command,
        O365Session,
        ScriptedServer,
        _bye,
        client_for,
        make_message,
        o365_happy,
    )

    used = threading.Event()

    def expire_on_bodies(s: O365Session, cmd: Command) -> bool:
        if cmd.family != "FETCH" or b"BODY.PEEK[]" not in cmd.raw or used.is_set():
            return False
        used.set()
        _bye(s, "* BYE Session invalidated - AccessTokenExpired\r\n")
        return True

    messages = [make_message(n, 100 + n) for n in range(1, 4)]
    with ScriptedServer(o365_happy(messages, hooks=[expire_on_bodies])) as server:

        def connect() -> ImapClient:
            imap = client_for(server)
            imap.connect()
            imap.authenticate_oauth(USER, TOKEN, refresh=lambda: TOKEN)
            return imap

        report = export_mailbox(connect, ExportOptions(tmp_path, folders=("INBOX",), jobs=1))
    assert used.is_set()
    (folder,) = report.folders
    assert (folder.error, folder.new) == (None, 3)


@pytest.mark.parametrize(
    ("parent", "child", "beside"),
    [
        ("X", "dovecot-keywords", "dovecot-keywords"),  # the Maildir's keywords file
        ("X", "dovecot-uidlist", "dovecot-uidlist"),  # a Dovecot serving the export
        ("E", "index.json", "index.json"),  # the eml store's index
        ("E", "12.eml", "12.eml"),  # message 12 of E
    ],
)
def test_a_subfolder_never_takes_the_name_of_its_parents_files(
    parent: str, child: str, beside: str
) -> None:
    from o365imap.backup._layout import folder_path, unescape

    path = folder_path(f"{parent}/{child}", "/")
    assert path.parts[-1] != beside
    assert unescape(path.parts[-1]) == child


def test_an_mbox_folder_named_like_another_folders_file_gets_its_own_path() -> None:
    # "A" is the file A.mbox; "A.mbox/C" was the file A.mbox/C.mbox, in a directory A.mbox.
    from o365imap.backup._layout import folder_path, unescape

    child = folder_path("A.mbox/C", "/")
    assert child.parts[0] + ".mbox" != "A.mbox" and child.parts[0] != "A.mbox"
    assert unescape(child.parts[0]) == "A.mbox"
    assert folder_path("Notes.MBOX", "/").parts == ("Notes%2EMBOX",)


def test_a_maildir_file_without_its_bytes_is_fetched_again(tmp_path: Path) -> None:
    # Files are renamed into cur/ without an fsync of their own: after a power cut the name
    # may be on disk and the bytes not (an empty file). It counted as stored, for good.
    from o365imap.backup._maildir import MaildirStore

    store = MaildirStore(tmp_path / "INBOX", 7)
    state = FolderState("INBOX", "maildir", "INBOX", 7)
    store.recover(state)
    for uid in (1, 2):
        incoming = store.incoming()
        incoming.write(b"Subject: x\r\n\r\nbody\r\n")
        store.commit(incoming, MessageMeta(uid, (), datetime(2024, 1, 1, tzinfo=UTC), 21))
    store.close()
    (torn,) = [p for p in (tmp_path / "INBOX" / "cur").iterdir() if ".M2U" in p.name]
    torn.write_bytes(b"")
    again = MaildirStore(tmp_path / "INBOX", 7)
    assert set(again.stored()) == {1}
    assert not torn.exists()


def test_a_storage_error_in_the_main_thread_waits_for_the_other_connections(
    dovecot: DovecotServer, bob: ImapClient, tmp_path: Path
) -> None:
    # With --jobs, a StorageError in the calling thread's folder returned at once (its lock
    # released) while the other connections went on writing into the destination.
    import threading

    from o365imap.errors import StorageError

    first, second = (f"Par{n}{uuid.uuid4().hex[:8]}" for n in (1, 2))
    bob.create_folder(first)
    bob.create_folder(second)
    bob.append(first, _message("first"))
    for n in range(40):
        bob.append(second, _message(f"second {n}"))
    (tmp_path / first).write_bytes(b"a file where the Maildir goes")
    options = ExportOptions(tmp_path, folders=(first, second), jobs=2, batch_messages=1)
    with pytest.raises(StorageError):
        export_mailbox(_connector(dovecot), options)
    assert not [t for t in threading.enumerate() if t.name.startswith("export-")]


def test_mbox_keywords_survive_a_rewrite_killed_before_the_state_was_saved(
    tmp_path: Path,
) -> None:
    # --mirror rewrites the mbox (a new inode); killed before the state is saved, the next
    # run reads the file untrusted, and the keywords (kept in the state only) were dropped.
    # With CONDSTORE only changed messages are compared again: they never came back.
    when = datetime(2024, 1, 1, tzinfo=UTC)
    state = FolderState("INBOX", "mbox", "INBOX", 7)
    store = MboxStore(tmp_path / "INBOX", 7)
    store.recover(state)
    for uid, flags in ((1, ("$Junk", "\\Seen")), (2, ())):
        incoming = store.incoming()
        incoming.write(b"Subject: x\r\n\r\nbody\r\n")
        store.commit(incoming, MessageMeta(uid, flags, when, 21))
    store.checkpoint(state)
    saved = FolderState(**{**state.__dict__, "store": dict(state.store)})
    store.remove(2)
    store.checkpoint(state)  # the rewrite; the state that says so is never saved
    store.close()
    again = MboxStore(tmp_path / "INBOX", 7)
    again.recover(saved)
    assert set(again.stored()) == {1}
    assert again.stored()[1].flags == {"$Junk", "\\Seen"}
    again.close()
