"""What the Dovecot found accepts: its configuration language, and whether it checks ``aud``.

Learnt by trying, never from the version string (Debian 12's Dovecot says "2.3.19.1" before and
after the deb12u7 update that added the ``audience`` setting):

1. ``doveconf`` on a 2.4 configuration with ``oauth2_audience``, then without it, then on a 2.3
   one: the first it accepts names the language.
2. In 2.3 the oauth2 settings live in a file that only the auth process reads, when it starts;
   doveconf never sees it. So a throwaway Dovecot is started with ``audience`` in that file and
   asked to authenticate two tokens: one for the right audience (must pass) and one for another
   (must fail). An auth process that dies on "Unknown setting: audience" means no.

The probe costs one Dovecot start or two (about 0.1 s each) and runs once per process and
install. Its tokens are HS256, signed with the stdlib: ``scripts/system_deps.py`` runs it too.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import hmac
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .dovecot_config import (
    Config,
    Features,
    Layout,
    OAuthPolicy,
    passwd_line,
    render,
)
from .dovecot_process import (
    HOST,
    DovecotInstall,
    DovecotProcess,
    DovecotStartError,
    explain_failure,
    free_ports,
    process_identity,
)

__all__ = ["probe"]

_USER = "probe@o365imap.test"
_POLICY = OAuthPolicy(
    issuer="https://probe.o365imap.test/",
    scope="https://outlook.office.com/IMAP.AccessAsUser.All",
    audience="https://outlook.office.com",
    username_attribute="upn",
)
_SECRET = b"o365imap-probe-secret-not-a-secret"
_LOGIN_TIMEOUT = 5.0


@functools.cache
def probe(install: DovecotInstall) -> Features:
    """The :class:`Features` of ``install``; DovecotError when it cannot run the sandbox."""
    install.require()
    with _scratch(install) as scratch:
        return _probe(install, scratch)


def _probe(install: DovecotInstall, scratch: _Scratch) -> Features:
    version = install.version.split(" ", 1)[0]
    refusals: dict[str, str] = {}
    for candidate in (Features("2.4", True), Features("2.4", False), Features("2.3", False)):
        refused = scratch.check(candidate)
        if refused is None:
            if candidate.dialect == "2.4":
                return Features("2.4", candidate.audience, version)
            return Features("2.3", _audience_23(install, scratch), version)
        refusals.setdefault(candidate.dialect, refused)
    # Neither language fits: show the refusal of the one this Dovecot claims to speak.
    dialect = "2.4" if version.startswith("2.4") else "2.3"
    log = f"Fatal: {refusals[dialect]}"
    raise DovecotStartError(
        explain_failure(install, log, "refused the sandbox's configuration"), log
    )


def _audience_23(install: DovecotInstall, scratch: _Scratch) -> bool:
    """Whether this 2.3 checks ``aud``: it must accept the right one and refuse another.

    "No" only on the auth process's own word ("Unknown setting: audience") or on a wrong
    audience let in; a login that never got an answer (a slow machine) is tried again, then
    is an error, never a guess that would quietly drop the check.
    """
    try:
        with scratch.running(Features("2.3", True)) as port:
            right = _answer(port, _token(_POLICY.audience))
            wrong = _answer(port, _token("https://graph.microsoft.com"))
    except DovecotStartError as exc:
        if "Unknown setting: audience" in exc.log_excerpt:
            return False
        raise
    if "Unknown setting: audience" in scratch.log():
        return False
    if right is True and wrong is not None:
        return not wrong
    log = scratch.log()
    raise DovecotStartError(
        explain_failure(install, log, "could not validate the probe's token", scratch.log_path),
        log,
    )


def _answer(port: int, token: str) -> bool | None:
    """:func:`_authenticate`, once more when the first try got no answer at all."""
    first = _authenticate(port, token)
    return first if first is not None else _authenticate(port, token)


# -- a scratch instance --------------------------------------------------------------------------


@dataclass
class _Scratch:
    install: DovecotInstall
    root: Path  # as seen here

    @property
    def log_path(self) -> Path:
        return self.root / "dovecot.log"

    def inside(self, path: Path) -> str:
        return str(self.install.inside(path))

    def config(self, features: Features, port: int) -> Config:
        layout = Layout(
            instance_name=f"o365imap-probe-{port}",
            base_dir=self.inside(self.root / "run"),
            state_dir=self.inside(self.root / "state"),
            log_path=self.inside(self.log_path),
            keys_dir=self.inside(self.root / "keys"),
            users_dir=self.inside(self.root / "users"),
            mail_root=self.inside(self.root / "mail"),
            oauth2_file=self.inside(self.root / "oauth2.conf.ext"),
            imap_port=port,
        )
        return render(features, layout, _POLICY, process_identity(self.install))

    def write(self, features: Features, port: int) -> Path:
        config = self.config(features, port)
        main = self.root / "dovecot.conf"
        main.write_text(config.main, encoding="utf-8")
        for path, text in config.files.items():
            self.install.on_host(Path(path)).write_text(text, encoding="utf-8")
        return main

    def check(self, features: Features) -> str | None:
        return self.install.check_config(self.write(features, 143))

    @contextlib.contextmanager
    def running(self, features: Features) -> Iterator[int]:
        port = free_ports(1)[0]
        process = DovecotProcess(
            self.install,
            self.write(features, port),
            logs=[self.log_path],
            stderr=self.root / "dovecot.stderr",
        )
        process.start([port])
        try:
            yield port
        finally:
            process.stop()

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text("utf-8", "replace")
        return ""


@contextlib.contextmanager
def _scratch(install: DovecotInstall) -> Iterator[_Scratch]:
    # Short: Dovecot's sockets live below it, and a socket path has at most 108 bytes.
    root = Path(tempfile.mkdtemp(prefix="o365imap-probe-", dir=install.temp_parent()))
    try:
        identity = process_identity(install)
        (root / "run").mkdir()
        key_dir = root / "keys" / "default" / "HS256"
        key_dir.mkdir(parents=True)
        (key_dir / "default").write_bytes(base64.b64encode(_SECRET))
        (root / "users").mkdir()
        home = root / "mail" / _USER
        for sub in ("cur", "new", "tmp"):
            (home / "Maildir" / sub).mkdir(parents=True)
        mail_root = str(install.inside(root / "mail"))
        password = base64.b64encode(os.urandom(18)).decode()
        (root / "users" / _USER).write_text(passwd_line(_USER, password, identity, mail_root))
        if identity.as_root:
            for path in (home, *home.rglob("*")):
                os.chown(path, identity.mail_uid, identity.mail_gid)
        yield _Scratch(install, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# -- tokens and one login ------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _token(audience: str) -> str:
    """An HS256 token for the probe user (Dovecot 2.3 wants ``typ`` JWT and no ``nbf`` ahead)."""
    now = int(time.time()) - 30
    header = {"typ": "JWT", "alg": "HS256"}
    claims = {
        "iss": _POLICY.issuer,
        "aud": audience,
        "sub": "probe",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "scope": _POLICY.scope,
        "upn": _USER,
    }
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    signature = hmac.new(_SECRET, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def _authenticate(port: int, token: str) -> bool | None:
    """True when Dovecot lets the token in, False when it refuses it, None when it never says."""
    initial = base64.b64encode(f"user={_USER}\x01auth=Bearer {token}\x01\x01".encode()).decode()
    try:
        with socket.create_connection((HOST, port), timeout=_LOGIN_TIMEOUT) as sock:
            reader = sock.makefile("rb")
            line = reader.readline()
            while line.startswith(b"* OK Waiting"):
                line = reader.readline()
            if not line.startswith(b"* OK"):
                return None
            sock.sendall(f"p AUTHENTICATE XOAUTH2 {initial}\r\n".encode())
            while line := reader.readline():
                if line.startswith(b"+"):
                    sock.sendall(b"\r\n")  # the error challenge: answer it to get the NO
                elif line.startswith(b"p OK"):
                    return True
                elif line.startswith((b"p NO", b"p BAD")):
                    return False if b"AUTHENTICATIONFAILED" in line else None
            return None
    except OSError:
        return None
