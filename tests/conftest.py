"""Shared fixtures: one Dovecot test bed per test session.

``dovecot`` is a running :class:`DovecotServer` on 127.0.0.1 with two users (alice with
password ``alicepw``, bob with ``bobpw``); ``testbed`` seeds alice's mailbox once (INBOX, the
special-use and non-ASCII folders, and 20,000 messages in ``Bulk``); ``token`` is a fresh
access token for alice. Tests that use them carry ``@pytest.mark.dovecot``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from o365imap.sandbox.dovecot import DovecotInstall, DovecotNotInstalled, DovecotServer
from o365imap.sandbox.seed import Testbed, seed_testbed


def pytest_report_header() -> str:
    """Which Dovecot the Dovecot tests run (``make test-dovecot24`` picks Debian 13's)."""
    install = DovecotInstall.find()
    where = f" in {install.root}" if install.root is not None else ""
    return f"dovecot: {install.version or '(not found)'} {install.binary}{where}"


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


ALICE = "alice@example.com"
ALICE_PASSWORD = "alicepw"
BOB = "bob@example.com"
BOB_PASSWORD = "bobpw"


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
def testbed(dovecot: DovecotServer) -> Testbed:
    return seed_testbed(dovecot, ALICE)


@pytest.fixture
def token(dovecot: DovecotServer) -> str:
    return dovecot.mint_token(ALICE)
