"""Connection building (o365imap.auth.connect) against last release's."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import pytest

from o365imap import UsageError
from o365imap.auth import ConnectionSettings, Profile, ProfileStore


def test_last_releases_open_signed_in_still_imports_with_a_warning() -> None:
    """``open_signed_in`` was in ``o365imap.auth.__all__`` in 0.1 (the step scripts could use
    with a token of their own); it is gone without the one release of DeprecationWarning that
    ``open_profile`` got."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from o365imap.auth import open_signed_in  # noqa: F401
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def test_settings_made_with_a_profile_do_not_blame_the_profile_for_their_own_gaps() -> None:
    """``ConnectionSettings(profile=p)`` (the public constructor, not ``from_profile``) takes
    none of the profile's values: it then says the profile names no mailbox, of a profile that
    names one."""
    profile = Profile(name="work", client_id="c", user="me@contoso.com", host="imap.contoso.com")
    with pytest.raises(UsageError) as info:
        ConnectionSettings(profile=profile).open()
    assert "names no mailbox" not in str(info.value), str(info.value)


def test_settings_follow_the_saved_profile_but_keep_what_the_caller_gave(
    tmp_path: Path,
) -> None:
    """A profile rewritten meanwhile (a sandbox restarted on other ports): its new server is
    taken, except where the caller gave its own value over the profile's."""
    store = ProfileStore(tmp_path / "profiles.toml")
    saved = Profile(name="p", client_id="c", user="me@example.com", host="a.test", port=1993)
    store.save(saved, make_default=True)
    given = ConnectionSettings.from_profile(store.get("p"), ca_file="/given/ca.pem")
    store.save(replace(saved, port=2993, smtp_port=2587, ca_file="/saved/ca.pem"))
    now = given.with_saved_profile(store)
    assert (now.host, now.port, now.smtp_port) == ("a.test", 2993, 2587)
    assert now.ca_file == "/given/ca.pem"  # the caller's, kept
    assert now.profile is not None and now.profile.port == 2993
    store.remove("p")
    assert given.with_saved_profile(store) is given  # gone: the settings that worked
    token = ConnectionSettings(user="me@example.com", access_token="t")
    assert token.with_saved_profile(store) is token  # no profile to follow
