"""Signing in end to end: the o365imap command, the sandbox's identity platform, a real
Chromium (through Playwright, the system executable) and a Dovecot that validates the tokens.

The commands run in this process (tests/cli_runner.py), a person's answers on the sign-in
pages given from a thread; in a process of their own only where a browser drives the page from
this thread, where a sandbox command runs beside them, or where processes meet.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from cli_runner import SignInPage, Watch, approving, invoke
from o365imap import UsageError
from o365imap.auth import Profile, ProfileStore
from o365imap.sandbox.approve import approve_sign_in
from o365imap.sandbox.environment import SANDBOX_PASSWORD, SANDBOX_USER, Sandbox

pytestmark = pytest.mark.dovecot

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WEB_APP = "7a7a7a7a-0000-4000-8000-000000000001"
SERVICE_APP = "7a7a7a7a-0000-4000-8000-000000000002"


@pytest.fixture
def home(tmp_path: Path, box: Sandbox) -> Path:
    """A private o365imap home with the sandbox profile saved in it."""
    box.save_profile(ProfileStore(tmp_path / "profiles.toml"))
    return tmp_path


# Which Dovecot the tests run (make test-dovecot24 sets these): a sandbox command started here
# must run the same one.
_KEPT = ("O365IMAP_DOVECOT_ROOT", "O365IMAP_DOVECOT")


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("O365IMAP_") or k in _KEPT}
    env.update(O365IMAP_HOME=str(home), O365IMAP_TOKEN_STORE="file", **extra)
    return env


def run(
    home: Path, *args: str, watch: Watch | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    return invoke(args, cli_env(home, **extra), watch=watch)


def approved(
    home: Path, box: Sandbox, *args: str, **extra: str
) -> tuple[subprocess.CompletedProcess[str], SignInPage]:
    """``o365imap *args`` (a login), the sandbox's user signing in on the page it prints."""
    person = approving(SANDBOX_USER, SANDBOX_PASSWORD, str(box.ca_file))
    return run(home, *args, watch=person, **extra), person


class Login:
    """`o365imap login` in a process of its own, running in the background, its sign-in URL
    caught from stderr: for a browser in this thread, or a sandbox command beside it."""

    def __init__(self, home: Path, *args: str, **extra: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "o365imap", *args],
            env=cli_env(home, **extra),
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.url: str | None = None
        self._found = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            # The sign-in page's address (with --debug, other https addresses come first).
            if self.url is None and (match := re.search(r"https://\S+/authorize\?\S+", line)):
                self.url = match.group(0)
                self._found.set()
        self._found.set()

    def wait_url(self, timeout: float = 30) -> str:
        assert self._found.wait(timeout), "no sign-in URL printed"
        assert self.url, "".join(self.lines)
        return self.url

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        code = self.process.wait(timeout=timeout)
        self._reader.join(5)
        return code, "".join(self.lines)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Debian's chromium is missing: make test installs it (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def _page(chromium: Any, box: Sandbox) -> Any:
    context = chromium.new_context(ignore_https_errors=False)
    return context, context.new_page()


# ---------------------------------------------------------------- the browser flow


def test_sign_in_in_a_real_browser_then_read_the_mailbox(
    chromium: Any, box: Sandbox, home: Path
) -> None:
    login = Login(home, "login", "--profile", "sandbox", "--no-browser")
    url = login.wait_url()
    assert "code_challenge=" in url and "code_challenge_method=S256" in url
    # Chromium must trust the sandbox's CA like a configured machine would: the test trusts
    # it by ignoring the emulator's certificate errors only (the CA is private to the test).
    context = chromium.new_context(ignore_https_errors=True)
    page = context.new_page()
    page.goto(url)
    assert page.locator("#username").input_value() == SANDBOX_USER  # login_hint
    page.fill("#password", SANDBOX_PASSWORD)
    page.click("button[value=accept]")
    page.wait_for_selector("text=Authorization successful", timeout=20_000)
    assert "close this tab" in page.content()
    assert page.url.startswith("http://localhost:")
    context.close()
    code, err = login.finish()
    assert code == 0, err
    assert f"Signed in as {SANDBOX_USER}" in err

    tokens = home / "tokens.json"
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    cache = json.loads(tokens.read_text())
    assert cache["RefreshToken"] and cache["AccessToken"]
    assert "token" not in (home / "profiles.toml").read_text().split("\n", 1)[1].lower()

    result = run(home, "folders", "--json", "--profile", "sandbox")
    assert result.returncode == 0, result.stderr
    assert "Bulk" in {json.loads(line)["name"] for line in result.stdout.splitlines()}


