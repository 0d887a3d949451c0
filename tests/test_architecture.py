"""Rules of the code's shape that matter enough to check on every run.

The layers, lowest first; a module imports its own layer and those below, never one above::

    cli   tui        the front ends: never each other (`o365imap tui` starts the app, lazily)
       auth          sign-in (the only user of msal); a profile -> a signed-in client
        (CLIENT, TRANSPORT, SMTP, AUTH, *FRONT_ENDS, SANDBOX, "msal", *UI, "socket", "ssl"),
        "compose writes messages to files: sending them (SMTP, sign-in) and asking for them "
        "(the front ends) are others' work",
       messages      bodies, attachments, .eml files
       client        the IMAP session, over transport (sockets, TLS) and protocol (bytes)
    transport  mime  protocol  display  limits
    errors  models  files  terminal_text

    sandbox          a tool beside the product: it uses the product, the product never uses
                     it (`o365imap sandbox` starts it, lazily)

The rules are data (LAYER_RULES, ONLY_OURS, ENTRIES) written by package prefix, so that they
hold for a module and everything under it, however a package is later split. Imports are read
from the source (ast), with relative imports resolved and ``if TYPE_CHECKING:`` imports
counted: a dependency for the type checker is a dependency of the design too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

import o365imap

SRC = Path(o365imap.__file__).parent

When = Literal["load", "call", "typing"]  # at import time, inside a function, for mypy only


@dataclass(frozen=True)
class Import:
    importer: str  # the importing module, dotted
    target: str  # a module of ours as it resolves (a package's submodule), else as written
    line: int
    when: When

    def __str__(self) -> str:
        where = {"load": "", "call": " (in a function)", "typing": " (if TYPE_CHECKING)"}
        return f"{_path(self.importer)}:{self.line}: imports {self.target}{where[self.when]}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _path(module: str) -> str:
    return str(MODULES[module].relative_to(SRC.parent.parent))


def within(name: str, prefix: str) -> bool:
    """``name`` is the module ``prefix`` or under the package ``prefix``."""
    return name == prefix or name.startswith(prefix + ".")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST, when: When) -> Iterator[tuple[ast.Import | ast.ImportFrom, When]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, when
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _import_nodes(ast.Module(body=[stmt], type_ignores=[]), "typing")
            for stmt in child.orelse:
                yield from _import_nodes(ast.Module(body=[stmt], type_ignores=[]), when)
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _import_nodes(child, "typing" if when == "typing" else "call")
        else:
            yield from _import_nodes(child, when)


def imports_of(module: str) -> list[Import]:
    """Every import in ``module``, ours resolved to the module it loads."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []
    for node, when in _import_nodes(ast.parse(path.read_text(encoding="utf-8")), "load"):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno, when) for alias in node.names]
            continue
        base = node.module or ""
        if node.level:  # from . import x, from ..y import z
            parts = package.split(".")
            anchor = ".".join(parts[: len(parts) - (node.level - 1)])
            base = f"{anchor}.{base}" if base else anchor
        for alias in node.names:
            # ``from pkg import name`` loads the submodule pkg.name when there is one
            sub = f"{base}.{alias.name}"
            found.append(Import(module, sub if sub in MODULES else base, node.lineno, when))
    return found


IMPORTS: dict[str, list[Import]] = {module: imports_of(module) for module in MODULES}

# ---------------------------------------------------------------- the rules

CLI, TUI, SANDBOX = "o365imap.cli", "o365imap.tui", "o365imap.sandbox"
AUTH, MESSAGES, CLIENT = "o365imap.auth", "o365imap.messages", "o365imap.client"
TRANSPORT, PROTOCOL = "o365imap._transport", "o365imap.protocol"
SMTP, COMPOSE = "o365imap.smtp", "o365imap.compose"
BACKUP = "o365imap.backup"
FRONT_ENDS = (CLI, TUI)
UI = ("click", "textual")  # the front ends' own libraries


@dataclass(frozen=True)
class Rule:
    forbidden: tuple[str, ...]  # module prefixes, ours or third parties'
    why: str


