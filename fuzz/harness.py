"""Run one fuzz target under atheris (coverage-guided, libFuzzer's engine).

``python fuzz/harness.py TARGET [libFuzzer options] [CORPUS_DIR ...]``, TARGET one of
fuzz_targets.TARGETS, e.g. ``python fuzz/harness.py imap -runs=1000 /tmp/new fuzz/corpus/imap``
(libFuzzer adds what it finds to the first folder only). Any exception but the documented one
is a finding: libFuzzer prints it, writes the input to ``crash-<sha1>`` (see
``-artifact_prefix``) and exits 1. At the end it prints ``Done N runs in T second(s)``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

# What each target instruments: the modules whose branches guide its search (instrumenting
# more only slows it down).
MODULES = {
    "imap": (
        "o365imap.protocol.parser",
        "o365imap.protocol.lexer",
        "o365imap.protocol.listing",
        "o365imap.protocol.decode",
    ),
    "text": ("o365imap.protocol.text", "o365imap.mime.headers"),
    "dates": ("o365imap.protocol.text",),
    "utf7": ("o365imap.protocol.utf7",),
    "mime": ("o365imap.mime.parser", "o365imap.mime.headers", "o365imap.mime.transfer"),
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in MODULES:
        sys.exit(f"usage: harness.py {{{','.join(MODULES)}}} [libFuzzer options] [corpus]")
    target = sys.argv.pop(1)
    with atheris.instrument_imports(include=list(MODULES[target])):
        fuzz_targets = importlib.import_module("fuzz_targets")
    check, cuts_from = fuzz_targets.TARGETS[target], fuzz_targets.cuts_from

    def one_input(data: bytes) -> None:
        check(data, cuts_from(data))

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
