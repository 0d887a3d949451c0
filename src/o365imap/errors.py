"""The whole exception tree of o365imap, in one place.

    O365ImapError                     root: front ends catch only this
    ├── UsageError                    the caller asked for something impossible (bad argument)
    │   └── MessageNotFound           no message has that UID in the selected folder
    ├── AuthError                     signing in did not work
    │   ├── AuthenticationFailed      the server refused the token or password
    │   │   ├── NotConnectedAfterAuth Office 365's "User is authenticated but not connected"
    │   │   └── SmtpAuthDisabled      535 5.7.139: SMTP AUTH is off for the mailbox or tenant
    │   ├── SendAsDenied              554 5.2.252: the signed-in user may not send as From
    │   ├── SignInFailed              the identity platform said no (AADSTS code and a hint)
    │   ├── InteractionRequired       no usable token: the user must sign in again
    │   ├── SignInCancelled           the user stopped the sign-in (Ctrl-C, declined)
    │   └── SignInTimeout             nobody finished the sign-in in time
    ├── TransportError                the network, below IMAP
    │   ├── ConnectError              could not connect (DNS, refused, TLS handshake, certificate)
    │   ├── ReadTimeout               the server stopped answering
    │   └── ConnectionClosed          the connection ended (EOF, reset, or a BYE)
    │       └── SessionExpired        BYE because the access token expired mid-session
    ├── ProtocolError                 the server sent bytes we cannot make sense of
    ├── StorageError                  writing to disk did not work (disk full, permissions)
    │   └── UnsafeFileName            a name that is not one safe path component
    ├── SandboxError                  the sandbox's own servers could not be set up or started
    ├── SendFailed                    the SMTP server refused the message (a 5xx, or 4xx at last)
    │   ├── RecipientsRefused         every recipient refused (a UsageError too)
    │   ├── MessageTooLarge           over the server's size limit (a UsageError too)
    │   └── MaybeSent                 cut after the message's end: it may have been sent
    └── CommandError                  a tagged NO or BAD
        ├── FolderNotFound            NO [NONEXISTENT] or the server's words for it
        ├── Throttled                 Office 365 "Request is throttled" after all retries
        └── CapabilityMissing         the server lacks what the command needs

Low-level errors (OSError, ssl.SSLError, socket.timeout) are translated once, in _transport.py,
with ``raise ... from exc``; nothing above the transport ever sees them. The identity
platform's (``requests`` errors raised inside msal) are translated once too, in auth/http.py:
ConnectError, ReadTimeout or TransportError, so a sign-in that cannot reach it exits 3.

Messages never contain tokens, passwords or SASL strings: the client builds them from the
server's words and our own, never from what it sent.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "AuthenticationFailed",
    "CapabilityMissing",
    "CommandError",
    "ConnectError",
    "ConnectionClosed",
    "FolderNotFound",
    "InteractionRequired",
    "MaybeSent",
    "MessageNotFound",
    "MessageTooLarge",
    "NotConnectedAfterAuth",
    "O365ImapError",
    "ProtocolError",
    "ReadTimeout",
    "RecipientsRefused",
    "SandboxError",
    "SendAsDenied",
    "SendFailed",
    "SessionExpired",
    "SignInCancelled",
    "SignInFailed",
    "SignInTimeout",
    "SmtpAuthDisabled",
    "StorageError",
    "Throttled",
    "TransportError",
    "UnsafeFileName",
    "UsageError",
]


class O365ImapError(Exception):
    """Root of every error o365imap raises on purpose."""


class UsageError(O365ImapError, ValueError):
    """An argument that cannot work (a bad sequence set, an unknown option value)."""


class MessageNotFound(UsageError):
    """No message has that UID in the selected folder (expunged, or a typo)."""


class AuthError(O365ImapError):
    """Signing in did not work."""


class ServerReply:
    """Mixin: what the server said, kept verbatim for the user and for scripts."""

    command: str
    status: str
    code: str | None
    text: str

    def _set_reply(self, command: str, status: str, code: str | None, text: str) -> None:
        self.command = command
        self.status = status
        self.code = code
        self.text = text

    @property
    def from_smtp(self) -> bool:
        """An SMTP reply ("535"), not IMAP's tagged NO or BAD: its words read differently."""
        return self.status.isdigit()

    @property
    def server_words(self) -> str:
        if self.from_smtp:  # "535 5.7.3 Authentication unsuccessful"
            return " ".join(part for part in (self.status, self.code, self.text) if part)
        code = f"[{self.code}] " if self.code else ""
        return f"{self.status} {code}{self.text}".strip()


class AuthenticationFailed(AuthError, ServerReply):
    """The server refused the credentials (tagged NO or BAD to AUTHENTICATE or LOGIN)."""

    def __init__(
        self,
        message: str,
        *,
        command: str = "AUTHENTICATE",
        status: str = "NO",
        code: str | None = None,
        text: str = "",
    ) -> None:
        super().__init__(message)
        self._set_reply(command, status, code, text)


