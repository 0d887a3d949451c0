"""The message list: a line-API widget with one line per message of the folder, filled lazily.

A DataTable would need a row object per message before it could draw the first screen (a
100,000-message folder then costs seconds); this widget only knows the count, draws the lines
in view, and asks for the pages it lacks (those in view and the next one) with a message. The
app fetches each page with one FETCH and hands the rows back with ``fill``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from o365imap._display import human_size, local_time
from o365imap.tui.model import Row
from o365imap.tui.threads import Node, lines, thread

__all__ = ["PAGE_SIZE", "MessageList", "Threads"]

PAGE_SIZE = 50


@dataclass(eq=False)
class Threads:
    """The thread view's state: the rows threaded (all loaded), their threads, and the roots
    folded (by UID, so a fold survives a message going away)."""

    rows: list[Row]
    roots: list[Node] = field(default_factory=list)
    folded: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.roots = thread([row.links for row in self.rows])


class MessageList(ScrollView, can_focus=True):
    """Newest first; row ``i`` is the ``i``-th newest message (or search result)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("space", "toggle_mark", "Mark"),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "open", "Open"),
        # aerc's za, in one key: fold or unfold the thread under the cursor (thread view).
        Binding("z", "fold", "Fold", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "messagelist--cursor",
        "messagelist--loading",
        "messagelist--unread",
    }
    DEFAULT_CSS = """
    MessageList { height: 1fr; overflow-x: hidden; }
    MessageList > .messagelist--cursor { background: $accent 40%; }
    MessageList:focus > .messagelist--cursor { background: $accent; color: $text; }
    MessageList > .messagelist--loading { color: $text-muted; }
    MessageList > .messagelist--unread { text-style: bold; }
    """

    @dataclass(eq=False)
    class PagesWanted(Message):
        """Pages (numbered from 0, PAGE_SIZE rows each) to fetch for ``generation``."""

        widget: MessageList
        generation: int
        pages: tuple[int, ...]

    @dataclass(eq=False)
    class Said(Message):
        """A key did nothing: why, for the status line."""

        text: str

    @dataclass(eq=False)
    class Opened(Message):
        """Enter or a double click on a loaded row."""

        widget: MessageList
        row: Row

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.total = 0
        self.cursor = 0
        self.generation = 0
        self.uids: list[int] | None = None  # search results, or None for the whole folder
        self.rows: dict[int, Row] = {}
        self.requested: set[int] = set()
        self.loaded_pages: set[int] = set()
        self.empty_text = ""
        self.marked: set[int] = set()  # UIDs, so a mark survives the rows moving up or down
        self.threads: Threads | None = None  # the thread view, when on
        self.branches: dict[int, str] = {}  # UID -> what goes before its subject in the thread view

    # ---------------------------------------------------------------- data

    def reset(self, total: int, uids: list[int] | None = None, *, keep_cursor: bool = False) -> int:
        """Show ``total`` rows, none loaded yet; the new generation (older pages are dropped)."""
        self.generation += 1
        self.total = total
        self.uids = uids
        self.threads = None
        self.branches.clear()
        self.rows.clear()
        if uids is not None or not keep_cursor:
            self.marked.clear()  # another folder or search: the marks were for what was shown
        self.requested.clear()
        self.loaded_pages.clear()
        self.cursor = min(self.cursor, max(0, total - 1)) if keep_cursor else 0
        self.virtual_size = Size(self.scrollable_content_region.width, total)
        if not keep_cursor:
            self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()
        self.call_after_refresh(self._want)
        return self.generation

    def fill(self, generation: int, page: int, rows: list[Row]) -> None:
        if generation != self.generation:
            return  # an answer for a folder (or search) no longer shown
        start = page * PAGE_SIZE
        for offset, row in enumerate(rows):
            self.rows[start + offset] = row
        self.loaded_pages.add(page)
        self.requested.add(page)  # filled before it was asked for: never asked
        self.refresh()

    def show_threads(
        self, rows: list[Row], *, anchor: int | None = None, folded: set[int] | None = None
    ) -> None:
        """Show ``rows`` (all loaded at once) as threads, the roots of ``folded`` (UIDs)
        folded; the cursor on the message ``anchor`` (a UID), else at the top."""
        self.threads = Threads(rows, folded=set(folded or ()))
        if anchor is None or all(row.uid != anchor for row in rows):
            anchor = None  # not among them (older than the range threaded)
            self.cursor = 0
            self.scroll_to(0, 0, animate=False, immediate=True)
        self._lay_out(anchor)

    def _lay_out(self, uid: int | None) -> None:
        """The thread view's lines again (after a fold, or messages gone); the cursor on ``uid``
        or else where it was."""
        threads = self.threads
        assert threads is not None
        rows = threads.rows
        folded = {i for i, row in enumerate(rows) if row.uid in threads.folded}
        shown = lines(threads.roots, folded)
        self.generation += 1  # pages asked for the flat list must not land here
        self.total = len(shown)
        self.uids = [rows[line.index].uid or 0 for line in shown]
        self.rows = {i: rows[line.index] for i, line in enumerate(shown)}
        self.branches = {
            rows[line.index].uid or 0: line.tree + (f"[+{line.hidden}]" if line.hidden else "")
            for line in shown
        }
        pages = set(range((self.total + PAGE_SIZE - 1) // PAGE_SIZE))
        self.loaded_pages, self.requested = set(pages), set(pages)
        index = self.uids.index(uid) if uid is not None and uid in self.uids else self.cursor
        self.virtual_size = Size(self.scrollable_content_region.width, self.total)
        if self.total:
            self.move_to(index)
        else:
            self.refresh()

    def action_fold(self) -> None:
        threads, row = self.threads, self.current
        if threads is None:
            self.post_message(self.Said("z folds a thread in the thread view: T turns it on"))
            return
        if row is None or row.uid is None:
            self.post_message(self.Said("No message here to fold"))
            return
        index = next(i for i, r in enumerate(threads.rows) if r.uid == row.uid)
        root = next(node for node in threads.roots if _holds(node, index))
        root_uid = threads.rows[root.index].uid
        if not root.children or root_uid is None:
            self.post_message(self.Said("This message has no replies to fold"))
            return
        threads.folded ^= {root_uid}
        self._lay_out(root_uid)

    def forget(self, generation: int, page: int) -> None:
        """A page was not fetched after all (scrolled away, or failed): ask again when seen."""
        if generation == self.generation:
            self.requested.discard(page)

    def update_row(self, uid: int, row_flags: tuple[str, ...]) -> None:
        for index, row in self.rows.items():
            if row.uid == uid:
                self.rows[index] = replace(row, summary=row.summary._replace(flags=row_flags))
                self.refresh()
        if self.threads is not None:
            self.threads.rows = [
                replace(r, summary=r.summary._replace(flags=row_flags)) if r.uid == uid else r
                for r in self.threads.rows
            ]

    def remove_uids(self, uids: Iterable[int]) -> None:
        """Take these messages out of the list in place (moved or deleted here)."""
        gone = set(uids)
        self.marked -= gone
        if self.threads is not None:  # threaded again without them: a reply may move up
            keep = self.cursor
            self.threads = Threads(
                [r for r in self.threads.rows if r.uid not in gone], folded=self.threads.folded
            )
            self._lay_out(None)
            self.move_to(min(keep, self.total - 1))
            return
        if self.uids is not None:
            self.remove_at(i for i, uid in enumerate(self.uids) if uid in gone)
        else:
            self.remove_at(i for i, row in self.rows.items() if row.uid in gone)

    def remove_expunged(self, seqs: Iterable[int]) -> None:
        """Take out the messages the server expunged, by sequence number, each renumbering
        the ones after it (RFC 3501 7.4.1); row 0 is the newest, sequence number ``total``."""
        for seq in seqs:
            self.remove_at([self.total - seq])

    def remove_at(self, indexes: Iterable[int]) -> None:
        """Take rows out in place: the rows after them move up, the pages left with a gap
        are fetched again, nothing else is."""
        gone = sorted({i for i in indexes if 0 <= i < self.total})
        if not gone:
            return
        dropped = set(gone)
        if self.uids is not None:
            self.uids = [u for i, u in enumerate(self.uids) if i not in dropped]
        kept: dict[int, Row] = {}
        for index, row in self.rows.items():
            if index in dropped:
                if row.uid is not None:
                    self.marked.discard(row.uid)
            else:
                kept[index - bisect_left(gone, index)] = row
        # Pages asked for before the change would land off by some rows: a new generation.
        self.generation += 1
        self.total -= len(gone)
        self.rows = kept
        self.cursor -= bisect_left(gone, self.cursor)  # on the row that took its place
        self.loaded_pages = {
            p
            for p in {i // PAGE_SIZE for i in kept}
            if all(i in kept for i in range(p * PAGE_SIZE, min(self.total, (p + 1) * PAGE_SIZE)))
        }
        self.requested = set(self.loaded_pages)
        self.cursor = min(self.cursor, max(0, self.total - 1))
        self.virtual_size = Size(self.scrollable_content_region.width, self.total)
        self.refresh()
        self.call_after_refresh(self._want)

    @property
    def chosen_uids(self) -> list[int]:
        """The marked messages, or else the one under the cursor: what an action applies to."""
        if self.marked:
            return sorted(self.marked)
        row = self.current
        return [row.uid] if row is not None and row.uid is not None else []

    def action_toggle_mark(self) -> None:
        row = self.current
        if row is None or row.uid is None:
            self.post_message(self.Said(self.why_no_row()))
            return
        self.marked ^= {row.uid}
        self.move_to(self.cursor + 1)  # as in mutt and Midnight Commander: on to the next

    def uids_for_page(self, page: int) -> list[int]:
        if self.uids is None:
            return []
        return self.uids[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]

    @property
    def wanted_pages(self) -> frozenset[int]:
        """The pages in view and the next one: what is worth a FETCH now."""
        if self.total == 0:
            return frozenset()
        top = int(self.scroll_offset.y)
        height = max(1, self.size.height)
        first = top // PAGE_SIZE
        last = min((top + height - 1) // PAGE_SIZE + 1, (self.total - 1) // PAGE_SIZE)
        return frozenset(range(first, last + 1))

    @property
    def current(self) -> Row | None:
        return self.rows.get(self.cursor)

    def _want(self) -> None:
        missing = tuple(sorted(p for p in self.wanted_pages if p not in self.requested))
        if missing:
            self.requested.update(missing)
            self.post_message(self.PagesWanted(self, self.generation, missing))

    # ---------------------------------------------------------------- scrolling and keys

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._want()

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, self.total)
        self._want()

    def move_to(self, index: int) -> None:
        if self.total == 0:
            return
        self.cursor = max(0, min(index, self.total - 1))
        height = max(1, self.size.height)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)
        self.refresh()
        self._want()

    def why_no_row(self) -> str:
        """Why there is no message under the cursor to act on."""
        if self.total == 0:
            return self.empty_text.strip().strip("()").capitalize() or "No message here"
        return "This message is still loading; try again in a moment"

    def _say_if_empty(self) -> bool:
        """Moving in an empty list does nothing: say why (the keys are silent otherwise)."""
        if self.total == 0:
            self.post_message(self.Said(self.why_no_row()))
        return self.total == 0

    def action_cursor(self, delta: int) -> None:
        if self._say_if_empty():
            return
        target = self.cursor + delta
        if self.total and not 0 <= target < self.total:
            first = target < 0
            self.post_message(self.Said(f"This is the {'first' if first else 'last'} message"))
        self.move_to(target)

    def action_page(self, direction: int) -> None:
        if self._say_if_empty():
            return
        if self.total and self.cursor == (0 if direction < 0 else self.total - 1):
            self.post_message(
                self.Said(f"This is the {'first' if direction < 0 else 'last'} message")
            )
        self.move_to(self.cursor + direction * max(1, self.size.height - 1))

    def action_jump(self, where: int) -> None:
        if self._say_if_empty():
            return
        self.move_to(self.total - 1 if where < 0 else where)

    def action_open(self) -> None:
        row = self.current
        if row is None:
            self.post_message(self.Said(self.why_no_row()))
        else:
            self.post_message(self.Opened(self, row))

    def on_click(self, event: events.Click) -> None:
        self.focus()
        self.move_to(int(self.scroll_offset.y) + event.y)
        if event.chain >= 2:
            self.action_open()

    # ---------------------------------------------------------------- drawing

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width  # without the scrollbar
        index = int(self.scroll_offset.y) + y
        base = self.rich_style
        if self.total == 0:
            if y == 0 and self.empty_text:
                return Strip([Segment(set_cell_size(self.empty_text, width), base)])
            return Strip.blank(width, base)
        if index >= self.total:
            return Strip.blank(width, base)
        # Component styles carry a background too: the cursor's goes on last, or it is lost.
        cursor = self.get_component_rich_style("messagelist--cursor")
        row = self.rows.get(index)
        if row is None:
            style = base + self.get_component_rich_style("messagelist--loading")
            if index == self.cursor:
                style += cursor
            return Strip([Segment(set_cell_size("  …", width), style)])
        style = base
        if row.unread:
            style += self.get_component_rich_style("messagelist--unread")
        if index == self.cursor:
            style += cursor
        # In the reader's own time zone: senders' offsets differ, the order should not seem to.
        # A narrow list (an 80-column terminal) drops the year for the subject.
        date_format, date_width = ("%m-%d %H:%M", 11) if width < 80 else ("%Y-%m-%d %H:%M", 16)
        when = local_time(row.when, date_format)
        marks = ("✓" if row.uid in self.marked else " ") + ("●" if row.unread else " ")
        marks += "★" if row.flagged else " "
        marks += _answer_mark(row)
        marks += "@" if row.has_attachment else " "
        size = human_size(row.summary.size, compact=True).rjust(8)
        # Narrow: the sender gives the marks' column back to the subject.
        who_width = max(8, min(24, width // 5 - (1 if width < 72 else 0)))
        subject_width = max(1, width - (6 + date_width + 1 + who_width + 1 + 9))
        # The thread's tree before the subject, as neomutt draws it; a deep one is cut on the
        # left, so the subject keeps at least half of its column.
        tree = self.branches.get(row.uid or 0, "")
        if tree:
            tree = tree[-max(3, subject_width // 2) :] + " "
        segments = [
            Segment(marks + " ", style + Style(color="yellow") if row.flagged else style),
            Segment(set_cell_size(when, date_width) + " ", style),
            Segment(set_cell_size(row.sender, who_width) + " ", style),
            Segment(tree, style + Style(color="cyan")),
            Segment(set_cell_size(row.subject, max(0, subject_width - cell_len(tree))), style),
            Segment(" " + size, style),
        ]
        strip = Strip(segments)
        if cell_len(marks) + 1 + date_width + 1 + who_width + 1 + subject_width + 9 != width:
            strip = strip.adjust_cell_length(width, style)
        return strip


def _answer_mark(row: Row) -> str:
    """One column for what was done with the message: r replied (mutt's mark), f forwarded,
    b both."""
    if row.answered:
        return "b" if row.forwarded else "r"
    return "f" if row.forwarded else " "


def _holds(root: Node, index: int) -> bool:
    stack = [root]
    while stack:
        node = stack.pop()
        if node.index == index:
            return True
        stack.extend(node.children)
    return False
