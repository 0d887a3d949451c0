"""Sign-in commands: login, logout, token, whoami, doctor."""

from __future__ import annotations

import contextlib
import sys
import urllib.parse
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import click

from o365imap import AuthError, O365ImapError, TransportError, UsageError
from o365imap._display import local_time
from o365imap.auth import Authenticator, Profile, ProfileStore, TokenStore, claims, expiry
from o365imap.auth.profiles import carries_smtp_send
from o365imap.cli.app import cli
from o365imap.cli.connect import DEFAULT_HOST, client_secret
from o365imap.cli.params import Seconds, WholeNumber

__all__ = ["doctor", "login", "logout", "token", "whoami"]

_DELEGATED_SCOPE = "IMAP.AccessAsUser.All"
# When a token expires, in the reader's zone (TZ honoured), named: "2024-03-05 18:00 JST".
_WHEN = "%Y-%m-%d %H:%M %Z"
_APP_ROLE = "IMAP.AccessAsApp"
_AUDIENCES = {
    "https://outlook.office.com",
    "https://outlook.office365.com",
    "00000002-0000-0ff1-ce00-000000000000",  # Exchange Online's application id
}


def _say(text: str) -> None:
    click.echo(text, err=True)


def _sign_in_text(url: str, no_browser: bool, timeout: float) -> str:
    """The address to open; with --no-browser (often over SSH) the port to forward too; and
    where to look when nothing seems to happen (a refusal that never comes back here)."""
    text = f"Sign in at this address{'' if no_browser else ' (a browser should open)'}:\n{url}"
    text += (
        f"\nWaiting up to {timeout:g} s for the browser to come back; if its page shows an "
        "error instead, that page says what is wrong (Ctrl-C stops waiting)."
    )
    redirect = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("redirect_uri", [""])
    port = urllib.parse.urlsplit(redirect[0]).port
    if no_browser and port is not None:
        text += (
            f"\nThe browser must reach http://localhost:{port}/ on this machine; from another "
            f"one, forward it first: ssh -L {port}:localhost:{port} <this host>"
        )
    return text


