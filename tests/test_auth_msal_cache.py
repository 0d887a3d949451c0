"""msal's token-cache records, read by their field names as auth/flows.py reads them.

flows.py takes a saved access token without msal's application object (no discovery request
before a token is needed), signs a profile out by removing its records, and rebuilds msal's
account key from client_info. Those field names are msal's internals, not its API: here a
sign-in's answer goes into a real msal cache through msal's own ``TokenCache.add`` (what msal
does after every token request), then the fields and flows.py's paths over them are checked.
An msal release that files its records differently fails here, not in a user's cache;
pyproject.toml holds msal below its next minor version until it passes.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import jwt
import msal

from o365imap.auth import Authenticator, Profile, TokenStore
from o365imap.auth.discovery import DiscoveryCache
from o365imap.auth.flows import _home_account_id
from o365imap.auth.saved import SavedTokens

CLIENT_ID = "0a0a0a0a-1111-4000-8000-00000000000c"
# Port 9 on loopback: nothing answers, so any request to the platform fails at once.
AUTHORITY = "https://127.0.0.1:9/contoso.example"
ENVIRONMENT, REALM = "127.0.0.1", "contoso.example"
USER = "adele.vance@contoso.example"
UID, UTID = "00000000-0000-4000-8000-0000000000a1", "00000000-0000-4000-8000-0000000000b2"
ACCOUNT_ID = f"{UID}.{UTID}"  # msal's home_account_id: uid.utid from client_info
IMAP_SCOPE = "https://outlook.office.com/IMAP.AccessAsUser.All"
Kind = msal.TokenCache.CredentialType


def _b64(data: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _token_response() -> dict[str, Any]:
    """What the platform answers an authorization-code redemption (the parts msal files)."""
    id_claims = {"aud": CLIENT_ID, "preferred_username": USER, "oid": UID, "tid": UTID}
    return {
        "token_type": "Bearer",
        "scope": IMAP_SCOPE,
        "expires_in": 3600,
        "refresh_in": 3000,  # filed as refresh_on: before it, the saved token is taken as is
        "access_token": "access-token-1",
        "refresh_token": "refresh-token-1",
        "id_token": jwt.encode({**id_claims, "sub": "subject"}, "k" * 32, algorithm="HS256"),
        "client_info": _b64({"uid": UID, "utid": UTID}),
    }


def _sign_in(cache: msal.TokenCache) -> dict[str, Any]:
    """File a sign-in's answer as msal's application does (its on_obtaining_tokens event)."""
    response = _token_response()
    cache.add(
        {
            "client_id": CLIENT_ID,
            # msal asks for the reserved scopes itself, beside the app's
            "scope": [IMAP_SCOPE, "offline_access", "openid", "profile"],
            "token_endpoint": f"{AUTHORITY}/oauth2/v2.0/token",
            "environment": ENVIRONMENT,
            "grant_type": "authorization_code",
            "response": dict(response),
            "params": {},
            "data": {"scope": [IMAP_SCOPE]},
        }
    )
    return response


def test_msal_files_a_sign_in_under_the_fields_flows_reads() -> None:
    cache = msal.SerializableTokenCache()
    response = _sign_in(cache)

    # _saved_access_token: searched by app, cloud, tenant, account and scopes, then read.
    query = {
        "client_id": CLIENT_ID,
        "environment": ENVIRONMENT,
        "realm": REALM,
        "home_account_id": ACCOUNT_ID,
    }
    [token] = cache.search(Kind.ACCESS_TOKEN, target=[IMAP_SCOPE], query=query)
    assert token["secret"] == "access-token-1"
    assert token["token_type"] == "Bearer"
    assert IMAP_SCOPE in token["target"].split()
    assert 3500 < int(token["expires_on"]) - time.time() <= 3600
    assert 2900 < int(token["refresh_on"]) - time.time() <= 3000

    # _account_ids: the account by its sign-in name; its key is what _home_account_id makes
    # of client_info, and what every token of the account is filed under.
    [account] = cache.search(Kind.ACCOUNT, query={})
    assert account["username"] == USER
    assert account["home_account_id"] == ACCOUNT_ID == _home_account_id(response)

    # sign_out: each kind searched by app, then told apart by account, then removed.
    for kind, remove in (
        (Kind.REFRESH_TOKEN, cache.remove_rt),
        (Kind.ACCESS_TOKEN, cache.remove_at),
        (Kind.ID_TOKEN, cache.remove_idt),
    ):
        [entry] = cache.search(kind, query={"client_id": CLIENT_ID})
        assert entry["home_account_id"] == ACCOUNT_ID
        remove(entry)
        assert not list(cache.search(kind, query={"home_account_id": ACCOUNT_ID}))
    cache.remove_account(account)
    assert not list(cache.search(Kind.ACCOUNT, query={}))


def test_flows_takes_the_saved_token_and_signs_out_through_those_records(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json", use_keyring=False)
    _sign_in(store.open())
    # What the first run's msal application left beside the tokens: where they are filed.
    DiscoveryCache(store.path.with_name("discovery-cache.json")).remember_realm(
        AUTHORITY, ENVIRONMENT, REALM
    )
    profile = Profile(
        name="work", client_id=CLIENT_ID, authority=AUTHORITY, user=USER, account_id=ACCOUNT_ID
    )

    # From the cache alone: a request to the authority (nothing on port 9) would fail.
    for known in (profile, replace(profile, account_id=None)):  # found by id, or by name
        token = Authenticator(known, store=store).access_token()
        assert token.access_token == "access-token-1"
        assert IMAP_SCOPE in token.scopes
        assert token.expires_at is not None

    assert Authenticator(profile, store=store).sign_out() == 3  # refresh, access and ID token
    left = json.loads(store.path.read_text())
    assert not any(left.get(kind) for kind in ("AccessToken", "RefreshToken", "IdToken", "Account"))


def test_the_saved_tokens_are_searched_as_msal_searches_them() -> None:
    """saved.py reads the serialized cache without msal: its searches find the records msal's
    own find, over a cache msal filed (two accounts, an app-only token, another tenant)."""
    cache = msal.SerializableTokenCache()
    _sign_in(cache)
    other = {**_token_response(), "access_token": "access-token-2", "scope": "Mail.Read"}
    other["client_info"] = _b64({"uid": "u2", "utid": UTID})
    cache.add(
        {
            "client_id": CLIENT_ID,
            "scope": ["Mail.Read"],
            "token_endpoint": "https://login.example/other.example/oauth2/v2.0/token",
            "environment": "login.example",  # lower case, as msal's application files it
            "grant_type": "authorization_code",
            "response": other,
            "params": {},
            "data": {},
        }
    )
    app_only = {"token_type": "Bearer", "expires_in": 3600, "access_token": "app-token"}
    cache.add(
        {
            "client_id": CLIENT_ID,
            "scope": ["https://outlook.office365.com/.default"],
            "token_endpoint": f"{AUTHORITY}/oauth2/v2.0/token",
            "environment": ENVIRONMENT,
            "grant_type": "client_credentials",
            "response": app_only,
            "params": {},
            "data": {},
        }
    )
    saved = SavedTokens(json.loads(cache.serialize()))
    base = {"client_id": CLIENT_ID, "environment": ENVIRONMENT, "realm": REALM}
    searches: list[tuple[str, list[str] | None, dict[str, Any]]] = [
        (Kind.ACCESS_TOKEN, [IMAP_SCOPE], {**base, "home_account_id": ACCOUNT_ID}),
        (Kind.ACCESS_TOKEN, [IMAP_SCOPE, "Mail.Read"], {**base, "home_account_id": ACCOUNT_ID}),
        (Kind.ACCESS_TOKEN, ["Mail.Read"], {"client_id": CLIENT_ID}),
        (
            Kind.ACCESS_TOKEN,
            ["Mail.Read"],
            {"environment": "login.EXAMPLE"},
        ),
        (Kind.ACCESS_TOKEN, [IMAP_SCOPE], {**base, "home_account_id": "u2." + UTID}),
        (Kind.ACCESS_TOKEN, [], {**base, "realm": "elsewhere"}),
        (Kind.ACCESS_TOKEN, None, {"client_id": CLIENT_ID, "home_account_id": None}),
        (Kind.ACCESS_TOKEN, None, {"client_id": CLIENT_ID, "home_account_id": ""}),
        (Kind.ACCOUNT, None, {}),
        (Kind.ACCOUNT, None, {"username": USER}),
    ]
    for kind, target, query in searches:
        theirs = list(cache.search(kind, target=target, query=query))
        ours = list(saved.search(kind, target=target, query=query))
        assert ours == theirs, (kind, target, query)
    # the environment compared in lower case, as msal files it
    assert any(saved.search(Kind.ACCESS_TOKEN, query={"environment": "login.EXAMPLE"}))


def test_a_saved_token_still_valid_is_taken_without_msal(tmp_path: Path) -> None:
    """`o365imap token` with a fresh saved token: msal and requests are not even imported."""
    store = TokenStore(tmp_path / "tokens.json", use_keyring=False)
    _sign_in(store.open())
    DiscoveryCache(store.path.with_name("discovery-cache.json")).remember_realm(
        AUTHORITY, ENVIRONMENT, REALM
    )
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from o365imap.auth import Authenticator, Profile, TokenStore\n"
        f"profile = Profile(name='work', client_id={CLIENT_ID!r}, authority={AUTHORITY!r}, "
        f"user={USER!r}, account_id={ACCOUNT_ID!r})\n"
        f"store = TokenStore(Path({str(store.path)!r}), use_keyring=False)\n"
        "token = Authenticator(profile, store=store).access_token()\n"
        "print(token.access_token, sorted(m for m in ('msal', 'requests') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["access-token-1", "[]"]
