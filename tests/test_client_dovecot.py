"""The client against a real Dovecot that validates the tokens itself."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from datetime import date

import pytest

from conftest import ALICE, ALICE_PASSWORD, BOB
from expected import mismatches
from o365imap import (
    LISTING_ITEMS,
    AuthenticationFailed,
    ConnectError,
    FolderNotFound,
    ImapClient,
    SequenceSet,
    UsageError,
)
from o365imap._replies import summary_from
from o365imap.cli.output import message_json, message_json_line
from o365imap.protocol import Atom
from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.seed import Testbed


def test_folders_with_special_use_and_non_ascii_names(client: ImapClient, testbed: Testbed) -> None:
    folders = {f.name: f for f in client.list_folders()}
    for name in testbed.folders:
        assert name in folders, name
    for name, flag in testbed.special_use().items():
        assert folders[name].special_use == flag
    assert folders["Entwürfe"].raw_name == b"Entw&APw-rfe"
    assert folders["Отчёты/2024"].delimiter == "/"
    assert folders["INBOX"].special_use is None


def test_every_folder_says_whether_it_has_children(client: ImapClient, testbed: Testbed) -> None:
    # Dovecot answers RETURN (SPECIAL-USE) without \HasChildren/\HasNoChildren: the client
    # must ask for CHILDREN too (RFC 5258 section 4) so that they are there on every server.
    folders = {f.name: f for f in client.list_folders()}
    parents = {name.rsplit("/", 1)[0] for name in folders if "/" in name}
    assert {"Projects", "Archive", "Отчёты"} <= parents
    for name, folder in folders.items():
        expected = "\\HasChildren" if name in parents else "\\HasNoChildren"
        assert expected in folder.flags, (name, folder.flags)
    assert folders["Trash"].special_use == "\\Trash"


def test_examine_reports_counts_and_changes_nothing(client: ImapClient, testbed: Testbed) -> None:
    info = client.select("Bulk", readonly=True)
    assert info.exists == len(testbed.bulk) == 20_000
    assert info.read_only
    assert info.uidnext == testbed.bulk[-1].uid + 1
    assert info.uidvalidity
    status = client.status("Bulk")
    assert status.messages == 20_000
    assert status.unseen == sum(1 for m in testbed.bulk if "\\Seen" not in m.flags)


def test_non_ascii_folder_can_be_opened(client: ImapClient, testbed: Testbed) -> None:
    for name in ("Entwürfe", "Отчёты/2024", "日本語"):
        assert client.select(name, readonly=True).exists == len(testbed.folders[name])


def test_inbox_listing_decodes_every_field(client: ImapClient, testbed: Testbed) -> None:
    client.select("INBOX", readonly=True)
    rows = list(client.iter_messages())
    assert len(rows) == len(testbed.inbox)
    problems = {}
    for row, seed in zip(rows, testbed.inbox, strict=True):
        found = mismatches(message_json(row), seed, row.seq)
        if found:
            problems[f"uid {seed.uid} {sorted(seed.tags)}"] = found
    assert problems == {}


def test_pages_are_newest_first_and_agree_with_the_slow_way(
    client: ImapClient, testbed: Testbed
) -> None:
    client.select("Bulk", readonly=True)
    page1 = client.list_page(1, 50)
    assert [m.uid for m in page1] == [m.uid for m in reversed(testbed.bulk[-50:])]
    page3 = client.list_page(3, 50)
    assert page3[0].seq == 20_000 - 100
    last = client.list_page(400, 50)
    assert [m.seq for m in last] == list(range(50, 0, -1))
    assert client.list_page(401, 50) == []
    one_by_one = [
        summary_from(response)
        for m in page1[:5]
        for response in client.iter_fetch([m.seq], LISTING_ITEMS)
    ]
    assert one_by_one == page1[:5]


def test_listing_all_streams_with_bounded_memory(client: ImapClient, testbed: Testbed) -> None:
    client.select("Bulk", readonly=True)
    tracemalloc.start()
    count = 0
    first_bad: list[str] = []
    for row in client.iter_messages():
        count += 1
        if count % 997 == 0 and not first_bad:
            first_bad = mismatches(message_json(row), testbed.bulk[row.seq - 1], row.seq)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 20_000
    assert first_bad == []
    # The whole response is ~9 MB and 20,000 decoded rows would take far more: streaming
    # keeps only a read buffer and the address cache.
    assert peak < 12_000_000, peak


def test_a_listing_makes_no_reference_cycles(client: ImapClient) -> None:
    """``list --json`` turns the cycle collector off while it streams (cli/mailbox.py): that
    keeps memory flat only while decoding every folder of the test bed, international and
    malformed mail included, leaves nothing for the collector to find."""
    for folder in client.list_folders():
        client.select(folder.name, readonly=True)
        gc.collect()
        gc.disable()
        try:
            for row in client.iter_messages():
                message_json_line(row)
            found = gc.collect()
        finally:
            gc.enable()
        assert found == 0, folder.name


def test_every_bulk_message_is_right(client: ImapClient, testbed: Testbed) -> None:
    client.select("Bulk", readonly=True)
    bad = []
    for row in client.iter_messages():
        found = mismatches(message_json(row), testbed.bulk[row.seq - 1], row.seq)
        if found:
            bad.append((row.seq, found))
    assert bad[:5] == []


def test_search(client: ImapClient, testbed: Testbed) -> None:
    client.select("INBOX", readonly=True)
    unseen = client.search("UNSEEN")
    assert unseen == [i + 1 for i, m in enumerate(testbed.inbox) if "\\Seen" not in m.flags]
    uids = client.search("UNSEEN", uid=True)
    assert uids == [m.uid for m in testbed.inbox if "\\Seen" not in m.flags]
    target = testbed.inbox[3]
    assert target.message_id is not None
    found = client.search([Atom("HEADER"), "Message-ID", target.message_id], uid=True)
    assert found == [target.uid]
    assert client.search([Atom("SUBJECT"), "Grüße"], charset="UTF-8") is not None


def test_fetch_by_uid_with_ranges(client: ImapClient, testbed: Testbed) -> None:
    client.select("Bulk", readonly=True)
    uids = [testbed.bulk[i].uid for i in (0, 1, 2, 10, 11, 500)]
    got = [f.items["UID"] for f in client.iter_fetch(SequenceSet(uids), "(UID FLAGS)", uid=True)]
    assert got == uids


def test_unknown_folder_is_a_clear_error(client: ImapClient) -> None:
    with pytest.raises(FolderNotFound) as info:
        client.select("No Such Folder", readonly=True)
    assert "exist" in info.value.text  # the server's own words are kept
    with pytest.raises(FolderNotFound):
        client.status("No Such Folder")


def test_listing_without_a_folder_is_a_usage_error(client: ImapClient) -> None:
    with pytest.raises(UsageError):
        client.list_page()


@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
def test_both_mechanisms_over_starttls(
    dovecot: DovecotServer, testbed: Testbed, mechanism: str
) -> None:
    token = dovecot.mint_token(ALICE)
    with ImapClient(
        dovecot.host, dovecot.imap_port, security="starttls", ca_file=str(dovecot.ca_file)
    ) as imap:
        imap.authenticate_oauth(ALICE, token, mechanism)
        assert imap.select("INBOX", readonly=True).exists == len(testbed.inbox)


@pytest.mark.parametrize(
    ("case", "make_token"),
    [
        ("expired", lambda d: d.mint_token(ALICE, lifetime=-60)),
        ("another user's", lambda d: d.mint_token(BOB)),
        ("garbage", lambda d: "not-a-jwt"),
    ],
)
def test_rejected_tokens(dovecot: DovecotServer, case: str, make_token: object) -> None:
    token = make_token(dovecot)  # type: ignore[operator]
    with ImapClient(dovecot.host, dovecot.imaps_port, ca_file=str(dovecot.ca_file)) as imap:
        with pytest.raises(AuthenticationFailed) as info:
            imap.authenticate_oauth(ALICE, token)
        assert info.value.code == "AUTHENTICATIONFAILED", case
        assert token not in str(info.value)
        assert not imap.authenticated


def test_login_with_a_password(dovecot: DovecotServer) -> None:
    with ImapClient(dovecot.host, dovecot.imaps_port, ca_file=str(dovecot.ca_file)) as imap:
        imap.login(ALICE, ALICE_PASSWORD)
        assert imap.authenticated
    with ImapClient(dovecot.host, dovecot.imaps_port, ca_file=str(dovecot.ca_file)) as imap:
        with pytest.raises(AuthenticationFailed):
            imap.login(ALICE, "wrong")


def test_untrusted_certificate(dovecot: DovecotServer) -> None:
    with pytest.raises(ConnectError) as info:
        ImapClient(dovecot.host, dovecot.imaps_port, timeout=5).connect()
    assert "not trusted" in str(info.value)


def test_connection_refused_is_a_connect_error() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectError) as info:
        ImapClient("127.0.0.1", port, timeout=5).connect()
    assert f"127.0.0.1:{port}" in str(info.value)


def test_abandoning_a_listing_keeps_the_connection_in_step(
    client: ImapClient, testbed: Testbed
) -> None:
    client.select("Bulk", readonly=True)
    for count, _row in enumerate(client.iter_messages(), 1):
        if count == 3:
            break  # the rest of FETCH 1:* is still on its way
    page = client.list_page(1, 5)
    assert [m.uid for m in page] == [m.uid for m in reversed(testbed.bulk[-5:])]
    client.noop()


def test_oauthbearer_refusal_ends_the_exchange_properly(dovecot: DovecotServer) -> None:
    # An expired token: every Dovecot answers it with an error challenge the client must answer
    # (2.4 refuses another user's token with a bare NO, which would test nothing here).
    expired = dovecot.mint_token(ALICE, lifetime=-60)
    with ImapClient(dovecot.host, dovecot.imaps_port, ca_file=str(dovecot.ca_file)) as imap:
        with pytest.raises(AuthenticationFailed) as info:
            imap.authenticate_oauth(ALICE, expired, "oauthbearer")
        assert "invalid_token" in str(info.value)
        imap.authenticate_oauth(ALICE, dovecot.mint_token(ALICE), "oauthbearer")
        assert imap.authenticated


@pytest.mark.parametrize(
    "command",
    [
        lambda c: c.search("ALL\r\nX1 LOGOUT"),
        lambda c: c.iter_fetch("1", "(UID)\r\nX2 LOGOUT"),
        lambda c: c.iter_fetch("1", ["UID", "FLAGS\nX3 LOGOUT"]),
        lambda c: c.status("INBOX", ["MESSAGES\r\nX4 LOGOUT"]),
        lambda c: c.iter_fetch("1", "(BODY[HEADER.FIELDS (Überschrift)])"),
    ],
    ids=["search", "fetch-string", "fetch-list", "status", "non-ascii"],
)
def test_text_sent_as_given_cannot_smuggle_a_command(
    client: ImapClient, testbed: Testbed, command: Callable[[ImapClient], object]
) -> None:
    """A script passing user input as criteria must not run the user's IMAP commands."""
    client.select("INBOX", readonly=True)
    with pytest.raises(UsageError):
        list(command(client))  # type: ignore[call-overload]
    client.noop()  # still signed in, still in step
    assert [m.uid for m in client.list_page(1, 2)] == [m.uid for m in testbed.inbox[-2:]][::-1]


