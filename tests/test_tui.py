"""The mail browser driven by Textual's pilot against the Dovecot test bed.

Each scenario runs in ``asyncio.run`` (no pytest plugin needed). Nothing here asserts a
duration: ``until`` waits for a condition with a generous bound, and fails only when the
condition never comes.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import pty
import runpy
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import ALICE, BOB
from o365imap import ImapClient
from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.mailmodel import SeedAddress, SeedMessage
from o365imap.sandbox.mailsamples import EXPECTED
from o365imap.sandbox.seed import MaildirWriter, Testbed
from test_cli import hostile_folder

textual = pytest.importorskip("textual")

from textual.pilot import Pilot  # noqa: E402
from textual.widgets import Input, Static, Tree  # noqa: E402
from textual.widgets.tree import TreeNode  # noqa: E402

if TYPE_CHECKING:
    from o365imap.tui.app import MailApp
    from o365imap.tui.model import FolderEntry, MailSession
    from o365imap.tui.screens import (
        ErrorScreen,
        HelpScreen,
        MessageScreen,
        SaveDialog,
        SearchScreen,
    )
    from o365imap.tui.widgets import PAGE_SIZE, MessageList


@pytest.fixture(autouse=True, scope="module")
def _tui() -> None:
    import_tui()


def import_tui(into: dict[str, object] | None = None) -> None:
    """Import the app when these tests run, not when pytest collects them: importing
    ``o365imap.tui`` adds it to the package's names, which test_architecture counts. The
    names go into this module's globals, and ``into`` (another test module's)."""
    from o365imap.tui import app, dialogs, model, screens, widgets

    names = {
        "MailApp": app.MailApp,
        "FolderEntry": model.FolderEntry,
        "MailSession": model.MailSession,
        "ErrorScreen": screens.ErrorScreen,
        "HelpScreen": screens.HelpScreen,
        "MessageScreen": screens.MessageScreen,
        "SaveDialog": screens.SaveDialog,
        "SearchScreen": screens.SearchScreen,
        "PAGE_SIZE": widgets.PAGE_SIZE,
        "MessageList": widgets.MessageList,
        "ConfirmScreen": dialogs.ConfirmScreen,
        "FolderPicker": dialogs.FolderPicker,
        "matching": dialogs.matching,
    }
    globals().update(names)
    if into is not None:
        into.update(names)


pytestmark = pytest.mark.dovecot

SIZE = (120, 36)


def session_for(dovecot: DovecotServer, user: str = ALICE, timeout: float = 20) -> MailSession:
    def mint() -> str:
        # Issued a minute ago: Dovecot's auth process judges "not valid yet" by a clock that
        # can lag a second behind (its log said "Token is not valid yet" for a fresh token).
        return dovecot.mint_token(user, now=time.time() - 60)

    def connect() -> ImapClient:
        client = ImapClient(
            dovecot.host, dovecot.imaps_port, ca_file=str(dovecot.ca_file), timeout=timeout
        )
        client.connect()
        client.authenticate_oauth(user, mint(), refresh=mint)
        return client

    return MailSession(connect, description=user)


async def until(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    """Let the app run until ``condition()``; a bound of 60 s only catches a hang."""
    for _ in range(1200):
        if condition():
            return
        await pilot.pause(0.05)
    app = pilot.app
    found = app.query("#status")
    status = str(found.first(Static).render()) if found else ""
    raise AssertionError(f"gave up waiting for {what}; screen {app.screen!r}; status {status!r}")


def run(scenario: Callable[[], object]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


def rows_loaded(app: MailApp, *indexes: int) -> Callable[[], bool]:
    return lambda: all(i in app.messages.rows for i in indexes)


def folder_open(app: MailApp, name: str) -> Callable[[], bool]:
    return lambda: app.folder is not None and app.folder.name == name and 0 in app.messages.rows


# ---------------------------------------------------------------- folders and the list


def test_folder_tree_puts_special_use_first_with_decoded_names_and_unread_counts(
    dovecot: DovecotServer, testbed: Testbed
) -> None:
    app = MailApp(session_for(dovecot), watch=False)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "Bulk" in app.unread, "unread counts")
            tree: Tree[FolderEntry] = app.query_one("#folders", Tree)
            entries = [n.data for n in _walk(tree.root) if n.data is not None]
            names = [e.name for e in entries]
            assert names[0] == "INBOX"
            specials = [e.special for e in entries if e.special]
            assert specials[:2] == ["inbox", "drafts"]
            top = [bool(e.special) for e in entries if e.parent is None]
            assert top == sorted(top, reverse=True)  # every special-use folder first
            assert set(specials) >= {"inbox", "sent", "drafts", "junk", "trash", "archive"}
            for name in ("Entwürfe", "Отчёты/2024", "日本語"):
                assert name in names
            child = app.nodes["Отчёты/2024"]
            assert child.parent is app.nodes["Отчёты"]
            assert str(child.label) == "2024"
            unread = sum(1 for m in testbed.bulk if "\\Seen" not in m.flags)
            assert app.unread["Bulk"] == unread
            assert f"({unread})" in str(app.nodes["Bulk"].label)

    run(scenario)


def _walk(node: TreeNode[FolderEntry]) -> Iterator[TreeNode[FolderEntry]]:
    for child in node.children:
        yield child
        yield from _walk(child)


def test_big_folder_opens_newest_first_and_loads_only_the_pages_seen(
    dovecot: DovecotServer, testbed: Testbed
) -> None:
    app = MailApp(session_for(dovecot), start_folder="Bulk", watch=False)
    bulk = testbed.bulk

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, folder_open(app, "Bulk"), "the first page")
            widget = app.messages
            assert widget.total == len(bulk) == 20_000
            assert widget.rows[0].uid == bulk[-1].uid  # newest first
            assert widget.rows[0].subject == bulk[-1].subject
            await until(pilot, lambda: 1 in widget.loaded_pages, "the next page")
            assert widget.loaded_pages == {0, 1}  # the page in view and the next one
            assert app.focused is widget
            await pilot.press("pagedown", "pagedown")
            assert widget.cursor > 40
            await pilot.press("end")
            last = len(bulk) - 1
            await until(pilot, rows_loaded(app, last), "the last page")
            assert widget.rows[last].uid == bulk[0].uid
            assert widget.cursor == last
            # Scrolling to the end never loaded the folder: a handful of pages of 400.
            assert len(widget.loaded_pages) <= 6
            assert len(widget.rows) <= 6 * PAGE_SIZE
            await pilot.press("home")
            assert widget.cursor == 0
            with_attachment = [i for i, r in widget.rows.items() if r.has_attachment]
            for index in with_attachment:
                uid = widget.rows[index].uid
                assert next(m for m in bulk if m.uid == uid).attachments

    run(scenario)


def test_the_first_page_is_asked_before_any_unread_count(
    dovecot: DovecotServer, testbed: Testbed, caplog: pytest.LogCaptureFixture
) -> None:
    """Before the first screen only what it needs goes to the server: sign-in, LIST, EXAMINE,
    the page's FETCH. The STATUS of every folder comes after: each one makes the server open
    that folder (most of a second for a folder of 100,000 messages on Dovecot's Maildir), and
    the first page would wait behind them on the one connection."""
    caplog.set_level(logging.DEBUG, logger="o365imap.wire")
    app = MailApp(session_for(dovecot), start_folder="Bulk", watch=False)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, folder_open(app, "Bulk"), "the first page")
            selectable = {n for n, e in app.entries.items() if e.selectable}
            await until(pilot, lambda: selectable <= set(app.unread), "every unread count")

    run(scenario)
    sent = [
        r.getMessage().split()[2]
        for r in caplog.records
        if r.name == "o365imap.wire" and r.getMessage().startswith("C: ")
    ]
    first_page = sent.index("FETCH")
    assert sent[: first_page + 1] == ["AUTHENTICATE", "LIST", "EXAMINE", "FETCH"]
    assert sent.count("STATUS") == len([e for e in app.entries.values() if e.selectable])
    assert "SELECT" not in sent  # looking is read-only, start to end


# ---------------------------------------------------------------- a message and its parts


def test_open_a_message_and_save_all_its_attachments_from_the_keyboard(
    dovecot: DovecotServer, testbed: Testbed, tmp_path: Path
) -> None:
    tag = next(t for t, files in sorted(EXPECTED.items()) if len(files) >= 2)
    seed = testbed.tagged(tag, "Attachments")
    newest_first = sorted(testbed.folders["Attachments"], key=lambda m: -m.uid)
    index = next(i for i, m in enumerate(newest_first) if m.uid == seed.uid)
    app = MailApp(session_for(dovecot), start_folder="Attachments", watch=False)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, folder_open(app, "Attachments"), "the folder")
            await until(pilot, lambda: len(app.messages.rows) == app.messages.total, "rows")
            for _ in range(index):
                await pilot.press("down")
            assert app.messages.current is not None
            assert app.messages.current.uid == seed.uid
            assert app.messages.current.has_attachment
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, MessageScreen), "the message")
            screen = app.screen
            assert isinstance(screen, MessageScreen)
            await until(pilot, lambda: screen.view is not None, "the message's text")
            assert screen.view is not None
            assert len(screen.view.parts) >= 2
            headers = str(screen.query_one("#msg-headers", Static).render())
            assert seed.subject is not None and seed.subject in headers
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, SaveDialog), "the save dialog")
            app.screen.query_one("#save-dir", Input).value = str(tmp_path / "out")
            await pilot.press("enter")
            await until(pilot, lambda: "Saved" in _text(screen, "#msg-status"), "saving")
            files = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
            assert files == dict(EXPECTED[tag])
            assert screen.query_one("#msg-progress").display
            await pilot.press("escape")
            assert isinstance(app.screen.query_one("#messages"), MessageList)
            # A folder that cannot be made: said in a sentence, not as a bug to report
            (tmp_path / "file").write_bytes(b"")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, MessageScreen), "the message")
            await until(pilot, lambda: app.screen.view is not None, "the message's text")  # type: ignore[attr-defined]
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, SaveDialog), "the save dialog")
            app.screen.query_one("#save-dir", Input).value = str(tmp_path / "file" / "dir")
            await pilot.press("enter")
            await until_error(pilot)
            said = _text(app.screen, "#error-text")
            assert "cannot make the folder" in said and "unexpected" not in said, said

    run(scenario)


async def until_error(pilot: Pilot[None]) -> None:
    """Until an ErrorScreen shows its text: pushed is not yet composed, and on a busy machine
    the text comes a frame later."""
    app = pilot.app
    await until(
        pilot,
        lambda: isinstance(app.screen, ErrorScreen) and bool(app.screen.query("#error-text")),
        "the error",
    )


def _text(screen: object, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())  # type: ignore[attr-defined]


# ---------------------------------------------------------------- search, help, errors


def test_search_shows_the_server_results_in_the_list_and_escape_returns(
    dovecot: DovecotServer, testbed: Testbed
) -> None:
    bulk = testbed.bulk
    word = next(
        w
        for m in bulk[100:]
        if m.subject and m.subject.isascii()
        for w in m.subject.split()
        if len(w) > 6 and w.isalpha()
    )
    expected = sorted(
        (m.uid for m in bulk if m.subject and word.lower() in m.subject.lower()), reverse=True
    )
    app = MailApp(session_for(dovecot), start_folder="Bulk", watch=False)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, folder_open(app, "Bulk"), "the folder")
            await pilot.press("slash")
            await until(pilot, lambda: isinstance(app.screen, SearchScreen), "the search form")
            app.screen.query_one("#search-subject", Input).value = word
            app.screen.query_one("#search-subject", Input).focus()
            await pilot.press("enter")
            await until(pilot, lambda: app.search_query is not None, "the results")
            widget = app.messages
            assert widget.total == len(expected)
            shown = min(len(expected), PAGE_SIZE)
            await until(pilot, rows_loaded(app, *range(shown)), "the first results")
            assert [widget.rows[i].uid for i in range(shown)] == expected[:shown]
            assert word in _text(app.screen, "#list-title")
            await pilot.press("escape")
            await until(pilot, lambda: app.search_query is None, "the folder again")
            await until(pilot, lambda: widget.total == len(bulk), "all of Bulk")

    run(scenario)


def test_help_screen_lists_the_keys(dovecot: DovecotServer, testbed: Testbed) -> None:
    app = MailApp(session_for(dovecot), watch=False)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("question_mark")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
            await pilot.pause(0.1)
            picture = app.export_screenshot().replace("&#160;", " ")  # what is on the screen
            for words in ("search this folder", "save all attachments", "Enter", "Shift+Tab"):
                assert words in picture
            for words in (
                "thread view on / off",
                "fold or unfold",
                "folder pane",
                "next / previous",
            ):
                assert words in picture
            for words in ("delete permanently", "archive", "move to a folder", "undo the last"):
                assert words in picture
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)

    run(scenario)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_server_that_stalls_does_not_freeze_the_ui(silent_server: int) -> None:
    def connect() -> ImapClient:
        client = ImapClient("127.0.0.1", silent_server, security="plain", timeout=2.0)
        client.connect()  # waits for a greeting that never comes
        return client

    app = MailApp(MailSession(connect), watch=False)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            # While the worker waits for the server, keys still work.
            await pilot.press("question_mark")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help while waiting")
            assert app.last_error is None  # the server has not timed out yet
            await pilot.press("escape")
            await until_error(pilot)
            screen = app.screen
            assert isinstance(screen, ErrorScreen)
            assert "did not answer" in screen.sentence
            assert "retry" in screen.hint
            assert "Traceback" not in _text(app.screen, "#error-text")
            await pilot.press("enter")
            assert not isinstance(app.screen, ErrorScreen)
            assert "did not answer" in _text(app.screen, "#status")

    run(scenario)


# ---------------------------------------------------------------- flags and new mail (bob)


def _bob_message(n: int) -> SeedMessage:
    when = datetime(2025, 1, 1, 9, 0, tzinfo=UTC) + timedelta(hours=n)
    return SeedMessage(
        date=when,
        subject=f"Bob's message {n}",
        from_=(SeedAddress("Carol", "carol@example.net"),),
        to=(SeedAddress("Bob", BOB),),
        body=f"Hello number {n}.\n",
    )


def test_flags_change_from_the_list_and_new_mail_appears(dovecot: DovecotServer) -> None:
    writer = MaildirWriter(dovecot.maildir(BOB), dovecot.mail_owner)
    writer.write("TuiFlags", [_bob_message(n) for n in range(3)])
    app = MailApp(session_for(dovecot, BOB), start_folder="TuiFlags")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, folder_open(app, "TuiFlags"), "the folder")
            widget = app.messages
            await until(pilot, rows_loaded(app, 0, 1, 2), "the rows")
            assert widget.rows[0].unread and not widget.rows[0].flagged
            await pilot.press("f")
            await until(pilot, lambda: widget.rows[0].flagged, "the flag")
            await pilot.press("r")
            await until(pilot, lambda: not widget.rows[0].unread, "read")
            await pilot.press("U")
            await until(pilot, lambda: widget.rows[0].unread, "unread")
            writer.write("TuiFlags", [_bob_message(3)])
            await until(pilot, lambda: widget.total == 4, "the new message")
            await until(pilot, rows_loaded(app, 0), "the new row")
            assert widget.rows[0].subject == "Bob's message 3"
            assert widget.rows[1].flagged  # the cursor's message kept its place and flags
            assert widget.cursor == 1

    run(scenario)


def test_unread_count_follows_read_unread_and_new_mail(dovecot: DovecotServer) -> None:
    writer = MaildirWriter(dovecot.maildir(BOB), dovecot.mail_owner)
    writer.write("TuiUnread", [_bob_message(n) for n in range(20, 23)])
    app = MailApp(session_for(dovecot, BOB), start_folder="TuiUnread")

    def shows(count: int) -> Callable[[], bool]:
        def check() -> bool:
            node = app.nodes.get("TuiUnread")
            return (
                app.unread.get("TuiUnread") == count
                and node is not None
                and str(node.label).endswith(f"TuiUnread ({count})")
                and f"{count} unread" in _text(app.screen_stack[0], "#list-title")
            )

        return check

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, folder_open(app, "TuiUnread"), "the folder")
            await until(pilot, rows_loaded(app, 0, 1, 2), "the rows")
            await until(pilot, shows(3), "three unread")
            widget = app.messages
            await pilot.press("r")  # in the list
            await until(pilot, lambda: not widget.rows[0].unread, "read")
            await until(pilot, shows(2), "two unread after r")
            await pilot.press("U")
            await until(pilot, shows(3), "three unread after U")
            await pilot.press("down", "enter")  # in the message view
            await until(pilot, lambda: isinstance(app.screen, MessageScreen), "the message")
            screen = app.screen
            assert isinstance(screen, MessageScreen)
            await until(pilot, lambda: screen.view is not None, "the message's text")
            await pilot.press("r")
            await until(pilot, shows(2), "two unread after r in the message")
            assert not widget.rows[1].unread
            await pilot.press("escape")
            writer.write("TuiUnread", [_bob_message(23)])  # new mail, unread
            await until(pilot, lambda: widget.total == 4, "the new message")
            await until(pilot, shows(3), "three unread with the new mail")

    run(scenario)


def test_tui_without_textual_prints_the_install_hint() -> None:
    code = (
        "import sys; sys.modules['textual'] = None\n"
        "from o365imap.cli import main\n"
        "main(['tui', '--access-token', 'x', '--user', 'a@b'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "o365imap tui needs Textual: pip install 'o365imap[tui]'"


def _read_until(fd: int, proc: subprocess.Popen[bytes], seen: Callable[[bytes], bool]) -> bytes:
    """What the terminal ``fd`` shows, read until ``seen`` says so or the program ends."""
    out = b""
    deadline = time.monotonic() + 60
    while not seen(out) and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the program closed its terminal
                break
            out += data
        elif proc.poll() is not None:
            break
    return out


def test_sigterm_ends_the_browser_with_the_terminal_restored(
    dovecot: DovecotServer, testbed: Testbed
) -> None:
    """Without its handler, SIGTERM killed the app in the alternate screen, keys unechoed."""
    main, terminal = pty.openpty()
    # 120 columns: under 100 the folder pane, whose "Entw" is awaited below, starts hidden.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    args = ["tui", "--host", dovecot.host, "--port", str(dovecot.imaps_port)]
    args += ["--ca-file", str(dovecot.ca_file), "--user", ALICE]
    token = dovecot.mint_token(ALICE, now=time.time() - 60)  # see session_for
    environment = dict(os.environ, O365IMAP_ACCESS_TOKEN=token, TERM="xterm-256color")
    with subprocess.Popen(
        [sys.executable, "-m", "o365imap", *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=environment,
    ) as proc:
        os.close(terminal)
        try:
            shown = _read_until(main, proc, lambda out: b"Entw" in out)  # the folder tree
            assert b"Entw" in shown, shown[-500:]
            proc.send_signal(signal.SIGTERM)
            after = _read_until(main, proc, lambda out: out.endswith(b".\r\n"))
            code = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            os.close(main)
    assert code == 143
    assert after.endswith(b"o365imap: stopped by SIGTERM.\r\n"), after[-200:]
    # Before the sentence, the alternate screen was left: the shell's screen is back.
    assert b"\x1b[?1049l" in after[: -len(b"o365imap: stopped by SIGTERM.\r\n")], after[-200:]


def test_screenshots_of_the_main_screens(
    dovecot: DovecotServer, testbed: Testbed, tmp_path: Path
) -> None:
    """The generator of docs/screenshots (scripts/screenshots.py) still reaches every screen
    it pictures."""
    script = Path(__file__).resolve().parent.parent / "scripts" / "screenshots.py"
    take_screenshots = runpy.run_path(str(script))["take_screenshots"]
    paths = take_screenshots(session_for(dovecot), tmp_path)
    names = {p.name: p.read_text(encoding="utf-8") for p in paths}
    assert set(names) == {
        "main.svg", "main-80x24.svg", "move-picker.svg", "search-form.svg", "search-results.svg",
        "help.svg", "message.svg",
    }  # fmt: skip
    assert all(text.startswith("<svg") for text in names.values())
    # The main screen: the thread view, a tree and the replied / forwarded marks
    main = names["main.svg"]
    assert "Launch:&#160;12&#160;messages" in main
    assert "├─&gt;" in main and "└─&gt;" in main
    assert "&#160;r&#160;" in main and "&#160;f&#160;" in main
    assert "Inbox:&#160;" in names["main-80x24.svg"] or "INBOX:&#160;" in names["main-80x24.svg"]
    assert "efore&#160;YYYY-MM-DD" in names["search-form.svg"]  # B is under the cursor
    assert "found&#160;for&#160;subject" in names["search-results.svg"]
    assert "Save&#160;all" in names["message.svg"]
    assert "Move&#160;2&#160;messages&#160;to:" in names["move-picker.svg"]


def test_client_idle_returns_on_new_mail_and_on_stop(dovecot: DovecotServer) -> None:
    writer = MaildirWriter(dovecot.maildir(BOB), dovecot.mail_owner)
    writer.write("TuiIdle", [_bob_message(10)])
    with ImapClient(
        dovecot.host, dovecot.imaps_port, ca_file=str(dovecot.ca_file), timeout=20
    ) as client:
        client.authenticate_oauth(BOB, dovecot.mint_token(BOB))
        client.select("TuiIdle", readonly=True)
        assert not client.idle(60, stop=lambda: True)  # asked to stop: DONE at once
        assert client.exists == 1
        timer = threading.Timer(0.3, writer.write, ("TuiIdle", [_bob_message(11)]))
        timer.start()
        try:
            seen = client.idle(60)  # the bound only catches a server that never tells
        finally:
            timer.join()
        assert seen.exists == 2
        assert client.exists == 2
        client.noop()  # the connection is ready for commands again
        assert len(client.find(subject="Bob's message 11")) == 1


def test_strangers_text_reaches_the_screen_without_its_escapes(dovecot: DovecotServer) -> None:
    hostile_folder(dovecot, "HostileTui")
    app = MailApp(session_for(dovecot, BOB), start_folder="HostileTui", watch=False)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, folder_open(app, "HostileTui"), "the folder")
            await until(pilot, rows_loaded(app, 0, 1), "the rows")
            rows = [app.messages.rows[0], app.messages.rows[1]]
            assert [r.uid for r in rows] == [3, 2]
            assert rows[0].subject == "Fwd: Ticket 123 resolved"
            assert rows[1].subject.startswith("Red \ufffd[31malert")
            for row in rows:
                assert "\x1b" not in row.sender and "\x07" not in row.sender
            await pilot.press("down", "enter")
            await until(pilot, lambda: isinstance(app.screen, MessageScreen), "the message")
            screen = app.screen
            assert isinstance(screen, MessageScreen)
            await until(pilot, lambda: screen.view is not None, "the message's text")
            shown = _text(screen, "#msg-headers") + _text(screen, "#msg-body")
            assert "Red \ufffd[31malert" in shown and "Hello \ufffd]0;pwned\ufffd there." in shown
            for bad in ("\x1b", "\x07", "\u202e"):
                assert bad not in shown

    run(scenario)


def test_an_80_by_24_terminal_still_shows_the_subjects(
    dovecot: DovecotServer, testbed: Testbed
) -> None:
    app = MailApp(session_for(dovecot), start_folder="INBOX", watch=False)
    subject = max(testbed.inbox, key=lambda m: m.uid).subject
    assert subject is not None

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, folder_open(app, "INBOX"), "the folder")
            await until(pilot, rows_loaded(app, 0), "the first row")
            await pilot.pause()
            line = "".join(segment.text for segment in app.messages.render_line(0))
            assert subject[:18] in line, line
            # g (reload, also after a lost connection) keeps the reader's place
            await pilot.press("down", "down", "down")
            assert app.messages.cursor == 3
            generation = app.messages.generation
            await pilot.press("g")
            await until(pilot, lambda: app.messages.generation > generation, "reloaded")
            await until(pilot, rows_loaded(app, 3), "the rows again")
            assert app.messages.cursor == 3
            await pilot.press("home")
            # g in the message view reads it again (what error messages offer)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, MessageScreen), "the message")
            screen = app.screen
            assert isinstance(screen, MessageScreen)
            await until(pilot, lambda: screen.view is not None, "the message's text")
            first = screen.view
            await pilot.press("g")
            await until(pilot, lambda: screen.view is not first, "the message read again")

    run(scenario)


# ---------------------------------------------------------------- issue 15: threads, marks, keys


def _screenshots_script() -> dict[str, object]:
    script = Path(__file__).resolve().parent.parent / "scripts" / "screenshots.py"
    return runpy.run_path(str(script))


def _bob(dovecot: DovecotServer) -> ImapClient:
    """Bob's client, signed in (a context manager: it logs out at the end)."""
    client = ImapClient(dovecot.host, dovecot.imaps_port, ca_file=str(dovecot.ca_file), timeout=20)
    client.connect()
    client.authenticate_oauth(BOB, dovecot.mint_token(BOB, now=time.time() - 60))  # see session_for
    return client


def _line(app: MailApp, index: int) -> str:
    """The list's line ``index`` as drawn (scrolled to the top)."""
    return "".join(segment.text for segment in app.messages.render_line(index))


@pytest.fixture
def new_york(reader_zone: Callable[[str], None]) -> None:
    """The reader's zone is New York (UTC-5 in March): local times differ from UTC."""
    reader_zone("America/New_York")


def test_a_re_chain_shows_as_a_tree_that_folds_with_marks_and_next_previous_keys(
    dovecot: DovecotServer, new_york: None
) -> None:
    """The conversation the screenshots show, APPENDed with its headers to Bob's folder."""
    with _bob(dovecot) as client:
        append_threads = _screenshots_script()["append_threads"]
        count = append_threads(client, "TuiThreads")  # type: ignore[operator]
    assert count == 12
    app = MailApp(session_for(dovecot, BOB), start_folder="TuiThreads", watch=False)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, folder_open(app, "TuiThreads"), "the folder")
            widget = app.messages
            await until(pilot, rows_loaded(app, *range(count)), "the rows")
            flat = [widget.rows[i].subject for i in range(count)]
            assert flat[0] == "Re: Press release draft v3"  # newest first
            await pilot.press("T")
            await until(pilot, lambda: widget.threads is not None, "the threads")
            shown = [(widget.branches[widget.rows[i].uid or 0], widget.rows[i].subject) for i in range(count)]  # fmt: skip
            # The press thread had the latest reply: first; inside it, in the order written.
            assert shown[:3] == [
                ("", "Press release draft v3"),
                ("└─>", "Re: Press release draft v3"),
                ("  └─>", "Re: Press release draft v3"),
            ]
            assert shown[3] == ("", "Budget sign-off needed by Friday")
            plan = [tree for tree, subject in shown if "Launch plan" in subject]
            assert plan == ["", "└─>", "  ├─>", "  └─>", "    └─>"]
            start = [subject for _, subject in shown].index("Launch plan for the spring release")
            # Drawn before the subject, with the replied / forwarded marks in the flag column
            assert "  ├─> Re: Launch plan" in _line(app, start + 2)
            assert _line(app, start)[3] == "r"  # \Answered, in the fourth column of marks
            assert _line(app, start + 2)[3] == "f"  # $Forwarded
            venue = [subject for _, subject in shown].index("Venue options for the launch event")
            assert _line(app, venue + 1)[3] == "b"  # both
            # z on a reply folds its whole thread onto the root, with the count; z unfolds
            widget.move_to(start + 3)
            await pilot.press("z")
            assert widget.total == count - 4
            assert widget.current is not None
            assert widget.current.subject == "Launch plan for the spring release"
            assert "[+4] Launch plan" in _line(app, start)
            # g (reload, as after a lost connection) threads again: the fold and the cursor stay
            asked = app.thread_request
            await pilot.press("g")
            threaded = lambda: app.thread_request > asked and widget.threads is not None  # noqa: E731
            await until(pilot, threaded, "the threads again")
            assert widget.total == count - 4
            assert widget.current is not None
            assert widget.current.subject == "Launch plan for the spring release"
            await pilot.press("z")
            assert widget.total == count
            # The message view: the list's date, in local time; J and K go through the
            # threaded order, and the list's cursor follows.
            widget.move_to(start)
            date = _line(app, start)[6:22]
            assert date == "2025-03-03 03:00"  # sent at 08:00 UTC, read in New York
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, MessageScreen), "the message")
            screen = app.screen
            assert isinstance(screen, MessageScreen)
            await until(pilot, lambda: screen.view is not None, "the message's text")
            assert date in _text(screen, "#msg-headers")
            assert "replied" in _text(screen, "#msg-headers")
            await pilot.press("J")
            await until(pilot, lambda: screen.view is not None, "the next message")
            assert widget.cursor == start + 1
            assert "Adele Vance" in _text(screen, "#msg-headers")
            assert screen.uid == widget.rows[start + 1].uid
            await pilot.press("K", "K")
            await until(pilot, lambda: widget.cursor == start - 1, "two back")
            await until(pilot, lambda: screen.view is not None, "the previous message")
            assert "Re: Venue options" in _text(screen, "#msg-headers")  # the thread before
            await pilot.press("s")  # no attachments: said, not silent
            assert "This message has no attachments." in _text(screen, "#msg-status")
            await pilot.press("escape")
            widget.move_to(0)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, MessageScreen), "the first")
            first = app.screen
            assert isinstance(first, MessageScreen)
            await until(pilot, lambda: first.view is not None, "the message's text")
            await pilot.press("p")
            assert "first message" in _text(first, "#msg-status")
            await pilot.press("escape")
            # References came with the rows (one FETCH): the ids before the parent too
            assert widget.threads is not None
            plan_4 = next(r for r in widget.threads.rows if r.links.message_id == "<plan-4.launch@contoso.example>")  # fmt: skip
            assert plan_4.references is not None
            assert "<plan.launch@contoso.example>" in plan_4.references
            # Search results are threaded too (by UID), and Escape threads the folder again
            await pilot.press("slash")
            await until(pilot, lambda: isinstance(app.screen, SearchScreen), "the search form")
            app.screen.query_one("#search-subject", Input).value = "Launch plan"
            app.screen.query_one("#search-subject", Input).focus()
            await pilot.press("enter")
            found = lambda: app.search_query is not None and widget.threads is not None  # noqa: E731
            await until(pilot, found, "the results threaded")
            assert [widget.branches[widget.rows[i].uid or 0] for i in range(widget.total)] == [
                "", "└─>", "  ├─>", "  └─>", "    └─>"
            ]  # fmt: skip
            await pilot.press("escape")
            back = lambda: app.search_query is None and widget.threads is not None  # noqa: E731
            await until(pilot, back, "the folder threaded")
            assert widget.total == count
            await pilot.press("T")  # back to the flat list, newest first
            assert widget.threads is None
            await until(pilot, rows_loaded(app, 0), "the flat list")
            assert widget.rows[0].subject == "Re: Press release draft v3"

    run(scenario)


