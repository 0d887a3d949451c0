"""Build the compiled hot path (mypyc) beside the sources, and run the parser tests against it.

The protocol parser's hot modules (``HOT``) are typed strictly enough for mypyc to compile them
as they are: about 10-18% faster parsing (docs/benchmarks.md, issue 16). The pure-Python
package stays the one that is installed and tested everywhere; this script makes a second copy
of ``src`` in ``.cache/compiled/src`` with those modules compiled next to their ``.py`` (an
extension module wins over a ``.py`` of the same name), for the tests to run against and for
whoever wants it on ``PYTHONPATH``.

    python scripts/compiled.py           build (again only when a source changed)
    python scripts/compiled.py --test    build, check the modules load compiled, run TESTS

A machine without a C compiler, the Python headers, mypyc or setuptools is told so and the
script exits 0: the compiled build is optional, the pure-Python package is the product.
Run by ``make test`` (``--test``) and ``make compiled``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".cache" / "compiled"
HOT = [
    "o365imap/protocol/parser.py",
    "o365imap/protocol/lexer.py",
    "o365imap/protocol/listing.py",
    "o365imap/protocol/decode.py",
    "o365imap/protocol/text.py",
]
# The parser's tests and the listing's JSON: what the compiled modules must pass as the pure.
TESTS = [
    "tests/test_protocol_parser.py",
    "tests/test_parse_properties.py",
    "tests/test_parse_real_world.py",
    "tests/test_text.py",
    "tests/test_cli_output_json.py",
]


def missing() -> list[str]:
    """What this machine lacks to compile (empty when it can)."""
    lacking = []
    compiler = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        lacking.append(f"a C compiler ({compiler})")
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        lacking.append("the Python headers (Python.h)")
    for module in ("mypyc", "setuptools"):
        if importlib.util.find_spec(module) is None:
            lacking.append(module)
    return lacking


def _fingerprint(src: Path, config: Path) -> str:
    digest = hashlib.sha256(f"{sys.version} {HOT}".encode() + config.read_bytes())
    for path in sorted(src.rglob("*.py")):
        digest.update(str(path.relative_to(src)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def mypy_options(config: Path) -> list[str]:
    """mypy's options for the compiling run: the project's settings (strict, and which libraries
    have no types), and the modules the hot ones import checked without a word. ``pip install``
    builds in an environment of its own, without the package's dependencies: the modules that
    use them (o365imap.auth's requests, platformdirs) are not compiled, and their missing
    libraries must not fail the build (``make typecheck`` is where they are checked)."""
    return ["--config-file", str(config), "--follow-imports=silent"]


def build(
    src: Path = ROOT / "src", out: Path = OUT, config: Path = ROOT / "pyproject.toml"
) -> bool:
    """Compile ``HOT`` in a copy of ``src`` under ``out``; False (and why, on stderr) if not."""
    lacking = missing()
    if lacking:
        print(
            f"compiled hot path skipped: this machine lacks {', '.join(lacking)}", file=sys.stderr
        )
        return False
    stamp = out / "fingerprint"
    fingerprint = _fingerprint(src, config)
    if stamp.exists() and stamp.read_text() == fingerprint:
        return True
    # A copy of the whole package: a package's modules load from one folder.
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(src, out / "src", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    done = subprocess.run(
        [sys.executable, "-m", "mypyc", *mypy_options(config), *HOT],
        cwd=out / "src",
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode:  # mypy's complaints and gcc's are on stdout
        sys.exit(f"mypyc failed:\n{done.stdout}{done.stderr}")
    shutil.rmtree(out / "src" / "build")  # setuptools' objects; the modules are in place
    stamp.write_text(fingerprint)
    return True


def _check_compiled(env: dict[str, str]) -> None:
    """Fail unless every hot module loads as an extension: a silent pure run proves nothing."""
    names = [path.removesuffix(".py").replace("/", ".") for path in HOT]
    code = (
        "import importlib, sys\n"
        f"pure = [n for n in {names!r} if importlib.import_module(n).__file__.endswith('.py')]\n"
        "sys.exit(f'loaded as pure Python: {pure}' if pure else 0)\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--test", action="store_true", help="run TESTS against the build")
    options.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = options.parse_args()
    if not build():
        return 0
    print(f"compiled hot path: {OUT / 'src'}", file=sys.stderr)
    if not args.test:
        return 0
    env = dict(os.environ, PYTHONPATH=str(OUT / "src"))
    _check_compiled(env)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *TESTS, *args.pytest_args]
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
