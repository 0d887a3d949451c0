"""Rules of the code's shape that matter enough to check on every run."""

from __future__ import annotations

import ast
from pathlib import Path

import o365imap

SRC = Path(o365imap.__file__).parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_public_api_is_exactly_all() -> None:
    public = {name for name in dir(o365imap) if not name.startswith("_")}
    modules = {
        "auth",
        "cli",
        "client",
        "errors",
        "files",
        "limits",
        "messages",
        "mime",
        "models",
        "protocol",
        "transport",
        "sandbox",
        "terminal_text",
        "tui",
    }
    assert public - modules == set(o365imap.__all__) - {"__version__"}
    for name in o365imap.__all__:
        assert hasattr(o365imap, name), name


def test_protocol_is_sans_io() -> None:
    """The protocol core has no socket, TLS, clock, logging or third-party import."""
    allowed_own = {"o365imap.errors", "o365imap.models"}
    forbidden = {"socket", "ssl", "time", "select", "selectors", "logging", "threading", "asyncio"}
    for path in (SRC / "protocol").glob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            assert top not in forbidden, f"{path.name} imports {name}"
            if top == "o365imap":
                assert name in allowed_own or name.startswith("o365imap.protocol"), (
                    f"{path.name} imports {name}"
                )
            else:
                import sys

                assert top in sys.stdlib_module_names, f"{path.name} imports {name}"


def test_only_transport_touches_sockets() -> None:
    """IMAP traffic goes through transport.py; the sign-in redirect listener has its own."""
    allowed = {SRC / "transport.py", SRC / "auth" / "loopback.py"}
    for path in SRC.rglob("*.py"):
        if path in allowed or "sandbox" in path.parts:
            continue
        names = _imports(path)
        assert "socket" not in names and "ssl" not in names, path


def test_front_ends_use_the_public_api_only() -> None:
    for path in (SRC / "cli").rglob("*.py"):
        for name in _imports(path):
            assert "protocol" not in name, f"{path} reaches into {name}"


def test_models_import_nothing_of_ours() -> None:
    assert not {n for n in _imports(SRC / "models.py") if n.startswith("o365imap")}


def test_only_the_flows_module_imports_msal() -> None:
    for path in SRC.rglob("*.py"):
        names = {n.split(".")[0] for n in _imports(path)}
        if path == SRC / "auth" / "flows.py" or "sandbox" in path.parts:
            continue
        assert "msal" not in names, path
    for path in (SRC / "client").glob("*.py"):
        assert not {n for n in _imports(path) if n.startswith("o365imap.auth")}, path


def test_mime_knows_nothing_of_imap_or_the_network() -> None:
    """``mime`` turns bytes into parts and files: no client, transport, socket or msal."""
    for path in sorted((SRC / "mime").glob("*.py")):
        for name in _imports(path):
            assert name.split(".")[0] not in {"socket", "ssl", "msal", "click", "textual"}, name
            assert not name.startswith(("o365imap.client", "o365imap.transport")), name
            assert not name.startswith(("o365imap.cli", "o365imap.auth")), name
