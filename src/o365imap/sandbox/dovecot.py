"""A private Dovecot IMAP server on loopback that accepts Office 365-shaped OAuth tokens.

:class:`DovecotServer` writes a complete configuration into a directory of its own, starts
``dovecot -F`` in a new session, and waits for the greeting. Dovecot validates the JWTs itself
against the :class:`~o365imap.sandbox.tokens.TokenSigner`'s public key (signature, issuer,
audience, expiry, scope, user), so XOAUTH2 and OAUTHBEARER behave as against a real server,
failures included. Comments in the generated config say why a setting differs from Dovecot's
defaults: mostly to make failures fast (no per-IP penalty, no 500 ms failure timer).

Run as an ordinary user, every Dovecot process runs as that user. Run as root (CI containers),
two Dovecot rules apply: login processes refuse root (they run as ``dovenull``, chrooted as
Dovecot intends) and mail processes refuse uid 0, so mail belongs to uid/gid 5000 and each user
is chrooted into ``root/mail``. The chroot happens while still root, so the private temp folder
(mode 0700) that holds it all need not be opened up to uid 5000.
"""

from __future__ import annotations

import base64
import contextlib
import grp
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from .seed import SPECIAL_USE
from .tls import make_certificates
from .tokens import DEFAULT_SCOPES, TokenSigner, full_scope

__all__ = [
    "DOVECOT_BINARY",
    "DovecotError",
    "DovecotNotInstalled",
    "DovecotServer",
    "DovecotStartError",
    "MailUser",
]

DOVECOT_BINARY = Path("/usr/sbin/dovecot")
HOST = "127.0.0.1"
# Dovecot refuses uid 0 for mail; 5000 is the uid its own documentation uses for virtual users.
ROOT_MAIL_UID = 5000
START_TIMEOUT = 10.0
_START_ATTEMPTS = 5
_STOP_GRACE = 0.5
# Unix socket paths are limited to 108 bytes; Dovecot's longest name below base_dir is ~40.
_MAX_BASE_DIR = 60


class DovecotError(RuntimeError):
    """The sandbox's Dovecot could not be set up or run."""


class DovecotNotInstalled(DovecotError):
    """Debian's Dovecot is not installed."""

    def __init__(self, binary: Path) -> None:
        super().__init__(
            f"Dovecot is not installed ({binary} is missing): "
            "run `apt-get install dovecot-imapd` (as root)"
        )


class DovecotStartError(DovecotError):
    """Dovecot did not come up; the message ends with the tail of its log."""


@dataclass(frozen=True, slots=True)
class MailUser:
    """One line of the passwd-file: who may log in, and where their mail lives."""

    email: str
    password: str | None
    home: Path

    @property
    def maildir(self) -> Path:
        return self.home / "Maildir"


def _conf_value(path: Path) -> str:
    # Dovecot's config syntax has no escaping we could rely on for odd paths: refuse them.
    text = str(path)
    if any(c.isspace() or c in '"#\\{}<' for c in text):
        raise DovecotError(f"unsupported character in path for Dovecot's config: {text!r}")
    return text


def _escape_key_component(name: str) -> str:
    # Dovecot's key dictionary escapes these two in azp and kid (recipe: "%2f" / "%25").
    return name.replace("%", "%25").replace("/", "%2f")


def _free_ports(count: int) -> list[int]:
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        raise DovecotError(f"uid {uid} has no passwd entry; Dovecot needs a user name") from None


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        raise DovecotError(f"gid {gid} has no group entry; Dovecot needs a group name") from None


def _login_user_for_root() -> str:
    # Login processes must not run as root; Debian's package creates dovenull for them.
    for name in ("dovenull", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise DovecotError("running as root needs an unprivileged user 'dovenull' or 'nobody'")


def _write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, mode)


# The old private name, still imported by tests.
_make_tls = make_certificates


