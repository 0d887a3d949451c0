"""SVG pictures of the mail browser's main screens, for docs/screenshots and the README.

``python scripts/screenshots.py docs/screenshots`` (in the project's venv) seeds a private
Dovecot with the test bed's mailbox (as ``o365imap sandbox`` does) and drives the app with
Textual's pilot: the same steps a person takes, so a picture shows what the app really draws.

A tool for writing the docs, not part of the package: the product never imports the sandbox
(tests/test_architecture.py). tests/test_tui.py runs ``take_screenshots`` on its test bed.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from textual.pilot import Pilot

from o365imap import ImapClient, open_token
from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.seed import seed_testbed
from o365imap.tui.app import MailApp
from o365imap.tui.dialogs import FolderPicker
from o365imap.tui.model import MailSession
from o365imap.tui.screens import HelpScreen, MessageScreen, SearchScreen

__all__ = ["THREADS_FOLDER", "append_threads", "take_screenshots"]

SIZE = (120, 35)
NARROW = (80, 24)
THREADS_FOLDER = "Launch"

# A folder of conversations for the thread view's picture: (key, the key it answers, sender,
# subject, hours after the start, flags). Replies carry In-Reply-To and References.
_CONVERSATION = (
    (
        "plan",
        None,
        "Megan Bowen",
        "Launch plan for the spring release",
        0,
        ("\\Seen", "\\Answered"),
    ),
    ("plan-1", "plan", "Adele Vance", "Re: Launch plan for the spring release", 2, ("\\Seen",)),
    (
        "plan-2",
        "plan-1",
        "Megan Bowen",
        "Re: Launch plan for the spring release",
        5,
        ("\\Seen", "$Forwarded"),
    ),
    (
        "plan-3",
        "plan-1",
        "Lee Gu",
        "Re: Launch plan for the spring release",
        7,
        ("\\Seen", "\\Answered"),
    ),
    ("plan-4", "plan-3", "Adele Vance", "Re: Launch plan for the spring release", 9, ("\\Seen",)),
    (
        "venue",
        None,
        "Isaiah Langer",
        "Venue options for the launch event",
        12,
        ("\\Seen", "$Forwarded"),
    ),
    (
        "venue-1",
        "venue",
        "Nestor Wilke",
        "Re: Venue options for the launch event",
        20,
        ("\\Seen", "\\Answered", "$Forwarded"),
    ),
    ("venue-2", "venue", "Lee Gu", "Re: Venue options for the launch event", 26, ()),
    ("press", None, "Pradeep Gupta", "Press release draft v3", 30, ("\\Seen", "\\Flagged")),
    ("budget", None, "Lynne Robbins", "Budget sign-off needed by Friday", 33, ()),
    ("press-1", "press", "Adele Vance", "Re: Press release draft v3", 36, ("\\Seen",)),
    ("press-2", "press-1", "Pradeep Gupta", "Re: Press release draft v3", 40, ()),
)


def _message_id(key: str) -> str:
    return f"<{key}.launch@contoso.example>"


def append_threads(client: ImapClient, folder: str = THREADS_FOLDER) -> int:
    """Put ``_CONVERSATION`` into ``folder`` (made if missing; left alone when it has mail
    already); how many messages it holds."""
    client.create_folder(folder, exist_ok=True)
    held = client.status(folder, ("MESSAGES",)).messages or 0
    if held:
        return held
    start = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    chains: dict[str, list[str]] = {}
    for key, parent, sender, subject, hours, flags in _CONVERSATION:
        chain = [*chains[parent], _message_id(parent)] if parent is not None else []
        chains[key] = chain
        when = start + timedelta(hours=hours)
        address = sender.lower().replace(" ", ".") + "@contoso.example"
        headers = [
            f"From: {sender} <{address}>",
            "To: Adele Vance <adele.vance@contoso.example>",
            f"Subject: {subject}",
            f"Date: {format_datetime(when)}",
            f"Message-ID: {_message_id(key)}",
        ]
        if chain:
            headers += [f"In-Reply-To: {chain[-1]}", f"References: {' '.join(chain)}"]
        headers += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
        body = f"{subject}\r\n\r\n{sender}\r\n"
        raw = "\r\n".join(headers) + "\r\n\r\n" + body
        client.append(folder, raw.encode(), flags=flags, date=when)
    return len(_CONVERSATION)


async def _until(pilot: Pilot[None], condition: Callable[[], bool]) -> None:
    for _ in range(1200):
        if condition():
            return
        await pilot.pause(0.05)
    raise TimeoutError("the app never reached the state to picture")


def _loaded(app: MailApp, name: str) -> Callable[[], bool]:
    return lambda: (
        app.folder is not None
        and app.folder.name == name
        and all(i in app.messages.rows for i in range(min(app.messages.total, 30)))
        and "Bulk" in app.unread
        and name in app.unread
    )


async def _threads(session: MailSession, directory: Path) -> list[Path]:
    """The main screen: a folder of conversations in the thread view, with replied (r) and
    forwarded (f) marks."""
    app = MailApp(session, start_folder=THREADS_FOLDER, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, _loaded(app, THREADS_FOLDER))
        await pilot.press("T")
        await _until(pilot, lambda: app.messages.threads is not None)
        await pilot.press("down", "down")
        await pilot.pause(0.2)
        return [Path(app.save_screenshot("main.svg", str(directory)))]


async def _bulk(session: MailSession, directory: Path) -> list[Path]:
    app = MailApp(session, start_folder="Bulk", watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, _loaded(app, "Bulk"))
        # Two messages marked, then the move picker filtered by what was typed; Escape
        # leaves it with nothing moved.
        await pilot.press("down", "down", "space", "space", "m")
        await _until(pilot, lambda: isinstance(app.screen, FolderPicker))
        await pilot.press(*"ar")
        await pilot.pause(0.2)
        picker = Path(app.save_screenshot("move-picker.svg", str(directory)))
        await pilot.press("escape")
        await _until(pilot, lambda: not isinstance(app.screen, FolderPicker))
        await pilot.press("slash")
        await _until(pilot, lambda: isinstance(app.screen, SearchScreen))
        await pilot.press("tab", *"Invoice", "enter")
        await _until(pilot, lambda: app.search_query is not None and 0 in app.messages.rows)
        await pilot.pause(0.3)
        results = Path(app.save_screenshot("search-results.svg", str(directory)))
        await pilot.press("question_mark")
        await _until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause(0.2)
        help_ = Path(app.save_screenshot("help.svg", str(directory)))
    return [picker, results, help_]


async def _narrow(session: MailSession, directory: Path) -> list[Path]:
    """80x24: the list without the folder pane (B shows it), and the whole search form."""
    app = MailApp(session, start_folder="INBOX", watch=False)
    async with app.run_test(size=NARROW) as pilot:
        await _until(pilot, _loaded(app, "INBOX"))
        await pilot.pause(0.2)
        narrow = Path(app.save_screenshot("main-80x24.svg", str(directory)))
        await pilot.press("slash")
        await _until(pilot, lambda: isinstance(app.screen, SearchScreen))
        # Subject "Invoice", unread only; Enter in a field searches.
        await pilot.press("tab", *"Invoice", "tab", "tab", "tab", "tab", "space", "shift+tab")
        await pilot.pause(0.2)
        form = Path(app.save_screenshot("search-form.svg", str(directory)))
    return [narrow, form]


async def _message(session: MailSession, directory: Path) -> list[Path]:
    app = MailApp(session, start_folder="Attachments", watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, _loaded(app, "Attachments"))
        rows = app.messages.rows
        index = next(i for i in sorted(rows) if rows[i].has_attachment)
        app.messages.move_to(index)
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, MessageScreen))
        screen = app.screen
        assert isinstance(screen, MessageScreen)
        await _until(pilot, lambda: screen.view is not None)
        # A bounce has a "has attachments" mark but nothing to save: J goes on to the next
        # message, until one with parts to picture.
        for _ in range(20):
            if screen.view is not None and screen.view.parts:
                break
            await pilot.press("J")
            await _until(pilot, lambda: screen.view is not None)
        await pilot.pause(0.3)
        return [Path(app.save_screenshot("message.svg", str(directory)))]


def take_screenshots(session: MailSession, directory: Path) -> list[Path]:
    """Save the main screens' SVGs into ``directory``; the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    with session.use() as client:
        append_threads(client)
    out = asyncio.run(_threads(session, directory))
    out += asyncio.run(_bulk(session, directory))
    out += asyncio.run(_narrow(session, directory))
    out += asyncio.run(_message(session, directory))
    return out


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0] if args else "docs/screenshots")
    user = "adele.vance@contoso.example"
    with tempfile.TemporaryDirectory() as tmp:
        server = DovecotServer(Path(tmp))
        server.add_user(user, "sandbox")
        with server:
            seed_testbed(server, user, bulk_count=20_000)
            _shoot(server, user, target)


def _shoot(server: DovecotServer, user: str, target: Path) -> None:
    def connect() -> ImapClient:
        return open_token(
            user,
            server.mint_token(user),
            host=server.host,
            port=server.imaps_port,
            ca_file=str(server.ca_file),
        )

    for path in take_screenshots(MailSession(connect, description=f"{user} (sandbox)"), target):
        print(path)


if __name__ == "__main__":
    main()
