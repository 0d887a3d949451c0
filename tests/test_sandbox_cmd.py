"""`o365imap sandbox` as a fixed test bed: ports that stay, a mailbox that grows on request.

Other mail clients (mbsync, neomutt, offlineimap) are configured with the sandbox's ports, and a
saved sign-in names the sign-in service's port: a restart in the same folder keeps all three.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_runner import invoke
from o365imap.sandbox.dovecot_process import free_ports
from o365imap.sandbox.environment import SANDBOX_USER, Sandbox
from o365imap.sandbox.state import STATE_FILE, SandboxPorts, SandboxState
from test_signin import Login, SandboxProcess, cli_env, run, sign_in

pytestmark = pytest.mark.dovecot


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _bulk_count(box: Sandbox) -> int:
    import imaplib
    import ssl

    context = ssl.create_default_context(cafile=str(box.ca_file))
    conn = imaplib.IMAP4_SSL("127.0.0.1", box.dovecot.imaps_port, ssl_context=context)
    try:
        token = box.dovecot.mint_token(SANDBOX_USER)
        conn.authenticate(
            "XOAUTH2", lambda _: f"user={SANDBOX_USER}\x01auth=Bearer {token}\x01\x01".encode()
        )
        _, data = conn.status("Bulk", "(MESSAGES)")
    finally:
        conn.logout()
    raw = data[0]
    assert isinstance(raw, bytes)
    return int(raw.rsplit(b" ", 1)[1].rstrip(b")"))


def test_a_restart_in_the_same_folder_keeps_its_ports(tmp_path: Path) -> None:
    with Sandbox(tmp_path, bulk_count=5) as box:
        first = (box.dovecot.imap_port, box.dovecot.imaps_port, box.identity.port)
        smtp = (box.smtp_port, box.smtps_port)
        authority = box.profile().authority
    saved = json.loads((tmp_path / STATE_FILE).read_text())
    names = ("imap", "imaps", "identity", "submission", "submissions")
    assert saved["ports"] == dict(zip(names, first + smtp, strict=True))
    assert saved["dovecot"]["dialect"] in ("2.3", "2.4")
    with Sandbox(tmp_path, bulk_count=5) as box:
        assert (box.dovecot.imap_port, box.dovecot.imaps_port, box.identity.port) == first
        assert (box.smtp_port, box.smtps_port) == smtp
        assert box.profile().authority == authority
    # The last run's port taken by someone else: another one, and the sandbox still starts.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", first[1]))
        holder.listen()
        with Sandbox(tmp_path, bulk_count=5) as box:
            assert box.dovecot.imaps_port != first[1]
            assert box.dovecot.imap_port == first[0]


def test_ports_asked_for_win_and_a_taken_one_is_exit_1(tmp_path: Path) -> None:
    imap, imaps, identity, smtp, smtps = (_free_port() for _ in range(5))
    ports = SandboxPorts(imap, imaps, identity, smtp, smtps)
    with Sandbox(tmp_path / "a", bulk_count=5, ports=ports) as box:
        assert (box.dovecot.imap_port, box.dovecot.imaps_port, box.identity.port) == (
            imap,
            imaps,
            identity,
        )
        assert (box.smtp_port, box.smtps_port) == (smtp, smtps)
        assert SandboxState.load(tmp_path / "a") == SandboxState(ports, box.dovecot.features)
        # While it runs, a second sandbox asked for its TLS port gets one sentence, exit 1.
        done = _sandbox_fails(tmp_path, tmp_path / "b", "--tls-port", str(imaps), "--messages", "5")
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == (
        f"o365imap: port {imaps} on 127.0.0.1 is in use: choose another or stop the program "
        "that holds it."
    )


def test_more_messages_on_a_seeded_folder_adds_the_difference(tmp_path: Path) -> None:
    with Sandbox(tmp_path, bulk_count=10) as box:
        assert box.seeding is not None and box.seeding.new
        assert _bulk_count(box) == 10
    with Sandbox(tmp_path, bulk_count=25) as box:
        assert box.seeding is not None
        assert (box.seeding.count, box.seeding.added, box.seeding.new) == (25, 15, False)
        assert _bulk_count(box) == 25
    with Sandbox(tmp_path, bulk_count=5) as box:
        assert box.seeding is not None
        assert (box.seeding.count, box.seeding.added) == (25, 0)
        assert _bulk_count(box) == 25


def test_the_banner_says_what_happened_to_the_mailbox(tmp_path: Path) -> None:
    home, folder = tmp_path / "home", tmp_path / "box"
    first = SandboxProcess(home, folder, "--messages", "8")
    first.stop()
    assert "Bulk folder      8 messages (seeded now)" in first.banner
    again = SandboxProcess(home, folder, "--profile", "sandbox")  # no --messages: just the count
    again.stop()
    assert "Bulk folder      8 messages\n" in again.banner
    assert again.port("TLS") == first.port("TLS")
    assert again.port("STARTTLS") == first.port("STARTTLS")
    more = SandboxProcess(home, folder, "--messages", "12")
    more.stop()
    assert "Bulk folder      12 messages (4 added for --messages 12)" in more.banner
    fewer = SandboxProcess(home, folder, "--messages", "3")
    fewer.stop()
    assert "12 messages: --messages 3 removes none (a smaller mailbox needs another --dir)" in (
        fewer.banner
    )
    assert "Dovecot          2." in fewer.banner


def test_doctor_says_how_the_sandbox_checks_the_audience(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Sandbox(tmp_path / "box", bulk_count=5) as box:
        from o365imap.auth import ProfileStore

        box.save_profile(ProfileStore(home / "profiles.toml"))
        sign_in(home, box)
        doctor = run(home, "doctor", "--profile", "sandbox")
        features = box.dovecot.features
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert f"sandbox Dovecot {features.version}: {features.describe_audience()}" in doctor.stdout


def _approve(home: Path, target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "o365imap.sandbox.approve", target],
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_no_browser_sign_in_is_finished_from_a_shell(tmp_path: Path) -> None:
    """The README's recipe: the URL login --no-browser prints, given to the approve helper."""
    home = tmp_path / "home"
    with Sandbox(tmp_path / "box", bulk_count=5) as box:
        from o365imap.auth import ProfileStore

        box.save_profile(ProfileStore(home / "profiles.toml"))
        login = Login(home, "login", "--profile", "sandbox", "--no-browser")
        approved = _approve(home, login.wait_url())
        assert approved.returncode == 0, approved.stdout + approved.stderr
        assert "Authorization successful" in approved.stdout
        code, err = login.finish()
        assert code == 0, err
        assert run(home, "info", "INBOX", "--profile", "sandbox").returncode == 0


