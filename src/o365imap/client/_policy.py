"""What the client does about a refusal or a lost connection, in one place.

Retry a command Office 365 throttled (after the backoff it suggests) or found "Server
Unavailable" (after a short exponential wait); reconnect with a fresh token after the server
ended the session (``BYE ... AccessTokenExpired``) and carry on; resume a body download cut
midway from the byte where it stopped. How often each may happen is this module's
``RetryPolicy``; which typed error a final refusal becomes is ``refusal_error``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeVar

from o365imap.errors import (
    AuthenticationFailed,
    CommandError,
    FolderNotFound,
    NotConnectedAfterAuth,
    Throttled,
)
from o365imap.protocol import Tagged, parse_number

__all__ = ["RetryPolicy", "folder_error", "is_not_found", "refusal_error", "sign_in_refused"]

# ASCII digits only: the server's text is str, and \d alone would take any script's digits.
_THROTTLED = re.compile(
    r"Request is throttled\.?.*?Suggested Backoff Time: (\d+) ?milli", re.I | re.ASCII
)
_UNAVAILABLE = re.compile(r"Server Unavailable", re.I)
_NOT_FOUND = re.compile(
    r"(doesn't|does not|not) exist|unknown mailbox|no such (mailbox|folder)|not found", re.I
)
_NOT_CONNECTED = re.compile(r"authenticated but not connected", re.I)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How persistent the client is.

    ``throttle_retries``: times a throttled (or "Server Unavailable") command is tried again;
    ``max_backoff``: the longest wait in seconds, whatever the server suggests;
    ``max_reconnects``: new sessions per listing or download after the token expired (one
    that expires again at once is not worth chasing); ``max_resumes``: times a cut download
    is resumed on a new connection.
    """

    throttle_retries: int = 3
    max_backoff: float = 60.0
    max_reconnects: int = 3
    max_resumes: int = 3

    def retry_delay(
        self, host: str, command: str, tagged: Tagged, attempt: int, *, leaving: bool
    ) -> float | None:
        """Seconds to wait before trying ``command`` again, or None when it has failed.

        Raises Throttled when throttling outlasts the retries, or the server, throttling,
        also said goodbye (``leaving``)."""
        throttled = _THROTTLED.search(tagged.text)
        if throttled is not None:
            backoff = parse_number(throttled.group(1).encode(), tagged.text.encode()) / 1000
            if attempt >= self.throttle_retries or leaving:
                gave_up = (
                    "closed the connection"
                    if leaving
                    else f"still was after {self.throttle_retries} retries"
                )
                raise Throttled(
                    f"{host} is throttling requests and {gave_up}; try again later",
                    command=command,
                    status=tagged.status,
                    code=tagged.code,
                    text=tagged.text,
                    backoff=backoff,
                )
            return min(backoff, self.max_backoff)
        if tagged.status == "NO" and _UNAVAILABLE.search(tagged.text):
            if attempt >= self.throttle_retries:
                return None
            return min(0.5 * 2.0**attempt, self.max_backoff)
        return None


def refusal_error(command: str, tagged: Tagged) -> CommandError | NotConnectedAfterAuth:
    """The typed error for a command's final NO or BAD."""
    if _NOT_CONNECTED.search(tagged.text):
        # Office 365 accepts AUTHENTICATE, then refuses the first command this way.
        return _reply(
            NotConnectedAfterAuth,
            "the server accepted the sign-in but could not open the mailbox",
            command,
            tagged,
        )
    code = f" [{tagged.code}]" if tagged.code else ""
    said = f"{tagged.status}{code} {tagged.text}".rstrip()
    return _reply(CommandError, f"the server refused {command}: {said}", command, tagged)


def is_not_found(exc: CommandError) -> bool:
    """Does this refusal mean the folder does not exist? (Servers word it many ways.)"""
    return exc.status == "NO" and (
        exc.code in ("NONEXISTENT", "TRYCREATE") or _NOT_FOUND.search(exc.text) is not None
    )


def folder_error(folder: str, exc: CommandError, *, message: str | None = None) -> CommandError:
    """FolderNotFound when the refusal says the folder is missing; else the refusal, or, with
    ``message``, a CommandError saying that instead with the same server reply."""
    if is_not_found(exc):
        missing = FolderNotFound(
            f"there is no folder {folder!r}",
            command=exc.command,
            status=exc.status,
            code=exc.code,
            text=exc.text,
        )
        missing.folder = folder
        return missing
    if message is None:
        return exc
    return CommandError(
        message, command=exc.command, status=exc.status, code=exc.code, text=exc.text
    )


def sign_in_refused(host: str, command: str, tagged: Tagged, said: str) -> AuthenticationFailed:
    """The error for a refused AUTHENTICATE or LOGIN (``said``: the server's SASL report)."""
    detail = f" (its error report: {said})" if said else ""
    if _NOT_CONNECTED.search(tagged.text):
        message = f"{host} accepted the sign-in but could not open the mailbox{detail}"
        return _reply(NotConnectedAfterAuth, message, command, tagged)
    return _reply(AuthenticationFailed, f"{host} refused the sign-in{detail}", command, tagged)


_E = TypeVar("_E", CommandError, AuthenticationFailed, NotConnectedAfterAuth)


def _reply(kind: type[_E], message: str, command: str, tagged: Tagged) -> _E:
    """An error carrying the server's tagged reply (status, response code, text)."""
    return kind(message, command=command, status=tagged.status, code=tagged.code, text=tagged.text)