def test_enter_on_a_folder_moves_the_focus_to_the_list(
    dovecot: DovecotServer, testbed: Testbed
) -> None:
    app = MailApp(session_for(dovecot), start_folder="INBOX", watch=False)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, folder_open(app, "INBOX"), "the folder")
            tree = app.query_one("#folders", Tree)
            tree.focus()
            tree.move_cursor(app.nodes["Bulk"])
            await pilot.press("r")  # a message key in the folder tree: says why not
            assert "Choose a message in the list first" in _text(app.screen, "#status")
            # The connection held (a slow server): the focus moves at once, not when it opens
            with app.session._lock:
                await pilot.press("enter")
                assert app.focused is app.messages
                assert app.folder is not None and app.folder.name == "INBOX"
            await until(pilot, folder_open(app, "Bulk"), "Bulk")
            await pilot.press("pagedown")
            assert app.messages.cursor > 10
            assert tree.cursor_node is app.nodes["Bulk"]

    run(scenario)


def test_at_80_columns_the_footer_still_shows_help_and_quit(
    dovecot: DovecotServer, testbed: Testbed
) -> None:
    app = MailApp(session_for(dovecot), start_folder="INBOX", watch=False)

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, folder_open(app, "INBOX"), "the folder")
            await until(pilot, lambda: app.focused is app.messages, "the list")
            await pilot.pause()  # the footer redrawn for the list's keys
            picture = app.export_screenshot().replace("&#160;", " ")
            assert "Help" in picture and "Quit" in picture

    run(scenario)


