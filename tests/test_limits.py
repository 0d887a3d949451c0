"""The bounds of UIDs, timeouts and folder names, as the library itself keeps them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from o365imap import ImapClient, UsageError
from o365imap.auth import Authenticator, Profile
from o365imap.limits import check_folder_name, check_seconds, check_uid, parse_uid
from o365imap.messages import open_message, save_message, save_parts


@pytest.mark.parametrize(
    ("text", "uid"),
    [("1", 1), ("4294967295", 4294967295), (" 42 ", 42), ("0007", 7), ("0" * 5000 + "9", 9)],
    ids=["1", "2**32-1", "spaces", "zeros", "5000-zeros"],
)
def test_uids_are_ascii_digits_within_32_bits(text: str, uid: int) -> None:
    assert parse_uid(text) == uid
    assert check_uid(uid) == uid


@pytest.mark.parametrize(
    "text",
    ["", "0", "000", "4294967296", "9" * 30, "9" * 5000, "-1", "+1", "1.0", "1e3", "0x10",
     "１", "٣", "²", "½", "1 2", "1_000"],
    ids=lambda text: text[:12].encode("unicode_escape").decode(),
)  # fmt: skip
def test_anything_else_is_not_a_uid(text: str) -> None:
    with pytest.raises(UsageError, match="is not a UID: UIDs are ASCII digits, 1 to 4294967295"):
        parse_uid(text)


@pytest.mark.parametrize(
    "value", [0, -1, 2**32, 10**5000, True, 1.0, "1"], ids=lambda v: type(v).__name__
)
def test_check_uid_takes_only_ints_in_range(value: object) -> None:
    with pytest.raises(UsageError, match="is not a UID"):
        check_uid(value)  # type: ignore[arg-type]


def test_a_huge_int_is_named_by_its_size() -> None:
    with pytest.raises(UsageError, match=r"^an integer of 16610 bits is not a UID"):
        check_uid(10**5000)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e300, 0, -1, 3600.5, True])
def test_timeouts_are_finite_positive_and_at_most_an_hour(value: float) -> None:
    with pytest.raises(UsageError, match="must be a finite number of seconds, more than 0 and"):
        check_seconds(value)
    with pytest.raises(UsageError, match="must be a finite number of seconds, more than 0"):
        ImapClient("127.0.0.1", timeout=value)
    with pytest.raises(UsageError, match="the connect timeout must be"):
        ImapClient("127.0.0.1", connect_timeout=value)
    with pytest.raises(UsageError, match="the timeout must be"):
        Authenticator(Profile(name="p", client_id="c"), timeout=value)


def test_bounds_of_seconds() -> None:
    assert check_seconds(0.001) == 0.001 and check_seconds(3600) == 3600
    assert check_seconds(5, least=5) == 5
    with pytest.raises(UsageError, match=r"from 5 to 60, not 4\.9"):
        check_seconds(4.9, "poll interval", least=5, most=60)


@pytest.mark.parametrize("name", ["", "x" * 1001, "x" * 100_000], ids=["empty", "1001", "100000"])
def test_folder_names_are_not_empty_nor_longer_than_1000(name: str) -> None:
    with pytest.raises(UsageError, match="is not a folder name: folder names are 1 to 1000"):
        check_folder_name(name)
    client = ImapClient("127.0.0.1")  # refused before anything is sent: it is not even connected
    with pytest.raises(UsageError, match="is not a folder name"):
        client.select(name, readonly=True)
    with pytest.raises(UsageError, match="is not a folder name"):
        client.status(name)


def test_a_long_value_is_shown_cut_with_its_length() -> None:
    with pytest.raises(UsageError) as info:
        check_folder_name("y" * 100_000)
    assert str(info.value) == (
        "'yyyyyyyyyyyyyyyyyyyy'… (100000 characters) is not a folder name: folder names are "
        "1 to 1000 characters long"
    )


@pytest.mark.parametrize("uid", [0, 2**32, 10**5000], ids=["0", "2**32", "5000-digits"])
def test_the_message_functions_refuse_a_uid_before_asking_the_server(
    uid: int, tmp_path: Path
) -> None:
    client = ImapClient("127.0.0.1")  # not connected: a check that came later would say so
    for call in (
        lambda: open_message(client, uid),
        lambda: save_parts(client, uid, tmp_path),
        lambda: save_message(client, uid, tmp_path),
    ):
        with pytest.raises(UsageError, match="is not a UID"):
            call()
    assert list(tmp_path.iterdir()) == []
