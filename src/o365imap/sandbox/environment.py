"""The whole offline sandbox: an identity platform and a mail server that trust each other.

One folder holds everything: the signing key both use (the emulator signs access tokens,
Dovecot validates them), one CA for both TLS servers (so one ``--ca-file`` covers the sign-in
and the mailbox), Dovecot's config and a seeded mailbox. Reusing the folder keeps the key, the
CA, the mail and the identity platform's grants (``identity-state.json``), so a sign-in made
before a restart still refreshes after it, if the emulator gets the same port back.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from o365imap.auth import Profile, ProfileStore
from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.dovecot_process import ports_in_use
from o365imap.sandbox.identity import IdentityEmulator
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


def _any_free_port(exclude: int | None = None) -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port != exclude:
            return port


@dataclass
class SandboxInfo:
    authority: str
    client_id: str
    user: str
    password: str
    imap_host: str
    imap_port: int
    ca_file: Path


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
        self.bulk_count = bulk_count
        self.top_up = top_up
        self.seeding: Seeding | None = None
        self._asked = ports
        signer = TokenSigner.load_or_create(self.root / "signing-key.pem")
        # Dovecot first: it makes the CA and certificate; the emulator, built with reuse,
        # takes the same files, so one CA covers both servers.
        self.dovecot = DovecotServer(self.root, signer=signer)
        last = SandboxState.load(self.root)
        remembered = last.ports if last is not None else SandboxPorts()
        identity_port = ports.identity or remembered.identity or 0
        if ports.identity is None and identity_port and ports_in_use([identity_port]):
            identity_port = 0  # the last run's port is taken now: any will do
        self._remembered = remembered
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
        )
        self.identity.add_user(SANDBOX_USER, SANDBOX_PASSWORD, display_name="Adele Vance")
        self.dovecot.add_user(SANDBOX_USER)

    @property
    def ca_file(self) -> Path:
        return self.dovecot.ca_file

    def start(self) -> Sandbox:
        if self.dovecot.running and self.identity.running:
            return self
        asked, last = self._asked, self._remembered
        if asked.imap is not None or asked.imaps is not None:
            imap = asked.imap or _any_free_port()
            imaps = asked.imaps or _any_free_port(exclude=imap)
            self.dovecot.start((imap, imaps), exact=True)
        elif last.imap is not None and last.imaps is not None:
            self.dovecot.start((last.imap, last.imaps))
        else:
            self.dovecot.start()
        try:
            self.identity.start()
            self.seeding = self._seed()
            SandboxState(
                SandboxPorts(self.dovecot.imap_port, self.dovecot.imaps_port, self.identity.port),
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
        )

    def profile(self, name: str = "sandbox") -> Profile:
        """A profile that signs in at the emulator and reads the sandbox's mailbox."""
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
        )

    def save_profile(self, store: ProfileStore | None = None, name: str = "sandbox") -> Profile:
        profile = self.profile(name)
        (store or ProfileStore()).save(profile, make_default=False)
        return profile
