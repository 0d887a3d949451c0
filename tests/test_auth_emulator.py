"""Authenticator against the project's identity-platform emulator, through msal.

In-process: an emulator on 127.0.0.1, msal driven by :class:`Authenticator`, and an HTTP
client standing in for the browser (``approve_sign_in``), in a thread as a browser would be.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    PUBLIC_ID,
    SERVICE_ID,
    SHARED,
    WEB_ID,
)
from o365imap import (
    ConnectError,
    InteractionRequired,
    ReadTimeout,
    SignInFailed,
    SignInTimeout,
    TransportError,
)
from o365imap.auth import Authenticator, Profile, Token, TokenStore
from o365imap.sandbox.approve import approve_sign_in
from o365imap.sandbox.identity import IdentityEmulator
from o365imap.sandbox.tokens import TokenSigner


@pytest.fixture
def store(tmp_path: Path) -> TokenStore:
    return TokenStore(tmp_path / "tokens.json", use_keyring=False)


def profile(emulator: IdentityEmulator, name: str, **kw: Any) -> Profile:
    values: dict[str, Any] = {
        "client_id": PUBLIC_ID,
        "authority": emulator.authority(),
        "ca_file": str(emulator.ca_file),
    }
    values.update(kw)
    return Profile(name=name, **values)


class Browser:
    """Opens the sign-in URL in a thread and signs in as ``username``."""

    def __init__(self, emulator: IdentityEmulator, username: str, password: str) -> None:
        self.emulator, self.username, self.password = emulator, username, password
        self.page = ""
        self._thread: threading.Thread | None = None

    def __call__(self, url: str) -> None:
        def go() -> None:
            answer = approve_sign_in(
                url,
                username=self.username,
                password=self.password,
                ca_file=str(self.emulator.ca_file),
                fields={"username": self.username},  # over the login_hint, as a person would
            )
            self.page = answer.text

        self._thread = threading.Thread(target=go, daemon=True)
        self._thread.start()

    def join(self) -> str:
        assert self._thread is not None
        self._thread.join(30)
        return self.page


def sign_in(
    auth: Authenticator, emulator: IdentityEmulator, username: str, password: str
) -> tuple[Token, str]:
    browser = Browser(emulator, username, password)
    try:
        token = auth.sign_in_browser(show_url=lambda url: None, timeout=30, browser=browser)
    finally:
        page = browser.join()
    return token, page


def cache_entries(store: TokenStore, client_id: str) -> list[dict[str, Any]]:
    data = json.loads(store.path.read_text())
    return [
        entry
        for kind in ("AccessToken", "RefreshToken", "IdToken")
        for entry in data.get(kind, {}).values()
        if entry.get("client_id") == client_id
    ]


# ---------------------------------------------------------------- whose tokens


def test_a_shared_mailbox_profile_uses_its_own_account_and_logout_spares_others(
    emulator: IdentityEmulator, store: TokenStore
) -> None:
    bob = profile(emulator, "bob", user=BOB)
    shared = profile(emulator, "shared", user=SHARED)  # read as alice, who has FullAccess
    bob_token, page = sign_in(Authenticator(bob, store=store), emulator, BOB, BOB_PASSWORD)
    assert "Authorization successful" in page
    alice_token, _ = sign_in(Authenticator(shared, store=store), emulator, ALICE, ALICE_PASSWORD)
    assert alice_token.account == ALICE and bob_token.account == BOB
    assert alice_token.account_id and bob_token.account_id
    assert alice_token.account_id != bob_token.account_id

    # What `login` saves: the mailbox stays the mailbox, the account is who signed in.
    bob = replace(bob, account=bob_token.account, account_id=bob_token.account_id)
    shared = replace(shared, account=ALICE, account_id=alice_token.account_id)
    assert Authenticator(shared, store=store).access_token().account == ALICE
    assert Authenticator(bob, store=store).access_token().account == BOB

    assert Authenticator(shared, store=store).sign_out() > 0
    with pytest.raises(InteractionRequired):  # not bob's token instead
        Authenticator(shared, store=store).access_token()
    assert Authenticator(bob, store=store).access_token().account == BOB  # still signed in
    accounts = json.loads(store.path.read_text())["Account"].values()
    assert [a["username"] for a in accounts] == [BOB]  # alice's record went with her tokens


def test_a_profile_without_its_account_never_takes_another(
    emulator: IdentityEmulator, store: TokenStore
) -> None:
    sign_in(
        Authenticator(profile(emulator, "bob", user=BOB), store=store), emulator, BOB, BOB_PASSWORD
    )
    for stranger in (profile(emulator, "old", user=SHARED), profile(emulator, "none")):
        with pytest.raises(InteractionRequired, match="o365imap login"):
            Authenticator(stranger, store=store).access_token()
        assert Authenticator(stranger, store=store).sign_out() == 0
    # A profile saved before account ids: its user was the account that signed in.
    assert Authenticator(profile(emulator, "old", user=BOB), store=store).access_token()


def test_logout_of_a_confidential_profile_needs_no_secret(
    emulator: IdentityEmulator, store: TokenStore
) -> None:
    secret = next(app.secret for app in emulator.apps() if app.client_id == WEB_ID)
    web = profile(emulator, "web", client_id=WEB_ID, confidential=True, user=ALICE)
    token, _ = sign_in(
        Authenticator(web, store=store, secret=secret), emulator, ALICE, ALICE_PASSWORD
    )
    other, _ = sign_in(
        Authenticator(profile(emulator, "pub", user=ALICE), store=store),
        emulator,
        ALICE,
        ALICE_PASSWORD,
    )
    assert cache_entries(store, WEB_ID)
    web = replace(web, account=ALICE, account_id=token.account_id)
    assert Authenticator(web, store=store, secret=None).sign_out() > 0
    assert cache_entries(store, WEB_ID) == []
    # The same account under another app keeps its sign-in (and its account record).
    pub = profile(emulator, "pub", user=ALICE, account=ALICE, account_id=other.account_id)
    assert Authenticator(pub, store=store).access_token().account == ALICE
    accounts = json.loads(store.path.read_text())["Account"].values()
    assert [a["username"] for a in accounts] == [ALICE]


def test_logout_of_an_app_only_profile_needs_no_secret(
    emulator: IdentityEmulator, store: TokenStore
) -> None:
    secret = next(app.secret for app in emulator.apps() if app.client_id == SERVICE_ID)
    service = profile(
        emulator,
        "svc",
        client_id=SERVICE_ID,
        flow="client-credentials",
        user=SHARED,
        authority=emulator.authority(emulator.tenant_id),
    )
    Authenticator(service, store=store, secret=secret).access_token()
    assert cache_entries(store, SERVICE_ID)
    assert Authenticator(service, store=store, secret=None).sign_out() > 0
    assert cache_entries(store, SERVICE_ID) == []


# ---------------------------------------------------------------- what the browser hears


def test_the_browser_hears_of_a_failed_redemption(
    emulator: IdentityEmulator, store: TokenStore
) -> None:
    """A confidential app used as a public one: the code is refused at the token endpoint."""
    web_as_public = profile(emulator, "web", client_id=WEB_ID, user=ALICE)
    browser = Browser(emulator, ALICE, ALICE_PASSWORD)
    with pytest.raises(SignInFailed, match="AADSTS7000218"):
        Authenticator(web_as_public, store=store).sign_in_browser(
            show_url=lambda url: None, timeout=30, browser=browser
        )
    page = browser.join()
    assert "Authorization failed" in page and "AADSTS7000218" in page
    assert "successful" not in page


def test_a_refusal_redirected_without_state_ends_the_wait_at_once(
    emulator: IdentityEmulator, store: TokenStore
) -> None:
    """The platform's refusal (``error=`` on the redirect, here without the state, as
    Microsoft's documented error responses are) ends the sign-in with its AADSTS text and
    hint; the browser is told so. The timeout is long: a wait that misses the refusal would
    hang the test, never pass it."""
    import urllib.parse
    import urllib.request

    pages: list[str] = []

    def refuse(url: str) -> None:
        redirect = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["redirect_uri"][0]
        query = urllib.parse.urlencode(
            {
                "error": "invalid_client",
                "error_description": "AADSTS700016: Application with identifier 'x' was not "
                "found in the directory.\r\nTrace ID: 1",
            }
        )

        def visit() -> None:
            port = urllib.parse.urlsplit(redirect).port
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/?{query}", timeout=30) as answer:
                pages.append(answer.read().decode())

        threading.Thread(target=visit, daemon=True).start()

    auth = Authenticator(profile(emulator, "refused", user=ALICE), store=store)
    with pytest.raises(SignInFailed, match="AADSTS700016: Application with") as info:
        auth.sign_in_browser(show_url=lambda url: None, timeout=3600, browser=refuse)
    assert info.value.hint is not None and "--client-id" in info.value.hint
    for _ in range(100):  # the page is written before the wait ends; the thread reads it
        if pages:
            break
        time.sleep(0.1)
    assert pages and "Authorization failed: AADSTS700016" in pages[0]
    assert "The terminal says what to do next" in pages[0]


# ---------------------------------------------------------------- a restarted emulator


def test_a_saved_sign_in_outlives_an_emulator_restart(tmp_path: Path, store: TokenStore) -> None:
    """What `o365imap sandbox` stopped and started again in its folder means for a profile."""
    signer = TokenSigner()

    def emulator_on(port: int) -> IdentityEmulator:
        emu = IdentityEmulator(tmp_path / "identity", signer=signer, port=port)
        emu.register_app(PUBLIC_ID, name="public")
        emu.add_user(ALICE, ALICE_PASSWORD)
        return emu

    with emulator_on(0) as first:
        port = first.port
        alice = profile(first, "alice", user=ALICE)
        before, _ = sign_in(Authenticator(alice, store=store), first, ALICE, ALICE_PASSWORD)
    alice = replace(alice, account=ALICE, account_id=before.account_id)
    with emulator_on(port):  # the same port: the profile's authority, and msal's cache keys
        after = Authenticator(alice, store=store).access_token(force_refresh=True)
    assert after.account == ALICE and after.access_token != before.access_token


# ---------------------------------------------------------------- the network


def test_an_unreachable_authority_is_a_transport_error(store: TokenStore) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    dead = Profile(name="p", client_id=PUBLIC_ID, authority=f"https://127.0.0.1:{port}/t")
    with pytest.raises(ConnectError, match="cannot reach the identity platform") as info:
        Authenticator(dead, store=store).access_token()
    assert "refused" in str(info.value).lower()


def test_a_silent_authority_is_a_read_timeout(store: TokenStore) -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        mute = Profile(name="p", client_id=PUBLIC_ID, authority=f"https://127.0.0.1:{port}/t")
        start = time.monotonic()
        with pytest.raises(ReadTimeout, match=r"no answer within 0\.5 s"):
            Authenticator(mute, store=store, timeout=0.5).sign_in_device_code(show=print)
        assert time.monotonic() - start < 5


def test_an_untrusted_authority_is_a_connect_error(
    emulator: IdentityEmulator, store: TokenStore
) -> None:
    untrusted = profile(emulator, "p", ca_file=None)
    with pytest.raises(TransportError, match="not trusted"):
        Authenticator(untrusted, store=store).access_token()


@pytest.mark.slow
def test_a_device_code_nobody_enters_times_out(
    emulator: IdentityEmulator, store: TokenStore
) -> None:
    emulator.device_poll_interval = 1
    try:
        start = time.monotonic()
        with pytest.raises(SignInTimeout, match="within 2 s"):
            Authenticator(profile(emulator, "dev"), store=store).sign_in_device_code(
                show=lambda message: None, timeout=2
            )
        assert time.monotonic() - start < 8
    finally:
        emulator.device_poll_interval = 5


# ---------------------------------------------------------------- --debug


def test_the_debug_log_tells_the_steps_never_the_tokens(
    emulator: IdentityEmulator, store: TokenStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="o365imap")
    alice = profile(emulator, "alice", user=ALICE)
    token, _ = sign_in(Authenticator(alice, store=store), emulator, ALICE, ALICE_PASSWORD)
    alice = replace(alice, account=ALICE, account_id=token.account_id)
    Authenticator(alice, store=store).access_token()
    Authenticator(alice, store=store).access_token(force_refresh=True)
    text = caplog.text
    assert emulator.authority() in text
    assert "authorization-code flow; redirect to http://localhost:" in text
    assert f"token obtained for {ALICE}" in text
    assert f"token taken from the cache for {ALICE}" in text
    assert f"token refreshed for {ALICE}" in text
    data = json.loads(store.path.read_text())
    secrets = [
        entry["secret"]
        for kind in ("AccessToken", "RefreshToken", "IdToken")
        for entry in data[kind].values()
    ]
    assert secrets
    for secret in secrets:
        assert secret not in text and secret[:24] not in text
