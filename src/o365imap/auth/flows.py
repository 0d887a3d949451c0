"""Signing in with the Microsoft identity platform, on msal: the only module that imports it.

Four ways to get a token, one per situation:

- authorization code with PKCE through a loopback redirect (a person at a desktop; public
  "Mobile and desktop" registrations, or confidential "Web" ones with a secret);
- device code (a person on a machine without a browser);
- client credentials (a service, app-only, IMAP.AccessAsApp);
- silent: every later command takes the cached token, refreshed by msal before it expires,
  and asks for a new sign-in only when the refresh token itself is dead.

msal does the grant logic (PKCE, state, token exchange, refresh, cache). This module adds what
msal leaves to the application: the loopback listener (loopback.py), the browser, timeouts and
Ctrl-C, and errors a person can act on (aadsts.py).
"""

from __future__ import annotations

import logging
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msal
import requests

from o365imap.auth.aadsts import aadsts_codes, hint_for
from o365imap.auth.cache import TokenStore
from o365imap.auth.loopback import LoopbackListener
from o365imap.auth.profiles import Profile
from o365imap.errors import (
    InteractionRequired,
    SignInCancelled,
    SignInFailed,
    SignInTimeout,
    UsageError,
)

__all__ = ["Authenticator", "Token"]

log = logging.getLogger("o365imap.auth")

# msal adds these itself and refuses to be given them.
_RESERVED = {"openid", "profile", "offline_access"}


@dataclass(frozen=True)
class Token:
    """A usable access token and what we know about it."""

    access_token: str
    expires_at: datetime | None
    account: str | None
    scopes: tuple[str, ...]

    def __repr__(self) -> str:  # never print the token itself
        return f"Token(account={self.account!r}, expires_at={self.expires_at!r})"


