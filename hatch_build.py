"""Hatchling build hook: a wheel with the compiled hot path, only when asked.

``O365IMAP_COMPILE=1 pip install .`` builds the wheel with the protocol parser's hot modules
compiled by mypyc (scripts/compiled.py says which, and how), tagged for this Python and platform;
their ``.py`` stay in the wheel beside them. Without the variable, and on a machine without a C
compiler or the Python headers (said on stderr), the wheel is the usual pure-Python one.
Editable installs are never compiled: they run the sources.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def _wanted() -> bool:
    return os.environ.get("O365IMAP_COMPILE", "") not in ("", "0")


class CompiledHotPath(BuildHookInterface[Any]):
    _out: Path | None = None  # the build folder, kept until the wheel holds its modules

    def dependencies(self) -> list[str]:
        # mypyc comes with mypy; it builds through setuptools
        return ["mypy>=1.10,<3", "setuptools"] if _wanted() else []

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable" or not _wanted():
            return
        spec = importlib.util.spec_from_file_location(
            "_o365imap_compiled", Path(self.root) / "scripts" / "compiled.py"
        )
        assert spec is not None and spec.loader is not None
        compiled = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(compiled)
        out = self._out = Path(tempfile.mkdtemp(prefix="o365imap-compiled-"))
        root = Path(self.root)
        if not compiled.build(root / "src", out, root / "pyproject.toml"):
            print("o365imap: building the pure-Python wheel", file=sys.stderr)
            return
        for module in (out / "src").rglob("*.so"):
            target = module.relative_to(out / "src").as_posix()
            build_data["force_include"][str(module)] = target
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if self._out is not None:
            shutil.rmtree(self._out, ignore_errors=True)
            self._out = None
