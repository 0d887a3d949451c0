"""Profiles: which app, tenant, account and server a name stands for, in a TOML file.

The file lives in the platform's config directory (platformdirs), or in ``$O365IMAP_HOME``
when that is set (tests, portable installs). It never holds a token or a secret: tokens live in
the token cache (cache.py), a client secret comes from the environment or a prompt each time.

    default = "work"

    [profiles.work]
    client_id = "00000000-0000-0000-0000-000000000000"
    tenant = "contoso.onmicrosoft.com"
    user = "me@contoso.com"            # the mailbox
    account = "me@contoso.com"         # who signed in (differs for a shared mailbox)
    account_id = "<uid>.<tenant id>"   # msal's home_account_id: which tokens are this profile's
    flow = "auth-code"
    host = "outlook.office365.com"

Keys o365imap does not know are kept as they are when it rewrites the file.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import platformdirs

from o365imap._files import write_text_atomically
from o365imap.errors import UsageError

__all__ = [
    "APP_ONLY_SCOPES",
    "DEFAULT_HOST",
    "DEFAULT_SCOPES",
    "DEFAULT_SMTP_HOST",
    "SMTP_SEND_SCOPE",
    "Flow",
    "Profile",
    "ProfileStore",
    "carries_smtp_send",
    "home_dir",
    "unwritable",
]

Flow = Literal["auth-code", "device-code", "client-credentials"]
FLOWS: tuple[Flow, ...] = ("auth-code", "device-code", "client-credentials")
DEFAULT_SCOPES = ("https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access")
APP_ONLY_SCOPES = ("https://outlook.office365.com/.default",)
DEFAULT_HOST = "outlook.office365.com"  # Office 365's and Outlook.com's IMAP server
# Office 365's SMTP AUTH (client submission) endpoint: STARTTLS on 587 (Outlook.com's is
# smtp-mail.outlook.com, same port and security).
DEFAULT_SMTP_HOST = "smtp.office365.com"
OUTLOOK_RESOURCE = "https://outlook.office.com"
SMTP_SEND_SCOPE = f"{OUTLOOK_RESOURCE}/SMTP.Send"
SECURITIES = ("tls", "starttls", "plain")


def carries_smtp_send(scopes: tuple[str, ...]) -> bool:
    """Whether a token's scopes (full URLs or bare names, as the platform answers) let it send."""
    return any(scope.rsplit("/", 1)[-1] == "SMTP.Send" for scope in scopes)


_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def home_dir(kind: Literal["config", "data"]) -> Path:
    """Where o365imap keeps its files: ``$O365IMAP_HOME`` or the platform's directories."""
    override = os.environ.get("O365IMAP_HOME")
    if override:
        return Path(override).expanduser()
    if kind == "config":
        return Path(platformdirs.user_config_dir("o365imap", appauthor=False))
    return Path(platformdirs.user_data_dir("o365imap", appauthor=False))


def unwritable(path: Path, exc: OSError) -> UsageError:
    """The sentence for a config or data directory we cannot write (exit 1, not a traceback)."""
    reason = exc.strerror or type(exc).__name__
    return UsageError(
        f"cannot write to {path} ({reason}): make it writable, or point O365IMAP_HOME at a "
        "directory you own"
    )


