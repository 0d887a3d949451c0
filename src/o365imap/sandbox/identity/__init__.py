"""A local emulator of the Microsoft identity platform (Entra ID's v2.0 endpoints), over HTTPS.

:class:`IdentityEmulator` serves, under ``/{tenant}/`` (``common``, ``organizations``,
``consumers``, the tenant id, or the domain of a user added to it):

==============================================  ==========================================
``GET  v2.0/.well-known/openid-configuration``  OpenID discovery, as msal reads it
``GET  discovery/v2.0/keys``                    the signing key (JWKS)
``GET  oauth2/v2.0/authorize``                  sign-in and consent page; code grant + PKCE
``POST login``                                  where that page posts (``ctx``, ``username``,
                                                ``password``, ``action=accept|cancel``)
``POST oauth2/v2.0/token``                      authorization_code, refresh_token,
                                                client_credentials, device_code
``POST oauth2/v2.0/devicecode``                 starts a device code flow
``GET  oauth2/v2.0/logout``                     signs nobody out; a page to land on
==============================================  ==========================================

and ``GET|POST /devicelogin`` (enter the user code, then sign in as on the authorize page).

Access tokens come from a :class:`~o365imap.sandbox.tokens.TokenSigner`, so a Dovecot built on
the same signer accepts them. Errors have Entra's shape: JSON with ``error``,
``error_description`` ("AADSTS<code>: text" plus trace lines) and ``error_codes`` from the token
endpoint; a redirect with ``error`` and ``error_description`` once the redirect URI is trusted;
an error page when it is not (unknown client, redirect URI mismatch).

What a sign-in leaves behind outlives a restart in the same ``root``: refresh grants, consents
and revocations are saved in ``root/identity-state.json`` (see
:mod:`~o365imap.sandbox.identity._store`), so a refresh token saved before a restart still
works after it. Sign-ins in progress (pages, codes, device codes) live in memory and end with
the emulator; apps and users are registered again by code at every start.

Signing in without a form: with ``auto_approve`` set, the authorize endpoint signs in the
``login_hint`` user (else the first user added) and redirects straight back, and the device
login page approves a code as soon as it is entered. ``prompt=none`` does the same for one
request without granting consent, as Entra's silent sign-in does: it fails with
``login_required`` (several users, no hint) or ``consent_required`` (AADSTS65001).

Where the emulator knowingly differs from Entra: the old refresh token stops working once
rotated (Entra keeps it valid); device flow errors follow RFC 8628 (``access_denied`` where
Entra says ``authorization_declined``); a user who needs MFA is refused (AADSTS50076) instead of
being asked for a second factor; the emulator has no sign-in session cookie, so every
interactive request shows the form.

The modules, each with one job (all private; this package's names are the interface):

==================  ===========================================================================
``_emulator``       :class:`IdentityEmulator`: start/stop, addresses, the portal, test hooks
``_platform``       the state behind one lock, and the rules every flow applies (tenant,
                    client, MFA, consent, revocation); saving and pruning
``_router``         which endpoint answers a path; errors as pages or as JSON
``_authorize``      the authorization code flow: the authorize endpoint and the code grant
``_signin``         the sign-in form's POST, for both browser flows
``_device``         the device code flow: codes, the ``/devicelogin`` page, the polling grant
``_token``          the token endpoint: client authentication, grant dispatch, refresh and
                    client credentials grants
``_minting``        access, refresh and id tokens with Entra's claims
``_discovery``      OpenID configuration, JWKS, the index and logout pages
``_replies``        Entra's shapes of an answer: JSON errors, error pages, back to the app
``_errors``         every AADSTS error, by cause
``_html``           the pages' HTML
``_model``          records and pure rules: apps, users, scopes, redirect URIs, PKCE
``_store``          the JSON file of what outlives a restart
==================  ===========================================================================
"""

from __future__ import annotations

from ._emulator import IdentityEmulator
from ._model import (
    APP_ROLE_IMAP,
    APP_ROLE_SMTP,
    DEFAULT_DELEGATED,
    DELEGATED_SMTP_SEND,
    DEVICE_CODE_GRANT,
    TENANT_ALIASES,
    ClientApp,
    IdentityUser,
)

__all__ = [
    "APP_ROLE_IMAP",
    "APP_ROLE_SMTP",
    "DEFAULT_DELEGATED",
    "DELEGATED_SMTP_SEND",
    "DEVICE_CODE_GRANT",
    "TENANT_ALIASES",
    "ClientApp",
    "IdentityEmulator",
    "IdentityUser",
]
