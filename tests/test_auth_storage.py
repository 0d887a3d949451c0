"""Where sign-in state lives: the profiles file and the token cache, when they go wrong."""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

import pytest
from msal_extensions import PersistedTokenCache
from msal_extensions.persistence import BasePersistence, FilePersistence, PersistenceNotFound

from o365imap import AuthError, UsageError
from o365imap.auth import Profile, ProfileStore, TokenStore
from o365imap.auth.persistence import AtomicFilePersistence, FallbackPersistence

_EVENT = {
    "client_id": "c",
    "scope": ["s"],
    "token_endpoint": "https://login.example/t/oauth2/v2.0/token",
    "response": {"access_token": "at-secret", "expires_in": 3600, "token_type": "Bearer"},
}

# ---------------------------------------------------------------- profiles.toml


def test_keys_we_do_not_know_survive_a_save(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(
        'default = "work"\n'
        "editor_note = 'kept'\n"
        "[profiles.work]\n"
        'client_id = "abc"\n'
        'user = "me@contoso.com"\n'
        "refresh_margin = 1.5\n"
        "since = 2024-05-01T10:00:00Z\n"
        'labels = ["a", "b"]\n'
        "[profiles.work.future]\n"
        "enabled = true\n"
        "[settings]\n"
        'theme = "dark"\n'
    )
    store = ProfileStore(path)
    work = store.get("work")
    store.save(Profile(**{**work.__dict__, "host": "imap.example"}))
    data = tomllib.loads(path.read_text())
    table = data["profiles"]["work"]
    assert table["host"] == "imap.example"
    assert table["refresh_margin"] == 1.5 and table["labels"] == ["a", "b"]
    assert table["since"].year == 2024 and table["future"] == {"enabled": True}
    assert data["editor_note"] == "kept" and data["settings"] == {"theme": "dark"}
    assert store.get("work").extra["future"] == {"enabled": True}


def test_only_the_first_profile_becomes_the_default_unless_asked(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "profiles.toml")
    store.save(Profile(name="first", client_id="a"))
    store.save(Profile(name="second", client_id="b"))
    assert store.default_name() == "first"
    store.save(Profile(name="third", client_id="c"), make_default=True)
    assert store.default_name() == "third"


@pytest.mark.parametrize(
    ("line", "key", "words"),
    [
        ('port = "993"', "profiles.work.port", "a whole number"),
        ("port = true", "profiles.work.port", "a whole number"),
        ('confidential = "yes"', "profiles.work.confidential", "true or false"),
        ("scopes = [1, 2]", "profiles.work.scopes", "a list of strings"),
        ('scopes = "IMAP"', "profiles.work.scopes", "a list of strings"),
        ("user = 42", "profiles.work.user", "a string, not a number"),
        ("port = 99999", "profile 'work'", "--port must be between 1 and 65535"),
        ('client_id = ["s3cret~value"]', "profiles.work.client_id", "a string, not a list"),
    ],
)
def test_profile_values_are_checked_on_load(
    tmp_path: Path, line: str, key: str, words: str
) -> None:
    path = tmp_path / "profiles.toml"
    first = "" if line.startswith("client_id") else 'client_id = "abc"\n'
    path.write_text(f"[profiles.work]\n{first}{line}\n")
    with pytest.raises(UsageError) as info:
        ProfileStore(path).get("work")
    message = str(info.value)
    assert str(path) in message and key in message and words in message
    assert "s3cret" not in message  # values are never echoed


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("default = 3\n", "default must be a string"),
        ("profiles = 3\n", "profiles must be a table"),
        ("[profiles]\nwork = 3\n", "profiles.work must be a table"),
        ('[profiles.work]\nuser = "a@b.c"\n', "has no client_id"),
        ('[profiles.work]\nclient_id = "a"\nflow = "magic"\n', "--flow must be one of"),
        ('[profiles.work]\nclient_id = "a"\nsecurity = "none"\n', "--security must be one of"),
    ],
)
def test_the_file_shape_is_checked_on_load(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=words) as info:
        ProfileStore(path).get("work")
    assert str(path) in str(info.value)


def test_a_client_secret_in_the_profiles_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text('[profiles.web]\nclient_id = "abc"\nclient_secret = "s3cret~value"\n')
    with pytest.raises(UsageError, match="O365IMAP_CLIENT_SECRET") as info:
        ProfileStore(path).get("web")
    assert "never kept in the profiles file" in str(info.value)
    assert "s3cret~value" not in str(info.value)


def test_an_unwritable_home_is_a_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a directory cannot be made under a file, even by root
    store = ProfileStore(blocker / "home" / "profiles.toml")
    with pytest.raises(UsageError, match=r"cannot write to .*O365IMAP_HOME"):
        store.ensure_writable()
    with pytest.raises(UsageError, match=r"cannot (read|write)"):
        store.save(Profile(name="p", client_id="c"))
    with pytest.raises(UsageError, match="cannot write to"):
        TokenStore(blocker / "home" / "tokens.json", use_keyring=False).open()


# ---------------------------------------------------------------- tokens.json


