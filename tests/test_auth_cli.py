"""The sign-in commands as a person runs them: `o365imap` and the identity-platform emulator,
both in this process (no mail server needed)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tomllib
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cli_runner import Watch, approving, invoke
from conftest import ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD, PUBLIC_ID, SHARED
from o365imap.auth import Profile, ProfileStore, claims
from o365imap.sandbox.identity import IdentityEmulator


def run(home: Path, *args: str, watch: Watch | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("O365IMAP_")}
    env.update(O365IMAP_HOME=str(home), O365IMAP_TOKEN_STORE="file")
    return invoke(args, env, watch=watch)


def login(
    home: Path, emulator: IdentityEmulator, username: str, password: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """`o365imap login --no-browser ...`, signing in on the printed page as ``username``."""
    approve = approving(username, password, str(emulator.ca_file), {"username": username})
    return run(home, "login", "--no-browser", *args, watch=approve)


def new_profile_args(emulator: IdentityEmulator, name: str, user: str) -> list[str]:
    return [
        "--profile", name, "--client-id", PUBLIC_ID, "--authority", emulator.authority(),
        "--ca-file", str(emulator.ca_file), "--user", user,
    ]  # fmt: skip


def profiles(home: Path) -> dict[str, object]:
    return tomllib.loads((home / "profiles.toml").read_text())


def test_a_shared_mailbox_login_keeps_mailbox_and_account_apart(
    tmp_path: Path, emulator: IdentityEmulator
) -> None:
    first = login(tmp_path, emulator, BOB, BOB_PASSWORD, *new_profile_args(emulator, "bob", BOB))
    assert first.returncode == 0, first.stderr
    shared = login(
        tmp_path, emulator, ALICE, ALICE_PASSWORD, *new_profile_args(emulator, "shared", SHARED)
    )
    assert shared.returncode == 0, shared.stderr
    data = profiles(tmp_path)
    assert data["default"] == "bob"  # the first profile; a later login does not take over
    table = data["profiles"]["shared"]  # type: ignore[index]
    assert table["user"] == SHARED and table["account"] == ALICE and table["account_id"]

    token = run(tmp_path, "token", "--profile", "shared")
    assert token.returncode == 0, token.stderr
    assert claims(token.stdout.strip())["upn"] == ALICE

    out = run(tmp_path, "logout", "--profile", "shared")
    assert out.returncode == 0, out.stderr
    assert "too" not in out.stderr  # bob's profile has tokens of its own
    assert run(tmp_path, "token", "--profile", "shared").returncode == 2
    still = run(tmp_path, "token", "--profile", "bob")  # bob's sign-in was not wiped
    assert still.returncode == 0, still.stderr
    assert claims(still.stdout.strip())["upn"] == BOB

    again = login(
        tmp_path,
        emulator,
        ALICE,
        ALICE_PASSWORD,
        "--profile",
        "shared",
        "--default",
        "--timeout",
        "30",
    )
    assert again.returncode == 0, again.stderr
    assert profiles(tmp_path)["default"] == "shared"  # asked for


def test_logout_names_the_profiles_that_shared_the_sign_in(
    tmp_path: Path, emulator: IdentityEmulator
) -> None:
    """Same app, same account: one set of tokens in msal's cache, so signing out of one
    profile signs out the others, and the command says which."""
    for name, mailbox in (("alice", ALICE), ("shared", SHARED)):
        done = login(
            tmp_path, emulator, ALICE, ALICE_PASSWORD, *new_profile_args(emulator, name, mailbox)
        )
        assert done.returncode == 0, done.stderr
    bob = login(tmp_path, emulator, BOB, BOB_PASSWORD, *new_profile_args(emulator, "bob", BOB))
    assert bob.returncode == 0, bob.stderr

    out = run(tmp_path, "logout", "--profile", "shared")
    assert out.returncode == 0, out.stderr
    assert "Signed out of 'alice' too" in out.stderr and "'bob'" not in out.stderr
    assert run(tmp_path, "token", "--profile", "alice").returncode == 2  # as said
    assert run(tmp_path, "token", "--profile", "bob").returncode == 0


def test_tenant_moves_a_saved_authority_and_unknown_keys_stay(
    tmp_path: Path, emulator: IdentityEmulator
) -> None:
    store = ProfileStore(tmp_path / "profiles.toml")
    store.save(
        Profile(
            name="work",
            client_id=PUBLIC_ID,
            authority=emulator.authority("organizations"),
            user=ALICE,
            ca_file=str(emulator.ca_file),
            extra={"note": "my own key", "future": {"level": 2}},
        )
    )
    both = run(
        tmp_path, "login", "--profile", "work", "--tenant", "x", "--authority", "https://a/b"
    )
    assert both.returncode == 1 and "--tenant or --authority, not both" in both.stderr
    result = login(
        tmp_path, emulator, ALICE, ALICE_PASSWORD, "--profile", "work", "--tenant", "example.com"
    )
    assert result.returncode == 0, result.stderr
    assert f"{emulator.base_url}/example.com/oauth2" in result.stderr  # signed in at the new tenant
    table = profiles(tmp_path)["profiles"]["work"]  # type: ignore[index]
    assert (
        table["authority"] == emulator.authority("example.com") and table["tenant"] == "example.com"
    )
    assert table["note"] == "my own key" and table["future"] == {"level": 2}


def test_login_checks_the_profiles_file_before_anyone_signs_in(
    tmp_path: Path, emulator: IdentityEmulator
) -> None:
    (tmp_path / "profiles.toml").write_text("[profiles.work\nclient_id = ")
    result = run(tmp_path, "login", *new_profile_args(emulator, "work", ALICE), "--timeout", "5")
    assert result.returncode == 1
    assert "cannot read the profiles file" in result.stderr
    assert "Sign in at" not in result.stderr and "Traceback" not in result.stderr


def test_an_unwritable_home_is_one_sentence_and_exit_1(
    tmp_path: Path, emulator: IdentityEmulator
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    home = blocker / "home"
    result = run(home, "login", *new_profile_args(emulator, "work", ALICE), "--timeout", "5")
    assert result.returncode == 1, result.stderr
    assert str(blocker) in result.stderr and "Sign in at" not in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_a_client_secret_in_the_profiles_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "profiles.toml").write_text(
        '[profiles.web]\nclient_id = "abc"\nclient_secret = "s3cret~value"\n'
    )
    result = run(tmp_path, "token", "--profile", "web")
    assert result.returncode == 1
    assert "O365IMAP_CLIENT_SECRET" in result.stderr and "s3cret" not in result.stderr


def test_a_damaged_token_file_means_signed_out(tmp_path: Path, emulator: IdentityEmulator) -> None:
    ProfileStore(tmp_path / "profiles.toml").save(
        Profile(
            name="p",
            client_id=PUBLIC_ID,
            authority=emulator.authority(),
            ca_file=str(emulator.ca_file),
            user=ALICE,
        )
    )
    (tmp_path / "tokens.json").write_text('{"AccessToken": {"x": ')
    result = run(tmp_path, "token", "--profile", "p")
    assert result.returncode == 2
    assert "damaged" in result.stderr and "o365imap login --profile p" in result.stderr
    # the warning reads like the error after it: one line, after the program's name
    assert result.stderr.startswith("o365imap: the token cache "), result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.glob("tokens.json.corrupt-*"))


def test_an_unreachable_identity_platform_exits_3(tmp_path: Path) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    ProfileStore(tmp_path / "profiles.toml").save(
        Profile(name="p", client_id=PUBLIC_ID, authority=f"https://127.0.0.1:{port}/t", user=ALICE)
    )
    result = run(tmp_path, "token", "--profile", "p")
    assert result.returncode == 3, result.stderr
    assert "cannot reach the identity platform" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_an_empty_access_token_is_a_usage_error(tmp_path: Path) -> None:
    result = run(tmp_path, "folders", "--access-token", "", "--user", ALICE)
    assert result.returncode == 1  # bad usage, as documented; never an internal error
    assert "--access-token is empty" in result.stderr
    assert "internal error" not in result.stderr


def test_whoami_json_shows_the_signed_in_account(
    tmp_path: Path, emulator: IdentityEmulator
) -> None:
    result = login(
        tmp_path, emulator, ALICE, ALICE_PASSWORD, *new_profile_args(emulator, "me", SHARED)
    )
    assert result.returncode == 0, result.stderr
    who = run(tmp_path, "whoami", "--json", "--profile", "me")
    assert who.returncode == 0, who.stderr
    info = json.loads(who.stdout)
    assert info["account"] == ALICE and info["mailbox"] == SHARED


def test_expiry_is_read_in_local_time(
    tmp_path: Path, emulator: IdentityEmulator, reader_zone: Callable[[str], None]
) -> None:
    """login, whoami and doctor say when the token expires in the reader's zone (TZ); the
    JSON keeps the instant in UTC."""
    reader_zone("Asia/Tokyo")
    signed = login(
        tmp_path, emulator, ALICE, ALICE_PASSWORD, *new_profile_args(emulator, "tz", ALICE)
    )
    who = run(tmp_path, "whoami", "--profile", "tz")
    data = json.loads(run(tmp_path, "whoami", "--json", "--profile", "tz").stdout)
    doctor = run(tmp_path, "doctor", "--profile", "tz")
    assert signed.returncode == 0, signed.stderr
    instant = datetime.fromisoformat(data["expires"])
    tokyo = instant.astimezone(timezone(timedelta(hours=9))).strftime("%Y-%m-%d %H:%M")
    assert f"valid until {tokyo} JST)" in signed.stderr + signed.stdout
    assert f"expires: {tokyo} JST" in who.stdout
    assert f"expires {tokyo} JST" in doctor.stdout
