"""The ``o365imap`` command run in this process, as a script sees it: arguments and an
environment in; the exit code, stdout and stderr out (a ``subprocess.CompletedProcess``).

A subprocess costs half a second of imports per command. Here click's ``CliRunner`` isolates
the streams and the environment, and runs ``o365imap.cli.main`` rather than the click group,
so that the exit codes and the one-sentence errors are the command's own. What only a real
process shows (the installed entry point, signals, a closed pipe, a full disk, a terminal,
resource limits, two processes at once) still starts one: see the tests that do.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from io import BytesIO

import requests
from click.testing import CliRunner

from o365imap.cli import main
from o365imap.sandbox.approve import approve_sign_in

__all__ = [
    "SIGN_IN_URL",
    "SignInPage",
    "Watch",
    "approving",
    "in_own_process",
    "invoke",
    "on_terminal",
]

# Given what stderr said so far; True once it has done its part (it is not called again).
Watch = Callable[[str], bool]


def invoke(
    args: Sequence[str], env: Mapping[str, str] | None = None, *, watch: Watch | None = None
) -> subprocess.CompletedProcess[str]:
    """``o365imap *args`` with ``env`` as its whole environment (this process's when None),
    as ``subprocess.run(..., env=env, capture_output=True, text=True)`` would run it.

    ``watch`` reads stderr while the command runs, in a thread: a person answering what the
    command asks (the sign-in page it prints).
    """
    logger = logging.getLogger("o365imap")
    level, handlers = logger.level, logger.handlers[:]
    code: int = 0
    with CliRunner().isolation(env=_changes(env)) as (out, err, _):
        watcher = _Watcher(err, watch) if watch is not None else None
        try:
            with _as_a_process():
                main(list(args))
        except SystemExit as exc:
            code = _exit_code(exc)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            # Each run adds its stderr handler (and --debug its level): a process would end here.
            logger.setLevel(level)
            logger.handlers[:] = handlers
            if watcher is not None:
                watcher.stop()
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    if watcher is not None and watcher.error is not None:
        watcher.error.add_note(f"o365imap {' '.join(args)} said on stderr:\n{stderr}")
        raise watcher.error
    return subprocess.CompletedProcess(["o365imap", *args], code, stdout, stderr)


# What Python sets up in a new process (no -W options): the filters, and warnings shown on stderr.
_PROCESS_FILTERS = [
    ("default", None, DeprecationWarning, "__main__", 0),
    ("ignore", None, DeprecationWarning, None, 0),
    ("ignore", None, PendingDeprecationWarning, None, 0),
    ("ignore", None, ImportWarning, None, 0),
    ("ignore", None, ResourceWarning, None, 0),
]


@contextmanager
def _as_a_process() -> Iterator[None]:
    """What the command's stderr shows, as in a process of its own: only what the command's
    thread logged (the test's servers run in this process too, and log under ``o365imap``);
    a library's warnings and its loggers' WARNINGs, which a process prints on stderr (Python's
    ``logging.lastResort``) and pytest would otherwise take for itself."""
    own = threading.get_ident()
    real_handler = logging.StreamHandler

    class CommandHandler(real_handler):  # type: ignore[valid-type, misc]
        def filter(self, record: logging.LogRecord) -> bool:
            return record.thread == own and super().filter(record)

    last_resort = _LastResort(own)
    root = logging.getLogger()
    logging.StreamHandler = CommandHandler  # type: ignore[misc]
    root.addHandler(last_resort)
    try:
        with warnings.catch_warnings():
            warnings.filters[:] = list(_PROCESS_FILTERS)  # type: ignore[index]
            warnings.showwarning = _show_on_stderr
            yield
    finally:
        logging.StreamHandler = real_handler  # type: ignore[misc]
        root.removeHandler(last_resort)


def _show_on_stderr(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: object = None,
    line: str | None = None,
) -> None:
    """Python's own ``showwarning`` (pytest's recorder would take the warning instead)."""
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


class _LastResort(logging.Handler):
    """``logging.lastResort`` of a process whose root logger has no handler: WARNING and up,
    the bare message, on stderr; here for the loggers that are not the command's own."""

    def __init__(self, thread: int) -> None:
        super().__init__(logging.WARNING)
        self._thread = thread

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self._thread or record.name.split(".")[0] == "o365imap":
            return
        sys.stderr.write(self.format(record) + "\n")


def in_own_process(
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    limits: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m o365imap *args`` in a process of its own, for what is once per process;
    ``limits`` runs in that process before the command (resource limits, signals ignored)."""
    return subprocess.run(
        [sys.executable, "-m", "o365imap", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=limits,
    )


def on_terminal(
    argv: Sequence[str], env: Mapping[str, str], *, stdout_too: bool = False
) -> tuple[subprocess.CompletedProcess[bytes], bytes]:
    """``argv`` run with stderr on a pseudo-terminal (and stdout too with ``stdout_too``, as a
    person's shell has them): the process, and all that the terminal was sent."""
    import pty

    primary, secondary = pty.openpty()
    done = subprocess.run(
        list(argv), env=dict(env), stdout=secondary if stdout_too else subprocess.PIPE,
        stderr=secondary, timeout=120, check=False,
    )  # fmt: skip
    os.close(secondary)
    drawn = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal's other end is closed: all read
            break
        if not chunk:
            break
        drawn += chunk
    os.close(primary)
    return done, drawn


SIGN_IN_URL = re.compile(r"https://\S+/authorize\?\S+")


class SignInPage:
    """A person who opens the sign-in page ``o365imap login`` prints (with --debug, other
    https addresses come first) and does ``act`` there: a :data:`Watch`."""

    def __init__(self, act: Callable[[str], requests.Response | None]) -> None:
        self.act = act
        self.url: str | None = None
        self.answer: requests.Response | None = None  # the last page ``act`` saw

    def __call__(self, stderr: str) -> bool:
        match = SIGN_IN_URL.search(stderr)
        if match is None:
            return False
        self.url = match.group(0)
        self.answer = self.act(self.url)
        return True


def approving(
    username: str, password: str, ca_file: str, fields: dict[str, str] | None = None
) -> SignInPage:
    """Signing in as ``username``; ``fields`` fills named inputs first."""
    return SignInPage(
        lambda url: approve_sign_in(
            url, username=username, password=password, ca_file=ca_file, fields=fields
        )
    )


def _changes(env: Mapping[str, str] | None) -> dict[str, str | None]:
    """What turns this process's environment into ``env`` (None: a variable removed)."""
    if env is None:
        return {}
    gone: dict[str, str | None] = {key: None for key in os.environ if key not in env}
    return {**gone, **env}


def _exit_code(exc: SystemExit) -> int:
    """What the interpreter would exit with."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


class _Watcher:
    """Calls ``watch`` with stderr so far, each time it grows, until it says it is done."""

    def __init__(self, err: BytesIO, watch: Watch) -> None:
        self.error: BaseException | None = None
        self._err = err
        self._watch = watch
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seen = -1
        try:
            while not self._stopped.wait(0.01):
                text = self._err.getvalue().decode(errors="replace")
                if len(text) != seen:
                    seen = len(text)
                    if self._watch(text):
                        return
        except BaseException as exc:  # raised in the test once the command has ended
            self.error = exc

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(30)
