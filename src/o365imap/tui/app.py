"""The main screen: folders on the left, the message list on the right, a status line.

Every network call runs in a thread worker through the MailSession (one connection, one
command at a time) and comes back as a Message; handlers only update widgets, so a slow or
silent server never freezes the keys. A watcher worker waits for new mail (IDLE, or NOOP
polling) and lets go of the connection whenever another worker needs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Static, Tree
from textual.widgets.tree import TreeNode
from textual.worker import get_current_worker

from o365imap import CopyResult, FolderInfo, InteractionRequired, UsageError
from o365imap._display import counted
from o365imap._terminal_text import for_terminal
from o365imap.tui.compose import Composer
from o365imap.tui.dialogs import ConfirmScreen, FolderPicker
from o365imap.tui.events import (
    FolderOpened,
    FoldersLoaded,
    Moved,
    NeedSignIn,
    NewMail,
    PageLoaded,
    PageSkipped,
    Refused,
    SearchDone,
    ThreadsLoaded,
    UnreadCount,
    while_open,
)
from o365imap.tui.model import (
    THREAD_WINDOW,
    FolderEntry,
    MailSession,
    Row,
    SearchQuery,
    describe_error,
)
from o365imap.tui.outbox import Kind
from o365imap.tui.screens import (
    ActOn,
    ErrorScreen,
    Failed,
    FlagsChanged,
    HelpScreen,
    MessageScreen,
    SearchScreen,
    SignInScreen,
)
from o365imap.tui.widgets import PAGE_SIZE, MessageList

__all__ = ["MailApp"]

# Single-width marks: emoji are two cells in some terminals and one in others.
_MARK = "▪"
# Keys of the main screen that make no sense over a message or a dialog.
_MAIN_ONLY = {
    "search",
    "clear_search",
    "reload",
    "flag",
    "toggle_flagged",
    "sign_in",
    "delete",
    "archive",
    "move",
    "undo",
    "toggle_threads",
    "toggle_folders",
}
# Narrower than this, the folder pane starts hidden: at 80 columns its 23 left the subjects 18.
_FOLDERS_FROM_WIDTH = 100
_WRITING = Binding.Group("Write", compact=True)


class MailApp(App[None]):
    """``MailApp(session).run()``; ``download_dir`` is where attachments go by default."""

    TITLE = "o365imap"
    CSS = """
    #folders { width: 34; max-width: 30%; border-right: solid $primary-background; }
    #list-title { height: 1; padding: 0 1; background: $boost; text-style: bold; }
    #status { height: 1; padding: 0 1; color: $text-muted; }
    #status.error { color: $error; text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help"),
        # Early in the footer: a narrow terminal cuts the footer's end, and a way out must show.
        Binding("q", "quit", "Quit"),
        Binding("slash", "search", "Search"),
        Binding("escape", "clear_search", "End search", show=False),
        Binding("r", "flag('\\\\Seen', True)", "Read", show=False),
        Binding("U", "flag('\\\\Seen', False)", "Unread", show=False),
        Binding("f", "toggle_flagged", "Flag", show=False),
        Binding("d", "delete(False)", "Delete"),
        Binding("D", "delete(True)", "Delete for good", show=False),
        Binding("a", "archive", "Archive"),
        Binding("m", "move", "Move"),
        Binding("u", "undo", "Undo", show=False),  # offered on the status line after a move
        Binding("g", "reload", "Reload"),
        Binding("T", "toggle_threads", "Threads"),  # aerc's key
        # neomutt's usual sidebar-toggle-visible; not in the footer (no room at 120 columns):
        # the help lists it, and the status line names it when the pane starts hidden.
        Binding("B", "toggle_folders", "Folders", show=False),
        # Capitals as in mutt (r, a and f are taken): here and in the message view. One
        # footer entry for the four ("cRAF Write"): 120 columns have room for one, not four.
        Binding("c", "compose('NEW')", "Write", group=_WRITING),
        Binding("R", "compose('REPLY')", "Reply", group=_WRITING),
        Binding("A", "compose('REPLY_ALL')", "Reply all", group=_WRITING),
        Binding("F", "compose('FORWARD')", "Forward", group=_WRITING),
        Binding("L", "sign_in", "Sign in", show=False),
    ]

    def __init__(
        self,
        session: MailSession,
        *,
        download_dir: Path | None = None,
        start_folder: str = "INBOX",
        watch: bool = True,
    ) -> None:
        super().__init__()
        self.session = session
        self.download_dir = download_dir or _default_downloads()
        self.start_folder = start_folder
        self.watch_mail = watch
        self.folder: FolderInfo | None = None
        self.search_query: SearchQuery | None = None
        self.nodes: dict[str, TreeNode[FolderEntry]] = {}
        self.entries: dict[str, FolderEntry] = {}
        self.unread: dict[str, int | None] = {}
        self.uncounted: list[str] | None = None  # folders whose counts wait for the first page
        self.last_error: BaseException | None = None
        self.last_change: CopyResult | None = None  # what u undoes: a move, or delete to Trash
        self.threaded = False  # the thread view is on (T)
        self.thread_request = 0  # the latest threading asked for: older answers are dropped
        self.search_uids: list[int] | None = None  # the search's results, newest first
        self.composer = Composer(self, session, self.status)
        self.sub_title = session.description

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            tree: Tree[FolderEntry] = Tree("Folders", id="folders")
            tree.show_root = False
            yield tree
            with Vertical():
                yield Static("Connecting…", id="list-title")
                yield MessageList(id="messages")
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        tree = self.query_one("#folders", Tree)
        if self.size.width < _FOLDERS_FROM_WIDTH:
            tree.display = False
            self.messages.focus()
            self.status("The folder pane is hidden at this width: B shows it")
        else:
            tree.focus()
        self.load_folders()
        if self.watch_mail:
            self.watch_for_mail()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "compose":  # over the list or a message, never over a question
            return self.screen is self.screen_stack[0] or isinstance(self.screen, MessageScreen)
        return not (action in _MAIN_ONLY and self.screen is not self.screen_stack[0])

    def on_unmount(self) -> None:
        self.workers.cancel_all()
        self.session.close()

    @property
    def messages(self) -> MessageList:
        return self.query_one("#messages", MessageList)

    def status(self, text: str, *, error: bool = False) -> None:
        widget = self.query_one("#status", Static)
        widget.update(Text(for_terminal(text, one_line=True)))
        widget.set_class(error, "error")

    # ---------------------------------------------------------------- workers (network)

    @work(thread=True, exit_on_error=False, group="net")
    def load_folders(self) -> None:
        try:
            entries = self.session.folders()
        except InteractionRequired as exc:
            self.post_message(NeedSignIn(exc))
            return
        except Exception as exc:
            self.post_message(Failed(exc, "list the folders"))
            return
        self.post_message(FoldersLoaded(entries))

    @work(thread=True, exit_on_error=False, group="net")
    def count_folders(self, names: list[str]) -> None:
        """STATUS UNSEEN of every folder, once the first screen is up (``_count_folders``)."""
        try:
            for name, count in self.session.unread(names):
                if get_current_worker().is_cancelled:
                    return
                self.post_message(UnreadCount(name, count))
        except Exception as exc:
            self.post_message(Failed(exc, "count the unread messages"))

    @work(thread=True, exit_on_error=False, group="net")
    def open_folder(self, name: str) -> None:
        try:
            info = self.session.open_folder(name)
        except Exception as exc:
            self.post_message(Failed(exc, f"open the folder {name}"))
            return
        # The newest page right away, on the connection just used: asked for by the list
        # once it has been laid out, its FETCH waited for the screen's next refresh.
        first = None
        if info.exists:
            try:
                first = self.session.page(0, PAGE_SIZE)
            except Exception:
                first = None  # the list asks again, and that failure is the one reported
        self.post_message(FolderOpened(info, first))

    @work(thread=True, exit_on_error=False, group="net")
    def load_page(self, generation: int, page: int, uids: list[int] | None) -> None:
        widget = self.messages
        # Pages asked for while scrolling past them are not worth a round trip any more.
        if generation != widget.generation or page not in widget.wanted_pages:
            self.post_message(PageSkipped(generation, page))
            return
        try:
            if uids is None:
                rows, total = self.session.page(page, PAGE_SIZE)
                self.post_message(PageLoaded(generation, page, rows, total))
            else:
                rows = self.session.rows_by_uid(uids)
                self.post_message(PageLoaded(generation, page, rows, None))
        except Exception as exc:
            self.post_message(PageSkipped(generation, page))
            self.post_message(Failed(exc, "load the messages"))

    @work(thread=True, exit_on_error=False, group="net")
    def load_threads(
        self, request: int, uids: list[int] | None, anchor: int | None, folded: set[int]
    ) -> None:
        try:
            rows = self.session.thread_rows(uids, THREAD_WINDOW)
        except Exception as exc:
            self.post_message(Failed(exc, "load the threads"))
        else:
            self.post_message(ThreadsLoaded(request, rows, anchor, folded))

    @work(thread=True, exit_on_error=False, group="net")
    def run_search(self, query: SearchQuery) -> None:
        try:
            uids = self.session.search(query)
        except Exception as exc:
            self.post_message(Failed(exc, "search"))
        else:
            self.post_message(SearchDone(query, uids))

    @work(thread=True, exit_on_error=False, group="net")
    def set_flag(self, uids: list[int], flag: str, on: bool, folder: str) -> None:
        try:
            changed = self.session.set_flags(uids, flag, on, folder=folder)
        except Exception as exc:
            self.post_message(Failed(exc, "change the flags"))
        else:
            for uid, flags in changed.items():
                self.post_message(FlagsChanged(uid, flags))

    @work(thread=True, exit_on_error=False, group="net")
    def change(self, doing: str, act: Callable[[], CopyResult], undoing: bool = False) -> None:
        """A move or delete (``act``, run here, off the event loop)."""
        try:
            result = act()
        except UsageError as exc:
            self.post_message(Refused(str(exc)))
        except Exception as exc:
            self.post_message(Failed(exc, doing))
        else:
            self.post_message(Moved(result, self.session.exists, undoing))

    @work(thread=True, exit_on_error=False, group="count", exclusive=True)
    def count_unread(self, names: list[str]) -> None:
        """STATUS UNSEEN of one folder, after its flags changed or mail came. Exclusive: only
        the latest request's answer is shown, and it was asked after the latest change."""
        worker = get_current_worker()
        try:
            for folder, count in self.session.unread(names):
                if not worker.is_cancelled:
                    self.post_message(UnreadCount(folder, count))
        except Exception as exc:
            if not worker.is_cancelled:
                self.post_message(Failed(exc, "count the unread messages"))

    @work(thread=True, exit_on_error=False, group="watch")
    def watch_for_mail(self) -> None:
        worker = get_current_worker()

        def stop() -> bool:
            return worker.is_cancelled

        while not worker.is_cancelled:
            try:
                news = self.session.wait_for_news(stop)
            except Exception:
                # The next command of a worker reconnects and reports what is wrong; the
                # watcher just waits for a connection to come back.
                news = None
            if news is not None:
                self.post_message(NewMail(news))
                continue
            # Nothing to watch yet (no connection or folder), or others want the connection.
            for _ in range(5):
                if worker.is_cancelled:
                    return
                time.sleep(0.1)

    # ---------------------------------------------------------------- results

    @while_open
    def on_folders_loaded(self, message: FoldersLoaded) -> None:
        tree = self.query_one("#folders", Tree)
        tree.clear()
        self.nodes.clear()
        self.entries = {e.name: e for e in message.entries}
        parents = {e.parent for e in message.entries}
        for entry in message.entries:
            parent = self.nodes.get(entry.parent or "", tree.root)
            if entry.name in parents:
                node = parent.add(self._label(entry), data=entry, expand=True)
            else:
                node = parent.add_leaf(self._label(entry), data=entry)
            self.nodes[entry.name] = node
        self.status(f"{len(message.entries)} folders")
        # The unread counts wait for the folder's first page: a STATUS makes the server open
        # that folder (reading a 100,000-message index takes it most of a second), and the
        # first screen would wait behind them on the one connection.
        self.uncounted = [e.name for e in message.entries if e.selectable]
        if self.folder is None:
            start = self.start_folder if self.start_folder in self.entries else None
            if start is not None:
                tree.move_cursor(self.nodes[start])
                self.status(f"Opening {start}…")
                self.open_folder(start)
            else:
                if self.start_folder:
                    # Nothing opens: the tree is the way on, even where it starts hidden.
                    tree.display = True
                    tree.focus()
                    self.status(f"No folder named {self.start_folder}: choose one", error=True)
                self._count_folders()
        else:
            self.open_folder(self.folder.name)

    def _count_folders(self) -> None:
        """Count the unread messages of the folders listed last, if not done yet: after the
        first page (or once it cannot come: an empty folder, a failure)."""
        names, self.uncounted = self.uncounted, None
        if names:
            self.count_folders(names)

    def _label(self, entry: FolderEntry) -> Text:
        text = Text()
        if entry.special:
            text.append(_MARK + " ", style="cyan")
        text.append(for_terminal(entry.label, one_line=True), style="bold" if entry.special else "")
        count = self.unread.get(entry.name)
        if count:
            text.append(f" ({count})", style="bold cyan")
        if entry.use_mark:  # last: a narrow pane cuts it first
            text.append(f" [{entry.use_mark}]", style="dim")
        if not entry.selectable:
            text.stylize("dim")
        return text

    @while_open
    def on_unread_count(self, message: UnreadCount) -> None:
        self._set_unread(message.name, message.count)

    def _set_unread(self, name: str, count: int | None) -> None:
        self.unread[name] = count
        node = self.nodes.get(name)
        entry = self.entries.get(name)
        if node is not None and entry is not None:
            node.set_label(self._label(entry))
        if self.folder is not None and self.folder.name == name:
            self._title()

    @on(Tree.NodeSelected, "#folders")
    def folder_chosen(self, event: Tree.NodeSelected[FolderEntry]) -> None:
        entry = event.node.data
        if entry is None:
            return
        if not entry.selectable:
            self.status(f"{entry.name} holds only folders: the server cannot open it")
            return
        self.status(f"Opening {entry.name}…")
        opening = for_terminal(f"{entry.name}: opening…", one_line=True)
        self.query_one("#list-title", Static).update(Text(opening))
        self.messages.focus()  # PgDn now pages the list, as the folder opens
        self.open_folder(entry.name)

    @while_open
    def on_folder_opened(self, message: FolderOpened) -> None:
        # The same folder again (g, a reconnect): the cursor stays where the reader was.
        again = self.folder is not None and self.folder.name == message.info.name
        # Threaded again (g, a reconnect): on the same message, the same threads folded.
        widget = self.messages
        anchor = widget.current.uid if again and widget.current is not None else None
        folded = set(widget.threads.folded) if again and widget.threads is not None else set()
        self.folder = message.info
        self.search_query = self.search_uids = None
        self.messages.empty_text = "  (this folder is empty)"
        generation = self.messages.reset(message.info.exists, keep_cursor=again)
        if message.first is not None and message.first[1] == message.info.exists:
            widget.fill(generation, 0, message.first[0])
            self._count_folders()
        self._title()
        self.messages.focus()
        hidden = not self.query_one("#folders", Tree).display
        self.status(f"{message.info.name} opened" + ("; B shows the folders" if hidden else ""))
        if self.threaded:  # the flat list's first page shows meanwhile
            self._thread(anchor, folded)
        if not message.info.exists:
            self._count_folders()  # no page to wait for

    def _thread(self, anchor: int | None = None, folded: set[int] | None = None) -> None:
        """Thread the folder's newest messages (or the search's first results) again;
        the cursor then on ``anchor`` (a UID), the threads of ``folded`` folded."""
        self.thread_request += 1
        uids = self.search_uids
        what = "results" if self.search_query is not None else "messages"
        self.status(f"Threading the newest {THREAD_WINDOW} {what}…")
        self.load_threads(self.thread_request, uids, anchor, set(folded or ()))

    def _thread_again(self) -> None:
        """Mail came or went: threaded again, in place."""
        widget = self.messages
        anchor = widget.current.uid if widget.current is not None else None
        self._thread(anchor, widget.threads.folded if widget.threads is not None else None)

    @while_open
    def on_threads_loaded(self, message: ThreadsLoaded) -> None:
        if message.request != self.thread_request or not self.threaded:
            return  # asked for another folder or search, or the view was turned off
        self.messages.show_threads(message.rows, anchor=message.anchor, folded=message.folded)
        self._title()
        self.status(f"{len(message.rows)} messages in threads; z folds one, T shows the list")

    @on(MessageList.Said)
    def key_did_nothing(self, message: MessageList.Said) -> None:
        self.status(message.text)

    def action_toggle_threads(self) -> None:
        if self.folder is None:
            self.status("Open a folder first: T threads its messages", error=True)
            return
        self.threaded = not self.threaded
        if self.threaded:
            current = self.messages.current  # neomutt keeps the message under the cursor
            self._thread(current.uid if current is not None else None)
            return
        self.thread_request += 1  # a threading under way is not wanted any more
        widget = self.messages
        if self.search_uids is not None:
            widget.reset(len(self.search_uids), self.search_uids)
        else:
            widget.reset(self.session.exists or self.folder.exists)
        self._title()
        self.status("Thread view off: newest first")

    def action_toggle_folders(self) -> None:
        tree = self.query_one("#folders", Tree)
        tree.display = not tree.display
        if tree.display:
            tree.focus()
        elif self.focused is tree or self.focused is None:
            self.messages.focus()

    def _title(self) -> None:
        if self.folder is None:
            return
        name, total = self.folder.name, self.messages.total
        if self.messages.threads is not None:  # lines shown differ from messages when folded
            uids = self.search_uids
            total = len(uids) if uids is not None else self.session.exists or self.folder.exists
        if self.search_query is not None:
            text = f"{name}: {total} found for {self.search_query.describe()}  (Escape: all mail)"
        else:
            unread = self.unread.get(name)
            extra = f", {unread} unread" if unread else ""
            text = f"{name}: {total} messages{extra}"
        if self.messages.threads is not None:
            count = len(self.messages.threads.rows)
            some = f" of the newest {count}" if count < total else ""
            text += f"  (threads{some}; T: newest first)"
        self.query_one("#list-title", Static).update(Text(for_terminal(text, one_line=True)))

    @on(MessageList.PagesWanted)
    def pages_wanted(self, message: MessageList.PagesWanted) -> None:
        for page in message.pages:
            uids = message.widget.uids_for_page(page) if message.widget.uids is not None else None
            self.load_page(message.generation, page, uids)

    @while_open
    def on_page_loaded(self, message: PageLoaded) -> None:
        widget = self.messages
        if (
            message.total is not None
            and message.generation == widget.generation
            and widget.uids is None
            and message.total != widget.total
        ):
            self._moved(message.total)  # mail came or went: the numbering moved
            self._recount()
            return
        widget.fill(message.generation, message.page, message.rows)
        self._count_folders()

    @while_open
    def on_page_skipped(self, message: PageSkipped) -> None:
        self.messages.forget(message.generation, message.page)

    def _moved(self, exists: int) -> None:
        widget = self.messages
        delta = exists - widget.total
        cursor = widget.cursor
        widget.reset(exists, keep_cursor=True)
        if delta > 0:
            widget.move_to(cursor + delta)  # new mail comes on top: stay on the same message
        self._title()

    @while_open
    def on_new_mail(self, message: NewMail) -> None:
        widget, news = self.messages, message.news
        if self.folder is None or self.folder.name != news.folder:
            return  # news of a folder left meanwhile
        self._recount()
        if widget.threads is not None and self.search_query is None:
            self._thread_again()
            return
        if widget.uids is not None:
            self.status("The folder changed; Escape shows it")
            return
        if news.expunged and widget.total - len(news.expunged) == news.exists:
            widget.remove_expunged(news.expunged)  # in place, from the server's EXPUNGEs
            self._title()
            self.status(f"{counted(len(news.expunged))} moved or deleted elsewhere")
            return
        delta = news.exists - widget.total
        self._moved(news.exists)
        if delta > 0:
            self.status(f"{counted(delta, 'new message')}")

    @while_open
    def on_search_done(self, message: SearchDone) -> None:
        self.search_query = message.query
        self.search_uids = list(message.uids)
        self.messages.empty_text = "  (no message matches)"
        self.messages.reset(len(message.uids), message.uids)
        self._title()
        self.messages.focus()
        self.status(f"{counted(len(message.uids))} found")
        if self.threaded:
            self._thread()

    @while_open
    def on_flags_changed(self, message: FlagsChanged) -> None:
        # From the list, or from the message view (which may be heard twice: the message
        # bubbles up and is posted again): compared with the row, so counted once.
        widget = self.messages
        before = next((r for r in widget.rows.values() if r.uid == message.uid), None)
        unread = "\\Seen" not in message.flags
        widget.update_row(message.uid, message.flags)
        if before is not None and before.unread == unread:
            return  # the read state did not change
        if self.folder is not None:
            name = self.folder.name
            count = self.unread.get(name)
            if before is not None and count is not None:  # at once, then the server's word
                self._set_unread(name, max(0, count + (1 if unread else -1)))
            self.count_unread([name])

    @while_open
    def on_moved(self, message: Moved) -> None:
        result, widget = message.result, self.messages
        if result.copies_left:
            # A move done as copy + delete lost its connection in between: the originals may
            # still be here, so no row goes and there is nothing to undo (the copies are kept).
            self.last_change = None
            self.status(
                f"Copied to {result.to}, but the connection was lost before the originals "
                "were deleted: they may still be here (g reloads)",
                error=True,
            )
            return
        here = self.folder.name if self.folder is not None else None
        if result.folder == here:
            widget.remove_uids(result.uids)  # in place: no reload of the folder
            if self.search_uids is not None:  # T and the title read the results from here
                moved = set(result.uids)
                self.search_uids = [u for u in self.search_uids if u not in moved]
            self._title()
        if message.exists is not None and message.exists != widget.total and widget.uids is None:
            self._moved(message.exists)  # messages came here (undo), or mail meanwhile
        elif widget.threads is not None and result.to == here and self.search_query is None:
            self._thread_again()  # back here (undo): into their threads
        count = len(result.uids)
        if message.undoing:
            self.last_change = None
            self.status(f"Undone: {counted(count)} back in {result.to}")
        elif result.to is None:
            self.last_change = None  # a permanent delete cannot be undone, nor what came before
            self.status(f"{counted(count)} deleted permanently")
        else:
            self.last_change = result
            self.status(f"{counted(count)} moved to {result.to}; u undoes")
        self._recount(*(n for n in (result.folder, result.to) if n is not None))

    def on_refused(self, message: Refused) -> None:
        self.status(message.text, error=True)

    def _recount(self, *names: str) -> None:
        """Ask the server for the open folder's unread count again (mail came or went), and
        for ``names`` (where messages went)."""
        wanted = [self.folder.name] if self.folder is not None else []
        wanted += [n for n in names if n not in wanted and n in self.entries]
        if wanted:
            self.count_unread(wanted)

    def on_failed(self, message: Failed) -> None:
        self.last_error = message.error
        self._count_folders()  # the first page may never come
        sentence, hint = describe_error(message.error)
        self.status(f"{sentence} {hint}", error=True)
        if self.folder is None:
            self.query_one("#list-title", Static).update(Text("Not connected"))
        if not isinstance(self.screen, ErrorScreen):  # one at a time: pages fail together
            self.push_screen(ErrorScreen(message.error, message.doing))

    def on_need_sign_in(self, message: NeedSignIn) -> None:
        if not self.session.can_sign_in:
            self.post_message(Failed(message.error, "sign in"))
            return
        self.action_sign_in()

    @on(MessageList.Opened)
    def message_opened(self, message: MessageList.Opened) -> None:
        self.push_screen(MessageScreen(self.session, message.row, self.download_dir, self._step))

    def _step(self, uid: int | None, delta: int) -> Row | str:
        """For the message view's next and previous keys: the message ``delta`` lines from
        ``uid`` in the list as shown (threaded or not), the list's cursor put on it; or why
        there is none."""
        widget = self.messages
        here = next((i for i, r in widget.rows.items() if r.uid == uid), widget.cursor)
        target = here + delta
        if target < 0:
            return "This is the first message of the list"
        if target >= widget.total:
            return "This is the last message of the list"
        widget.move_to(target)
        row = widget.current
        if row is None:
            return "That message is still loading; press the key again in a moment"
        return row

    # ---------------------------------------------------------------- actions

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_search(self) -> None:
        if self.folder is None:
            self.status("Open a folder first", error=True)
            return

        def done(query: SearchQuery | None) -> None:
            if query is not None:
                self.status(f"Searching for {query.describe()}…")
                self.run_search(query)

        self.push_screen(SearchScreen(self.search_query), done)

    def action_clear_search(self) -> None:
        if self.search_query is not None and self.folder is not None:
            self.status(f"{self.folder.name}")
            self.open_folder(self.folder.name)
        else:
            self.status("No search to leave (Escape leaves search results)")

    def action_reload(self) -> None:
        self.status("Reloading…")
        self.load_folders()

    def action_sign_in(self) -> None:
        if not self.session.can_sign_in:
            self.status("This session signs in with a given token; nothing to sign in", error=True)
            return

        def done(ok: bool | None) -> None:
            if ok:
                self.status("Signed in")
                self.load_folders()

        self.push_screen(SignInScreen(self.session), done)

    def _chosen(self) -> list[int]:
        """The marked messages, else the one under the cursor; none outside the list (the
        status line then says why)."""
        if self.focused is not self.messages:
            self.status("Choose a message in the list first (Tab moves there)")
            return []
        uids = self.messages.chosen_uids
        if not uids:
            self.status(self.messages.why_no_row())
        return uids

    def action_flag(self, flag: str, on: bool) -> None:
        uids = self._chosen()
        if uids and self.folder is not None:
            self.set_flag(uids, flag, on, self.folder.name)

    def action_toggle_flagged(self) -> None:
        uids = self._chosen()
        if uids and self.folder is not None:
            rows = [r for r in self.messages.rows.values() if r.uid in uids]
            # Several, some flagged: flag them all (a second f unflags them all).
            self.set_flag(uids, "\\Flagged", not all(r.flagged for r in rows), self.folder.name)

    def on_act_on(self, message: ActOn) -> None:
        if message.action == "move":
            self._move([message.uid])
        else:
            self._delete([message.uid], message.action == "delete_permanently")

    def action_delete(self, permanently: bool) -> None:
        self._delete(self._chosen(), permanently)

    def _delete(self, uids: list[int], permanently: bool) -> None:
        if not uids or self.folder is None:
            return
        # The folder the UIDs are of, now: another may be open by the time the worker runs.
        session, here = self.session, self.folder.name

        def delete() -> CopyResult:
            return session.delete(uids, permanently=permanently, folder=here)

        if not permanently:
            self.status(f"Deleting {counted(len(uids))}…")
            self.change("delete the messages", delete)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.status(f"Deleting {counted(len(uids))} permanently…")
                self.change("delete the messages", delete)

        question = f"Delete {counted(len(uids))} permanently? This cannot be undone."
        self.push_screen(ConfirmScreen(question), answered)

    def action_archive(self) -> None:
        uids = self._chosen()
        if not uids:
            return
        session, here = self.session, self.folder.name if self.folder else None

        def archive() -> CopyResult:
            name = session.archive_folder()
            if name is None:
                raise UsageError(
                    "This server names no Archive folder (special use \\Archive); "
                    "m moves the messages to a folder of your choice"
                )
            if name == here:
                raise UsageError(f"These messages are in {name} already")
            return session.move(uids, name, folder=here)

        self.status(f"Archiving {counted(len(uids))}…")
        self.change("archive the messages", archive)

    def action_move(self) -> None:
        self._move(self._chosen())

    def _move(self, uids: list[int]) -> None:
        if not uids or self.folder is None:
            return
        here = self.folder.name
        names = [e.name for e in self.entries.values() if e.selectable and e.name != here]

        def chosen(name: str | None) -> None:
            if name is not None:
                self.status(f"Moving {counted(len(uids))} to {name}…")
                self.change(
                    f"move the messages to {name}",
                    lambda: self.session.move(uids, name, folder=here),
                )

        self.push_screen(FolderPicker(f"Move {counted(len(uids))} to:", names), chosen)

    def action_compose(self, kind: str) -> None:
        """Write a new message, or answer or forward the one open or under the cursor."""
        screen, row = self.screen, None
        if isinstance(screen, MessageScreen):
            row = screen.row
        elif self.focused is self.messages:
            row = self.messages.current
        uid = row.uid if row is not None else None
        self.composer.start(Kind[kind], uid, self.folder.name if self.folder else None)

    def action_undo(self) -> None:
        done = self.last_change
        if done is None:
            self.status("Nothing to undo (only the last move or delete can be)", error=True)
            return
        self.status(f"Moving {counted(len(done.uids))} back to {done.folder}…")
        self.change("undo the last move", lambda: self.session.move_back(done), undoing=True)


def _default_downloads() -> Path:
    downloads = Path.home() / "Downloads"
    return downloads if downloads.is_dir() else Path.cwd()