def test_search_results_listed_in_the_order_given(client: ImapClient, testbed: Testbed) -> None:
    client.select("Bulk", readonly=True)
    by_uid = {m.uid: m for m in testbed.bulk}
    uids = [*sorted(by_uid, reverse=True)[:900:2], 10**9]  # three chunks, one UID not there
    listed = list(client.iter_summaries(uids))
    assert [m.uid for m in listed] == uids[:-1]
    for message in listed:
        assert message.uid is not None and message.envelope is not None
        assert message.envelope.subject == by_uid[message.uid].subject


def test_find_takes_iso_dates_too(client: ImapClient) -> None:
    client.select("Bulk", readonly=True)
    assert client.find(since="2024-03-01") == client.find(since=date(2024, 3, 1))
    with pytest.raises(UsageError, match="YYYY-MM-DD"):
        client.find(before="1 March")


def test_commands_out_of_order_are_usage_errors(dovecot: DovecotServer, testbed: Testbed) -> None:
    """Not "refusing to send a token unencrypted", not the server's "BAD Error in IMAP
    command": what was forgotten."""
    client = ImapClient(dovecot.host, dovecot.imaps_port, ca_file=str(dovecot.ca_file))
    with pytest.raises(UsageError, match=r"connect\(\) first"):
        client.authenticate_oauth(ALICE, dovecot.mint_token(ALICE))
    with client:
        with pytest.raises(UsageError, match=r"authenticate_oauth\(\) first"):
            client.select("INBOX", readonly=True)
        with pytest.raises(UsageError, match=r"authenticate_oauth\(\) first"):
            list(client.iter_fetch("1", "(UID)"))
        assert "IMAP4REV1" in client.capabilities  # allowed before signing in
        client.authenticate_oauth(ALICE, dovecot.mint_token(ALICE))
        assert client.select("INBOX", readonly=True).exists > 0


