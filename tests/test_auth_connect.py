"""Connection building (o365imap.auth.connect) against last release's."""

from __future__ import annotations

import warnings

import pytest

from o365imap import UsageError
from o365imap.auth import ConnectionSettings, Profile


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
