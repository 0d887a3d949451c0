"""New mail on a server without IDLE: the mail browser polls with NOOP.

The peer is the scripted Office-365-like server (tests/scripted_server.py) told to leave IDLE
out of its capabilities. Mail is delivered mid-session by a hook of this module: the next NOOP
adds the message to the selected mailbox and says ``* n EXISTS``, as Exchange does; STATUS of
that mailbox then counts it too. Nothing here asserts a duration.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import pytest

from o365imap import ImapClient
from scripted_server import (
    CAPABILITIES_POST_AUTH,
    CAPABILITIES_PRE_AUTH,
    Command,
    Folder,
    O365Config,
    O365Session,
    ScriptedServer,
    imap_astring,
    make_message,
    o365_happy,
)

pytest.importorskip("textual")

from textual.pilot import Pilot

USER = "AdeleV@contoso.onmicrosoft.com"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.polling-token.signature"


def _without_idle(capabilities: str) -> str:
    return " ".join(c for c in capabilities.split() if c != "IDLE")


class Deliveries:
    """Messages waiting to arrive in INBOX at the next NOOP (a hook of the O365 session)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self.delivered = 0

    def deliver(self, subject: str) -> None:
        with self._lock:
            self._pending.append(subject)

    def hook(self, s: O365Session, cmd: Command) -> bool:
        box = s.mailbox
        if box is None or box.name != "INBOX":
            return False
        if cmd.base == "NOOP":
            with self._lock:
                pending, self._pending = self._pending, []
                self.delivered += len(pending)
            for subject in pending:
                uid = max((m.uid for m in box.msgs), default=0) + 1
                box.msgs.append(make_message(len(box.msgs) + 1, uid, subject=subject))
            if pending:
                s.send(f"* {len(box.msgs)} EXISTS")
            s.ok(cmd, "NOOP Completed")
            return True
        if cmd.base == "STATUS" and str(cmd.args[0]).upper() == "INBOX":
            # The scripted STATUS counts the prepared messages; this one the mailbox as it is.
            items = cmd.args[1]
            assert isinstance(items, list)
            values = {
                "MESSAGES": len(box.msgs),
                "UNSEEN": sum(1 for m in box.msgs if "\\Seen" not in m.flags),
                "UIDNEXT": max((m.uid for m in box.msgs), default=0) + 1,
                "UIDVALIDITY": s.config.uidvalidity,
                "RECENT": 0,
            }
            parts = " ".join(f"{str(i).upper()} {values[str(i).upper()]}" for i in items)
            s.send(b"* STATUS " + imap_astring("INBOX") + f" ({parts})".encode())
            s.ok(cmd)
            return True
        return False


@pytest.fixture
def deliveries() -> Deliveries:
    return Deliveries()


@pytest.fixture
def server(deliveries: Deliveries) -> Iterator[ScriptedServer]:
    config = O365Config(
        capabilities=_without_idle(CAPABILITIES_PRE_AUTH),
        capabilities_authenticated=_without_idle(CAPABILITIES_POST_AUTH),
    )
    messages = {
        "INBOX": [
            make_message(1, 101, subject="Older and read", flags=("\\Seen",)),
            make_message(2, 102, subject="Newer, unread"),
        ]
    }
    folders = [Folder("INBOX"), Folder("Archive")]
    script = o365_happy(
        messages, folders=folders, user=USER, token=TOKEN, config=config, hooks=[deliveries.hook]
    )
    with ScriptedServer(script) as scripted:
        yield scripted


async def until(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    """Let the app run until ``condition()``; a bound of 60 s only catches a hang."""
    for _ in range(1200):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"gave up waiting for {what}; screen {pilot.app.screen!r}")


@pytest.mark.slow
def test_new_mail_appears_by_noop_polling_without_idle(
    server: ScriptedServer, deliveries: Deliveries
) -> None:
    from o365imap.tui.app import MailApp
    from o365imap.tui.model import MailSession

    def connect() -> ImapClient:
        client = ImapClient(server.host, server.port, security="plain", timeout=10.0)
        client.connect()
        client.authenticate_oauth(USER, TOKEN)
        return client

    app = MailApp(MailSession(connect, description=USER, poll_every=0.2))

    async def scenario() -> None:
        async with app.run_test(size=(120, 36)) as pilot:
            widget = app.messages
            await until(
                pilot,
                lambda: app.folder is not None and 0 in widget.rows and 1 in widget.rows,
                "INBOX and its rows",
            )
            assert app.folder is not None and app.folder.name == "INBOX"
            assert widget.total == 2
            assert widget.rows[0].subject == "Newer, unread"
            await until(pilot, lambda: app.unread.get("INBOX") == 1, "the unread count")
            # The watcher polls: wait for a NOOP before any mail, so the delivery is news.
            await until(pilot, lambda: _noops(server) > 0, "a first NOOP")
            deliveries.deliver("Arrived while the app was open")
            await until(pilot, lambda: widget.total == 3, "the new message")
            await until(pilot, lambda: 0 in widget.rows, "the new row")
            assert widget.rows[0].subject == "Arrived while the app was open"
            assert widget.rows[1].subject == "Newer, unread"
            assert widget.cursor == 1  # the message under the cursor kept its place
            await until(pilot, lambda: app.unread.get("INBOX") == 2, "the new unread count")
            assert "(2)" in str(app.nodes["INBOX"].label)
            assert deliveries.delivered == 1

    asyncio.run(scenario())
    sent = [line.upper() for line in server.received_lines()]
    assert not any(" IDLE" in line for line in sent)  # polled, never idled
    assert server.errors == []


def _noops(server: ScriptedServer) -> int:
    return sum(1 for line in server.received_lines() if line.upper().endswith(" NOOP"))
