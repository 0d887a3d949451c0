"""The screens over the main one: a message, the search form, save, help, errors, sign-in.

Network work happens in thread workers (``@work(thread=True)``) through the MailSession, and
comes back as small Message dataclasses; handlers only draw.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    Button,
    Checkbox,
    Footer,
    Header,
    Input,
    Label,
    OptionList,
    ProgressBar,
    Static,
)
from textual.widgets.option_list import Option

from o365imap import Group, MessageView, PartInfo, SavedPart, SignInCancelled
from o365imap import Progress as SaveProgress  # MessageScreen.Progress is the bar's message
from o365imap._display import counted, human_size, local_time
from o365imap._terminal_text import for_terminal
from o365imap.mime import make_directory
from o365imap.tui.model import MailSession, Row, SearchQuery, describe_error, parse_day

__all__ = [
    "KEYS",
    "ActOn",
    "ErrorScreen",
    "Failed",
    "FlagsChanged",
    "HelpScreen",
    "MessageScreen",
    "SaveDialog",
    "SearchScreen",
    "SignInScreen",
]

# The help screen's table; the bindings themselves live with the widgets that act on them.
KEYS: tuple[tuple[str, str, str], ...] = (
    ("Everywhere", "?", "this help"),
    ("Everywhere", "q / Ctrl+Q", "back, or quit from the main screen"),
    ("Everywhere", "Tab / Shift+Tab", "next / previous pane"),
    ("Folders", "↑ ↓, Enter", "choose a folder, open it"),
    ("Folders", "B", "hide / show the folder pane (hidden at first under 100 columns)"),
    ("Messages", "↑ ↓ j k, PgUp PgDn, Home End", "move"),
    ("Messages", "Enter, double click", "open the message"),
    ("Messages", "Space", "mark / unmark (the keys below act on all marked)"),
    ("Messages", "r / U / f", "mark read / unread / toggle flagged"),
    ("Messages", "d / D", "delete (to the trash folder) / delete permanently (asks first)"),
    ("Messages", "a / m", "archive / move to a folder (type to filter the list)"),
    ("Messages", "u", "undo the last move or delete"),
    ("Messages", "/ , Escape", "search this folder (from, subject, text, dates, unread) / leave"),
    ("Messages", "T / z", "thread view on / off (the newest 500) / fold or unfold a thread"),
    (
        "Messages",
        "c / R / A / F",
        "write ($VISUAL, $EDITOR or vi) / reply / reply to all / forward",
    ),
    ("Main", "g", "reload folders and the list (also: reconnect)"),
    ("Main", "L", "sign in again (when the saved sign-in no longer works)"),
    ("Message", "J / K, n / p", "next / previous message, in the list's order"),
    ("Message", "s / a", "save the chosen attachment / save all attachments"),
    ("Message", "r / U / f", "mark read / unread / toggle flagged"),
    ("Message", "d / D / m", "delete / delete permanently / move, back to the list"),
    ("Message", "g", "read the message again (after an error)"),
    ("Message", "c / R / A / F", "write a new message / reply / reply to all / forward"),
    ("Message", "Escape / q", "back to the list"),
    ("Marks", "● ★ @ ✓", "unread, flagged, has attachments, marked with Space"),
    ("Marks", "r f b, ├─>", "replied, forwarded, both; a reply under what it answers"),
)


_STEP = Binding.Group("Next/previous", compact=True)


@dataclass(eq=False)
class Failed(Message):
    """A worker's failure, to be shown as a sentence and what to do."""

    error: BaseException
    doing: str


@dataclass(eq=False)
class ActOn(Message):
    """From the message view: delete, delete permanently or move this message; the app does
    it, as for the list's keys, once the view is closed."""

    action: str  # "delete", "delete_permanently" or "move"
    uid: int


@dataclass(eq=False)
class FlagsChanged(Message):
    uid: int
    flags: tuple[str, ...]