@pytest.mark.parametrize(
    "content", [b"{not json", b"[1, 2]", b'{"AccessToken": []}', b"\xff\xfe\x00garbage"]
)
def test_a_damaged_token_file_is_moved_aside(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tokens.json"
    path.write_bytes(content)
    cache = TokenStore(path, use_keyring=False).open()
    assert list(cache.search("AccessToken", query={})) == []  # signed out, no traceback
    (aside,) = tmp_path.glob("tokens.json.corrupt-*")
    assert aside.read_bytes() == content
    assert "damaged" in caplog.text and str(aside) in caplog.text
    cache.add(_EVENT)  # and it carries on with a fresh file
    assert json.loads(path.read_text())["AccessToken"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_unreadable_token_file_is_an_auth_error(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.mkdir()  # reading it fails with EISDIR, whoever runs the test
    with pytest.raises(AuthError, match="cannot read the token cache"):
        AtomicFilePersistence(path).load()
    assert path.is_dir()  # never moved or deleted: it may just be a permissions problem


@pytest.mark.parametrize(
    "content", [b"{not json", b"[1, 2]", b'{"AccessToken": []}', b"\xff\xfe\x00garbage", b""]
)
def test_a_saved_token_is_read_without_msal_only_from_a_sound_file(
    tmp_path: Path, content: bytes
) -> None:
    """read_saved() (a fresh token without msal) reads the file msal would read; anything
    else is msal's to handle (a damaged file moved aside above, a keyring), and it writes or
    moves nothing itself."""
    path = tmp_path / "tokens.json"
    assert TokenStore(path, use_keyring=True).read_saved() is None  # may be in a keyring
    assert TokenStore(path, use_keyring=False).read_saved() is None  # no tokens
    path.write_bytes(content)
    assert TokenStore(path, use_keyring=False).read_saved() is None
    assert path.read_bytes() == content and not list(tmp_path.glob("*.corrupt-*"))
    TokenStore(path, use_keyring=False).open().add(_EVENT)
    for use_keyring in (False, True):  # a token file there is the store, keyring or not
        saved = TokenStore(path, use_keyring=use_keyring).read_saved()
        assert saved is not None
        [token] = saved.search("AccessToken", target=["s"], query={"client_id": "c"})
        assert token["secret"] == "at-secret"


# ---------------------------------------------------------------- keyring


class _LockedKeyring(BasePersistence):  # type: ignore[misc]
    """A keyring that answers reads (nothing stored yet) but refuses every write."""

    is_encrypted = True

    def save(self, content: str) -> None:
        raise RuntimeError(f"keyring is locked (was given {content[:10]})")

    def load(self) -> str:
        raise PersistenceNotFound(location="keyring")

    def time_last_modified(self) -> float:
        raise PersistenceNotFound(location="keyring")

    def get_location(self) -> str:
        return "keyring"


def test_a_keyring_that_cannot_save_falls_back_to_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tokens.json"
    persistence = FallbackPersistence(_LockedKeyring(), AtomicFilePersistence(path))
    cache = PersistedTokenCache(persistence, lock_location=str(tmp_path / "tokens.json.lock"))
    cache.add(_EVENT)  # no exception
    assert json.loads(path.read_text())["AccessToken"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "keyring" in caplog.text and str(path) in caplog.text
    assert "at-secret" not in caplog.text and "RuntimeError" in caplog.text
    assert list(cache.search("AccessToken", query={}))  # read back from where it went
    # The next process finds the tokens in the file, keyring or not.
    store = TokenStore(path, use_keyring=True)
    assert list(store.open().search("AccessToken", query={}))
    assert store.description.startswith("file ")


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"AccessToken": []}'])
def test_damaged_keyring_contents_read_as_signed_out(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    # msal-extensions' own plain persistence stands in for a keyring: same interface, and
    # Linux CI has no unlocked secret service.
    keyring = FilePersistence(str(tmp_path / "keyring-entry"))
    keyring.save(content)
    path = tmp_path / "tokens.json"
    persistence = FallbackPersistence(keyring, AtomicFilePersistence(path))
    cache = PersistedTokenCache(persistence, lock_location=str(tmp_path / "tokens.json.lock"))
    assert list(cache.search("AccessToken", query={})) == []  # no traceback from msal
    assert "keyring were damaged" in caplog.text
    cache.add(_EVENT)  # the next sign-in overwrites the damaged entry, in the keyring
    assert json.loads(keyring.load())["AccessToken"]
    assert not path.exists()


def test_a_save_by_another_process_is_always_seen(tmp_path: Path) -> None:
    """Another process's save is noticed even within the same clock tick: msal-extensions
    compares times, which lost a rotated refresh token when four processes refreshed at once."""
    path = tmp_path / "tokens.json"
    mine, theirs = AtomicFilePersistence(path), AtomicFilePersistence(path)
    theirs.save('{"AccessToken": {}, "RefreshToken": {"a": 0}}')
    assert mine.time_last_modified() > 1e300  # never read here: newer than anything
    mine.load()
    assert mine.time_last_modified() == 0.0  # what was read is what is there
    before = os.stat(path)
    theirs.save('{"AccessToken": {}, "RefreshToken": {"a": 1}}')  # the same size as before, too
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same timestamp
    assert os.stat(path).st_size == before.st_size
    assert mine.time_last_modified() > 1e300  # still seen: the content differs
    assert '"a": 1' in mine.load()
    assert mine.time_last_modified() == 0.0
    mine.save('{"AccessToken": {}}')
    assert mine.time_last_modified() == 0.0  # its own save needs no reload
