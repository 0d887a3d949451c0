"""The mail browser changes the mailbox: delete, archive, move, marks, undo (issue 12).

Driven by Textual's pilot against the Dovecot test bed as user BOB, each test in folders of
its own (``Tui12...``); what the server holds afterwards is read with a separate client.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import pytest

from conftest import BOB
from o365imap import ImapClient
from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.seed import MaildirWriter
from test_client_changes import _subjects
from test_tui import _bob_message, folder_open, import_tui, rows_loaded, run, session_for, until

textual = pytest.importorskip("textual")

from textual.pilot import Pilot  # noqa: E402
from textual.widgets import Input  # noqa: E402

if TYPE_CHECKING:
    from o365imap import CopyResult
    from o365imap.tui.app import MailApp
    from o365imap.tui.dialogs import ConfirmScreen, FolderPicker, matching
    from o365imap.tui.model import MailSession
    from o365imap.tui.screens import ErrorScreen, MessageScreen

pytestmark = pytest.mark.dovecot

SIZE = (120, 36)


@pytest.fixture(autouse=True, scope="module")
def _tui() -> None:
    """Imported when these tests run, not at collection (see test_tui)."""
    import_tui(globals())


@pytest.fixture
def bob(dovecot: DovecotServer) -> Iterator[ImapClient]:
    """A connection of its own, to check what the server holds."""
    session = session_for(dovecot, BOB)
    with session.use() as client:
        yield client
    session.close()


def _seed(dovecot: DovecotServer, folder: str, numbers: range) -> None:
    MaildirWriter(dovecot.maildir(BOB), dovecot.mail_owner).write(
        folder, [_bob_message(n) for n in numbers]
    )


async def _opened(pilot: Pilot[None], app: MailApp, folder: str, rows: int, *others: str) -> None:
    """The folder open with its first ``rows`` rows loaded, and ``others`` in the tree."""
    await until(pilot, folder_open(app, folder), "the folder")
    await until(pilot, lambda: all(n in app.entries for n in others), "the folder list")
    await until(pilot, rows_loaded(app, *range(rows)), "the rows")


def _where(imap: ImapClient, folder: str, uid: int) -> str | None:
    """The subject of ``uid`` in ``folder``, if it is there."""
    return _subjects(imap, folder).get(uid)


def _subject_list(app: MailApp) -> Callable[[], list[str]]:
    widget = app.messages
    return lambda: [widget.rows[i].subject for i in range(widget.total) if i in widget.rows]


# ---------------------------------------------------------------- delete, archive


def test_delete_to_trash_archive_and_undo(dovecot: DovecotServer, bob: ImapClient) -> None:
    _seed(dovecot, "Tui12Delete", range(100, 105))  # newest (104) on top
    # Watching for mail as in real use: our own expunges are no news to the watcher.
    app = MailApp(session_for(dovecot, BOB), start_folder="Tui12Delete")
    trash = bob.special_folder("\\Trash")
    archive = bob.special_folder("\\Archive")
    assert trash is not None and archive is not None
    done: dict[str, CopyResult] = {}

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _opened(pilot, app, "Tui12Delete", 5)
            widget = app.messages
            generation = widget.generation
            await pilot.press("d")  # the newest, 104
            await until(pilot, lambda: widget.total == 4, "the row gone")
            assert widget.rows[0].subject == "Bob's message 103"  # the next one moved up
            assert widget.cursor == 0
            deleted = app.last_change
            assert deleted is not None and deleted.to == trash.name
            done["deleted"] = deleted
            assert widget.generation == generation + 1  # the list was not reset...
            assert len(widget.rows) == 4  # ...and nothing needed fetching again
            assert "u undoes" in str(app.query_one("#status").render())

            await pilot.press("down", "a")  # 102 to the Archive
            await until(pilot, lambda: widget.total == 3, "the archived row gone")
            assert _subject_list(app)() == [
                "Bob's message 103",
                "Bob's message 101",
                "Bob's message 100",
            ]
            assert widget.cursor == 1
            archived = app.last_change
            assert archived is not None and archived.to == archive.name
            done["archived"] = archived

            await pilot.press("u")  # undo the archive (the last change only)
            await until(pilot, lambda: widget.total == 4, "the message back")
            await until(pilot, rows_loaded(app, 0, 1, 2, 3), "the rows again")
            assert app.last_change is None
            assert "Bob's message 102" in _subject_list(app)()
            await pilot.press("u")
            assert "Nothing to undo" in str(app.query_one("#status").render())

    run(scenario)
    here = _subjects(bob, "Tui12Delete")
    assert sorted(here.values()) == [f"Bob's message {n}" for n in (100, 101, 102, 103)]
    deleted, archived = done["deleted"], done["archived"]
    new_uid = deleted.new_uid(deleted.uids[0])
    assert new_uid is not None
    assert _where(bob, trash.name, new_uid) == "Bob's message 104"
    archived_uid = archived.new_uid(archived.uids[0])
    assert archived_uid is not None and _where(bob, archive.name, archived_uid) is None


def test_delete_permanently_asks_first(dovecot: DovecotServer, bob: ImapClient) -> None:
    _seed(dovecot, "Tui12Purge", range(110, 113))
    app = MailApp(session_for(dovecot, BOB), start_folder="Tui12Purge", watch=False)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _opened(pilot, app, "Tui12Purge", 3)
            widget = app.messages
            await pilot.press("D")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
            question = app.screen
            assert isinstance(question, ConfirmScreen)
            assert "cannot be undone" in question.question
            await pilot.press("n")  # no: nothing happens
            assert not isinstance(app.screen, ConfirmScreen)
            await pilot.pause(0.3)
            assert widget.total == 3
            await pilot.press("D")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
            await pilot.press("y")
            await until(pilot, lambda: widget.total == 2, "the row gone")
            assert app.last_change is None  # nothing to undo after a permanent delete
            assert "deleted permanently" in str(app.query_one("#status").render())

    run(scenario)
    assert sorted(_subjects(bob, "Tui12Purge").values()) == [
        "Bob's message 110",
        "Bob's message 111",
    ]


def test_archive_without_an_archive_folder_says_so(dovecot: DovecotServer, bob: ImapClient) -> None:
    _seed(dovecot, "Tui12NoArchive", range(120, 122))

    class NoArchive(MailSession):
        def archive_folder(self) -> str | None:
            return None

    session = session_for(dovecot, BOB)
    app = MailApp(
        NoArchive(session._connect, description=BOB), start_folder="Tui12NoArchive", watch=False
    )

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _opened(pilot, app, "Tui12NoArchive", 2)
            await pilot.press("a")
            status = app.query_one("#status")
            await until(pilot, lambda: "no Archive folder" in str(status.render()), "the sentence")
            assert status.has_class("error")
            assert app.messages.total == 2

    run(scenario)
    assert len(_subjects(bob, "Tui12NoArchive")) == 2


def test_messages_expunged_elsewhere_leave_the_list_in_place(
    dovecot: DovecotServer, bob: ImapClient
) -> None:
    _seed(dovecot, "Tui12Elsewhere", range(150, 156))  # rows: 155 ... 150, UIDs 6 ... 1
    app = MailApp(session_for(dovecot, BOB), start_folder="Tui12Elsewhere")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _opened(pilot, app, "Tui12Elsewhere", 6)
            widget = app.messages
            await pilot.press("down", "down", "down")  # on 152
            bob.select("Tui12Elsewhere")
            bob.delete([2, 5], permanently=True)  # 151 and 154, from another program
            await until(pilot, lambda: widget.total == 4, "two rows gone")
            assert len(widget.rows) == 4  # taken out in place, nothing to fetch again
            assert _subject_list(app)() == [f"Bob's message {n}" for n in (155, 153, 152, 150)]
            assert widget.current is not None and widget.current.subject == "Bob's message 152"
            assert "4 messages" in str(app.query_one("#list-title").render())

    run(scenario)


# ---------------------------------------------------------------- move, marks


def test_folder_picker_filters_as_you_type() -> None:
    names = ["INBOX", "Archive", "Tui12Target/Invoices", "Invoices 2024", "Trash"]
    assert matching(names, "") == names
    assert matching(names, "inv") == ["Invoices 2024", "Tui12Target/Invoices"]
    assert matching(names, "target inv") == ["Tui12Target/Invoices"]
    assert matching(names, "nothing") == []


def test_move_with_the_folder_picker_and_delete_from_the_message_view(
    dovecot: DovecotServer, bob: ImapClient
) -> None:
    _seed(dovecot, "Tui12MoveFrom", range(130, 134))
    bob.create_folder("Tui12MoveTo")
    bob.create_folder("Tui12MoveElsewhere")
    app = MailApp(session_for(dovecot, BOB), start_folder="Tui12MoveFrom", watch=False)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _opened(pilot, app, "Tui12MoveFrom", 4, "Tui12MoveTo")
            widget = app.messages
            await pilot.press("m")
            await until(pilot, lambda: isinstance(app.screen, FolderPicker), "the picker")
            picker = app.screen
            assert isinstance(picker, FolderPicker)
            assert "Tui12MoveFrom" not in picker.shown  # not to where it is already
            assert {"INBOX", "Tui12MoveTo", "Tui12MoveElsewhere"} <= set(picker.shown)
            await pilot.press(*"tui12move")
            await until(
                pilot,
                lambda: set(picker.shown) == {"Tui12MoveTo", "Tui12MoveElsewhere"},
                "filtered",
            )
            await pilot.press(*"to")
            await until(pilot, lambda: picker.shown == ["Tui12MoveTo"], "one left")
            assert picker.query_one("#picker-filter", Input).value == "tui12moveto"
            await pilot.press("enter")
            await until(pilot, lambda: widget.total == 3, "the row gone")
            assert app.last_change is not None and app.last_change.to == "Tui12MoveTo"
            # Escape leaves the picker and moves nothing.
            await pilot.press("m")
            await until(pilot, lambda: isinstance(app.screen, FolderPicker), "the picker")
            await pilot.press("escape")
            await pilot.pause(0.3)
            assert widget.total == 3
            # From the message view: d deletes the message shown, and the list is back.
            await until(pilot, rows_loaded(app, 0, 1, 2), "the rows")
            await pilot.press("down", "enter")
            await until(pilot, lambda: isinstance(app.screen, MessageScreen), "the message")
            await pilot.press("d")
            await until(pilot, lambda: widget.total == 2, "the message deleted")
            assert not isinstance(app.screen, MessageScreen)
            assert _subject_list(app)() == ["Bob's message 132", "Bob's message 130"]

    run(scenario)
    assert list(_subjects(bob, "Tui12MoveTo").values()) == ["Bob's message 133"]
    assert sorted(_subjects(bob, "Tui12MoveFrom").values()) == [
        "Bob's message 130",
        "Bob's message 132",
    ]


def test_marked_messages_are_flagged_moved_and_deleted_together(
    dovecot: DovecotServer, bob: ImapClient
) -> None:
    _seed(dovecot, "Tui12Marks", range(140, 146))  # rows: 145 144 143 142 141 140
    bob.create_folder("Tui12MarksTo")
    trash = bob.special_folder("\\Trash")
    assert trash is not None
    app = MailApp(session_for(dovecot, BOB), start_folder="Tui12Marks", watch=False)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _opened(pilot, app, "Tui12Marks", 6, "Tui12MarksTo")
            widget = app.messages
            subjects = _subject_list(app)
            await pilot.press("space", "down", "space")  # 145 marked, 144 skipped, 143 marked
            assert widget.cursor == 3  # space moves on to the next row
            assert len(widget.marked) == 2
            picture = app.export_screenshot().replace("&#160;", " ")
            assert picture.count("✓") == 2  # the mark is shown in the row
            await pilot.press("space")  # and 142: three marked
            await pilot.press("space", "up", "space")  # 141 marked, then unmarked
            assert len(widget.marked) == 3

            await pilot.press("f")  # flag all marked
            await until(pilot, lambda: sum(r.flagged for r in widget.rows.values()) == 3, "flags")
            flagged = [r.subject for r in widget.rows.values() if r.flagged]
            assert flagged == ["Bob's message 145", "Bob's message 143", "Bob's message 142"]

            await pilot.press("m")
            await until(pilot, lambda: isinstance(app.screen, FolderPicker), "the picker")
            await pilot.press(*"tui12marksto", "enter")
            await until(pilot, lambda: widget.total == 3, "three rows gone")
            assert subjects() == ["Bob's message 144", "Bob's message 141", "Bob's message 140"]
            assert not widget.marked

            await pilot.press("u")  # undo brings the three back
            await until(pilot, lambda: widget.total == 6, "three back")
            await until(pilot, rows_loaded(app, *range(6)), "the rows")
            await until(pilot, lambda: app.last_change is None, "undone")

            await pilot.press("home", "space", "space")  # two marked, delete both to Trash
            await pilot.press("d")
            await until(pilot, lambda: widget.total == 4, "two deleted")

    run(scenario)
    moved_to = _subjects(bob, "Tui12MarksTo")
    assert moved_to == {}  # moved there, then back
    here = _subjects(bob, "Tui12Marks")
    assert len(here) == 4
    flags = {
        s.envelope.subject: s.flags
        for s in bob.iter_summaries(sorted(here))
        if s.envelope is not None
    }
    assert "\\Flagged" in flags["Bob's message 142"]  # flagged, moved and back: still flagged
    assert "\\Flagged" not in flags["Bob's message 141"]
    assert len(flags) == 4
    trashed = app.last_change
    assert trashed is not None and trashed.to == trash.name and len(trashed.uids) == 2


def test_a_folder_gone_meanwhile_is_an_error_and_nothing_moves(
    dovecot: DovecotServer, bob: ImapClient
) -> None:
    _seed(dovecot, "Tui12Gone", range(160, 162))
    bob.create_folder("Tui12GoneTo")
    app = MailApp(session_for(dovecot, BOB), start_folder="Tui12Gone", watch=False)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _opened(pilot, app, "Tui12Gone", 2, "Tui12GoneTo")
            await pilot.press("m")
            await until(pilot, lambda: isinstance(app.screen, FolderPicker), "the picker")
            bob.delete_folder("Tui12GoneTo")  # another program removes it meanwhile
            await pilot.press(*"tui12goneto", "enter")
            await until(pilot, lambda: isinstance(app.screen, ErrorScreen), "the error")
            screen = app.screen
            assert isinstance(screen, ErrorScreen)
            assert screen.doing == "move the messages to Tui12GoneTo"
            assert "Tui12GoneTo" in screen.sentence
            await pilot.press("enter")
            assert app.messages.total == 2 and app.last_change is None
            await pilot.press("u")
            assert "Nothing to undo" in str(app.query_one("#status").render())

    run(scenario)
    assert len(_subjects(bob, "Tui12Gone")) == 2


# ---------------------------------------------------------------- review: wrong folder


def test_delete_while_another_folder_is_opening_acts_on_the_listed_folder(
    dovecot: DovecotServer, bob: ImapClient
) -> None:
    """The list shows folder A; the user has asked for folder B (Enter in the tree), whose
    SELECT has gone through but whose FolderOpened the app has not handled yet (the workers
    share the connection behind a lock that is not FIFO). ``d`` takes A's UID under the cursor
    and the delete runs on whatever folder the connection has open: B's message of that UID
    goes to Trash, A's stays."""
    import threading

    _seed(dovecot, "Tui12RaceA", range(100, 103))
    _seed(dovecot, "Tui12RaceB", range(200, 203))
    app = MailApp(session_for(dovecot, BOB), start_folder="Tui12RaceA", watch=False)
    go = threading.Event()
    real_open = app.session.open_folder

    def slow_open(name: str):  # type: ignore[no-untyped-def]
        info = real_open(name)  # B selected (lock released), the reply not yet handled
        if name == "Tui12RaceB":
            go.wait(30)
        return info

    app.session.open_folder = slow_open  # type: ignore[method-assign]
    before_a = _subjects(bob, "Tui12RaceA")
    before_b = _subjects(bob, "Tui12RaceB")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _opened(pilot, app, "Tui12RaceA", 3)
            app.open_folder("Tui12RaceB")
            await until(pilot, lambda: app.session.folder == "Tui12RaceB", "B selected")
            assert app.folder is not None and app.folder.name == "Tui12RaceA"  # list: still A
            app.messages.focus()
            await pilot.press("d")  # A's newest message
            await until(pilot, lambda: app.last_change is not None, "the delete")
            go.set()

    try:
        run(scenario)
    finally:
        go.set()
    assert _subjects(bob, "Tui12RaceB") == before_b, "a message of the other folder was deleted"
    assert len(_subjects(bob, "Tui12RaceA")) == len(before_a) - 1


