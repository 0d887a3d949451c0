"""Issue 13's benchmark: writing a message with a 30 MB attachment, time and peak memory.

The same message (a short text, one attachment of reproducible pseudo-random bytes) written
to a file two ways, each run in a process of its own:

a. o365imap: ``compose.write_message``, which streams the file's base64 into the output;
b. stdlib: ``EmailMessage`` with ``add_attachment(path.read_bytes(), ...)``, flattened by
   ``BytesGenerator`` with ``policy.SMTP`` (what a script would write).

Each worker writes the message once timed, then once more under tracemalloc for the peak of
Python allocations; the parent takes the worker's peak RSS (``ru_maxrss``) from ``os.wait4``.
A third worker, ``imports``, only imports both: the RSS floor of the interpreter and the
libraries, and of what Linux carries over from the forking parent (kept small here: the
attachment is written in 1 MB blocks). The report gives the median time and the largest
peaks over the runs. Size: ``O365IMAP_BENCH_COMPOSE_MB`` (default 30); runs:
``O365IMAP_BENCH_COMPOSE_RUNS`` (default 3). Run it directly: ``python benchmarks/bench_compose.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("imports", "o365imap", "stdlib")
SENDER = "Bench <bench@example.com>"


def make_attachment(path: Path, megabytes: int) -> None:
    generator = random.Random(13)
    with path.open("wb") as handle:
        for _ in range(megabytes):
            handle.write(generator.randbytes(1 << 20))


def write_o365imap(attachment: Path, target: Path) -> None:
    from o365imap.compose import Draft, write_message  # imported before the clock starts

    draft = Draft(
        to=("Ann <ann@example.org>",),
        subject="The figures",
        text="Here they are.\n",
        attachments=(attachment,),
    )
    with target.open("wb") as out:
        write_message(draft, out, sender=SENDER)


def write_stdlib(attachment: Path, target: Path) -> None:
    from email import policy, utils
    from email.generator import BytesGenerator
    from email.message import EmailMessage

    message = EmailMessage(policy=policy.SMTP)
    message["From"] = SENDER
    message["To"] = "Ann <ann@example.org>"
    message["Subject"] = "The figures"
    message["Date"] = utils.format_datetime(utils.localtime())
    message["Message-ID"] = utils.make_msgid(domain="example.com")
    message.set_content("Here they are.\n")
    message.add_attachment(
        attachment.read_bytes(), "application", "octet-stream", filename=attachment.name
    )
    with target.open("wb") as out:
        BytesGenerator(out, policy=policy.SMTP).flatten(message)


def worker(method: str, attachment: Path, target: Path) -> None:
    import email.generator  # noqa: F401 - both imported in every worker, outside the clock

    import o365imap.compose  # noqa: F401

    if method == "imports":
        print(json.dumps({"seconds": 0.0, "traced": 0, "size": 0}))
        return
    run: Callable[[Path, Path], None] = write_o365imap if method == "o365imap" else write_stdlib
    start = time.perf_counter()
    run(attachment, target)
    seconds = time.perf_counter() - start
    tracemalloc.start()
    run(attachment, target)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"seconds": seconds, "traced": traced, "size": target.stat().st_size}))


def measure(method: str, attachment: Path, target: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, __file__, "--worker", method, str(attachment), str(target)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, env=env) as child:
        assert child.stdout is not None
        output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"the {method} worker failed")
    result = json.loads(output)
    result["rss"] = usage.ru_maxrss * 1024  # KiB on Linux
    return dict(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=3, metavar=("METHOD", "ATTACHMENT", "TARGET"))
    parser.add_argument("--table", action="store_true", help="print only the Markdown table")
    arguments = parser.parse_args()
    if arguments.worker:
        method, attachment, target = arguments.worker
        worker(method, Path(attachment), Path(target))
        return
    print("\n".join(report()))


def report() -> list[str]:
    """The Markdown table (run.py puts it in docs/benchmarks.md's sending section)."""
    megabytes = int(os.environ.get("O365IMAP_BENCH_COMPOSE_MB", "30"))
    runs = int(os.environ.get("O365IMAP_BENCH_COMPOSE_RUNS", "3"))
    with tempfile.TemporaryDirectory(prefix="bench-compose-") as tmp:
        attachment = Path(tmp) / f"big-{megabytes}mb.bin"
        make_attachment(attachment, megabytes)
        results = {
            m: [measure(m, attachment, Path(tmp) / f"{m}.eml") for _ in range(runs)]
            for m in METHODS
        }
    mib = 1 << 20
    lines = [
        f"Writing the message alone, with a {megabytes} MB attachment, to a file ({runs} runs, "
        "median time, largest peaks; `benchmarks/bench_compose.py`):",
        "",
        "| method | time (s) | tracemalloc peak (MiB) | peak RSS (MiB) | message (MiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for method, found in results.items():
        seconds = statistics.median(r["seconds"] for r in found)
        traced = max(r["traced"] for r in found) / mib
        rss = max(r["rss"] for r in found) / mib
        size = found[0]["size"] / mib
        shown = "imports only (floor)" if method == "imports" else method
        lines.append(f"| {shown} | {seconds:.2f} | {traced:.1f} | {rss:.1f} | {size:.1f} |")
    return lines


if __name__ == "__main__":
    main()
