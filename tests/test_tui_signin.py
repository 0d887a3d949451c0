"""Signing in from inside the mail browser, against the sandbox (emulator + Dovecot)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cutting_proxy import CuttingProxy
from o365imap.auth import ConnectionSettings, ProfileStore
from o365imap.sandbox.approve import approve_sign_in
from o365imap.sandbox.environment import SANDBOX_PASSWORD, SANDBOX_USER, Sandbox

pytest.importorskip("textual")

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from o365imap.auth.profiles import Flow
    from o365imap.tui.app import MailApp
    from o365imap.tui.screens import SignInScreen


def _app(box: Sandbox, home: Path, monkeypatch: pytest.MonkeyPatch, flow: Flow) -> MailApp:
    """The app on a fresh home holding only the sandbox profile (with ``flow``): no token."""
    from o365imap.tui.app import MailApp
    from o365imap.tui.session import session_for

    monkeypatch.setenv("O365IMAP_HOME", str(home))
    monkeypatch.delenv("DISPLAY", raising=False)  # no browser: the app shows the URL
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    store = ProfileStore(home / "profiles.toml")
    store.save(dataclasses.replace(box.profile(), flow=flow), make_default=False)
    settings = ConnectionSettings.from_profile(store.get("sandbox"), timeout=20.0)
    return MailApp(session_for(settings), watch=False)


async def _sign_in_screen(app: MailApp, pilot: Pilot[None]) -> SignInScreen:
    """The sign-in screen, once it shows its URL or device code."""
    from o365imap.tui.screens import SignInScreen

    for _ in range(1200):  # no token saved yet: the app asks to sign in
        screen = app.screen
        if isinstance(screen, SignInScreen) and screen.prompt:
            return screen
        await pilot.pause(0.05)
    raise AssertionError(f"no sign-in prompt; the app shows {app.screen!r}")


async def _folder_open(app: MailApp, pilot: Pilot[None]) -> None:
    from o365imap.tui.screens import SignInScreen

    for _ in range(1200):
        if app.folder is not None and 0 in app.messages.rows:
            break
        await pilot.pause(0.05)
    assert app.folder is not None and app.folder.name == "INBOX"
    assert not isinstance(app.screen, SignInScreen)
    assert app.last_error is None


def test_sign_in_from_the_app_then_carry_on(
    box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(box, tmp_path, monkeypatch, "auth-code")

    async def scenario() -> None:
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await _sign_in_screen(app, pilot)
            assert screen.prompt and screen.prompt.startswith("https://")
            page = await asyncio.to_thread(
                approve_sign_in,
                screen.prompt,
                username=SANDBOX_USER,
                password=SANDBOX_PASSWORD,
                ca_file=str(box.ca_file),
            )
            assert page.status_code == 200
            await _folder_open(app, pilot)

    asyncio.run(scenario())


def test_the_sign_in_address_is_printed_plainly_and_copied_with_c(
    box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The long authorization-code address is one Static of its own, unbroken, with no border
    or indent (a mouse selection takes the address alone), as wide as the screen; c hands it
    to the terminal's clipboard (OSC 52) and says so."""
    from textual.widgets import Static

    app = _app(box, tmp_path, monkeypatch, "auth-code")
    sent: list[str] = []

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            original = app.copy_to_clipboard

            def copy(text: str) -> None:
                sent.append(text)
                original(text)

            app.copy_to_clipboard = copy  # type: ignore[method-assign]
            screen = await _sign_in_screen(app, pilot)
            url = screen.prompt
            assert url and url.startswith("https://") and len(url) > 80
            address = screen.query_one("#signin-address", Static)
            assert str(address.render()) == url  # unbroken: no line break added inside
            assert not address.styles.border.top[0] and address.styles.padding.left == 0
            assert address.region.x == 0 and address.region.width == 80  # no box around it
            assert address.region.height == -(-len(url) // 80)  # folded only at the edge
            assert "c: copy the address" in str(screen.query_one("#signin-keys", Static).render())
            await pilot.press("c")
            assert sent == [url] and app.clipboard == url
            await pilot.pause(0.1)
            notes = [str(n.message) for n in app._notifications]
            assert "Address copied (if your terminal supports OSC 52)" in notes
            await pilot.press("C")  # no code in this flow: nothing copied
            assert sent == [url]
            await pilot.press("escape")

    asyncio.run(scenario())


def test_sign_in_with_a_device_code_from_the_app_then_carry_on(
    box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.widgets import Static

    app = _app(box, tmp_path, monkeypatch, "device-code")

    async def scenario() -> None:
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await _sign_in_screen(app, pilot)
            assert screen.prompt
            code = re.search(r"enter the code (\S+)", screen.prompt)
            assert code, screen.prompt
            # The page and the code each alone on the screen, to type or copy elsewhere.
            shown = str(screen.query_one("#signin-address", Static).render())
            assert shown == box.identity.device_login_url
            assert str(screen.query_one("#signin-code", Static).render()) == code.group(1)
            await pilot.press("C")
            assert app.clipboard == code.group(1)
            page = await asyncio.to_thread(
                approve_sign_in,
                box.identity.device_login_url,
                username=SANDBOX_USER,
                password=SANDBOX_PASSWORD,
                ca_file=str(box.ca_file),
                fields={"user_code": code.group(1)},
            )
            assert "signed in" in page.text
            await _folder_open(app, pilot)  # the app's poll of the token endpoint saw it

    asyncio.run(scenario())


@pytest.mark.parametrize("flow", ["auth-code", "device-code"])
def test_escape_stops_the_sign_in_at_once(
    box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flow: Flow
) -> None:
    """Escape ends the waiting itself, not just the screen: the loopback port is closed (or
    the device-code polling stops) within a second or two, not at the 5 or 15 min timeout."""
    from o365imap.tui.screens import SignInScreen

    app = _app(box, tmp_path, monkeypatch, flow)

    async def scenario() -> None:
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await _sign_in_screen(app, pilot)
            assert screen.prompt
            port = None
            if flow == "auth-code":
                redirect = re.search(r"redirect_uri=http%3A%2F%2F(?:localhost|127\.0\.0\.1)%3A(\d+)",
                                     screen.prompt)  # fmt: skip
                assert redirect, screen.prompt
                port = int(redirect.group(1))
                socket.create_connection(("127.0.0.1", port), timeout=2).close()  # listening
            assert not screen.ended.is_set()
            await pilot.press("escape")
            await pilot.pause(0.1)
            assert not isinstance(app.screen, SignInScreen)
            assert await asyncio.to_thread(screen.ended.wait, 5)
            if port is not None:
                with pytest.raises(ConnectionRefusedError):
                    socket.create_connection(("127.0.0.1", port), timeout=2).close()
            assert app.last_error is None  # cancelling is not an error to show

    asyncio.run(scenario())


def test_retry_connects_where_the_profile_says_now(
    box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server goes away and comes back on another port, which the profile now names (as a
    restarted sandbox rewrites it): g, the retry, connects there, not to the old port."""
    from textual.widgets import Static

    from o365imap.tui.app import MailApp
    from o365imap.tui.screens import ErrorScreen
    from o365imap.tui.session import session_for

    monkeypatch.setenv("O365IMAP_HOME", str(tmp_path))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    dovecot = (box.profile().host, box.profile().port or 993)
    store = ProfileStore(tmp_path / "profiles.toml")

    async def scenario(old: CuttingProxy, new: CuttingProxy) -> None:
        store.save(dataclasses.replace(box.profile(), port=old.port), make_default=False)
        settings = ConnectionSettings.from_profile(store.get("sandbox"), timeout=20.0)
        app = MailApp(session_for(settings), watch=False)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await _sign_in_screen(app, pilot)
            assert screen.prompt
            await asyncio.to_thread(
                approve_sign_in,
                screen.prompt,
                username=SANDBOX_USER,
                password=SANDBOX_PASSWORD,
                ca_file=str(box.ca_file),
            )
            await _folder_open(app, pilot)
            assert old.connections >= 1 and new.connections == 0
            store.save(dataclasses.replace(store.get("sandbox"), port=new.port))
            old.hang_up()  # the server went away; it is back on the new port
            opened = app.folder

            def reopened() -> bool:
                return app.folder is not opened and app.folder is not None

            for _ in range(5):  # g, as a person would, until it works (or five times)
                await pilot.press("g")
                for _ in range(400):  # a bound that only catches a hang
                    if reopened() or isinstance(app.screen, ErrorScreen):
                        break
                    await pilot.pause(0.05)
                if reopened():
                    break
                await pilot.press("escape")  # the lost connection, said first
            status = str(app.query_one("#status", Static).render())
            assert app.folder is not opened and app.folder is not None, status
            assert app.folder.name == "INBOX"
            assert new.connections >= 1  # the retry went where the profile says now

    with CuttingProxy(dovecot) as old, CuttingProxy(dovecot) as new:
        asyncio.run(scenario(old, new))
