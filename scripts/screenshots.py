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
from pathlib import Path

from textual.pilot import Pilot

from o365imap import ImapClient, open_token
from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.seed import seed_testbed
from o365imap.tui.app import MailApp
from o365imap.tui.dialogs import FolderPicker
from o365imap.tui.model import MailSession
from o365imap.tui.screens import HelpScreen, MessageScreen, SearchScreen

__all__ = ["take_screenshots"]

SIZE = (120, 34)


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
    )


async def _main_and_help(session: MailSession, directory: Path) -> list[Path]:
    app = MailApp(session, start_folder="Bulk", watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, _loaded(app, "Bulk"))
        await pilot.press("down", "down")
        await pilot.pause(0.2)
        main = Path(app.save_screenshot("main.svg", str(directory)))
        # Two messages marked, then the move picker filtered by what was typed; Escape
        # leaves it with nothing moved.
        await pilot.press("space", "space", "m")
        await _until(pilot, lambda: isinstance(app.screen, FolderPicker))
        await pilot.press(*"ar")
        await pilot.pause(0.2)
        picker = Path(app.save_screenshot("move-picker.svg", str(directory)))
        await pilot.press("escape")
        await _until(pilot, lambda: not isinstance(app.screen, FolderPicker))
        await pilot.press("slash")
        await _until(pilot, lambda: isinstance(app.screen, SearchScreen))
        # Subject "Invoice", unread only; Enter in a field searches.
        await pilot.press("tab", *"Invoice", "tab", "tab", "tab", "tab", "space", "shift+tab")
        await pilot.pause(0.2)
        form = Path(app.save_screenshot("search-form.svg", str(directory)))
        await pilot.press("enter")
        await _until(pilot, lambda: app.search_query is not None and 0 in app.messages.rows)
        await pilot.pause(0.3)
        results = Path(app.save_screenshot("search-results.svg", str(directory)))
        await pilot.press("question_mark")
        await _until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause(0.2)
        help_ = Path(app.save_screenshot("help.svg", str(directory)))
    return [main, picker, form, results, help_]


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
        await pilot.pause(0.3)
        return [Path(app.save_screenshot("message.svg", str(directory)))]


def take_screenshots(session: MailSession, directory: Path) -> list[Path]:
    """Save the main screens' SVGs into ``directory``; the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    out = asyncio.run(_main_and_help(session, directory))
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
