"""Signing in from inside the mail browser, against the sandbox (emulator + Dovecot)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from o365imap.auth import ProfileStore
from o365imap.cli.connect import resolve
from o365imap.sandbox.approve import approve_sign_in
from o365imap.sandbox.environment import SANDBOX_PASSWORD, SANDBOX_USER, Sandbox

pytest.importorskip("textual")

pytestmark = pytest.mark.dovecot


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tmp_path_factory.mktemp("sandbox"), bulk_count=20) as sandbox:
        sandbox.identity.device_poll_interval = 1  # the app polls the token endpoint each second
        yield sandbox


def test_sign_in_from_the_app_then_carry_on(
    box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from o365imap.tui.app import MailApp
    from o365imap.tui.screens import SignInScreen
    from o365imap.tui.session import session_for

    monkeypatch.setenv("O365IMAP_HOME", str(tmp_path))
    monkeypatch.delenv("DISPLAY", raising=False)  # no browser: the app shows the URL
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    box.save_profile(ProfileStore(tmp_path / "profiles.toml"))
    options = {
        "profile": "sandbox", "host": None, "port": None, "security": None, "ca_file": None,
        "user": None, "access_token": None, "mechanism": "xoauth2", "timeout": 20.0,
    }  # fmt: skip
    app = MailApp(session_for(resolve(options)), watch=False)

    async def scenario() -> None:
        async with app.run_test(size=(120, 36)) as pilot:
            for _ in range(1200):  # no token saved yet: the app asks to sign in
                screen = app.screen
                if isinstance(screen, SignInScreen) and screen.prompt:
                    break
                await pilot.pause(0.05)
            screen = app.screen
            assert isinstance(screen, SignInScreen) and screen.prompt
            assert screen.prompt.startswith("https://")
            page = await asyncio.to_thread(
                approve_sign_in,
                screen.prompt,
                username=SANDBOX_USER,
                password=SANDBOX_PASSWORD,
                ca_file=str(box.ca_file),
            )
            assert page.status_code == 200
            for _ in range(1200):
                if app.folder is not None and 0 in app.messages.rows:
                    break
                await pilot.pause(0.05)
            assert app.folder is not None and app.folder.name == "INBOX"
            assert not isinstance(app.screen, SignInScreen)
            assert app.last_error is None

    asyncio.run(scenario())


def test_sign_in_with_a_device_code_from_the_app_then_carry_on(
    box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.widgets import Static

    from o365imap.tui.app import MailApp
    from o365imap.tui.screens import SignInScreen
    from o365imap.tui.session import session_for

    monkeypatch.setenv("O365IMAP_HOME", str(tmp_path))
    store = ProfileStore(tmp_path / "profiles.toml")
    store.save(dataclasses.replace(box.profile(), flow="device-code"), make_default=False)
    options = {
        "profile": "sandbox", "host": None, "port": None, "security": None, "ca_file": None,
        "user": None, "access_token": None, "mechanism": "xoauth2", "timeout": 20.0,
    }  # fmt: skip
    app = MailApp(session_for(resolve(options)), watch=False)

    async def scenario() -> None:
        async with app.run_test(size=(120, 36)) as pilot:
            for _ in range(1200):  # no token saved yet: the app asks to sign in
                screen = app.screen
                if isinstance(screen, SignInScreen) and screen.prompt:
                    break
                await pilot.pause(0.05)
            screen = app.screen
            assert isinstance(screen, SignInScreen) and screen.prompt
            code = re.search(r"enter the code (\S+)", screen.prompt)
            assert code, screen.prompt
            shown = str(screen.query_one("#signin-text", Static).render())
            assert code.group(1) in shown  # the code is on the screen, to type elsewhere
            assert box.identity.device_login_url in shown
            page = await asyncio.to_thread(
                approve_sign_in,
                box.identity.device_login_url,
                username=SANDBOX_USER,
                password=SANDBOX_PASSWORD,
                ca_file=str(box.ca_file),
                fields={"user_code": code.group(1)},
            )
            assert "signed in" in page.text
            for _ in range(1200):  # the app's poll of the token endpoint sees the approval
                if app.folder is not None and 0 in app.messages.rows:
                    break
                await pilot.pause(0.05)
            assert app.folder is not None and app.folder.name == "INBOX"
            assert not isinstance(app.screen, SignInScreen)
            assert app.last_error is None

    asyncio.run(scenario())
