"""SIGTERM and SIGHUP end a command the way Ctrl-C does.

Python turns SIGINT into KeyboardInterrupt wherever the main thread is, so every ``with`` and
``finally`` on the way out runs: a half-written file is removed, the connection is closed.
SIGTERM (``kill``, ``timeout``, systemd) and SIGHUP (the terminal went away) kill the process
by default, with none of that: a download's hidden temporary file stays behind. While a
command runs, they raise :class:`Stopped` instead, a KeyboardInterrupt, so that everything
prepared for Ctrl-C happens for them too; the command then exits with 128 + the signal's
number, what a shell reports for a process the signal killed.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["STOP_SIGNALS", "Stopped", "stop_signals"]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """A stop signal arrived; raised in the main thread wherever it was."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        return f"stopped by {signal.Signals(self.signum).name}"


def _raise_stopped(signum: int) -> None:
    raise Stopped(signum)


@contextmanager
def stop_signals(on_signal: Callable[[int], None] = _raise_stopped) -> Iterator[list[int]]:
    """While inside, the first SIGTERM or SIGHUP calls ``on_signal(signum)`` (by default it
    raises Stopped); the list yielded holds that signal's number once it came.

    Later ones are ignored: the first is already ending the command, and a second exception
    raised in the middle of its cleanup would skip the rest of it. A signal ignored when the
    command started (``nohup`` ignores SIGHUP) stays ignored. Outside the main thread, where
    Python cannot set handlers, nothing changes.
    """
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if received:
            return
        received.append(signum)
        on_signal(signum)

    previous: dict[signal.Signals, Callable[[int, FrameType | None], Any] | int | None] = {}
    try:
        for sig in STOP_SIGNALS:
            current = signal.getsignal(sig)
            if current is not signal.SIG_IGN:
                previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread
        pass
    try:
        yield received
    finally:
        for sig, old in previous.items():
            # None: a handler not set from Python, which cannot be put back; the default then.
            signal.signal(sig, signal.SIG_DFL if old is None else old)
