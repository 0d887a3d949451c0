"""``make fuzz``: every target under atheris for a fixed number of inputs, then the figures.

``python fuzz/run_all.py [--scale X] [--jobs N]`` runs each target of harness.py from its
seed corpus (written by make_corpus.py into a scratch folder, with what libFuzzer keeps),
N at a time, and prints per target the inputs run, the seconds and the findings, then the total
count. Inputs that fail are kept as fuzz/findings/<target>-crash-<sha1>. Exit 1 on a finding.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_corpus import write_corpus  # noqa: E402

# A million parser inputs at least; the decoders are cheap, the MIME parser is not.
RUNS = {"imap": 1_000_000, "text": 1_000_000, "dates": 1_000_000, "utf7": 1_000_000}
RUNS["mime"] = 100_000
_DONE = re.compile(rb"Done (\d+) runs in (\d+) second")


def fuzz(target: str, runs: int, work: Path, findings: Path) -> tuple[str, int, int, str]:
    """(target, inputs run, seconds, what failed or "")."""
    found = work / "found" / target
    found.mkdir(parents=True)
    command = [sys.executable, str(HERE / "harness.py"), target, f"-runs={runs}"]
    command += [f"-artifact_prefix={findings}/{target}-", "-print_final_stats=0"]
    command += [str(found), str(work / "seeds" / target)]
    # The Python traceback of a finding goes to stdout, libFuzzer's report to stderr.
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    (work / f"{target}.log").write_bytes(result.stdout)
    done = _DONE.search(result.stdout)
    if result.returncode == 0 and done:
        return target, int(done.group(1)), int(done.group(2)), ""
    tail = result.stdout.decode("utf-8", "replace").strip().splitlines()[-40:]
    # The inputs run before the finding: libFuzzer's last status line, "#N ...".
    reached = re.findall(rb"^#(\d+)", result.stdout, re.MULTILINE)
    return target, int(reached[-1]) if reached else 0, 0, "\n".join(tail)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every run count")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--targets", default=",".join(RUNS))
    args = parser.parse_args()
    findings = HERE / "findings"
    findings.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="o365imap-fuzz-") as scratch:
        work = Path(scratch)
        write_corpus(work / "seeds")
        targets = args.targets.split(",")
        with ThreadPoolExecutor(max(args.jobs, 1)) as pool:
            results = list(
                pool.map(
                    lambda t: fuzz(t, max(int(RUNS[t] * args.scale), 1), work, findings),
                    targets,
                )
            )
    total = 0
    for target, runs, seconds, failure in results:
        status = "FINDING" if failure else "no findings"
        print(f"{target:6} {runs:>10,} inputs {seconds:>6} s  {status}")
        if failure:
            print(failure)
        total += runs
    print(f"total  {total:>10,} inputs run")
    return 1 if any(failure for *_, failure in results) else 0


if __name__ == "__main__":
    sys.exit(main())
