"""Threading for the mail browser's thread view (o365imap.tui.threads): plain values, no server.

The odd and hostile cases come from real mail: parents older than the range shown, loops in
References (a mailer that copies the wrong header), ids used twice (a message in two folders,
a broken generator), messages without any id.
"""

from __future__ import annotations

import subprocess
import sys
from types import FrameType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from o365imap.tui import threads
from o365imap.tui.threads import Line, Links, Node, lines, message_ids, thread


def _shape(roots: list[Node]) -> list[object]:
    """The threads as nested (index, [children]) lists, for comparing."""
    return [(n.index, _shape(n.children)) for n in roots]


def _all(roots: list[Node]) -> list[int]:
    out: list[int] = []
    stack = list(roots)
    while stack:
        node = stack.pop()
        out.append(node.index)
        stack.extend(node.children)
    return out


def test_a_re_chain_is_a_tree_under_its_first_message() -> None:
    messages = [
        Links("<a@x>", when=1),
        Links("<b@x>", "<a@x>", "<a@x>", when=2),
        Links("<c@x>", "<b@x>", "<a@x> <b@x>", when=3),
        Links("<d@x>", "<a@x>", None, when=4),  # In-Reply-To alone is enough
        Links("<e@x>", when=3.5),  # another thread: newer than c, older than d
    ]
    roots = thread(messages)
    assert _shape(roots) == [(0, [(1, [(2, [])]), (3, [])]), (4, [])]
    drawn = [(line.index, line.tree) for line in lines(roots)]
    assert drawn == [(0, ""), (1, "├─>"), (2, "│ └─>"), (3, "└─>"), (4, "")]


def test_threads_come_newest_activity_first() -> None:
    messages = [Links("<a@x>", when=1), Links("<b@x>", when=5), Links("<r@x>", "<a@x>", when=9)]
    assert [n.index for n in thread(messages)] == [0, 1]  # a's reply is the newest of all


def test_a_collapsed_thread_is_its_root_with_the_count_of_replies() -> None:
    messages = [
        Links("<a@x>", when=1),
        Links("<b@x>", "<a@x>", when=2),
        Links("<c@x>", "<b@x>", "<a@x> <b@x>", when=3),
        Links("<z@x>", when=0),
    ]
    roots = thread(messages)
    assert lines(roots, {0}) == [Line(0, 0, "", 0, hidden=2), Line(3, 0, "", 3)]
    assert lines(roots, {3}) == lines(roots)  # a root without replies has nothing to hide


def test_replies_to_a_missing_parent_stay_together_under_the_earliest() -> None:
    messages = [
        Links("<r1@x>", "<gone@x>", "<gone@x>", when=2),
        Links("<r2@x>", "<gone@x>", "<older@x> <gone@x>", when=1),
        Links("<r3@x>", "<gone@x>", when=3),
    ]
    assert _shape(thread(messages)) == [(1, [(0, []), (2, [])])]
    # One reply alone simply takes the missing parent's place
    assert _shape(thread(messages[:1])) == [(0, [])]


def test_loops_in_references_are_broken() -> None:
    messages = [
        Links("<a@x>", "<b@x>", "<b@x>", when=1),
        Links("<b@x>", "<a@x>", "<a@x>", when=2),
        Links("<c@x>", None, "<c@x>", when=3),  # refers to itself
        Links("<d@x>", None, "<e@x> <d@x> <e@x>", when=4),
    ]
    roots = thread(messages)
    assert sorted(_all(roots)) == [0, 1, 2, 3]
    assert len(lines(roots)) == 4


def test_duplicate_ids_and_messages_without_ids_each_show_once() -> None:
    messages = [
        Links("<a@x>", when=1),
        Links("<a@x>", when=2),  # the same id again: on its own
        Links(None, "<a@x>", when=3),  # no id, but a reply: still under a
        Links(None, when=4),
        Links("", when=5),
        Links("not an id at all", when=6),
    ]
    roots = thread(messages)
    assert sorted(_all(roots)) == list(range(6))
    assert (0, [(2, [])]) in _shape(roots)


def test_message_ids_reads_brackets_and_a_lone_bare_id() -> None:
    assert message_ids("<a@x>\r\n <b@x>") == ["a@x", "b@x"]
    assert message_ids("a@x") == ["a@x"]
    assert message_ids("garbage with spaces") == []
    assert message_ids(None) == []


def test_a_chain_of_thousands_needs_no_recursion() -> None:
    count = 5000
    messages = [Links("<m0@x>", when=0)] + [
        Links(f"<m{i}@x>", f"<m{i - 1}@x>", when=i) for i in range(1, count)
    ]
    drawn = lines(thread(messages))
    assert [line.index for line in drawn] == list(range(count))
    assert drawn[-1].depth == count - 1


def _hostile_chains() -> list[Links]:
    """References made to hurt: a chain 2,000 ids deep over 40 messages, then messages that
    name its deepest id and its first, over and over (each asks again whether linking the
    first under the deepest makes a loop: a walk up the whole chain)."""
    messages, last = [], None
    for k in range(40):
        chain = ([last] if last else []) + [f"<x{k}.{i}@x>" for i in range(50)]
        last = chain[-1]
        messages.append(Links(f"<m{k}@x>", None, " ".join(chain), when=k))
    hostile = " ".join([last or "", "<x0.0@x>"] * 20)
    messages += [Links(f"<n{k}@x>", None, hostile, when=k) for k in range(20)]
    return messages


def test_hostile_references_take_a_bounded_number_of_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Counted, not timed: the lines run in the loop check. Unbounded, this input took
    about 800,000 steps up the tree (a 500-message folder of it, minutes on the app's
    thread)."""
    monkeypatch.setattr(threads, "WALK_BUDGET", 20_000, raising=False)
    above = threads._Box.above.__code__
    steps = 0

    def count(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal steps
        if event == "line":
            steps += 1
        return count

    def calls(frame: FrameType, event: str, arg: Any) -> Any:
        return count if frame.f_code is above else None

    messages = _hostile_chains()
    sys.settrace(calls)
    try:
        roots = thread(messages)
    finally:
        sys.settrace(None)
    assert sorted(_all(roots)) == list(range(len(messages)))
    assert steps < 200_000


_ids = st.sampled_from(["<a@x>", "<b@x>", "<c@x>", "<d@x>", "<e@x>", "", None, "junk"])


@st.composite
def _links(draw: st.DrawFn) -> Links:
    refs = draw(st.lists(st.sampled_from(["<a@x>", "<b@x>", "<c@x>", "<d@x>", "<e@x>"])))
    return Links(
        draw(_ids),
        draw(_ids),
        " ".join(refs) if refs else None,
        draw(st.integers(0, 5)),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(_links(), max_size=25), st.sets(st.integers(0, 25)))
def test_every_message_appears_exactly_once_and_no_thread_loops(
    messages: list[Links], collapsed: set[int]
) -> None:
    roots = thread(messages)
    seen = _all(roots)  # a cycle would never end this walk, or repeat an index
    assert sorted(seen) == list(range(len(messages)))
    shown = lines(roots)
    assert sorted(line.index for line in shown) == list(range(len(messages)))
    folded = lines(roots, collapsed)
    assert len(folded) + sum(line.hidden for line in folded) == len(messages)
    for line in shown:
        assert (line.depth == 0) == (line.tree == "")


def test_threading_imports_no_textual() -> None:
    """The model side of the browser runs where Textual is missing (a blocked import fails)."""
    code = (
        "import sys; sys.modules['textual'] = None\n"
        "import o365imap.tui.threads, o365imap.tui.model\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