class NotConnectedAfterAuth(AuthenticationFailed):
    """Office 365 accepted the token but could not open the mailbox.

    Typical causes: the token belongs to another account than the SASL user, app-only access
    without the Exchange service principal or mailbox permission, or no mailbox licence.
    """


class SmtpAuthDisabled(AuthenticationFailed):
    """Office 365's 535 5.7.139: SMTP AUTH is switched off for the mailbox or the tenant.

    ``scope`` is ``"mailbox"`` or ``"tenant"`` as the server said (None when it did not say).
    """

    def __init__(
        self, message: str, *, scope: str | None, status: str, code: str | None, text: str
    ) -> None:
        super().__init__(message, command="AUTH", status=status, code=code, text=text)
        self.scope = scope


class SendAsDenied(AuthError, ServerReply):
    """554 5.2.252: the signed-in user has no Send As permission for the From address."""

    def __init__(self, message: str, *, command: str, status: str, code: str | None, text: str):
        super().__init__(message)
        self._set_reply(command, status, code, text)


class SignInFailed(AuthError):
    """The identity platform refused: ``codes`` are its AADSTS numbers, ``hint`` what to do."""

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        description: str | None = None,
        codes: tuple[int, ...] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.error = error
        self.description = description
        self.codes = codes
        self.hint = hint


class InteractionRequired(AuthError):
    """There is no token that can be refreshed silently: sign in again."""


class SignInCancelled(AuthError):
    """The user stopped the sign-in (Ctrl-C, or declined in the browser)."""


class SignInTimeout(AuthError):
    """Nobody completed the sign-in in time."""


class TransportError(O365ImapError):
    """The network failed below IMAP."""


class ConnectError(TransportError):
    """Could not open the connection (name lookup, refused, TLS handshake, certificate)."""


class ReadTimeout(TransportError):
    """The server did not answer within the read timeout."""


class ConnectionClosed(TransportError):
    """The connection ended: EOF, reset, or the server's BYE (``bye`` holds its words)."""

    def __init__(self, message: str, *, bye: str | None = None) -> None:
        super().__init__(message)
        self.bye = bye


class SessionExpired(ConnectionClosed):
    """Office 365 ended the session because the access token expired (reconnect with a new one)."""


class ProtocolError(O365ImapError):
    """The server sent something that is not IMAP; ``excerpt`` holds the offending bytes."""

    def __init__(self, message: str, *, excerpt: bytes = b"") -> None:
        super().__init__(message)
        self.excerpt = excerpt[:200]


class CommandError(O365ImapError, ServerReply):
    """A command ended with a tagged NO or BAD."""

    def __init__(
        self, message: str, *, command: str, status: str, code: str | None, text: str
    ) -> None:
        super().__init__(message)
        self._set_reply(command, status, code, text)


class FolderNotFound(CommandError):
    """The folder does not exist (or the server will not say it does); ``folder`` is the
    name as it was asked for, when known."""

    folder: str | None = None


class Throttled(CommandError):
    """Office 365 kept throttling after the bounded retries; ``backoff`` is its last suggestion."""

    def __init__(
        self,
        message: str,
        *,
        command: str,
        status: str,
        code: str | None,
        text: str,
        backoff: float | None,
    ) -> None:
        super().__init__(message, command=command, status=status, code=code, text=text)
        self.backoff = backoff


class CapabilityMissing(CommandError):
    """The server does not offer what the command needs (an auth mechanism, STARTTLS)."""

    def __init__(self, message: str, *, capability: str) -> None:
        super().__init__(message, command="", status="", code=None, text="")
        self.capability = capability


class StorageError(O365ImapError):
    """Writing to disk did not work (disk full, permissions, a folder swapped mid-way)."""


class UnsafeFileName(StorageError, ValueError):
    """A name that is not a single safe path component was given where one is required."""


class SandboxError(O365ImapError):
    """The sandbox's Dovecot or identity emulator could not be set up or started.

    The message is one sentence naming the cause (Dovecot's own error line) and the fix.
    """


class SendFailed(O365ImapError, ServerReply):
    """The SMTP server refused the message: a 5xx, or a 4xx that outlasted the retries.

    ``status`` is the reply code ("550"), ``code`` the enhanced status code ("5.1.10") when
    the server sent one, ``command`` the SMTP command it answered (MAIL, RCPT, DATA).
    """

    def __init__(self, message: str, *, command: str, status: str, code: str | None, text: str):
        super().__init__(message)
        self._set_reply(command, status, code, text)


class RecipientsRefused(SendFailed, UsageError):
    """Every recipient was refused, so nothing was sent; ``refused`` maps each to the reply."""

    def __init__(
        self,
        message: str,
        *,
        refused: dict[str, str],
        status: str,
        code: str | None,
        text: str,
    ) -> None:
        super().__init__(message, command="RCPT", status=status, code=code, text=text)
        self.refused = refused


class MessageTooLarge(SendFailed, UsageError):
    """The message is larger than the server takes (its SIZE, or a 552 reply)."""


class MaybeSent(SendFailed):
    """The connection ended after the whole message went out but before the server's answer.

    The message may have been delivered: it is not sent again (that could send it twice).
    """
