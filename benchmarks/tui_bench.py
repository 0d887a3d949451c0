"""The mail browser's first screen and its jump to the end, on 20,000 and 100,000 messages.

The app runs headless (Textual's ``run_test``) against the bench's Dovecot, with a real
connection; time is wall time from the app's start to the newest page on screen, and from
pressing End to the oldest page on screen. The first open of a folder after seeding is
reported apart: Dovecot builds its Maildir index then. The EXAMINE's own time is noted (a client
that times its ``select``), to tell the server's part of the first screen from the app's; End
is pressed once the unread counts (which follow the first page) are in. ``run.py --only tui``
runs only this benchmark and rewrites its section of docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from o365imap import ImapClient
from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.seed import MaildirWriter, bulk_messages

BIG = "Bulk100k"
BIG_COUNT = 100_000
USER = "bench@example.com"
MARK_START = "<!-- tui:start -->"
MARK_END = "<!-- tui:end -->"


def seed_big(server: DovecotServer, user: str) -> None:
    writer = MaildirWriter(server.maildir(user), server.mail_owner)
    writer.write(BIG, bulk_messages(user, BIG_COUNT, seed=100))


class _TimedClient(ImapClient):
    """Notes how long each folder opening (EXAMINE) takes: the server's part of the first
    screen, told apart from the app's."""

    def __init__(self, *args: Any, opened: list[float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.opened = opened

    def select(self, folder: str, *, readonly: bool = False, condstore: bool = False) -> Any:
        start = time.perf_counter()
        try:
            return super().select(folder, readonly=readonly, condstore=condstore)
        finally:
            self.opened.append(time.perf_counter() - start)


def _session(server: DovecotServer, user: str, opened: list[float]) -> Any:
    from o365imap.tui.model import MailSession

    def connect() -> ImapClient:
        client = _TimedClient(
            server.host, server.imaps_port, ca_file=str(server.ca_file), opened=opened
        )
        client.connect()
        client.authenticate_oauth(user, server.mint_token(user))
        return client

    return MailSession(connect, description=user)


async def _until(pilot: Any, condition: Callable[[], bool]) -> None:
    for _ in range(12_000):
        if condition():
            return
        await pilot.pause(0.005)
    raise TimeoutError("the app did not get there in 60 s")


def _one_run(server: DovecotServer, user: str, folder: str) -> dict[str, float]:
    """The first screen's time, the EXAMINE's within it, when every unread count is in,
    End's time (pressed then), and the pages loaded."""
    from o365imap.tui.app import MailApp

    opened: list[float] = []
    app = MailApp(_session(server, user, opened), start_folder=folder, watch=False)
    result: dict[str, float] = {}

    async def scenario() -> None:
        started = time.perf_counter()
        async with app.run_test(size=(120, 36)) as pilot:
            widget = app.messages
            await _until(
                pilot,
                lambda: app.folder is not None and app.folder.name == folder and 0 in widget.rows,
            )
            result["first"] = time.perf_counter() - started
            result["examine"] = sum(opened)
            # The counts (a STATUS of every folder) follow the first page; End is pressed
            # once they are in, so that its page does not wait behind one of them.
            selectable = {name for name, entry in app.entries.items() if entry.selectable}
            await _until(pilot, lambda: selectable <= set(app.unread))
            result["counted"] = time.perf_counter() - started
            jumped = time.perf_counter()
            await pilot.press("end")
            last = widget.total - 1
            await _until(pilot, lambda: last in widget.rows)
            result["end"] = time.perf_counter() - jumped
            result["pages"] = len(widget.loaded_pages)

    asyncio.run(scenario())
    return result


def run(server: DovecotServer, user: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for folder in ("Bulk", BIG):
        cold = _one_run(server, user, folder)
        warm = [_one_run(server, user, folder) for _ in range(3)]
        out[folder] = {
            "cold_first": cold["first"],
            "first": statistics.median(w["first"] for w in warm),
            "examine": statistics.median(w["examine"] for w in warm),
            "app": statistics.median(w["first"] - w["examine"] for w in warm),
            "counted": statistics.median(w["counted"] for w in warm),
            "end": statistics.median(w["end"] for w in warm),
            "pages": max(int(w["pages"]) for w in warm),
        }
    return out


def markdown(result: dict[str, Any]) -> list[str]:
    lines = [
        MARK_START,
        "## 6. The mail browser (`o365imap tui`), headless",
        "",
        "Wall time from the app's start (connect, sign-in, LIST, EXAMINE, the page's FETCH) "
        "to the newest page on screen, and from pressing End to the oldest page on screen; "
        "median of 3 after a first open (the first open after seeding is Dovecot building its "
        "Maildir index, shown apart). Of the first screen, the EXAMINE's own time (the "
        "server's part) and the rest (connecting, signing in, LIST, the page's FETCH, the "
        "app). The unread counts follow the first page; End is pressed once they are in "
        "(the time from the start to then is shown). Pages hold 50 messages, one FETCH each.",
        "",
        "| folder | first open after seeding | first screen | of which EXAMINE | the rest "
        "| unread counts in | End | pages loaded |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for folder, label in (("Bulk", "20,000 messages"), (BIG, "100,000 messages")):
        r = result[folder]
        lines.append(
            f"| {label} | {r['cold_first']:.2f} s | {r['first']:.2f} s | {r['examine']:.2f} s "
            f"| {r['app']:.2f} s | {r['counted']:.2f} s | {r['end']:.3f} s | {r['pages']} |"
        )
    lines += [
        "",
        "Most of the first screen on 100,000 messages is Dovecot's EXAMINE: with a Maildir "
        "that size it re-reads and parses its 4.5 MB uidlist (about 0.6 s of CPU here) in any "
        "session that follows one that added to its index log, as every browsing session does "
        "when it caches envelopes; a read-write SELECT after seeding does not avoid it. The "
        "unread counts, a "
        "STATUS of every folder, come after the first page (issue 16): a STATUS makes Dovecot "
        "open that folder, the 100,000-message one as dear as its EXAMINE, and before, the "
        "counting worker raced the opening one on the single connection, so that up to ten "
        "STATUS commands (that folder's among them) went ahead of the EXAMINE. The commands "
        "before the first screen are now sign-in, LIST, EXAMINE and the page's FETCH "
        "(tests/test_tui.py checks it against Dovecot).",
        "",
        MARK_END,
        "",
    ]
    return lines


def main() -> dict[str, Any]:
    """Only this benchmark (``run.py --only tui``), in a Dovecot of its own; updates its
    section of docs/benchmarks.md."""
    from save_big import DOC, own_dovecot, update_doc

    with own_dovecot("tui", USER) as (server, _):
        seed_big(server, USER)
        result = run(server, USER)
    section = "\n".join(markdown(result)).rstrip("\n")
    print(section)
    update_doc(section, DOC, marks=(MARK_START, MARK_END))
    return result
