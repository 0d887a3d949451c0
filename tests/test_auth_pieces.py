"""Sign-in pieces that need no identity platform: profiles, the token file, the listener."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest

from o365imap import SignInCancelled, SignInTimeout, UsageError
from o365imap.auth import (
    ConnectionSettings,
    LoopbackListener,
    Profile,
    ProfileStore,
    TokenStore,
    claims,
    expiry,
    hint_for,
)
from o365imap.auth.aadsts import aadsts_codes
from o365imap.auth.persistence import AtomicFilePersistence

# ---------------------------------------------------------------- profiles


def test_profiles_round_trip_and_default(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "profiles.toml")
    work = Profile(
        name="work",
        client_id="11111111-2222-3333-4444-555555555555",
        tenant="contoso.onmicrosoft.com",
        user='me"quote@contoso.com',
        scopes=("https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"),
        port=993,
    )
    store.save(work)
    store.save(Profile(name="home", client_id="abc", tenant="consumers"), make_default=False)
    assert store.names() == ["home", "work"]
    assert store.default_name() == "work"
    assert store.get() == work
    assert store.get("home").tenant == "consumers"
    text = (tmp_path / "profiles.toml").read_text()
    assert "token" not in text.lower().replace("# o365imap profiles: no tokens", "")
    assert store.remove("work") and store.default_name() == "home"


def test_profile_errors_are_sentences(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "profiles.toml")
    with pytest.raises(UsageError, match="o365imap login"):
        store.get()
    with pytest.raises(UsageError, match=r"client-credentials|mailbox"):
        Profile(name="svc", client_id="x", flow="client-credentials", tenant="t.com").validate()
    with pytest.raises(UsageError, match="tenant"):
        Profile(
            name="svc", client_id="x", flow="client-credentials", user="a@b.c", tenant="common"
        ).validate()
    with pytest.raises(UsageError, match="https"):
        Profile(name="p", client_id="x", authority="http://login.example").validate()
    (tmp_path / "profiles.toml").write_text("not = [toml")
    with pytest.raises(UsageError, match="cannot read the profiles file"):
        store.get()


def test_default_scopes_and_authority() -> None:
    delegated = Profile(name="a", client_id="x", tenant="contoso.com")
    assert delegated.authority_url == "https://login.microsoftonline.com/contoso.com"
    assert "offline_access" in delegated.effective_scopes
    assert delegated.effective_scopes[0] == "https://outlook.office.com/IMAP.AccessAsUser.All"
    app = Profile(name="b", client_id="x", flow="client-credentials", tenant="t")
    assert app.effective_scopes == ("https://outlook.office365.com/.default",)
    custom = Profile(name="c", client_id="x", authority="https://login.microsoftonline.us/t/")
    assert custom.authority_url == "https://login.microsoftonline.us/t"


# ---------------------------------------------------------------- token file


def test_token_file_is_private_and_replaced_atomically(tmp_path: Path) -> None:
    path = tmp_path / "data" / "tokens.json"
    persistence = AtomicFilePersistence(path)
    persistence.save('{"a": {"n": 1}}')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    inode = os.stat(path).st_ino
    persistence.save('{"a": {"n": 2}}')
    assert os.stat(path).st_ino != inode  # a new file renamed over the old one
    assert json.loads(persistence.load()) == {"a": {"n": 2}}
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tokens-")]


def test_token_store_falls_back_to_the_file_without_a_keyring(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json", use_keyring=False)
    cache = store.open()
    cache.add(
        {
            "client_id": "c",
            "scope": ["s"],
            "token_endpoint": "https://login.example/t/oauth2/v2.0/token",
            "response": {"access_token": "at", "expires_in": 3600, "token_type": "Bearer"},
        }
    )
    assert "file" in store.description
    assert stat.S_IMODE(os.stat(tmp_path / "tokens.json").st_mode) == 0o600


def test_two_processes_writing_the_cache_never_tear_it(tmp_path: Path) -> None:
    """Concurrent writers take turns on the lock file; every read sees whole JSON."""
    import multiprocessing

    path = tmp_path / "tokens.json"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_hammer, args=(str(path), n)) for n in range(2)]
    for proc in procs:
        proc.start()
    deadline = time.monotonic() + 20
    reads = 0
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        if path.exists():
            json.loads(path.read_text())  # never a half-written file
            reads += 1
    for proc in procs:
        proc.join(10)
        assert proc.exitcode == 0
    data = json.loads(path.read_text())
    tokens = data.get("AccessToken", {})
    assert len(tokens) == 2 * 25  # nobody's writes were lost


def _hammer(path: str, n: int) -> None:
    cache = TokenStore(Path(path), use_keyring=False).open()
    for i in range(25):
        cache.add(
            {
                "client_id": f"client-{n}-{i}",
                "scope": ["s"],
                "token_endpoint": "https://login.example/t/oauth2/v2.0/token",
                "response": {"access_token": f"at-{n}-{i}", "expires_in": 3600},
            }
        )


# ---------------------------------------------------------------- loopback listener


def _deliver(url: str, data: dict[str, str] | None = None, delay: float = 0.1) -> threading.Thread:
    def go() -> None:
        time.sleep(delay)
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with urllib.request.urlopen(url, data=body, timeout=5) as response:  # noqa: S310
                _responses.append((response.status, response.read().decode()))
        except urllib.error.HTTPError as exc:
            _responses.append((exc.code, exc.read().decode()))

    thread = threading.Thread(target=go)
    thread.start()
    return thread


_responses: list[tuple[int, str]] = []


@pytest.fixture(autouse=True)
def _clear_responses() -> None:
    _responses.clear()


def test_listener_takes_a_form_post_with_the_right_state() -> None:
    with LoopbackListener() as listener:
        assert listener.redirect_uri == f"http://localhost:{listener.port}/"
        url = f"http://127.0.0.1:{listener.port}/"
        thread = _deliver(url, {"code": "the-code", "state": "s1"})
        redirect = listener.wait("s1", timeout=5)
        redirect.respond(True)
        thread.join()
    assert redirect.params == {"code": "the-code", "state": "s1"}
    assert _responses[0][0] == 200 and "Authorization successful" in _responses[0][1]
    assert "close this tab" in _responses[0][1]


def test_listener_takes_a_query_redirect_on_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    with LoopbackListener() as listener:
        if len(listener._sockets) < 2:
            pytest.skip("no ::1 on this machine")
        thread = _deliver(f"http://[::1]:{listener.port}/?code=c&state=s2")
        redirect = listener.wait("s2", timeout=5)
        redirect.respond(True)
        thread.join()
    assert redirect.params["code"] == "c"


def test_listener_refuses_a_forged_state_and_keeps_waiting() -> None:
    with LoopbackListener() as listener:
        url = f"http://127.0.0.1:{listener.port}/"
        forged = _deliver(url, {"code": "evil", "state": "guess"}, delay=0.05)
        real = _deliver(url, {"code": "good", "state": "right"}, delay=0.4)
        redirect = listener.wait("right", timeout=5)
        redirect.respond(True)
        forged.join()
        real.join()
    assert redirect.params["code"] == "good"
    statuses = sorted(status for status, _ in _responses)
    assert statuses == [200, 400]
    assert any("Authorization failed" in text for _, text in _responses)


def test_listener_reports_errors_in_the_browser() -> None:
    with LoopbackListener() as listener:
        thread = _deliver(
            f"http://127.0.0.1:{listener.port}/",
            {
                "error": "access_denied",
                "error_description": "AADSTS65004: User declined <b>",
                "state": "s",
            },
        )
        redirect = listener.wait("s", timeout=5)
        thread.join()
    assert redirect.error == "access_denied"
    text = _responses[0][1]
    assert "Authorization failed: AADSTS65004: User declined &lt;b&gt;" in text  # escaped


def test_listener_ignores_other_paths() -> None:
    with LoopbackListener() as listener:
        stray = _deliver(f"http://127.0.0.1:{listener.port}/favicon.ico", delay=0.05)
        real = _deliver(f"http://127.0.0.1:{listener.port}/?code=c&state=s", delay=0.3)
        redirect = listener.wait("s", timeout=5)
        redirect.respond(True)
        stray.join()
        real.join()
    assert redirect.params["code"] == "c"
    assert 404 in [status for status, _ in _responses]


def test_listener_times_out() -> None:
    with LoopbackListener() as listener:
        start = time.monotonic()
        with pytest.raises(SignInTimeout, match=r"within 0\.5 s"):
            listener.wait("s", timeout=0.5)
        assert time.monotonic() - start < 2


def test_listener_gives_control_back_on_ctrl_c() -> None:
    calls = 0

    def interrupt() -> None:
        nonlocal calls
        calls += 1
        raise KeyboardInterrupt

    with LoopbackListener() as listener, pytest.raises(SignInCancelled):
        listener.wait("s", timeout=30, on_tick=interrupt)
    assert calls == 1


def test_listener_binds_loopback_only() -> None:
    with LoopbackListener() as listener:
        addresses = {sock.getsockname()[0] for sock in listener._sockets}
    assert addresses <= {"127.0.0.1", "::1"}


# ---------------------------------------------------------------- AADSTS


def test_aadsts_codes_and_hints() -> None:
    description = "AADSTS50011: The redirect URI 'http://localhost:1234' specified..."
    assert aadsts_codes(description, [50011]) == [50011]
    assert aadsts_codes("AADSTS700082: expired", []) == [700082]
    for code in (50011, 7000218, 700025, 65001, 90094, 700016, 50020, 50194, 9002332,
                 50076, 53003, 700082, 54005):  # fmt: skip
        hint = hint_for([code])
        assert hint and hint.endswith("."), code
    assert hint_for([1]) is None


# ---------------------------------------------------------------- connection settings


def test_connection_settings_take_the_profile_where_the_caller_gives_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    profile = Profile(
        name="work",
        client_id="c",
        confidential=True,
        user="me@contoso.com",
        host="imap.contoso.com",
        port=1993,
        ca_file="/profile/ca.pem",
    )
    settings = ConnectionSettings.from_profile(profile, security="starttls", timeout=5.0)
    assert (settings.host, settings.port, settings.security) == (
        "imap.contoso.com",
        1993,
        "starttls",
    )
    assert (settings.user, settings.ca_file, settings.timeout) == (
        "me@contoso.com",
        "/profile/ca.pem",
        5.0,
    )
    monkeypatch.setenv("O365IMAP_CLIENT_SECRET", "from-the-environment")
    auth = ConnectionSettings.from_profile(profile, ca_file="/given/ca.pem").authenticator()
    assert auth.profile.ca_file == "/given/ca.pem"  # trusted for the identity platform too
    assert auth._secret == "from-the-environment"
    given = replace(ConnectionSettings.from_profile(profile, secret="given"), access_token="tok")
    assert given.authenticator()._secret == "given"
    assert "tok" not in repr(given) and "given" not in repr(given)


def test_connection_settings_without_a_mailbox_or_profile_are_usage_errors() -> None:
    nobody = ConnectionSettings.from_profile(Profile(name="work", client_id="c"))
    with pytest.raises(UsageError, match="profile 'work' names no mailbox"):
        nobody.open()
    with pytest.raises(UsageError, match="no mailbox"):
        ConnectionSettings(access_token="tok").open()
    with pytest.raises(UsageError, match="no profile to sign in with"):
        ConnectionSettings(user="me@contoso.com").open()


# ---------------------------------------------------------------- reading tokens


def test_claims_of_a_jwt_are_read_unchecked_and_anything_else_has_none() -> None:
    """whoami and doctor explain a token, expired or not; a personal account's opaque token,
    or anything that is not a JWT, has no claims (and no error)."""
    token = jwt.encode({"upn": "a@example.com", "exp": 1}, "k" * 32, algorithm="HS256")
    assert claims(token) == {"upn": "a@example.com", "exp": 1}
    assert expiry(claims(token)) == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
    payload_not_an_object = "e30.W10.c2ln"  # {} . [] . sig
    for opaque in ("", "EwBwA8l6BAAU7p9QDpi", "a.b.c", "x.y", payload_not_an_object):
        assert claims(opaque) == {}, opaque
    assert expiry({}) is None
