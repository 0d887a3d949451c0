"""A still-valid saved access token needs no identity platform: `token`, `whoami`, `folders`
and `doctor` work from the cache with the sign-in service down, and not a single connection
is made to it. Only a token that must be refreshed needs it, and then the command says so
(exit 3) instead of failing somewhere deep in msal.

The sandbox's identity emulator runs in this process and Dovecot beside it, both on
127.0.0.1; "down" is the emulator stopped, its port closed (or held by a listener that only
counts who knocks).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cli_runner import invoke
from o365imap.auth import ProfileStore, claims
from o365imap.sandbox.environment import SANDBOX_USER, Sandbox
from test_signin import cli_env, sign_in

PROFILE = "sandbox"
DISCOVERY_FILE = "discovery-cache.json"
SHORT_LIFETIME = 120  # under msal's five minutes: such a token is refreshed before any use


@pytest.fixture
def home(tmp_path: Path, box: Sandbox) -> Iterator[Path]:
    """A private o365imap home with the sandbox profile, the emulator running."""
    box.identity.start()  # a test before may have stopped it: it comes back on a new port
    box.save_profile(ProfileStore(tmp_path / "profiles.toml"), name=PROFILE)
    yield tmp_path
    box.identity.access_token_lifetime = 3600


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return invoke([*args, "--profile", PROFILE], cli_env(home))


def saved_secrets(home: Path) -> list[str]:
    cache = json.loads((home / "tokens.json").read_text())
    return [
        entry["secret"]
        for kind in ("AccessToken", "RefreshToken", "IdToken")
        for entry in cache.get(kind, {}).values()
    ]


@contextmanager
def doorman(port: int) -> Iterator[list[int]]:
    """Holds a closed port open and counts the connections that come to it (``knocks[0]``);
    each is hung up at once, so a client fails fast instead of waiting for a TLS answer."""
    knocks = [0]
    stop = threading.Event()
    with socket.create_server(("127.0.0.1", port)) as listener:
        listener.settimeout(0.2)

        def serve() -> None:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    conn, _ = listener.accept()
                    knocks[0] += 1
                    conn.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            yield knocks
        finally:
            stop.set()
            thread.join(5)


def test_a_valid_saved_token_needs_no_identity_platform(box: Sandbox, home: Path) -> None:
    sign_in(home, box)
    port = box.identity.port
    box.identity.stop()
    with doorman(port) as knocks:
        token = run(home, "token")
        who = run(home, "whoami", "--json")
        folders = run(home, "folders")
        doctor = run(home, "doctor")
    assert token.returncode == 0, token.stderr
    assert token.stdout.strip() in saved_secrets(home)  # the saved one, not a new one
    assert claims(token.stdout.strip())["upn"] == SANDBOX_USER
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout)["account"] == SANDBOX_USER
    assert folders.returncode == 0, folders.stderr
    assert "INBOX" in folders.stdout
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "Everything looks right." in doctor.stdout
    assert knocks[0] == 0  # not even a connection to the identity platform's address


def test_an_expired_token_offline_is_the_clear_error_and_exit_3(box: Sandbox, home: Path) -> None:
    box.identity.access_token_lifetime = SHORT_LIFETIME
    sign_in(home, box)
    authority = box.identity.authority()
    box.identity.stop()  # the port is closed: connections are refused
    expected = f"cannot reach the identity platform at {authority}: Connection refused"
    for command in ("token", "whoami", "folders"):
        result = run(home, command)
        assert result.returncode == 3, (command, result.stderr)
        assert expected in result.stderr, (command, result.stderr)
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
        assert result.stdout == "", command  # no token, no half answer
    doctor = run(home, "doctor")
    assert doctor.returncode == 3, doctor.stdout + doctor.stderr
    assert f"BAD  a token: {expected}" in doctor.stdout  # a failed check, after the header
    assert doctor.stdout.startswith(f"Profile {PROFILE!r}")
    assert "Traceback" not in doctor.stderr


def test_a_token_past_its_refresh_time_is_kept_while_the_platform_is_away(
    box: Sandbox, home: Path
) -> None:
    """The platform may ask for an early refresh (refresh_in): it is tried, and the token,
    still valid, serves when the platform cannot be reached."""
    sign_in(home, box)
    cache = json.loads((home / "tokens.json").read_text())
    (entry,) = cache["AccessToken"].values()
    entry["refresh_on"] = str(int(time.time()) - 60)
    (home / "tokens.json").write_text(json.dumps(cache))
    port = box.identity.port
    box.identity.stop()
    with doorman(port) as knocks:
        result = run(home, "token")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == entry["secret"]
    assert knocks[0] >= 1  # the early refresh was tried


def test_a_refresh_reuses_the_saved_discovery_and_keeps_no_tokens_there(
    box: Sandbox, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box.identity.access_token_lifetime = SHORT_LIFETIME
    sign_in(home, box)
    saved = home / DISCOVERY_FILE
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert "openid-configuration" in saved.read_text()
    caplog.set_level(logging.INFO, logger="o365imap.sandbox")
    caplog.clear()
    refreshed = run(home, "token")
    assert refreshed.returncode == 0, refreshed.stderr
    seen = [r.getMessage() for r in caplog.records if r.getMessage().startswith("identity: ")]
    assert any("POST /organizations/oauth2/v2.0/token" in line for line in seen), seen
    assert not any("openid-configuration" in line for line in seen), seen  # asked at login only
    text = saved.read_text()
    for secret in saved_secrets(home):
        assert secret not in text


def test_a_damaged_or_unreadable_discovery_cache_is_read_as_empty(box: Sandbox, home: Path) -> None:
    sign_in(home, box)
    saved = home / DISCOVERY_FILE
    saved.write_bytes(b'{"version": 1, "http": {"_index_": {"value": [7, \xff')
    first = run(home, "token")
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    assert json.loads(saved.read_text())["version"] == 1  # written anew, whole
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    saved.write_text(json.dumps({"version": 1, "http": {"_index_": {"value": "nonsense"}}}))
    assert run(home, "token").returncode == 0
    saved.unlink()
    saved.mkdir()  # cannot be read nor replaced: the commands go on without it
    again = run(home, "whoami")
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
