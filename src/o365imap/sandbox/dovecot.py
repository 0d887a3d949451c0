"""A private Dovecot IMAP server on loopback that accepts Office 365-shaped OAuth tokens.

:class:`DovecotServer` writes a complete configuration into a directory of its own, starts
``dovecot -F`` in a new session, and waits for the greeting. Dovecot validates the JWTs itself
against the :class:`~o365imap.sandbox.tokens.TokenSigner`'s public key (signature, issuer,
expiry, scope, user, and the audience where that Dovecot can check it), so XOAUTH2 and
OAUTHBEARER behave as against a real server, failures included.

Whatever Dovecot is found (2.3 with or without the ``audience`` setting, or 2.4; the system's, or
one in another system's root) is probed first (:mod:`.dovecot_probe`) and the configuration
written in its language (:mod:`.dovecot_config`); :mod:`.dovecot_process` runs it and turns a
failed start into one sentence. Run as root, mail belongs to uid 5000 (see
:func:`~o365imap.sandbox.dovecot_process.process_identity`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import imaplib
import os
import secrets
import shutil
import smtplib
import ssl
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from o365imap._files import write_text_atomically
from o365imap.protocol.sasl import xoauth2_text

from .dovecot_config import (
    SMTP_AUTH_DISABLED_ENV,
    SMTP_AUTH_DISABLED_REASON,
    SPECIAL_USE,
    Features,
    Layout,
    OAuthPolicy,
    Submission,
    check_value,
    passwd_line,
    render,
)
from .dovecot_probe import probe
from .dovecot_process import (
    HOST,
    DovecotError,
    DovecotInstall,
    DovecotNotInstalled,
    DovecotProcess,
    DovecotStartError,
    PortsInUse,
    free_ports,
    ports_in_use,
    process_identity,
)
from .mailrelay import MailRelay
from .tls import make_certificates
from .tokens import DEFAULT_SCOPES, TokenSigner, full_scope

__all__ = [
    "DovecotError",
    "DovecotInstall",
    "DovecotNotInstalled",
    "DovecotServer",
    "DovecotStartError",
    "MailUser",
    "PortsInUse",
]

_START_ATTEMPTS = 5
SMTP_SEND_SCOPE = "SMTP.Send"
# What an IMAP APPEND of a Sent copy may take: it runs while a client waits for its 250.
_APPEND_TIMEOUT = 30
# Unix socket paths are limited to 108 bytes; Dovecot's longest name below base_dir is ~40.
# Counted as Dovecot sees the path: chrooted, only the part below the root binds.
_MAX_BASE_DIR = 60


@dataclass(frozen=True, slots=True)
class MailUser:
    """One line of the passwd-file: who may log in, and where their mail lives."""

    email: str
    password: str | None
    home: Path

    @property
    def maildir(self) -> Path:
        return self.home / "Maildir"


def _escape_key_component(name: str) -> str:
    # Dovecot's key dictionary escapes these two in azp and kid (recipe: "%2f" / "%25").
    return name.replace("%", "%25").replace("/", "%2f")


def _choose(asked: tuple[int | None, ...], preferred: tuple[int | None, ...]) -> list[int]:
    """Each port: the one asked for, else the preferred one if free, else any free one."""
    spare = iter(p for p in free_ports(2 * len(asked)) if p not in (*asked, *preferred))
    return [
        want or (keep if keep is not None and not ports_in_use([keep]) else next(spare))
        for want, keep in zip(asked, preferred, strict=True)
    ]


class DovecotServer:
    """A private Dovecot on 127.0.0.1 with IMAP (plain + STARTTLS) and IMAPS listeners.

    With ``submission=True`` it also plays smtp.office365.com: Dovecot's submission service
    (STARTTLS on :attr:`submission_port`, implicit TLS on :attr:`submissions_port`) takes
    tokens with the SMTP.Send scope, and hands every message to :attr:`relay`
    (:class:`~o365imap.sandbox.mailrelay.MailRelay`), which delivers with :meth:`deliver`.
    :meth:`set_smtp_auth` is the per-mailbox SMTP AUTH switch.

    Everything lives in ``root``: config, TLS files, signing keys, log, and each user's
    ``mail/<user>/Maildir``. Use as a context manager, or call :meth:`start` and :meth:`stop`.
    Tokens from ``signer`` (by default a key saved as ``root/signing-key.pem``, so a restart in
    the same folder keeps accepting old tokens) authenticate via XOAUTH2 and OAUTHBEARER;
    users added with a password can also use LOGIN and AUTHENTICATE PLAIN. The CA
    (``root/tls/ca.pem``) is kept across restarts too, so whatever was told to trust it still
    does.
    """

    host = HOST

    def __init__(
        self,
        root: Path,
        *,
        signer: TokenSigner | None = None,
        issuer: str | None = None,
        install: DovecotInstall | None = None,
        binary: Path | None = None,
        username_attribute: str = "upn",
        required_scope: str | None = None,
        timezone: str | None = None,
        settings: Mapping[str, str] | None = None,
        submission: bool = False,
        smtp_scope: str | None = None,
        max_mail_size: str = "35M",
    ) -> None:
        """``install`` is the Dovecot to run (default :meth:`DovecotInstall.find`; ``binary``
        names one directly). ``issuer`` overrides the one Dovecot accepts (default: the
        signer's). ``username_attribute`` is the claim that must equal the SASL user;
        ``required_scope`` the scope every token must carry (default the full-URL
        ``IMAP.AccessAsUser.All``). ``timezone`` is a POSIX TZ value for Dovecot (INTERNALDATE
        offsets); default inherited. ``settings``: Dovecot settings added as they are (tests
        take capabilities away with ``imap_capability``). ``submission`` adds the SMTP side
        (submission, LMTP and the relay: see the class); ``smtp_scope`` is the scope it wants
        (default the full-URL ``SMTP.Send``; Dovecot 2.4 wants IMAP's instead, see
        :mod:`.dovecot_config`); ``max_mail_size`` its size limit (Dovecot's syntax: 35M).
        """
        if install is None:
            install = DovecotInstall(binary) if binary is not None else DovecotInstall.find()
        install.require()
        self.install = install
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        install.inside(self.root)  # fails now, not at start, when outside Dovecot's root
        self.signer = (
            signer
            if signer is not None
            else TokenSigner.load_or_create(self.root / "signing-key.pem", issuer=issuer)
        )
        self.issuer = issuer if issuer is not None else self.signer.issuer
        self.username_attribute = username_attribute
        self.required_scope = required_scope or full_scope(DEFAULT_SCOPES[0], self.signer.audience)
        self.timezone = timezone
        self.settings = dict(settings or {})
        self.submission = submission
        self.smtp_scope = smtp_scope or full_scope(SMTP_SEND_SCOPE, self.signer.audience)
        self.max_mail_size = check_value(max_mail_size)
        self._relay: MailRelay | None = None
        self._smtp_ports: tuple[int, int, int] | None = None  # submission, submissions, relay
        self.identity = process_identity(install)
        self.users: dict[str, MailUser] = {}
        self._process: DovecotProcess | None = None
        self._ports: tuple[int, int] | None = None
        self._short_base_dir: Path | None = None
        self._alias_link: Path | None = None
        self.ca_file, self._cert_file, self._key_file = make_certificates(
            self.root / "tls", reuse=True
        )
        self.trust_key(self.signer)
        (self.root / "mail").mkdir(exist_ok=True)
        self.users_dir.mkdir(exist_ok=True)
        self._load_users()

    # -- paths and properties ----------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def log_path(self) -> Path:
        return self.root / "dovecot.log"

    @property
    def stderr_path(self) -> Path:
        return self.root / "dovecot.stderr"

    @property
    def users_dir(self) -> Path:
        """One passwd-file per user (see ``_write_user`` for why)."""
        return self.root / "users.d"

    @property
    def features(self) -> Features:
        """What this Dovecot accepts (probed once per process): language, audience check."""
        return probe(self.install)

    @property
    def imap_port(self) -> int:
        """Plain IMAP: STARTTLS, or LOGIN in the clear (the sandbox allows it)."""
        return self._require_ports()[0]

    @property
    def imaps_port(self) -> int:
        """Implicit TLS, as outlook.office365.com:993."""
        return self._require_ports()[1]

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    @property
    def as_root(self) -> bool:
        return self.identity.as_root

    @property
    def mail_owner(self) -> tuple[int, int] | None:
        """(uid, gid) that seeded files must be chowned to, or None when no chown is needed."""
        if self.as_root:
            return self.identity.mail_uid, self.identity.mail_gid
        return None

    @property
    def submission_port(self) -> int:
        """SMTP with STARTTLS, as smtp.office365.com:587."""
        return self._require_smtp()[0]

    @property
    def submissions_port(self) -> int:
        """SMTP over implicit TLS (port 465's way; Office 365 has no such port)."""
        return self._require_smtp()[1]

    @property
    def relay(self) -> MailRelay:
        """The relay behind submission: its switches (throttle, SendAs) and its outbox."""
        self._require_smtp()
        assert self._relay is not None  # started with the ports
        return self._relay

    @property
    def lmtp_socket(self) -> Path:
        """Dovecot's LMTP socket, as seen here."""
        return self.base_dir / "lmtp"

    @property
    def outbox_dir(self) -> Path:
        """Where the relay keeps mail for outside addresses (one .eml per message)."""
        return self.root / "outbox"

    @property
    def smtp_disabled_dir(self) -> Path:
        """One passwd-file per user whose SMTP AUTH is off (see :meth:`set_smtp_auth`)."""
        return self.root / "smtp-disabled"

    def _require_smtp(self) -> tuple[int, int, int]:
        if not self.submission:
            raise DovecotError("this Dovecot server was made without submission=True")
        if self._smtp_ports is None:
            raise DovecotError("the Dovecot server has not been started")
        return self._smtp_ports

    def _require_ports(self) -> tuple[int, int]:
        if self._ports is None:
            raise DovecotError("the Dovecot server has not been started")
        return self._ports

    @property
    def base_dir(self) -> Path:
        if self._short_base_dir is not None:
            return self._short_base_dir
        return self.root / "run"

    def _seen(self, path: Path) -> str:
        """``path`` as Dovecot sees it: through :meth:`_alias` when the folder's own path
        cannot stand in Dovecot's configuration (a space, as in macOS's "Application
        Support"; passdb arguments and dict URIs are split on spaces, with no quoting)."""
        seen = str(self.install.inside(path))
        try:
            check_value(seen)
        except ValueError:
            seen = str(self.install.inside(self._alias() / path.relative_to(self.root)))
        return seen

    def _on_host(self, seen: str) -> Path:
        """A path as Dovecot sees it -> here, never through the alias (chrooted, its target
        is a path inside Dovecot's root, which means nothing here)."""
        if self._alias_link is not None:
            alias = str(self.install.inside(self._alias_link))
            if seen == alias or seen.startswith(alias + "/"):
                return self.root / seen[len(alias) :].lstrip("/")
        return self.install.on_host(Path(seen))

    def _alias(self) -> Path:
        """A symbolic link to ``root`` whose path Dovecot's configuration can hold.

        Named after the folder (the same on every start) in the system's temporary folder,
        and removed by :meth:`stop`. Another user could make that name first, so a link found
        there is used only if it is ours and points here.
        """
        if self._alias_link is not None:
            return self._alias_link  # checked when made: every path of a start asks again
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        parent = self.install.temp_parent() or Path(tempfile.gettempdir())
        link = parent / f"o365imap-{os.getuid()}-{digest}"
        with contextlib.suppress(FileExistsError):
            # the folder as Dovecot sees it: inside its root, when it runs chrooted
            link.symlink_to(self.install.inside(self.root), target_is_directory=True)
        info = link.lstat()
        if not (
            stat.S_ISLNK(info.st_mode)
            and info.st_uid == os.getuid()
            and Path(os.readlink(link)) == self.install.inside(self.root)
        ):
            raise DovecotError(
                f"{link} is not the link to {self.root} this sandbox made (someone else's?): "
                "remove it, or use a --dir without spaces"
            )
        self._alias_link = link  # ours: stop() removes it
        try:
            check_value(str(self.install.inside(link)))
        except ValueError:
            raise DovecotError(
                f"no path Dovecot can read leads to {self.root}: use a --dir without spaces "
                'or any of " # \\ { } < $ %'
            ) from None
        return link

    # -- users and keys --------------------------------------------------------------------------

    def add_user(self, email: str, password: str | None = None) -> Path:
        """Let ``email`` log in (by token; by password too if one is given): its Maildir root.

        Users may be added while the server runs. (A changed password may take a second to
        apply: Dovecot checks a passwd-file it has already read at most once a second.)
        """
        key = email.lower()
        if any(c in key for c in ":/\n\r\0") or not key.strip():
            raise ValueError(f"unusable user name for the passwd-file: {email!r}")
        home = self.root / "mail" / key
        user = MailUser(key, password, home)
        self.users[key] = user
        for sub in ("", "cur", "new", "tmp"):
            path = user.maildir / sub
            path.mkdir(parents=True, exist_ok=True)
        self.chown(home)
        self.chown(user.maildir)
        for sub in ("cur", "new", "tmp"):
            self.chown(user.maildir / sub)
        self._write_user(user)
        return user.maildir

    def set_smtp_auth(self, user: str, enabled: bool) -> None:
        """Turn SMTP AUTH on or off for one mailbox, as ``Set-CASMailbox
        -SmtpClientAuthenticationDisabled`` does; takes effect on the next AUTH, no restart.

        Off, the user's AUTH on submission is refused (whatever the token) with
        ``525 5.7.13`` and Office 365's text (:data:`~.dovecot_config.SMTP_AUTH_DISABLED_REASON`).
        """
        key = user.lower()
        if any(c in key for c in ":/\n\r\0") or not key.strip():
            raise ValueError(f"unusable user name for the passwd-file: {user!r}")
        path = self.smtp_disabled_dir / key
        if not enabled:
            # matches whatever the token or password; the passdb's nologin does the refusing
            write_text_atomically(path, f"{key}:::::::nopassword\n")
            return
        if not path.exists():
            return
        path.unlink()
        # Dovecot looks at a passwd-file again at most once a second: until it has, the
        # mailbox is still refused. Waited for here, so that "on" means on when this returns.
        deadline = time.monotonic() + 5
        while not self._smtp_auth_works(user) and time.monotonic() < deadline:
            time.sleep(0.1)

    def _smtp_auth_works(self, user: str) -> bool:
        token = self.mint_token(user, scopes=("IMAP.AccessAsUser.All", "SMTP.Send"))
        context = ssl.create_default_context(cafile=str(self.ca_file))
        sasl = xoauth2_text(user, token)
        try:
            with smtplib.SMTP(self.host, self.submission_port, timeout=5) as conn:
                conn.starttls(context=context)
                conn.auth("XOAUTH2", lambda _=None: sasl, initial_response_ok=False)
        except smtplib.SMTPAuthenticationError:
            return False
        return True

    def smtp_auth_enabled(self, user: str) -> bool:
        return not (self.smtp_disabled_dir / user.lower()).exists()

    def append(self, user: str, folder: str, message: bytes, flags: str = "\\Seen") -> None:
        """Store ``message`` in ``user``'s ``folder`` over IMAP (made if missing).

        Through IMAP, not into the Maildir: Dovecot gives it a UID at once and a client
        watching the folder (IDLE) sees it, as with a copy Exchange makes.
        """
        context = ssl.create_default_context(cafile=str(self.ca_file))
        token = self.mint_token(user)
        auth = xoauth2_text(user, token).encode()
        with imaplib.IMAP4_SSL(
            self.host, self.imaps_port, ssl_context=context, timeout=_APPEND_TIMEOUT
        ) as imap:
            imap.authenticate("XOAUTH2", lambda _challenge: auth)
            # Seeded mail written straight into the Maildir has no UIDs until Dovecot first
            # looks: STATUS gives it theirs, so that the new message comes after them.
            imap.status(_quoted(folder), "(UIDNEXT)")
            status, data = imap.append(folder, f"({flags})", None, message)
            if status != "OK" and b"TRYCREATE" in b"".join(d for d in data if isinstance(d, bytes)):
                imap.create(folder)
                status, data = imap.append(folder, f"({flags})", None, message)
            if status != "OK":
                raise DovecotError(f"APPEND to {user}'s {folder} failed: {data!r}")

    def deliver(self, sender: str, user: str, message: bytes) -> None:
        """Put ``message`` in ``user``'s INBOX, as an MTA does: through Dovecot's LMTP.

        Run as root, Dovecot reaches mail by chrooting to the mail folder, which its LMTP does
        not do: where the mail user cannot walk down to the mail folder (a private temporary
        folder above it, as pytest's), the message is appended over IMAP instead (no \\Seen).
        """
        if not self._lmtp_reaches_mail():
            self.append(user, "INBOX", message, flags="")
            return
        # smtplib reads one reply to DATA; LMTP sends one per recipient: one each, then.
        with smtplib.LMTP(str(self.lmtp_socket), timeout=_APPEND_TIMEOUT) as lmtp:
            lmtp.sendmail(sender, [user], message)

    def _lmtp_reaches_mail(self) -> bool:
        owner = self.mail_owner
        if owner is None:
            return True  # Dovecot runs as us
        path = self.root / "mail"
        top = self.install.root or Path("/")
        while path not in (top, path.parent):
            info = path.stat()
            if not (info.st_mode & 0o001 or info.st_uid == owner[0]):
                return False
            path = path.parent
        return True

    def maildir(self, user: str) -> Path:
        """The Maildir root of a user added with :meth:`add_user`."""
        try:
            return self.users[user.lower()].maildir
        except KeyError:
            raise KeyError(f"no such sandbox user: {user}") from None

    def chown(self, path: Path) -> None:
        """Give ``path`` to the mail user (only needed, and only done, when running as root)."""
        owner = self.mail_owner
        if owner is not None:
            os.chown(path, *owner)

    def chown_tree(self, top: Path) -> None:
        """:meth:`chown` ``top`` and everything below it (for mail written by other means)."""
        owner = self.mail_owner
        if owner is None:
            return
        os.chown(top, *owner)
        for dirpath, dirnames, filenames in os.walk(top):
            for name in (*dirnames, *filenames):
                os.chown(os.path.join(dirpath, name), *owner, follow_symlinks=False)

    def trust_key(self, signer: TokenSigner) -> None:
        """Accept tokens signed by ``signer``'s key too (key rotation, a second emulator)."""
        path = self.root / "keys" / "default" / "RS256" / _escape_key_component(signer.kid)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(signer.public_key_pem())

    def mint_token(
        self,
        user: str,
        *,
        lifetime: float = 3600,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        extra_claims: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> str:
        """A token for ``user`` from this server's signer (see ``TokenSigner.mint``)."""
        return self.signer.mint(
            user, lifetime=lifetime, scopes=scopes, extra_claims=extra_claims, now=now
        )

    def _load_users(self) -> None:
        # A sandbox restarted in the same folder keeps its users (and, via the saved key, its
        # tokens); a password-less user comes back with the random password it was given.
        for path in sorted(self.users_dir.iterdir()):
            if path.name.startswith("."):
                continue
            email, secret = path.read_text("utf-8").split(":", 2)[:2]
            password = base64.b64decode(secret.removeprefix("{PLAIN.B64}")).decode()
            self.users[email] = MailUser(email, password, self.root / "mail" / email)

    def _write_user(self, user: MailUser) -> None:
        # No password: a random one nobody knows keeps LOGIN/PLAIN closed to this user.
        password = user.password if user.password is not None else secrets.token_urlsafe(24)
        secret = base64.b64encode(password.encode()).decode()
        line = passwd_line(user.email, secret, self.identity, self._seen(self.root / "mail"))
        # One file per user: Dovecot rereads a passwd-file at most once a second, but opens a
        # user's own file on first sight, so a user added mid-test can log in at once.
        write_text_atomically(self.users_dir / user.email, line)

    # -- configuration ---------------------------------------------------------------------------

    def _layout(
        self, imap_port: int, imaps_port: int, smtp: tuple[int, int, int] | None = None
    ) -> Layout:
        submission = None
        if smtp is not None:
            submission = Submission(
                port=smtp[0],
                tls_port=smtp[1],
                relay_port=smtp[2],
                scope=self.smtp_scope,
                disabled_dir=self._seen(self.smtp_disabled_dir),
                oauth2_file=self._seen(self.root / "oauth2-smtp.conf.ext"),
                max_mail_size=self.max_mail_size,
            )
        return Layout(
            instance_name=f"o365imap-sandbox-{imap_port}",
            base_dir=self._seen(self.base_dir),
            state_dir=self._seen(self.root / "state"),
            log_path=self._seen(self.log_path),
            keys_dir=self._seen(self.root / "keys"),
            users_dir=self._seen(self.users_dir),
            mail_root=self._seen(self.root / "mail"),
            oauth2_file=self._seen(self.root / "oauth2-jwt.conf.ext"),
            imap_port=imap_port,
            imaps_port=imaps_port,
            tls=(self._seen(self._cert_file), self._seen(self._key_file)),
            submission=submission,
        )

    def _write_config(
        self, imap_port: int, imaps_port: int, smtp: tuple[int, int, int] | None = None
    ) -> None:
        policy = OAuthPolicy(
            issuer=self.issuer,
            scope=self.required_scope,
            audience=self.signer.audience,
            username_attribute=self.username_attribute,
        )
        try:
            config = render(
                self.features,
                self._layout(imap_port, imaps_port, smtp),
                policy,
                self.identity,
                SPECIAL_USE,
            )
        except ValueError as exc:  # an issuer or scope Dovecot's syntax cannot hold
            raise DovecotError(str(exc)) from None
        for path, text in config.files.items():
            self._on_host(path).write_text(text, encoding="utf-8")
        extra = "".join(f"{name} = {value}\n" for name, value in self.settings.items())
        self.config_path.write_text(config.main + extra, encoding="utf-8")

    # -- process ---------------------------------------------------------------------------------

    def start(
        self,
        ports: tuple[int | None, int | None] = (None, None),
        *,
        preferred: tuple[int | None, int | None] = (None, None),
        smtp_ports: tuple[int | None, int | None] = (None, None),
        smtp_preferred: tuple[int | None, int | None] = (None, None),
    ) -> DovecotServer:
        """Start Dovecot and wait for its greeting.

        ``ports`` (IMAP, IMAPS) asked for must be free, else :class:`PortsInUse`; where none is
        asked, the ``preferred`` one (the last run's) if free, else any free port. Ports taken
        between the check and Dovecot's bind are picked again, where none was asked for.
        ``smtp_ports`` and ``smtp_preferred`` (submission, submissions) likewise, with
        ``submission=True``.
        """
        if self.running:
            return self
        self.features  # noqa: B018 - probe first: its errors say more than a failed start
        asked: tuple[int | None, ...] = ports
        keep: tuple[int | None, ...] = preferred
        if self.submission:  # and the relay's, which nobody outside needs to know
            asked, keep = (*ports, *smtp_ports, None), (*preferred, *smtp_preferred, None)
        taken = ports_in_use(p for p in asked if p is not None)
        if taken:
            raise PortsInUse(
                f"port {', '.join(map(str, taken))} on {HOST} is in use: choose another "
                "or stop the program that holds it"
            )
        # Judged by the path Dovecot is given and by the real one: it resolves links (see
        # _alias) before it connects to some of its sockets.
        run = self.root / "run"
        if max(len(self._seen(run)), len(str(run))) > _MAX_BASE_DIR and not self._short_base_dir:
            self._short_base_dir = Path(
                tempfile.mkdtemp(prefix="o365imap-dovecot-", dir=self.install.temp_parent())
            )
        try:
            return self._start(asked, keep)
        except BaseException:
            self.stop()  # the short base folder too
            raise

    def _start(
        self, asked: tuple[int | None, ...], preferred: tuple[int | None, ...]
    ) -> DovecotServer:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        for user in self.users.values():
            self._write_user(user)  # their homes as Dovecot sees them now (see _alias)
        env = dict(os.environ)
        if self.timezone is not None:
            env["TZ"] = self.timezone
        env[SMTP_AUTH_DISABLED_ENV] = SMTP_AUTH_DISABLED_REASON  # 2.3's reason (see there)
        if self.submission:
            self.smtp_disabled_dir.mkdir(exist_ok=True)
        for attempt in range(_START_ATTEMPTS):
            chosen = _choose(asked, preferred if attempt == 0 else (None,) * len(asked))
            imap_port, imaps_port = chosen[:2]
            smtp = (chosen[2], chosen[3], chosen[4]) if self.submission else None
            if smtp is not None:
                try:
                    self._start_relay(smtp[2])
                except OSError:
                    if attempt + 1 == _START_ATTEMPTS:
                        raise
                    continue  # its port was taken since it was chosen: pick again
            self._write_config(imap_port, imaps_port, smtp)
            if self.features.dialect == "2.3":
                with contextlib.suppress(FileNotFoundError):
                    # 2.3 only (its penalty socket is renamed): a stale one from an earlier
                    # run would turn the penalty back on
                    (self.base_dir / "anvil-auth-penalty").unlink()
            process = DovecotProcess(
                self.install,
                self.config_path,
                logs=[self.log_path],
                stderr=self.stderr_path,
                env=env,
            )
            try:
                process.start(chosen[:4] if smtp is not None else chosen[:2])
            except DovecotStartError as exc:
                self._stop_relay()
                in_use = "Address already in use" in exc.log_excerpt
                if not in_use or attempt + 1 == _START_ATTEMPTS or None not in asked:
                    raise
                continue  # someone took a port between the check and the bind: pick again
            self._process = process
            self._ports = (imap_port, imaps_port)
            self._smtp_ports = smtp
            return self
        raise AssertionError("unreachable: the last attempt raises")

    def _start_relay(self, port: int) -> None:
        self._stop_relay()
        self._relay = MailRelay(
            port=port,
            mailboxes=lambda: tuple(self.users),
            deliver=self.deliver,
            save_sent=lambda user, message: self.append(user, "Sent", message),
            outbox=self.outbox_dir,
            host=self.host,
        ).start()

    def _stop_relay(self) -> None:
        relay, self._relay = self._relay, None
        if relay is not None:
            relay.stop()

    def stop(self) -> None:
        """Stop Dovecot and every process it started (they share its process group)."""
        process = self._process
        self._process = None
        if process is not None:
            process.stop()
        self._stop_relay()
        self._ports = None
        self._smtp_ports = None
        if self._short_base_dir is not None:
            shutil.rmtree(self._short_base_dir, ignore_errors=True)
            self._short_base_dir = None
        if self._alias_link is not None:
            with contextlib.suppress(OSError):
                self._alias_link.unlink()
            self._alias_link = None

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- logs ------------------------------------------------------------------------------------

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of Dovecot's log and of its stderr (start-up errors land there)."""
        out = []
        for path in (self.log_path, self.stderr_path):
            if path.exists():
                tail = path.read_text("utf-8", "replace").splitlines()[-lines:]
                if tail:
                    out.append(f"--- {path} (last {len(tail)} lines)\n" + "\n".join(tail))
        return "\n".join(out) or "(Dovecot wrote no log)"

    def iter_log(self) -> Iterator[str]:
        """Every line of Dovecot's log so far (auth failures say why only here)."""
        if self.log_path.exists():
            yield from self.log_path.read_text("utf-8", "replace").splitlines()


def _quoted(folder: str) -> str:
    """A folder name as an IMAP quoted string (imaplib quotes APPEND's, not STATUS's)."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
