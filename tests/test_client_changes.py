"""Changing the mailbox against Dovecot: copy, move, delete, flags and folders, each checked by
reading the server's state afterwards (issue 12's library part)."""

from __future__ import annotations

import hashlib
import io
import socket
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import BOB
from o365imap import (
    CapabilityMissing,
    CommandError,
    CopyResult,
    FolderNotFound,
    ImapClient,
    UsageError,
)
from o365imap._replies import copy_uids
from o365imap.client._args import uid_batches
from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.seed import MaildirWriter, SeedAddress, SeedMessage


def _message(n: int, folder: str) -> SeedMessage:
    return SeedMessage(
        date=datetime(2025, 2, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=n),
        subject=f"{folder} message {n}",
        from_=(SeedAddress("Carol", "carol@example.net"),),
        to=(SeedAddress("Bob", BOB),),
        body=f"Number {n}.\n",
    )


@pytest.fixture
def bob(dovecot: DovecotServer) -> Iterator[ImapClient]:
    with ImapClient(
        dovecot.host, dovecot.imaps_port, ca_file=str(dovecot.ca_file), timeout=20
    ) as imap:
        imap.authenticate_oauth(BOB, dovecot.mint_token(BOB))
        yield imap


def _fill(dovecot: DovecotServer, folder: str, count: int) -> None:
    MaildirWriter(dovecot.maildir(BOB), dovecot.mail_owner).write(
        folder, [_message(n, folder) for n in range(count)]
    )


def _subjects(imap: ImapClient, folder: str, uids: list[int] | None = None) -> dict[int, str]:
    imap.select(folder, readonly=True)
    wanted = uids if uids is not None else imap.search("ALL", uid=True)
    if not wanted:
        return {}
    return {
        s.uid: s.envelope.subject or "" for s in imap.iter_summaries(wanted) if s.uid and s.envelope
    }


def test_copy_says_where_each_message_went(bob: ImapClient, dovecot: DovecotServer) -> None:
    _fill(dovecot, "ChgCopyFrom", 5)
    bob.create_folder("ChgCopyTo")
    before = _subjects(bob, "ChgCopyFrom")
    bob.select("ChgCopyFrom")
    result = bob.copy([2, 4, 5], "ChgCopyTo")
    assert isinstance(result, CopyResult)
    assert result.uids == (2, 4, 5) and result.to == "ChgCopyTo" and not result.copies_left
    assert sorted(result.new_uids) == [2, 4, 5]
    copied = _subjects(bob, "ChgCopyTo")
    assert {copied[result.new_uids[u]] for u in (2, 4, 5)} == {before[u] for u in (2, 4, 5)}
    assert len(_subjects(bob, "ChgCopyFrom")) == 5  # the originals stay


def test_move_takes_the_messages_out_and_names_the_new_uids(
    bob: ImapClient, dovecot: DovecotServer
) -> None:
    _fill(dovecot, "ChgMoveFrom", 6)
    bob.create_folder("ChgMoveTo")
    before = _subjects(bob, "ChgMoveFrom")
    bob.select("ChgMoveFrom")
    assert "MOVE" in bob.capabilities
    result = bob.move([1, 3], "ChgMoveTo")
    assert bob.exists == 4  # the server's EXPUNGEs kept the count current
    moved = _subjects(bob, "ChgMoveTo")
    assert {moved[result.new_uid(1) or 0], moved[result.new_uid(3) or 0]} == {before[1], before[3]}
    assert set(_subjects(bob, "ChgMoveFrom")) == {2, 4, 5, 6}


def test_delete_moves_to_the_trash_found_by_special_use(
    bob: ImapClient, dovecot: DovecotServer
) -> None:
    _fill(dovecot, "ChgDelete", 3)
    trash = bob.special_folder("\\Trash")
    assert trash is not None
    before = _subjects(bob, "ChgDelete")
    bob.select("ChgDelete")
    result = bob.delete([2])
    assert result.to == trash.name
    assert set(_subjects(bob, "ChgDelete")) == {1, 3}
    assert _subjects(bob, trash.name, [result.new_uid(2) or 0]) == {result.new_uid(2): before[2]}


def test_deleting_permanently_expunges_exactly_those(
    bob: ImapClient, dovecot: DovecotServer
) -> None:
    _fill(dovecot, "ChgPurge", 4)
    bob.select("ChgPurge")
    bob.add_flags([4], ["\\Deleted"])  # marked by someone else: must survive
    result = bob.delete([1, 2], permanently=True)
    assert result.to is None and result.uids == (1, 2)
    assert set(_subjects(bob, "ChgPurge")) == {3, 4}


def test_many_scattered_uids_go_in_several_short_commands(
    bob: ImapClient, dovecot: DovecotServer
) -> None:
    _fill(dovecot, "ChgMany", 1200)
    bob.create_folder("ChgManyTo")
    bob.select("ChgMany")
    odd = list(range(1, 1201, 2))  # 600 UIDs, no two adjacent: no ranges to save length
    assert len(list(uid_batches(odd))) > 1
    result = bob.copy(odd, "ChgManyTo")
    assert sorted(result.new_uids) == odd
    assert bob.status("ChgManyTo").messages == 600


