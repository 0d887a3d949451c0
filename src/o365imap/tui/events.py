"""What the mail browser's workers tell the app: small Messages posted from worker threads,
and the guard for an answer that lands while the app is closing."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from textual.css.query import NoMatches
from textual.message import Message

from o365imap import CopyResult, FolderInfo
from o365imap.tui.model import FolderEntry, News, Row, SearchQuery

__all__ = [
    "FolderOpened",
    "FoldersLoaded",
    "Moved",
    "NeedSignIn",
    "NewMail",
    "PageLoaded",
    "PageSkipped",
    "Refused",
    "SearchDone",
    "ThreadsLoaded",
    "UnreadCount",
    "while_open",
]


# Textual's Message initialises itself in __post_init__, made for dataclasses like these.
@dataclass(eq=False)
class _Msg(Message):
    pass


@dataclass(eq=False)
class FoldersLoaded(_Msg):
    entries: list[FolderEntry]


@dataclass(eq=False)
class UnreadCount(_Msg):
    name: str
    count: int | None


@dataclass(eq=False)
class FolderOpened(_Msg):
    info: FolderInfo
    # The newest page and the count it was numbered by, fetched by the same worker; None
    # when the folder is empty or that FETCH failed (the list then asks as usual).
    first: tuple[list[Row], int] | None = None


@dataclass(eq=False)
class PageLoaded(_Msg):
    generation: int
    page: int
    rows: list[Row]
    total: int | None  # the folder's count when the page was numbered by sequence


@dataclass(eq=False)
class PageSkipped(_Msg):
    generation: int
    page: int


@dataclass(eq=False)
class SearchDone(_Msg):
    query: SearchQuery
    uids: list[int]


@dataclass(eq=False)
class ThreadsLoaded(_Msg):
    """The rows to thread, for the thread view's request number ``request``."""

    request: int
    rows: list[Row]
    anchor: int | None  # the UID to keep the cursor on (None: the top)
    folded: set[int]  # the UIDs of the roots to keep folded


@dataclass(eq=False)
class NewMail(_Msg):
    news: News


@dataclass(eq=False)
class Moved(_Msg):
    """Messages moved or deleted; ``exists``: the open folder's count afterwards."""

    result: CopyResult
    exists: int | None
    undoing: bool


@dataclass(eq=False)
class Refused(_Msg):
    """A change that makes no sense here (no Archive folder, in Trash already): one line."""

    text: str


@dataclass(eq=False)
class NeedSignIn(_Msg):
    error: BaseException


_Handler = TypeVar("_Handler", bound=Callable[..., None])


def while_open(handler: _Handler) -> _Handler:
    """A worker's answer that lands while the app is closing finds its widgets gone: drop it."""

    @functools.wraps(handler)
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            handler(*args, **kwargs)
        except NoMatches:
            return

    return guarded  # type: ignore[return-value]
