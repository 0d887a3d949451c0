"""Conversation threads from Message-ID, In-Reply-To and References, and their drawing as a tree.

The mail browser's thread view asks this module two things: which message answers which
(``thread``), and in what order and with which tree characters to show them (``lines``).
It imports no Textual and no network code: it works on plain values, so the hostile cases
(loops in References, duplicate or missing Message-IDs, parents outside the range) are tested
without a server.

The rules, after Jamie Zawinski's threading algorithm (the one behind RFC 5256's
THREAD=REFERENCES), without its grouping by subject (a "Re:" with no ids joins nothing here,
as in neomutt with ``strict_threads``):

- A message's parent is the last id of its References, else the first id of In-Reply-To; the
  ids before it in References chain the ancestors. A link that would make a loop is dropped.
- A message with no Message-ID, or with the id of a message seen before, starts on its own.
- A parent that is not among the messages (older than the range, or deleted): its replies are
  kept together, the earliest in its place and the others under it; one reply alone takes its
  place.
- Threads come newest activity first (the list's order is newest first); inside a thread,
  replies come in the order they were written.
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence
from dataclasses import dataclass, field

__all__ = ["WALK_BUDGET", "Line", "Links", "Node", "lines", "message_ids", "thread"]

_ID = re.compile(r"<([^<>\s]+)>")
# Steps up the tree one threading may take to rule out loops. A real folder needs a small part
# of it (500 messages, each checked against a few dozen ancestors); References made to hurt
# (thousands of ids naming each other, over hundreds of messages) took minutes on the app's
# thread. Once it is spent, a link that would need the check is dropped: the message starts
# its own thread, never a loop.
WALK_BUDGET = 1_000_000


def message_ids(text: str | None) -> list[str]:
    """The ``<...>`` ids of a header value, in order, without the brackets; a lone id written
    without brackets (some mailers do) counts as one."""
    if not text:
        return []
    found = _ID.findall(text)
    if found:
        return found
    bare = text.strip()
    return [bare] if bare and not any(c.isspace() for c in bare) else []


@dataclass(frozen=True, slots=True)
class Links:
    """What threading reads of one message: its header values as sent, and when it was
    written (any number that sorts by time; equal ones keep the input's order)."""

    message_id: str | None
    in_reply_to: str | None = None
    references: str | None = None
    when: float = 0.0


@dataclass(eq=False, slots=True)
class Node:
    """One message in a thread: its index in the input, and the replies to it."""

    index: int
    children: list[Node] = field(default_factory=list)

    def size(self) -> int:
        """This message and every reply under it."""
        count, stack = 0, [self]
        while stack:
            node = stack.pop()
            count += 1
            stack.extend(node.children)
        return count


@dataclass(eq=False, slots=True)
class _Box:
    """A Message-ID seen: the message that has it (None while only referred to)."""

    index: int | None = None
    parent: _Box | None = None
    children: list[_Box] = field(default_factory=list)

    def above(self, other: _Box, budget: list[int]) -> bool:
        """``self`` is ``other`` or one of its ancestors, or ``budget`` (steps left, spent
        here) ran out before that was ruled out."""
        if not self.children:  # nothing under it (a reply read in the order written): no walk
            return other is self
        node: _Box | None = other
        while node is not None:
            if node is self or budget[0] <= 0:
                return True
            budget[0] -= 1
            node = node.parent
        return False


def _link(parent: _Box, child: _Box) -> None:
    if child.parent is not None:
        child.parent.children.remove(child)
    child.parent = parent
    parent.children.append(child)


def thread(messages: Sequence[Links]) -> list[Node]:
    """The threads of ``messages``, newest activity first; every message once, no cycles."""
    boxes: dict[str, _Box] = {}
    own: list[_Box] = []
    budget = [WALK_BUDGET]
    for index, links in enumerate(messages):
        ids = message_ids(links.message_id)
        key = ids[0] if ids else None
        box = boxes.get(key) if key is not None else None
        if box is None or box.index is not None:  # no id, or one already taken: on its own
            box = _Box(index)
            if key is not None and key not in boxes:
                boxes[key] = box
        else:
            box.index = index  # referred to before, now seen
        own.append(box)

    for index, links in enumerate(messages):
        box = own[index]
        chain = message_ids(links.references)
        if not chain:
            chain = message_ids(links.in_reply_to)[:1]
        previous: _Box | None = None
        for ref in chain:
            ref_box = boxes.get(ref)
            if ref_box is None:  # first seen here: nothing under it, so no loop to look for
                ref_box = boxes[ref] = _Box()
                if previous is not None:
                    _link(previous, ref_box)
                previous = ref_box
                continue
            if ref_box is box:
                break  # the message refers to itself: what follows cannot be its ancestry
            # Earlier links win (JWZ): an ancestor seen in another message's chain stays.
            if (
                previous is not None
                and ref_box.parent is None
                and not ref_box.above(previous, budget)
            ):
                _link(previous, ref_box)
            previous = ref_box
        # The message's own parent is the last reference: that link wins over earlier ones,
        # unless it makes a loop.
        if previous is not None and previous is not box and not box.above(previous, budget):
            _link(previous, box)

    roots = [b for b in {id(b): b for b in [*boxes.values(), *own]}.values() if b.parent is None]
    when = [links.when for links in messages]
    nodes = [n for root in roots for n in _nodes(root, when)]
    latest = {id(n): _latest(n, when) for n in nodes}
    nodes.sort(key=lambda n: (latest[id(n)], n.index), reverse=True)
    return nodes


def _nodes(top: _Box, when: Sequence[float]) -> list[Node]:
    """The box's messages as nodes; an empty box (a parent not among the messages) gives its
    children, the earliest taking its place and holding the others. Without recursion: a
    chain of thousands of replies is still a chain."""
    done: dict[int, list[Node]] = {}  # id(box) -> its nodes, once its children are done
    stack: list[tuple[_Box, bool]] = [(top, False)]
    while stack:
        box, ready = stack.pop()
        if not ready:
            stack.append((box, True))
            stack.extend((child, False) for child in box.children)
            continue
        children = [n for child in box.children for n in done.pop(id(child))]
        children.sort(key=lambda n: (when[n.index], n.index))
        if box.index is not None:
            done[id(box)] = [Node(box.index, children)]
        elif children:
            first, *rest = children
            first.children = sorted(
                [*first.children, *rest], key=lambda n: (when[n.index], n.index)
            )
            done[id(box)] = [first]
        else:
            done[id(box)] = []
    return done[id(top)]


def _latest(node: Node, when: Sequence[float]) -> float:
    best, stack = when[node.index], [node]
    while stack:
        current = stack.pop()
        best = max(best, when[current.index])
        stack.extend(current.children)
    return best


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the thread view: the message's index, its depth, the tree drawn before its
    subject (neomutt's characters), the thread's root and, on a collapsed root, how many
    replies are hidden under it."""

    index: int
    depth: int
    tree: str
    root: int
    hidden: int = 0


def lines(roots: Sequence[Node], collapsed: Container[int] = ()) -> list[Line]:
    """The threads as lines, each thread's replies under its root unless the root's index is
    in ``collapsed``."""
    out: list[Line] = []
    for root in roots:
        if root.index in collapsed and root.children:
            out.append(Line(root.index, 0, "", root.index, root.size() - 1))
            continue
        out.append(Line(root.index, 0, "", root.index))
        # Depth-first without recursion: a chain of thousands of replies is still a chain.
        stack = [(child, 1, "", child is root.children[-1]) for child in reversed(root.children)]
        while stack:
            node, depth, indent, last = stack.pop()
            out.append(Line(node.index, depth, indent + ("└─>" if last else "├─>"), root.index))
            below = indent + ("  " if last else "│ ")
            stack.extend(
                (child, depth + 1, below, child is node.children[-1])
                for child in reversed(node.children)
            )
    return out
