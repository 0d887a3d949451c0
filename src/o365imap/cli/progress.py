"""Progress bars on stderr, for a person watching: one look for `save`, `export` and `import`.

`transfer_bars()` is the bar set every command shows (name, bar, bytes, rate, time left);
`folder_bars()` drives it from the per-folder events of an export or an import (a bar per
folder being worked on, one for the whole). Scripts and pipes get none: the caller says when.
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
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from o365imap._terminal_text import for_terminal

__all__ = ["FolderEvent", "folder_bars", "transfer_bars"]


def transfer_bars() -> Progress:
    """Bars that vanish when done (``transient``), so that the command's last line stands."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


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
