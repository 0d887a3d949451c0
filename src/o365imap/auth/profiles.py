"""Profiles: which app, tenant, account and server a name stands for, in a TOML file.

The file lives in the platform's config directory (platformdirs), or in ``$O365IMAP_HOME``
when that is set (tests, portable installs). It never holds a token or a secret: tokens live in
the token cache (cache.py), a client secret comes from the environment or a prompt each time.

    default = "work"

    [profiles.work]
    client_id = "00000000-0000-0000-0000-000000000000"
    tenant = "contoso.onmicrosoft.com"
    user = "me@contoso.com"
    flow = "auth-code"
    host = "outlook.office365.com"
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import platformdirs

from o365imap.errors import UsageError

__all__ = [
    "APP_ONLY_SCOPES",
    "DEFAULT_SCOPES",
    "Flow",
    "Profile",
    "ProfileStore",
    "home_dir",
]

Flow = Literal["auth-code", "device-code", "client-credentials"]
FLOWS: tuple[Flow, ...] = ("auth-code", "device-code", "client-credentials")
DEFAULT_SCOPES = ("https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access")
APP_ONLY_SCOPES = ("https://outlook.office365.com/.default",)
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def home_dir(kind: Literal["config", "data"]) -> Path:
    """Where o365imap keeps its files: ``$O365IMAP_HOME`` or the platform's directories."""
    override = os.environ.get("O365IMAP_HOME")
    if override:
        return Path(override).expanduser()
    if kind == "config":
        return Path(platformdirs.user_config_dir("o365imap", appauthor=False))
    return Path(platformdirs.user_data_dir("o365imap", appauthor=False))


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
    host: str = "outlook.office365.com"
    port: int | None = None
    security: str = "tls"
    ca_file: str | None = None  # a private CA for the authority and the IMAP server
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def authority_url(self) -> str:
        if self.authority:
            return self.authority.rstrip("/")
        return f"https://login.microsoftonline.com/{self.tenant}"

    @property
    def effective_scopes(self) -> tuple[str, ...]:
        if self.scopes:
            return self.scopes
        return APP_ONLY_SCOPES if self.flow == "client-credentials" else DEFAULT_SCOPES

    def validate(self) -> Profile:
        if not _NAME.fullmatch(self.name):
            raise UsageError(
                f"profile names are letters, digits, '.', '_' and '-' (got {self.name!r})"
            )
        if not self.client_id:
            raise UsageError("a profile needs the application (client) id: --client-id")
        if self.flow not in FLOWS:
            raise UsageError(f"--flow must be one of {', '.join(FLOWS)}, not {self.flow!r}")
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
        return {k: v for k, v in data.items() if v not in (None, [], False) or k == "confidential"}


class ProfileStore:
    """The profiles file: read, write atomically (no half-written file, ever)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or home_dir("config") / "profiles.toml"

    def _load(self) -> dict[str, Any]:
        try:
            with self.path.open("rb") as handle:
                return tomllib.load(handle)
        except FileNotFoundError:
            return {}
        except (tomllib.TOMLDecodeError, OSError) as exc:
            raise UsageError(f"cannot read the profiles file {self.path}: {exc}") from exc

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
                    "no access token and no profile: sign in first with `o365imap login`, "
                    "or give a token with --access-token / O365IMAP_ACCESS_TOKEN"
                )
            raise UsageError(
                f"several profiles ({', '.join(sorted(profiles))}): choose one with --profile"
            )
        table = profiles.get(chosen)
        if table is None:
            raise UsageError(f"no profile named {chosen!r}; sign in with `o365imap login`")
        known = {f.name for f in fields(Profile)} - {"name", "extra"}
        values = {k: v for k, v in table.items() if k in known}
        if "scopes" in values:
            values["scopes"] = tuple(values["scopes"])
        extra = {k: v for k, v in table.items() if k not in known}
        try:
            return Profile(name=chosen, extra=extra, **values)
        except TypeError as exc:
            raise UsageError(f"profile {chosen!r} in {self.path} is not valid: {exc}") from exc

    def __iter__(self) -> Iterator[Profile]:
        for name in self.names():
            yield self.get(name)

    def save(self, profile: Profile, *, make_default: bool = True) -> None:
        profile.validate()
        data = self._load()
        profiles = dict(data.get("profiles", {}))
        profiles[profile.name] = profile.to_toml_table()
        data["profiles"] = profiles
        if make_default or "default" not in data:
            data["default"] = profile.name
        self._write(data)

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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = _dump_toml(data)
        fd, tmp = tempfile.mkstemp(prefix=".profiles-", suffix=".toml", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
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
    raise UsageError(f"cannot store {value!r} in the profiles file")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def _dump_toml(data: dict[str, Any]) -> str:
    """The tiny subset of TOML the profiles file uses (tomllib reads it back)."""
    lines = ["# o365imap profiles: no tokens or secrets are kept here.\n"]
    for key, value in data.items():
        if not isinstance(value, dict):
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}\n")
    for name, table in data.get("profiles", {}).items():
        lines.append(f"\n[profiles.{_toml_key(name)}]\n")
        for key, value in table.items():
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}\n")
    return "".join(lines)


def updated(profile: Profile, **changes: Any) -> Profile:
    """A copy with the given fields changed (None values leave a field alone)."""
    return replace(profile, **{k: v for k, v in changes.items() if v is not None})