# layer (a module or package prefix) -> what it never imports
LAYER_RULES: dict[str, Rule] = {
    "o365imap.mime": Rule(
        (CLIENT, TRANSPORT, MESSAGES, AUTH, *FRONT_ENDS, SANDBOX, "msal", *UI),
        "mime turns bytes into parts and files: it knows nothing of IMAP sessions, the "
        "network, sign-in or the front ends",
    ),
    TRANSPORT: Rule(
        (CLIENT, MESSAGES, AUTH, *FRONT_ENDS, SANDBOX, "msal", *UI),
        "the transport moves bytes (sockets, TLS, timeouts) for the client above it",
    ),
    CLIENT: Rule(
        (MESSAGES, AUTH, *FRONT_ENDS, SANDBOX, "msal", *UI),
        "the client takes a token and a refresh callable: getting tokens is auth's, "
        "messages are built on the client, and drawing is the front ends'",
    ),
    MESSAGES: Rule(
        (AUTH, *FRONT_ENDS, SANDBOX, "msal", *UI),
        "messages work on a signed-in client, whoever signed it in and whatever draws it",
    ),
    COMPOSE: Rule(
        (CLIENT, TRANSPORT, SMTP, AUTH, *FRONT_ENDS, SANDBOX, "msal", *UI, "socket", "ssl"),
        "compose writes messages to files: sending them (SMTP, sign-in) and asking for them "
        "(the front ends) are others' work",
    ),
    AUTH: Rule(
        (*FRONT_ENDS, SANDBOX, *UI),
        "sign-in and connection building are the library's, the same for scripts and both "
        "front ends (o365imap.auth.ConnectionSettings)",
    ),
    "o365imap._display": Rule(
        (*FRONT_ENDS, SANDBOX, *UI, "rich"),
        "display holds what both front ends show alike, as plain values: drawing is theirs",
    ),
    CLI: Rule(
        (TUI, PROTOCOL, "textual"),
        "the command line reaches the mail browser only through the `o365imap tui` command "
        "(ENTRIES), and IMAP only through the public API",
    ),
    TUI: Rule(
        (CLI, PROTOCOL, SANDBOX, "click"),
        "the mail browser connects through the library (o365imap.auth), never the command "
        "line, and reaches IMAP only through the public API",
    ),
    SANDBOX: Rule(
        (*FRONT_ENDS, *UI),
        "the sandbox is started by the command line, never the other way round",
    ),
}

# layer -> the only modules of ours it imports (besides its own)
ONLY_OURS: dict[str, tuple[str, ...]] = {
    "o365imap.errors": (),
    "o365imap.models": (),
    "o365imap._files": (),
    "o365imap._terminal_text": (),
    "o365imap.limits": ("o365imap.errors",),
    PROTOCOL: ("o365imap.errors", "o365imap.models"),
    "o365imap._display": ("o365imap.models",),
    "o365imap._replies": ("o365imap.models", PROTOCOL),
}

# (importer, imported prefix) -> why it may: the only ways across a rule, and only lazily
# (inside the command, or for the type checker), so that no other command pays for them.
ENTRIES: dict[tuple[str, str], str] = {
    ("o365imap.cli.tui_cmd", TUI): "`o365imap tui`, and a bare `o365imap` at a terminal "
    "(cli/app.py invokes that command by name), starts the mail browser; Textual is optional",
    ("o365imap.cli.sandbox_cmd", SANDBOX): "`o365imap sandbox` starts the emulator and Dovecot",
    ("o365imap.cli.signin", "o365imap.sandbox.state"): "`o365imap doctor` on a sandbox's "
    "profile says how that Dovecot checks tokens, read from the sandbox's state file",
}


def _allowed(imp: Import) -> bool:
    return any(
        imp.importer == importer and within(imp.target, target) and imp.when != "load"
        for importer, target in ENTRIES
    )


def _violations(modules: Iterable[str], forbidden: tuple[str, ...]) -> list[str]:
    found = (
        str(imp)
        for module in modules
        for imp in IMPORTS[module]
        if any(within(imp.target, f) for f in forbidden) and not _allowed(imp)
    )
    return list(dict.fromkeys(found))  # once for each line: ``from x import a, b`` is one


@pytest.mark.parametrize("layer", LAYER_RULES)
def test_a_layer_never_imports_what_is_above_or_beside_it(layer: str) -> None:
    rule = LAYER_RULES[layer]
    bad = _violations([m for m in MODULES if within(m, layer)], rule.forbidden)
    assert not bad, f"{layer} must not import {', '.join(rule.forbidden)}: {rule.why}.\n" + (
        "\n".join(bad)
    )


@pytest.mark.parametrize("layer", ONLY_OURS)
def test_the_lowest_layers_import_only_what_is_below_them(layer: str) -> None:
    allowed = (layer, *ONLY_OURS[layer])
    bad = [
        str(imp)
        for module in MODULES
        if within(module, layer)
        for imp in IMPORTS[module]
        if within(imp.target, "o365imap") and not any(within(imp.target, a) for a in allowed)
    ]
    shown = ", ".join(ONLY_OURS[layer]) or "nothing"
    assert not bad, f"{layer} imports {shown} of o365imap, no more:\n" + "\n".join(bad)


