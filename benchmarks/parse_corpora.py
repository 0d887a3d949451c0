"""Listing speed from memory, on both corpora: how issue 16's levers were measured.

Parses ``make bench``'s ``Bulk`` folder and the realistic international folder
(``realistic_corpus``), both rendered offline as Dovecot's FETCH answer, fed in 64 KiB pieces
with every cache cold: the parser alone, and the parser plus the JSON Lines of
``o365imap list --all --json`` written through a UTF-8 text stream to /dev/null. Prints the best
of ``--runs`` in CPU seconds of this process (``time.process_time``: steadier than wall time on a
shared machine) and envelopes per second.

    PYTHONPATH=src python benchmarks/parse_corpora.py [--runs 5] [--count 20000]
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))

from realistic_corpus import bench_fetch_response, realistic_fetch_response

_STEP = 64 * 1024
# Caches that keep what decoding found; a run starts without them, like a new process.
_CACHES = {
    "o365imap.protocol.text": ("_DECODED",),
    "o365imap.protocol.decode": ("_ADDRESS_CACHE",),
    "o365imap.protocol.listing": ("_FLAG_CACHE", "_SINGLE_CACHE"),
    "o365imap.cli.output": ("_ADDRESS_JSON", "_FLAGS_JSON"),
}


def cold_caches() -> None:
    for module_name, names in _CACHES.items():
        module = sys.modules[module_name]
        for name in names:
            cache = getattr(module, name, None)
            if isinstance(cache, dict):
                cache.clear()


def parse(data: bytes, out: TextIO | None) -> int:
    from o365imap._replies import summary_from
    from o365imap.cli.output import message_json_line
    from o365imap.protocol import Fetch, ResponseParser

    cold_caches()
    parser = ResponseParser()
    count = 0
    for start in range(0, len(data), _STEP):
        parser.feed(data[start : start + _STEP])
        while (event := parser.next_event()) is not None:
            if isinstance(event, Fetch):
                count += 1
                if out is not None:
                    out.write(message_json_line(summary_from(event)) + "\n")
    return count


def best_of(runs: int, func: Callable[[], Any]) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.process_time()
        func()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--runs", type=int, default=5)
    options.add_argument("--count", type=int, default=20_000)
    args = options.parse_args()
    import o365imap.cli.output  # its caches are cleared before each run
    import o365imap.protocol.listing  # noqa: F401

    corpora = {
        "bench (Bulk)": bench_fetch_response(args.count),
        "realistic": realistic_fetch_response(args.count, 1),
    }
    sink = io.TextIOWrapper(open(os.devnull, "wb"), encoding="utf-8")  # noqa: SIM115
    print(f"| corpus | MB | parse | parse + JSON Lines |  (best of {args.runs}, CPU s)")
    print("|---|---|---|---|")
    for name, data in corpora.items():
        alone = best_of(args.runs, lambda data=data: parse(data, None))  # type: ignore[misc]
        with_json = best_of(args.runs, lambda data=data: parse(data, sink))  # type: ignore[misc]
        print(
            f"| {name} | {len(data) / 1e6:.1f} | {alone:.3f} s, {args.count / alone / 1000:.1f}k/s "
            f"| {with_json:.3f} s, {args.count / with_json / 1000:.1f}k/s |"
        )
    sink.close()


if __name__ == "__main__":
    main()
