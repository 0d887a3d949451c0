"""What the test modules share: the markers, the hypothesis profiles, the peers and clients.

Markers (``make quick`` runs what has none of them):

- ``dovecot``: needs the real Dovecot. Given automatically to every test that uses one of
  :data:`DOVECOT_FIXTURES`; a test that starts a Dovecot of its own carries the mark itself.
- ``browser``: needs Chromium through Playwright (the ``chromium`` fixture gives it).
- ``slow``: long runs (the coverage-guided fuzzer, big inputs, a real timer of a second or
  more), marked where they are.

Hypothesis profiles, chosen by ``HYPOTHESIS_PROFILE`` (``ci`` when ``CI`` is set, ``dev``
otherwise): ``ci`` runs each property as many times as written, ``dev`` a tenth of that. A
test asks for a count with :func:`examples`, so that the profile scales it.

Fixtures: ``dovecot`` is a running :class:`DovecotServer` on 127.0.0.1 with two users (alice
with password ``alicepw``, bob with ``bobpw``); ``testbed`` seeds alice's mailbox once (INBOX,
the special-use and non-ASCII folders, and 20,000 messages in ``Bulk``); ``token`` is a fresh
access token for alice and ``client`` an :class:`ImapClient` signed in with it. ``box`` is a
sandbox (identity emulator and Dovecot) for a module; ``emulator`` an identity emulator for a
module, alone, with the same two people and the apps :data:`PUBLIC_ID`, :data:`WEB_ID` and
:data:`SERVICE_ID`. ``smtp`` is a Dovecot of its own with submission, LMTP and the relay (alice,
bob and carol), as :class:`~fixtures_smtp.SmtpBed`: where to connect, tokens, the switches.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from fixtures_smtp import SmtpBed
from o365imap import ImapClient
from o365imap.sandbox.dovecot import DovecotInstall, DovecotNotInstalled, DovecotServer
from o365imap.sandbox.environment import Sandbox
from o365imap.sandbox.identity import IdentityEmulator
from o365imap.sandbox.seed import Testbed, seed_testbed
from o365imap.sandbox.tokens import TokenSigner

ALICE = "alice@example.com"
ALICE_PASSWORD = "alicepw"
BOB = "bob@example.com"
BOB_PASSWORD = "bobpw"
SHARED = "shared@example.com"  # a mailbox nobody signs in as
CAROL = "carol@example.com"  # the smtp fixture's third mailbox

PUBLIC_ID = "0a0a0a0a-1111-4000-8000-000000000001"
WEB_ID = "0a0a0a0a-1111-4000-8000-000000000002"
SERVICE_ID = "0a0a0a0a-1111-4000-8000-000000000003"

# ---------------------------------------------------------------- markers

DOVECOT_FIXTURES = frozenset(
    {"dovecot", "testbed", "token", "client", "box", "without_move", "without_uidplus", "smtp"}
)
BROWSER_FIXTURES = frozenset({"chromium"})


@pytest.hookimpl(tryfirst=True)  # before -m deselects by the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        # Every fixture the test needs, those its fixtures need included.
        used = set(getattr(item, "fixturenames", ()))
        if used & DOVECOT_FIXTURES:
            item.add_marker(pytest.mark.dovecot)
        if used & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)


# ---------------------------------------------------------------- hypothesis

# ci: hypothesis's own default count, and what each test asks for; dev: a tenth of it.
settings.register_profile("ci", max_examples=100)
settings.register_profile("dev", max_examples=10)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
settings.load_profile(PROFILE)


def examples(count: int) -> int:
    """``max_examples`` for a test that wants ``count`` under ci, scaled by the profile
    loaded (a tenth under dev), never below ten (or ``count``, when that is less)."""
    return max(min(count, 10), count * settings().max_examples // 100)


# ---------------------------------------------------------------- the environment


def pytest_report_header() -> list[str]:
    """Which Dovecot the Dovecot tests run (``make test-dovecot24`` picks Debian 13's), and
    how many examples the properties get."""
    install = DovecotInstall.find()
    where = f" in {install.root}" if install.root is not None else ""
    return [
        f"dovecot: {install.version or '(not found)'} {install.binary}{where}",
        f"hypothesis profile: {PROFILE} ({settings().max_examples} examples by default)",
    ]


@pytest.fixture(autouse=True, scope="session")
def _private_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Profiles and tokens of the tests never touch the user's own (nor a keyring)."""
    home = tmp_path_factory.mktemp("o365imap-home")
    saved = {k: os.environ.get(k) for k in ("O365IMAP_HOME", "O365IMAP_TOKEN_STORE")}
    os.environ["O365IMAP_HOME"] = str(home)
    os.environ["O365IMAP_TOKEN_STORE"] = "file"
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


# ---------------------------------------------------------------- Dovecot


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    root: Path = tmp_path_factory.mktemp("dovecot")
    try:
        server = DovecotServer(root)
    except DovecotNotInstalled as exc:
        pytest.skip(str(exc))
    server.add_user(ALICE, ALICE_PASSWORD)
    server.add_user(BOB, BOB_PASSWORD)
    with server:
        yield server


@pytest.fixture(scope="session")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpBed]:
    """A Dovecot that also sends (submission, LMTP, the relay), apart from ``dovecot``.

    Its folder is one the mail user can walk into: run as root, Dovecot's LMTP reaches mail
    only so (pytest's folders are private; the ``box`` sandbox's, in them, delivers over IMAP).
    """
    try:
        install = DovecotInstall.find()
        install.require()
    except DovecotNotInstalled as exc:
        pytest.skip(str(exc))
    root = Path(tempfile.mkdtemp(prefix="o365imap-smtp-", dir=install.temp_parent()))
    root.chmod(0o711)
    try:
        server = DovecotServer(root, install=install, submission=True)
        for user in (ALICE, BOB, CAROL):
            server.add_user(user)
        with server:
            yield SmtpBed(server)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def testbed(dovecot: DovecotServer) -> Testbed:
    return seed_testbed(dovecot, ALICE)


