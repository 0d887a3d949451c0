"""Parameter types for the values every command reads the same way: a UID (or a message
file), a number of seconds, a folder name, a whole number.

They apply the library's rules (``o365imap.limits``) while click parses, so that a bad value
is a usage error naming the option before anything connects, the same for every command.
"""

from __future__ import annotations

import math
import shlex
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from o365imap.errors import UsageError
from o365imap.limits import (
    MAX_TIMEOUT,
    check_flag_name,
    check_folder_name,
    check_seconds,
    parse_uid,
    seconds_rule,
    shown,
)

__all__ = [
    "FLAG",
    "FOLDER",
    "UID_OR_FILE",
    "FlagName",
    "FolderName",
    "Seconds",
    "UidOrFile",
    "WholeNumber",
]


# click.ParamType takes a type argument since click 8.4 only; a subscript fails at run time in
# the older ones that pyproject allows.
class UidOrFile(click.ParamType):  # type: ignore[type-arg]
    """A UID (ASCII digits), or the path of an existing message file to read instead."""

    name = "uid|file"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | Path:
        if isinstance(value, Path):
            return value
        text = str(value).strip()
        if not text:
            self.fail(f"{shown(value)} is neither a UID nor a message file (.eml)", param, ctx)
        if text.isascii() and text.isdigit():
            return self._uid(text, param, ctx)  # digits are a UID, even if a file has that name
        path = Path(text)
        try:
            if path.is_file():
                return path
            if path.exists():
                self.fail(f"{shown(value)} is not a file", param, ctx)
        except OSError:  # a name too long for a path, say: not a file then
            pass
        if text.isnumeric():  # digits of another script ("１", "٣", "²"): meant as a UID
            return self._uid(text, param, ctx)
        if "/" in text or "." in text:  # meant as a file
            self.fail(f"no such file: {value}", param, ctx)
        meant = _folder_first(text, ctx)
        if meant is not None:
            raise click.UsageError(meant, ctx)
        self.fail(f"{shown(value)} is neither a UID nor a message file (.eml)", param, ctx)

    def _uid(self, text: str, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            return parse_uid(text)
        except UsageError as exc:
            self.fail(str(exc), param, ctx)


def _folder_first(text: str, ctx: click.Context | None) -> str | None:
    """What to say when a word stands where the UID goes (``show Bulk 5``): a folder name,
    most likely. The command's FOLDER argument is eager, so it is known here: when it is a
    UID, the two were swapped, and the command as meant is shown; when it was not given, the
    order is. None when both were words: nothing better to say than that it is no UID."""
    if ctx is None or not isinstance(ctx.params.get("folder"), str):
        return None
    folder = ctx.params["folder"]
    given = ctx.get_parameter_source("folder") is not ParameterSource.DEFAULT
    if given and folder.isascii() and folder.isdigit():
        meant = f"{ctx.command_path} {folder} {shlex.quote(text)}"
        return f"{shown(text)} is not a UID, and the UID comes first: did you mean `{meant}`?"
    if not given:
        meant = f"{ctx.command_path} UID {shlex.quote(text)}"
        return (
            f"{shown(text)} is neither a UID nor a message file (.eml): the UID comes first, "
            f"then the folder, as in `{meant}`"
        )
    return None


class Seconds(click.ParamType):  # type: ignore[type-arg]
    """A finite number of seconds from ``least`` to ``most``, written in ASCII."""

    name = "seconds"

    def __init__(self, least: float, most: float = MAX_TIMEOUT) -> None:
        self.least = least
        self.most = most

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        text = str(value)
        try:
            # float() also reads other scripts' digits, "inf", "nan" and 1e999: the check
            # below keeps what a person means by a number of seconds.
            seconds = float(text) if text.isascii() else math.nan
            return check_seconds(seconds, least=self.least, most=self.most)
        except (ValueError, UsageError):
            self.fail(f"{shown(value)} is not {seconds_rule(self.least, self.most)}", param, ctx)

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "SECONDS"


class FolderName(click.ParamType):  # type: ignore[type-arg]
    """A folder name as the library takes it: not empty, of bounded length."""

    name = "folder"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        try:
            return check_folder_name(str(value))
        except UsageError as exc:
            self.fail(str(exc), param, ctx)


class WholeNumber(click.IntRange):
    """click.IntRange, written in ASCII digits: int() also reads other scripts' digits ("٣"
    is 3), and past 4300 digits it fails with a message that repeats them all."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, str):
            text = value.strip()
            if not (text.isascii() and text.removeprefix("-").isdigit()):
                self.fail(f"{shown(value)} is not a whole number in ASCII digits", param, ctx)
            if len(text.lstrip("-0")) > 18:  # beyond every bound given here
                bounds = self._describe_range()
                self.fail(f"{shown(value)} is not in the range {bounds}", param, ctx)
        number: int = super().convert(value, param, ctx)
        return number


class FlagName(click.ParamType):  # type: ignore[type-arg]
    """A flag or keyword as IMAP sends it unquoted: ``$Invoice``, ``Processed``, ``\\Seen``."""

    name = "flag"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        try:
            # The library's own rule, applied before connecting.
            name: str = check_flag_name(str(value))
        except UsageError as exc:
            self.fail(str(exc), param, ctx)
        return name


UID_OR_FILE = UidOrFile()
FOLDER = FolderName()
FLAG = FlagName()
