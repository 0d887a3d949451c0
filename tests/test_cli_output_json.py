"""The listing's JSON Lines writer: the same bytes as ``json.dumps`` of the contract's dicts."""

from __future__ import annotations

import json
from datetime import timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import examples
from o365imap.cli import output
from o365imap.models import Address, AddressEntry, Envelope, Group, MessageSummary

# Any text, lone surrogates, quotes, backslashes and control characters included.
texts = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(['a"b', "a\\b", "\x00\x1f\x7f", "\u2028", "\ud800", "Jürgen Müller", "中文"]),
)
addresses = st.builds(Address, texts, texts, texts, texts)
entries = st.one_of(
    addresses, st.builds(Group, st.text(max_size=8), st.lists(addresses, max_size=2).map(tuple))
)
address_lists = st.lists(entries, max_size=3).map(tuple)
dates = st.one_of(
    st.none(),
    st.datetimes(
        timezones=st.builds(
            timezone, st.integers(-14 * 60, 14 * 60).map(lambda m: timedelta(minutes=m))
        )
    ),
)


@st.composite
def summaries(draw: st.DrawFn) -> MessageSummary:
    shared = draw(address_lists)  # one tuple in several fields: the writer's cache sees it again
    lists = [draw(st.one_of(st.just(shared), address_lists)) for _ in range(6)]
    envelope = Envelope(
        date=draw(dates),
        raw_date=None,
        subject=draw(texts),
        from_=lists[0],
        sender=lists[1],
        reply_to=lists[2],
        to=lists[3],
        cc=lists[4],
        bcc=lists[5],
        in_reply_to=draw(texts),
        message_id=draw(texts),
    )
    return MessageSummary(
        seq=draw(st.integers(1, 10**6)),
        uid=draw(st.one_of(st.none(), st.integers(1, 2**32))),
        flags=tuple(
            draw(st.lists(st.sampled_from(["\\Seen", "$Label\\", 'a"b', "ü"]), max_size=3))
        ),
        size=draw(st.one_of(st.none(), st.integers(0, 2**40))),
        internal_date=draw(dates),
        envelope=draw(st.one_of(st.none(), st.just(envelope))),
    )


@settings(max_examples=examples(500))
@given(st.lists(summaries(), min_size=1, max_size=4))
def test_message_json_line_is_json_dumps_of_message_json(messages: list[MessageSummary]) -> None:
    output._ADDRESS_JSON.clear()
    for _ in range(2):  # the second time, from the writer's cache
        for message in messages:
            expected = json.dumps(
                output.message_json(message), ensure_ascii=False, separators=(", ", ": ")
            )
            assert output.message_json_line(message) == expected


def test_address_lists_with_groups_and_without() -> None:
    people: tuple[AddressEntry, ...] = (Address("Ana", "ana", "x.org"), Address(None, "bob", None))
    grouped: tuple[AddressEntry, ...] = (
        Group("team", (Address("Dan", "dan", "y.com"),)),
        people[0],
    )
    assert output._addresses_json(people) == (
        '[{"name": "Ana", "email": "ana@x.org"}, {"name": null, "email": "bob"}]'
    )
    assert output._addresses_json(grouped) == (
        '[{"group": "team", "members": [{"name": "Dan", "email": "dan@y.com"}]}, '
        '{"name": "Ana", "email": "ana@x.org"}]'
    )
