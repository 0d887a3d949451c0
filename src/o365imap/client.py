"""The synchronous IMAP client: the protocol core driven over a Transport, with policy on top.

Policy lives here and nowhere else: which SASL path to take, when to retry (Office 365's
throttling, its transient "Server Unavailable"), how a listing is paged, how the server's NO and
BAD become typed errors. The bytes are the protocol package's business, the socket the
transport's.

Listing is built around one bulk ``FETCH a:b (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)``
per page: never one command per message, never a long comma list of numbers (Office 365 rejects
long command lines with ``BAD Command Error. 10``).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import TracebackType
from typing import Any, Literal

from o365imap.errors import (
    AuthenticationFailed,
    CapabilityMissing,
    CommandError,
    ConnectionClosed,
    FolderNotFound,
    NotConnectedAfterAuth,
    O365ImapError,
    ProtocolError,
    ReadTimeout,
    SessionExpired,
    Throttled,
    TransportError,
    UsageError,
)
from o365imap.limits import check_folder_name, check_seconds
from o365imap.models import (
    Capabilities,
    Folder,
    FolderInfo,
    FolderStatus,
    MessageSummary,
    Namespace,
)
from o365imap.protocol import (
    Atom,
    Command,
    Continuation,
    Event,
    Fetch,
    LiteralData,
    LiteralEnded,
    LiteralStarted,
    Raw,
    ResponseParser,
    SequenceSet,
    Tagged,
    TagGenerator,
    Unparsed,
    Untagged,
    decode_utf7,
    encode_utf7,
    parse_number,
    parse_values,
    sasl,
)
from o365imap.protocol.commands import Argument
from o365imap.transport import Security, Transport, default_port

__all__ = ["LISTING_ITEMS", "ImapClient", "Mechanism"]

log = logging.getLogger("o365imap.client")
wire = logging.getLogger("o365imap.wire")

Mechanism = Literal["xoauth2", "oauthbearer"]

LISTING_ITEMS = "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)"
# What RFC 3501 allows in the not-authenticated state (and ID, RFC 2971, which servers take then).
_BEFORE_SIGN_IN = {"CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "AUTHENTICATE", "LOGIN", "ID"}
_SPECIAL_USE = {"\\all", "\\archive", "\\drafts", "\\flagged", "\\junk", "\\sent", "\\trash"}
# ASCII digits only: the server's text is str, and \d alone would take any script's digits.
_THROTTLED = re.compile(
    r"Request is throttled\.?.*?Suggested Backoff Time: (\d+) ?milli", re.I | re.ASCII
)
_UNAVAILABLE = re.compile(r"Server Unavailable", re.I)
_NOT_FOUND = re.compile(
    r"(doesn't|does not|not) exist|unknown mailbox|no such (mailbox|folder)|not found", re.I
)
_NOT_CONNECTED = re.compile(r"authenticated but not connected", re.I)
# A streamed literal is read in pieces of up to 1 MB once 64 KB or more of it is still to come:
# one decoder call and one write per megabyte instead of one per TLS record.
_BIG_READ = 64 * 1024
_LITERAL_READ = 1 << 20
_BYE_WAIT = 2.0  # seconds to wait for a tagged answer after the server said BYE
# A flag or keyword (RFC 3501 flag-keyword / flag-extension): no spaces, parentheses, quotes.
_FLAG = re.compile(r"^\\?[A-Za-z0-9$_.\-]+$")
_MAX_RECONNECTS = 3  # per listing: a token that expires again at once is not worth chasing


@dataclass
class _Result:
    """What one command produced: its untagged responses and its tagged completion."""

    tagged: Tagged
    untagged: list[Untagged] = field(default_factory=list)
    fetches: list[Fetch] = field(default_factory=list)


@dataclass(frozen=True)
class _OpenStream:
    """A streamed command whose answer is still being read: its tag, and the parser's
    literal threshold to put back when it ends (it may ask for a lower one)."""

    tag: str
    threshold: int


class ImapClient:
    """One IMAP connection.

    >>> with ImapClient("outlook.office365.com") as imap:           # doctest: +SKIP
    ...     imap.authenticate_oauth("me@example.com", access_token)
    ...     imap.examine("INBOX")
    ...     for message in imap.list_page(page=1, page_size=50): ...

    ``timeout`` bounds each wait for the server (connect and read); ``throttle_retries`` is how
    many times a throttled command is retried after the server's suggested backoff (capped by
    ``max_backoff`` seconds).
    """

    def __init__(
        self,
        host: str = "outlook.office365.com",
        port: int | None = None,
        *,
        security: Security | str = Security.TLS,
        ca_file: str | None = None,
        timeout: float = 60.0,
        connect_timeout: float | None = None,
        throttle_retries: int = 3,
        max_backoff: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        try:
            self.security = Security(security)
        except ValueError as exc:
            raise UsageError(f"security must be tls, starttls or plain, not {security!r}") from exc
        check_seconds(timeout)
        if connect_timeout is not None:
            check_seconds(connect_timeout, "connect timeout")
        self.host = host
        self.port = port or default_port(self.security)
        self.throttle_retries = throttle_retries
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._timeout = timeout
        self._transport = Transport(
            host,
            self.port,
            security=self.security,
            ca_file=ca_file,
            connect_timeout=connect_timeout if connect_timeout is not None else timeout,
            read_timeout=timeout,
        )
        self._parser = ResponseParser()
        self._tags = TagGenerator()
        self._capabilities: Capabilities | None = None
        self._pending: list[Event] = []  # events read while waiting for something else
        # A streamed command (FETCH) whose answer its reader has not read to the end yet.
        self._open: _OpenStream | None = None
        self.greeting: str = ""
        self.bye: str | None = None
        self.selected: FolderInfo | None = None
        self.exists: int | None = None  # kept current from untagged EXISTS
        self.authenticated = False
        self._connected = False
        self._logging_out = False
        self._reauth: tuple[str, str, Callable[[], str]] | None = None

    # ------------------------------------------------------------ connection

    def __enter__(self) -> ImapClient:
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
            self.close()
            raise ConnectionClosed(f"{self.host} refused the connection: {text}", bye=text)
        self.greeting = greeting.text
        if greeting.kind == "PREAUTH":
            self.authenticated = True
        self._note_capability_code(greeting)
        if self.security is Security.STARTTLS:
            if "STARTTLS" not in self.capabilities:
                self.close()
                raise CapabilityMissing(
                    f"{self.host} does not offer STARTTLS; use --security tls",
                    capability="STARTTLS",
                )
            self._run("STARTTLS")
            if self._parser.buffered or self._pending:
                # Bytes after STARTTLS's OK came in plain text, before the handshake: whoever
                # sent them could be in the middle (the STARTTLS command-injection attacks).
                self.close()
                raise ProtocolError(
                    f"{self.host} sent unencrypted data after agreeing to STARTTLS; refusing it"
                )
            self._transport.start_tls()
            self._capabilities = None  # RFC 3501 6.2.1: forget what was said in plain text

    def close(self) -> None:
        """Drop the connection without a goodbye."""
        self._transport.close()
        self._connected = False
        self._end_stream()  # its answer went with the connection

    def logout(self) -> None:
        """Say goodbye and close; never raises for a connection that is already gone."""
        if self._connected:
            self._logging_out = True
            # Best effort with a short wait: the work is done, a silent server must not turn it
            # into a failure or keep the user waiting for the full read timeout.
            self._transport.set_read_timeout(min(self._transport.read_timeout, 5.0))
            try:
                self._run("LOGOUT")
            except (TransportError, CommandError, ProtocolError):
                pass
            except Exception:
                self.close()
                raise
        self.close()

    @property
    def connected(self) -> bool:
        return self._connected

    # ------------------------------------------------------------ capabilities

    @property
    def capabilities(self) -> Capabilities:
        if self._capabilities is None:
            self._run("CAPABILITY")
            if self._capabilities is None:
                self._capabilities = Capabilities(frozenset())
        return self._capabilities

    def _note_capability_code(self, response: Untagged | Tagged) -> None:
        if response.code == "CAPABILITY" and response.code_data:
            self._capabilities = _capabilities_from(response.code_data.split())

    # ------------------------------------------------------------ authentication

    def authenticate_oauth(
        self,
        user: str,
        access_token: str,
        mechanism: Mechanism | str = "xoauth2",
        *,
        refresh: Callable[[], str] | None = None,
    ) -> None:
        """SASL XOAUTH2 or OAUTHBEARER with a bearer token.

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

    @property
    def can_reconnect(self) -> bool:
        return self._reauth is not None

    def reconnect(self) -> None:
        """A new connection with a fresh token, the same folder selected again.

        Raises SessionExpired if the folder's UIDVALIDITY changed meanwhile (UIDs from before
        would then name other messages).
        """
        if self._reauth is None:
            raise UsageError("reconnecting needs a token source: authenticate_oauth(refresh=...)")
        user, mechanism, refresh = self._reauth
        previous = self.selected
        log.info("reconnecting to %s with a fresh token", self.host)
        self.close()
        self._parser = ResponseParser(stream_threshold=self._parser.stream_threshold)
        self._pending.clear()
        self._capabilities = None
        self.bye = None
        self.selected = None
        self.authenticated = False
        self.connect()
        self.authenticate_oauth(user, refresh(), mechanism, refresh=refresh)
        if previous is not None:
            info = self.select(previous.name, readonly=previous.read_only)
            if previous.uidvalidity is not None and info.uidvalidity != previous.uidvalidity:
                raise SessionExpired(
                    f"the folder {previous.name!r} changed (UIDVALIDITY) while reconnecting",
                    bye=None,
                )

    def login(self, user: str, password: str) -> None:
        """LOGIN, for servers without OAuth (never Office 365 since 2022)."""
        self._refuse_plaintext_secret()
        if "LOGINDISABLED" in self.capabilities:
            raise CapabilityMissing(
                f"{self.host} does not allow LOGIN here", capability="LOGINDISABLED"
            )
        result = self._exchange(
            Command(self._tags(), "LOGIN", (user, password), redact=True), on_continuation=None
        )
        self._finish_auth(result, "LOGIN")

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

        command = Command(self._tags(), "AUTHENTICATE", args, redact=True)
        result = self._exchange(command, on_continuation=answer)
        self._finish_auth(result, f"AUTHENTICATE {name}", challenge)

    def _finish_auth(
        self, result: _Result, what: str, challenge: dict[str, str] | None = None
    ) -> None:
        tagged = result.tagged
        if tagged.status == "OK":
            self.authenticated = True
            self._capabilities = None
            self._note_capability_code(tagged)
            return
        said = ", ".join(f"{key} {value}" for key, value in (challenge or {}).items())
        detail = f" (its error report: {said})" if said else ""
        if _NOT_CONNECTED.search(tagged.text):
            raise NotConnectedAfterAuth(
                f"{self.host} accepted the sign-in but could not open the mailbox{detail}",
                command=what,
                status=tagged.status,
                code=tagged.code,
                text=tagged.text,
            )
        raise AuthenticationFailed(
            f"{self.host} refused the sign-in{detail}",
            command=what,
            status=tagged.status,
            code=tagged.code,
            text=tagged.text,
        )

    # ------------------------------------------------------------ folders

    def namespace(self) -> Namespace:
        """NAMESPACE (RFC 2342); an empty Namespace when the server lacks it."""
        if "NAMESPACE" not in self.capabilities:
            return Namespace()
        result = self._run("NAMESPACE")
        for response in result.untagged:
            if response.kind == "NAMESPACE":
                values = [*response.values, None, None, None]
                return Namespace(
                    _namespace_part(values[0]),
                    _namespace_part(values[1]),
                    _namespace_part(values[2]),
                )
        return Namespace()

    def list_folders(self, pattern: str = "*", reference: str = "") -> list[Folder]:
        """Every folder matching ``pattern``, with special-use flags (RFC 6154) when offered."""
        caps = self.capabilities
        args: list[Argument] = [_mailbox_arg(reference), _mailbox_arg(pattern)]
        if "SPECIAL-USE" in caps and "LIST-EXTENDED" in caps:
            args += [Atom("RETURN"), [Atom("SPECIAL-USE")]]
        result = self._run("LIST", *args)
        folders: list[Folder] = []
        for response in result.untagged:
            if response.kind != "LIST":
                continue
            folder = _folder_from(response.values)
            if folder is not None:
                folders.append(folder)
        return folders

    def select(self, folder: str, *, readonly: bool = False) -> FolderInfo:
        """SELECT (or EXAMINE when ``readonly``) a folder and report its counts."""
        command = "EXAMINE" if readonly else "SELECT"
        folder_arg = _mailbox_arg(check_folder_name(folder))
        self.selected = None
        try:
            result = self._run(command, folder_arg)
        except CommandError as exc:
            if exc.status == "NO" and (
                exc.code in ("NONEXISTENT", "TRYCREATE") or _NOT_FOUND.search(exc.text)
            ):
                raise FolderNotFound(
                    f"there is no folder {folder!r}",
                    command=exc.command,
                    status=exc.status,
                    code=exc.code,
                    text=exc.text,
                ) from None
            raise
        info = _folder_info(folder, result, readonly)
        self.selected = info
        self.exists = info.exists
        return info

    def examine(self, folder: str) -> FolderInfo:
        """Open a folder read-only: nothing in it changes, not even the \\Recent flags."""
        return self.select(folder, readonly=True)

    def status(
        self,
        folder: str,
        items: Sequence[str] = ("MESSAGES", "RECENT", "UNSEEN", "UIDNEXT", "UIDVALIDITY"),
    ) -> FolderStatus:
        """STATUS of a folder that need not be selected (RFC 3501 section 6.3.10)."""
        folder_arg = _mailbox_arg(check_folder_name(folder))
        try:
            result = self._run("STATUS", folder_arg, [Atom(i.upper()) for i in items])
        except CommandError as exc:
            if _is_not_found(exc):
                raise FolderNotFound(
                    f"there is no folder {folder!r}",
                    command=exc.command,
                    status=exc.status,
                    code=exc.code,
                    text=exc.text,
                ) from None
            raise
        counts: dict[str, int] = {}
        for response in result.untagged:
            if response.kind == "STATUS" and len(response.values) >= 2:
                pairs = response.values[1]
                if isinstance(pairs, list):
                    for i in range(0, len(pairs) - 1, 2):
                        key, value = pairs[i], pairs[i + 1]
                        if isinstance(key, bytes) and isinstance(value, bytes) and value.isdigit():
                            number = parse_number(value, b"* STATUS " + key + b" " + value)
                            counts[key.decode("ascii", "replace").upper()] = number
        return FolderStatus(
            name=folder,
            messages=counts.get("MESSAGES"),
            recent=counts.get("RECENT"),
            unseen=counts.get("UNSEEN"),
            uidnext=counts.get("UIDNEXT"),
            uidvalidity=counts.get("UIDVALIDITY"),
        )

    # ------------------------------------------------------------ messages

    def fetch(
        self,
        messages: SequenceSet | str | Iterable[int],
        items: str | Sequence[str],
        *,
        uid: bool = False,
    ) -> Iterator[Fetch]:
        """FETCH (or UID FETCH), yielding each message's response as soon as it is parsed.

        Memory does not grow with the number of messages: nothing is collected. Unsolicited
        FETCH responses (a flag change from another client) that lack the requested items are
        not yielded. A literal of up to 1 MiB comes as bytes; a larger one (a big message or
        part) comes as ``StreamedLiteral(size)``, its bytes not kept: receive those with
        :meth:`iter_fetch_events` (as ``LiteralData`` events), or write them to disk with
        ``save_message`` / ``save_parts``.
        """
        for event in self.iter_fetch_events(messages, items, uid=uid):
            if isinstance(event, Fetch):
                yield event

    def iter_fetch_events(
        self,
        messages: SequenceSet | str | Iterable[int],
        items: str | Sequence[str],
        *,
        uid: bool = False,
        stream_threshold: int | None = None,
    ) -> Iterator[Event]:
        """Like ``fetch`` but also yields LiteralStarted/LiteralData/LiteralEnded events for
        literals larger than ``stream_threshold`` (bytes), so bodies can flow to disk."""
        sequence = _sequence_arg(messages)
        item_text = items if isinstance(items, str) else "(" + " ".join(items) + ")"
        if not item_text.isascii():
            raise UsageError(f"FETCH items are ASCII: {item_text!r}")
        wanted = _requested_items(item_text)
        name = "UID FETCH" if uid else "FETCH"
        events = self._stream(
            name, sequence, Raw(item_text.encode("ascii")), stream_threshold=stream_threshold
        )
        for event in events:
            if isinstance(event, Fetch):
                if wanted and not wanted.intersection(event.items):
                    continue  # unsolicited (a flag change from elsewhere), not our answer
                yield event
            elif isinstance(event, LiteralStarted | LiteralData | LiteralEnded):
                yield event

    def list_page(self, page: int = 1, page_size: int = 50) -> list[MessageSummary]:
        """One page of the selected folder, newest first: page 1 is the newest ``page_size``.

        One ``FETCH a:b (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)`` for the whole page.
        """
        if page < 1 or page_size < 1:
            raise UsageError("page and page size start at 1")
        total = self._require_selected()
        high = total - (page - 1) * page_size
        if high < 1:
            return []
        low = max(1, high - page_size + 1)
        try:
            rows = [_summary(f) for f in self.fetch(SequenceSet.range(low, high), LISTING_ITEMS)]
        except SessionExpired:
            if self._reauth is None:
                raise
            self.reconnect()  # nothing was handed out yet: ask for the page again
            rows = [_summary(f) for f in self.fetch(SequenceSet.range(low, high), LISTING_ITEMS)]
        rows.sort(key=lambda r: r.seq, reverse=True)
        return rows

    def iter_messages(self) -> Iterator[MessageSummary]:
        """Every message of the selected folder, in sequence order, from one ``FETCH 1:*``.

        Results stream out as they are parsed: memory does not grow with the folder.
        """
        if self._require_selected() == 0:
            return
        last_uid: int | None = None
        reconnects = 0
        while True:
            # After a reconnect the rest is asked by UID (sequence numbers may have moved):
            # "UID FETCH n:*" always answers at least the newest message, hence the filter.
            if last_uid is None:
                messages, uid = SequenceSet.range(1, None), False
            else:
                messages, uid = SequenceSet.range(last_uid + 1, None), True
            try:
                for response in self.fetch(messages, LISTING_ITEMS, uid=uid):
                    summary = _summary(response)
                    if summary.uid is not None:
                        if last_uid is not None and summary.uid <= last_uid:
                            continue
                        last_uid = summary.uid
                    yield summary
                return
            except SessionExpired:
                reconnects += 1
                if self._reauth is None or reconnects > _MAX_RECONNECTS:
                    raise
                self.reconnect()  # then go on after last_uid (or from the start)

    def summaries(self, uids: Sequence[int], *, chunk: int = 200) -> Iterator[MessageSummary]:
        """The listing fields of messages by UID (what ``find`` and ``search`` return), in the
        order given; UIDs no longer in the folder are left out.

        One UID FETCH per ``chunk`` UIDs: scattered UIDs make a long set, and Office 365
        refuses long command lines.
        """
        for start in range(0, len(uids), chunk):
            part = uids[start : start + chunk]
            found: dict[int, MessageSummary] = {}
            for response in self.fetch(SequenceSet(part), LISTING_ITEMS, uid=True):
                summary = _summary(response)
                if summary.uid is not None:
                    found[summary.uid] = summary
            yield from (found[u] for u in part if u in found)

    def iter_messages_one_by_one(self, seqs: Iterable[int]) -> Iterator[MessageSummary]:
        """The slow way, one FETCH command (one round trip) per message.

        Kept so benchmarks can show what bulk fetching saves; do not use it for listings.
        """
        for seq in seqs:
            for response in self.fetch(SequenceSet([seq]), LISTING_ITEMS):
                yield _summary(response)

    def search(
        self,
        criteria: str | Sequence[Argument] = "ALL",
        *,
        uid: bool = False,
        charset: str | None = None,
    ) -> list[int]:
        """SEARCH (or UID SEARCH): message numbers (or UIDs) matching ``criteria``.

        A string is sent as IMAP search syntax as it is (``'UNSEEN SINCE 1-Jan-2026'``); a
        sequence mixes Atom keys and str values, which are quoted or sent as literals as needed
        (``[Atom("FROM"), "Jürgen"]`` with ``charset="UTF-8"``).
        """
        args: list[Argument] = []
        if charset:
            args += [Atom("CHARSET"), Atom(charset)]
        if isinstance(criteria, str):
            args.append(Raw(criteria.encode("utf-8")))
        else:
            args += list(criteria)
        result = self._run("UID SEARCH" if uid else "SEARCH", *args)
        numbers: list[int] = []
        for response in result.untagged:
            if response.kind == "SEARCH":
                numbers += [
                    parse_number(v, b"* SEARCH " + v)
                    for v in response.values
                    if isinstance(v, bytes) and v.isdigit()
                ]
        return numbers

    def store(
        self,
        messages: SequenceSet | str | Iterable[int],
        action: str,
        flags: Iterable[str],
        *,
        uid: bool = False,
    ) -> None:
        """STORE (or UID STORE) ``+FLAGS``, ``-FLAGS`` or ``FLAGS`` (RFC 3501 6.4.6), silently:
        the server does not echo the new flags (``\\Seen``, ``\\Flagged``, keywords)."""
        verb = action.upper().removesuffix(".SILENT")
        if verb not in ("+FLAGS", "-FLAGS", "FLAGS"):
            raise UsageError(f"STORE takes +FLAGS, -FLAGS or FLAGS, not {action!r}")
        if self.selected is not None and self.selected.read_only:
            # Servers may answer OK and change nothing (Dovecot does): say so instead.
            raise UsageError(
                f"{self.selected.name} is open read-only (examine): select() it to change flags"
            )
        names = list(flags)
        for name in names:
            if not _FLAG.match(name):
                raise UsageError(f"not a flag name: {name!r}")
        flag_list = Raw(("(" + " ".join(names) + ")").encode("ascii"))
        self._run(
            "UID STORE" if uid else "STORE",
            _sequence_arg(messages),
            Atom(verb + ".SILENT"),
            flag_list,
        )

    def noop(self) -> list[Untagged]:
        """NOOP: lets the server tell about new mail (EXISTS) and expunges."""
        return self._run("NOOP").untagged

    def _require_selected(self) -> int:
        if self.selected is None or self.exists is None:
            raise UsageError("select or examine a folder first")
        return self.exists

    # ------------------------------------------------------------ command machinery

    def _run(self, name: str, *args: Argument) -> _Result:
        """Run a command to completion; NO/BAD become exceptions, throttling is retried, and a
        session ended by token expiry is reopened and the command repeated (once)."""
        self._require_signed_in(name)
        attempt = 0
        reconnected = False
        while True:
            try:
                result = self._exchange(
                    Command(self._tags(), name, tuple(args)), on_continuation=None
                )
            except SessionExpired:
                if reconnected or self._reauth is None or name in ("LOGOUT", "STARTTLS"):
                    raise
                reconnected = True
                self.reconnect()
                continue
            tagged = result.tagged
            if tagged.status == "OK":
                return result
            delay = self._retry_delay(name, tagged, attempt)
            if delay is None:
                raise _command_error(name, tagged)
            attempt += 1
            log.info("%s: %s; retrying in %.2f s", name, tagged.text, delay)
            self._sleep(delay)

    def _require_signed_in(self, name: str) -> None:
        if not self._connected:
            raise UsageError(f"{name} needs a connection: connect() first")
        if not self.authenticated and name not in _BEFORE_SIGN_IN:
            # The server would only say "BAD Error in IMAP command".
            raise UsageError(f"{name} needs a signed-in connection: authenticate_oauth() first")

    def _retry_delay(self, name: str, tagged: Tagged, attempt: int) -> float | None:
        """Seconds to wait before retrying a refused command, or None if it must fail."""
        self._drain_buffered()  # a BYE may have come in the same read (Office 365 does that)
        throttled = _THROTTLED.search(tagged.text)
        if throttled is not None:
            backoff = parse_number(throttled.group(1).encode(), tagged.text.encode()) / 1000
            if attempt >= self.throttle_retries or self.bye is not None:
                gave_up = (
                    "closed the connection"
                    if self.bye is not None
                    else f"still was after {self.throttle_retries} retries"
                )
                raise Throttled(
                    f"{self.host} is throttling requests and {gave_up}; try again later",
                    command=name,
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

    def _stream(
        self, name: str, *args: Argument, stream_threshold: int | None = None
    ) -> Iterator[Event]:
        """Send a command and yield its responses as they arrive; raise on NO/BAD.

        Literals above ``stream_threshold`` bytes come as LiteralData events while this
        command's answer is read. A throttled command is retried here too, but only while
        nothing has been yielded yet.
        """
        self._require_signed_in(name)
        attempt = 0
        while True:
            self._finish_open_stream()
            command = Command(self._tags(), name, tuple(args))
            opened = self._open = _OpenStream(command.tag, self._parser.stream_threshold)
            if stream_threshold is not None:
                self._parser.stream_threshold = stream_threshold
            try:
                self._send(command, on_continuation=None)
                yielded = False
                while True:
                    event = self._next_event()
                    if isinstance(event, Tagged) and event.tag == command.tag:
                        tagged = event
                        break
                    if self._handle_common(event) or isinstance(event, Untagged):
                        continue  # state updates (EXISTS, EXPUNGE, alerts) are kept by the client
                    if isinstance(event, Tagged):
                        continue  # a stale completion of a command we gave up on
                    yielded = True
                    try:
                        yield event
                    except GeneratorExit:
                        # The caller stopped early (a `break`, a closed pipe): read the rest of
                        # the answer now, or the next command would take it for its own.
                        if self._open is opened:
                            self._discard_until(command.tag)
                        raise
                    if self._open is not opened:
                        raise UsageError(
                            f"the rest of the {name} answer was skipped: another command ran "
                            "before it was read to the end"
                        )
            finally:
                if self._open is opened:
                    self._end_stream()
            if tagged.status == "OK":
                return
            delay = None if yielded else self._retry_delay(name, tagged, attempt)
            if delay is None:
                raise _command_error(name, tagged)
            attempt += 1
            self._sleep(delay)

    def _finish_open_stream(self) -> None:
        """Read to its end the answer of a streamed command its reader left suspended (a
        generator kept alive by an exception's traceback): the next command must not take
        that answer for its own."""
        if self._open is not None:
            self._discard_until(self._open.tag)
            self._end_stream()

    def _end_stream(self) -> None:
        if self._open is not None:
            self._parser.stream_threshold = self._open.threshold
            self._open = None

    def _discard_until(self, tag: str) -> None:
        """Skip responses up to the completion of ``tag``; drop the connection if that fails."""
        if not self._connected:
            return
        try:
            while True:
                event = self._next_event()
                if isinstance(event, Tagged) and event.tag == tag:
                    return
                self._handle_common(event)
        except O365ImapError:
            self.close()

    def _exchange(
        self, command: Command, on_continuation: Callable[[Continuation], bytes] | None
    ) -> _Result:
        """Send one command and collect everything up to its tagged completion."""
        self._finish_open_stream()
        self._send(command, on_continuation)
        untagged: list[Untagged] = []
        fetches: list[Fetch] = []
        while True:
            event = self._next_event()
            if isinstance(event, Tagged):
                if event.tag == command.tag:
                    return _Result(event, untagged, fetches)
                continue
            if isinstance(event, Continuation):
                if on_continuation is None:
                    raise ProtocolError(
                        f"{self.host} sent an unexpected continuation to {command.name}",
                        excerpt=event.text,
                    )
                data = on_continuation(event)
                if command.redact:
                    wire.debug("C: [redacted continuation]")
                else:
                    wire.debug("C: %r", data)
                self._transport.send(data)
                continue
            if self._handle_common(event):
                continue
            if isinstance(event, Untagged):
                untagged.append(event)
            elif isinstance(event, Fetch):
                fetches.append(event)

    def _send(
        self, command: Command, on_continuation: Callable[[Continuation], bytes] | None
    ) -> None:
        pieces = command.encode(literal_plus=False)
        if len(pieces) > 1 and command.name != "CAPABILITY":
            # Only a command with literals cares whether the server takes them unannounced.
            caps = self.capabilities
            if "LITERAL+" in caps:  # (LITERAL- limits it to 4 KB: not worth the bookkeeping)
                pieces = command.encode(literal_plus=True)
        if wire.isEnabledFor(logging.DEBUG):
            wire.debug("C: %s", command.describe())
        self._transport.send(pieces[0])
        held: list[Event] = []  # responses that came before the '+': the command's own
        try:
            for piece in pieces[1:]:
                # A synchronising literal: the server must say '+' before we go on (RFC 3501
                # 7.5); whatever else it says meanwhile is kept for the command to read.
                while True:
                    event = self._next_event()
                    if isinstance(event, Continuation):
                        break
                    if isinstance(event, Tagged) and event.tag == command.tag:
                        held.append(event)
                        return  # refused before the literal: the rest is not sent
                    if not self._handle_common(event):
                        held.append(event)
                self._transport.send(piece)
        finally:
            self._pending.extend(held)

    def _handle_common(self, event: Event) -> bool:
        """Untagged responses any command may carry; True when fully handled here."""
        if isinstance(event, Untagged):
            if event.kind == "EXISTS" and event.number is not None:
                self.exists = event.number
            elif event.kind == "EXPUNGE" and self.exists:
                self.exists -= 1
            elif event.kind == "CAPABILITY":
                self._capabilities = _capabilities_from(event.values)
                return True
            elif event.kind == "BYE":
                self.bye = event.text
                if not self._logging_out:
                    # The server is leaving. Office 365 may still send the command's tagged
                    # answer (its "authenticated but not connected" comes after a BYE), so
                    # wait for it briefly; a server that keeps the socket open without a word
                    # (seen after AccessTokenExpired) must not cost a full read timeout.
                    self._transport.set_read_timeout(min(self._transport.read_timeout, _BYE_WAIT))
                return True
            elif event.kind in ("OK", "NO", "BAD", "PREAUTH"):
                self._note_capability_code(event)
                if event.code in (None, "ALERT") and event.kind != "OK":
                    log.warning("%s says: %s", self.host, event.text)
            return False
        if isinstance(event, Unparsed):
            log.debug("ignoring a line that is not IMAP: %r", event.line[:200])
            return True
        return False

    def _drain_buffered(self) -> None:
        """Handle what has already arrived, without waiting for more."""
        while (event := self._parser.next_event()) is not None:
            if not self._handle_common(event):
                self._pending.append(event)

    def _next_event(self) -> Event:
        if self._pending:
            return self._pending.pop(0)
        while True:
            try:
                event = self._parser.next_event()
            except ProtocolError:
                self.close()
                raise
            if event is not None:
                return event
            wanted = self._parser.literal_wanted
            try:
                if wanted >= _BIG_READ:
                    data: bytes | bytearray = self._transport.recv_exactly(
                        min(wanted, _LITERAL_READ)
                    )
                else:
                    data = self._transport.recv()
            except ConnectionClosed as exc:
                self._connected = False
                raise self._closed_error(exc) from exc.__cause__
            except ReadTimeout as exc:
                if self.bye is not None:
                    self.close()  # said BYE, then silence: the session is over, say why
                    raise self._closed_error(ConnectionClosed(str(exc))) from exc
                if self._parser.in_response:
                    # Part of a response (maybe of a literal) is lost with the timeout: the
                    # next command would read the rest as its own answer. Start over instead.
                    self.close()
                raise
            if wire.isEnabledFor(logging.DEBUG):
                wire.debug("S: %r", data[:2000])
            self._parser.feed(data)

    def _closed_error(self, exc: ConnectionClosed) -> ConnectionClosed:
        if self.bye is not None:
            if "AccessTokenExpired" in self.bye or "token expired" in self.bye.lower():
                return SessionExpired(
                    f"{self.host} ended the session because the access token expired",
                    bye=self.bye,
                )
            return ConnectionClosed(f"{self.host} closed the connection: {self.bye}", bye=self.bye)
        if self._parser.in_response:
            return ConnectionClosed(
                f"{self.host} closed the connection in the middle of a response"
            )
        return exc

    # ------------------------------------------------------------ waiting for news, searching

    def idle(
        self,
        timeout: float,
        *,
        stop: Callable[[], bool] | None = None,
        poll: float = 0.25,
    ) -> list[Untagged]:
        """IDLE (RFC 2177) for at most ``timeout`` seconds; the untagged responses seen.

        Returns as soon as the server reports a change (EXISTS, EXPUNGE, RECENT), when
        ``timeout`` has passed, or when ``stop()`` turns true: it is asked every ``poll``
        seconds, so a program with one connection can leave IDLE quickly to run a command
        (ending IDLE from another thread would mean two threads on one TLS stream). DONE is
        sent before returning, so the connection is ready for the next command.
        ``self.exists`` is kept current as usual.
        """
        self._require_selected()
        if "IDLE" not in self.capabilities:
            raise CapabilityMissing(f"{self.host} does not offer IDLE", capability="IDLE")
        self._finish_open_stream()
        command = Command(self._tags(), "IDLE", ())
        self._send(command, on_continuation=None)
        seen: list[Untagged] = []
        while True:  # the server's "+ idling", or a refusal
            event = self._next_event()
            if isinstance(event, Continuation):
                break
            if isinstance(event, Tagged) and event.tag == command.tag:
                if event.status != "OK":
                    raise _command_error("IDLE", event)
                return seen
            if not self._handle_common(event) and isinstance(event, Untagged):
                seen.append(event)
        read_timeout = self._transport.read_timeout
        deadline = time.monotonic() + timeout
        changed = False
        try:
            while not changed and not (stop is not None and stop()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                # Short reads, so that ``stop`` is asked often; a quiet server is not an error.
                self._transport.set_read_timeout(max(0.01, min(poll, remaining)))
                try:
                    event = self._next_event()
                except ReadTimeout:
                    continue
                if not self._handle_common(event) and isinstance(event, Untagged):
                    seen.append(event)
                    changed = event.kind in ("EXISTS", "EXPUNGE", "RECENT")
        finally:
            if self._connected:
                self._transport.set_read_timeout(read_timeout)
        if wire.isEnabledFor(logging.DEBUG):
            wire.debug("C: DONE")
        self._transport.send(b"DONE\r\n")
        while True:
            event = self._next_event()
            if isinstance(event, Tagged) and event.tag == command.tag:
                if event.status != "OK":
                    raise _command_error("IDLE", event)
                return seen
            if not self._handle_common(event) and isinstance(event, Untagged):
                seen.append(event)

    def find(
        self,
        *,
        sender: str | None = None,
        subject: str | None = None,
        text: str | None = None,
        since: date | str | None = None,
        before: date | str | None = None,
        unseen: bool = False,
    ) -> list[int]:
        """UID SEARCH in the selected folder with the usual criteria, ANDed; the UIDs found.

        ``since``/``before`` (dates, or ``"YYYY-MM-DD"``) compare the internal date by day
        (RFC 3501 6.4.4: SINCE is on or after, BEFORE is strictly before). Non-ASCII text is
        sent as a literal with CHARSET UTF-8, which every server must accept; ASCII-only
        searches leave CHARSET out, since some old servers refuse it.
        """
        args: list[Argument] = []
        for key, value in (("FROM", sender), ("SUBJECT", subject), ("TEXT", text)):
            if value:
                args += [Atom(key), value]
        for key, day in (("SINCE", since), ("BEFORE", before)):
            if day is not None:
                args += [Atom(key), Atom(self._imap_date(_as_date(day, key.lower())))]
        if unseen:
            args.append(Atom("UNSEEN"))
        if not args:
            args.append(Atom("ALL"))
        wide = any(isinstance(a, str) and not a.isascii() for a in args)
        return self.search(args, uid=True, charset="UTF-8" if wide else None)

    @staticmethod
    def _imap_date(day: date) -> str:
        """RFC 3501 date: ``1-Mar-2024``; English month names whatever the locale."""
        months = (
            "Jan",
            "Feb",
            "Mar",
            "Apr",
            "May",
            "Jun",
            "Jul",
            "Aug",
            "Sep",
            "Oct",
            "Nov",
            "Dec",
        )
        return f"{day.day}-{months[day.month - 1]}-{day.year}"


# ---------------------------------------------------------------- helpers


def _as_date(value: date | str, name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be a date or YYYY-MM-DD, not {value!r}") from None


def _capabilities_from(values: Iterable[Any]) -> Capabilities:
    return Capabilities(
        frozenset(v.decode("ascii", "replace").upper() for v in values if isinstance(v, bytes))
    )


def _mailbox_arg(name: str) -> Argument:
    """A folder name as the wire wants it: modified UTF-7 (RFC 3501 5.1.3), INBOX as is."""
    if name.upper() == "INBOX":
        return "INBOX"
    try:
        return encode_utf7(name)
    except UnicodeError as exc:
        raise UsageError(f"the folder name {name!r} is not valid text") from exc


def _sequence_arg(messages: SequenceSet | str | Iterable[int]) -> Argument:
    if isinstance(messages, SequenceSet):
        return messages
    if isinstance(messages, str):
        if not re.fullmatch(r"[0-9*:,]+", messages):
            raise UsageError(f"not a sequence set: {messages!r}")
        return Atom(messages)
    return SequenceSet(messages)


def _requested_items(item_text: str) -> set[str]:
    names = re.findall(r"[A-Za-z0-9.]+(?:\[[^\]]*\](?:<\d+(?:\.\d+)?>)?)?", item_text)
    wanted: set[str] = set()
    for name in names:
        upper = name.upper().replace(".PEEK", "")
        if upper in ("FAST", "ALL", "FULL"):
            return set()  # macros: anything goes
        if "<" in upper:  # BODY[]<0.100> comes back as BODY[]<0>
            upper = upper.split("<")[0] + "<" + upper.split("<")[1].split(".")[0] + ">"
        wanted.add(upper)
    # Unsolicited FETCH responses carry only these: they cannot tell ours from the server's.
    wanted -= {"UID", "FLAGS", "MODSEQ"}
    return wanted


def _namespace_part(value: Any) -> tuple[tuple[str, str | None], ...]:
    if not isinstance(value, list):
        return ()
    out: list[tuple[str, str | None]] = []
    for entry in value:
        if isinstance(entry, list) and entry and isinstance(entry[0], bytes):
            delim = (
                entry[1].decode("utf-8", "replace")
                if len(entry) > 1 and isinstance(entry[1], bytes)
                else None
            )
            out.append((decode_utf7(entry[0]), delim))
    return tuple(out)


def _folder_from(values: Sequence[Any]) -> Folder | None:
    if len(values) < 3 or not isinstance(values[0], list):
        return None
    flags = tuple(f.decode("ascii", "replace") for f in values[0] if isinstance(f, bytes))
    delimiter = values[1].decode("utf-8", "replace") if isinstance(values[1], bytes) else None
    raw_name = values[2] if isinstance(values[2], bytes) else b""
    special = next((f for f in flags if f.lower() in _SPECIAL_USE), None)
    name = decode_utf7(raw_name)
    if name.upper() == "INBOX":
        name = "INBOX"  # RFC 3501: case-insensitive; Office 365 sometimes says "Inbox"
    return Folder(
        name=name, raw_name=raw_name, delimiter=delimiter, flags=flags, special_use=special
    )


def _atoms(values: Sequence[Any]) -> tuple[str, ...]:
    return tuple(v.decode("utf-8", "replace") for v in values if isinstance(v, bytes))


def _is_not_found(exc: CommandError) -> bool:
    return exc.status == "NO" and (
        exc.code in ("NONEXISTENT", "TRYCREATE") or _NOT_FOUND.search(exc.text) is not None
    )


def _int_code(code: str, data: bytes | None) -> int | None:
    """A response code's number (``[UIDVALIDITY 3857529045]``), None if it is not one."""
    if data is None:
        return None
    text = data.strip()
    return parse_number(text, f"[{code} ".encode() + text) if text.isdigit() else None


def _folder_info(name: str, result: _Result, readonly: bool) -> FolderInfo:
    exists = recent = 0
    unseen = uidvalidity = uidnext = None
    flags: tuple[str, ...] = ()
    permanent: tuple[str, ...] = ()
    for response in result.untagged:
        if response.kind == "EXISTS" and response.number is not None:
            exists = response.number
        elif response.kind == "RECENT" and response.number is not None:
            recent = response.number
        elif response.kind == "FLAGS" and response.values and isinstance(response.values[0], list):
            flags = tuple(
                v.decode("utf-8", "replace") for v in response.values[0] if isinstance(v, bytes)
            )
        elif response.kind == "OK":
            if response.code == "UNSEEN":
                unseen = _int_code(response.code, response.code_data)
            elif response.code == "UIDVALIDITY":
                uidvalidity = _int_code(response.code, response.code_data)
            elif response.code == "UIDNEXT":
                uidnext = _int_code(response.code, response.code_data)
            elif response.code == "PERMANENTFLAGS" and response.code_data is not None:
                values = parse_values([response.code_data])
                if values and isinstance(values[0], list):
                    permanent = tuple(
                        v.decode("utf-8", "replace") for v in values[0] if isinstance(v, bytes)
                    )
    code = result.tagged.code
    read_only = readonly if code not in ("READ-ONLY", "READ-WRITE") else code == "READ-ONLY"
    return FolderInfo(
        name=name,
        exists=exists,
        recent=recent,
        first_unseen=unseen,
        uidvalidity=uidvalidity,
        uidnext=uidnext,
        flags=flags,
        permanent_flags=permanent,
        read_only=read_only,
    )


def _summary(response: Fetch) -> MessageSummary:
    items = response.items
    return MessageSummary(
        seq=response.seq,
        uid=items.get("UID"),
        flags=items.get("FLAGS", ()),
        size=items.get("RFC822.SIZE"),
        internal_date=items.get("INTERNALDATE"),
        envelope=items.get("ENVELOPE"),
    )


def _command_error(name: str, tagged: Tagged) -> CommandError | NotConnectedAfterAuth:
    if _NOT_CONNECTED.search(tagged.text):
        # Office 365 accepts AUTHENTICATE, then refuses the first command this way.
        return NotConnectedAfterAuth(
            "the server accepted the sign-in but could not open the mailbox",
            command=name,
            status=tagged.status,
            code=tagged.code,
            text=tagged.text,
        )
    code = f" [{tagged.code}]" if tagged.code else ""
    return CommandError(
        f"the server refused {name}: {tagged.status}{code} {tagged.text}".rstrip(),
        command=name,
        status=tagged.status,
        code=tagged.code,
        text=tagged.text,
    )
