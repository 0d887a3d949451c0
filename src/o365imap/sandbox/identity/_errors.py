"""Every error the identity emulator gives, with Entra ID's AADSTS code and wording.

One function per situation, named by its cause, returning an :class:`StsError` that the emulator
raises. The emulator shows it as JSON (token and device code endpoints), as a redirect to the
app (authorize, once the redirect URI is trusted), or as an error page (authorize, before).
Texts follow what Entra sends, so a client's error mapping can be tested against them; where
the emulator adds a hint of its own it is in parentheses.
"""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus

__all__ = ["StsError", "stamp"]


class StsError(Exception):
    """An Entra answer: OAuth ``error``, AADSTS ``code``, text, and the HTTP status to use."""

    def __init__(self, error: str, code: int, message: str, status: int = 400) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.error = error
        self.code = code
        self.message = message
        self.status = status

    @property
    def summary(self) -> str:
        """``AADSTS<code>: <text>``: the first line of Entra's ``error_description``."""
        return f"AADSTS{self.code}: {self.message}"

    def as_error(self, error: str) -> StsError:
        """The same code and text under another OAuth ``error`` (a refresh grant says
        ``invalid_grant`` where the authorize endpoint says ``consent_required``)."""
        return StsError(error, self.code, self.message, self.status)


