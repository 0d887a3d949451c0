"""Signing in with the Microsoft identity platform, on msal: the only module that imports it.

Four ways to get a token, one per situation:

- authorization code with PKCE through a loopback redirect (a person at a desktop; public
  "Mobile and desktop" registrations, or confidential "Web" ones with a secret);
- device code (a person on a machine without a browser);
- client credentials (a service, app-only, IMAP.AccessAsApp);
- silent: every later command takes the cached token, refreshed by msal before it expires,
  and asks for a new sign-in only when the refresh token itself is dead.

A still-valid cached access token is taken without msal's application object: making one asks
the authority for its OpenID configuration first, and a command that has a good token must not
need the identity platform at all. The token is looked up where msal's silent flow looks,
under the authority's cloud and tenant remembered from an earlier run (discovery.py, which
also persists msal's http_cache so that a refresh skips the discovery requests). Where the
tokens are in the plain file, it is taken without importing msal or requests either (saved.py
reads msal's records; 70 ms of imports saved on every `o365imap token`, a mail client's
password command): both load only to sign in, to refresh, or when the tokens are in a keyring.

msal does the grant logic (PKCE, state, token exchange, refresh, cache). This module adds what
msal leaves to the application: the loopback listener (loopback.py), the browser, timeouts and
Ctrl-C, and errors a person can act on (aadsts.py).

The boundary: msal talks to the identity platform through ``requests``, and lets its errors
through. Every public method of :class:`Authenticator` turns them into TransportError
subclasses (``raise ... from exc``), once, so callers see our tree only: ConnectError for
refused or untrusted connections, ReadTimeout for an authority that does not answer.

A profile's tokens are found by the signed-in account's msal ``home_account_id`` (saved in
the profile at login), never by the mailbox address (a shared mailbox is not the account that
signed in) and never by taking whatever account the shared cache holds.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from o365imap.auth.aadsts import aadsts_codes, hint_for
from o365imap.auth.cache import TokenStore
from o365imap.auth.discovery import DiscoveryCache
from o365imap.auth.profiles import Profile
from o365imap.auth.saved import ACCESS_TOKEN, ACCOUNT, SavedTokens
from o365imap.errors import (
    InteractionRequired,
    O365ImapError,
    SignInCancelled,
    SignInFailed,
    SignInTimeout,
    TransportError,
    UsageError,
)
from o365imap.limits import DEFAULT_TIMEOUT, check_seconds

if TYPE_CHECKING:
    import msal
    import requests

__all__ = ["Authenticator", "Token"]

log = logging.getLogger("o365imap.auth")

# msal adds these itself and refuses to be given them.
_RESERVED = {"openid", "profile", "offline_access"}
# What the device-code poll last heard when our own deadline, not the platform's, ended it.
_STILL_WAITING = {"authorization_pending", "slow_down", "expired_token", "code_expired"}
_REFRESHING = "refreshing the token"
# msal takes an access token from the cache only while more than this many seconds remain.
_EXPIRY_MARGIN = 5 * 60

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Token:
    """A usable access token and what we know about it.

    ``account`` is who signed in; ``account_id`` is msal's home_account_id for that account
    (None for app-only tokens): the profile keeps it to find these tokens again.
    """

    access_token: str
    expires_at: datetime | None
    account: str | None
    scopes: tuple[str, ...]
    account_id: str | None = None

    def __repr__(self) -> str:  # never print the token itself
        return f"Token(account={self.account!r}, expires_at={self.expires_at!r})"


def _boundary(
    method: Callable[Concatenate[Authenticator, P], R],
) -> Callable[Concatenate[Authenticator, P], R]:
    """Translate what ``requests`` raises inside msal into our errors (see the docstring)."""

    @functools.wraps(method)
    def translated(self: Authenticator, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            # Imported here, not at the top: a saved token is taken without requests.
            import requests  # noqa: PLC0415

            from o365imap.auth.http import unreachable  # noqa: PLC0415

            if not isinstance(exc, requests.RequestException):
                raise
            raise unreachable(self.profile.authority_url, self._timeout, exc) from exc

    return translated


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
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.profile = profile
        self.store = store or TokenStore()
        self._secret = secret
        self._timeout = check_seconds(timeout)
        self._http = http  # made with the application: requests loads only to sign in
        self._app: msal.ClientApplication | None = None
        self._cache: msal.TokenCache | None = None
        self._discovery: DiscoveryCache | None = None

    # ------------------------------------------------------------ msal plumbing

    @property
    def needs_secret(self) -> bool:
        return self.profile.needs_secret

    def _token_cache(self) -> msal.TokenCache:
        if self._cache is None:
            self._cache = self.store.open()
        return self._cache

    def _discovery_cache(self) -> DiscoveryCache:
        """Beside the tokens: what the identity platform said about itself (no tokens)."""
        if self._discovery is None:
            self._discovery = DiscoveryCache(self.store.path.with_name("discovery-cache.json"))
        return self._discovery

    def _application(self) -> msal.ClientApplication:
        if self._app is not None:
            return self._app
        import msal  # noqa: PLC0415 - only to sign in or refresh (see the module's docstring)

        from o365imap.auth.http import make_session  # noqa: PLC0415 - it imports requests

        profile = self.profile
        if self._http is None:
            self._http = make_session(profile.ca_file, self._timeout)
        common: dict[str, Any] = {
            "authority": profile.authority_url,
            "token_cache": self._token_cache(),
            "http_client": self._http,
            # Discovery answers, kept between runs: a refresh asks for tokens only.
            "http_cache": self._discovery_cache(),
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
        # Where msal files this authority's tokens, for the next run's _saved_access_token.
        authority = self._app.authority
        self._discovery_cache().remember_realm(
            profile.authority_url, authority.instance, authority.tenant
        )
        log.debug(
            "identity platform %s, app %s (%s client)",
            profile.authority_url,
            profile.client_id,
            "confidential" if self.needs_secret else "public",
        )
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
        account = claims.get("preferred_username") or claims.get("upn") or self.profile.account
        expires_in = result.get("expires_in")
        expires_at = (
            datetime.fromtimestamp(time.time() + float(expires_in), tz=UTC)
            if isinstance(expires_in, int | float | str) and str(expires_in).isdigit()
            else None
        )
        scope = result.get("scope") or ""
        if result.get("token_source") != "identity_provider":
            step = "taken from the cache"
        else:
            step = "refreshed" if what == _REFRESHING else "obtained"
        log.debug(
            "token %s for %s, expires %s",
            step,
            account or "the app",
            expires_at.isoformat(timespec="seconds") if expires_at else "(unknown)",
        )
        return Token(
            access_token=result["access_token"],
            expires_at=expires_at,
            account=account,
            scopes=tuple(scope.split()) if isinstance(scope, str) else (),
            account_id=_home_account_id(result) or self.profile.account_id,
        )

    # ------------------------------------------------------------ interactive sign-in

    @_boundary
    def sign_in_browser(
        self,
        *,
        open_browser: bool = True,
        show_url: Callable[[str], None] = print,
        timeout: float = 300.0,
        browser: Callable[[str], object] | None = None,
        cancel: threading.Event | None = None,
    ) -> Token:
        """Authorization code + PKCE through a loopback redirect (RFC 8252).

        The browser is opened at the sign-in page unless ``open_browser`` is False (an SSH
        session): the URL is always handed to ``show_url`` too. Waits at most ``timeout``
        seconds; Ctrl-C, or ``cancel`` set from another thread, gives control back at once.
        The browser's page says "successful" only once the code has been redeemed, and shows
        the failure otherwise.
        """
        from o365imap.auth.loopback import LoopbackListener  # noqa: PLC0415 - only here

        app = self._application()
        with LoopbackListener() as listener:
            log.debug("authorization-code flow; redirect to %s", listener.redirect_uri)
            flow = app.initiate_auth_code_flow(
                self._scopes(),
                redirect_uri=listener.redirect_uri,
                # The account that signed in last time; a mailbox address is a guess.
                login_hint=self.profile.account or self.profile.user,
                response_mode="form_post",
            )
            if "auth_uri" not in flow:
                raise _failure(flow, "starting the sign-in")
            url = flow["auth_uri"]
            show_url(url)
            if open_browser:
                import webbrowser  # noqa: PLC0415 - a sign-in only (it loads subprocess)

                opener = browser or webbrowser.open
                try:
                    opener(url)
                except Exception as exc:
                    log.info("could not open a browser: %s", exc)
            redirect = listener.wait(flow["state"], timeout=timeout, cancel=cancel)
            if redirect.error:
                if redirect.error == "access_denied" and "65004" in (
                    redirect.params.get("error_description") or ""
                ):
                    raise SignInCancelled("the consent was declined in the browser")
                raise _failure(
                    {
                        "error": redirect.error,
                        "error_description": redirect.params.get("error_description")
                        or redirect.reason,
                    },
                    "signing in",
                )
            try:
                try:
                    result = app.acquire_token_by_auth_code_flow(flow, redirect.params)
                except ValueError as exc:  # msal: state mismatch and the like
                    raise SignInFailed(f"the sign-in response was not valid: {exc}") from exc
                token = self._token(result, "redeeming the authorization code")
            except O365ImapError as exc:
                redirect.respond(False, str(exc))
                raise
            except Exception as exc:
                import requests  # noqa: PLC0415 - msal's requests, loaded by now

                from o365imap.auth.http import unreachable  # noqa: PLC0415

                if isinstance(exc, requests.RequestException):
                    redirect.respond(
                        False, str(unreachable(self.profile.authority_url, self._timeout, exc))
                    )
                raise
            # Anything else (Ctrl-C): the listener's close tells the browser.
            redirect.respond(True)
            return token

    @_boundary
    def sign_in_device_code(
        self,
        *,
        show: Callable[[str], None] = print,
        timeout: float = 900.0,
        cancel: threading.Event | None = None,
    ) -> Token:
        """Device code flow (RFC 8628): a code to type on another device's browser.

        ``cancel``, set from another thread, stops the polling within a second.
        """
        app = self._application()
        log.debug("device-code flow")
        flow = app.initiate_device_flow(scopes=self._scopes())
        if "user_code" not in flow:
            raise _failure(flow, "starting the device-code sign-in")
        show(flow.get("message") or f"Go to {flow['verification_uri']}, enter {flow['user_code']}")
        flow["expires_at"] = min(float(flow.get("expires_at", 0)) or 1e18, time.time() + timeout)
        deadline = flow["expires_at"]

        def stop(_flow: dict[str, Any]) -> bool:  # msal checks this once a second
            return time.time() > deadline or (cancel is not None and cancel.is_set())

        try:
            result = app.acquire_token_by_device_flow(flow, exit_condition=stop)
        except KeyboardInterrupt:
            raise SignInCancelled("sign-in cancelled") from None
        if cancel is not None and cancel.is_set() and "access_token" not in result:
            raise SignInCancelled("sign-in cancelled")
        # msal's poll stops at our deadline with the last answer, "still pending".
        if result.get("error") in _STILL_WAITING:
            raise SignInTimeout(
                f"nobody completed the device-code sign-in within {timeout:g} s; run login again"
            )
        return self._token(result, "waiting for the device-code sign-in")

    @_boundary
    def sign_in_app_only(self) -> Token:
        """Client credentials: an app-only token (IMAP.AccessAsApp) for ``profile.user``."""
        import msal  # noqa: PLC0415

        app = self._application()
        assert isinstance(app, msal.ConfidentialClientApplication)
        log.debug("client-credentials flow (app-only)")
        result = app.acquire_token_for_client(scopes=self._scopes())
        token = self._token(result, "getting an app-only token")
        return Token(token.access_token, token.expires_at, self.profile.user, token.scopes)

    def sign_in(self, **kw: Any) -> Token:
        """The profile's own flow."""
        if self.profile.flow == "client-credentials":
            return self.sign_in_app_only()
        if self.profile.flow == "device-code":
            return self.sign_in_device_code(
                **{k: v for k, v in kw.items() if k in ("show", "timeout", "cancel")}
            )
        browser_args = ("open_browser", "show_url", "timeout", "browser", "cancel")
        return self.sign_in_browser(**{k: v for k, v in kw.items() if k in browser_args})

    # ------------------------------------------------------------ silent

    @_boundary
    def access_token(self, *, force_refresh: bool = False) -> Token:
        """A fresh token from the cache, refreshed when needed, without any interaction.

        Raises InteractionRequired when only a new sign-in can help. A cached token that is
        still valid is returned without a word to the identity platform (see the module's
        docstring).
        """
        saved = None if force_refresh else self._saved_access_token()
        if saved is not None:
            if not _aging(saved):
                return self._from_cache(saved)
            # The platform asked for an early refresh (refresh_in): try it, as msal would,
            # and keep the still-valid token when the platform cannot be reached.
            import requests  # noqa: PLC0415 - a refresh loads it anyway

            try:
                return self._acquire_silently(force_refresh=False)
            except (requests.RequestException, TransportError) as exc:
                log.debug("early refresh failed (%s): the saved token is still valid", exc)
                return self._from_cache(saved)
        return self._acquire_silently(force_refresh=force_refresh)

    def _from_cache(self, result: dict[str, Any]) -> Token:
        token = self._token(result, _REFRESHING)
        if self.profile.flow == "client-credentials":  # as sign_in_app_only says it
            return Token(token.access_token, token.expires_at, self.profile.user, token.scopes)
        return token

    def _saved_access_token(self) -> dict[str, Any] | None:
        """A cached access token with more than five minutes left, found as msal's silent
        flow finds it (this app, this profile's account, the authority's cloud and tenant,
        the scopes), shaped as msal's answer; None when there is none, or when the
        authority's tenant is not known yet (no run has reached it: msal's way then).

        The tokens in the plain file are read as they are, without msal (the file is replaced
        whole on every save, so a read without the lock sees one version); in a keyring, or a
        file msal would have to repair, through msal's cache."""
        where = self._discovery_cache().realm(self.profile.authority_url)
        if where is None:
            return None
        environment, realm = where
        cache: SavedTokens | msal.TokenCache | None = self.store.read_saved()
        if cache is None:
            cache = self._token_cache()
        now = time.time()
        for owner in self._owners(cache):
            query = {
                "client_id": self.profile.client_id,
                "environment": environment,
                "realm": realm,
                "home_account_id": owner,
            }
            for entry in cache.search(ACCESS_TOKEN, target=self._scopes(), query=query):
                expires_in = int(entry["expires_on"]) - now
                if expires_in < _EXPIRY_MARGIN:
                    continue
                result: dict[str, Any] = {
                    "access_token": entry["secret"],
                    "token_type": entry.get("token_type", "Bearer"),
                    "expires_in": int(expires_in),
                    "scope": entry.get("target") or "",
                    "token_source": "cache",
                }
                if "refresh_on" in entry:
                    result["refresh_on"] = int(entry["refresh_on"])
                return result
        return None

    def _acquire_silently(self, *, force_refresh: bool) -> Token:
        """msal's silent flow: the cached token, else a refresh (needs the platform)."""
        if self.profile.flow == "client-credentials":
            return self.sign_in_app_only()  # msal serves it from the cache while fresh
        app = self._application()
        account = self._account(app)
        if account is None:
            return self._token(None, "")
        # One refresher at a time across processes: a refresh token is rotated when used,
        # and two processes redeeming the same one at once would lose the race.
        with self.store.refresh_lock():
            result = app.acquire_token_silent_with_error(
                self._scopes(), account=account, force_refresh=force_refresh
            )
        if result and "error" in result:
            codes = aadsts_codes(result.get("error_description"), result.get("error_codes") or ())
            if result.get("error") in ("invalid_grant", "interaction_required"):
                hint = hint_for(codes) or "sign in again"
                raise InteractionRequired(
                    f"the saved sign-in no longer works ({hint.rstrip('.')}): "
                    f"run `o365imap login --profile {self.profile.name}`"
                )
        return self._token(result, _REFRESHING)

    def _account(self, app: msal.ClientApplication) -> dict[str, Any] | None:
        """This profile's account in the cache, or None: never another profile's."""
        ids = self._account_ids(app.token_cache)
        for account in app.get_accounts():
            if account.get("home_account_id") in ids:
                return dict(account)
        return None

    def _owners(self, cache: SavedTokens | msal.TokenCache) -> set[str | None]:
        """Whose entries in the cache are this profile's: its account's, or for an app-only
        profile those of no account."""
        if self.profile.flow == "client-credentials":
            return {None, ""}  # app-only tokens belong to no account
        return set(self._account_ids(cache))

    def sharing(self, others: Iterable[Profile]) -> list[str]:
        """The other profiles signed in through this one's tokens (same app, same account,
        a shared mailbox opened as oneself, say): signing out of one signs them all out."""
        cache = self.store.open()
        mine = self._owners(cache)
        return sorted(
            other.name
            for other in others
            if other.name != self.profile.name
            and other.client_id == self.profile.client_id
            and mine & Authenticator(other, store=self.store)._owners(cache)
        )

    def _account_ids(self, cache: SavedTokens | msal.TokenCache) -> set[str]:
        if self.profile.account_id:
            return {self.profile.account_id}
        # A profile saved before account ids were kept: its user was the account that signed
        # in, unless a mailbox was named (then a new login records the account).
        wanted = (self.profile.account or self.profile.user or "").lower()
        return {
            str(entry["home_account_id"])
            for entry in cache.search(ACCOUNT, query={})
            if wanted
            and entry.get("home_account_id")
            and str(entry.get("username", "")).lower() == wanted
        }

    @_boundary
    def accounts(self) -> list[dict[str, Any]]:
        return list(self._application().get_accounts())

    def sign_out(self) -> int:
        """Forget this profile's tokens; returns how many cache entries went.

        Works on the cache directly, not through msal's app: no secret is needed (a
        confidential profile can always be signed out) and no network. Only this app's
        entries for this profile's account go (all of this app's app-only tokens for a
        client-credentials profile); other profiles' accounts and apps stay signed in.
        """
        import msal  # noqa: PLC0415

        cache = self.store.open()
        kinds = msal.TokenCache.CredentialType
        owners = self._owners(cache)
        if not owners:
            return 0
        removed = 0
        for kind, remove in (
            (kinds.REFRESH_TOKEN, cache.remove_rt),
            (kinds.ACCESS_TOKEN, cache.remove_at),
            (kinds.ID_TOKEN, cache.remove_idt),
        ):
            for entry in list(cache.search(kind, query={"client_id": self.profile.client_id})):
                if entry.get("home_account_id") in owners:
                    remove(entry)
                    removed += 1
        # The account record has no client id: it goes once no app holds tokens for it.
        for entry in list(cache.search(kinds.ACCOUNT, query={})):
            owner = entry.get("home_account_id")
            still_used = any(
                True
                for kind in (kinds.REFRESH_TOKEN, kinds.ACCESS_TOKEN, kinds.ID_TOKEN)
                for _ in cache.search(kind, query={"home_account_id": owner})
            )
            if owner in owners and not still_used:
                cache.remove_account(entry)
        log.debug(
            "signed out profile %s: %d token cache entries removed", self.profile.name, removed
        )
        return removed


def _aging(result: dict[str, Any]) -> bool:
    """Past the refresh time the platform gave (``refresh_in``), though not expired."""
    refresh_on = result.get("refresh_on")
    return isinstance(refresh_on, int) and refresh_on < time.time()


def _home_account_id(result: dict[str, Any]) -> str | None:
    """msal's key for the signed-in account: ``uid.utid`` from client_info, else ``sub``.

    client_info is base64url JSON the platform returns beside the tokens; msal builds the
    account's home_account_id from it in the same way.
    """
    raw = result.get("client_info")
    if isinstance(raw, str):
        try:
            info = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        except ValueError:
            info = None
        if isinstance(info, dict) and info.get("uid") and info.get("utid"):
            return f"{info['uid']}.{info['utid']}"
    sub = (result.get("id_token_claims") or {}).get("sub")
    return sub if isinstance(sub, str) else None


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
