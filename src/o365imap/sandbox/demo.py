"""``make demo``: the main job, offline: sign in for real, then read the mailbox.

Starts the sandbox (the identity-platform emulator and a private Dovecot that trusts its
tokens, on loopback, with a seeded mailbox), then runs the ``o365imap`` commands a new user
runs: ``login`` goes through the real authorization-code flow (PKCE, the emulator's sign-in
page, the redirect to o365imap's loopback listener), with an HTTP client standing in for the
browser; then the folders, a folder's counts, the newest messages, a folder with a non-ASCII
name as JSON, and a 20,000-message folder listed in one FETCH. Everything is stopped and
deleted at the end; the user's own profiles are not touched. Then a message with an
attachment is sent through the sandbox's submission server and found in the inbox and, as
Exchange files it, in Sent; three folders are backed up as Maildir and verified.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from o365imap.auth import ProfileStore
from o365imap.errors import SandboxError
from o365imap.sandbox.approve import approve_sign_in
from o365imap.sandbox.environment import SANDBOX_PASSWORD, SANDBOX_USER, Sandbox
from o365imap.sandbox.mailsamples import attachment_messages


def _run(args: list[str], env: dict[str, str], note: str) -> None:
    shown = " ".join(shlex.quote(a) for a in ["o365imap", *args])
    print(f"\n\033[1m# {note}\033[0m\n$ {shown}", flush=True)
    result = subprocess.run([sys.executable, "-m", "o365imap", *args], env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"demo step failed with exit code {result.returncode}: {shown}")


def _login(env: dict[str, str], box: Sandbox) -> None:
    shown = "o365imap login --profile sandbox --no-browser"
    print(f"\n\033[1m# Sign in (authorization code + PKCE, loopback redirect)\033[0m\n$ {shown}")
    process = subprocess.Popen(
        [sys.executable, "-m", "o365imap", "login", "--profile", "sandbox", "--no-browser"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        print(line, end="")
        if line.startswith("https://"):
            print("(an HTTP client signs in on that page as the user would, and accepts)")
            answer = approve_sign_in(
                line.strip(),
                username=SANDBOX_USER,
                password=SANDBOX_PASSWORD,
                ca_file=str(box.ca_file),
            )
            print(f"(the browser's last page says: {_page_heading(answer.text)})")
    if process.wait(timeout=60) != 0:
        raise SystemExit("demo step failed: o365imap login")


def _page_heading(page: str) -> str:
    start = page.find("<h1")
    if start < 0:
        return page[:80]
    start = page.find(">", start) + 1
    return page[start : page.find("</h1>", start)]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="o365imap-demo-") as tmp:
        home = Path(tmp) / "home"
        env = dict(
            os.environ,
            O365IMAP_HOME=str(home),
            O365IMAP_TOKEN_STORE="file",  # noqa: S106 - a setting, not a secret
            COLUMNS=os.environ.get("COLUMNS", "120"),
        )
        for key in ("O365IMAP_ACCESS_TOKEN", "O365IMAP_USER", "O365IMAP_HOST", "O365IMAP_CA_FILE"):
            env.pop(key, None)
        started = time.perf_counter()
        try:
            box = Sandbox(Path(tmp) / "sandbox", bulk_count=20_000).start()
        except SandboxError as exc:
            print(f"o365imap demo: {exc}.", file=sys.stderr)
            return 3
        with box:
            box.save_profile(ProfileStore(home / "profiles.toml"))
            info = box.info()
            print(
                f"Sandbox: sign-in service {info.authority}, IMAP {info.imap_host}:"
                f"{info.imap_port} (TLS), SMTP {info.smtp_host}:{info.smtp_port} (STARTTLS), "
                f"account {info.user}; started and seeded in "
                f"{time.perf_counter() - started:.1f} s."
            )
            _login(env, box)
            profile = ["--profile", "sandbox"]
            _run(["whoami", *profile], env, "Who is signed in, with what, until when")
            _run(["folders", *profile], env, "The folders, special-use ones marked")
            _run(["info", "INBOX", *profile], env, "Counts of a folder (read-only EXAMINE)")
            _run(["list", "INBOX", "--page-size", "15", *profile], env, "The newest 15 messages")
            _run(
                ["list", "Entwürfe", "--json", *profile],
                env,
                "A folder with a non-ASCII name, as JSON Lines for scripts",
            )
            # The Attachments folder's messages get UIDs in the order mailsamples lists them.
            uids = {
                tag: str(number)
                for number, msg in enumerate(attachment_messages(info.user), 1)
                for tag in msg.tags
            }
            _run(
                ["show", uids["html-only"], "Attachments", *profile],
                env,
                "Open an HTML-only message: readable text from the HTML, and its parts",
            )
            _run(
                ["show", uids["bounce-office365"], "Attachments", *profile],
                env,
                "A bounce: to whom the message did not go, why, and the message returned",
            )
            saved = str(Path(tmp) / "saved")
            os.mkdir(saved)
            _run(
                ["save", uids["hostile-names"], "Attachments", "--dir", saved, *profile],
                env,
                "Save attachments with hostile names: every file stays inside --dir",
            )
            _run(
                ["save", uids["tnef"], "Attachments", "--dir", saved, "--json", *profile],
                env,
                "Outlook's winmail.dat, unpacked into the files it carries (JSON Lines)",
            )
            report = Path(tmp) / "Übersicht März.pdf"
            report.write_bytes(b"%PDF-1.4\n% o365imap demo\n" + bytes(range(256)) * 64)
            _run(
                [
                    "send", "--to", info.user, "--subject", "Bericht für März",
                    "--body", "Anbei der Bericht.", "--attach", str(report), *profile,
                ],
                env,
                "Send (SMTP AUTH with the same sign-in, STARTTLS, XOAUTH2) an attachment",
            )  # fmt: skip
            _run(
                ["list", "INBOX", "--page-size", "3", *profile],
                env,
                "It arrived: the newest messages of the inbox",
            )
            _run(
                ["list", "Sent", "--page-size", "3", *profile],
                env,
                "And, as Exchange does, a copy in Sent",
            )
            backup = str(Path(tmp) / "backup")
            _run(
                ["export", backup, "INBOX", "Sent", "Отчёты/2024", *profile],
                env,
                "Back up folders as Maildir (incremental: a rerun fetches only what is new)",
            )
            _run(
                ["export", backup, "--verify", *profile],
                env,
                "Compare the backup with the server",
            )
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "o365imap", "list", "Bulk", "--all", "--json", *profile],
                env=env,
                check=True,
                capture_output=True,
            )
            lines = result.stdout.count(b"\n")
            print(
                "\n\033[1m# Every message of a 20,000-message folder, one FETCH 1:*\033[0m\n"
                f"$ o365imap list Bulk --all --json --profile sandbox | wc -l\n{lines}\n"
                f"({time.perf_counter() - started:.2f} s including start-up and sign-in)"
            )
    print("\nSandbox stopped and removed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
