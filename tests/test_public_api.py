"""The public API as a script writer meets it: everything it takes or returns is exported."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import o365imap
import o365imap.auth
import o365imap.protocol

_PUBLIC_CALLABLES: list[Callable[..., Any]] = [
    o365imap.open_profile,
    o365imap.open_token,
    o365imap.open_message,
    o365imap.open_eml,
    o365imap.save_message,
    o365imap.save_parts,
    o365imap.save_eml_parts,
]
_DEPRECATED = {"examine", "summaries", "fetch", "store"}


def _public_methods() -> Iterator[tuple[str, Callable[..., Any]]]:
    for name, member in inspect.getmembers(o365imap.ImapClient):
        if name.startswith("_") or name in _DEPRECATED:
            continue
        if inspect.isfunction(member):
            yield f"ImapClient.{name}", member
        elif isinstance(member, property) and member.fget is not None:
            yield f"ImapClient.{name}", member.fget
    for function in _PUBLIC_CALLABLES:
        yield function.__name__, function


def _classes_in(hint: Any) -> Iterator[type]:
    """Every class named in a type hint, through unions, generics and callables."""
    if isinstance(hint, type) and not isinstance(hint, types.GenericAlias):
        yield hint
    for arg in typing.get_args(hint):
        if isinstance(arg, list):  # Callable[[A, B], R]
            for item in arg:
                yield from _classes_in(item)
        else:
            yield from _classes_in(arg)
    origin = typing.get_origin(hint)
    if isinstance(origin, type):
        yield origin


@pytest.mark.parametrize(("name", "function"), list(_public_methods()))
def test_every_type_a_public_call_uses_is_exported(name: str, function: Callable[..., Any]) -> None:
    hints = typing.get_type_hints(function)
    for hint in hints.values():
        for cls in _classes_in(hint):
            if not cls.__module__.startswith("o365imap"):
                continue
            # From o365imap itself, or from the public package that owns it (sign-in's
            # profile and token stores, the protocol's argument types).
            exported_by = [o365imap, o365imap.auth, o365imap.protocol]
            assert any(getattr(m, cls.__name__, None) is cls for m in exported_by), (
                f"{name} uses {cls.__module__}.{cls.__name__}, which no public module exports"
            )


def test_one_default_timeout() -> None:
    for function in (o365imap.ImapClient.__init__, o365imap.open_token):
        default = inspect.signature(function).parameters["timeout"].default
        assert default == o365imap.DEFAULT_TIMEOUT, function


def test_iterators_are_named_iter() -> None:
    for name, function in _public_methods():
        returned = typing.get_type_hints(function).get("return")
        if typing.get_origin(returned) is Iterator:
            assert name.split(".")[-1].startswith("iter_"), name


def test_client_state_is_read_only() -> None:
    for name in ("selected", "exists", "authenticated", "bye", "greeting", "connected"):
        assert isinstance(getattr(o365imap.ImapClient, name), property), name
        assert getattr(o365imap.ImapClient, name).fset is None, name


def test_the_old_entry_point_still_works_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match=r"o365imap\.open_profile"):
        from o365imap.auth import open_profile
    assert open_profile is o365imap.open_profile


def test_private_modules_are_marked() -> None:
    """A module is public (documented in docs/api.md), an application, or named ``_x``."""
    source = Path(o365imap.__file__).parent
    public = {"errors", "models", "limits", "client", "messages", "auth", "protocol", "mime"}
    public |= {"smtp", "compose", "backup"}
    applications = {"cli", "tui", "sandbox"}  # the programs, private as a whole
    for path in source.iterdir():
        name = path.stem
        if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").exists()):
            assert name.startswith("_") or name in public | applications, path
    # public names re-exported, the modules private
    for package in ("client", "messages", "smtp", "compose", "backup"):
        for path in (source / package).glob("*.py"):
            assert path.stem.startswith("_"), path
