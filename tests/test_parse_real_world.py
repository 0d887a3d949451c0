"""Table-driven parser tests over real-world ENVELOPE / BODYSTRUCTURE shapes.

The cases live in ``fixtures_imap.py``. Each one is checked three ways:

* ``parse_envelope`` / ``parse_bodystructure`` on the bare value, against the case's
  expectations and the invariants every result must meet;
* as a whole ``* 1 FETCH (UID 7 ...)`` response plus a tagged completion, fed to
  ``ResponseParser`` in one piece: the FETCH item must equal the direct parse, and the tagged
  line after it must still come out (no desync);
* the same bytes fed one byte at a time, draining events after every byte: the events must be
  equal to the one-piece run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pytest

from fixtures_imap import (
    BODY_CASES,
    ENVELOPE_CASES,
    FETCH_CASES,
    BodyCase,
    EnvelopeCase,
    FetchCase,
    Matcher,
    events_in_chunks,
    events_whole,
)
from o365imap.models import Address, BodyPart, Envelope, Group
from o365imap.protocol import Event, Fetch, parse_bodystructure, parse_envelope

ADDRESS_FIELDS = ("from_", "sender", "reply_to", "to", "cc", "bcc")
TAIL = b"A1 OK FETCH completed.\r\n"


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def resolve(obj: object, path: str) -> object:
    """Follow ``a/0/b``: attributes, sequence indices and mapping keys."""
    if path == "":
        return obj
    for segment in path.split("/"):
        if segment.isdigit() and isinstance(obj, tuple | list):
            obj = obj[int(segment)]
        elif isinstance(obj, Mapping):
            obj = obj[segment]
        else:
            obj = getattr(obj, segment)
    return obj


def typed(value: object) -> object:
    """Nested tuples with each named tuple's class name: Address and Group are NamedTuples,
    and a plain ``==`` would not tell them (or a bare tuple) apart."""
    if isinstance(value, tuple):
        items = tuple(typed(v) for v in value)
        return (type(value).__name__, items) if hasattr(value, "_fields") else items
    return value


def mismatch(actual: object, expected: object) -> str | None:
    """None when ``actual`` satisfies ``expected``, else a description of the difference."""
    if isinstance(expected, Matcher):
        return None if expected.matches(actual) else f"{actual!r} does not satisfy {expected!r}"
    if isinstance(expected, datetime):
        if not isinstance(actual, datetime):
            return f"{actual!r} is not a datetime (expected {expected!r})"
        if actual.tzinfo is None or actual.utcoffset() is None:
            return f"{actual!r} is naive (expected {expected!r})"
        if actual != expected or actual.utcoffset() != expected.utcoffset():
            return f"{actual!r} != {expected!r}"
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, Mapping):
            return f"{actual!r} is not a mapping (expected {expected!r})"
        return None if dict(actual) == expected else f"{dict(actual)!r} != {expected!r}"
    if isinstance(expected, tuple):
        return None if typed(actual) == typed(expected) else f"{actual!r} != {expected!r}"
    return None if actual == expected else f"{actual!r} != {expected!r}"


def check_paths(obj: object, expect: Mapping[str, object], where: str) -> list[str]:
    problems = []
    for path, expected in expect.items():
        try:
            actual = resolve(obj, path)
        except (AttributeError, IndexError, KeyError, ValueError, TypeError) as exc:
            problems.append(f"{where} {path}: cannot resolve ({exc!r})")
            continue
        diff = mismatch(actual, expected)
        if diff is not None:
            problems.append(f"{where} {path}: {diff}")
    return problems


def envelope_invariants(env: object, where: str) -> list[str]:
    if not isinstance(env, Envelope):
        return [f"{where}: {env!r} is not an Envelope"]
    problems = []
    if env.date is not None and (
        not isinstance(env.date, datetime) or env.date.utcoffset() is None
    ):
        problems.append(f"{where} date: {env.date!r} is neither None nor an aware datetime")
    if env.raw_date is not None and not isinstance(env.raw_date, bytes):
        problems.append(f"{where} raw_date: {env.raw_date!r} is not bytes")
    if env.date is not None and env.raw_date is None:
        problems.append(f"{where} raw_date: None although date was parsed")
    for name in ("subject", "in_reply_to", "message_id"):
        value = getattr(env, name)
        if value is not None and not isinstance(value, str):
            problems.append(f"{where} {name}: {value!r} is not str/None")
    for name in ADDRESS_FIELDS:
        value = getattr(env, name)
        if not isinstance(value, tuple):
            problems.append(f"{where} {name}: {value!r} is not a tuple")
            continue
        for entry in value:
            if isinstance(entry, Group):
                if not isinstance(entry.members, tuple) or not all(
                    isinstance(m, Address) for m in entry.members
                ):
                    problems.append(f"{where} {name}: group members {entry.members!r}")
            elif not isinstance(entry, Address):
                problems.append(f"{where} {name}: {entry!r} is neither Address nor Group")
    return problems


def node_index(root: BodyPart) -> dict[str, BodyPart]:
    """Nodes by part number; a repeated number gets ``#2``; the root is also ``<root>``."""
    index: dict[str, BodyPart] = {"<root>": root}
    for node in root.walk():
        key = node.part
        n = 1
        while key in index:
            n += 1
            key = f"{node.part}#{n}"
        index[key] = node
    return index


