"""``make demo``: the main job, offline, against a private Dovecot seeded with realistic mail.

Starts Dovecot on loopback (TLS with its own CA, OAuth tokens validated by Dovecot itself),
seeds a mailbox, mints an access token the way the identity platform would, then runs the
``o365imap`` commands a new user would run and shows their output. Everything is stopped and
deleted at the end. (Signing in through the identity-platform emulator replaces the minted
token once the sandbox grows one.)
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from o365imap.sandbox.dovecot import DovecotError, DovecotServer
from o365imap.sandbox.seed import seed_testbed

USER = "adele.vance@contoso.example"


def _run(args: list[str], env: dict[str, str], note: str) -> None:
    shown = " ".join(shlex.quote(a) for a in ["o365imap", *args])
    print(f"\n\033[1m# {note}\033[0m\n$ {shown}", flush=True)
    result = subprocess.run([sys.executable, "-m", "o365imap", *args], env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"demo step failed with exit code {result.returncode}: {shown}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="o365imap-demo-") as tmp:
        try:
            server = DovecotServer(Path(tmp))
        except DovecotError as exc:
            print(f"o365imap demo: {exc}", file=sys.stderr)
            return 1
        with server:
            started = time.perf_counter()
            bed = seed_testbed(server, USER)
            count = sum(len(m) for m in bed.folders.values())
            print(
                f"Sandbox Dovecot on {server.host}:{server.imaps_port} (TLS), "
                f"{count:,} messages in {len(bed.folders)} folders, "
                f"seeded in {time.perf_counter() - started:.1f} s."
            )
            env = dict(
                os.environ,
                O365IMAP_HOST=server.host,
                O365IMAP_USER=USER,
                O365IMAP_CA_FILE=str(server.ca_file),
                O365IMAP_ACCESS_TOKEN=server.mint_token(USER),
                COLUMNS=os.environ.get("COLUMNS", "120"),
            )
            port = ["--port", str(server.imaps_port)]
            print(
                "Connection settings come from O365IMAP_HOST, O365IMAP_USER, O365IMAP_CA_FILE "
                "and O365IMAP_ACCESS_TOKEN (a token Dovecot validates like Office 365 would)."
            )
            _run(["folders", *port], env, "The folders, special-use ones marked")
            _run(["info", "INBOX", *port], env, "Counts of a folder (read-only EXAMINE)")
            _run(["list", "INBOX", "--page-size", "15", *port], env, "The newest 15 messages")
            _run(
                ["list", "Entwürfe", "--json", *port],
                env,
                "A folder with a non-ASCII name, as JSON Lines for scripts",
            )
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "o365imap", "list", "Bulk", "--all", "--json", *port],
                env=env,
                check=True,
                capture_output=True,
            )
            lines = result.stdout.count(b"\n")
            print(
                "\n\033[1m# Every message of a 20,000-message folder, one FETCH 1:*\033[0m\n"
                f"$ o365imap list Bulk --all --json | wc -l\n{lines}\n"
                f"({time.perf_counter() - started:.2f} s including start-up and sign-in)"
            )
    print("\nSandbox stopped and removed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
