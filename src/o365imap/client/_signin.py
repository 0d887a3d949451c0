"""Signing in, opening a folder, and coming back after the server ended the session.

SASL XOAUTH2 and OAUTHBEARER (RFC 7628) with SASL-IR where offered, LOGIN for servers without
OAuth, and the reconnect that follows Office 365's ``BYE ... AccessTokenExpired``: a new
connection, a fresh token from the caller's source, the same folder opened again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from o365imap._replies import folder_info
from o365imap.client._driver import Mechanism, SessionDriver
from o365imap.client._policy import folder_error, sign_in_refused
from o365imap.errors import CapabilityMissing, CommandError, SessionExpired, UsageError
from o365imap.limits import check_folder_name
from o365imap.models import FolderInfo
from o365imap.protocol import Atom, Continuation, Raw, encode_utf7, sasl
from o365imap.protocol.commands import Argument

__all__ = ["SignedIn", "mailbox_arg"]

log = logging.getLogger("o365imap.client")


class SignedIn(SessionDriver):
    """The session driver with sign-in, reconnect and the open folder; see ImapClient."""

    # ------------------------------------------------------------ signing in

    def authenticate_oauth(
        self,
        user: str,
        access_token: str,
        mechanism: Mechanism | str = "xoauth2",
        *,
        refresh: Callable[[], str] | None = None,
    ) -> None:
        """SASL XOAUTH2 or OAUTHBEARER (RFC 7628) with a bearer token.

        Uses SASL-IR when the server offers it (one round trip); otherwise answers the
        server's empty challenge. A server that refuses the token may first send a JSON error
        challenge (Dovecot, Gmail): it is answered with an empty line, as the mechanism requires,
        and the failure is reported with the server's words.

        ``refresh`` returns a fresh token. With it, when the server ends the session because
        the token expired (Office 365: ``BYE Session invalidated - AccessTokenExpired``), the
        client reconnects, signs in again, reopens the folder and carries on: a command is
        repeated, a listing resumes after the last message it delivered.
        """
        self._reauth = None
        name = mechanism.upper()
        if name not in ("XOAUTH2", "OAUTHBEARER"):
            raise UsageError(f"mechanism must be xoauth2 or oauthbearer, not {mechanism!r}")
        self._refuse_plaintext_secret()
        caps = self.capabilities
        if caps.auth_mechanisms and name not in caps.auth_mechanisms:
            offered = ", ".join(sorted(caps.auth_mechanisms)) or "none"
            raise CapabilityMissing(
                f"{self.host} does not offer AUTH={name} (it offers: {offered})",
                capability=f"AUTH={name}",
            )
        if name == "XOAUTH2":
            payload = sasl.xoauth2(user, access_token)
        else:
            payload = sasl.oauthbearer(user, access_token, self.host, self.port)
        self._authenticate(name, payload)
        if refresh is not None:
            self._reauth = (user, name, refresh)

    def login(self, user: str, password: str) -> None:
        """LOGIN, for servers without OAuth (never Office 365 since 2022)."""
        self._refuse_plaintext_secret()
        if "LOGINDISABLED" in self.capabilities:
            raise CapabilityMissing(
                f"{self.host} does not allow LOGIN here", capability="LOGINDISABLED"
            )
        answer = self._exchange("LOGIN", (user, password), redact=True)
        if answer.tagged.status != "OK":
            raise sign_in_refused(self.host, "LOGIN", answer.tagged, "")

    def reconnect(self) -> None:
        """A new connection with a fresh token, the same folder selected again.

        Raises SessionExpired if the folder's UIDVALIDITY changed meanwhile (UIDs from before
        would then name other messages).
        """
        if self._reauth is None:
            raise UsageError("reconnecting needs a token source: authenticate_oauth(refresh=...)")
        user, mechanism, refresh = self._reauth
        previous = self._selected
        log.info("reconnecting to %s with a fresh token", self.host)
        self.close()
        self.connect()
        self.authenticate_oauth(user, refresh(), mechanism, refresh=refresh)
        if previous is not None:
            info = self.select(previous.name, readonly=previous.read_only)
            if previous.uidvalidity is not None and info.uidvalidity != previous.uidvalidity:
                raise SessionExpired(
                    f"the folder {previous.name!r} changed (UIDVALIDITY) while reconnecting",
                    bye=None,
                )

    def _refuse_plaintext_secret(self) -> None:
        if not self._connected:
            raise UsageError("not connected: connect() first (or use `with ImapClient(...)`)")
        if self._transport.encrypted or self._transport.peer_is_loopback:
            return
        raise UsageError(
            f"refusing to send a token or password unencrypted to {self.host}: "
            "use --security tls or starttls (plain text is only allowed to a loopback address)"
        )

    def _authenticate(self, name: str, payload: bytes) -> None:
        ir = "SASL-IR" in self.capabilities
        args: tuple[Argument, ...] = (Atom(name), Raw(payload)) if ir else (Atom(name),)
        sent_payload = ir
        challenge: dict[str, str] | None = None

        def answer(event: Continuation) -> bytes:
            nonlocal sent_payload, challenge
            if not sent_payload:
                sent_payload = True
                return payload + b"\r\n"
            # A second challenge is the server's error report; the answer that ends the
            # exchange is an empty line for XOAUTH2, a lone ^A for OAUTHBEARER (RFC 7628 3.2.3).
            challenge = sasl.decode_error_challenge(event.text) or challenge
            return b"AQ==\r\n" if name == "OAUTHBEARER" else b"\r\n"

        result = self._exchange("AUTHENTICATE", args, redact=True, on_continuation=answer)
        if result.tagged.status != "OK":
            said = ", ".join(f"{key} {value}" for key, value in (challenge or {}).items())
            raise sign_in_refused(self.host, f"AUTHENTICATE {name}", result.tagged, said)

    # ------------------------------------------------------------ the open folder

    def select(self, folder: str, *, readonly: bool = False) -> FolderInfo:
        """Open a folder: SELECT, or EXAMINE with ``readonly`` (nothing in the folder then
        changes, not even \\Recent), and report its counts (RFC 3501 6.3.1-2)."""
        command = "EXAMINE" if readonly else "SELECT"
        name = check_folder_name(folder)
        self._selected = None
        try:
            result = self._run(command, mailbox_arg(name))
        except CommandError as exc:
            raise folder_error(folder, exc) from None
        self._selected = folder_info(folder, result.untagged, result.tagged, readonly)
        return self._selected


def mailbox_arg(name: str) -> Argument:
    """A folder name as the wire wants it: modified UTF-7 (RFC 3501 5.1.3), INBOX as is."""
    if name.upper() == "INBOX":
        return "INBOX"
    try:
        return encode_utf7(name)
    except UnicodeError as exc:
        raise UsageError(f"the folder name {name!r} is not valid text") from exc