def body_invariants(root: object, where: str) -> list[str]:
    if not isinstance(root, BodyPart):
        return [f"{where}: {root!r} is not a BodyPart"]
    problems: list[str] = []

    def visit(node: BodyPart) -> None:
        here = f"{where} part {node.part!r} ({node.content_type})"
        ct = node.content_type
        if not isinstance(ct, str) or ct != ct.lower() or ct.count("/") != 1:
            problems.append(f"{here}: content_type {ct!r} is not lower-case type/subtype")
        for label, params in (
            ("params", node.params),
            ("disposition_params", node.disposition_params),
        ):
            if not isinstance(params, Mapping):
                problems.append(f"{here}: {label} {params!r} is not a mapping")
                continue
            for key, value in params.items():
                if not isinstance(key, str) or key != key.lower():
                    problems.append(f"{here}: {label} key {key!r} is not lower-case")
                if not isinstance(value, str):
                    problems.append(f"{here}: {label}[{key!r}] = {value!r} is not str")
        if node.disposition is not None and (
            not isinstance(node.disposition, str) or node.disposition != node.disposition.lower()
        ):
            problems.append(f"{here}: disposition {node.disposition!r} is not lower-case/None")
        if node.size is not None and (not isinstance(node.size, int) or node.size < 0):
            problems.append(f"{here}: size {node.size!r} is not None or a non-negative int")
        if not isinstance(node.language, tuple) or not all(
            isinstance(lang, str) for lang in node.language
        ):
            problems.append(f"{here}: language {node.language!r} is not a tuple of str")
        if node.location is not None and not isinstance(node.location, str):
            problems.append(f"{here}: location {node.location!r} is not str/None")
        if not isinstance(node.children, tuple):
            problems.append(f"{here}: children {node.children!r} is not a tuple")
            return
        if node.envelope is not None:
            problems.extend(envelope_invariants(node.envelope, here + " envelope"))
        # part numbering (the root's own number is checked by the cases)
        if ct == "message/rfc822":
            if len(node.children) > 1:
                problems.append(f"{here}: message/rfc822 with {len(node.children)} children")
            for child in node.children:
                want = node.part if child.is_multipart else f"{node.part}.1"
                if child.part != want:
                    problems.append(
                        f"{here}: body of message/rfc822 is {child.part!r}, expected {want!r}"
                    )
        else:
            for i, child in enumerate(node.children, 1):
                want = f"{node.part}.{i}" if node.part else str(i)
                if child.part != want:
                    problems.append(f"{here}: child {i} is part {child.part!r}, expected {want!r}")
        for child in node.children:
            visit(child)

    visit(root)
    return problems


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def fail_if(problems: list[str]) -> None:
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def envelope_line(raw: bytes) -> bytes:
    return b"* 1 FETCH (UID 7 ENVELOPE " + raw + b")\r\n" + TAIL


def body_line(raw: bytes) -> bytes:
    return b"* 1 FETCH (UID 7 BODYSTRUCTURE " + raw + b")\r\n" + TAIL


def check_fetch_then_tail(events: list[Event], item: str, expected: object) -> list[str]:
    problems: list[str] = []
    kinds = [type(e).__name__ for e in events]
    if kinds != ["Fetch", "Tagged"]:
        return [f"events are {kinds} ({events!r}), expected [Fetch, Tagged]"]
    fetch, tagged = events
    assert isinstance(fetch, Fetch)  # the kinds say so
    problems += check_paths(fetch, {"seq": 1, "items/UID": 7}, "Fetch")
    try:
        got = fetch.items[item]
    except KeyError as exc:
        return [*problems, f"Fetch has no {item}: {exc!r}"]
    if got != expected:
        problems.append(f"Fetch {item} differs from the direct parse:\n  {got!r}\n  {expected!r}")
    problems += check_paths(
        tagged, {"tag": "A1", "status": "OK", "text": "FETCH completed."}, "Tagged"
    )
    return problems


ENV_IDS = [c.name for c in ENVELOPE_CASES]
BODY_IDS = [c.name for c in BODY_CASES]
FETCH_IDS = [c.name for c in FETCH_CASES]


def test_case_names_are_unique() -> None:
    names = ENV_IDS + BODY_IDS + FETCH_IDS
    assert len(names) == len(set(names))


# --------------------------------------------------------------------------------------------
# ENVELOPE
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ENVELOPE_CASES, ids=ENV_IDS)
def test_envelope(case: EnvelopeCase) -> None:
    env = parse_envelope(case.raw)
    fail_if(envelope_invariants(env, case.name) + check_paths(env, case.expect, case.name))


