"""Faults on the wire during ``list --all --json`` and ``save``, against Dovecot.

A proxy between the CLI and Dovecot cuts the connection, or lets it go silent, once so many
bytes have come from the server; the offsets are drawn at random from a fixed seed over the
whole exchange (TLS handshake, sign-in, the listing or the download). Every connection is cut,
reconnects included. Whatever the offset, the run ends in exit 3 with one sentence on stderr
(or exit 0 with everything, when the cut came after the end); what it printed is a prefix of
the full output in whole lines; the folder of a save holds only complete files, and no
temporary file.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from conftest import ALICE
from cutting_proxy import CuttingProxy
from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.seed import Testbed
from test_cli import run

SEED = 20261210
OFFSETS_PER_RUN = 5


def _options(proxy: CuttingProxy, dovecot: DovecotServer) -> list[str]:
    return [
        "--host", "127.0.0.1", "--port", str(proxy.port), "--ca-file", str(dovecot.ca_file),
        "--user", ALICE, "--timeout", "3",
    ]  # fmt: skip


def _faults(dovecot: DovecotServer, args: list[str], token: str) -> tuple[str, list[int]]:
    """The full output of ``args`` through a proxy that cuts nothing, and the offsets to try."""
    with CuttingProxy((dovecot.host, dovecot.imaps_port)) as proxy:
        full = run([*args, *_options(proxy, dovecot)], token)
        total = proxy.relayed
    assert full.returncode == 0, full.stderr
    rng = random.Random(f"{SEED} {args[0]}")
    # A few past the end too: those runs must succeed whole.
    offsets = sorted(rng.randrange(0, total + total // 20) for _ in range(OFFSETS_PER_RUN))
    return full.stdout, offsets


def _check_ending(stdout: str, stderr: str, code: int, full: str, where: str) -> None:
    if code == 0:
        assert stdout == full, where
        return
    assert code == 3, f"{where}: exit {code}, {stderr!r}"
    assert stderr.startswith("o365imap: ") and stderr.count("\n") == 1, f"{where}: {stderr!r}"
    assert "Traceback" not in stderr
    assert stdout == "" or stdout.endswith("\n"), f"{where}: a truncated line"
    assert full.startswith(stdout), f"{where}: not a prefix of the full output"


@pytest.mark.parametrize("stall", [False, True], ids=["cut", "stall"])
def test_list_all_json_through_faults(
    dovecot: DovecotServer, testbed: Testbed, token: str, stall: bool
) -> None:
    args = ["list", "INBOX", "--all", "--json"]
    full, offsets = _faults(dovecot, args, token)
    assert full.count("\n") >= 5  # enough lines for a cut to fall between them
    for offset in offsets:
        proxy = CuttingProxy(
            (dovecot.host, dovecot.imaps_port), cut_after=offset, cuts=100, stall=stall
        )
        with proxy:
            result = run([*args, *_options(proxy, dovecot)], token)
        where = f"{'stall' if stall else 'cut'} at byte {offset}"
        _check_ending(result.stdout, result.stderr, result.returncode, full, where)


@pytest.mark.parametrize("stall", [False, True], ids=["cut", "stall"])
def test_save_through_faults(
    dovecot: DovecotServer, testbed: Testbed, token: str, tmp_path: Path, stall: bool
) -> None:
    msg = testbed.tagged("unnamed-parts", "Attachments")  # four parts, one of 3 MB
    whole = tmp_path / "whole"
    args = ["save", str(msg.uid), "Attachments", "--json", "--dir"]
    full, offsets = _faults(dovecot, [*args, str(whole)], token)
    expected = {p.name: p.read_bytes() for p in whole.iterdir()}
    assert len(expected) >= 2
    for i, offset in enumerate(offsets):
        folder = tmp_path / f"run-{i}"
        proxy = CuttingProxy(
            (dovecot.host, dovecot.imaps_port), cut_after=offset, cuts=100, stall=stall
        )
        with proxy:
            result = run([*args, str(folder), *_options(proxy, dovecot)], token)
        where = f"{'stall' if stall else 'cut'} at byte {offset}"
        _check_ending(
            result.stdout,
            result.stderr,
            result.returncode,
            full.replace(str(whole), str(folder)),
            where,
        )
        left = list(folder.iterdir()) if folder.exists() else []
        assert [p.name for p in left if p.name.startswith(".")] == [], where
        for path in left:
            assert path.read_bytes() == expected[path.name], f"{where}: {path.name} incomplete"
