"""docs/api.md's examples, run as they are against the sandbox a reader would use.

Each ```python block is one example: it runs with a signed-in "sandbox" profile in its o365imap
home, the venv's ``o365imap`` on PATH, in a folder of its own. An example that raises, warns of
a deprecated name, or prints nothing fails.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from pathlib import Path

import pytest

from o365imap.auth import ProfileStore
from o365imap.sandbox.environment import Sandbox
from test_signin import sign_in

DOC = Path(__file__).parent.parent / "docs" / "api.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)


def _examples() -> list[tuple[str, str]]:
    """(the section it is in, its code) for every Python example, in order."""
    text = DOC.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        headings = re.findall(r"^## (.+)$", text[: match.start()], re.M)
        found.append((headings[-1] if headings else "top", match.group(1)))
    return found


EXAMPLES = _examples()


def test_the_page_has_examples() -> None:
    assert len(EXAMPLES) >= 8


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, box: Sandbox) -> Path:
    home = tmp_path_factory.mktemp("api-docs")
    box.save_profile(ProfileStore(home / "profiles.toml"))
    sign_in(home, box)
    return home


@pytest.mark.parametrize(
    "number", range(len(EXAMPLES)), ids=[f"{i}-{s}" for i, (s, _) in enumerate(EXAMPLES)]
)
def test_example_runs(
    number: int,
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    section, code = EXAMPLES[number]
    monkeypatch.setenv("O365IMAP_HOME", str(home))
    monkeypatch.setenv("O365IMAP_TOKEN_STORE", "file")
    venv_bin = str(Path(sys.executable).parent)  # `o365imap token` in an example
    monkeypatch.setenv("PATH", venv_bin + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        exec(compile(code, f"docs/api.md ({section})", "exec"), {"__name__": "__example__"})  # noqa: S102 - the docs' own code
    printed = capsys.readouterr().out
    assert printed.strip(), f"the example in {section!r} printed nothing"