def test_the_product_never_imports_the_sandbox() -> None:
    bad = _violations([m for m in MODULES if not within(m, SANDBOX)], (SANDBOX,))
    assert not bad, (
        "the sandbox is a tool beside the product, which never imports it (only "
        "`o365imap sandbox` starts it, lazily):\n" + "\n".join(bad)
    )


def test_the_ways_across_are_lazy_and_used() -> None:
    for (importer, target), why in ENTRIES.items():
        uses = [imp for imp in IMPORTS[importer] if within(imp.target, target)]
        assert uses, f"{importer} no longer imports {target}: drop it from ENTRIES"
        eager = [str(imp) for imp in uses if imp.when == "load"]
        assert not eager, f"import {target} inside the command ({why}):\n" + "\n".join(eager)


def test_every_rule_names_modules_that_exist() -> None:
    prefixes = {*LAYER_RULES, *ONLY_OURS, *(p for rule in ONLY_OURS.values() for p in rule)}
    prefixes |= {p for rule in LAYER_RULES.values() for p in rule.forbidden if "." in p}
    prefixes |= {name for pair in ENTRIES for name in pair}
    missing = sorted(p for p in prefixes if not any(within(m, p) for m in MODULES))
    assert not missing, f"rules name modules that do not exist: {missing}"


# ---------------------------------------------------------------- cycles


def _cycles() -> list[list[str]]:
    """One path for each group of modules that import each other (strongly connected
    components of the import graph, Tarjan's algorithm), as ``[a, b, ..., a]``."""
    graph = {
        module: sorted({i.target for i in IMPORTS[module] if i.target in MODULES} - {module})
        for module in MODULES
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for module in graph:
        if module not in index:
            visit(module)
    return [_path_within(graph, group) for group in groups]


def _path_within(graph: dict[str, list[str]], group: set[str]) -> list[str]:
    """A shortest cycle through the group's first module, by breadth-first search."""
    start = min(group)
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in graph[node]:
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if nxt in group and nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"no cycle through {start}")  # a strongly connected group has one


@pytest.mark.parametrize(
    "area",
    [
        "product",
        "sandbox",
    ],
)
def test_no_import_cycles(area: str) -> None:
    found = [
        cycle
        for cycle in _cycles()
        if any(within(m, SANDBOX) for m in cycle) == (area == "sandbox")
    ]
    assert not found, "modules that import each other, directly or round a loop:\n" + (
        "\n".join(" -> ".join(cycle) for cycle in found)
    )


def test_the_cycle_finder_reports_a_path() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": []}
    assert _path_within(graph, {"a", "b", "c"}) == ["a", "b", "c", "a"]


# ---------------------------------------------------------------- other rules


def test_public_api_is_exactly_all() -> None:
    public = {name for name in dir(o365imap) if not name.startswith("_")}
    modules = {
        "auth",
        "backup",
        "cli",
        "client",
        "compose",
        "errors",
        "limits",
        "messages",
        "mime",
        "models",
        "protocol",
        "sandbox",
        "smtp",
        "tui",
    }
    assert public - modules == set(o365imap.__all__) - {"__version__"}
    for name in o365imap.__all__:
        assert hasattr(o365imap, name), name


def test_protocol_is_sans_io() -> None:
    """The protocol core has no socket, TLS, clock, logging or third-party import (what of
    ours it imports: ONLY_OURS)."""
    forbidden = {"socket", "ssl", "time", "select", "selectors", "logging", "threading", "asyncio"}
    for module in MODULES:
        if not within(module, PROTOCOL):
            continue
        for imp in IMPORTS[module]:
            top = imp.target.split(".")[0]
            assert top not in forbidden, str(imp)
            assert top == "o365imap" or top in sys.stdlib_module_names, str(imp)


def test_only_transport_touches_sockets() -> None:
    """IMAP traffic goes through transport.py, SMTP through smtplib in the sender; the sign-in
    redirect listener has its own."""
    # smtplib owns the SMTP socket; the sender only names socket's errors and host name
    allowed = {"o365imap._transport", "o365imap.auth.loopback", "o365imap.smtp._sender"}
    for module in MODULES:
        if module in allowed or within(module, SANDBOX):
            continue
        names = {imp.target for imp in IMPORTS[module]}
        assert "socket" not in names and "ssl" not in names, module


def test_only_the_flows_module_imports_msal() -> None:
    for module in MODULES:
        if module == "o365imap.auth.flows" or within(module, SANDBOX):
            continue
        assert not [str(i) for i in IMPORTS[module] if within(i.target, "msal")], module