def test_keys_that_can_do_nothing_say_why(dovecot: DovecotServer) -> None:
    with _bob(dovecot) as client:
        client.create_folder("TuiEmpty", exist_ok=True)
    app = MailApp(session_for(dovecot, BOB), start_folder="TuiEmpty", watch=False)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.folder is not None, "the folder")
            await until(pilot, lambda: app.focused is app.messages, "the list")
            said = []
            for key in ("space", "enter", "d", "f", "z", "escape"):
                await pilot.press(key)
                said.append(_text(app.screen, "#status"))
            assert said[:4] == ["This folder is empty"] * 4
            assert "T turns it on" in said[4]
            assert "No search to leave" in said[5]
            for key in ("j", "k", "pagedown", "pageup", "home", "end"):  # moving, nowhere to go
                app.query_one("#status", Static).update("")
                await pilot.press(key)
                assert _text(app.screen, "#status") == "This folder is empty", key

    run(scenario)


def test_at_80_by_24_the_folder_pane_hides_and_the_search_form_fits(
    dovecot: DovecotServer, testbed: Testbed
) -> None:
    app = MailApp(session_for(dovecot), start_folder="Bulk", watch=False)

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, folder_open(app, "Bulk"), "the folder")
            await pilot.pause()
            tree = app.query_one("#folders", Tree)
            assert not tree.display  # hidden under 100 columns, and said so
            assert "B shows the folders" in _text(app.screen, "#status")
            # The subject's column: from its first letter to the size column at the end.
            row = app.messages.rows[0]
            line = _line(app, 0)
            start = line.index(row.subject[:8])
            column = len(line) - 9 - start
            assert column >= 34, line  # it was 18 beside the folder pane
            assert row.subject[:column].rstrip() in line
            await pilot.press("B")
            assert tree.display and app.focused is tree
            await pilot.press("B")
            assert not tree.display and app.focused is app.messages
            await pilot.press("slash")
            await until(pilot, lambda: isinstance(app.screen, SearchScreen), "the search form")
            await pilot.pause(0.1)
            screen = app.screen
            fields = ["from", "subject", "text", "since", "before", "unseen", "go"]
            for name in fields:
                region = screen.query_one(f"#search-{name}").region
                assert region.height > 0 and region.x >= 0 and region.y >= 0, name
                assert region.right <= 80 and region.bottom <= 24, (name, region)
            before = screen.query_one("#search-before").region
            since = screen.query_one("#search-since").region
            assert not before.overlaps(since)

    run(scenario)