# ---------------------------------------------------------------- small modal screens


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 116; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 1 2; }
    """

    def compose(self) -> ComposeResult:
        # Three columns, the section named on its first row: a row per section title made
        # the table longer than a 36-line terminal.
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold underline", no_wrap=True)
        # As wide as the longest keys: a narrower column ran them into their descriptions.
        grid.add_column(style="bold cyan", no_wrap=True, min_width=max(len(k) for _, k, _ in KEYS))
        grid.add_column(ratio=1)
        section = ""
        for where, keys, what in KEYS:
            grid.add_row(where if where != section else "", keys, what)
            section = where or section
        with VerticalScroll(id="help"):
            yield Static(Text("Keys (the mouse works too: click, double click, wheel)\n"))
            yield Static(grid, id="help-keys")

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(None)


class ErrorScreen(ModalScreen[None]):
    """What went wrong, in a sentence, and what to do; never a traceback."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,q", "close", "Close")]
    DEFAULT_CSS = """
    ErrorScreen { align: center middle; }
    ErrorScreen > Vertical { width: 80; max-width: 100%; height: auto; border: thick $error;
        background: $surface; padding: 1 2; }
    ErrorScreen #error-title { text-style: bold; color: $error; }
    ErrorScreen #error-hint { margin-top: 1; }
    """

    def __init__(self, error: BaseException, doing: str) -> None:
        super().__init__()
        self.sentence, self.hint = describe_error(error)
        self.doing = doing

    def compose(self) -> ComposeResult:
        with Vertical():
            # Text, not markup: what was being done may name a folder ("a[/]b" ended the app)
            doing = for_terminal(f"Could not {self.doing}", one_line=True)
            yield Label(Text(doing), id="error-title")
            yield Static(Text(self.sentence), id="error-text")
            yield Static(Text(self.hint), id="error-hint")
            yield Button("OK", id="error-ok", variant="error")

    @on(Button.Pressed, "#error-ok")
    def action_close(self) -> None:
        self.dismiss(None)


class SearchScreen(ModalScreen[SearchQuery | None]):
    """The search form: every field optional, all ANDed; Enter in any field searches."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    SearchScreen { align: center middle; }
    SearchScreen > Vertical { width: 70; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 0 2; }
    SearchScreen Input { margin-bottom: 0; }
    SearchScreen .dates { height: auto; }
    /* Side by side, each half: as wide as the form, Before was drawn past its right edge. */
    SearchScreen .dates Input { width: 1fr; }
    SearchScreen #search-error { color: $error; height: auto; }
    """

    def __init__(self, previous: SearchQuery | None = None) -> None:
        super().__init__()
        self.previous = previous or SearchQuery()

    def compose(self) -> ComposeResult:
        p = self.previous
        with Vertical():
            yield Label("Search this folder (on the server)")
            yield Input(p.sender or "", placeholder="From", id="search-from")
            yield Input(p.subject or "", placeholder="Subject", id="search-subject")
            yield Input(p.text or "", placeholder="Text anywhere", id="search-text")
            with Horizontal(classes="dates"):
                since = p.since.isoformat() if p.since else ""
                before = p.before.isoformat() if p.before else ""
                yield Input(since, placeholder="Since YYYY-MM-DD", id="search-since")
                yield Input(before, placeholder="Before YYYY-MM-DD", id="search-before")
            yield Checkbox("Unread only", p.unseen, id="search-unseen")
            yield Static("", id="search-error")
            yield Button("Search", id="search-go", variant="primary")

    def _value(self, name: str) -> str | None:
        return self.query_one(f"#search-{name}", Input).value.strip() or None

    @on(Input.Submitted)
    @on(Button.Pressed, "#search-go")
    def submit(self) -> None:
        try:
            query = SearchQuery(
                sender=self._value("from"),
                subject=self._value("subject"),
                text=self._value("text"),
                since=parse_day(self._value("since")),
                before=parse_day(self._value("before")),
                unseen=self.query_one("#search-unseen", Checkbox).value,
            )
        except ValueError as exc:  # UsageError is one: a date we cannot read
            self.query_one("#search-error", Static).update(Text(for_terminal(str(exc))))
            return
        self.dismiss(query)

    def action_cancel(self) -> None:
        self.dismiss(None)


