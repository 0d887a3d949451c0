"""Progress bars on stderr, for a person watching: one look for `save`, `export` and `import`.

`transfer_bars()` is the bar set every command shows (name, bar, bytes, rate, time left), in
binary units as every size a person reads (``_display.human_size``: "150.0/157.3 MiB",
"12.4 MiB/s"); `folder_bars()` drives it from the per-folder events of an export or an import
(a bar per folder being worked on, one for the whole). Scripts and pipes get none: the caller
says when. A bar's total is an estimate (a base64 part's decoded size, a message's RFC822.SIZE):
`finish()` sets it to what was written, so a bar that is done shows 100%.

The bars draw on stderr and leave stdout alone: a line printed to stdout while they are drawn
lands on the bar's line when both are the same terminal, so a command prints its own lines
once the bars are gone (``transient``: they vanish when done).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from o365imap._display import human_size
from o365imap._terminal_text import for_terminal

__all__ = ["FolderEvent", "finish", "folder_bars", "transfer_bars"]


class _BinarySpeedColumn(ProgressColumn):
    """The rate in binary units (rich's TransferSpeedColumn knows only decimal ones)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("?", style="progress.data.speed")
        return Text(f"{human_size(int(speed))}/s", style="progress.data.speed")


def transfer_bars() -> Progress:
    """Bars on stderr that vanish when done (``transient``), so that the command's last line
    stands alone; stdout is not redirected through them (see the module's docstring)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        _BinarySpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    )


def finish(bars: Progress, task: TaskID, written: int | None = None) -> None:
    """The work of ``task`` is done: its total becomes what was written (``written``, else
    what it counted), so the bar ends full whatever the estimate was."""
    done = bars.tasks[task].completed if written is None else written
    bars.update(task, total=done, completed=done)


class FolderEvent(Protocol):
    """What ExportEvent and ImportEvent have alike: a folder starts (with its bytes to move),
    a message moved (its bytes), a folder is done."""

    @property
    def kind(self) -> str: ...
    @property
    def folder(self) -> str: ...
    @property
    def total_bytes(self) -> int: ...
    @property
    def bytes(self) -> int: ...


@contextmanager
def folder_bars(enabled: bool) -> Iterator[Callable[[FolderEvent], None] | None]:
    """The callback that draws a folder's events, or None when nobody is watching."""
    if not enabled:
        yield None
        return
    bars = transfer_bars()
    whole = bars.add_task("all folders", total=0)
    tasks: dict[str, TaskID] = {}

    def update(event: FolderEvent) -> None:
        if event.kind == "folder" and event.total_bytes:
            name = for_terminal(event.folder, one_line=True)
            tasks[event.folder] = bars.add_task(name, total=event.total_bytes)
            bars.update(whole, total=(bars.tasks[whole].total or 0) + event.total_bytes)
        elif event.kind == "message":
            task = tasks.get(event.folder)
            if task is not None:
                bars.advance(task, event.bytes)
            bars.advance(whole, event.bytes)
        elif event.kind == "done" and event.folder in tasks:
            bars.remove_task(tasks.pop(event.folder))

    with bars:
        yield update
        finish(bars, whole)