@cli.command()
@click.option(
    "--profile",
    "profile_name",
    default=None,
    help="Profile name [default: the default profile, or 'default' when there is none].",
)
@click.option(
    "--flow",
    type=click.Choice(["auth-code", "device-code", "client-credentials"]),
    help="How to sign in [default: auth-code; a client-credentials profile keeps its flow].",
)
@click.option("--client-id", help="Application (client) id of your app registration.")
@click.option(
    "--tenant",
    help="common, organizations, consumers, or your tenant's id or domain "
    "[default: organizations].",
)
@click.option("--authority", help="Full authority URL (sovereign clouds, the sandbox emulator).")
@click.option("--user", help="The mailbox address (needed for client-credentials).")
@click.option(
    "--confidential",
    is_flag=True,
    default=None,
    help="A 'Web' registration with a client secret (read from O365IMAP_CLIENT_SECRET or a "
    "prompt, never stored).",
)
@click.option("--scope", "scopes", multiple=True, help="Scopes to ask for (repeat the option).")
@click.option("--host", help=f"IMAP server for this profile [default: {DEFAULT_HOST}].")
@click.option("--port", type=WholeNumber(1, 65535), help="IMAP port for this profile.")
@click.option("--security", type=click.Choice(["tls", "starttls", "plain"]))
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False),
    help="Trust this CA (PEM) for the identity platform and the IMAP server.",
)
@click.option(
    "--smtp/--no-smtp",
    "send",
    default=None,
    help="Ask for the permission to send too (SMTP.Send), for `o365imap send`; kept in the "
    "profile.",
)
@click.option("--smtp-host", help="SMTP server for this profile [default: smtp.office365.com].")
@click.option("--smtp-port", type=WholeNumber(1, 65535), help="SMTP port for this profile.")
@click.option("--smtp-security", type=click.Choice(["starttls", "tls", "plain"]))
@click.option("--no-browser", is_flag=True, help="Print the sign-in URL instead of opening it.")
@click.option(
    "--timeout",
    type=Seconds(1),
    default=300,
    show_default=True,
    help="Seconds to wait for the sign-in to be completed.",
)
@click.option(
    "--default",
    "make_default",
    is_flag=True,
    help="Make this the default profile (the first profile saved always is).",
)
def login(
    profile_name: str | None,
    flow: str | None,
    client_id: str | None,
    tenant: str | None,
    authority: str | None,
    user: str | None,
    confidential: bool | None,
    scopes: tuple[str, ...],
    host: str | None,
    port: int | None,
    security: str | None,
    ca_file: str | None,
    send: bool | None,
    smtp_host: str | None,
    smtp_port: int | None,
    smtp_security: str | None,
    no_browser: bool,
    timeout: float,
    make_default: bool,
) -> None:
    """Sign in and save the profile (the app, tenant and account) for later commands."""
    if tenant is not None and authority is not None:
        raise UsageError(
            "give --tenant or --authority, not both: the authority URL names the tenant "
            "itself (https://login.microsoftonline.com/<tenant>)"
        )
    store = ProfileStore()
    # Signing in again (a dead refresh token) reuses the profile every other command uses.
    name = profile_name or store.default_name() or "default"
    # Everything that can make saving fail is checked before anyone signs in: a broken or
    # unwritable profiles file must not cost a completed sign-in.
    existing = store.find(name)
    store.ensure_writable()
    if existing is None and not client_id:
        raise UsageError(
            "the first sign-in needs your app registration's --client-id "
            "(README: 'Register the app')"
        )
    changes: dict[str, Any] = {
        "flow": flow,
        "client_id": client_id,
        "tenant": tenant,
        "authority": authority,
        "user": user,
        "confidential": confidential,
        "scopes": tuple(scopes) or None,
        "host": host,
        "port": port,
        "security": security,
        "ca_file": ca_file,
        "send": send,
        "smtp_host": smtp_host,
        "smtp_port": smtp_port,
        "smtp_security": smtp_security,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    if flow is None and existing is not None and existing.flow == "device-code":
        # How a person signs in is chosen at each sign-in (as az login's --use-device-code):
        # a device code taken once, on a machine without a browser, does not silently stay
        # the way. A service's client-credentials profile keeps its flow: no person there.
        changes["flow"] = "auth-code"
        _say(
            "Signing in through the browser (the last sign-in used a device code: pass "
            "--flow device-code to use one again)."
        )
    if tenant is not None and authority is None and existing is not None and existing.authority:
        # The saved authority names a cloud (or the sandbox) and a tenant: --tenant changes
        # the tenant and keeps the cloud, rather than being silently ignored.
        changes["authority"] = _with_tenant(existing.authority, tenant)
    if existing is not None:
        profile = replace(existing, **changes)
    else:
        profile = Profile(name=name, **changes)
    profile.validate()
    auth = Authenticator(profile, secret=client_secret(profile))
    token = auth.sign_in(
        open_browser=not no_browser,
        show_url=lambda url: _say(_sign_in_text(url, no_browser, timeout)),
        show=_say,
        timeout=timeout,
    )
    if profile.flow != "client-credentials":
        # Who signed in is kept apart from the mailbox (--user): for a shared mailbox they
        # differ, and later commands must find this account's tokens, not the mailbox's.
        profile = replace(
            profile,
            user=profile.user or token.account,
            account=token.account,
            account_id=token.account_id,
        )
    store.save(profile, make_default=make_default)
    until = f", valid until {local_time(token.expires_at, _WHEN)}" if token.expires_at else ""
    _say(
        f"Signed in as {token.account or profile.user} (profile {profile.name!r}{until}).\n"
        "Try: o365imap folders" + (" or o365imap send" if profile.send else "")
    )
    delegated = profile.flow != "client-credentials"
    if profile.send and delegated and token.scopes and not carries_smtp_send(token.scopes):
        _say(
            "Note: the token does not carry SMTP.Send, so sending will be refused: add the "
            "delegated permission SMTP.Send (Office 365 Exchange Online) to the app "
            "registration, consent to it, and sign in again (docs/sending.md)."
        )


@cli.command()
@click.option("--profile", "profile_name", help="Profile name [default: the default one].")
@click.option("--forget", is_flag=True, help="Delete the profile too, not only its tokens.")
def logout(profile_name: str | None, forget: bool) -> None:
    """Forget the saved tokens of a profile (and with --forget, the profile)."""
    store = ProfileStore()
    profile = store.get(profile_name)
    auth = Authenticator(profile)
    others = []
    for name in store.names():
        with contextlib.suppress(UsageError):  # a broken profile elsewhere is not our business
            others.append(store.get(name))
    sharing = auth.sharing(others)
    # No secret needed: signing out only deletes this profile's entries from the cache.
    removed = auth.sign_out()
    if forget:
        store.remove(profile.name)
    _say(
        f"Signed out of profile {profile.name!r}"
        + ("" if removed else " (it had no saved tokens)")
        + (" and deleted it." if forget else ".")
    )
    if removed and sharing:
        # The same app and account means the same tokens in msal's cache: they went too.
        listed = ", ".join(repr(name) for name in sharing)
        _say(
            f"Signed out of {listed} too: {'it uses' if len(sharing) == 1 else 'they use'} "
            "the same sign-in (same app, same account)."
        )


@cli.command()
@click.option("--profile", "profile_name", help="Profile name [default: the default one].")
def token(profile_name: str | None) -> None:
    """Print a fresh access token (for mutt, isync or offlineimap as a password command)."""
    profile = ProfileStore().get(profile_name)
    fresh = Authenticator(profile, secret=client_secret(profile)).access_token()
    sys.stdout.write(fresh.access_token + "\n")


@cli.command()
@click.option("--profile", "profile_name", help="Profile name [default: the default one].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def whoami(profile_name: str | None, as_json: bool) -> None:
    """Who the saved sign-in is, with what scopes, until when."""
    profile = ProfileStore().get(profile_name)
    store = TokenStore()
    fresh = Authenticator(profile, store=store, secret=client_secret(profile)).access_token()
    info = _describe(profile, fresh.access_token)
    info["token_store"] = store.description
    if as_json:
        # Here, not at the top: `token` prints its line without the output module (rich).
        from o365imap.cli import output  # noqa: PLC0415

        output.emit_json(info)
        return
    for key, value in info.items():
        shown = " ".join(value) if isinstance(value, list) else value
        if key == "expires" and value:  # the JSON's ISO 8601 (UTC), read here in local time
            shown = local_time(datetime.fromisoformat(value), _WHEN)
        click.echo(f"{key.replace('_', ' '):>14}: {shown or '-'}")


def _describe(profile: Profile, access_token: str) -> dict[str, Any]:
    data = claims(access_token)
    expires = expiry(data)
    scp = data.get("scp")
    roles = data.get("roles")
    return {
        "profile": profile.name,
        "account": data.get("upn") or data.get("preferred_username") or profile.user,
        "mailbox": profile.user,
        "flow": profile.flow,
        "authority": profile.authority_url,
        "client_id": profile.client_id,
        "audience": data.get("aud"),
        "scopes": scp.split() if isinstance(scp, str) else [],
        "roles": list(roles) if isinstance(roles, list) else [],
        "expires": expires.isoformat() if expires else None,
        "imap_server": f"{profile.host}:{profile.port or _default_port(profile.security)}",
    }


@cli.command()
@click.option("--profile", "profile_name", help="Profile name [default: the default one].")
def doctor(profile_name: str | None) -> None:
    """Check the saved sign-in and the mailbox access, and say what to fix."""
    profile = ProfileStore().get(profile_name)
    problems = 0

    def check(ok: bool, text: str, fix: str = "") -> None:
        nonlocal problems
        click.echo(
            f"  {'ok ' if ok else 'BAD'}  {text}" + ("" if ok or not fix else f"\n       {fix}")
        )
        problems += not ok

    click.echo(f"Profile {profile.name!r}: app {profile.client_id}, {profile.authority_url}")
    from o365imap.sandbox.state import find_state  # noqa: PLC0415 - doctor only

    sandbox = find_state(profile.ca_file)
    if sandbox is not None and sandbox.dovecot is not None:
        # Not every Dovecot checks aud: say how this one refuses a token for another resource.
        dovecot = sandbox.dovecot
        check(True, f"sandbox Dovecot {dovecot.version}: {dovecot.describe_audience()}")
    try:
        fresh = Authenticator(profile, secret=client_secret(profile)).access_token()
    except AuthError as exc:
        check(False, f"a token: {exc}")
        sys.exit(2)
    except TransportError as exc:
        # Only a refresh (or a first run at this authority) needs the platform: a still-valid
        # saved token does not. Exit 3, network, as for the other commands.
        check(
            False,
            f"a token: {exc}",
            "a new token needs the identity platform (the saved one has expired): check the "
            "network (proxy, firewall, VPN) and the profile's authority address",
        )
        sys.exit(3)
    data = claims(fresh.access_token)
    if not data:
        check(True, "a token (opaque: a personal account's token cannot be inspected)")
    else:
        aud = str(data.get("aud", ""))
        check(
            aud.rstrip("/") in _AUDIENCES,
            f"audience {aud or '(none)'}",
            "the token is not for Exchange Online: ask for the scope "
            "https://outlook.office.com/IMAP.AccessAsUser.All (or .default for app-only)",
        )
        scopes = str(data.get("scp", "")).split()
        roles = data.get("roles") or []
        if profile.flow == "client-credentials":
            check(
                _APP_ROLE in roles,
                f"roles {' '.join(roles) or '(none)'}",
                "grant the application permission IMAP.AccessAsApp (Office 365 Exchange "
                "Online) and admin consent",
            )
        else:
            check(
                _DELEGATED_SCOPE in scopes,
                f"scopes {' '.join(scopes) or '(none)'}",
                "add the delegated permission IMAP.AccessAsUser.All and consent to it",
            )
            upn = str(data.get("upn") or data.get("preferred_username") or "")
            # A shared mailbox is read with the signed-in account's token: compare with that.
            expected = profile.account or profile.user
            check(
                not expected or not upn or upn.lower() == expected.lower(),
                f"account {upn or '(unknown)'} for mailbox {profile.user}",
                "the token is for another account than the mailbox: sign in as "
                f"{profile.user}, or use that account's own mailbox (shared mailboxes need "
                "FullAccess)",
            )
        expires = expiry(data)
        if expires is not None:
            check(expires > datetime.now(UTC), f"expires {local_time(expires, _WHEN)}")
    from o365imap import ImapClient  # noqa: PLC0415 - `token` starts without the IMAP client

    try:
        with ImapClient(
            profile.host, profile.port, security=profile.security, ca_file=profile.ca_file
        ) as client:
            client.authenticate_oauth(profile.user or "", fresh.access_token)
            check(True, f"IMAP sign-in to {profile.host}")
    except O365ImapError as exc:
        words = getattr(exc, "server_words", "")
        check(
            False,
            f"IMAP sign-in to {profile.host}: {exc}" + (f" ({words})" if words else ""),
            "likely causes: wrong scope or audience, IMAP disabled for the mailbox "
            "(Exchange admin: mailbox features), app-only access without the service "
            "principal (New-ServicePrincipal) or mailbox permission (Add-MailboxPermission), "
            "or a token for another account than the mailbox",
        )
    if problems:
        sys.exit(2)
    click.echo("Everything looks right.")


def _default_port(security: str) -> int:
    return 993 if security == "tls" else 143


def _with_tenant(authority: str, tenant: str) -> str:
    """``https://host/<old tenant>`` with the tenant replaced."""
    url = urllib.parse.urlsplit(authority)
    segments = url.path.rstrip("/").split("/")
    segments[-1] = tenant
    return urllib.parse.urlunsplit(url._replace(path="/".join(segments)))