@pytest.mark.parametrize("answer", ["text", "failure"])
def test_a_message_left_with_j_before_its_answer_does_not_replace_the_next(
    dovecot: DovecotServer, testbed: Testbed, answer: str
) -> None:
    """J pressed before the message has come: its text or its failure, arriving late, must
    not replace the next one's view (d, m, s and the flags act on that UID) nor push an error
    screen over it."""
    app = MailApp(session_for(dovecot), start_folder="INBOX", watch=False)
    session = app.session
    real = session.open_message
    late = threading.Event()
    asked: list[int] = []

    def open_message(uid: int) -> object:
        asked.append(uid)
        if len(asked) > 1:
            return real(uid)
        view = real(uid)
        late.wait(30)  # the first message's answer comes after the second's
        if answer == "failure":
            raise ConnectionError("the first message's fetch broke")
        return view

    session.open_message = open_message  # type: ignore[assignment]

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, folder_open(app, "INBOX"), "the folder")
            await until(pilot, rows_loaded(app, 0, 1), "the rows")
            second = app.messages.rows[1]
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, MessageScreen), "the message")
            screen = app.screen
            assert isinstance(screen, MessageScreen)
            await until(pilot, lambda: len(asked) == 1, "the first message asked for")
            await pilot.press("J")
            assert screen.uid == second.uid
            await until(pilot, lambda: screen.view is not None, "the second message")
            late.set()

            def answered() -> bool:
                return not any(w.node is screen and not w.is_finished for w in app.workers)

            await until(pilot, answered, "the first message's answer")
            await pilot.pause()
            assert screen.view is not None
            assert screen.view.summary.uid == screen.uid == second.uid
            assert second.subject in _text(screen, "#msg-headers")
            assert app.screen is screen  # no error screen pushed over it

    try:
        run(scenario)
    finally:
        late.set()