def test_an_answer_left_half_read_is_finished_by_the_next_command(
    client: ImapClient, testbed: Testbed
) -> None:
    """A reader that stops without closing (its generator kept alive, say by an exception's
    traceback) must not leave the next command reading the rest of the old answer, nor the
    parser streaming literals it should keep."""
    client.select("INBOX", readonly=True)
    big = testbed.tagged("large")
    left = client.iter_fetch_events([big.uid], "(UID BODY.PEEK[])", uid=True, stream_threshold=1024)
    assert type(next(left)).__name__ == "LiteralStarted"  # suspended inside the literal
    [response] = client.iter_fetch([big.uid], "(UID BODY.PEEK[])", uid=True)
    body = response.items["BODY[]"]
    assert isinstance(body, bytes) and len(body) == big.size  # kept whole: 1 MiB threshold back
    assert [m.uid for m in client.list_page(1, 1)] == [max(m.uid for m in testbed.inbox)]
    with pytest.raises(UsageError, match="skipped"):
        next(left)  # its answer is gone: said, not read from another command's


def test_names_of_the_last_release_still_work_with_a_warning(
    client: ImapClient, testbed: Testbed
) -> None:
    with pytest.warns(DeprecationWarning, match=r"select\(folder, readonly=True\)"):
        info = client.examine("INBOX")
    assert info.read_only and info.exists == len(testbed.inbox)
    uids = client.find()
    with pytest.warns(DeprecationWarning, match="iter_summaries"):
        assert [m.uid for m in client.summaries(uids[:3])] == uids[:3]
    with pytest.warns(DeprecationWarning, match="iter_fetch"):
        [response] = client.fetch([uids[0]], "(UID FLAGS)", uid=True)
    assert response.items["UID"] == uids[0]
    client.select("INBOX")
    with pytest.warns(DeprecationWarning, match="add_flags"):
        client.store([uids[0]], "+FLAGS", ["$Deprecated"], uid=True)
    [response] = client.iter_fetch([uids[0]], "(UID FLAGS)", uid=True)
    assert "$Deprecated" in response.items["FLAGS"]
    client.remove_flags([uids[0]], ["$Deprecated"])
