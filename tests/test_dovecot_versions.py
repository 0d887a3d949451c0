"""Whatever Dovecot the machine has: probed, configured in its language, or one clear sentence.

The real Dovecot here is Debian 12's 2.3.19.1 with or without the deb12u7 update (which added
the ``audience`` setting); ``make test-dovecot24`` runs these against Debian 13's 2.4 too. Fake
``dovecot`` scripts stand in for the Dovecots that fail: each must end in one sentence naming
Dovecot's own error line and the fix, never a traceback or "internal error".
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest

from cli_runner import invoke
from o365imap.sandbox.dovecot import DovecotServer, PortsInUse
from o365imap.sandbox.dovecot_config import Features
from o365imap.sandbox.dovecot_probe import probe
from o365imap.sandbox.dovecot_process import (
    UPGRADE_COMMAND,
    DovecotInstall,
    DovecotStartError,
    free_ports,
)
from o365imap.sandbox.tokens import TokenSigner
from test_testbed import ALICE, RawImap, tls_context, xoauth2

dovecot_test = pytest.mark.dovecot


def _authenticate(server: DovecotServer, token: str) -> bytes:
    sock = socket.create_connection((server.host, server.imaps_port), timeout=10)
    conn = RawImap(tls_context(server).wrap_socket(sock, server_hostname=server.host))
    try:
        tag = conn.start(f"AUTHENTICATE XOAUTH2 {xoauth2(ALICE, token)}")
        line = conn.line()
        if line.startswith(b"+ "):
            conn.send(b"")  # the error challenge
            line = conn.line()
        assert line.startswith(tag + b" "), line
        return line[len(tag) + 1 :]
    finally:
        conn.close()


# -- the probe against the real Dovecot ----------------------------------------------------------


@dovecot_test
def test_the_probe_says_what_dovecot_enforces(dovecot: DovecotServer) -> None:
    """A token for another audience, its scope claim forged to the right one: only the aud
    claim tells it apart. The probe's answer must be what Dovecot then does."""
    features = dovecot.features
    forged = dovecot.mint_token(
        ALICE,
        extra_claims={"aud": "https://graph.microsoft.com", "scope": dovecot.required_scope},
    )
    answer = _authenticate(dovecot, forged)
    if features.audience:
        assert answer.startswith(b"NO [AUTHENTICATIONFAILED]"), answer
    else:
        assert answer.startswith(b"OK"), answer
    assert _authenticate(dovecot, dovecot.mint_token(ALICE)).startswith(b"OK")


@dovecot_test
def test_a_token_for_another_resource_is_refused_by_every_dovecot(dovecot: DovecotServer) -> None:
    # What the identity emulator issues for Microsoft Graph: refused, audience setting or not.
    graph = TokenSigner(dovecot.signer.private_key, audience="https://graph.microsoft.com")
    token = graph.mint(ALICE, scopes=("https://outlook.office.com/IMAP.AccessAsUser.All",))
    assert _authenticate(dovecot, token).startswith(b"NO [AUTHENTICATIONFAILED]")


@dovecot_test
def test_the_language_is_the_one_the_version_speaks(dovecot: DovecotServer) -> None:
    # Probed by trying, never read off the version: but the two must agree.
    features = dovecot.features
    assert features.version == dovecot.install.version.split(" ")[0]
    assert features.version.startswith(features.dialect + ".")
    # only 2.4's language opens with its version setting
    written = dovecot.config_path.read_text()
    assert ("dovecot_config_version" in written) == (features.dialect == "2.4")


@dovecot_test
def test_the_probe_runs_once_per_process(dovecot: DovecotServer) -> None:
    before = probe.cache_info().hits
    assert probe(dovecot.install) is dovecot.features
    assert probe.cache_info().hits > before


