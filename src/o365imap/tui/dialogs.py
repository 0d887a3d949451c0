"""The small questions the mail browser asks before changing the mailbox: which folder to move
to (a list that filters as you type), yes or no before what cannot be undone, and one of a few
choices, each a key (send, edit, discard a message written).

Both are modal screens that only answer: the app does the work with what they return.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from o365imap._terminal_text import for_terminal

__all__ = ["ChoiceScreen", "ConfirmScreen", "FolderPicker", "matching"]


def matching(names: Sequence[str], typed: str) -> list[str]:
    """The names holding every word typed (any case, any order): "in arc" finds
    "Archive/Invoices". Names starting with the first word come first."""
    words = typed.lower().split()
    found = [n for n in names if all(w in n.lower() for w in words)]
    if words:
        found.sort(key=lambda n: not n.lower().startswith(words[0]))
    return found


class FolderPicker(ModalScreen[str | None]):
    """Choose a folder: type to filter, arrows to choose, Enter to take it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "cursor(1)", "Next", show=False),
        Binding("up", "cursor(-1)", "Previous", show=False),
    ]
    DEFAULT_CSS = """
    FolderPicker { align: center middle; }
    FolderPicker > Vertical { width: 70; max-width: 100%; height: auto; max-height: 90%;
        border: thick $accent; background: $surface; padding: 1 2; }
    FolderPicker OptionList { height: auto; max-height: 16; }
    FolderPicker #picker-empty { color: $text-muted; }
    """

    def __init__(self, title: str, names: Sequence[str]) -> None:
        super().__init__()
        self.title_text = title
        self.names = list(names)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(for_terminal(self.title_text, one_line=True))
            yield Input(placeholder="Type part of the folder's name", id="picker-filter")
            yield OptionList(id="picker-folders")
            yield Static("", id="picker-empty")
            yield Label("↑ ↓: choose   Enter: move there   Escape: cancel")

    def on_mount(self) -> None:
        self._show("")
        self.query_one("#picker-filter", Input).focus()

    @property
    def shown(self) -> list[str]:
        """The folder names the list shows now, in order."""
        options = self.query_one("#picker-folders", OptionList)
        return [str(options.get_option_at_index(i).id) for i in range(options.option_count)]

    def _show(self, typed: str) -> None:
        options = self.query_one("#picker-folders", OptionList)
        options.clear_options()
        found = matching(self.names, typed)
        # The option's id is the folder's real name; its prompt is made safe to draw.
        options.add_options(
            [Option(Text(for_terminal(name, one_line=True)), id=name) for name in found]
        )
        if found:
            options.highlighted = 0
        self.query_one("#picker-empty", Static).update("" if found else "(no folder matches)")

    @on(Input.Changed, "#picker-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self._show(event.value)

    @on(Input.Submitted, "#picker-filter")
    def take_highlighted(self) -> None:
        options = self.query_one("#picker-folders", OptionList)
        if options.highlighted is not None:
            self.dismiss(str(options.get_option_at_index(options.highlighted).id))

    @on(OptionList.OptionSelected, "#picker-folders")
    def take_clicked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(str(event.option.id))

    def action_cursor(self, delta: int) -> None:
        options = self.query_one("#picker-folders", OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = max(0, min(options.option_count - 1, current + delta))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A question answered with y (or the button) or n / Escape; no is the default."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 64; max-width: 100%; height: auto;
        border: thick $error; background: $surface; padding: 1 2; }
    ConfirmScreen Horizontal { height: auto; margin-top: 1; }
    ConfirmScreen Button { margin-right: 2; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(for_terminal(self.question)), id="confirm-question")
            with Horizontal():
                yield Button("Yes (y)", id="confirm-yes", variant="error")
                yield Button("No (n)", id="confirm-no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class ChoiceScreen(ModalScreen[str]):
    """A question answered by one of a few keys (or their buttons); Escape answers ``cancel``.

    ``choices``: ``(key, label)`` pairs, the first the default button; the answer is the key.
    """

    DEFAULT_CSS = """
    ChoiceScreen { align: center middle; }
    ChoiceScreen > Vertical { width: 80; max-width: 100%; height: auto; max-height: 90%;
        border: thick $accent; background: $surface; padding: 1 2; }
    ChoiceScreen Horizontal { height: auto; margin-top: 1; }
    ChoiceScreen Button { margin-right: 2; }
    """

    def __init__(self, question: str, choices: Sequence[tuple[str, str]], cancel: str) -> None:
        super().__init__()
        self.question = question
        self.choices = list(choices)
        self.cancel = cancel

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(for_terminal(self.question)), id="choice-question")
            with Horizontal():
                for key, label in self.choices:
                    yield Button(f"{label} ({key})", id=f"choice-{key}")

    def on_mount(self) -> None:
        self.query_one(f"#choice-{self.choices[0][0]}", Button).focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss((event.button.id or "").removeprefix("choice-") or self.cancel)

    def on_key(self, event: events.Key) -> None:
        # The keys are the caller's, so they are read here rather than bound on the class.
        keys = {key for key, _ in self.choices}
        if event.key in keys or event.key == "escape":
            event.stop()
            self.dismiss(self.cancel if event.key == "escape" else event.key)
