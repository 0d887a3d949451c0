"""The compiled hot path (scripts/compiled.py, mypyc) is optional: this run is pure Python.

``make test`` runs the parser's tests a second time against the compiled modules; the package
everyone installs, and the run these tests are part of, must not depend on them.
"""

from __future__ import annotations

import importlib
import importlib.util
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