class SaveDialog(ModalScreen[Path | None]):
    """Where to save: a folder, created if missing."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    SaveDialog { align: center middle; }
    SaveDialog > Vertical { width: 80; max-width: 100%; height: auto; border: thick $accent;
        background: $surface; padding: 1 2; }
    """

    def __init__(self, what: str, directory: Path) -> None:
        super().__init__()
        self.what = what
        self.directory = directory

    def compose(self) -> ComposeResult:
        with Vertical():
            # Text, not markup: the sender names the file ("[@click=...]" would be an action)
            what = for_terminal(self.what, one_line=True)
            yield Label(Text(f"Save {what} into the folder:"))
            yield Input(str(self.directory), id="save-dir")
            yield Label("Enter: save   Escape: cancel")

    @on(Input.Submitted, "#save-dir")
    def submit(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if value:
            self.dismiss(Path(value).expanduser())

    def action_cancel(self) -> None:
        self.dismiss(None)


# The device-code instructions (msal's, or the platform's own words): the page and the code.
_ADDRESS = re.compile(r"https?://[^\s\"'<>]+[^\s\"'<>.,;:)]")
_CODE = re.compile(r"\bcode\s+([A-Za-z0-9-]{4,})")


class SignInScreen(Screen[bool]):
    """Sign in with the profile's flow; shows the address (and the device code) while waiting.

    The address is printed plainly, alone on its lines from the first column, with no border
    or indent around it: selected with the mouse it copies as the address alone (browsers drop
    the line ends of a long one). ``c`` puts it on the clipboard through the terminal (OSC 52),
    ``C`` the device code.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "cancel", "Give up"),  # q: back, as on every other screen
        Binding("c", "copy('address')", "Copy the address"),
        Binding("C", "copy('code')", "Copy the code"),
    ]
    DEFAULT_CSS = """
    SignInScreen #signin-title { padding: 1 1 0 1; text-style: bold; }
    SignInScreen #signin-text { padding: 1 1 0 1; }
    SignInScreen #signin-address { margin: 1 0; padding: 0; border: none; color: $accent; }
    SignInScreen #signin-code { padding: 0 1 1 1; text-style: bold; }
    SignInScreen #signin-keys { padding: 0 1; color: $text-muted; }
    """

    @dataclass(eq=False)
    class Prompt(Message):
        text: str

    @dataclass(eq=False)
    class Done(Message):
        error: BaseException | None

    def __init__(self, session: MailSession) -> None:
        super().__init__()
        self.session = session
        self.prompt: str | None = None  # the URL or the device-code message, once known
        self.address: str | None = None  # the address to open, alone
        self.code: str | None = None  # the device code, for the device-code flow
        self.cancelled = threading.Event()
        self.ended = threading.Event()  # the sign-in worker has returned

    def compose(self) -> ComposeResult:
        yield Header()  # its subtitle names the profile and server
        yield Label("Signing in", id="signin-title")
        yield Static("Starting the sign-in…", id="signin-text")
        yield Static("", id="signin-address")
        yield Static("", id="signin-code")
        yield Static("Escape: give up (the app stays open)", id="signin-keys")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#signin-code").display = False
        self.run_sign_in()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy" and parameters == ("code",):
            return self.code is not None  # only the device-code flow has one
        return True

    @work(thread=True, exit_on_error=False, group="signin")
    def run_sign_in(self) -> None:
        def show(text: str) -> None:
            self.post_message(self.Prompt(text))

        try:
            self.session.sign_in(show, self.cancelled)
        except SignInCancelled:
            pass  # Escape already closed the screen
        except Exception as exc:  # shown as a sentence, never a traceback
            self.post_message(self.Done(exc))
        else:
            self.post_message(self.Done(None))
        finally:
            self.ended.set()

    def on_sign_in_screen_prompt(self, message: Prompt) -> None:
        text = self.prompt = message.text
        if text.startswith("http"):  # the authorization-code flow: the address alone
            self.address, self.code = text.strip(), None
            how = "Open this address in a browser and sign in:"
        else:
            found, typed = _ADDRESS.search(text), _CODE.search(text)
            self.address = found.group(0) if found else None
            self.code = typed.group(1) if typed else None
            how = (
                "Open this address in a browser, on any device, and enter the code below:"
                if self.address and self.code
                else text  # words we cannot take apart: shown as they came
            )
        self.query_one("#signin-text", Static).update(Text(for_terminal(how)))
        # Text, not markup; folded at the screen's edge, never at a word of its own.
        self.query_one("#signin-address", Static).update(Text(for_terminal(self.address or "")))
        code_line = self.query_one("#signin-code", Static)
        code_line.update(Text(for_terminal(self.code or "", one_line=True)))
        code_line.display = self.code is not None
        keys = ["c: copy the address"] if self.address else []
        keys += ["C: copy the code"] if self.code else []
        keys.append("Escape: give up (the app stays open)")
        self.query_one("#signin-keys", Static).update(Text("   ".join(keys)))
        self.refresh_bindings()

    def on_sign_in_screen_done(self, message: Done) -> None:
        if self.cancelled.is_set():
            return  # closed by Escape already: what the worker says after is no news
        if message.error is not None:
            self.app.push_screen(ErrorScreen(message.error, "sign in"))
            self.dismiss(False)
        else:
            self.dismiss(True)

    def action_copy(self, what: str) -> None:
        """The address (or the code) to the clipboard, through the terminal (OSC 52)."""
        value = self.address if what == "address" else self.code
        if value is None:
            self.notify(f"No {what} to copy yet: the sign-in is starting", severity="warning")
            return
        self.app.copy_to_clipboard(value)
        # The terminal does not answer OSC 52: whether it took the text cannot be known.
        self.notify(f"{what.capitalize()} copied (if your terminal supports OSC 52)")

    def action_cancel(self) -> None:
        # The worker notices within a second and frees the loopback port or stops polling.
        self.cancelled.set()
        self.dismiss(False)


# ---------------------------------------------------------------- a message


def _part_size(info: PartInfo) -> str:
    """Exact where known; else the estimate from the encoded size, marked "~"."""
    if info.decoded_size is not None:
        return human_size(info.decoded_size)
    if info.estimated_size is not None:
        return "~" + human_size(info.estimated_size)
    return "size unknown"


def _addresses(entries: tuple[object, ...]) -> str:
    text = ", ".join(e.name if isinstance(e, Group) else str(e) for e in entries)
    return for_terminal(text, one_line=True)


class MessageScreen(Screen[None]):
    """Headers, text, attachments; save one or all (with a progress bar); change flags."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back"),
        # aerc's pager keys, and mutt's index keys for the same (n, p are free here); one
        # footer entry for the two ("JK Next/previous"): early, as the
        # footer's end is cut first (at 120 columns it is full).
        Binding("J,n", "step(1)", "Next", group=_STEP),
        Binding("K,p", "step(-1)", "Previous", group=_STEP),
        Binding("s", "save(False)", "Save attachment"),
        Binding("a", "save(True)", "Save all"),
        Binding("r", "flag('\\\\Seen', True)", "Read"),
        Binding("U", "flag('\\\\Seen', False)", "Unread"),
        Binding("f", "toggle_flagged", "Flag"),
        Binding("d", "act('delete')", "Delete"),
        Binding("D", "act('delete_permanently')", "Delete for good", show=False),
        Binding("m", "act('move')", "Move"),
        # What the error messages offer ("press g to retry"): here, read the message again.
        Binding("g", "reload", "Reload"),
        Binding("question_mark", "app.help", "Help"),
    ]
    DEFAULT_CSS = """
    MessageScreen #msg-headers { height: auto; padding: 0 1; background: $boost; }
    MessageScreen #msg-scroll { height: 1fr; padding: 0 1; }
    MessageScreen #msg-parts { height: auto; max-height: 8; }
    MessageScreen #msg-progress { height: 1; }
    MessageScreen #msg-status { height: 1; padding: 0 1; color: $text-muted; }
    """

    @dataclass(eq=False)
    class Loaded(Message):
        uid: int  # the message asked for: J or K may have moved on meanwhile
        view: MessageView

    @dataclass(eq=False)
    class LoadFailed(Message):
        uid: int  # as Loaded's: a failure for a message left is not this one's
        error: BaseException

    @dataclass(eq=False)
    class Progress(Message):
        done: int
        total: int | None

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, MessageScreen.Progress)  # keep only the latest

    @dataclass(eq=False)
    class SavedAll(Message):
        saved: list[SavedPart]
        directory: Path

    def __init__(
        self,
        session: MailSession,
        row: Row,
        download_dir: Path,
        step: Callable[[int | None, int], Row | str] | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.row = row
        self.uid = row.uid or 0
        self.flags = row.summary.flags
        self.view: MessageView | None = None
        self.download_dir = download_dir
        self.saving = False
        # The list's message ``delta`` lines from this one's UID (its cursor moved there), or
        # why there is none: how J and K go on through the list as it is shown.
        self.step = step

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._headers(), id="msg-headers")
        with VerticalScroll(id="msg-scroll"):
            yield Static("Loading…", id="msg-body")
        yield OptionList(id="msg-parts")
        yield ProgressBar(id="msg-progress", show_eta=False)
        yield Static("", id="msg-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#msg-progress").display = False
        self.query_one("#msg-parts").display = False
        self.query_one("#msg-scroll").focus()
        self.load()

    def _headers(self) -> Text:
        summary = self.view.summary if self.view else self.row.summary
        env = summary.envelope
        text = Text()
        fields = [
            ("From", _addresses(env.from_) if env else ""),
            ("To", _addresses(env.to) if env else ""),
            ("Cc", _addresses(env.cc) if env else ""),
            # The reader's time, in the list's words: the same message, the same time.
            ("Date", local_time(self.row.when, "%a %Y-%m-%d %H:%M")),
            ("Size", human_size(summary.size)),
            ("Subject", for_terminal(env.subject or "", one_line=True) if env else ""),
        ]
        for name, value in fields:
            if value or name in ("From", "Subject"):
                text.append(f"{name}: ", style="bold")
                text.append(value + "\n")
        marks = []
        if "\\Seen" not in self.flags:
            marks.append("unread")
        if "\\Flagged" in self.flags:
            marks.append("flagged")
        if "\\Answered" in self.flags:
            marks.append("replied")
        if any(f.lower() == "$forwarded" for f in self.flags):
            marks.append("forwarded")
        if marks:
            text.append("[" + ", ".join(marks) + "]", style="italic yellow")
        text.rstrip()
        return text

    # ---------------------------------------------------------------- workers

    @work(thread=True, exit_on_error=False, group="net")
    def load(self) -> None:
        uid = self.uid
        try:
            view = self.session.open_message(uid)
        except Exception as exc:
            self.post_message(self.LoadFailed(uid, exc))
        else:
            self.post_message(self.Loaded(uid, view))

    @work(thread=True, exit_on_error=False, group="net")
    def save(self, directory: Path, parts: list[PartInfo]) -> None:
        total = sum(p.estimated_size or 0 for p in parts) or None
        done: dict[str, int] = {}

        def progress(event: SaveProgress) -> None:
            done[event.part.part if event.part is not None else ""] = event.done
            self.post_message(self.Progress(sum(done.values()), total))

        try:
            make_directory(directory)  # a StorageError the dialog can explain, not an OSError
            saved = self.session.save(self.uid, directory, [p.part for p in parts], progress)
        except Exception as exc:
            self.post_message(Failed(exc, "save the attachments"))
        else:
            self.post_message(self.SavedAll(saved, directory))

    @work(thread=True, exit_on_error=False, group="net")
    def set_flag(self, flag: str, on: bool) -> None:
        try:
            flags = self.session.set_flag(self.uid, flag, on)
        except Exception as exc:
            self.post_message(Failed(exc, "change the flags"))
        else:
            self.post_message(FlagsChanged(self.uid, flags))

    # ---------------------------------------------------------------- results

    def on_message_screen_loaded(self, message: Loaded) -> None:
        if message.uid != self.uid:
            return  # a message left with J or K before it came: d, s, m act on this one
        view = self.view = message.view
        self.flags = view.summary.flags
        self.query_one("#msg-headers", Static).update(self._headers())
        body = for_terminal(view.text) if view.text is not None else "(no text)"
        if view.truncated:
            body += "\n\n[the text was cut: it is longer than the app shows]"
        self.query_one("#msg-body", Static).update(Text(body))
        parts = self.query_one("#msg-parts", OptionList)
        parts.clear_options()
        for info in view.parts:
            name = for_terminal(info.safe_name, one_line=True)
            kind = for_terminal(info.content_type, one_line=True)
            # Text, not str: a str prompt is read as markup, and a file name may hold "[/b]"
            label = Text(f"{name}  ({kind}, {_part_size(info)})")
            parts.add_option(Option(label, id=info.part))
        parts.display = bool(view.parts)
        if view.parts:
            parts.highlighted = 0
        self._status(
            f"{counted(len(view.parts), 'attachment')}: s saves the chosen one, a saves all"
            if view.parts
            else "No attachments"
        )

    def on_message_screen_progress(self, message: Progress) -> None:
        bar = self.query_one("#msg-progress", ProgressBar)
        bar.update(total=message.total, progress=message.done)

    def on_message_screen_saved_all(self, message: SavedAll) -> None:
        self.saving = False
        bar = self.query_one("#msg-progress", ProgressBar)
        bar.update(progress=bar.total or 0)
        names = ", ".join(s.filename for s in message.saved)
        self._status(f"Saved {counted(len(message.saved), 'file')} in {message.directory}: {names}")

    def on_message_screen_load_failed(self, message: LoadFailed) -> None:
        if message.uid == self.uid:  # else a message left with J or K: this one is loading
            self.on_failed(Failed(message.error, "open the message"))

    def on_failed(self, message: Failed) -> None:
        self.saving = False
        self.query_one("#msg-progress").display = False
        if self.view is None:
            self.query_one("#msg-body", Static).update("")
        self._status(describe_error(message.error)[0])
        self.app.push_screen(ErrorScreen(message.error, message.doing))

    def on_flags_changed(self, message: FlagsChanged) -> None:
        self.flags = message.flags
        self.query_one("#msg-headers", Static).update(self._headers())
        self.app.post_message(FlagsChanged(message.uid, message.flags))  # the list too

    def _status(self, text: str) -> None:
        self.query_one("#msg-status", Static).update(Text(for_terminal(text, one_line=True)))

    # ---------------------------------------------------------------- actions

    def action_back(self) -> None:
        self.dismiss(None)

    def action_act(self, action: str) -> None:
        uid = self.row.uid
        if uid is None:
            self._status("This message has no UID to act on")
        else:
            self.dismiss(None)
            self.app.post_message(ActOn(action, uid))

    def action_reload(self) -> None:
        if self.saving:
            self._status("Saving attachments; press g again when it is done")
        else:
            self._status("Reading the message again…")
            self.load()

    def action_step(self, delta: int) -> None:
        """The next (1) or previous (-1) message of the list, here."""
        if self.saving:
            self._status("Saving attachments; wait for it before moving on")
            return
        if self.step is None:
            self._status("This view was opened without a list to go through")
            return
        found = self.step(self.row.uid, delta)
        if isinstance(found, str):
            self._status(found)
            return
        self.row, self.uid, self.flags, self.view = found, found.uid or 0, found.summary.flags, None
        self.query_one("#msg-headers", Static).update(self._headers())
        self.query_one("#msg-body", Static).update("Loading…")
        self.query_one("#msg-parts", OptionList).display = False
        self.query_one("#msg-progress").display = False
        self.query_one("#msg-scroll", VerticalScroll).scroll_home(animate=False)
        self._status("")
        self.load()

    def action_save(self, everything: bool) -> None:
        if self.saving:
            self._status("Saving attachments already; wait for it to finish")
            return
        if self.view is None:
            self._status("The message is still loading; try again in a moment")
            return
        if not self.view.parts:
            self._status("This message has no attachments.")
            self.notify("This message has no attachments.")
            return
        parts_list = self.query_one("#msg-parts", OptionList)
        if everything:
            chosen = list(self.view.parts)
            what = f"all {len(chosen)} attachments"
        else:
            index = parts_list.highlighted or 0
            chosen = [self.view.parts[index]]
            what = chosen[0].safe_name

        def start(directory: Path | None) -> None:
            if directory is None:
                return
            self.download_dir = directory
            self.saving = True
            bar = self.query_one("#msg-progress", ProgressBar)
            bar.display = True
            bar.update(total=sum(p.estimated_size or 0 for p in chosen) or None, progress=0)
            self._status(f"Saving {what}…")
            self.save(directory, chosen)

        self.app.push_screen(SaveDialog(what, self.download_dir), start)

    @on(OptionList.OptionSelected, "#msg-parts")
    def part_chosen(self) -> None:
        self.action_save(False)

    def action_flag(self, flag: str, on: bool) -> None:
        self.set_flag(flag, on)

    def action_toggle_flagged(self) -> None:
        self.set_flag("\\Flagged", "\\Flagged" not in self.flags)