def _processes(title: str) -> list[int]:
    """Pids whose title (Dovecot sets ``dovecot-<instance>/<service>``) ends with ``title``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")[0].decode()
            except OSError:
                continue  # gone meanwhile
            if cmdline.endswith(title):
                found.append(int(entry.name))
    return found


def _uid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("Uid:", 1)[1].split()[0])


@dovecot_test
def test_one_login_process_and_the_users_it_runs_as(dovecot: DovecotServer, token: str) -> None:
    """One long-lived imap-login serves every connection (2.3's short-lived ones crash now and
    then); run as root, it is unprivileged and chrooted, and mail runs as uid 5000."""
    instance = f"dovecot-o365imap-sandbox-{dovecot.imap_port}"
    conns = []
    try:
        for _ in range(4):  # TLS: the login process stays as the proxy of each
            sock = socket.create_connection((dovecot.host, dovecot.imaps_port), timeout=10)
            conns.append(
                RawImap(tls_context(dovecot).wrap_socket(sock, server_hostname=dovecot.host))
            )
        _, done = conns[0].command(f"AUTHENTICATE XOAUTH2 {xoauth2(ALICE, token)}")
        assert done.startswith(b"OK"), done
        logins = _processes(f"{instance}/imap-login")
        assert len(logins) == 1, logins
        mail = _processes(f"{instance}/imap")
        assert mail
        if dovecot.as_root:
            login_root = os.readlink(f"/proc/{logins[0]}/root")
            assert login_root == str(dovecot.base_dir / "login")
            assert _uid(logins[0]) != 0
            assert {_uid(pid) for pid in mail} == {5000}
            assert {os.readlink(f"/proc/{pid}/root") for pid in mail} == {
                str(dovecot.root / "mail")
            }
    finally:
        for conn in conns:
            conn.close()


# -- Dovecots that fail: one sentence and the fix ------------------------------------------------


def _fake(tmp_path: Path, script: str) -> DovecotInstall:
    """A `dovecot` that answers ``--version`` and runs ``script`` for anything else."""
    fake = tmp_path / "fake-dovecot"
    fake.write_text(
        f'#!/bin/sh\nif [ "$1" = --version ]; then echo "2.3.99 (fake)"; exit 0; fi\n{script}\n'
    )
    fake.chmod(0o755)
    return DovecotInstall(fake)


def _start_failure(tmp_path: Path, script: str) -> str:
    """The message of the DovecotStartError a fake Dovecot running ``script`` ends in."""
    server = DovecotServer(tmp_path / "root", install=_fake(tmp_path, script))
    with pytest.raises(DovecotStartError) as failure:
        server.start()
    assert not server.running
    message = str(failure.value)
    assert "\n" not in message
    return message


def test_a_configuration_no_language_fits_is_named(tmp_path: Path) -> None:
    message = _start_failure(
        tmp_path, "echo 'doveconf: Fatal: Unknown setting: bogus' >&2; exit 89"
    )
    assert message.startswith("Dovecot 2.3.99 refused the sandbox's configuration: ")
    assert "Unknown setting: bogus" in message
    assert UPGRADE_COMMAND in message


def test_an_auth_process_that_dies_at_start_is_named_at_once(tmp_path: Path) -> None:
    # doveconf accepts; the running Dovecot logs a fatal line and stays up (as 2.3's master
    # does when its auth process refuses the oauth2 file): no waiting for the 10 s deadline.
    message = _start_failure(
        tmp_path,
        'if [ "$1" = -n ]; then exit 0; fi\n'
        "echo 'auth: Fatal: oauth2 x.conf.ext: Unknown setting: introspection_mode' >&2\n"
        "exec sleep 30",
    )
    assert message.startswith("Dovecot 2.3.99 failed: oauth2 x.conf.ext: Unknown setting: ")
    assert f"upgrade it with `{UPGRADE_COMMAND}`" in message
    assert "within" not in message  # it did not wait for the deadline


def test_a_dovecot_that_exits_is_named_with_its_log(tmp_path: Path) -> None:
    message = _start_failure(
        tmp_path,
        'if [ "$1" = -n ]; then exit 0; fi\n'
        "echo 'Error: ssl_cert: Cannot open file: Permission denied' >&2; exit 89",
    )
    assert message.startswith("Dovecot 2.3.99 exited with status 89: ssl_cert: Cannot open file")
    assert "not on a noexec or read-only mount" in message


def test_missing_dovecot_says_how_to_install(tmp_path: Path) -> None:
    from o365imap.sandbox.dovecot import DovecotNotInstalled

    with pytest.raises(DovecotNotInstalled, match="apt-get install dovecot-imapd"):
        DovecotServer(tmp_path, binary=tmp_path / "no-dovecot")


def test_the_sandbox_command_says_one_sentence_and_exits_3(tmp_path: Path) -> None:
    _fake(tmp_path, "echo 'doveconf: Fatal: Unknown setting: bogus' >&2; exit 89")
    env = dict(
        os.environ,
        O365IMAP_HOME=str(tmp_path / "home"),
        O365IMAP_TOKEN_STORE="file",
        O365IMAP_DOVECOT=str(tmp_path / "fake-dovecot"),
    )
    env.pop("O365IMAP_DOVECOT_ROOT", None)
    done = invoke(["sandbox", "--dir", str(tmp_path / "box")], env)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("o365imap: Dovecot 2.3.99 refused the sandbox's configuration")
    assert "internal error" not in done.stderr


# -- ports asked for -----------------------------------------------------------------------------


@dovecot_test
def test_ports_asked_for_are_used_or_refused(tmp_path: Path) -> None:
    server = DovecotServer(tmp_path / "a")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        held = holder.getsockname()[1]
        free = free_ports(1)[0]
        with pytest.raises(PortsInUse, match=rf"port {held} on 127.0.0.1 is in use"):
            server.start((free, held))
        assert not server.running
        # only preferred: the free one kept, the taken one replaced
        with server.start(preferred=(free, held)):
            assert server.imap_port == free
            assert server.imaps_port != held
    one, two = free_ports(2)
    with server.start((one, two)):
        assert (server.imap_port, server.imaps_port) == (one, two)


@dovecot_test
def test_without_the_audience_setting_the_scope_still_refuses_other_resources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What Ubuntu's 2.3, Debian 12 before deb12u7 and upstream 2.4 run, forced on any host."""
    found = probe(DovecotInstall.find())
    monkeypatch.setattr(
        DovecotServer, "features", property(lambda self: Features(found.dialect, False, ""))
    )
    with DovecotServer(tmp_path / "no-aud") as server:
        server.add_user(ALICE)
        written = server.config_path.read_text()
        written += "".join(p.read_text() for p in server.root.glob("*.conf.ext"))
        assert not re.search(r"^\s*(oauth2_)?audience\s*=", written, re.M), written
        # aud is not checked here: a forged one with the right scope claim gets in ...
        forged = server.mint_token(
            ALICE,
            extra_claims={"aud": "https://graph.microsoft.com", "scope": server.required_scope},
        )
        assert _authenticate(server, forged).startswith(b"OK")
        # ... but a token the emulator issues for another resource does not
        graph = TokenSigner(server.signer.private_key, audience="https://graph.microsoft.com")
        token = graph.mint(ALICE, scopes=("https://outlook.office.com/IMAP.AccessAsUser.All",))
        assert _authenticate(server, token).startswith(b"NO [AUTHENTICATIONFAILED]")


@dovecot_test
def test_a_folder_whose_path_dovecot_cannot_hold_runs_through_a_link(tmp_path: Path) -> None:
    # macOS's default data folder is ".../Application Support/o365imap": a space.
    root = tmp_path / "Application Support" / "o365imap 100%"
    with DovecotServer(root) as server:
        server.add_user(ALICE)
        assert _authenticate(server, server.mint_token(ALICE)).startswith(b"OK")
        assert " " not in server.config_path.read_text().split("base_dir = ", 1)[1].split()[0]


def test_features_describe_how_the_audience_is_checked() -> None:
    assert "checks the token's audience" in Features("2.3", True).describe_audience()
    assert "scope" in Features("2.3", False).describe_audience()
