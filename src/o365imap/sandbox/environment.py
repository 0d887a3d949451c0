"""The whole offline sandbox: an identity platform and a mail server that trust each other.

One folder holds everything: the signing key both use (the emulator signs access tokens,
Dovecot validates them), one CA for both TLS servers (so one ``--ca-file`` covers the sign-in
and the mailbox), Dovecot's config and a seeded mailbox. Reusing the folder keeps the key, the
CA, the mail and the identity platform's grants (``identity-state.json``), so a sign-in made
before a restart still refreshes after it, if the emulator gets the same port back.
"""

from __future__ import annotations

import fcntl
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from o365imap.auth import Profile, ProfileStore
from o365imap.errors import SandboxError, UsageError
from o365imap.sandbox.dovecot import DovecotServer, PortsInUse
from o365imap.sandbox.dovecot_process import ports_in_use
from o365imap.sandbox.identity import (
    APP_ROLE_IMAP,
    APP_ROLE_SMTP,
    DEFAULT_DELEGATED,
    DELEGATED_SMTP_SEND,
    IdentityEmulator,
)
from o365imap.sandbox.mailrelay import MailRelay
from o365imap.sandbox.seed import MaildirWriter, bulk_messages, seed_testbed
from o365imap.sandbox.state import SandboxPorts, SandboxState
from o365imap.sandbox.tokens import TokenSigner

__all__ = [
    "SANDBOX_CLIENT_ID",
    "SANDBOX_PASSWORD",
    "SANDBOX_USER",
    "Sandbox",
]

log = logging.getLogger("o365imap.sandbox")

SANDBOX_CLIENT_ID = "0f1e2d3c-4b5a-4697-8a9b-0c1d2e3f4a5b"  # the sandbox's "app registration"
SANDBOX_USER = "adele.vance@contoso.example"
SANDBOX_PASSWORD = "sandbox"  # noqa: S105 - shown on purpose: nothing here is real
_SEEDED_MARK = ".seeded"


@dataclass(frozen=True, slots=True)
class Seeding:
    """What a start did to the ``Bulk`` folder: ``count`` messages now, ``added`` by it."""

    count: int
    added: int
    new: bool  # a first start: the whole mailbox was seeded


class FolderInUse(SandboxError, UsageError):
    """Another sandbox runs in this folder."""


