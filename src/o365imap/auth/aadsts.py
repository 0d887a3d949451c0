"""Microsoft Entra (AADSTS) error codes people actually hit, each with what to change.

The identity platform answers a failed sign-in with ``AADSTS<code>: <a paragraph>``; the
paragraph rarely says what to do. These sentences do. (Source: Microsoft's error code
reference and the issue threads of mail tools; ../shared/notes/office365-facts.md.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["HINTS", "aadsts_codes", "hint_for"]

HINTS: dict[int, str] = {
    50011: "The redirect URI does not match the app registration: add http://localhost as a "
    "redirect URI of the platform 'Mobile and desktop applications' (or 'Web' for a "
    "confidential app).",
    900971: "The app registration has no redirect URI: add http://localhost.",
    7000218: "This app registration is a confidential ('Web') client and needs a client secret: "
    "sign in with --confidential and O365IMAP_CLIENT_SECRET, or enable 'Allow public client "
    "flows' in the registration.",
    700025: "This is a public client: it must not send a client secret; sign in without "
    "--confidential.",
    7000215: "The client secret is wrong or has expired: create a new one under 'Certificates & "
    "secrets' and use its value (not its ID).",
    65001: "You (or an admin) have not consented to this app's permissions: grant consent for "
    "IMAP.AccessAsUser.All, or ask an admin to.",
    65004: "The consent was declined on the sign-in page.",
    90094: "Your tenant requires an administrator to consent to this app: ask an admin to "
    "'Grant admin consent' in the app registration.",
    700016: "The app (client id) does not exist in this tenant: check --client-id and --tenant.",
    50020: "This account does not exist in the tenant: use --tenant with your own tenant, or "
    "--tenant consumers for a personal Outlook.com account.",
    50194: "The app is single-tenant: use your tenant's id or domain with --tenant instead of "
    "common or organizations.",
    9002332: "The app accepts work accounts only: a personal Outlook.com account needs an app "
    "registered for 'personal Microsoft accounts' and --tenant consumers.",
    9001023: "This flow does not work with common or consumers: use your tenant's id with "
    "--tenant.",
    50076: "Multi-factor authentication is required: sign in interactively "
    "(--flow auth-code or device-code).",
    50079: "You must set up multi-factor authentication first: sign in once in a browser.",
    53003: "Conditional access blocked the sign-in: ask your admin which device or location "
    "policy applies.",
    700082: "The refresh token expired through inactivity: sign in again with `o365imap login`.",
    50173: "The sign-in was revoked (a password change?): sign in again with `o365imap login`.",
    54005: "The authorization code was already used: start the sign-in again.",
    70008: "The authorization code expired: start the sign-in again.",
    501481: "The PKCE code verifier did not match: start the sign-in again.",
    50126: "Wrong user name or password.",
    50034: "The account does not exist in this directory: check --user and --tenant.",
    7000112: "The app is disabled in this tenant: ask your admin.",
    700024: "The client assertion is not valid: check the app's credentials.",
}

_CODE = re.compile(r"AADSTS(\d+)")


def aadsts_codes(description: str | None, codes: Iterable[int] = ()) -> list[int]:
    """The AADSTS codes of an error response: its ``error_codes`` and those in its text."""
    found = [int(c) for c in codes]
    for match in _CODE.finditer(description or ""):
        code = int(match.group(1))
        if code not in found:
            found.append(code)
    return found


def hint_for(codes: Iterable[int]) -> str | None:
    """What to change, for the first code we know."""
    for code in codes:
        if code in HINTS:
            return HINTS[code]
    return None
