"""What the in-process runner (tests/cli_runner.py) shows differently from a process.

A command run by ``invoke`` shares this process with the test's servers, with pytest's logging
capture and with its warnings recorder. These tests hold the runner to its promise ("as
``subprocess.run(..., capture_output=True)`` would run it"): each states what a real process
shows, and fails while the runner shows something else.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli_runner import in_own_process, invoke
from conftest import ALICE, PUBLIC_ID
from o365imap.auth import Profile, ProfileStore
from o365imap.sandbox.identity import IdentityEmulator


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("O365IMAP_")}
    env.update(O365IMAP_HOME=str(home), O365IMAP_TOKEN_STORE="file")
    return env


def _profile(home: Path, emulator: IdentityEmulator) -> None:
    ProfileStore(home / "profiles.toml").save(
        Profile(
            name="p",
            client_id=PUBLIC_ID,
            authority=emulator.authority(),
            ca_file=str(emulator.ca_file),
            user=ALICE,
        )
    )


def test_a_commands_stderr_holds_none_of_the_servers_log(
    tmp_path: Path, emulator: IdentityEmulator
) -> None:
    """The identity emulator runs in the test's process and logs under ``o365imap.sandbox``;
    ``--debug`` hangs the command's stderr handler on ``o365imap``: the server's lines land in
    the command's stderr, which a real ``o365imap`` (another process) never shows."""
    _profile(tmp_path, emulator)
    result = invoke(["--debug", "token", "--profile", "p"], _env(tmp_path))
    assert result.returncode == 2, result.stderr  # no saved sign-in
    server_lines = [
        line for line in result.stderr.splitlines() if line.startswith("o365imap.sandbox")
    ]
    assert not server_lines, "\n".join(server_lines)


def test_the_same_command_in_a_process_shows_no_server_lines(
    tmp_path: Path, emulator: IdentityEmulator
) -> None:
    """The reference for the test above: what a process of its own prints."""
    _profile(tmp_path, emulator)
    result = in_own_process(["--debug", "token", "--profile", "p"], _env(tmp_path))
    assert result.returncode == 2, result.stderr
    server_lines = [
        line for line in result.stderr.splitlines() if line.startswith("o365imap.sandbox")
    ]
    assert not server_lines, "\n".join(server_lines)


# What a stray warning looks like, from a library the command uses: Python's warnings and a
# third party's logger (msal warns through both). A process prints both on stderr.
_PATCH = """
import logging, warnings
from o365imap.cli import mailbox
from o365imap.errors import UsageError
def open_client(*args, **kwargs):
    warnings.warn("careful-warning", UserWarning)
    logging.getLogger("msal").warning("careful-log")
    raise UsageError("stopped here")
mailbox.open_client = open_client
"""
_ARGS = ["folders", "--host", "127.0.0.1", "--user", "u@example.com", "--access-token", "t"]


def test_in_a_process_a_librarys_warnings_reach_stderr(tmp_path: Path) -> None:
    """The reference: ``o365imap folders`` in a process of its own, patched as below."""
    import subprocess
    import sys

    code = _PATCH + f"from o365imap.cli import main\nmain({_ARGS!r})\n"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "UserWarning: careful-warning" in result.stderr
    assert "careful-log" in result.stderr


def test_in_process_a_librarys_warnings_reach_stderr_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same command through ``invoke``: pytest's warning recorder and its log handlers on
    the root logger take both, so a test of "stderr is exactly one sentence" passes where the
    real command prints three lines."""
    namespace: dict[str, object] = {}
    exec(_PATCH.replace("mailbox.open_client = open_client", ""), namespace)  # noqa: S102
    from o365imap.cli import mailbox

    monkeypatch.setattr(mailbox, "open_client", namespace["open_client"])
    result = invoke(_ARGS, _env(tmp_path))
    assert result.returncode == 1, result.stderr
    assert "UserWarning: careful-warning" in result.stderr
    assert "careful-log" in result.stderr