def test_a_device_code_sign_in_is_finished_from_a_shell(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Sandbox(tmp_path / "box", bulk_count=5) as box:
        from o365imap.auth import ProfileStore

        box.save_profile(ProfileStore(home / "profiles.toml"))
        box.identity.device_poll_interval = 1
        login = Login(home, "login", "--profile", "sandbox", "--flow", "device-code")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any("enter the code" in x for x in login.lines):
            time.sleep(0.05)
        found = re.search(r"enter the code (\S+)", "".join(login.lines))
        assert found, login.lines
        wrong = _approve(home, "NOTACODE")
        assert wrong.returncode == 1 and "didn't work" in wrong.stdout
        approved = _approve(home, found.group(1))
        assert approved.returncode == 0, approved.stdout + approved.stderr
        code, err = login.finish()
        assert code == 0, err


def test_a_sign_in_survives_a_restart_of_the_sandbox_command(tmp_path: Path) -> None:
    """Tokens of 5 s: every command needs a refresh, so the refresh token must still count."""
    home, folder = tmp_path / "home", tmp_path / "box"
    first = SandboxProcess(home, folder, "--messages", "5", "--token-lifetime", "5")
    try:
        login = Login(home, "login", "--profile", "sandbox", "--no-browser")
        assert _approve(home, login.wait_url()).returncode == 0
        assert login.finish()[0] == 0
    finally:
        first.stop()
    again = SandboxProcess(home, folder, "--token-lifetime", "5")
    try:
        for _ in range(2):  # the second refresh uses the token the first one rotated in
            listing = run(home, "info", "INBOX", "--json", "--profile", "sandbox")
            assert listing.returncode == 0, listing.stderr
    finally:
        again.stop()


def _sandbox_fails(tmp_path: Path, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``o365imap sandbox`` where it cannot start: it ends at once, in this process."""
    return invoke(["sandbox", "--dir", str(folder), *args], cli_env(tmp_path / "home"))


def test_a_taken_sign_in_port_is_one_sentence_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        held = holder.getsockname()[1]
        done = _sandbox_fails(tmp_path, tmp_path / "box", "--identity-port", str(held))
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == (
        f"o365imap: port {held} on 127.0.0.1 is in use: choose another or stop the program "
        "that holds it."
    )
    # and nothing of it is left running
    config = str(tmp_path / "box" / "dovecot.conf")
    assert not [p for p in Path("/proc").glob("[0-9]*/cmdline") if _reads(p, config)]


def test_a_taken_smtp_port_is_one_sentence_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        held = holder.getsockname()[1]
        done = _sandbox_fails(tmp_path, tmp_path / "box", "--smtp-port", str(held))
    assert done.returncode == 1, done.stderr
    assert f"port {held} on 127.0.0.1 is in use" in done.stderr
    assert done.stderr.count("\n") == 1


def test_the_same_port_twice_is_exit_1(tmp_path: Path) -> None:
    done = _sandbox_fails(
        tmp_path, tmp_path / "box", "--imap-port", "40143", "--smtp-port", "40143"
    )
    assert done.returncode == 1 and "the ports must differ" in done.stderr


def _reads(cmdline: Path, text: str) -> bool:
    try:
        return text.encode() in cmdline.read_bytes()
    except OSError:  # gone meanwhile
        return False


def test_one_port_asked_for_keeps_the_others_of_the_last_run(tmp_path: Path) -> None:
    with Sandbox(tmp_path, bulk_count=5) as box:
        imaps, identity = box.dovecot.imaps_port, box.identity.port
    wanted = free_ports(1)[0]
    with Sandbox(tmp_path, bulk_count=5, ports=SandboxPorts(imap=wanted)) as box:
        assert (box.dovecot.imap_port, box.dovecot.imaps_port, box.identity.port) == (
            wanted,
            imaps,
            identity,
        )


def test_a_second_sandbox_in_a_folder_in_use_changes_nothing(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "box", bulk_count=5) as box:
        before = {p: p.read_bytes() for p in (tmp_path / "box").rglob("*") if p.is_file()
                  and "Maildir" not in p.parts and p.suffix != ".log"}  # fmt: skip
        done = _sandbox_fails(tmp_path, tmp_path / "box")
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith(f"o365imap: another sandbox runs in {tmp_path / 'box'} (pid")
        after = {p: p.read_bytes() for p in before}
        assert after == before
        assert box.dovecot.running


def test_a_folder_with_spaces_runs(tmp_path: Path) -> None:
    """macOS's default data folder is ~/Library/Application Support/o365imap."""
    home = tmp_path / "home"
    box = SandboxProcess(home, tmp_path / "Application Support" / "o365imap", "--messages", "5")
    try:
        login = Login(home, "login", "--profile", "sandbox", "--no-browser")
        assert _approve(home, login.wait_url()).returncode == 0
        assert login.finish()[0] == 0
        listing = run(home, "info", "INBOX", "--json", "--profile", "sandbox")
        assert listing.returncode == 0, listing.stderr
    finally:
        box.stop()