def test_declining_shows_the_failure_page(chromium: Any, box: Sandbox, home: Path) -> None:
    login = Login(home, "login", "--profile", "sandbox", "--no-browser")
    context = chromium.new_context(ignore_https_errors=True)
    page = context.new_page()
    page.goto(login.wait_url())
    page.click("button[value=cancel]")
    page.wait_for_selector("text=Authorization failed", timeout=20_000)
    assert "AADSTS65004" in page.content()
    context.close()
    code, err = login.finish()
    assert code == 2
    assert "declined" in err and "Traceback" not in err


def test_a_forged_state_is_refused_and_the_real_redirect_still_works(
    box: Sandbox, home: Path
) -> None:
    import urllib.error
    import urllib.parse
    import urllib.request

    def forge_then_sign_in(url: str) -> requests.Response:
        redirect = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["redirect_uri"][0]
        forged = urllib.parse.urlencode({"code": "attacker-code", "state": "guessed"}).encode()
        port = urllib.parse.urlsplit(redirect).port
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", data=forged, timeout=5)
        assert info.value.code == 400
        assert "Authorization failed" in info.value.read().decode()
        return approve_sign_in(
            url, username=SANDBOX_USER, password=SANDBOX_PASSWORD, ca_file=str(box.ca_file)
        )

    person = SignInPage(forge_then_sign_in)
    done = run(home, "login", "--profile", "sandbox", "--no-browser", watch=person)
    assert person.answer is not None and "Authorization successful" in person.answer.text
    assert done.returncode == 0, done.stderr


def test_login_without_profile_signs_in_to_the_default_one(box: Sandbox, home: Path) -> None:
    """Signing in again (a dead refresh token) takes the profile every other command uses."""
    import urllib.parse

    done, person = approved(home, box, "login", "--no-browser")
    assert person.answer is not None and "Authorization successful" in person.answer.text
    assert done.returncode == 0, done.stderr
    err, url = done.stderr, person.url
    assert url is not None
    assert "(profile 'sandbox'" in err
    # --no-browser is often SSH: the port to forward is said, not left inside the URL
    redirect = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["redirect_uri"][0]
    port = urllib.parse.urlsplit(redirect).port
    assert f"ssh -L {port}:localhost:{port} " in err
    assert ProfileStore(home / "profiles.toml").names() == ["sandbox"]


def test_nobody_signing_in_ends_with_a_clear_timeout(home: Path) -> None:
    start = time.monotonic()
    result = run(home, "login", "--profile", "sandbox", "--no-browser", "--timeout", "2")
    assert result.returncode == 2
    assert "nobody completed the sign-in within 2 s" in result.stderr
    assert time.monotonic() - start < 20
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- other flows


def test_device_code_flow(box: Sandbox, home: Path) -> None:
    pages: list[requests.Response] = []

    def enter_the_code(stderr: str) -> bool:
        code = re.search(r"enter the code (\S+)", stderr)
        if code is None:
            return False
        page = approve_sign_in(
            box.identity.device_login_url,
            username=SANDBOX_USER,
            password=SANDBOX_PASSWORD,
            ca_file=str(box.ca_file),
            fields={"user_code": code.group(1)},
        )
        pages.append(page)
        return True

    login = run(
        home, "login", "--profile", "sandbox", "--flow", "device-code", watch=enter_the_code
    )
    assert [("signed in" in page.text) for page in pages] == [True], login.stderr
    assert login.returncode == 0, login.stderr
    result = run(home, "info", "INBOX", "--json", "--profile", "sandbox")
    assert result.returncode == 0, result.stderr