def test_folders_are_created_renamed_subscribed_and_deleted(
    bob: ImapClient, dovecot: DovecotServer
) -> None:
    bob.create_folder("Chg Grüße/Unterordner")
    with pytest.raises(CommandError, match="exists"):
        bob.create_folder("Chg Grüße/Unterordner")
    bob.create_folder("Chg Grüße/Unterordner", exist_ok=True)
    names = {f.name for f in bob.list_folders()}
    assert {"Chg Grüße", "Chg Grüße/Unterordner"} <= names
    subscriptions = dovecot.maildir(BOB) / "subscriptions"  # Dovecot keeps them there
    bob.subscribe("Chg Grüße/Unterordner")
    assert "Unterordner" in subscriptions.read_text(encoding="utf-8")
    bob.unsubscribe("Chg Grüße/Unterordner")
    assert "Unterordner" not in subscriptions.read_text(encoding="utf-8")
    bob.rename_folder("Chg Grüße/Unterordner", "Chg Grüße/Umbenannt")
    names = {f.name for f in bob.list_folders()}
    assert "Chg Grüße/Umbenannt" in names and "Chg Grüße/Unterordner" not in names
    bob.delete_folder("Chg Grüße/Umbenannt")
    assert "Chg Grüße/Umbenannt" not in {f.name for f in bob.list_folders()}
    with pytest.raises(FolderNotFound):
        bob.delete_folder("Chg no such folder")
    with pytest.raises(
        CommandError, match=r"keeps INBOX \(INBOX\): a special folder cannot be deleted"
    ):
        bob.delete_folder("INBOX")
    with pytest.raises(FolderNotFound):
        bob.rename_folder("Chg no such folder", "Chg other")


def test_changes_refused_on_a_read_only_folder_and_without_a_folder(
    bob: ImapClient, dovecot: DovecotServer
) -> None:
    _fill(dovecot, "ChgReadOnly", 2)
    with pytest.raises(UsageError, match="select a folder"):
        bob.copy([1], "INBOX")
    bob.select("ChgReadOnly", readonly=True)
    with pytest.raises(UsageError, match="read-only"):
        bob.move([1], "INBOX")
    with pytest.raises(UsageError, match="read-only"):
        bob.delete([1], permanently=True)
    with pytest.raises(UsageError, match="no messages"):
        bob.copy([], "INBOX")
    bob.select("ChgReadOnly")
    with pytest.raises(FolderNotFound):
        bob.copy([1], "Chg no such folder")
    assert len(_subjects(bob, "ChgReadOnly")) == 2


@pytest.mark.parametrize(
    ("data", "sent", "expected"),
    [
        (b"38505 304,319:320 3956:3958", 3, (38505, {304: 3956, 319: 3957, 320: 3958})),
        (b"7 5:3 10:12", 3, (7, {3: 10, 4: 11, 5: 12})),  # ends in either order
        (b"7 1:4294967295 1:4294967295", 3, None),  # a hostile range is never expanded
        (b"7 1,2 9", 2, None),  # the sets do not match
        (b"x 1 2", 1, None),
        (b"7 1", 1, None),
    ],
)
def test_copyuid_is_read_with_bounds(
    data: bytes, sent: int, expected: tuple[int, dict[int, int]] | None
) -> None:
    assert copy_uids("COPYUID", data, sent) == expected
    assert copy_uids("APPENDUID", data, sent) is None


def test_uid_batches_stay_short_and_keep_every_uid() -> None:
    scattered = list(range(1, 20_000, 3))
    batches = list(uid_batches(scattered, max_length=200))
    assert [u for batch in batches for u in batch] == scattered
    from o365imap.protocol import SequenceSet

    assert all(len(str(SequenceSet(b))) <= 200 for b in batches)
    assert len(batches) > 1
    assert list(uid_batches(range(1, 100_001), max_length=20)) == [list(range(1, 100_001))]


def _raw_message(subject: str, body: bytes = b"Hello.\r\n") -> bytes:
    return (
        f"From: Carol <carol@example.net>\r\nTo: {BOB}\r\nSubject: {subject}\r\n"
        "Message-ID: <append-" + subject.replace(" ", "-") + "@example.net>\r\n\r\n"
    ).encode() + body


def _stored(imap: ImapClient, folder: str, uid: int) -> tuple[bytes, tuple[str, ...], datetime]:
    imap.select(folder, readonly=True)
    [response] = imap.iter_fetch([uid], "(UID FLAGS INTERNALDATE BODY.PEEK[])", uid=True)
    body = b"".join(imap.iter_section(uid))
    return body, response.items["FLAGS"], response.items["INTERNALDATE"]


