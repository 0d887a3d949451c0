"""Signed-in clients: the one place where a profile, or a token, becomes a connected client.

``o365imap login`` saves the profile (the app, the tenant, the mailbox, the server) and the
tokens. :class:`ConnectionSettings` is such a profile with the caller's overrides on top (a
script's arguments, the command line's options), or a mailbox with a token of the caller's
own; :meth:`ConnectionSettings.open` turns it into a connected, signed-in
:class:`~o365imap.ImapClient`. With a profile, the client gets a token source with it: the
token is refreshed whenever the client must sign in again (a dropped connection, Office 365's
``AccessTokenExpired``).

A script needs one call for each case: :func:`open_profile` for a saved profile,
:func:`open_token` for a token it got itself. The command line and the mail browser build a
ConnectionSettings from their options and go through the same code.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from o365imap._transport import Security
from o365imap.auth.cache import TokenStore
from o365imap.auth.flows import Authenticator
from o365imap.auth.profiles import (
    DEFAULT_HOST,
    DEFAULT_SMTP_HOST,
    SMTP_SEND_SCOPE,
    Profile,
    ProfileStore,
    carries_smtp_send,
)
from o365imap.client import ImapClient
from o365imap.errors import InteractionRequired, UsageError
from o365imap.limits import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from o365imap.smtp import SmtpSender

__all__ = ["ConnectionSettings", "ProfileOverrides", "open_profile", "open_sender", "open_token"]

# Where a confidential app's client secret comes from when the caller gives none: never from
# a file or argv, which other users may read.
SECRET_VARIABLE = "O365IMAP_CLIENT_SECRET"  # noqa: S105 - the variable's name, not a secret


# The settings a profile gives (ProfileOverrides: a caller may give them instead).
_FROM_PROFILE = (
    "host", "port", "security", "ca_file", "user", "smtp_host", "smtp_port", "smtp_security",
)  # fmt: skip


class ProfileOverrides(TypedDict, total=False):
    """What a caller may give over a profile's own values (None or left out: the profile's)."""

    host: str | None
    port: int | None
    security: Security | str | None
    ca_file: str | None
    user: str | None
    smtp_host: str | None
    smtp_port: int | None
    smtp_security: Security | str | None


@dataclass(frozen=True, kw_only=True)
class ConnectionSettings:
    """Where to connect and how to sign in.

    Tokens come from ``access_token`` when it is set (never refreshed: the caller owns it),
    else from ``profile``'s saved sign-in, refreshed as needed. ``secret`` is a confidential
    app's client secret (default: ``O365IMAP_CLIENT_SECRET``); ``tokens`` the token cache
    (default: the user's).
    """

    host: str = DEFAULT_HOST
    port: int | None = None  # None: 993 for tls, 143 otherwise
    security: Security | str = Security.TLS
    ca_file: str | None = None  # trusted for the IMAP server and the identity platform
    user: str | None = None  # the mailbox
    # where open_sender() submits mail (Office 365: smtp.office365.com, STARTTLS on 587)
    smtp_host: str = DEFAULT_SMTP_HOST
    smtp_port: int | None = None  # None: 587 for starttls, 465 for tls, 25 for plain
    smtp_security: Security | str = Security.STARTTLS
    mechanism: str = "xoauth2"
    timeout: float = DEFAULT_TIMEOUT
    profile: Profile | None = None
    access_token: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)
    tokens: TokenStore | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_profile(
        cls,
        profile: Profile,
        *,
        mechanism: str = "xoauth2",
        timeout: float = DEFAULT_TIMEOUT,
        secret: str | None = None,
        tokens: TokenStore | None = None,
        **overrides: Unpack[ProfileOverrides],
    ) -> ConnectionSettings:
        """``profile``'s server, CA file and mailbox, but for those the caller gives."""
        return cls(
            host=overrides.get("host") or profile.host,
            port=overrides.get("port") or profile.port,
            security=overrides.get("security") or profile.security,
            ca_file=overrides.get("ca_file") or profile.ca_file,
            user=overrides.get("user") or profile.user,
            smtp_host=overrides.get("smtp_host") or profile.smtp_host,
            smtp_port=overrides.get("smtp_port") or profile.smtp_port,
            smtp_security=overrides.get("smtp_security") or profile.smtp_security,
            mechanism=mechanism,
            timeout=timeout,
            profile=profile,
            secret=secret,
            tokens=tokens,
        )

    def with_saved_profile(self, profiles: ProfileStore | None = None) -> ConnectionSettings:
        """These settings with their profile as saved now in ``profiles`` (default: the
        user's file): what the caller gave over the profile stays, the rest follows the file
        (a sandbox restarted on other ports rewrites it). The same settings without a
        profile, or when the profile is gone or the file cannot be read."""
        before = self.profile
        if before is None or self.access_token is not None:
            return self
        try:
            now = (profiles or ProfileStore()).find(before.name)
        except UsageError:
            return self  # a file broken meanwhile: the settings that worked still do
        if now is None or now == before:
            return self
        # A value equal to the old profile's came from it (from_profile takes the caller's
        # value, else the profile's): it follows the file; any other was the caller's.
        fresh: dict[str, Any] = {
            name: getattr(now, name)
            for name in _FROM_PROFILE
            if getattr(self, name) == getattr(before, name)
        }
        return replace(self, profile=now, **fresh)

    def authenticator(self) -> Authenticator:
        """The token source of the profile; UsageError when these settings have none."""
        if self.profile is None:
            raise UsageError("no profile to sign in with: give a profile or an access token")
        profile = self.profile
        # A CA file given over the profile's is trusted for the identity platform too, as
        # for the IMAP server: both are usually the same private test bed.
        if self.ca_file:
            profile = replace(profile, ca_file=self.ca_file)
        secret = self.secret
        if secret is None and profile.needs_secret:
            secret = os.environ.get(SECRET_VARIABLE)
        return Authenticator(profile, store=self.tokens, secret=secret, timeout=self.timeout)

    def open(self) -> ImapClient:
        """A connected, signed-in client; the caller logs out (a ``with`` block does).

        Raises InteractionRequired when only a new ``o365imap login`` can help, UsageError
        when there is no mailbox to sign in to.
        """
        user = self._mailbox()
        token, refresh = self._token_source()
        return open_token(
            user,
            token,
            refresh=refresh,
            host=self.host,
            port=self.port,
            security=self.security,
            ca_file=self.ca_file,
            timeout=self.timeout,
            mechanism=self.mechanism,
        )

    def open_sender(self) -> SmtpSender:
        """A connected SMTP sender signed in with the same sign-in, for SMTP.Send.

        A delegated sign-in made without SMTP.Send gets it from the refresh token when the
        tenant has consented to it; when it has not, InteractionRequired says to run
        ``o365imap login --smtp`` once.
        """
        # Imported here: reading mail (and `o365imap token`) starts without smtplib's side.
        from o365imap.smtp import SmtpSender  # noqa: PLC0415

        user = self._mailbox()
        token, refresh = self._token_source(send=True)
        sender = SmtpSender(
            self.smtp_host,
            self.smtp_port,
            security=self.smtp_security,
            ca_file=self.ca_file,
            timeout=self.timeout,
        )
        try:
            sender.connect()
            sender.authenticate_oauth(user, token, self.mechanism, refresh=refresh)
        except BaseException:
            sender.close()
            raise
        return sender

    def _mailbox(self) -> str:
        if not self.user:
            if self.profile is not None and not self.profile.user:
                raise UsageError(f"profile {self.profile.name!r} names no mailbox: set its user")
            # A profile's own values are taken by from_profile(), not by the constructor.
            raise UsageError(
                "no mailbox to sign in to: give the user "
                "(ConnectionSettings.from_profile takes the profile's)"
            )
        return self.user

    def _token_source(self, *, send: bool = False) -> tuple[str, Callable[[], str] | None]:
        """The token to sign in with, and how to get a fresh one (None: the caller's token).

        First: a sign-in problem is said before any connection is made.
        """
        if self.access_token is not None:
            return self.access_token, None
        settings = self
        if send and self.profile is not None and self.profile.flow != "client-credentials":
            # One delegated token carries both scopes (both on outlook.office.com).
            settings = replace(self, profile=replace(self.profile, send=True))
        auth = settings.authenticator()
        name = auth.profile.name
        try:
            token = auth.access_token()
        except InteractionRequired as exc:
            if not send or (self.profile is not None and self.profile.send):
                raise
            raise InteractionRequired(
                f"profile {name!r} signed in without the permission to send (SMTP.Send): "
                f"run `o365imap login --smtp --profile {name}` once to add it"
            ) from exc
        delegated = auth.profile.flow != "client-credentials"
        if send and delegated and token.scopes and not carries_smtp_send(token.scopes):
            raise InteractionRequired(
                f"the sign-in of profile {name!r} does not carry {SMTP_SEND_SCOPE}: "
                f"run `o365imap login --smtp --profile {name}` once to add it"
            )

        def refresh() -> str:
            return auth.access_token(force_refresh=True).access_token

        return token.access_token, refresh


def open_token(
    user: str,
    access_token: str,
    *,
    refresh: Callable[[], str] | None = None,
    host: str = DEFAULT_HOST,
    port: int | None = None,
    security: Security | str = Security.TLS,
    ca_file: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    mechanism: str = "xoauth2",
) -> ImapClient:
    """A client connected to ``host`` and signed in as ``user`` with ``access_token``.

    ``refresh`` returns a new token whenever the client must sign in again (after a dropped
    connection, or when Office 365 says ``AccessTokenExpired``); without it the client cannot
    sign in again, and such an end reaches the caller as ``SessionExpired``. Use it in a
    ``with`` block, which logs out at the end; nothing is left open when connecting or signing
    in fails.
    """
    client = ImapClient(host, port, security=security, ca_file=ca_file, timeout=timeout)
    try:
        client.connect()
        client.authenticate_oauth(user, access_token, mechanism, refresh=refresh)
    except BaseException:
        client.close()
        raise
    return client


def open_profile(
    name: str | None = None,
    *,
    profiles: ProfileStore | None = None,
    tokens: TokenStore | None = None,
    secret: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    mechanism: str = "xoauth2",
    **overrides: Unpack[ProfileOverrides],
) -> ImapClient:
    """A connected, signed-in client for the profile ``name`` (default: the default profile).

    Use it in a ``with`` block, which logs out at the end. ``secret`` is a confidential app's
    client secret (default: ``O365IMAP_CLIENT_SECRET``); ``overrides`` (``host``, ``port``,
    ``security``, ``ca_file``, ``user``) replace the profile's values. Raises
    InteractionRequired when only a new ``o365imap login`` can help, UsageError when there is
    no such profile.
    """
    profile = (profiles or ProfileStore()).get(name)
    return _settings(profile, mechanism, timeout, secret, tokens, overrides).open()


def open_sender(
    name: str | None = None,
    *,
    profiles: ProfileStore | None = None,
    tokens: TokenStore | None = None,
    secret: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    mechanism: str = "xoauth2",
    **overrides: Unpack[ProfileOverrides],
) -> SmtpSender:
    """A connected SMTP sender signed in with the profile ``name`` (default: the default one).

    Use it in a ``with`` block, which says QUIT at the end: ``sender.send(message)`` takes an
    ``email.message.EmailMessage``, bytes, a binary file or a path. ``overrides`` replace the
    profile's values (``smtp_host``, ``smtp_port``, ``smtp_security``, ``ca_file``, ``user``).
    """
    profile = (profiles or ProfileStore()).get(name)
    return _settings(profile, mechanism, timeout, secret, tokens, overrides).open_sender()


def _settings(
    profile: Profile,
    mechanism: str,
    timeout: float,
    secret: str | None,
    tokens: TokenStore | None,
    overrides: ProfileOverrides,
) -> ConnectionSettings:
    return ConnectionSettings.from_profile(
        profile, mechanism=mechanism, timeout=timeout, secret=secret, tokens=tokens, **overrides
    )


def _open_signed_in(
    host: str,
    port: int | None,
    *,
    user: str,
    token: str,
    refresh: Callable[[], str] | None = None,
    security: Security | str = Security.TLS,
    ca_file: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    mechanism: str = "xoauth2",
) -> ImapClient:
    """0.1's ``o365imap.auth.open_signed_in``, kept for one release (``open_token`` now)."""
    return open_token(
        user,
        token,
        refresh=refresh,
        host=host,
        port=port,
        security=security,
        ca_file=ca_file,
        timeout=timeout,
        mechanism=mechanism,
    )
