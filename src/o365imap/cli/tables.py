"""Every table the command line prints on stdout: one description, two renderings.

A command describes its table once (columns, then rows); where stdout goes picks the form.
A terminal gets a table fitted to its width. Anything else (a pipe, a file) gets tab-separated
values: the header line first, one row per line, nothing cut, tabs and line breaks inside a
value turned into spaces (as ``gh`` does), so that ``o365imap list | grep`` sees whole subjects
and ``cut -f4`` takes a column. ``TTY_COMPATIBLE=1`` (or ``FORCE_COLOR``) asks for the
terminal's form in a pipe, as rich reads them.

rich is imported only to draw for a terminal: ``table_console`` says None for a pipe, and the
TSV is written to stdout without it (``list | grep`` starts 15-20 ms sooner).

``print_table`` lays out a table from all its rows (folders, a folder's counts, a message's
parts: a few dozen rows). ``RowWriter`` writes rows as they come, for the message listing that
can hold 100,000 of them: its widths are fixed before the first row (from the terminal's width
and what the caller knows: the widest UID), so memory stays flat and the first row shows at once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

__all__ = [
    "Cell",
    "Column",
    "RowWriter",
    "Styled",
    "is_piped",
    "print_table",
    "stdout_is_terminal",
    "table_console",
    "tsv_line",
]


@dataclass(frozen=True, slots=True)
class Styled:
    """A value with a rich style for the terminal's form (TSV takes ``plain``): a cell that
    needs no rich to be made."""

    plain: str
    style: str = ""


Cell: TypeAlias = "str | Styled | Text"

_GAP = 1  # cells between two columns of a streamed table


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its header and how a terminal shows it (TSV ignores all but ``header``)."""

    header: str
    justify: Literal["left", "right"] = "left"
    style: str = ""
    # A streamed table: this many cells; None shares what the fixed columns leave.
    width: int | None = None
    # At most this many cells (a column sharing the rest: the last such takes what is left).
    max_width: int | None = None
    # Fold a long value over several lines (a file name) rather than end it with "…".
    wrap: bool = False


def stdout_is_terminal() -> bool:
    """Whether stdout takes the terminal's form: rich's ``Console.is_terminal`` for stdout
    (``TTY_COMPATIBLE`` 0 or 1 decides, else a non-empty ``FORCE_COLOR`` says yes, else
    isatty), without importing rich. (rich's exceptions for IDLE and Jupyter cannot apply
    to a command line.)"""
    tty_compatible = os.environ.get("TTY_COMPATIBLE", "")
    if tty_compatible in ("0", "1"):
        return tty_compatible == "1"
    force_color = os.environ.get("FORCE_COLOR")
    if force_color is not None:
        return force_color != ""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # no stdout, or a closed one: not a terminal
        return False


def table_console(**options: Any) -> Console | None:
    """A rich Console on stdout (``options`` passed on) when it takes the terminal's form;
    None for a pipe or a file, which get TSV: then rich is not even imported."""
    if not stdout_is_terminal():
        return None
    from rich.console import Console  # noqa: PLC0415 - only to draw for a terminal

    return Console(**options)


def is_piped(console: Console | None) -> bool:
    """Whether ``console`` writes to something other than a terminal (rich's own test, so
    that ``TTY_COMPATIBLE`` and ``FORCE_COLOR`` are honoured); None: stdout, piped (what
    ``table_console`` says for a pipe)."""
    return console is None or not console.is_terminal


def _rich(cell: Cell) -> Text:
    """A cell as rich Text, for the terminal's form."""
    from rich.text import Text  # noqa: PLC0415 - only to draw for a terminal

    if isinstance(cell, Text):
        return cell.copy()
    if isinstance(cell, Styled):
        return Text(cell.plain, style=cell.style)
    return Text(cell)


def _plain(cell: Cell) -> str:
    text = cell if isinstance(cell, str) else cell.plain
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\r\n", " ").translate(_FLATTEN)
    return text.strip()


_FLATTEN = str.maketrans({"\t": " ", "\n": " ", "\r": " ", "\v": " ", "\f": " "})


def tsv_line(cells: Iterable[Cell]) -> str:
    """One row as tab-separated values, with its newline."""
    return "\t".join(_plain(cell) for cell in cells) + "\n"