def test_a_plain_login_after_a_device_code_one_signs_in_through_the_browser(
    box: Sandbox, home: Path
) -> None:
    """A device code is chosen for one sign-in, not kept for every later one: a plain
    `login` takes the default flow again, and says so in one sentence."""
    store = ProfileStore(home / "profiles.toml")
    store.save(replace(store.get("sandbox"), flow="device-code"), make_default=False)
    done, person = approved(home, box, "login", "--profile", "sandbox", "--no-browser")
    assert done.returncode == 0, done.stderr
    assert person.url is not None and "/authorize?" in person.url  # the browser's flow
    assert "the last sign-in used a device code: pass --flow device-code" in done.stderr
    assert "if its page shows an error instead, that page says what is wrong" in done.stderr
    assert store.get("sandbox").flow == "auth-code"
    again, _ = approved(home, box, "login", "--profile", "sandbox", "--no-browser")
    assert again.returncode == 0, again.stderr
    assert "device code" not in again.stderr  # said once, when it changed


def test_client_credentials_for_a_service(box: Sandbox, home: Path) -> None:
    app = box.identity.register_app(SERVICE_APP, confidential=True, name="mail archiver")
    assert app.secret
    args = [
        "login", "--profile", "svc", "--flow", "client-credentials", "--client-id", SERVICE_APP,
        "--authority", box.identity.authority(box.identity.tenant_id), "--user", SANDBOX_USER,
        "--ca-file", str(box.ca_file),
    ]  # fmt: skip
    missing = run(home, *args)
    assert missing.returncode == 1 and "O365IMAP_CLIENT_SECRET" in missing.stderr
    result = run(home, *args, O365IMAP_CLIENT_SECRET=app.secret)
    assert result.returncode == 0, result.stderr
    who = run(home, "whoami", "--json", "--profile", "svc", O365IMAP_CLIENT_SECRET=app.secret)
    assert who.returncode == 0, who.stderr
    info = json.loads(who.stdout)
    assert info["roles"] == ["IMAP.AccessAsApp"] and info["scopes"] == []
    assert info["audience"] == "https://outlook.office365.com"
    assert app.secret not in (home / "profiles.toml").read_text()


def test_a_confidential_app_used_as_public_gets_the_hint(box: Sandbox, home: Path) -> None:
    box.identity.register_app(WEB_APP, confidential=True, redirect_uris=("http://localhost",))
    login, _ = approved(
        home, box, "login", "--profile", "web", "--client-id", WEB_APP, "--no-browser",
        "--authority", box.identity.authority(), "--user", SANDBOX_USER,
        "--ca-file", str(box.ca_file),
    )  # fmt: skip
    code, err = login.returncode, login.stderr
    assert code == 2
    assert "AADSTS7000218" in err
    assert "needs a client secret" in err  # the sentence saying what to change


# ---------------------------------------------------------------- tokens over time


def sign_in(home: Path, box: Sandbox, profile: str = "sandbox") -> None:
    done, _ = approved(home, box, "login", "--profile", profile, "--no-browser")
    assert done.returncode == 0, done.stderr


def test_a_script_opens_the_saved_profile(box: Sandbox, home: Path) -> None:
    """What `o365imap login` saved, used from Python: the README's library example."""
    from o365imap import open_profile
    from o365imap.auth import TokenStore

    sign_in(home, box)
    profiles = ProfileStore(home / "profiles.toml")
    tokens = TokenStore(home / "tokens.json", use_keyring=False)
    with open_profile("sandbox", profiles=profiles, tokens=tokens) as client:
        assert client.select("INBOX", readonly=True).exists == len(client.search("ALL"))
        assert len(client.list_page(1, 3)) == 3
        client.close()  # a dropped connection: signed in again with a refreshed token
        client.reconnect()
        client.noop()
    assert not client.connected
    with pytest.raises(UsageError, match="no profile"):
        open_profile(profiles=ProfileStore(home / "none.toml"), tokens=tokens)


def test_short_lived_tokens_are_refreshed_silently(box: Sandbox, home: Path) -> None:
    box.identity.access_token_lifetime = 2  # msal refreshes any token with < 5 min left
    try:
        sign_in(home, box)
        first = run(home, "token", "--profile", "sandbox")
        second = run(home, "token", "--profile", "sandbox")
        assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
        assert first.stdout.strip() != second.stdout.strip()  # a new token each time
        listing = run(home, "list", "--json", "--page-size", "3", "--profile", "sandbox")
        assert listing.returncode == 0, listing.stderr
        assert len(listing.stdout.splitlines()) == 3
    finally:
        box.identity.access_token_lifetime = 3600