def stamp(epoch: float) -> str:
    """Entra's timestamp format: ``2024-05-01 12:00:00Z``."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


# -- request shape ---------------------------------------------------------------------------


def missing_parameter(name: str) -> StsError:
    return StsError(
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{name}'.",
    )


def malformed(detail: str, error: str = "invalid_request") -> StsError:
    return StsError(error, 9002313, f"Invalid request. Request is malformed or invalid. ({detail})")


def unsupported_response_type(response_type: str) -> StsError:
    return StsError(
        "unsupported_response_type",
        700054,
        f"response_type '{response_type}' is not enabled for the application. (The emulator "
        "supports the authorization code grant: response_type=code.)",
    )


def unsupported_grant_type(grant_type: str) -> StsError:
    return StsError(
        "unsupported_grant_type",
        70003,
        f"The app requested an unsupported grant type '{grant_type}'.",
    )


def code_challenge_size() -> StsError:
    return StsError("invalid_request", 501491, "Invalid size of Code_Challenge parameter.")


def invalid_scope(scope: str) -> StsError:
    return StsError(
        "invalid_scope",
        70011,
        f"The provided value for the input parameter 'scope' is not valid. The scope '{scope}' "
        "is not valid.",
    )


def several_resources(scope: str) -> StsError:
    return StsError(
        "invalid_scope",
        28000,
        "Provided value for the input parameter scope is not valid because it contains more "
        f"than one resource. Scope {scope} is not valid.",
    )


def client_credentials_scope(scope: str) -> StsError:
    return StsError(
        "invalid_scope",
        1002012,
        f"The provided value for scope {scope} is not valid. Client credential flows must have "
        "a scope value with /.default suffixed to the resource identifier (application ID URI).",
    )


# -- tenant, application, redirect -----------------------------------------------------------


def unknown_tenant(tenant: str) -> StsError:
    return StsError(
        "invalid_tenant",
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
        "are signing into the correct cloud. Check with your subscription administrator, this "
        "may happen if there are no active subscriptions for the tenant.",
    )


def unknown_client(client_id: str, directory: str) -> StsError:
    return StsError(
        "unauthorized_client",
        700016,
        f"Application with identifier '{client_id}' was not found in the directory "
        f"'{directory}'. This can happen if the application has not been installed by the "
        "administrator of the tenant or consented to by any user in the tenant. You may have "
        "sent your authentication request to the wrong tenant.",
    )


def single_tenant_app(client_id: str, name: str) -> StsError:
    return StsError(
        "invalid_request",
        50194,
        f"Application '{client_id}'({name}) is not configured as a multi-tenant application. "
        "Usage of the /common endpoint is not supported for such applications created after "
        "'10/15/2018'. Use a tenant-specific endpoint or configure the application to be "
        "multi-tenant.",
    )


def work_accounts_only(client_id: str, name: str) -> StsError:
    return StsError(
        "invalid_request",
        9002332,
        f"Application '{client_id}'({name}) is configured for use by Azure Active Directory "
        "users only. Please do not use the /consumers endpoint to serve this request.",
    )


def personal_accounts_only(client_id: str, name: str) -> StsError:
    return StsError(
        "invalid_request",
        9002331,
        f"Application '{client_id}'({name}) is configured for use by Microsoft Account users "
        "only. Please use the /consumers endpoint to serve this request.",
    )


def not_on_common() -> StsError:
    return StsError(
        "invalid_request",
        9001023,
        "The grant type is not supported over the /common or /consumers endpoints. Please use "
        "the /organizations or tenant-specific endpoint.",
    )


def redirect_uri_mismatch(redirect_uri: str, client_id: str) -> StsError:
    return StsError(
        "invalid_request",
        50011,
        f"The redirect URI '{redirect_uri}' specified in the request does not match the "
        f"redirect URIs configured for the application '{client_id}'. Make sure the redirect "
        "URI sent in the request matches one added to your application in the Azure portal. "
        "Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix "
        "this.",
    )


# -- client authentication (HTTP 401, as Entra) ------------------------------------------------


def secret_required() -> StsError:
    return StsError(
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or "
        "'client_secret'.",
        HTTPStatus.UNAUTHORIZED,
    )


def wrong_secret(client_id: str) -> StsError:
    return StsError(
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the "
        f"client secret value, not the client secret ID, for a secret added to app "
        f"'{client_id}'.",
        HTTPStatus.UNAUTHORIZED,
    )


def public_client_sent_secret() -> StsError:
    return StsError(
        "invalid_client",
        700025,
        "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        HTTPStatus.UNAUTHORIZED,
    )


# -- the user -----------------------------------------------------------------------------------


def unknown_user(upn: str, directory: str, error: str = "invalid_grant") -> StsError:
    return StsError(
        error,
        50034,
        f"The user account {upn} does not exist in the {directory} directory. To sign into "
        "this application, the account must be added to the directory.",
    )


def no_signed_in_user(detail: str = "") -> StsError:
    extra = f" ({detail})" if detail else ""
    return StsError(
        "login_required",
        50058,
        f"A silent sign-in request was sent but no user is signed in.{extra}",
    )


def mfa_required(client_id: str) -> StsError:
    return StsError(
        "interaction_required",
        50076,
        "Due to a configuration change made by your administrator, or because you moved to a "
        "new location, you must use multi-factor authentication to access "
        f"'{client_id}'.",
    )


def consent_required(client_id: str, name: str) -> StsError:
    return StsError(
        "consent_required",
        65001,
        f"The user or administrator has not consented to use the application with ID "
        f"'{client_id}' named '{name}'. Send an interactive authorization request for this "
        "user and resource.",
    )


def admin_consent_required(name: str) -> StsError:
    return StsError(
        "access_denied",
        90094,
        f"The grant requires admin permission. (An administrator of the tenant must consent to "
        f"'{name}' before its users can sign in.)",
    )


def user_declined() -> StsError:
    return StsError("access_denied", 65004, "User declined to consent to access the app.")


# -- grants ---------------------------------------------------------------------------------------


def invalid_grant(detail: str) -> StsError:
    return StsError("invalid_grant", 70000, f"Provided grant is invalid or malformed. ({detail})")


def code_redeemed(detail: str = "") -> StsError:
    extra = f" ({detail})" if detail else ""
    return StsError(
        "invalid_grant",
        54005,
        "OAuth2 Authorization code was already redeemed, please retry with a new valid code or "
        f"use an existing refresh token.{extra}",
    )


def code_expired() -> StsError:
    return StsError(
        "invalid_grant",
        70008,
        "The provided authorization code or refresh token has expired due to inactivity. Send "
        "a new interactive authorization request for this user and resource.",
    )


def reply_address_mismatch(sent: str, expected: str) -> StsError:
    return StsError(
        "invalid_grant",
        500112,
        f"The reply address '{sent}' does not match the reply address '{expected}' provided "
        "when requesting Authorization code.",
    )


def pkce_mismatch() -> StsError:
    return StsError(
        "invalid_grant",
        501481,
        "The Code_Verifier does not match the code_challenge supplied in the authorization "
        "request.",
    )


def refresh_token_expired(issued: float, idle: float) -> StsError:
    return StsError(
        "invalid_grant",
        700082,
        f"The refresh token has expired due to inactivity. The token was issued on "
        f"{stamp(issued)} and was inactive for {dt.timedelta(seconds=round(idle))}.",
    )


def grant_revoked(issued: float, valid_from: float) -> StsError:
    return StsError(
        "invalid_grant",
        50173,
        "The provided grant has expired due to it being revoked, a fresh auth token is "
        "needed. The user might have changed or reset their password. The grant was issued on "
        f"'{stamp(issued)}' and the TokensValidFrom date (before which tokens are not valid) "
        f"for this user is '{stamp(valid_from)}'.",
    )


# -- device code (RFC 8628 §3.5 error names) ----------------------------------------------------


def device_code_unknown() -> StsError:
    return StsError(
        "bad_verification_code",
        70000,
        "Provided grant is invalid or malformed. (The device_code was not recognized.)",
    )


def device_code_expired() -> StsError:
    return StsError(
        "expired_token",
        70020,
        "The provided value for the input parameter 'device_code' is not valid. This device "
        "code has expired.",
    )


def authorization_pending() -> StsError:
    return StsError(
        "authorization_pending",
        70016,
        "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
    )


def slow_down(interval: int) -> StsError:
    return StsError(
        "slow_down",
        70016,
        f"OAuth 2.0 device flow error. (Polling too fast: wait {interval} seconds between "
        "requests.)",
    )
