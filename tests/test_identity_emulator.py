"""The identity-platform emulator, driven by msal as the program drives Entra ID.

Token requests always go through msal (pointed at the emulator as ../shared/notes/msal-offline.md
says); ``requests`` stands in for the browser on the sign-in pages. The last tests hand the
emulator's tokens to a real Dovecot that shares its signing key.
"""

from __future__ import annotations

import base64
import hashlib
import imaplib
import json
import logging
import socket
import ssl
import threading
import time
import warnings
import webbrowser
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import msal
import pytest
import requests

from o365imap.sandbox.identity import (
    APP_ROLE_IMAP,
    APP_ROLE_SMTP,
    DEFAULT_DELEGATED,
    DELEGATED_SMTP_SEND,
    IdentityEmulator,
)
from o365imap.sandbox.tokens import TokenSigner, decode_unverified

PUBLIC_ID = "11111111-2222-3333-4444-555555555555"
WEB_ID = "66666666-7777-8888-9999-000000000000"
WEB_SECRET = "web-s3cret~value"
ALICE = "alice@example.com"
ALICE_PASSWORD = "alice-pw"
BOB = "bob@example.com"
IMAP_SCOPE = "https://outlook.office.com/IMAP.AccessAsUser.All"
APP_SCOPE = "https://outlook.office365.com/.default"


# -- a browser made of requests ----------------------------------------------------------------


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get").lower()))
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1].fields[a["name"]] = a.get("value", "")


def forms_of(page: str) -> list[Form]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


def browser(ca_file: Path) -> requests.Session:
    session = requests.Session()
    session.verify = str(ca_file)
    session.trust_env = False
    return session


def submit_sign_in(
    session: requests.Session,
    page: requests.Response,
    *,
    username: str = ALICE,
    password: str = ALICE_PASSWORD,
    action: str = "accept",
) -> requests.Response:
    (form,) = forms_of(page.text)
    data = dict(form.fields, username=username, password=password, action=action)
    return session.post(urljoin(page.url, form.action), data=data, allow_redirects=False)


def form_post_fields(page: requests.Response) -> tuple[str, dict[str, str]]:
    """(action, fields) of the auto-submitting form that carries the answer to the app."""
    assert page.status_code == 200, page.text
    (form,) = forms_of(page.text)
    assert form.method == "post"
    return form.action, form.fields


# -- fixtures ----------------------------------------------------------------------------------


def registered(emu: IdentityEmulator) -> IdentityEmulator:
    """``emu`` with the tests' apps and users."""
    emu.register_app(PUBLIC_ID, name="o365imap test")
    emu.register_app(WEB_ID, confidential=True, secret=WEB_SECRET, name="o365imap web")
    emu.add_user(ALICE, ALICE_PASSWORD, display_name="Alice Example")
    emu.add_user(BOB, "bob-pw")
    return emu


@pytest.fixture
def emulator(tmp_path: Path, signer: TokenSigner) -> Iterator[IdentityEmulator]:
    with registered(IdentityEmulator(tmp_path / "identity", signer=signer)) as emu:
        yield emu


def http_client(emulator: IdentityEmulator) -> requests.Session:
    return browser(emulator.ca_file)


def public_app(emulator: IdentityEmulator, tenant: str = "organizations") -> Any:
    return msal.PublicClientApplication(
        PUBLIC_ID,
        authority=emulator.authority(tenant),
        instance_discovery=False,
        http_client=http_client(emulator),
    )


def web_app(
    emulator: IdentityEmulator,
    client_id: str = WEB_ID,
    secret: str = WEB_SECRET,
    tenant: str = "organizations",
) -> Any:
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=secret,
        authority=emulator.authority(tenant),
        instance_discovery=False,
        http_client=http_client(emulator),
    )


def sign_in(
    emulator: IdentityEmulator,
    app: Any,
    *,
    scopes: tuple[str, ...] = (IMAP_SCOPE,),
    username: str = ALICE,
    password: str = ALICE_PASSWORD,
    action: str = "accept",
    **flow_kwargs: Any,
) -> tuple[dict[str, Any], dict[str, str]]:
    """One auth-code round trip in the "browser": (msal's flow, what the browser posts back)."""
    flow = app.initiate_auth_code_flow(
        list(scopes),
        redirect_uri="http://localhost:8400",
        response_mode="form_post",
        **flow_kwargs,
    )
    session = browser(emulator.ca_file)
    page = session.get(flow["auth_uri"])
    assert page.status_code == 200, page.text
    target, fields = form_post_fields(
        submit_sign_in(session, page, username=username, password=password, action=action)
    )
    assert target == "http://localhost:8400"
    return flow, fields


def claims_of(token: str) -> dict[str, Any]:
    return decode_unverified(token)[1]


# -- discovery -----------------------------------------------------------------------------------