def test_starting_a_command_loads_neither_sending_nor_the_sandbox() -> None:
    """``o365imap token`` is a mail client's password command: it starts without smtplib's
    side (compose, smtp: loaded by ``send`` and by sending's names in ``o365imap``), backup
    (``export``, ``import``), the sandbox and the mail browser. Every command's module is
    loaded here, as ``o365imap --help`` loads them: none brings those at its import."""
    probe = (
        "import importlib, sys, o365imap, o365imap.cli\n"
        "from o365imap.cli.app import COMMANDS\n"
        "for name in sorted(set(COMMANDS.values())):\n"
        "    importlib.import_module('o365imap.cli.' + name)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[:2] in (\n"
        "    ['o365imap', 'smtp'], ['o365imap', 'compose'], ['o365imap', 'sandbox'],\n"
        "    ['o365imap', 'backup'],\n"
        "    ['o365imap', 'tui']) or m in ('smtplib', 'textual'))\n"
        "print(loaded)\n"
        "o365imap.SmtpSender\n"
        "print('o365imap.smtp' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["[]", "True"]


# What start-up must not load (issue 16: every command paid 0.3 s of imports). The sign-in
# stack (msal and its requests) comes only to sign in or refresh, rich only to draw a table or
# a progress bar, Textual only for the mail browser, the IMAP client only to reach a server.
_SIGN_IN = ("msal", "msal_extensions", "requests", "urllib3", "portalocker")
_START_UP: dict[str, tuple[str, tuple[str, ...]]] = {
    "import o365imap.cli": (
        "import o365imap.cli",
        (
            *_SIGN_IN,
            "rich",
            "textual",
            "o365imap.client",
            "o365imap.protocol",
            "o365imap.auth.connect",
        ),
    ),
    "o365imap --version": (
        "from o365imap.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass",
        (*_SIGN_IN, "rich", "o365imap.client", "o365imap.protocol", "importlib.metadata"),
    ),
    # `token`'s module, and what a saved token that is still valid needs
    "o365imap token": (
        "import o365imap.cli.signin, o365imap.auth.flows, o365imap.auth.cache",
        (*_SIGN_IN, "rich", "textual", "o365imap.client", "o365imap.protocol"),
    ),
    # `list`, `folders`, `info`: the client, no sign-in stack; rich only for a terminal
    "o365imap list": ("import o365imap.cli.mailbox", (*_SIGN_IN, "textual", "rich")),
    # `list --json`, and `list` in a pipe (TSV): a listing written without rich (stdout is a
    # pipe here)
    "o365imap list, piped": (
        "from datetime import datetime, UTC\n"
        "from o365imap.cli import mailbox, output, tables\n"
        "from o365imap.models import MessageSummary\n"
        "m = MessageSummary(seq=1, uid=7, flags=(), size=10,"
        " internal_date=datetime.now(UTC), envelope=None)\n"
        "output.message_json_line(m)\n"
        "output.print_messages(mailbox._console(), [m], 'INBOX', uid_digits=3)",
        (*_SIGN_IN, "textual", "rich"),
    ),
}


@pytest.mark.parametrize("case", _START_UP)
def test_start_up_loads_only_what_the_command_needs(case: str) -> None:
    code, unwanted = _START_UP[case]
    probe = (
        f"{code}\nimport sys\n"
        f"print('loaded:', sorted(m for m in sys.modules if m.startswith({unwanted!r})))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = [line for line in done.stdout.splitlines() if line.startswith("loaded:")]
    assert loaded == ["loaded: []"], f"{case} loads what it does not need: {loaded}"


def test_each_command_is_found_where_the_group_looks_for_it() -> None:
    """cli/app.py imports a command's module when the command runs: its table must name
    every command, in the module that defines it."""
    import importlib

    from o365imap.cli.app import COMMANDS, cli

    for module in set(COMMANDS.values()):
        importlib.import_module(f"o365imap.cli.{module}")
    defined = {name: command.callback.__module__ for name, command in cli.commands.items()}
    assert defined == {name: f"o365imap.cli.{module}" for name, module in COMMANDS.items()}


def test_a_mistyped_command_is_still_told_the_one_meant() -> None:
    """Commands load when they run; a name that is none of them still gets click's guess
    among all of them (in a process of its own: none loaded before)."""
    probe = "from o365imap.cli import main\nmain(['lst'])\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], check=False, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr == "o365imap: no such command 'lst'. Did you mean 'list'?\n"


def test_the_version_said_without_metadata_is_the_installed_one() -> None:
    """`o365imap --version` prints o365imap.__version__ rather than reading the installed
    metadata (importlib.metadata costs more than the rest of the answer): the two agree."""
    from importlib.metadata import version

    assert o365imap.__version__ == version("o365imap")