def print_table(
    console: Console | None,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    *,
    title: str | None = None,
    show_header: bool = True,
    drop_empty: Sequence[str] = (),
) -> None:
    """``rows`` under ``columns``: a rich table on a terminal, TSV elsewhere.

    ``drop_empty`` names columns left out when no row has a value in them (a Content-ID
    column that would only take space). The title is for a person: TSV has none, and always
    a header line (``show_header`` is the terminal's).
    """
    keep = [
        index
        for index, column in enumerate(columns)
        if column.header not in drop_empty or any(_plain(row[index]) for row in rows)
    ]
    columns = [columns[i] for i in keep]
    rows = [[row[i] for i in keep] for row in rows]
    if console is None or is_piped(console):
        write = _file(console).write
        write(tsv_line(column.header for column in columns))
        for row in rows:
            write(tsv_line(row))
        return
    from rich.table import Table  # noqa: PLC0415 - only to draw for a terminal

    table = Table(title=title, title_justify="left", show_header=show_header)
    for column in columns:
        table.add_column(
            column.header,
            justify=column.justify,
            style=column.style,
            no_wrap=not column.wrap,
            overflow="fold" if column.wrap else "ellipsis",
            max_width=column.max_width,
        )
    for row in rows:
        table.add_row(*(cell if isinstance(cell, str) else _rich(cell) for cell in row))
    console.print(table)


def _file(console: Console | None) -> Any:
    """Where the TSV goes: the console's file, or stdout (looked up now, as rich does)."""
    return sys.stdout if console is None else console.file


class RowWriter:
    """Rows written as they come: TSV in a pipe; on a terminal, fixed-width lines under a
    title and a header, each value cut to its column (with "…") by its width in cells."""

    def __init__(self, console: Console | None, columns: Sequence[Column], *, title: str) -> None:
        self._columns = list(columns)
        self._piped = is_piped(console)
        self.count = 0
        if console is None or self._piped:
            self._write = _file(console).write
            self._write(tsv_line(column.header for column in self._columns))
            return
        from rich.text import Text  # noqa: PLC0415 - only to draw for a terminal

        self._console = console
        self._widths = _widths(self._columns, console.width)
        console.print(Text(title, style="bold"), overflow="ellipsis", no_wrap=True, crop=True)
        header = self._line([Text(c.header, style="bold") for c in self._columns])
        console.print(header, no_wrap=True, crop=True)
        rule = " " * _GAP
        console.print(rule.join("─" * w for w in self._widths), style="dim", no_wrap=True)

    def _line(self, cells: Sequence[Cell]) -> Text:
        from rich.text import Text  # noqa: PLC0415 - imported already by __init__

        line = Text(no_wrap=True, end="")
        for index, (cell, column, width) in enumerate(
            zip(cells, self._columns, self._widths, strict=True)
        ):
            text = _rich(cell)
            if column.style:
                text.stylize(column.style)
            text.truncate(width, overflow="ellipsis")
            pad = " " * (width - text.cell_len)
            if index:
                line.append(" " * _GAP)
            if column.justify == "right":
                line.append(pad)
                line.append_text(text)
            else:
                line.append_text(text)
                if index < len(self._columns) - 1:  # no trailing spaces after the last
                    line.append(pad)
        return line

    def write(self, cells: Sequence[Cell]) -> None:
        self.count += 1
        if self._piped:
            self._write(tsv_line(cells))
        else:
            self._console.print(self._line(cells), no_wrap=True, crop=True)


def _widths(columns: Sequence[Column], total: int) -> list[int]:
    """Fixed columns keep their width; the others share what is left, each at most its
    ``max_width`` (a third of the rest when it has one), the last taking the remainder."""
    fixed = sum(c.width or 0 for c in columns) + _GAP * (len(columns) - 1)
    shared = [i for i, c in enumerate(columns) if c.width is None]
    left = max(total - fixed, 8 * len(shared))
    widths = [c.width or 0 for c in columns]
    for position, index in enumerate(shared):
        column = columns[index]
        if position == len(shared) - 1:
            widths[index] = max(left, len(column.header))
        else:
            share = max(len(column.header), left // 3)
            widths[index] = min(column.max_width or share, share)
            left -= widths[index]
    return widths