def test_a_start_folder_that_is_not_there_shows_the_folders_even_at_80_columns(
    dovecot: DovecotServer, testbed: Testbed
) -> None:
    """The pane starts hidden under 100 columns; with no folder opened, it was a blank list
    and the number of folders, with no word of B."""
    app = MailApp(session_for(dovecot), start_folder="NoSuchFolder", watch=False)

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: bool(app.entries), "the folders")
            await pilot.pause()
            tree = app.query_one("#folders", Tree)
            assert tree.display and app.focused is tree
            assert "No folder named NoSuchFolder" in _text(app.screen, "#status")

    run(scenario)


def test_a_message_deleted_from_threaded_search_results_stays_gone_in_the_flat_list(
    dovecot: DovecotServer,
) -> None:
    """T off after a delete in threaded search results: the flat list was rebuilt from the
    results as first found, the deleted UID among them (a row too many, one never loaded,
    the rows after it one place off)."""
    with _bob(dovecot) as client:
        append_threads = _screenshots_script()["append_threads"]
        append_threads(client, "TuiThreadsDel")  # type: ignore[operator]
    app = MailApp(session_for(dovecot, BOB), start_folder="TuiThreadsDel", watch=False)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, folder_open(app, "TuiThreadsDel"), "the folder")
            widget = app.messages
            await pilot.press("slash")
            await until(pilot, lambda: isinstance(app.screen, SearchScreen), "the search form")
            app.screen.query_one("#search-subject", Input).value = "Launch plan"
            app.screen.query_one("#search-subject", Input).focus()
            await pilot.press("enter")
            await until(pilot, lambda: app.search_query is not None, "the results")
            await until(pilot, rows_loaded(app, 0), "the first result")
            found = widget.total
            await pilot.press("T")
            await until(pilot, lambda: widget.threads is not None, "the results threaded")
            gone = widget.current.uid if widget.current is not None else None
            await pilot.press("d")
            await until(pilot, lambda: widget.total == found - 1, "the message deleted")
            assert f"{found - 1} found" in str(app.query_one("#list-title", Static).render())
            await pilot.press("T")
            assert widget.threads is None
            assert widget.total == found - 1
            await until(pilot, rows_loaded(app, *range(found - 1)), "the flat results")
            assert gone not in [widget.rows[i].uid for i in range(widget.total)]
            assert [widget.rows[i].uid for i in range(widget.total)] == widget.uids

    run(scenario)