class DovecotServer:
    """A private Dovecot on 127.0.0.1 with IMAP (plain + STARTTLS) and IMAPS listeners.

    Everything lives in ``root``: config, TLS files, signing keys, log, and each user's
    ``mail/<user>/Maildir``. Use as a context manager, or call :meth:`start` and :meth:`stop`.
    Tokens from ``signer`` (by default a key saved as ``root/signing-key.pem``, so a restart in
    the same folder keeps accepting old tokens) authenticate via XOAUTH2 and OAUTHBEARER;
    users added with a password can also use LOGIN and AUTHENTICATE PLAIN.
    """

    host = HOST

    def __init__(
        self,
        root: Path,
        *,
        signer: TokenSigner | None = None,
        issuer: str | None = None,
        binary: Path = DOVECOT_BINARY,
        username_attribute: str = "upn",
        required_scope: str | None = None,
        timezone: str | None = None,
    ) -> None:
        """``issuer`` overrides the one Dovecot accepts (default: the signer's).

        ``username_attribute`` is the claim that must equal the SASL user; ``required_scope``
        the scope every token must carry (default the full-URL ``IMAP.AccessAsUser.All``).
        ``timezone`` is a POSIX TZ value for Dovecot (INTERNALDATE offsets); default inherited.
        """
        if not binary.exists():
            raise DovecotNotInstalled(binary)
        self.root = Path(root).resolve()
        self.binary = binary
        self.signer = (
            signer
            if signer is not None
            else TokenSigner.load_or_create(self.root / "signing-key.pem", issuer=issuer)
        )
        self.issuer = issuer if issuer is not None else self.signer.issuer
        self.username_attribute = username_attribute
        self.required_scope = required_scope or full_scope(DEFAULT_SCOPES[0], self.signer.audience)
        self.timezone = timezone
        self.as_root = os.geteuid() == 0
        if self.as_root:
            self.mail_uid, self.mail_gid = ROOT_MAIL_UID, ROOT_MAIL_UID
        else:
            self.mail_uid, self.mail_gid = os.getuid(), os.getgid()
        self.users: dict[str, MailUser] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._ports: tuple[int, int] | None = None
        self._short_base_dir: Path | None = None
        self.root.mkdir(parents=True, exist_ok=True)
        _conf_value(self.root)
        self.ca_file, self._cert_file, self._key_file = _make_tls(self.root / "tls")
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
    def imap_port(self) -> int:
        """Plain IMAP: STARTTLS, or LOGIN in the clear (the sandbox allows it)."""
        return self._require_ports()[0]

    @property
    def imaps_port(self) -> int:
        """Implicit TLS, as outlook.office365.com:993."""
        return self._require_ports()[1]

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def mail_owner(self) -> tuple[int, int] | None:
        """(uid, gid) that seeded files must be chowned to, or None when no chown is needed."""
        if self.as_root:
            return self.mail_uid, self.mail_gid
        return None

    def _require_ports(self) -> tuple[int, int]:
        if self._ports is None:
            raise DovecotError("the Dovecot server has not been started")
        return self._ports

    @property
    def base_dir(self) -> Path:
        if self._short_base_dir is not None:
            return self._short_base_dir
        return self.root / "run"

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

    def _home_for_passwd(self, user: MailUser) -> str:
        if self.as_root:
            # "/chroot/./home": Dovecot chroots to mail/ (as root) and uses /<user> inside.
            return f"{_conf_value(self.root / 'mail')}/./{user.email}"
        return _conf_value(user.home)

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
        # PLAIN.B64 lets a password contain ':' (the field separator).
        line = (
            f"{user.email}:{{PLAIN.B64}}{secret}:{self.mail_uid}:{self.mail_gid}::"
            f"{self._home_for_passwd(user)}::\n"
        )
        # One file per user: Dovecot rereads a passwd-file at most once a second, but opens a
        # user's own file on first sight, so a user added mid-test can log in at once.
        self.users_dir.mkdir(exist_ok=True)
        path = self.users_dir / user.email
        tmp = path.with_name(f".{user.email}.tmp")
        tmp.write_text(line, encoding="utf-8")
        os.replace(tmp, path)

    # -- configuration ---------------------------------------------------------------------------

    def _oauth2_conf(self) -> str:
        return (
            "introspection_mode = local\n"
            f"local_validation_key_dict = fs:posix:prefix={_conf_value(self.root / 'keys')}/\n"
            f"username_attribute = {self.username_attribute}\n"
            f"issuers = {self.issuer}\n"
            f"audience = {self.signer.audience}\n"
            f"scope = {self.required_scope}\n"
        )

    def _config(self, imap_port: int, imaps_port: int) -> str:
        r = _conf_value(self.root)
        if self.as_root:
            identity = (
                f"default_login_user = {_login_user_for_root()}\n"
                "default_internal_user = root\n"
                "default_internal_group = root\n"
                f"valid_chroot_dirs = {r}/mail\n"
            )
            login_chroot = ""  # keep Dovecot's chroot: the login user could not reach base_dir
        else:
            identity = (
                f"default_login_user = {_user_name(os.getuid())}\n"
                f"default_internal_user = {_user_name(os.getuid())}\n"
                f"default_internal_group = {_group_name(os.getgid())}\n"
            )
            login_chroot = "  chroot =\n"  # chroot needs root
        special = "".join(
            f"  mailbox {name} {{\n    special_use = {flag}\n    auto = subscribe\n  }}\n"
            for name, flag in SPECIAL_USE.items()
        )
        return f"""# Written by o365imap.sandbox.dovecot; rewritten on every start.
instance_name = o365imap-sandbox-{imap_port}
base_dir = {_conf_value(self.base_dir)}
state_dir = {r}/state
protocols = imap
listen = {HOST}
log_path = {r}/dovecot.log
{identity}first_valid_uid = 1
ssl = yes
ssl_cert = <{_conf_value(self._cert_file)}
ssl_key = <{_conf_value(self._key_file)}
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0
# the reason a token was refused is only ever in this log
auth_verbose = yes
# answers failed token logins at once (nodelay); authenticates nobody itself (continue)
passdb {{
  driver = static
  args = nopassword=y nodelay=y
  mechanisms = xoauth2 oauthbearer
  result_success = continue
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {r}/oauth2-jwt.conf.ext
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = username_format=%Lu {r}/users.d/%Lu
}}
# reached only after a failed password check: fail now instead of on the 500 ms timer
passdb {{
  driver = static
  args = nopassword=y nodelay=y
  mechanisms = plain login
  result_success = continue-fail
}}
userdb {{
  driver = passwd-file
  args = username_format=%Lu {r}/users.d/%Lu
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
{special}}}
mail_fsync = never
# tests open many connections as one user at once
mail_max_userip_connections = 200
service imap-login {{
{login_chroot}  inet_listener imap {{
    address = {HOST}
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  # renamed socket: login processes find no penalty service, so no per-IP failure delays
  unix_listener anvil-auth-penalty {{
    path = anvil-auth-penalty-disabled
  }}
}}
"""

    # -- process ---------------------------------------------------------------------------------

    def start(self) -> DovecotServer:
        """Start Dovecot on free ports and wait for its greeting (retrying port collisions)."""
        if self.running:
            return self
        if len(str(self.root / "run")) > _MAX_BASE_DIR and self._short_base_dir is None:
            self._short_base_dir = Path(tempfile.mkdtemp(prefix="o365imap-dovecot-"))
        self.base_dir.mkdir(parents=True, exist_ok=True)
        _write_private(self.root / "oauth2-jwt.conf.ext", self._oauth2_conf().encode(), 0o644)
        last_error: DovecotStartError | None = None
        for _ in range(_START_ATTEMPTS):
            imap_port, imaps_port = _free_ports(2)
            self.config_path.write_text(self._config(imap_port, imaps_port), encoding="utf-8")
            with contextlib.suppress(FileNotFoundError):
                # a stale penalty socket from an earlier run would turn the penalty back on
                (self.base_dir / "anvil-auth-penalty").unlink()
            offsets = [p.stat().st_size if p.exists() else 0 for p in self._log_files]
            try:
                self._spawn()
                self._ports = (imap_port, imaps_port)
                self._wait_ready()
                return self
            except DovecotStartError as exc:
                self._terminate()
                self._ports = None
                last_error = exc
                if "Address already in use" not in self._log_since(offsets):
                    self.stop()
                    raise
        assert last_error is not None
        raise last_error

    def _spawn(self) -> None:
        env = dict(os.environ)
        if self.timezone is not None:
            env["TZ"] = self.timezone
        with open(self.stderr_path, "ab") as stderr:
            self._process = subprocess.Popen(
                [str(self.binary), "-F", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,  # its own process group: one killpg stops everything
                env=env,
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            process = self._process
            assert process is not None
            if process.poll() is not None:
                raise DovecotStartError(
                    f"dovecot exited with status {process.returncode}\n{self.log_tail()}"
                )
            try:
                if self._greeting_ok():
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise DovecotStartError(
                    f"no IMAP greeting within {START_TIMEOUT:.0f} s\n{self.log_tail()}"
                )
            time.sleep(0.005)

    def _greeting_ok(self) -> bool:
        with socket.create_connection((HOST, self.imap_port), timeout=2) as sock:
            reader = sock.makefile("rb")
            # Dovecot may first say "* OK Waiting for authentication process to respond.."
            # while its auth process starts; the real greeting follows.
            for _ in range(3):
                line = reader.readline()
                if not line:
                    return False
                if line.startswith(b"* OK [CAPABILITY"):
                    break
            else:
                return False
        # the TLS listener comes from the same process: accepting a connection is enough
        with socket.create_connection((HOST, self.imaps_port), timeout=2):
            return True

    def stop(self) -> None:
        """Stop Dovecot and every process it started (they share its process group)."""
        self._terminate()
        self._ports = None
        if self._short_base_dir is not None:
            shutil.rmtree(self._short_base_dir, ignore_errors=True)
            self._short_base_dir = None

    def _terminate(self) -> None:
        process = self._process
        self._process = None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=_STOP_GRACE)
            except subprocess.TimeoutExpired:
                # Stopped just after start, the master waits ~6 s for a login process it
                # was still spawning; nothing in the group needs a clean shutdown.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()

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

    @property
    def _log_files(self) -> tuple[Path, Path]:
        return self.log_path, self.stderr_path

    def _log_since(self, offsets: list[int]) -> str:
        parts = []
        for path, offset in zip(self._log_files, offsets, strict=True):
            if path.exists():
                with open(path, "rb") as log:
                    log.seek(offset)
                    parts.append(log.read().decode("utf-8", "replace"))
        return "\n".join(parts)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of Dovecot's log and of its stderr (start-up errors land there)."""
        out = []
        for path in self._log_files:
            if path.exists():
                tail = path.read_text("utf-8", "replace").splitlines()[-lines:]
                if tail:
                    out.append(f"--- {path} (last {len(tail)} lines)\n" + "\n".join(tail))
        return "\n".join(out) or "(Dovecot wrote no log)"

    def iter_log(self) -> Iterator[str]:
        """Every line of Dovecot's log so far (auth failures say why only here)."""
        if self.log_path.exists():
            yield from self.log_path.read_text("utf-8", "replace").splitlines()