def test_two_processes_refreshing_at_once_both_succeed(box: Sandbox, home: Path) -> None:
    """The emulator retires a refresh token the moment it is used: without the cross-process
    lock, the slower of two refreshers would present a dead one and be told to sign in."""
    box.identity.access_token_lifetime = 2
    try:
        sign_in(home, box)
        env = cli_env(home)
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "o365imap", "token", "--profile", "sandbox"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
    finally:
        box.identity.access_token_lifetime = 3600
    assert [code for code, _, _ in results] == [0, 0, 0, 0], [err for _, _, err in results]


def test_a_dead_refresh_token_asks_to_sign_in_again(box: Sandbox, home: Path) -> None:
    box.identity.access_token_lifetime = 2
    try:
        sign_in(home, box)
        box.identity.expire_refresh_tokens(SANDBOX_USER)
        result = run(home, "folders", "--profile", "sandbox")
    finally:
        box.identity.access_token_lifetime = 3600
    assert result.returncode == 2
    assert "o365imap login --profile sandbox" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_token_dovecot_rejects_gives_the_clear_error(box: Sandbox, home: Path) -> None:
    # A token for Microsoft Graph (the bare scope name means Graph): Exchange would refuse it.
    store = ProfileStore(home / "profiles.toml")
    # not sending: SMTP.Send (an Outlook scope) next to a Graph one is AADSTS28000
    graph = {**box.profile("graph").__dict__, "scopes": ("Mail.Read",), "send": False}
    store.save(Profile(**graph))
    sign_in(home, box, "graph")
    result = run(home, "folders", "--profile", "graph")
    assert result.returncode == 2
    assert "refused the sign-in" in result.stderr
    assert "wrong scope or audience" in result.stderr
    doctor = run(home, "doctor", "--profile", "graph")
    assert doctor.returncode == 2
    assert "BAD  audience https://graph.microsoft.com" in doctor.stdout


def test_doctor_whoami_logout(box: Sandbox, home: Path) -> None:
    sign_in(home, box)
    doctor = run(home, "doctor", "--profile", "sandbox")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "Everything looks right." in doctor.stdout
    who = json.loads(run(home, "whoami", "--json", "--profile", "sandbox").stdout)
    assert who["account"] == SANDBOX_USER
    assert who["scopes"] == ["IMAP.AccessAsUser.All", "SMTP.Send"]  # the profile sends
    assert who["token_store"].startswith("file ")
    out = run(home, "logout", "--profile", "sandbox")
    assert out.returncode == 0, out.stderr
    after = run(home, "token", "--profile", "sandbox")
    assert after.returncode == 2 and "o365imap login" in after.stderr


def test_debug_output_never_shows_tokens_codes_or_secrets(box: Sandbox, home: Path) -> None:
    login, _ = approved(home, box, "--debug", "login", "--profile", "sandbox", "--no-browser")
    login_err = login.stderr
    assert login.returncode == 0, login_err
    # The sign-in steps, told: authority, flow, redirect port, token obtained or reused.
    assert f"identity platform {box.identity.authority()}" in login_err
    assert "authorization-code flow; redirect to http://localhost:" in login_err
    assert f"token obtained for {SANDBOX_USER}" in login_err
    listing = run(home, "--debug", "list", "--page-size", "2", "--profile", "sandbox")
    assert listing.returncode == 0, listing.stderr
    assert "AUTHENTICATE [redacted]" in listing.stderr
    assert f"token taken from the cache for {SANDBOX_USER}" in listing.stderr
    cache = json.loads((home / "tokens.json").read_text())
    secrets = [
        entry["secret"]
        for kind in ("AccessToken", "RefreshToken", "IdToken")
        for entry in cache.get(kind, {}).values()
    ]
    assert secrets
    for secret in secrets:
        assert secret not in login_err and secret not in listing.stderr
        assert secret[:40] not in listing.stderr


class SandboxProcess:
    """`o365imap sandbox --dir FOLDER` in its own process, read until it is ready."""

    def __init__(self, home: Path, folder: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "o365imap", "sandbox", "--dir", str(folder),
             *(args or ("--messages", "10"))],
            env=cli_env(home),
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert self.process.stderr is not None
        lines = []
        for line in self.process.stderr:
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        self.banner = "".join(lines)
        assert "Press Ctrl-C" in self.banner, self.banner + self.process.stderr.read()

    def port(self, kind: str) -> int:
        """The port the banner gives for ``kind`` ("TLS", "STARTTLS")."""
        match = re.search(rf"(\d+) {kind}\b", self.banner)
        assert match is not None, self.banner
        return int(match.group(1))

    def stop(self) -> str:
        """Ctrl-C; what it printed after the banner."""
        import signal

        assert self.process.stderr is not None
        self.process.send_signal(signal.SIGINT)
        rest = self.process.stderr.read()
        assert self.process.wait(timeout=30) == 0, rest
        return rest


