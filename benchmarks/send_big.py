"""Issue 13's benchmark: sending one message of about 30 MB, time and peak memory.

One attachment of 22 MiB of pseudo-random bytes (30 MB once base64-encoded, the size the issue
names). Three ways to send it, each in a process of its own started by save_big's launcher
(``ru_maxrss`` from ``os.wait4``, see save_big.py for why a launcher), to the same loopback
SMTP sink (aiosmtpd in this process, plain SMTP, XOAUTH2 accepted):

a. o365imap, the command: ``o365imap send --attach big.bin ...`` (the message written to a
   temporary file by o365imap.compose, then streamed to the socket);
b. o365imap, the library with an ``EmailMessage`` built by the caller (``add_attachment`` of
   the bytes): ``SmtpSender.send(message)``;
c. stdlib: the same ``EmailMessage``, ``smtplib.SMTP.auth`` + ``send_message``.

Two more processes set the scale: one imports what (b) imports and sends nothing (the
interpreter's own RSS, to subtract), one also builds the EmailMessage (what the caller's
message costs before any library touches it). ``O365IMAP_BENCH_SEND_MB`` sets the attachment's size (default 22 MiB).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

MARK_START = "<!-- send-big:start -->"
MARK_END = "<!-- send-big:end -->"
USER = "adele.vance@contoso.example"
TOKEN = "bench-token"  # noqa: S105 - the sink accepts any token

WORKER = r"""
import smtplib, sys, time
from email.message import EmailMessage
from pathlib import Path
key, port, path, user, token = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], sys.argv[5]

def message():
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = user, "bob@fabrikam.example", "big"
    m.set_content("see attached")
    m.add_attachment(path.read_bytes(), maintype="application", subtype="octet-stream",
                     filename=path.name)
    return m

start = time.perf_counter()
if key == "library":
    from o365imap.smtp import SmtpSender
    with SmtpSender("127.0.0.1", port, security="plain") as sender:
        sender.authenticate_oauth(user, token)
        sender.send(message())
elif key == "stdlib":
    import base64
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        raw = f"user={user}\x01auth=Bearer {token}\x01\x01"
        smtp.ehlo()
        smtp.auth("XOAUTH2", lambda challenge=None: raw, initial_response_ok=True)
        smtp.send_message(message())
elif key == "baseline":
    from o365imap.smtp import SmtpSender
elif key == "build":
    from o365imap.smtp import SmtpSender
    built = message()
