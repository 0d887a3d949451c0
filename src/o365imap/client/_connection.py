"""A session's life: connecting (TLS or STARTTLS), signing in, opening a folder, logging out,
and coming back after the server ended the session.

SASL XOAUTH2 and OAUTHBEARER (RFC 7628) with SASL-IR where offered, LOGIN for servers without
OAuth, and the reconnect that follows Office 365's ``BYE ... AccessTokenExpired``: a new
connection, a fresh token from the caller's source, the same folder opened again. Running the
commands is the driver's (``_driver``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Sequence
from types import TracebackType
from typing import Self

from o365imap._replies import folder_from, folder_info, folder_status, namespace_from
from o365imap._transport import Security
from o365imap.client._driver import Mechanism, SessionDriver
from o365imap.client._policy import folder_error, sign_in_refused
from o365imap.errors import (
    CapabilityMissing,
    CommandError,
    ConnectionClosed,
    ProtocolError,
    SessionExpired,
    TransportError,
    UsageError,
)
from o365imap.limits import check_folder_name
from o365imap.models import Folder, FolderInfo, FolderStatus, Namespace
from o365imap.protocol import Atom, Continuation, Raw, Untagged, encode_utf7, sasl
from o365imap.protocol.commands import Argument
from o365imap.protocol.session import ImapSession

__all__ = ["Connection", "mailbox_arg"]

log = logging.getLogger("o365imap.client")


class Connection(SessionDriver):
    """The session driver with connecting, sign-in, reconnect and the open folder; see
    ImapClient."""

    # ------------------------------------------------------------ connecting

    def __enter__(self) -> Self:
        if not self._connected:
            self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.logout()
        else:
            self.close()

    def connect(self) -> None:
        """Open the connection, read the greeting, and upgrade with STARTTLS if asked to."""
        self._session = ImapSession()
        self._selected = None
        self._transport.set_read_timeout(self._timeout)  # a BYE or logout may have cut it
        self._transport.connect()
        self._connected = True
        self._logging_out = False
        try:
            self._greet_and_secure()
        except BaseException:
            # No half-open connection left behind: `with ImapClient(...)` never reaches
            # __exit__ when connecting fails (a silent greeting, STARTTLS refused).
            self.close()
            raise

    def _greet_and_secure(self) -> None:
        greeting = self._next_event()
        if not isinstance(greeting, Untagged) or greeting.kind not in ("OK", "PREAUTH"):
            text = greeting.text if isinstance(greeting, Untagged) else repr(greeting)
            raise ConnectionClosed(f"{self.host} refused the connection: {text}", bye=text)
        if self.security is Security.STARTTLS:
            if "STARTTLS" not in self.capabilities:
                raise CapabilityMissing(
                    f"{self.host} does not offer STARTTLS; use --security tls",
                    capability="STARTTLS",
                )
            self._run("STARTTLS")
            if self._session.buffered or self._session.in_response:
                # Bytes after STARTTLS's OK came in plain text, before the handshake: whoever
                # sent them could be in the middle (the STARTTLS command-injection attacks).
                raise ProtocolError(
                    f"{self.host} sent unencrypted data after agreeing to STARTTLS; refusing it"
                )
            self._transport.start_tls()

    def logout(self) -> None:
        """Say goodbye and close; never raises for a connection that is already gone."""
        if self._connected:
            self._logging_out = True
            # Best effort with a short wait: the work is done, a silent server must not turn it
            # into a failure or keep the user waiting for the full read timeout.
            self._transport.set_read_timeout(min(self._transport.read_timeout, 5.0))
            try:
                self._run("LOGOUT")
            except (TransportError, CommandError, ProtocolError, UsageError):
                pass
            except Exception:
                self.close()
                raise
        self.close()

    # ------------------------------------------------------------ signing in

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

    def select(self, folder: str, *, readonly: bool = False, condstore: bool = False) -> FolderInfo:
        """Open a folder: SELECT, or EXAMINE with ``readonly`` (nothing in the folder then
        changes, not even \\Recent), and report its counts (RFC 3501 6.3.1-2).

        ``condstore``: ask for the folder's mod-sequence (RFC 7162) where the server offers
        CONDSTORE (``FolderInfo.highestmodseq``); elsewhere (Office 365) the same SELECT.
        """
        command = "EXAMINE" if readonly else "SELECT"
        name = check_folder_name(folder)
        args: list[Argument] = [mailbox_arg(name)]
        if condstore and "CONDSTORE" in self.capabilities:
            args.append(Raw(b"(CONDSTORE)"))
        self._selected = None
        try:
            result = self._run(command, *args)
        except CommandError as exc:
            raise folder_error(folder, exc) from None
        self._selected = folder_info(folder, result.untagged, result.tagged, readonly)
        return self._selected

    # ------------------------------------------------------------ folders

    def namespace(self) -> Namespace:
        """NAMESPACE (RFC 2342); an empty Namespace when the server lacks it."""
        if "NAMESPACE" not in self.capabilities:
            return Namespace()
        return namespace_from(self._run("NAMESPACE").untagged)

    def list_folders(self, pattern: str = "*", reference: str = "") -> list[Folder]:
        """Every folder matching ``pattern``, with special-use flags (RFC 6154) when offered
        and ``\\HasChildren``/``\\HasNoChildren`` (RFC 3348) wherever the server can say."""
        args: list[Argument] = [mailbox_arg(reference), mailbox_arg(pattern)]
        returned = list_return_options(self.capabilities)
        if returned:
            args += [Atom("RETURN"), [Atom(option) for option in returned]]
        answer = self._run("LIST", *args)
        found = (folder_from(r.values) for r in answer.untagged if r.kind == "LIST")
        return [folder for folder in found if folder is not None]

    def status(
        self,
        folder: str,
        items: Sequence[str] = ("MESSAGES", "RECENT", "UNSEEN", "UIDNEXT", "UIDVALIDITY"),
    ) -> FolderStatus:
        """STATUS of a folder that need not be open (RFC 3501 section 6.3.10)."""
        folder_arg = mailbox_arg(check_folder_name(folder))
        try:
            answer = self._run("STATUS", folder_arg, [Atom(i.upper()) for i in items])
        except CommandError as exc:
            raise folder_error(folder, exc) from None
        return folder_status(folder, answer.untagged)

    def special_folder(self, use: str) -> Folder | None:
        """The folder with this special use (RFC 6154: ``\\Trash``, ``\\Sent``, ``\\Archive``,
        ``\\Junk``, ``\\Drafts``), or None. Names differ by language (Office 365's trash is
        "Deleted Items" in English only): look special folders up this way."""
        wanted = use.lower()
        folders = self.list_folders()
        return next((f for f in folders if (f.special_use or "").lower() == wanted), None)


def list_return_options(capabilities: Container[str]) -> tuple[str, ...]:
    """What LIST asks to be told besides the names (RFC 5258 section 6 RETURN options).

    With LIST-EXTENDED a server returns only the attributes it is asked for: Dovecot drops
    ``\\HasChildren``/``\\HasNoChildren`` from a ``RETURN (SPECIAL-USE)`` answer, so CHILDREN
    (which every LIST-EXTENDED server supports, RFC 5258 section 4) is asked for too. Without
    LIST-EXTENDED there is no RETURN: a plain LIST, whose answer (Office 365's) carries both.
    """
    if "LIST-EXTENDED" not in capabilities:
        return ()
    if "SPECIAL-USE" in capabilities:
        return ("CHILDREN", "SPECIAL-USE")
    return ("CHILDREN",)


def mailbox_arg(name: str) -> Argument:
    """A folder name as the wire wants it: modified UTF-7 (RFC 3501 5.1.3), INBOX as is."""
    if name.upper() == "INBOX":
        return "INBOX"
    try:
        return encode_utf7(name)
    except UnicodeError as exc:
        raise UsageError(f"the folder name {name!r} is not valid text") from exc
