"""What an SMTP reply means, as one of o365imap's errors with a sentence a person can act on.

Every refusal the submission server can give goes through here, once: the sender only asks
``translate``. Office 365's enhanced status codes and texts are matched (docs/sending.md has
the table and Microsoft's pages they come from); anything else keeps the server's own words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from o365imap.errors import (
    AuthenticationFailed,
    MessageTooLarge,
    O365ImapError,
    RecipientsRefused,
    SendAsDenied,
    SendFailed,
    SmtpAuthDisabled,
)

E = TypeVar("E", bound=O365ImapError)

__all__ = ["Reply", "all_refused", "auth_refused", "refused", "transient"]

_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b\s*")
_DISABLED_FOR = re.compile(r"SmtpClientAuthentication is disabled for the (\w+)", re.I)
_SEND_AS = re.compile(r"(\S+@\S+?) not allowed to send as (\S+@[^\s;]+)", re.I)


@dataclass(frozen=True, slots=True)
class Reply:
    """One SMTP reply: ``status`` 535, ``code`` "5.7.3" (or None), the rest of the text."""

    status: int
    code: str | None
    text: str

    @classmethod
    def parse(cls, status: int, message: bytes | str) -> Reply:
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        # smtplib joins a multi-line reply with "\n": one line for people
        text = " ".join(message.split())
        match = _ENHANCED.match(text)
        if match is None:
            return cls(status, None, text)
        return cls(status, match.group(0).strip(), text[match.end() :])

    def __str__(self) -> str:
        return " ".join(str(part) for part in (self.status, self.code, self.text) if part)


def transient(reply: Reply) -> bool:
    """A 4xx: Office 365's throttling ("432 4.3.2 ... sender thread limit exceeded"), a busy
    server: worth the same transaction again after a wait."""
    return 400 <= reply.status < 500


def auth_refused(reply: Reply, *, host: str, user: str) -> AuthenticationFailed:
    """The error for a refused AUTH, saying what to change."""
    lowered = reply.text.lower()
    disabled = _DISABLED_FOR.search(reply.text)
    basic = "basic authentication is" in lowered or reply.code == "5.7.30"
    if disabled is not None or (
        reply.code == "5.7.139" and not basic and "criteria" not in lowered
    ):
        scope = disabled.group(1).lower() if disabled is not None else None
        if scope == "tenant":
            fix = (
                "SMTP AUTH is switched off for the whole tenant: an Exchange admin turns it on "
                f"for this mailbox with `Set-CASMailbox -Identity {user} "
                "-SmtpClientAuthenticationDisabled $false` (the mailbox's setting wins over the "
                "tenant's), or for everyone with `Set-TransportConfig "
                "-SmtpClientAuthenticationDisabled $false`"
            )
        else:
            fix = (
                f"SMTP AUTH is switched off for the mailbox {user}: an Exchange admin turns it "
                f"on with `Set-CASMailbox -Identity {user} -SmtpClientAuthenticationDisabled "
                "$false` (or in the admin center: the user's Mail tab, Manage email apps, "
                "Authenticated SMTP)"
            )
        return SmtpAuthDisabled(
            fix, scope=scope, status=str(reply.status), code=reply.code, text=reply.text
        )
    if basic:
        message = (
            f"{host} no longer takes passwords for sending (Basic authentication is off for "
            "SMTP AUTH): sign in with OAuth, `o365imap login --smtp`"
        )
    elif "criteria" in lowered:
        message = (
            f"{host} refused the sign-in by policy (Conditional Access or security defaults): "
            "ask an admin which policy blocks SMTP AUTH for this account"
        )
    else:
        message = (
            f"{host} refused the token for {user}: it needs the SMTP.Send permission (sign in "
            "again with `o365imap login --smtp`) and must be that mailbox's own sign-in "
            "(app-only: the app needs SMTP.SendAsApp and the mailbox permission)"
        )
    return AuthenticationFailed(
        message, command="AUTH", status=str(reply.status), code=reply.code, text=reply.text
    )


# Office 365's permanent refusals of a message, by the words that tell them apart
# (docs/sending.md has the replies as real servers sent them, and their sources).
_REFUSALS: tuple[tuple[str, str], ...] = (
    (
        "submissionquotaexceeded",
        "the mailbox reached Office 365's limit of 10,000 recipients a day: nothing was sent, "
        "try again tomorrow",
    ),
    (
        "quotaexceeded",
        "the mailbox is full, and Exchange needs room for the copy in Sent Items: empty "
        "Deleted Items or archive some mail",
    ),
    (
        "bad outbound sender",
        "Office 365 has blocked this mailbox from sending (suspected spam): an admin releases "
        "it under Restricted entities in the Microsoft Defender portal",
    ),
)


def refused(reply: Reply, *, command: str, host: str, user: str, sender: str) -> O365ImapError:
    """The error for a refusal of MAIL, RCPT or the message (after DATA)."""
    lowered = reply.text.lower()
    if reply.code in ("5.2.252", "5.7.60") or "sendasdenied" in lowered:
        send_as = _SEND_AS.search(reply.text)
        who, whom = (send_as.group(1), send_as.group(2)) if send_as else (user, sender)
        return _error(
            SendAsDenied,
            command,
            reply,
            f"{who} may not send as {whom}: send from {who}'s own address (--from), or have "
            f"an Exchange admin give {who} Send As permission for {whom} "
            f"(`Add-RecipientPermission -Identity {whom} -Trustee {who} -AccessRights "
            "SendAs`)",
        )
    if reply.status == 552 or reply.code in ("5.3.4", "5.2.3") or "maxsubmission" in lowered:
        return _error(
            MessageTooLarge,
            command,
            reply,
            f"{host} refused the message as too large (Office 365 takes 35 MB by default, "
            "and attachments grow by a third when encoded): send a link or smaller attachments",
        )
    for words_in_text, message in _REFUSALS:
        if words_in_text in lowered:
            return _error(SendFailed, command, reply, message)
    return _error(SendFailed, command, reply, f"{host} refused the message")


def _error(kind: Callable[..., E], command: str, reply: Reply, message: str) -> E:
    return kind(
        message, command=command, status=str(reply.status), code=reply.code, text=reply.text
    )


def all_refused(refusals: dict[str, Reply]) -> RecipientsRefused:
    """Every recipient refused: nothing was sent."""
    first = next(iter(refusals.values()))
    names = ", ".join(refusals)
    return RecipientsRefused(
        f"every recipient was refused ({names}); nothing was sent",
        refused={address: str(reply) for address, reply in refusals.items()},
        status=str(first.status),
        code=first.code,
        text=first.text,
    )