def test_append_returns_the_new_uid_with_flags_and_date(bob: ImapClient) -> None:
    bob.create_folder("ChgAppend")
    raw = _raw_message("appended one")
    when = datetime(2024, 3, 5, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    uid = bob.append("ChgAppend", raw, flags=["\\Seen", "$Invoice"], date=when)
    assert uid is not None
    body, flags, internal = _stored(bob, "ChgAppend", uid)
    assert body == raw
    assert {"\\Seen", "$Invoice"} <= set(flags)
    assert internal == when


def test_append_streams_a_file_and_a_pipe_without_holding_them(
    bob: ImapClient, tmp_path: Path
) -> None:
    bob.create_folder("ChgAppendBig")
    big = _raw_message("big one", b"0123456789abcdef" * (1 << 20))  # 16 MB
    path = tmp_path / "big.eml"
    path.write_bytes(big)
    tracemalloc.start()
    try:
        uid = bob.append("ChgAppendBig", path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, peak  # 16 MB sent, a few MB at most held
    assert uid is not None
    bob.select("ChgAppendBig", readonly=True)
    stored = hashlib.sha256()
    for chunk in bob.iter_section(uid):
        stored.update(chunk)
    assert stored.digest() == hashlib.sha256(big).digest()

    class Pipe:  # read() only: no size to ask, no seeking
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def read(self, size: int = -1) -> bytes:
            return self._data.read(size)

    small = _raw_message("from a pipe")
    uid = bob.append("ChgAppendBig", Pipe(small))  # type: ignore[arg-type]
    assert uid is not None
    assert _stored(bob, "ChgAppendBig", uid)[0] == small


def test_append_to_a_missing_folder_is_folder_not_found(bob: ImapClient) -> None:
    with pytest.raises(FolderNotFound):
        bob.append("Chg no such folder", _raw_message("nowhere"))
    with pytest.raises(UsageError, match="empty"):
        bob.append("INBOX", b"")
    bob.noop()  # the connection is still in step


def _client_of(server: DovecotServer, cls: type[ImapClient] = ImapClient) -> ImapClient:
    imap = cls(server.host, server.imaps_port, ca_file=str(server.ca_file), timeout=20)
    imap.connect()
    imap.authenticate_oauth(BOB, server.mint_token(BOB))
    return imap


def test_without_move_a_move_is_copy_then_expunge_of_exactly_those(
    without_move: DovecotServer,
) -> None:
    _fill(without_move, "NoMove", 4)
    with _client_of(without_move) as imap:
        assert "MOVE" not in imap.capabilities and "UIDPLUS" in imap.capabilities
        imap.create_folder("NoMoveTo")
        before = _subjects(imap, "NoMove")
        imap.select("NoMove")
        imap.add_flags([4], ["\\Deleted"])  # someone else's: must survive the UID EXPUNGE
        result = imap.move([1, 2], "NoMoveTo")
        assert not result.copies_left
        assert set(_subjects(imap, "NoMove")) == {3, 4}
        moved = _subjects(imap, "NoMoveTo")
    assert {moved[result.new_uid(u) or 0] for u in (1, 2)} == {before[1], before[2]}


def test_a_move_cut_between_copy_and_delete_loses_nothing(without_move: DovecotServer) -> None:
    class CutBeforeDelete(ImapClient):
        def _expunge_exactly(self, batch: list[int]) -> None:
            # The connection dies exactly between the copy and the delete.
            self._transport._sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
            super()._expunge_exactly(batch)

    _fill(without_move, "Cut", 3)
    imap = _client_of(without_move, CutBeforeDelete)
    try:
        imap.create_folder("CutTo")
        imap.select("Cut")
        result = imap.move([1, 2, 3], "CutTo")
    finally:
        imap.close()
    assert result.copies_left
    assert sorted(result.new_uids) == [1, 2, 3]
    with _client_of(without_move) as check:
        assert set(_subjects(check, "Cut")) == {1, 2, 3}  # the originals are all there
        assert len(_subjects(check, "CutTo")) == 3  # and so are the copies


def test_without_uidplus_moving_and_purging_are_refused_and_nothing_changes(
    without_uidplus: DovecotServer,
) -> None:
    _fill(without_uidplus, "NoPlus", 3)
    with _client_of(without_uidplus) as imap:
        assert not {"MOVE", "UIDPLUS"} & set(imap.capabilities)
        imap.create_folder("NoPlusTo")
        imap.select("NoPlus")
        with pytest.raises(CapabilityMissing, match="neither MOVE nor UIDPLUS"):
            imap.move([1], "NoPlusTo")
        with pytest.raises(CapabilityMissing, match="UIDPLUS"):
            imap.delete([1], permanently=True)
        imap.copy([1], "NoPlusTo")  # a copy needs neither
        assert set(_subjects(imap, "NoPlus")) == {1, 2, 3}
        assert len(_subjects(imap, "NoPlusTo")) == 1