@dataclass(frozen=True)
class Profile:
    """One way of signing in and reaching a mailbox."""

    name: str
    client_id: str
    tenant: str = "organizations"
    authority: str | None = None  # overrides tenant: sovereign clouds, the sandbox emulator
    user: str | None = None
    flow: Flow = "auth-code"
    confidential: bool = False  # a "Web" registration: needs a client secret
    scopes: tuple[str, ...] = ()  # empty: the defaults for the flow
    host: str = DEFAULT_HOST
    port: int | None = None
    security: str = "tls"
    ca_file: str | None = None  # a private CA for the authority and the IMAP server
    # Who signed in, kept apart from ``user`` (the mailbox): for a shared mailbox they differ,
    # and the tokens to use are the signed-in account's. ``account_id`` is msal's
    # home_account_id, the key of that account's entries in the token cache.
    account: str | None = None
    account_id: str | None = None
    # Sending (SMTP AUTH): ``send`` asks the sign-in for SMTP.Send too, so one delegated
    # token carries both scopes (both are on outlook.office.com); app-only tokens
    # (.default) carry whatever the app was granted.
    send: bool = False
    smtp_host: str = DEFAULT_SMTP_HOST
    smtp_port: int | None = None  # None: 587 for starttls, 465 for tls, 25 for plain
    smtp_security: str = "starttls"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def authority_url(self) -> str:
        if self.authority:
            return self.authority.rstrip("/")
        return f"https://login.microsoftonline.com/{self.tenant}"

    @property
    def needs_secret(self) -> bool:
        """A confidential registration: signing in takes its client secret."""
        return self.confidential or self.flow == "client-credentials"

    @property
    def effective_scopes(self) -> tuple[str, ...]:
        if self.flow == "client-credentials":
            return self.scopes or APP_ONLY_SCOPES
        scopes = self.scopes or DEFAULT_SCOPES
        # SMTP.Send joins scopes of its own resource only: a token is for one resource, and
        # asking for two is AADSTS28000 (a profile with Graph scopes cannot carry it).
        outlook = any(s.startswith(OUTLOOK_RESOURCE + "/") for s in scopes)
        if self.send and outlook and SMTP_SEND_SCOPE not in scopes:
            # before offline_access, which msal handles itself
            scopes = (
                *[s for s in scopes if s != "offline_access"],
                SMTP_SEND_SCOPE,
                *[s for s in scopes if s == "offline_access"],
            )
        return scopes

    def validate(self) -> Profile:
        if not _NAME.fullmatch(self.name):
            raise UsageError(
                f"profile names are letters, digits, '.', '_' and '-' (got {self.name!r})"
            )
        if not self.client_id:
            raise UsageError("a profile needs the application (client) id: --client-id")
        if self.flow not in FLOWS:
            raise UsageError(f"--flow must be one of {', '.join(FLOWS)}, not {self.flow!r}")
        if self.port is not None and not 1 <= self.port <= 65535:
            raise UsageError(f"--port must be between 1 and 65535, not {self.port}")
        if self.security not in SECURITIES:
            raise UsageError(
                f"--security must be one of {', '.join(SECURITIES)}, not {self.security!r}"
            )
        if self.smtp_port is not None and not 1 <= self.smtp_port <= 65535:
            raise UsageError(f"--smtp-port must be between 1 and 65535, not {self.smtp_port}")
        if self.smtp_security not in SECURITIES:
            raise UsageError(
                f"--smtp-security must be one of {', '.join(SECURITIES)}, "
                f"not {self.smtp_security!r}"
            )
        if self.flow == "client-credentials":
            if not self.user:
                raise UsageError("app-only access (client-credentials) needs the mailbox: --user")
            if self.tenant in ("common", "organizations", "consumers") and not self.authority:
                raise UsageError(
                    "app-only access needs your tenant's id or domain (--tenant), "
                    f"not {self.tenant!r}"
                )
        if self.authority and not self.authority.startswith("https://"):
            raise UsageError(f"the authority must be an https URL, not {self.authority!r}")
        return self

    def to_toml_table(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("name")
        data.pop("extra")
        data["scopes"] = list(self.scopes)
        table = {k: v for k, v in data.items() if v not in (None, [], False) or k == "confidential"}
        # Keys of a newer version, or the user's own notes, survive a rewrite by this one.
        return {**self.extra, **table}


class ProfileStore:
    """The profiles file: read with every value checked, written atomically (never torn)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or home_dir("config") / "profiles.toml"

    def _load(self) -> dict[str, Any]:
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return {}  # the usual case of a command given everything: tomllib is not loaded
        except OSError as exc:
            raise UsageError(f"cannot read the profiles file {self.path}: {exc}") from exc
        import tomllib  # noqa: PLC0415 - only when there is a file to read

        try:
            with handle:
                data = tomllib.load(handle)
        except (tomllib.TOMLDecodeError, OSError) as exc:
            raise UsageError(f"cannot read the profiles file {self.path}: {exc}") from exc
        if not isinstance(data.get("default", ""), str):
            raise self._bad("default", "a string (a profile name)")
        profiles = data.get("profiles", {})
        if not isinstance(profiles, dict):
            raise self._bad("profiles", "a table of profiles")
        for name, table in profiles.items():
            if not isinstance(table, dict):
                raise self._bad(f"profiles.{name}", "a table")
        return data

    def _bad(self, key: str, expected: str, got: object = None) -> UsageError:
        # The type only, never the value: a misplaced secret must not reach the terminal.
        shown = "" if got is None else f", not a {_TOML_TYPES.get(type(got), 'value of that type')}"
        return UsageError(f"{self.path}: {key} must be {expected}{shown}")

    def names(self) -> list[str]:
        return sorted(self._load().get("profiles", {}))

    def default_name(self) -> str | None:
        data = self._load()
        default = data.get("default")
        if isinstance(default, str):
            return default
        names = sorted(data.get("profiles", {}))
        return names[0] if len(names) == 1 else None

    def get(self, name: str | None = None) -> Profile:
        """A profile by name, or the default one; a clear error when there is none."""
        data = self._load()
        profiles = data.get("profiles", {})
        chosen = name or self.default_name()
        if chosen is None:
            if not profiles:
                raise UsageError(
                    "no profile: sign in first with `o365imap login` (the mail commands also "
                    "take a token from --access-token or O365IMAP_ACCESS_TOKEN)"
                )
            raise UsageError(
                f"several profiles ({', '.join(sorted(profiles))}): choose one with --profile"
            )
        table = profiles.get(chosen)
        if table is None:
            raise UsageError(f"no profile named {chosen!r}; sign in with `o365imap login`")
        return self._profile(chosen, table)

    def find(self, name: str) -> Profile | None:
        """The profile ``name``, None when there is none; a broken file is still an error."""
        table = self._load().get("profiles", {}).get(name)
        return None if table is None else self._profile(name, table)

    def _profile(self, name: str, table: dict[str, Any]) -> Profile:
        if "client_secret" in table:
            raise UsageError(
                f"{self.path}: profile {name!r} has a client_secret; secrets are never kept in "
                "the profiles file: delete that line and set O365IMAP_CLIENT_SECRET (or let "
                "o365imap prompt for it)"
            )
        known = {f.name for f in fields(Profile)} - {"name", "extra"}
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in known:
                continue
            expected = _EXPECTED[key]
            # bool is an int to Python, never a port to us.
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise self._bad(f"profiles.{name}.{key}", _DESCRIBED[expected], value)
            if isinstance(value, list):
                if not all(isinstance(s, str) for s in value):
                    raise self._bad(f"profiles.{name}.{key}", "a list of strings", value)
                values[key] = tuple(value)
            else:
                values[key] = value
        if "client_id" not in values:
            raise UsageError(f"{self.path}: profile {name!r} has no client_id")
        extra = {k: v for k, v in table.items() if k not in known}
        profile = Profile(name=name, extra=extra, **values)
        try:
            return profile.validate()
        except UsageError as exc:
            raise UsageError(f"{self.path}: profile {name!r}: {exc}") from exc

    def __iter__(self) -> Iterator[Profile]:
        for name in self.names():
            yield self.get(name)

    def save(self, profile: Profile, *, make_default: bool = False) -> None:
        """Add or replace ``profile``; it becomes the default if asked, or if it is the first."""
        profile.validate()
        data = self._load()
        profiles = dict(data.get("profiles", {}))
        first = not profiles
        profiles[profile.name] = profile.to_toml_table()
        data["profiles"] = profiles
        if make_default or (first and "default" not in data):
            data["default"] = profile.name
        self._write(data)

    def ensure_writable(self) -> None:
        """Fail now, with a sentence, rather than after a sign-in that could not be saved."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.path.parent):
                pass
        except OSError as exc:
            raise unwritable(self.path.parent, exc) from exc

    def remove(self, name: str) -> bool:
        data = self._load()
        profiles = dict(data.get("profiles", {}))
        if profiles.pop(name, None) is None:
            return False
        data["profiles"] = profiles
        if data.get("default") == name:
            data.pop("default")
        self._write(data)
        return True

    def _write(self, data: dict[str, Any]) -> None:
        try:
            write_text_atomically(self.path, _dump_toml(data))
        except OSError as exc:
            raise unwritable(self.path.parent, exc) from exc


# What each key of a profile table must hold, checked on load (a hand-edited file).
_EXPECTED: dict[str, type] = {
    "client_id": str,
    "tenant": str,
    "authority": str,
    "user": str,
    "flow": str,
    "confidential": bool,
    "scopes": list,
    "host": str,
    "port": int,
    "security": str,
    "ca_file": str,
    "account": str,
    "account_id": str,
    "send": bool,
    "smtp_host": str,
    "smtp_port": int,
    "smtp_security": str,
}
_TOML_TYPES: dict[type, str] = {
    str: "string",
    bool: "boolean",
    int: "number",
    float: "number",
    list: "list",
    dict: "table",
}
_DESCRIBED: dict[type, str] = {
    str: "a string",
    bool: "true or false",
    list: "a list of strings",
    int: "a whole number",
}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, str):
        escaped = (
            value.replace("\\", "\\\\")
            .replace('"', '\\"')
            .replace("\n", "\\n")
            .replace("\r", "\\r")
            .replace("\t", "\\t")
        )
        escaped = re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped)
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # a table inside a list: inline
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise UsageError(f"cannot store {value!r} in the profiles file")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def _dump_table(lines: list[str], path: list[str], table: dict[str, Any]) -> None:
    """Plain values first, then each sub-table under its own header (TOML's order rule)."""
    plain = {k: v for k, v in table.items() if not isinstance(v, dict)}
    if path and (plain or len(plain) == len(table)):  # [profiles] alone says nothing
        lines.append(f"\n[{'.'.join(_toml_key(p) for p in path)}]\n")
    for key, value in plain.items():
        lines.append(f"{_toml_key(key)} = {_toml_value(value)}\n")
    for key, value in table.items():
        if isinstance(value, dict):
            _dump_table(lines, [*path, key], value)


def _dump_toml(data: dict[str, Any]) -> str:
    """The TOML the profiles file needs, unknown keys and tables included (tomllib reads it)."""
    lines = ["# o365imap profiles: no tokens or secrets are kept here.\n"]
    _dump_table(lines, [], data)
    return "".join(lines)


def updated(profile: Profile, **changes: Any) -> Profile:
    """A copy with the given fields changed (None values leave a field alone)."""
    return replace(profile, **{k: v for k, v in changes.items() if v is not None})
