"""The folder tree shows folders as the server names them, with the special use as a mark.

A folder shown by another name (\\Trash as "Deleted") sent people to `o365imap list Deleted`,
which finds nothing: the tree's words must be the names the other commands take.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from rich.text import Text

from conftest import ALICE
from o365imap import ImapClient
from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.seed import Testbed
from scripted_server import TOKEN, USER, ScriptedServer, client_for, o365_happy

pytest.importorskip("textual")

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from o365imap.tui.app import MailApp
    from o365imap.tui.model import MailSession


def _session(connect: Callable[[], ImapClient]) -> MailSession:
    from o365imap.tui.model import MailSession

    return MailSession(connect)


async def _loaded(app: MailApp, pilot: Pilot[None], name: str) -> None:
    for _ in range(1200):  # a bound that only catches a hang
        if name in app.nodes and app.folder is not None:
            return
        await pilot.pause(0.05)
    raise AssertionError(f"the folder tree never showed {name}")


def _labels(app: MailApp) -> dict[str, str]:
    """Each folder's line in the tree, by its full name."""
    return {name: str(node.label) for name, node in app.nodes.items()}


def test_dovecot_folders_keep_their_names(dovecot: DovecotServer, testbed: Testbed) -> None:
    from o365imap.tui.app import MailApp

    def connect() -> ImapClient:
        client = ImapClient(dovecot.host, dovecot.imaps_port, ca_file=str(dovecot.ca_file))
        client.connect()
        # A minute old: Dovecot's clock can lag a second behind ("not valid yet").
        client.authenticate_oauth(ALICE, dovecot.mint_token(ALICE, now=time.time() - 60))
        return client

    app = MailApp(_session(connect), watch=False)

    async def scenario() -> None:
        async with app.run_test(size=(120, 36)) as pilot:
            await _loaded(app, pilot, "Trash")
            labels = _labels(app)
            for name in ("INBOX", "Sent", "Drafts", "Junk", "Trash", "Archive"):
                assert labels[name].startswith(f"▪ {name}"), labels[name]
                assert "[" not in labels[name]  # the name says its use: no mark needed
            assert app.entries["Trash"].special == "trash"
            assert all(not label.startswith("▪ Deleted") for label in labels.values())

    asyncio.run(scenario())


@pytest.fixture
def office365() -> Iterator[ScriptedServer]:
    with ScriptedServer(o365_happy(user=USER, token=TOKEN)) as server:
        yield server


def test_office365_special_folders_show_their_names_and_their_use(
    office365: ScriptedServer,
) -> None:
    """Exchange's names ("Deleted Items", "Junk Email"), each the name to give `o365imap
    list`; the use is a dim mark where the name does not say it."""
    from o365imap.tui.app import MailApp

    def connect() -> ImapClient:
        client = client_for(office365)
        client.connect()
        client.authenticate_oauth(USER, TOKEN)
        return client

    app = MailApp(_session(connect), watch=False)

    async def scenario() -> None:
        async with app.run_test(size=(120, 36)) as pilot:
            await _loaded(app, pilot, "Deleted Items")
            labels = _labels(app)
            assert labels["Deleted Items"].startswith("▪ Deleted Items")
            assert labels["Deleted Items"].endswith(" [trash]")
            line = app.nodes["Deleted Items"].label
            assert isinstance(line, Text)
            assert any(span.style == "dim" for span in line.spans)  # a mark, not a name
            for name in ("Junk Email", "Sent Items", "Drafts"):  # (and an unread count)
                assert labels[name].startswith(f"▪ {name}") and "[" not in labels[name]
            assert labels["INBOX"].startswith("▪ INBOX")

    asyncio.run(scenario())


def test_a_folder_name_in_an_error_title_is_text_not_markup() -> None:
    """ "Could not open the folder a[/]b": the server names the folder (on Office 365 "a["
    with a child "]b"); read as markup, "[/]" ended the app with a MarkupError, "[bold]"
    changed the words and "[@click=...]" made the line an action."""
    from textual.app import App

    from o365imap.tui.screens import ErrorScreen

    async def scenario(doing: str) -> str:
        app: App[None] = App()
        async with app.run_test(size=(120, 36)) as pilot:
            app.push_screen(ErrorScreen(RuntimeError("the server said no"), doing))
            await pilot.pause()
            return str(app.screen.query_one("#error-title").render())

    for name in ("a[/]b", "[bold]Q", "[@click=app.quit]X", "red\x1b[31malert"):
        shown = asyncio.run(scenario(f"open the folder {name}"))
        assert shown == f"Could not open the folder {name.replace(chr(27), chr(0xFFFD))}"