def test_discovery_documents(emulator: IdentityEmulator) -> None:
    s = http_client(emulator)
    config = s.get(f"{emulator.authority('common')}/v2.0/.well-known/openid-configuration").json()
    base = f"{emulator.base_url}/common/oauth2/v2.0"
    assert config["authorization_endpoint"] == f"{base}/authorize"
    assert config["token_endpoint"] == f"{base}/token"
    assert config["device_authorization_endpoint"] == f"{base}/devicecode"
    assert config["issuer"] == f"{emulator.base_url}/{{tenantid}}/v2.0"
    tenant_config = s.get(
        f"{emulator.authority(emulator.tenant_id)}/v2.0/.well-known/openid-configuration"
    ).json()
    assert tenant_config["issuer"] == f"{emulator.base_url}/{emulator.tenant_id}/v2.0"
    keys = s.get(config["jwks_uri"]).json()["keys"]
    assert [k["kid"] for k in keys] == [emulator.signer.kid]

    unknown = s.get(f"{emulator.base_url}/nosuchtenant/v2.0/.well-known/openid-configuration")
    assert unknown.status_code == 400
    assert unknown.json()["error_codes"] == [90002]
    # a user's domain names the tenant too, as in Entra
    assert s.get(f"{emulator.authority('example.com')}/discovery/v2.0/keys").status_code == 200


# -- authorization code --------------------------------------------------------------------------


def test_public_client_auth_code_with_pkce(emulator: IdentityEmulator) -> None:
    app = public_app(emulator)
    flow = app.initiate_auth_code_flow(
        [IMAP_SCOPE],
        redirect_uri="http://localhost:8400",
        response_mode="form_post",
        login_hint=ALICE,
    )
    query = parse_qs(urlsplit(flow["auth_uri"]).query)
    assert query["code_challenge_method"] == ["S256"]
    session = browser(emulator.ca_file)
    page = session.get(flow["auth_uri"])
    assert "o365imap test" in page.text and IMAP_SCOPE in page.text
    (form,) = forms_of(page.text)
    assert form.fields["username"] == ALICE  # prefilled from login_hint
    target, fields = form_post_fields(submit_sign_in(session, page))
    assert target == "http://localhost:8400"
    assert set(fields) == {"code", "state"} and fields["state"] == flow["state"]

    result = app.acquire_token_by_auth_code_flow(flow, fields)
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] == 3600
    assert set(result["scope"].split()) >= {IMAP_SCOPE, "offline_access", "openid", "profile"}
    assert result["refresh_token"]
    claims = claims_of(result["access_token"])
    assert claims["aud"] == "https://outlook.office.com"
    assert claims["scp"] == "IMAP.AccessAsUser.All"
    assert claims["scope"] == IMAP_SCOPE  # what Dovecot reads
    assert claims["upn"] == claims["preferred_username"] == claims["email"] == ALICE
    assert claims["tid"] == emulator.tenant_id
    assert claims["appid"] == PUBLIC_ID
    assert claims["exp"] - claims["iat"] == 3600 + 30  # iat dated back for Dovecot's clock
    id_claims = result["id_token_claims"]
    assert id_claims["aud"] == PUBLIC_ID
    assert id_claims["nonce"]  # msal checked it against its own
    assert id_claims["preferred_username"] == ALICE and id_claims["name"] == "Alice Example"
    (account,) = app.get_accounts()
    assert account["username"] == ALICE
    assert account["home_account_id"] == f"{id_claims['oid']}.{emulator.tenant_id}"


def test_one_sign_in_gives_imap_and_smtp_send(emulator: IdentityEmulator) -> None:
    # What a profile that sends asks for: one token Dovecot's IMAP and submission both take.
    emulator.register_app(
        PUBLIC_ID,
        name="o365imap test",
        delegated_permissions=(*DEFAULT_DELEGATED, DELEGATED_SMTP_SEND),
    )
    app = public_app(emulator)
    scopes = (IMAP_SCOPE, DELEGATED_SMTP_SEND)  # msal adds offline_access itself
    result = app.acquire_token_by_auth_code_flow(*sign_in(emulator, app, scopes=scopes))
    assert "access_token" in result, result
    assert set(result["scope"].split()) >= {IMAP_SCOPE, DELEGATED_SMTP_SEND}
    claims = claims_of(result["access_token"])
    assert claims["scp"] == "IMAP.AccessAsUser.All SMTP.Send"
    assert claims["scope"] == f"{IMAP_SCOPE} {DELEGATED_SMTP_SEND}"
    silent = app.acquire_token_silent(
        ["https://outlook.office.com/.default"], account=app.get_accounts()[0], force_refresh=True
    )
    assert claims_of(silent["access_token"])["scp"] == "IMAP.AccessAsUser.All SMTP.Send"


