"""The compiled hot path (scripts/compiled.py, mypyc) is optional: this run is pure Python.

``make test`` runs the parser's tests a second time against the compiled modules; the package
everyone installs, and the run these tests are part of, must not depend on them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compiled", ROOT / "scripts" / "compiled.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_hot_modules_run_here_as_pure_python() -> None:
    for path in _script().HOT:
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert module.__file__ is not None and module.__file__.endswith(".py"), module.__file__


def test_the_compiled_run_tests_exist() -> None:
    script = _script()
    for path in [*script.TESTS, *(f"src/{hot}" for hot in script.HOT)]:
        assert (ROOT / path).is_file(), path


def test_without_a_compiler_nothing_is_built_and_the_build_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CC", "no-such-compiler")
    assert _script().build(out=tmp_path / "compiled") is False
    assert not (tmp_path / "compiled").exists()
    assert "lacks a C compiler (no-such-compiler)" in capsys.readouterr().err


def test_the_build_checks_pass_without_the_package_dependencies(tmp_path: Path) -> None:
    """``O365IMAP_COMPILE=1 pip install .`` runs mypyc where pip builds: an environment of its
    own, holding the build's requirements and none of the package's (requests, platformdirs).
    mypy's check of the hot modules, as the build runs it, must pass there."""
    script = _script()
    bare = tmp_path / "bare"
    venv.create(bare, with_pip=False)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            *script.mypy_options(ROOT / "pyproject.toml"),
            "--python-executable",
            str(bare / "bin" / "python"),
            "--cache-dir",
            str(tmp_path / "cache"),
            *script.HOT,
        ],
        cwd=ROOT / "src",
        # the sources found through PYTHONPATH would count as installed: mypy keeps quiet there
        env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_dev_environment_has_what_the_compiled_run_needs() -> None:
    """``make test`` builds in the venv of ``pip install -e '.[dev]'``: a module the build needs
    that only some Pythons' venvs bring (setuptools is gone from ``python -m venv`` since 3.12)
    would turn the compiled run into a quiet skip there."""
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"][
        "dev"
    ]
    names = {dep.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip() for dep in dev}
    providers = {"mypyc": "mypy", "setuptools": "setuptools"}  # _script().missing()'s modules
    for module, project in providers.items():
        assert project in names, f"{module} comes with {project}, not in the dev extra"