def test_a_move_that_left_copies_keeps_the_rows_and_says_so(
    dovecot: DovecotServer, bob: ImapClient
) -> None:
    """A move done as copy + delete that lost its connection in between (CopyResult's
    copies_left): the originals are still there, so the rows stay and nothing is undone."""
    _seed(dovecot, "Tui12CopiesLeft", range(170, 172))

    class CutAfterCopy(MailSession):
        def move(self, uids: Sequence[int], to: str, *, folder: str | None = None) -> CopyResult:
            with self.use() as client:
                self._writable(client, folder)
                copied = client.copy(uids, to)  # the copy, and then the connection is gone
            return dataclasses.replace(copied, copies_left=True)

    session = session_for(dovecot, BOB)
    app = MailApp(
        CutAfterCopy(session._connect, description=BOB),
        start_folder="Tui12CopiesLeft",
        watch=False,
    )

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _opened(pilot, app, "Tui12CopiesLeft", 2)
            await pilot.press("a")  # archive: a move
            status = app.query_one("#status")
            await until(pilot, lambda: "may still be here" in str(status.render()), "the line")
            assert status.has_class("error")
            assert app.messages.total == 2
            assert app.last_change is None  # nothing to undo: the copies stay
            await pilot.press("u")
            await until(pilot, lambda: "Nothing to undo" in str(status.render()), "no undo")

    run(scenario)
    assert len(_subjects(bob, "Tui12CopiesLeft")) == 2