def test_the_sandbox_command_runs_until_ctrl_c(tmp_path: Path) -> None:
    box = SandboxProcess(tmp_path / "home", tmp_path / "box")
    assert "o365imap login --profile sandbox" in box.banner
    port = box.port("TLS")
    profile = ProfileStore(tmp_path / "home" / "profiles.toml").get("sandbox")
    assert profile.port == port and profile.authority and profile.ca_file
    rest = box.stop()
    assert "Sandbox stopped." in rest and "Traceback" not in rest
    import socket

    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_a_sandbox_in_another_folder_signs_the_profile_out(tmp_path: Path) -> None:
    """Its Dovecot would refuse the other sandbox's tokens ("wrong scope or audience")."""
    home = tmp_path / "home"
    first = SandboxProcess(home, tmp_path / "one")
    try:
        profile = ProfileStore(home / "profiles.toml").get("sandbox")
        person = approving(SANDBOX_USER, SANDBOX_PASSWORD, str(profile.ca_file))
        login = run(home, "login", "--profile", "sandbox", "--no-browser", watch=person)
        assert login.returncode == 0, login.stderr
    finally:
        first.stop()
    again = SandboxProcess(home, tmp_path / "one")  # the same folder: the same key
    try:
        assert "Signed out" not in again.banner
        kept = run(home, "token", "--profile", "sandbox")
        assert kept.returncode == 0, kept.stderr
    finally:
        again.stop()
    other = SandboxProcess(home, tmp_path / "two")
    try:
        assert "Signed out of profile 'sandbox': its tokens came from a sandbox in another" in (
            other.banner
        )
        stale = run(home, "token", "--profile", "sandbox")
        assert stale.returncode == 2 and "no saved sign-in" in stale.stderr, stale.stderr
    finally:
        other.stop()


def test_a_confidential_web_app_signs_in_with_its_secret(box: Sandbox, home: Path) -> None:
    app = box.identity.register_app(
        "7a7a7a7a-0000-4000-8000-000000000003", confidential=True, name="classic web app"
    )
    assert app.secret
    login, _ = approved(
        home, box, "login", "--profile", "classic", "--client-id", app.client_id,
        "--confidential", "--no-browser", "--authority", box.identity.authority(),
        "--user", SANDBOX_USER, "--ca-file", str(box.ca_file), "--host", box.dovecot.host,
        "--port", str(box.dovecot.imaps_port),
        O365IMAP_CLIENT_SECRET=app.secret,
    )  # fmt: skip
    assert login.returncode == 0, login.stderr
    assert app.secret not in (home / "profiles.toml").read_text()
    assert "confidential = true" in (home / "profiles.toml").read_text()
    listing = run(home, "info", "INBOX", "--json", "--profile", "classic",
                  O365IMAP_CLIENT_SECRET=app.secret)  # fmt: skip
    assert listing.returncode == 0, listing.stderr


def test_ca_file_on_the_command_line_wins_over_the_profiles(box: Sandbox, home: Path) -> None:
    import certifi

    # A token that needs a refresh at once: only then is the sign-in service asked at all
    box.identity.access_token_lifetime = 2
    try:
        sign_in(home, box)
        store = ProfileStore(home / "profiles.toml")
        # The profile trusts the public CAs only: the sandbox's sign-in service is not one.
        store.save(Profile(**{**store.get("sandbox").__dict__, "ca_file": certifi.where()}))
        stale = run(home, "info", "INBOX", "--json", "--profile", "sandbox")
        assert stale.returncode == 3, stale.stderr
        assert "identity platform" in stale.stderr and "not trusted" in stale.stderr
        given = run(
            home, "info", "INBOX", "--json", "--profile", "sandbox", "--ca-file", str(box.ca_file)
        )
        assert given.returncode == 0, given.stderr
    finally:
        box.identity.access_token_lifetime = 3600