@pytest.fixture
def token(dovecot: DovecotServer) -> str:
    return dovecot.mint_token(ALICE)


@pytest.fixture
def client(dovecot: DovecotServer, testbed: Testbed, token: str) -> Iterator[ImapClient]:
    """Alice's client on the test bed; after a dropped connection it signs in again."""
    with ImapClient(
        dovecot.host, dovecot.imaps_port, ca_file=str(dovecot.ca_file), timeout=20
    ) as imap:
        imap.authenticate_oauth(ALICE, token, refresh=lambda: dovecot.mint_token(ALICE))
        yield imap


# ---------------------------------------------------------------- the sandbox and its emulator


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A small sandbox for the module, its tests free to stop and restart its emulator."""
    with Sandbox(tmp_path_factory.mktemp("sandbox"), bulk_count=20) as sandbox:
        sandbox.identity.device_poll_interval = 1  # device-code sign-ins poll each second
        yield sandbox


@pytest.fixture(scope="session")
def signer() -> TokenSigner:
    return TokenSigner()  # one RSA key for the session: key generation is the slow part


@pytest.fixture(scope="module")
def emulator(
    tmp_path_factory: pytest.TempPathFactory, signer: TokenSigner
) -> Iterator[IdentityEmulator]:
    emu = IdentityEmulator(tmp_path_factory.mktemp("identity"), signer=signer)
    emu.register_app(PUBLIC_ID, name="public")
    emu.register_app(WEB_ID, confidential=True, name="web")
    emu.register_app(SERVICE_ID, confidential=True, name="service")
    emu.add_user(ALICE, ALICE_PASSWORD)
    emu.add_user(BOB, BOB_PASSWORD)
    with emu:
        yield emu


# ---------------------------------------------------------------- Dovecots that offer less


# What Dovecot 2.3 offers, less what a test takes away (imap_capability replaces the list).
_OFFERED = "IMAP4rev1 LITERAL+ SASL-IR SPECIAL-USE LIST-EXTENDED IDLE NAMESPACE CHILDREN"


@pytest.fixture(scope="module")
def without_move(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    """A Dovecot that offers UIDPLUS but no MOVE (RFC 6851): as some servers are."""
    yield from _dovecot_offering(tmp_path_factory, f"{_OFFERED} UIDPLUS")


@pytest.fixture(scope="module")
def without_uidplus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    """A Dovecot that offers neither MOVE nor UIDPLUS (RFC 4315)."""
    yield from _dovecot_offering(tmp_path_factory, _OFFERED)


def _dovecot_offering(
    factory: pytest.TempPathFactory, capabilities: str
) -> Iterator[DovecotServer]:
    server = DovecotServer(factory.mktemp("caps"), settings={"imap_capability": capabilities})
    server.add_user(BOB, BOB_PASSWORD)
    with server:
        yield server


@pytest.fixture
def reader_zone() -> Iterator[Callable[[str], None]]:
    """Puts the reader in a time zone (``TZ``, as for the commands run meanwhile); the zone
    before comes back after the test, also for this process's ``time`` functions."""
    before = os.environ.get("TZ")

    def use(zone: str) -> None:
        os.environ["TZ"] = zone
        time.tzset()

    yield use
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()