class Authenticator:
    """Tokens for one profile.

    ``secret`` is the client secret of a confidential registration (from the environment or
    a prompt: never from argv, never stored). ``http`` lets tests and the sandbox hand msal a
    session that trusts a private CA.
    """

    def __init__(
        self,
        profile: Profile,
        *,
        store: TokenStore | None = None,
        secret: str | None = None,
        http: requests.Session | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.profile = profile
        self.store = store or TokenStore()
        self._secret = secret
        self._http = http or _session(profile.ca_file, timeout)
        self._app: msal.ClientApplication | None = None

    # ------------------------------------------------------------ msal plumbing

    @property
    def needs_secret(self) -> bool:
        return self.profile.confidential or self.profile.flow == "client-credentials"

    def _application(self) -> msal.ClientApplication:
        if self._app is not None:
            return self._app
        profile = self.profile
        common: dict[str, Any] = {
            "authority": profile.authority_url,
            "token_cache": self.store.open(),
            "http_client": self._http,
            # A custom authority (the sandbox, a proxy) is taken as given; Microsoft's own
            # is checked against its instance metadata as usual.
            "instance_discovery": profile.authority is None,
        }
        try:
            if self.needs_secret:
                if not self._secret:
                    raise UsageError(
                        "this app registration needs its client secret: set "
                        "O365IMAP_CLIENT_SECRET (it is never read from the command line)"
                    )
                self._app = msal.ConfidentialClientApplication(
                    profile.client_id, client_credential=self._secret, **common
                )
            else:
                self._app = msal.PublicClientApplication(profile.client_id, **common)
        except ValueError as exc:  # msal validates the authority up front
            raise UsageError(f"cannot use the authority {profile.authority_url}: {exc}") from exc
        except requests.RequestException as exc:
            raise SignInFailed(
                f"cannot reach the identity platform at {profile.authority_url}: {exc}"
            ) from exc
        return self._app

    def _scopes(self) -> list[str]:
        return [s for s in self.profile.effective_scopes if s not in _RESERVED]

    def _token(self, result: dict[str, Any] | None, what: str) -> Token:
        if not result:
            raise InteractionRequired(
                f"no saved sign-in for profile {self.profile.name!r}: "
                f"run `o365imap login --profile {self.profile.name}`"
            )
        if "access_token" not in result:
            raise _failure(result, what)
        claims = result.get("id_token_claims") or {}
        account = claims.get("preferred_username") or claims.get("upn") or self.profile.user
        expires_in = result.get("expires_in")
        expires_at = (
            datetime.fromtimestamp(time.time() + float(expires_in), tz=UTC)
            if isinstance(expires_in, int | float | str) and str(expires_in).isdigit()
            else None
        )
        scope = result.get("scope") or ""
        return Token(
            access_token=result["access_token"],
            expires_at=expires_at,
            account=account,
            scopes=tuple(scope.split()) if isinstance(scope, str) else (),
        )

    # ------------------------------------------------------------ interactive sign-in

    def sign_in_browser(
        self,
        *,
        open_browser: bool = True,
        show_url: Callable[[str], None] = print,
        timeout: float = 300.0,
        browser: Callable[[str], object] | None = None,
    ) -> Token:
        """Authorization code + PKCE through a loopback redirect (RFC 8252).

        The browser is opened at the sign-in page unless ``open_browser`` is False (an SSH
        session): the URL is always handed to ``show_url`` too. Waits at most ``timeout``
        seconds; Ctrl-C gives control back at once.
        """
        app = self._application()
        with LoopbackListener() as listener:
            try:
                flow = app.initiate_auth_code_flow(
                    self._scopes(),
                    redirect_uri=listener.redirect_uri,
                    login_hint=self.profile.user,
                    response_mode="form_post",
                )
            except requests.RequestException as exc:
                raise SignInFailed(f"cannot reach the identity platform: {exc}") from exc
            if "auth_uri" not in flow:
                raise _failure(flow, "starting the sign-in")
            url = flow["auth_uri"]
            show_url(url)
            if open_browser:
                opener = browser or webbrowser.open
                try:
                    opener(url)
                except Exception as exc:
                    log.info("could not open a browser: %s", exc)
            redirect = listener.wait(flow["state"], timeout=timeout)
        if redirect.error:
            if redirect.error == "access_denied" and "65004" in (
                redirect.params.get("error_description") or ""
            ):
                raise SignInCancelled("the consent was declined in the browser")
            raise _failure(dict(redirect.params), "signing in")
        try:
            result = app.acquire_token_by_auth_code_flow(flow, redirect.params)
        except ValueError as exc:  # msal: state mismatch and the like
            raise SignInFailed(f"the sign-in response was not valid: {exc}") from exc
        except requests.RequestException as exc:
            raise SignInFailed(f"cannot reach the identity platform: {exc}") from exc
        return self._token(result, "redeeming the authorization code")

    def sign_in_device_code(
        self, *, show: Callable[[str], None] = print, timeout: float = 900.0
    ) -> Token:
        """Device code flow (RFC 8628): a code to type on another device's browser."""
        app = self._application()
        try:
            flow = app.initiate_device_flow(scopes=self._scopes())
        except requests.RequestException as exc:
            raise SignInFailed(f"cannot reach the identity platform: {exc}") from exc
        if "user_code" not in flow:
            raise _failure(flow, "starting the device-code sign-in")
        show(flow.get("message") or f"Go to {flow['verification_uri']}, enter {flow['user_code']}")
        flow["expires_at"] = min(float(flow.get("expires_at", 0)) or 1e18, time.time() + timeout)
        try:
            result = app.acquire_token_by_device_flow(flow)
        except KeyboardInterrupt:
            raise SignInCancelled("sign-in cancelled") from None
        except requests.RequestException as exc:
            raise SignInFailed(f"cannot reach the identity platform: {exc}") from exc
        if result.get("error") in ("expired_token", "code_expired"):
            raise SignInTimeout(
                "the device code expired before the sign-in was completed; run login again"
            )
        return self._token(result, "waiting for the device-code sign-in")

    def sign_in_app_only(self) -> Token:
        """Client credentials: an app-only token (IMAP.AccessAsApp) for ``profile.user``."""
        app = self._application()
        assert isinstance(app, msal.ConfidentialClientApplication)
        try:
            result = app.acquire_token_for_client(scopes=self._scopes())
        except requests.RequestException as exc:
            raise SignInFailed(f"cannot reach the identity platform: {exc}") from exc
        token = self._token(result, "getting an app-only token")
        return Token(token.access_token, token.expires_at, self.profile.user, token.scopes)

    def sign_in(self, **kw: Any) -> Token:
        """The profile's own flow."""
        if self.profile.flow == "client-credentials":
            return self.sign_in_app_only()
        if self.profile.flow == "device-code":
            return self.sign_in_device_code(
                **{k: v for k, v in kw.items() if k in ("show", "timeout")}
            )
        browser_args = ("open_browser", "show_url", "timeout", "browser")
        return self.sign_in_browser(**{k: v for k, v in kw.items() if k in browser_args})

    # ------------------------------------------------------------ silent

    def access_token(self, *, force_refresh: bool = False) -> Token:
        """A fresh token from the cache, refreshed when needed, without any interaction.

        Raises InteractionRequired when only a new sign-in can help.
        """
        if self.profile.flow == "client-credentials":
            return self.sign_in_app_only()  # msal serves it from the cache while fresh
        app = self._application()
        accounts = app.get_accounts(username=self.profile.user) if self.profile.user else []
        if not accounts:
            accounts = app.get_accounts()
        if not accounts:
            return self._token(None, "")
        try:
            # One refresher at a time across processes: a refresh token is rotated when used,
            # and two processes redeeming the same one at once would lose the race.
            with self.store.refresh_lock():
                result = app.acquire_token_silent_with_error(
                    self._scopes(), account=accounts[0], force_refresh=force_refresh
                )
        except requests.RequestException as exc:
            raise SignInFailed(f"cannot reach the identity platform: {exc}") from exc
        if result and "error" in result:
            codes = aadsts_codes(result.get("error_description"), result.get("error_codes") or ())
            if result.get("error") in ("invalid_grant", "interaction_required"):
                hint = hint_for(codes) or "sign in again"
                raise InteractionRequired(
                    f"the saved sign-in no longer works ({hint.rstrip('.')}): "
                    f"run `o365imap login --profile {self.profile.name}`"
                )
        return self._token(result, "refreshing the token")

    def accounts(self) -> list[dict[str, Any]]:
        return list(self._application().get_accounts())

    def sign_out(self) -> int:
        """Forget this profile's accounts and tokens; returns how many accounts went."""
        app = self._application()
        accounts = app.get_accounts(username=self.profile.user) if self.profile.user else []
        for account in accounts or app.get_accounts():
            app.remove_account(account)
        return len(accounts)


def _session(ca_file: str | None, timeout: float) -> requests.Session:
    session = _TimeoutSession(timeout)
    if ca_file:
        session.verify = ca_file
        # REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE would override verify= otherwise.
        session.trust_env = False
    return session


class _TimeoutSession(requests.Session):
    """requests has no session-wide timeout; msal passes none: never wait forever."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(*args, **kwargs)


def _failure(result: dict[str, Any], what: str) -> SignInFailed:
    error = str(result.get("error") or "unknown_error")
    description = str(result.get("error_description") or "")
    codes = tuple(aadsts_codes(description, result.get("error_codes") or ()))
    hint = hint_for(codes)
    first_line = description.splitlines()[0] if description else error
    return SignInFailed(
        f"the identity platform refused {what}: {first_line}",
        error=error,
        description=description,
        codes=codes,
        hint=hint,
    )