class _FolderLock:
    """An exclusive flock on a file in the sandbox folder, holding the owner's pid.

    The kernel drops it when the process ends, however it ends: no stale lock to clean up.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise FolderInUse(
                f"another sandbox runs in {self.path.parent} (pid {owner}): stop it first, or "
                "use another --dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None


@dataclass
class SandboxInfo:
    authority: str
    client_id: str
    user: str
    password: str
    imap_host: str
    imap_port: int
    ca_file: Path
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 0  # submission with STARTTLS, as smtp.office365.com:587


class Sandbox:
    """Start with ``with Sandbox(root) as box:``; ``box.profile()`` is ready for `login`.

    ``bulk_count`` is the size of the ``Bulk`` folder (20,000 in the tests' mailbox; fewer
    starts faster); a folder seeded before with fewer gets the difference (see
    :attr:`seeding`) unless ``top_up`` is false. ``auto_approve`` skips the emulator's
    sign-in page. ``ports`` asked for must be free (else
    :class:`~o365imap.sandbox.dovecot.PortsInUse`); those not asked for are the last run's in
    the same folder when free, else any free ones.
    """

    def __init__(
        self,
        root: Path,
        *,
        bulk_count: int = 2000,
        auto_approve: bool = False,
        access_token_lifetime: int = 3600,
        ports: SandboxPorts = SandboxPorts(),  # noqa: B008 - frozen
        top_up: bool = True,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Before anything in the folder is written: a second sandbox there would rewrite the
        # running one's configuration and passwords under it.
        self._lock = _FolderLock(self.root / ".sandbox.lock")
        self._lock.acquire()
        try:
            self.bulk_count = bulk_count
            self.top_up = top_up
            self.seeding: Seeding | None = None
            self._asked = ports
            signer = TokenSigner.load_or_create(self.root / "signing-key.pem")
            # Dovecot first: it makes the CA and certificate; the emulator, built with reuse,
            # takes the same files, so one CA covers both servers.
            # with submission: the sandbox sends too (SMTP AUTH, as smtp.office365.com)
            self.dovecot = DovecotServer(self.root, signer=signer, submission=True)
            last = SandboxState.load(self.root)
            remembered = last.ports if last is not None else SandboxPorts()
            identity_port = ports.identity or remembered.identity or 0
            if ports.identity is None and identity_port and ports_in_use([identity_port]):
                identity_port = 0  # the last run's port is taken now: any will do
            self._remembered = remembered
            # The last run's sign-in port, when this run could not have it: saved sign-ins name it
            self.identity_port_moved_from: int | None = None
            self.identity = IdentityEmulator(
                self.root,
                signer=signer,
                auto_approve=auto_approve,
                access_token_lifetime=access_token_lifetime,
                port=identity_port,
            )
            self.identity.register_app(
                SANDBOX_CLIENT_ID,
                name="o365imap sandbox",
                redirect_uris=("http://localhost",),
                delegated_permissions=(*DEFAULT_DELEGATED, DELEGATED_SMTP_SEND),
                app_roles=(APP_ROLE_IMAP, APP_ROLE_SMTP),
            )
            self.identity.add_user(SANDBOX_USER, SANDBOX_PASSWORD, display_name="Adele Vance")
            self.dovecot.add_user(SANDBOX_USER)
        except BaseException:
            self._lock.release()
            raise

    @property
    def ca_file(self) -> Path:
        return self.dovecot.ca_file

    @property
    def smtp_host(self) -> str:
        return self.dovecot.host

    @property
    def smtp_port(self) -> int:
        """Submission with STARTTLS (a profile's ``smtp_port``), as smtp.office365.com:587."""
        return self.dovecot.submission_port

    @property
    def smtps_port(self) -> int:
        """Submission over implicit TLS."""
        return self.dovecot.submissions_port

    @property
    def relay(self) -> MailRelay:
        """What submission hands mail to: throttling and SendAs switches, the outbox."""
        return self.dovecot.relay

    def set_smtp_auth(self, user: str, enabled: bool) -> None:
        """SMTP AUTH on or off for a mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled)."""
        self.dovecot.set_smtp_auth(user, enabled)

    def start(self) -> Sandbox:
        if self.dovecot.running and self.identity.running:
            return self
        self._lock.acquire()
        asked, last = self._asked, self._remembered
        # a remembered IMAP port is no use if the sign-in service was asked to take it
        keep = tuple(
            None if p == asked.identity else p
            for p in (last.imap, last.imaps, last.submission, last.submissions)
        )
        try:
            if asked.identity is not None and ports_in_use([asked.identity]):
                raise PortsInUse(
                    f"port {asked.identity} on 127.0.0.1 is in use: choose another or stop the "
                    "program that holds it"
                )
            self.dovecot.start(
                (asked.imap, asked.imaps),
                preferred=(keep[0], keep[1]),
                smtp_ports=(asked.submission, asked.submissions),
                smtp_preferred=(keep[2], keep[3]),
            )
            try:
                self.identity.start()
            except OSError as exc:  # taken between the check and the bind
                raise PortsInUse(
                    f"the sign-in service could not listen on 127.0.0.1: {exc.strerror}"
                ) from None
            if last.identity is not None and self.identity.port != last.identity:
                self.identity_port_moved_from = last.identity
            self.seeding = self._seed()
            SandboxState(
                SandboxPorts(
                    self.dovecot.imap_port,
                    self.dovecot.imaps_port,
                    self.identity.port,
                    self.dovecot.submission_port,
                    self.dovecot.submissions_port,
                ),
                self.dovecot.features,
            ).save(self.root)
        except BaseException:
            self.stop()
            raise
        return self

    def _seed(self) -> Seeding:
        mark = self.root / _SEEDED_MARK
        if not mark.exists():
            seed_testbed(self.dovecot, SANDBOX_USER, bulk_count=self.bulk_count)
            mark.write_text("seeded\n")
            return Seeding(self.bulk_count, added=self.bulk_count, new=True)
        writer = MaildirWriter(self.dovecot.maildir(SANDBOX_USER), self.dovecot.mail_owner)
        present = writer.count("Bulk")
        if not self.top_up or self.bulk_count <= present:
            return Seeding(present, added=0, new=False)
        # bulk_messages() is one seeded sequence: its first `present` are the ones there
        more = bulk_messages(SANDBOX_USER, self.bulk_count)[present:]
        writer.write("Bulk", more)
        return Seeding(self.bulk_count, added=len(more), new=False)

    def stop(self) -> None:
        self.identity.stop()
        self.dovecot.stop()
        self._lock.release()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def info(self) -> SandboxInfo:
        return SandboxInfo(
            authority=self.identity.authority("organizations"),
            client_id=SANDBOX_CLIENT_ID,
            user=SANDBOX_USER,
            password=SANDBOX_PASSWORD,
            imap_host=self.dovecot.host,
            imap_port=self.dovecot.imaps_port,
            ca_file=self.ca_file,
            smtp_host=self.smtp_host,
            smtp_port=self.smtp_port,
        )

    def profile(self, name: str = "sandbox") -> Profile:
        """A profile that signs in at the emulator, reads the sandbox's mailbox and sends."""
        info = self.info()
        return Profile(
            name=name,
            client_id=info.client_id,
            authority=info.authority,
            user=info.user,
            flow="auth-code",
            host=info.imap_host,
            port=info.imap_port,
            security="tls",
            ca_file=str(info.ca_file),
            send=True,
            smtp_host=info.smtp_host,
            smtp_port=info.smtp_port,
            smtp_security="starttls",
        )

    def save_profile(self, store: ProfileStore | None = None, name: str = "sandbox") -> Profile:
        profile = self.profile(name)
        (store or ProfileStore()).save(profile, make_default=False)
        return profile