@pytest.mark.parametrize("case", ENVELOPE_CASES, ids=ENV_IDS)
def test_envelope_in_fetch_response(case: EnvelopeCase) -> None:
    expected = parse_envelope(case.raw)
    fail_if(check_fetch_then_tail(events_whole(envelope_line(case.raw)), "ENVELOPE", expected))


@pytest.mark.parametrize("case", ENVELOPE_CASES, ids=ENV_IDS)
def test_envelope_in_listing_line(case: EnvelopeCase) -> None:
    """The message listing's exact item order (the parser's fast path) must agree too."""
    data = (
        b"* 12 FETCH (UID 7 FLAGS (\\Seen) RFC822.SIZE 4711"
        b' INTERNALDATE "01-Feb-2024 10:00:00 +0100" ENVELOPE ' + case.raw + b")\r\n" + TAIL
    )
    events = events_whole(data)
    assert [type(e).__name__ for e in events] == ["Fetch", "Tagged"], events
    fetch = events[0]
    assert isinstance(fetch, Fetch)
    assert fetch.items["ENVELOPE"] == parse_envelope(case.raw)
    assert fetch.items["UID"] == 7
    assert events_in_chunks(bytewise(data)) == events


@pytest.mark.parametrize("case", ENVELOPE_CASES, ids=ENV_IDS)
def test_envelope_fetch_byte_at_a_time(case: EnvelopeCase) -> None:
    data = envelope_line(case.raw)
    whole = events_whole(data)
    assert events_in_chunks(bytewise(data)) == whole


# --------------------------------------------------------------------------------------------
# BODYSTRUCTURE
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", BODY_CASES, ids=BODY_IDS)
def test_bodystructure(case: BodyCase) -> None:
    root = parse_bodystructure(case.raw)
    problems = body_invariants(root, case.name)
    if not isinstance(root, BodyPart):
        fail_if(problems)
    if case.parts is not None:
        got = [(node.part, node.content_type) for node in root.walk()]
        if got != list(case.parts):
            problems.append(
                f"{case.name} walk(): got\n    {got}\n  expected\n    {list(case.parts)}"
            )
    index = node_index(root)
    for key, expect in case.expect.items():
        if key not in index:
            problems.append(f"{case.name}: no node {key!r} (have {sorted(index)})")
            continue
        problems += check_paths(index[key], expect, f"{case.name} [{key}]")
    fail_if(problems)


@pytest.mark.parametrize("case", BODY_CASES, ids=BODY_IDS)
def test_bodystructure_in_fetch_response(case: BodyCase) -> None:
    expected = parse_bodystructure(case.raw)
    fail_if(check_fetch_then_tail(events_whole(body_line(case.raw)), "BODYSTRUCTURE", expected))


@pytest.mark.parametrize("case", BODY_CASES, ids=BODY_IDS)
def test_bodystructure_fetch_byte_at_a_time(case: BodyCase) -> None:
    data = body_line(case.raw)
    whole = events_whole(data)
    assert events_in_chunks(bytewise(data)) == whole


def test_badly_quoted_media_type_siblings_recovered() -> None:
    """Beyond "no exception": the attachments next to the broken media type keep their names."""
    case = next(c for c in BODY_CASES if c.name == "bs_badly_quoted_media_type")
    root = parse_bodystructure(case.raw)
    assert root.content_type == "multipart/mixed"
    assert root.params.get("boundary") == "----=_NextPart_000_841BE5B658.841BE5B658A51"
    assert [child.filename for child in root.children] == ["report.dat", "report.dat"]
    assert [child.part for child in root.children] == ["1", "2"]


# --------------------------------------------------------------------------------------------
# Whole FETCH responses
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", FETCH_CASES, ids=FETCH_IDS)
def test_fetch_responses(case: FetchCase) -> None:
    events = events_whole(case.data)
    kinds = [type(e).__name__ for e in events]
    want_kinds = [e["type"] for e in case.events]
    if kinds != want_kinds:
        pytest.fail(f"events are {kinds} ({events!r}), expected {want_kinds}", pytrace=False)
    problems = []
    for i, (event, expect) in enumerate(zip(events, case.events, strict=True)):
        paths = {k: v for k, v in expect.items() if k != "type"}
        problems += check_paths(event, paths, f"{case.name} event {i}")
        items = getattr(event, "items", None)
        if isinstance(items, Mapping):
            for name, value in items.items():
                if name == "ENVELOPE":
                    problems += envelope_invariants(value, f"{case.name} event {i} ENVELOPE")
                elif name == "BODYSTRUCTURE":
                    problems += body_invariants(value, f"{case.name} event {i} BODYSTRUCTURE")
                elif name == "INTERNALDATE" and not (
                    value is None or (isinstance(value, datetime) and value.utcoffset() is not None)
                ):
                    problems.append(f"{case.name} event {i} INTERNALDATE {value!r} not aware")
    fail_if(problems)


@pytest.mark.parametrize("case", FETCH_CASES, ids=FETCH_IDS)
def test_fetch_responses_byte_at_a_time(case: FetchCase) -> None:
    assert events_in_chunks(bytewise(case.data)) == events_whole(case.data)