print(time.perf_counter() - start)
"""


def _sink() -> Any:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    class Handler:
        received = 0

        async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
            if len(args) < 2:
                await server.challenge_auth("")
            return AuthResult(success=True)

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            Handler.received += 1
            return "250 OK"

    import socket

    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        auth_require_tls=False,
        data_size_limit=0,
    )
    controller.start()
    return controller, port, Handler


def run(runs: int = 3) -> dict[str, Any]:
    from save_big import launch

    size = int(float(os.environ.get("O365IMAP_BENCH_SEND_MB", "22")) * 1024 * 1024)
    results: dict[str, Any] = {}
    controller, port, _handler = _sink()
    try:
        with tempfile.TemporaryDirectory(prefix="o365imap-send-") as tmp:
            big = Path(tmp) / "big.bin"
            big.write_bytes(os.urandom(size))
            env = {**os.environ, "O365IMAP_HOME": str(Path(tmp) / "home")}
            errors = Path(tmp) / "stderr"
            cli = str(Path(sys.executable).with_name("o365imap"))
            commands = {
                "baseline": [sys.executable, "-c", WORKER, "baseline"],
                "command": [cli, "send", "--to", "bob@fabrikam.example", "--subject", "big",
                            "--body", "see attached", "--attach", str(big),
                            "--smtp-host", "127.0.0.1", "--smtp-port", str(port),
                            "--smtp-security", "plain", "--user", USER,
                            "--access-token", TOKEN, "--json"],
                "build": [sys.executable, "-c", WORKER, "build"],
                "library": [sys.executable, "-c", WORKER, "library"],
                "stdlib": [sys.executable, "-c", WORKER, "stdlib"],
            }  # fmt: skip
            for key, command in commands.items():
                argv = command if key == "command" else [*command, str(port), str(big), USER, TOKEN]
                walls, rss = [], []
                for _ in range(runs):
                    report = launch(argv, env, errors)
                    if report["returncode"] != 0:
                        raise RuntimeError(f"{key}: {errors.read_text()[-800:]}")
                    walls.append(report["wall"])
                    rss.append(report["maxrss_kb"] / 1024)
                results[key] = {"seconds": statistics.median(walls), "rss_mb": max(rss)}
    finally:
        controller.stop()
    results["size_mb"] = size * 4 / 3 / 1e6  # on the wire, base64
    return results


def ratio(results: dict[str, Any], key: str) -> float:
    """Peak RSS above the interpreter's, in multiples of the message's size."""
    above = max(results[key]["rss_mb"] - results["baseline"]["rss_mb"], 0.0)
    return float(above / results["size_mb"])


def markdown(results: dict[str, Any], compose: list[str] | None = None) -> str:
    base = results["baseline"]["rss_mb"]
    size = results["size_mb"]
    labels = {
        "command": "o365imap send --attach (compose to a temporary file, streamed)",
        "build": "(building that EmailMessage alone, nothing sent)",
        "library": "o365imap SmtpSender.send(EmailMessage) (caller's message in memory)",
        "stdlib": "stdlib smtplib send_message(EmailMessage)",
    }
    lines = [
        MARK_START,
        f"## 7. Sending one message of {size:.0f} MB (SMTP, loopback sink)",
        "",
        f"An attachment of {size * 3 / 4:.0f} MB of random bytes, {size:.0f} MB once encoded. "
        "Wall time of the whole process (interpreter start, imports, connect, AUTH, send); peak "
        f"RSS from `wait4`, and above the interpreter's own ({base:.0f} MB with o365imap "
        "imported). Median of 3 runs; largest RSS.",
        "",
        "| how | time | peak RSS | above the interpreter | x message size |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, label in labels.items():
        found = results[key]
        above = max(found["rss_mb"] - base, 0.0)
        lines.append(
            f"| {label} | {found['seconds']:.2f} s | {found['rss_mb']:.0f} MB | "
            f"{above:.0f} MB | {ratio(results, key):.2f}x |"
        )
    built = results["build"]["rss_mb"]
    lines += [
        "",
        f"The caller's own EmailMessage costs {built - base:.0f} MB before any library sees it "
        "(the attachment read whole, then base64 in the message); on top of it o365imap adds "
        f"{results['library']['rss_mb'] - built:.0f} MB (the message is written part by part "
        f"to a temporary file and streamed), smtplib's send_message "
        f"{results['stdlib']['rss_mb'] - built:.0f} MB (the generator renders every part into "
        "a buffer, then the whole message into one bytes object). The command never builds "
        "an EmailMessage: the attachment goes from its file to the socket through a temporary "
        "file, in chunks.",
    ]
    if compose:
        lines += ["", *compose]
    lines += ["", MARK_END]
    return "\n".join(lines)


def compose_report() -> list[str]:
    """bench_compose's table, from a process of its own: its workers' peak RSS would carry
    this process's (see save_big.py on ``wait4``)."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("bench_compose.py")), "--table"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


def main() -> None:
    """Only this benchmark: its section of docs/benchmarks.md rewritten in place."""
    from save_big import DOC

    section = markdown(run(), compose_report())
    text = DOC.read_text(encoding="utf-8")
    start, end = text.find(MARK_START), text.find(MARK_END)
    if start >= 0 and end > start:
        DOC.write_text(text[:start] + section + text[end + len(MARK_END) :], encoding="utf-8")
    print(section)


if __name__ == "__main__":
    main()