def test_an_attachments_name_in_the_save_dialog_is_text_not_markup(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    """The sender names the file: "[bold]" in it must show as written, and "[@click=...]"
    must not make the dialog's line run an action of the app when clicked."""
    name = "[@click=app.quit]Invoice [bold]2025.pdf"
    raw = (
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: Invoice\r\n"
        "Message-ID: <invoice@example.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nAttached.\r\n"
        f'--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="{name}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n"
    )
    with _bob(dovecot) as client:
        client.create_folder("TuiMarkupName", exist_ok=True)
        client.append("TuiMarkupName", raw.encode())
    app = MailApp(session_for(dovecot, BOB), start_folder="TuiMarkupName", watch=False)
    app.download_dir = tmp_path

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, folder_open(app, "TuiMarkupName"), "the folder")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, MessageScreen), "the message")
            screen = app.screen
            assert isinstance(screen, MessageScreen)
            await until(pilot, lambda: screen.view is not None, "the message's text")
            assert screen.view is not None
            saved_as = screen.view.parts[0].safe_name
            assert "[bold]" in saved_as
            await pilot.press("s")
            await until(pilot, lambda: isinstance(app.screen, SaveDialog), "the save dialog")
            label = app.screen.query("Label").first()
            assert f"Save {saved_as} into the folder:" == str(label.render())
            await pilot.click(label)
            await pilot.pause()
            assert app.is_running and isinstance(app.screen, SaveDialog)

    run(scenario)