def test_query_response_mode_redirects(emulator: IdentityEmulator) -> None:
    app = public_app(emulator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # msal recommends form_post
        flow = app.initiate_auth_code_flow(
            [IMAP_SCOPE], redirect_uri="http://127.0.0.1:8400/cb?x=1", response_mode="query"
        )
    emulator.register_app(PUBLIC_ID, redirect_uris=["http://localhost/cb?x=1"])
    session = browser(emulator.ca_file)
    answer = submit_sign_in(session, session.get(flow["auth_uri"]))
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert (location.netloc, location.path) == ("127.0.0.1:8400", "/cb")
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert params["x"] == "1" and params["state"] == flow["state"]
    result = app.acquire_token_by_auth_code_flow(flow, params)
    assert "access_token" in result, result


def test_auto_approve_skips_the_form(emulator: IdentityEmulator) -> None:
    emulator.auto_approve = True
    app = public_app(emulator)
    flow = app.initiate_auth_code_flow(
        [IMAP_SCOPE],
        redirect_uri="http://localhost:8400",
        response_mode="form_post",
        login_hint=BOB,
    )
    _, fields = form_post_fields(browser(emulator.ca_file).get(flow["auth_uri"]))
    result = app.acquire_token_by_auth_code_flow(flow, fields)
    assert claims_of(result["access_token"])["upn"] == BOB


@pytest.mark.slow
def test_acquire_token_interactive_with_a_stand_in_browser(
    emulator: IdentityEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """msal's own loopback listener; webbrowser.open replaced by a thread that signs in."""
    errors: list[BaseException] = []

    def drive(auth_uri: str) -> None:
        try:
            session = browser(emulator.ca_file)
            target, fields = form_post_fields(submit_sign_in(session, session.get(auth_uri)))
            assert urlsplit(target).hostname == "localhost"
            listener = session.post(target.replace("localhost", "127.0.0.1"), data=fields)
            assert listener.status_code == 200, listener.text
        except BaseException as exc:
            errors.append(exc)

    def fake_open(url: str, *args: Any, **kwargs: Any) -> bool:
        threading.Thread(target=drive, args=(url,), daemon=True).start()
        return True

    monkeypatch.setattr(webbrowser, "open", fake_open)
    monkeypatch.delenv("BROWSER", raising=False)
    result = public_app(emulator).acquire_token_interactive([IMAP_SCOPE], timeout=20)
    assert not errors, errors
    assert "access_token" in result, result
    assert claims_of(result["access_token"])["upn"] == ALICE


def test_confidential_client_secret_errors(emulator: IdentityEmulator) -> None:
    flow, fields = sign_in(emulator, web_app(emulator))

    def redeem(app: Any) -> dict[str, Any]:
        result: dict[str, Any] = app.acquire_token_by_auth_code_flow(dict(flow), fields)
        return result

    # client authentication comes first, so the same code serves every failed attempt
    missing = redeem(
        msal.PublicClientApplication(
            WEB_ID,
            authority=emulator.authority(),
            instance_discovery=False,
            http_client=http_client(emulator),
        )
    )
    assert (missing["error"], missing["error_codes"]) == ("invalid_client", [7000218])
    wrong = redeem(web_app(emulator, secret="not-the-secret"))
    assert (wrong["error"], wrong["error_codes"]) == ("invalid_client", [7000215])
    public_with_secret = redeem(web_app(emulator, client_id=PUBLIC_ID, secret="a-secret"))
    assert public_with_secret["error_codes"] == [700025]
    assert public_with_secret["error_description"].startswith("AADSTS700025: ")
    assert "\r\nTrace ID: " in public_with_secret["error_description"]
    assert public_with_secret["correlation_id"]

    result = redeem(web_app(emulator))
    assert "access_token" in result, result
    assert claims_of(result["access_token"])["appid"] == WEB_ID


def test_authorize_error_pages(emulator: IdentityEmulator) -> None:
    session = browser(emulator.ca_file)
    app = public_app(emulator)

    def authorize(redirect_uri: str, client: Any = app) -> requests.Response:
        flow = client.initiate_auth_code_flow(
            [IMAP_SCOPE], redirect_uri=redirect_uri, response_mode="form_post"
        )
        return session.get(flow["auth_uri"], allow_redirects=False)

    unknown = authorize(
        "http://localhost:8400",
        msal.PublicClientApplication(
            "00000000-0000-0000-0000-00000000dead",
            authority=emulator.authority(),
            instance_discovery=False,
            http_client=http_client(emulator),
        ),
    )
    assert unknown.status_code == 400 and "AADSTS700016" in unknown.text
    assert "00000000-0000-0000-0000-00000000dead" in unknown.text
    assert not forms_of(unknown.text)  # a page, not a redirect to an unknown app

    for bad in ("https://attacker.invalid/callback", "http://localhost:8400/other/path"):
        page = authorize(bad)
        assert page.status_code == 400 and "AADSTS50011" in page.text
        assert bad in page.text
    # the port of a registered http://localhost is ignored, and 127.0.0.1 counts as localhost
    assert authorize("http://127.0.0.1:51234").status_code == 200
    assert authorize("http://localhost:1").status_code == 200

    emulator.register_app(PUBLIC_ID, sign_in_audience="AzureADMyOrg")
    assert "AADSTS50194" in authorize("http://localhost:8400", public_app(emulator, "common")).text


def test_code_is_single_use_and_bound_to_the_verifier(emulator: IdentityEmulator) -> None:
    app = public_app(emulator)
    flow, fields = sign_in(emulator, app)
    forged = dict(flow, code_verifier="x" * 43)
    mismatch = app.acquire_token_by_auth_code_flow(forged, fields)
    assert (mismatch["error"], mismatch["error_codes"]) == ("invalid_grant", [501481])
    assert "access_token" in app.acquire_token_by_auth_code_flow(flow, fields)
    reused = app.acquire_token_by_auth_code_flow(flow, fields)
    assert (reused["error"], reused["error_codes"]) == ("invalid_grant", [54005])

    emulator.code_lifetime = 0
    flow, fields = sign_in(emulator, app)
    expired = app.acquire_token_by_auth_code_flow(flow, fields)
    assert expired["error_codes"] == [70008]


def test_plain_pkce_and_redirect_uri_binding(emulator: IdentityEmulator) -> None:
    """PKCE ``plain`` (msal only does S256) and the token request's redirect_uri check."""
    session = browser(emulator.ca_file)
    authorize = f"{emulator.authority()}/oauth2/v2.0/authorize"
    verifier = "v" * 50
    params = {
        "client_id": PUBLIC_ID,
        "response_type": "code",
        "redirect_uri": "http://localhost:9",
        # no openid: no id token, so msal has no nonce to compare
        "scope": f"{IMAP_SCOPE} offline_access",
        "code_challenge": verifier,
        "code_challenge_method": "plain",
        "response_mode": "form_post",
        "state": "s1",
    }
    _, fields = form_post_fields(submit_sign_in(session, session.get(authorize, params=params)))
    app = public_app(emulator)
    flow = {
        "state": "s1",
        "redirect_uri": "http://localhost:10",
        "scope": [IMAP_SCOPE],
        "code_verifier": verifier,
        "nonce": "n",
        "auth_uri": "",
    }
    wrong_uri = app.acquire_token_by_auth_code_flow(flow, fields)
    assert wrong_uri["error_codes"] == [500112]
    result = app.acquire_token_by_auth_code_flow(
        dict(flow, redirect_uri="http://localhost:9"), fields
    )
    assert "access_token" in result, result


def test_cancel_wrong_password_and_mfa(emulator: IdentityEmulator) -> None:
    app = public_app(emulator)
    flow, fields = sign_in(emulator, app, action="cancel")
    assert fields["error"] == "access_denied" and fields["state"] == flow["state"]
    assert fields["error_description"].startswith("AADSTS65004: User declined to consent")
    assert app.acquire_token_by_auth_code_flow(flow, fields)["error"] == "access_denied"

    flow = app.initiate_auth_code_flow(
        [IMAP_SCOPE], redirect_uri="http://localhost:8400", response_mode="form_post"
    )
    session = browser(emulator.ca_file)
    page = session.get(flow["auth_uri"])
    again = submit_sign_in(session, page, password="wrong")
    assert again.status_code == 200 and "AADSTS50126" in again.text
    assert forms_of(again.text)[0].fields["username"] == ALICE
    _, fields = form_post_fields(submit_sign_in(session, again))  # same page, right password
    assert "access_token" in app.acquire_token_by_auth_code_flow(flow, fields)

    emulator.add_user("carol@example.com", "carol-pw", mfa_required=True)
    _, fields = sign_in(emulator, app, username="carol@example.com", password="carol-pw")
    assert fields["error"] == "interaction_required"
    assert fields["error_description"].startswith("AADSTS50076: ")


def test_consent(emulator: IdentityEmulator) -> None:
    emulator.register_app(PUBLIC_ID, admin_consented=False, name="Needs consent")
    emulator.add_user("dave@example.com", "dave-pw", consented=False)
    app = public_app(emulator)

    silent = app.initiate_auth_code_flow(
        [IMAP_SCOPE],
        redirect_uri="http://localhost:8400",
        response_mode="form_post",
        prompt="none",
        login_hint="dave@example.com",
    )
    _, fields = form_post_fields(browser(emulator.ca_file).get(silent["auth_uri"]))
    assert (fields["error"], fields["error_description"][:13]) == (
        "consent_required",
        "AADSTS65001: ",
    )

    flow = app.initiate_auth_code_flow(
        [IMAP_SCOPE],
        redirect_uri="http://localhost:8400",
        response_mode="form_post",
        login_hint="dave@example.com",
    )
    session = browser(emulator.ca_file)
    page = session.get(flow["auth_uri"])
    assert "Permissions requested" in page.text and "Needs consent" in page.text
    _, fields = form_post_fields(
        submit_sign_in(session, page, username="dave@example.com", password="dave-pw")
    )
    result = app.acquire_token_by_auth_code_flow(flow, fields)
    assert "access_token" in result, result

    emulator.revoke_consent("dave@example.com", PUBLIC_ID)
    refused = app.acquire_token_by_refresh_token(result["refresh_token"], [IMAP_SCOPE])
    assert refused["error_codes"] == [65001]

    emulator.set_app_consent(PUBLIC_ID, user_consent_allowed=False)
    _, fields = sign_in(emulator, app, username="dave@example.com", password="dave-pw")
    assert fields["error_description"].startswith("AADSTS90094: ")


# -- refresh -----------------------------------------------------------------------------------


def refresh_tokens(app: Any) -> list[str]:
    cached = app.token_cache.search(msal.TokenCache.CredentialType.REFRESH_TOKEN)
    return [entry["secret"] for entry in cached]


def test_silent_refresh_rotates_the_refresh_token(emulator: IdentityEmulator) -> None:
    emulator.access_token_lifetime = 2  # msal refreshes anything with under 5 minutes left
    app = public_app(emulator)
    flow, fields = sign_in(emulator, app)
    first = app.acquire_token_by_auth_code_flow(flow, fields)
    assert first["expires_in"] == 2
    (old_refresh,) = refresh_tokens(app)

    (account,) = app.get_accounts()
    second = app.acquire_token_silent([IMAP_SCOPE], account=account)
    assert second is not None and second["token_source"] == "identity_provider"
    assert second["access_token"] != first["access_token"]
    claims = claims_of(second["access_token"])
    assert claims["exp"] - claims["iat"] == 2 + 30 and claims["upn"] == ALICE  # iat dated back
    (new_refresh,) = refresh_tokens(app)
    assert new_refresh != old_refresh

    stale = app.acquire_token_by_refresh_token(old_refresh, [IMAP_SCOPE])
    assert (stale["error"], stale["error_codes"]) == ("invalid_grant", [70000])
    assert app.acquire_token_silent([IMAP_SCOPE], account=account) is not None


def test_expired_and_revoked_refresh_tokens(emulator: IdentityEmulator) -> None:
    emulator.access_token_lifetime = 2
    app = public_app(emulator)
    app.acquire_token_by_auth_code_flow(*sign_in(emulator, app))
    (account,) = app.get_accounts()
    assert emulator.expire_refresh_tokens(ALICE) == 1
    expired = app.acquire_token_silent_with_error([IMAP_SCOPE], account=account)
    assert expired is not None
    assert (expired["error"], expired["error_codes"]) == ("invalid_grant", [700082])
    assert "expired due to inactivity" in expired["error_description"]

    app = public_app(emulator)
    app.acquire_token_by_auth_code_flow(*sign_in(emulator, app))
    (account,) = app.get_accounts()
    emulator.revoke(ALICE)
    revoked = app.acquire_token_silent_with_error([IMAP_SCOPE], account=account)
    assert revoked is not None and revoked["error_codes"] == [50173]
    # signing in again after the revocation works
    result = app.acquire_token_by_auth_code_flow(*sign_in(emulator, app))
    assert "access_token" in result, result


# -- device code ---------------------------------------------------------------------------------


def approve_device(emulator: IdentityEmulator, user_code: str, action: str = "accept") -> str:
    session = browser(emulator.ca_file)
    entry = session.get(emulator.device_login_url)
    (form,) = forms_of(entry.text)
    page = session.post(urljoin(entry.url, form.action), data={"user_code": user_code})
    done = submit_sign_in(session, page, action=action)
    assert done.status_code == 200
    return done.text


@pytest.mark.slow
def test_device_code_flow(emulator: IdentityEmulator) -> None:
    emulator.device_poll_interval = 1
    app = public_app(emulator)
    flow = app.initiate_device_flow([IMAP_SCOPE])
    assert flow["verification_uri"] == emulator.device_login_url
    assert flow["user_code"] in flow["message"] and flow["interval"] == 1
    pages: list[str] = []
    approver = threading.Timer(
        0.3, lambda: pages.append(approve_device(emulator, flow["user_code"]))
    )
    approver.start()
    result = app.acquire_token_by_device_flow(flow)  # polls: pending, then the tokens
    approver.join()
    assert "access_token" in result, result
    assert "You have signed in to the o365imap test application" in pages[0]
    assert claims_of(result["access_token"])["upn"] == ALICE
    assert app.get_accounts()[0]["username"] == ALICE


def test_device_code_errors(emulator: IdentityEmulator) -> None:
    emulator.device_poll_interval = 1
    app = public_app(emulator)
    once = {"exit_condition": lambda flow: True}  # one poll per call
    flow = app.initiate_device_flow([IMAP_SCOPE])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # msal warns about polling too soon: that's the point
        assert app.acquire_token_by_device_flow(flow, **once)["error"] == "authorization_pending"
        slow = app.acquire_token_by_device_flow(flow, **once)
    assert slow["error"] == "slow_down" and flow["interval"] == 6  # msal adds 5, as we do

    declined = app.initiate_device_flow([IMAP_SCOPE])
    assert "You declined" in approve_device(emulator, declined["user_code"], action="cancel")
    denied = app.acquire_token_by_device_flow(declined, **once)
    assert (denied["error"], denied["error_codes"]) == ("access_denied", [65004])

    emulator.device_code_lifetime = 0
    late = app.initiate_device_flow([IMAP_SCOPE])
    time.sleep(0.01)
    expired = app.acquire_token_by_device_flow(late, **once)
    assert (expired["error"], expired["error_codes"]) == ("expired_token", [70020])


# -- client credentials --------------------------------------------------------------------------


def test_client_credentials(emulator: IdentityEmulator) -> None:
    app = web_app(emulator, tenant=emulator.tenant_id)
    result = app.acquire_token_for_client([APP_SCOPE])
    assert "access_token" in result, result
    claims = claims_of(result["access_token"])
    assert claims["roles"] == ["IMAP.AccessAsApp"]
    assert claims["aud"] == "https://outlook.office365.com"
    assert claims["idtyp"] == "app" and claims["appid"] == WEB_ID
    assert not {"scp", "scope", "upn", "preferred_username", "email"} & set(claims)

    emulator.register_app(
        WEB_ID, confidential=True, secret=WEB_SECRET, app_roles=(APP_ROLE_IMAP, APP_ROLE_SMTP)
    )
    sender = web_app(emulator, tenant=emulator.tenant_id).acquire_token_for_client([APP_SCOPE])
    assert claims_of(sender["access_token"])["roles"] == ["IMAP.AccessAsApp", "SMTP.SendAsApp"]

    bad_scope = web_app(emulator, tenant=emulator.tenant_id).acquire_token_for_client([IMAP_SCOPE])
    assert bad_scope["error_codes"] == [1002012]
    with pytest.warns(DeprecationWarning):  # msal, too, says: use a tenant
        common = web_app(emulator, tenant="common").acquire_token_for_client([APP_SCOPE])
    assert common["error_codes"] == [9001023]


# -- a restart in the same folder -------------------------------------------------------------


@pytest.fixture
def restart(signer: TokenSigner) -> Iterator[Callable[[IdentityEmulator], IdentityEmulator]]:
    """Stop an emulator; start a new one on its root and port, with the same apps and users
    (registered again by code, as the sandbox does at every start)."""
    started: list[IdentityEmulator] = []

    def restart(old: IdentityEmulator) -> IdentityEmulator:
        port = old.port
        old.stop()
        # the same port: msal finds its tokens by the authority's host and port
        new = registered(IdentityEmulator(old.root, signer=signer, port=port)).start()
        started.append(new)
        return new

    yield restart
    for emu in started:
        emu.stop()


def state_file(emulator: IdentityEmulator) -> Path:
    return emulator.root / "identity-state.json"


def test_a_refresh_token_outlives_a_restart(
    emulator: IdentityEmulator, restart: Callable[[IdentityEmulator], IdentityEmulator]
) -> None:
    app = public_app(emulator)
    app.acquire_token_by_auth_code_flow(*sign_in(emulator, app))
    (saved,) = refresh_tokens(app)

    emulator = restart(emulator)
    (account,) = app.get_accounts()
    again = app.acquire_token_silent([IMAP_SCOPE], account=account, force_refresh=True)
    assert again is not None and again["token_source"] == "identity_provider", again
    assert claims_of(again["access_token"])["upn"] == ALICE
    (rotated,) = refresh_tokens(app)
    assert rotated != saved
    # rotation still holds: the token used after the restart is spent
    stale = app.acquire_token_by_refresh_token(saved, [IMAP_SCOPE])
    assert (stale["error"], stale["error_codes"]) == ("invalid_grant", [70000])


def test_a_device_code_sign_in_outlives_a_restart(
    emulator: IdentityEmulator, restart: Callable[[IdentityEmulator], IdentityEmulator]
) -> None:
    emulator.auto_approve = True  # the device login page approves the code as it is entered
    emulator.device_poll_interval = 1
    app = public_app(emulator)
    flow = app.initiate_device_flow([IMAP_SCOPE])
    session = browser(emulator.ca_file)
    entry = session.get(emulator.device_login_url)
    (form,) = forms_of(entry.text)
    session.post(urljoin(entry.url, form.action), data={"user_code": flow["user_code"]})
    first = app.acquire_token_by_device_flow(flow)
    assert "refresh_token" in first, first

    restart(emulator)
    again = app.acquire_token_by_refresh_token(first["refresh_token"], [IMAP_SCOPE])
    assert "access_token" in again, again
    assert claims_of(again["access_token"])["upn"] == ALICE


def test_a_rotated_away_refresh_token_stays_refused_after_a_restart(
    emulator: IdentityEmulator, restart: Callable[[IdentityEmulator], IdentityEmulator]
) -> None:
    app = web_app(emulator)
    first = app.acquire_token_by_auth_code_flow(*sign_in(emulator, app))
    second = app.acquire_token_by_refresh_token(first["refresh_token"], [IMAP_SCOPE])
    assert "refresh_token" in second, second

    restart(emulator)
    # "already used" (70000), not "unknown": the spent grant was kept, not forgotten
    stale = app.acquire_token_by_refresh_token(first["refresh_token"], [IMAP_SCOPE])
    assert (stale["error"], stale["error_codes"]) == ("invalid_grant", [70000])
    assert "used already" in stale["error_description"]
    latest = app.acquire_token_by_refresh_token(second["refresh_token"], [IMAP_SCOPE])
    assert "access_token" in latest, latest


def test_revoked_and_expired_grants_stay_so_after_a_restart(
    emulator: IdentityEmulator, restart: Callable[[IdentityEmulator], IdentityEmulator]
) -> None:
    app = web_app(emulator)
    alice = app.acquire_token_by_auth_code_flow(*sign_in(emulator, app))
    bob = app.acquire_token_by_auth_code_flow(
        *sign_in(emulator, app, username=BOB, password="bob-pw")
    )
    emulator.revoke(ALICE)
    assert emulator.expire_refresh_tokens(BOB) == 1

    emulator = restart(emulator)
    revoked = app.acquire_token_by_refresh_token(alice["refresh_token"], [IMAP_SCOPE])
    assert (revoked["error"], revoked["error_codes"]) == ("invalid_grant", [50173])
    expired = app.acquire_token_by_refresh_token(bob["refresh_token"], [IMAP_SCOPE])
    assert (expired["error"], expired["error_codes"]) == ("invalid_grant", [700082])
    # a sign-in after the revocation is good, before and after the restart alike
    fresh = app.acquire_token_by_auth_code_flow(*sign_in(emulator, app))
    assert "refresh_token" in fresh, fresh
    emulator = restart(emulator)
    assert "access_token" in app.acquire_token_by_refresh_token(
        fresh["refresh_token"], [IMAP_SCOPE]
    )


def test_a_consent_outlives_a_restart(
    emulator: IdentityEmulator, restart: Callable[[IdentityEmulator], IdentityEmulator]
) -> None:
    def needs_consent(emu: IdentityEmulator) -> None:
        emu.register_app(PUBLIC_ID, admin_consented=False, name="Needs consent")
        emu.add_user("dave@example.com", "dave-pw", consented=False)

    needs_consent(emulator)
    app = public_app(emulator)
    flow, fields = sign_in(emulator, app, username="dave@example.com", password="dave-pw")
    signed_in = app.acquire_token_by_auth_code_flow(flow, fields)
    assert "refresh_token" in signed_in, signed_in

    emulator = restart(emulator)
    needs_consent(emulator)
    again = app.acquire_token_by_refresh_token(signed_in["refresh_token"], [IMAP_SCOPE])
    assert "access_token" in again, again  # without the consent: AADSTS65001


def test_the_state_file_is_private_and_holds_no_refresh_token(
    emulator: IdentityEmulator,
) -> None:
    app = web_app(emulator)
    first = app.acquire_token_by_auth_code_flow(*sign_in(emulator, app))
    second = app.acquire_token_by_refresh_token(first["refresh_token"], [IMAP_SCOPE])
    path = state_file(emulator)
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text(encoding="utf-8")
    for token in (first["refresh_token"], second["refresh_token"]):
        assert token not in text
        assert hashlib.sha256(token.encode()).hexdigest() in text  # grants are found by hash
    for secret in (second["access_token"], WEB_SECRET, ALICE_PASSWORD):
        assert secret not in text
    # every save went through a temporary file, and none is left behind
    assert sorted(p.name for p in emulator.root.iterdir() if "identity-state" in p.name) == [
        "identity-state.json"
    ]


@pytest.mark.parametrize(
    "content",
    [
        b"{ not json",
        b"\xff\xfe\x00 not text",
        b"[]",
        b'{"version": 99, "refresh_grants": {}, "consents": [], "valid_from": {}}',
        # the right shape but for one field: a wrong type must not surface in a request later
        b'{"version": 1, "refresh_grants": {}, "consents": [], "valid_from": {"a@b.c": "x"}}',
    ],
    ids=["not-json", "not-utf8", "not-an-object", "unknown-version", "wrong-type"],
)
def test_a_damaged_state_file_is_moved_aside(
    tmp_path: Path, signer: TokenSigner, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "identity"
    root.mkdir()
    (root / "identity-state.json").write_bytes(content)
    with registered(IdentityEmulator(root, signer=signer)) as emu:
        (aside,) = root.glob("identity-state.json.corrupt-*")
        assert aside.read_bytes() == content
        assert "moved it to" in caplog.text and "identity-state.json" in caplog.text
        # and the emulator serves on, saving afresh
        app = public_app(emu)
        assert "refresh_token" in app.acquire_token_by_auth_code_flow(*sign_in(emu, app))
        assert json.loads((root / "identity-state.json").read_bytes())["version"] == 1


def test_an_unreadable_state_file_is_moved_aside(
    tmp_path: Path, signer: TokenSigner, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "identity"
    (root / "identity-state.json").mkdir(parents=True)  # reading it fails: IsADirectoryError
    with registered(IdentityEmulator(root, signer=signer)) as emu:
        (aside,) = root.glob("identity-state.json.corrupt-*")
        assert aside.is_dir()
        assert "cannot be read" in caplog.text
        app = public_app(emu)
        assert "refresh_token" in app.acquire_token_by_auth_code_flow(*sign_in(emu, app))
        assert (root / "identity-state.json").is_file()


def test_a_failed_save_does_not_fail_the_sign_in(
    emulator: IdentityEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    # a directory where the state goes: os.replace() cannot put the file there
    state_file(emulator).mkdir()
    app = public_app(emulator)
    result = app.acquire_token_by_auth_code_flow(*sign_in(emulator, app))
    assert "refresh_token" in result, result
    assert "could not save" in caplog.text
    assert [p.name for p in emulator.root.iterdir() if p.name.startswith(".identity-state")] == []


# -- operations --------------------------------------------------------------------------------


def test_logs_carry_no_secrets(
    emulator: IdentityEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="o365imap")
    app = web_app(emulator)
    flow, fields = sign_in(emulator, app)
    result = app.acquire_token_by_auth_code_flow(flow, fields)
    app.acquire_token_by_refresh_token(result["refresh_token"], [IMAP_SCOPE])
    # msal's own debug log shows the code: only ours must not
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("o365imap"))
    assert "/oauth2/v2.0/token -> 200" in text
    for secret in (
        fields["code"],
        result["refresh_token"],
        result["access_token"],
        WEB_SECRET,
        ALICE_PASSWORD,
        flow["state"],
        flow["code_verifier"],
    ):
        assert secret not in text


def test_stop_is_prompt_with_open_connections(tmp_path: Path, signer: TokenSigner) -> None:
    emu = IdentityEmulator(tmp_path, signer=signer).start()
    url = f"{emu.base_url}/"
    session = browser(emu.ca_file)
    assert session.get(url).status_code == 200  # leaves a keep-alive connection
    idle = socket.create_connection(("127.0.0.1", emu.port))  # and one that never says hello
    time.sleep(0.3)  # long enough for its thread to wait in the TLS handshake
    before = time.monotonic()
    emu.stop()
    assert time.monotonic() - before < 1.5
    assert not [t for t in threading.enumerate() if t.name.startswith("identity-")]
    idle.close()
    with pytest.raises(requests.ConnectionError):
        session.get(url, timeout=2)


# -- Dovecot accepts the emulator's tokens ---------------------------------------------------------


def xoauth2(imap: imaplib.IMAP4, user: str, token: str) -> None:
    sasl = f"user={user}\x01auth=Bearer {token}\x01\x01".encode()
    answers = iter([sasl])
    # a refusal comes as a JSON challenge, answered with an empty line
    imap.authenticate("XOAUTH2", lambda _challenge: next(answers, b""))


@pytest.mark.dovecot
def test_dovecot_accepts_the_emulators_tokens(emulator: IdentityEmulator, tmp_path: Path) -> None:
    from o365imap.sandbox.dovecot import DovecotNotInstalled, DovecotServer

    try:
        dovecot = DovecotServer(tmp_path / "dovecot", signer=emulator.signer)
    except DovecotNotInstalled as exc:
        pytest.skip(str(exc))
    dovecot.add_user(ALICE)
    app = public_app(emulator)
    token = app.acquire_token_by_auth_code_flow(*sign_in(emulator, app))["access_token"]
    # a bare scope name means Microsoft Graph, as in Entra: a token IMAP must refuse
    graph = app.acquire_token_by_auth_code_flow(
        *sign_in(emulator, app, scopes=("IMAP.AccessAsUser.All",))
    )["access_token"]
    assert claims_of(graph)["aud"] == "https://graph.microsoft.com"
    context = ssl.create_default_context(cafile=str(dovecot.ca_file))
    with dovecot:
        with imaplib.IMAP4_SSL("127.0.0.1", dovecot.imaps_port, ssl_context=context) as imap:
            xoauth2(imap, ALICE, token)
            assert imap.state == "AUTH"
            assert imap.select("INBOX")[0] == "OK"
        with imaplib.IMAP4_SSL("127.0.0.1", dovecot.imaps_port, ssl_context=context) as imap:
            with pytest.raises(imaplib.IMAP4.error):
                xoauth2(imap, ALICE, graph)


def test_client_info_is_base64url_json(emulator: IdentityEmulator) -> None:
    """What msal builds accounts from, checked on the wire once."""
    app = public_app(emulator)
    flow, fields = sign_in(emulator, app)
    s = http_client(emulator)
    raw = s.post(
        f"{emulator.authority()}/oauth2/v2.0/token",
        data={
            "grant_type": "authorization_code",
            "client_id": PUBLIC_ID,
            "code": fields["code"],
            "redirect_uri": flow["redirect_uri"],
            "code_verifier": flow["code_verifier"],
            "scope": " ".join(flow["scope"]),
        },
    )
    assert raw.headers["Cache-Control"].startswith("no-store")
    body = raw.json()
    assert list(body)[:5] == ["token_type", "scope", "expires_in", "ext_expires_in", "access_token"]
    info = json.loads(base64.urlsafe_b64decode(body["client_info"] + "=="))
    assert info == {"uid": emulator.signer.object_id(ALICE), "utid": emulator.tenant_id}
