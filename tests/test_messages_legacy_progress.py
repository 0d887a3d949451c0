"""Last release's progress hooks, which ``_legacy_progress`` promises to wrap for one
release (docs/api.md, "Renamed names"), judged by their shape.

Last release called ``save_message``'s hook as ``hook(done, total)`` and the part savers' as
``hook(part, done, total)``. A hook of that kind written with a default for its last
parameter, or taking ``*args``, is as legal a callable for those calls as the plain one; the
shape test counts only required positional parameters, takes these for new-style hooks and
calls them with one ``Progress``: no warning, and a crash or wrong numbers.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Any

import pytest

from o365imap.messages import PartInfo, Progress, save_eml_parts
from o365imap.messages._types import _legacy_progress

MESSAGE = (
    b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nHi\r\n--b\r\n"
    b'Content-Type: text/csv; name="data.csv"\r\n\r\na,b\r\n--b--\r\n'
)
INFO = PartInfo("2", "text/csv", "data.csv", "attachment", None)


def _calls(hook: Any, legacy: int, event: Progress) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        wrapped = _legacy_progress(hook, legacy)
    assert wrapped is not None
    wrapped(event)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda seen: lambda done, total: seen.append((done, total)), id="plain"),
        pytest.param(
            lambda seen: lambda done, total=None: seen.append((done, total)),
            id="total-defaulted",
        ),
        pytest.param(
            lambda seen: lambda *args: seen.append(args),
            id="star-args",
            marks=pytest.mark.xfail(strict=True, reason="*args fits both shapes: ambiguous"),
        ),
        pytest.param(
            lambda seen: functools.partial(
                lambda log, done, total: log.append((done, total)), seen
            ),
            id="partial",
        ),
    ],
)
def test_a_save_message_hook_of_last_release_still_gets_done_and_total(make: Any) -> None:
    seen: list[Any] = []
    _calls(make(seen), 2, Progress(5, 10))
    assert seen == [(5, 10)]


@pytest.mark.parametrize(
    "hook_of",
    [
        pytest.param(lambda seen: lambda part, done, total: seen.append((part, done)), id="plain"),
        pytest.param(
            lambda seen: lambda part, done, total=None: seen.append((part, done)),
            id="total-defaulted",
        ),
        pytest.param(
            lambda seen: lambda *args: seen.append(args[:2]),
            id="star-args",
            marks=pytest.mark.xfail(strict=True, reason="*args fits both shapes: ambiguous"),
        ),
    ],
)
def test_a_part_hook_of_last_release_still_works_with_save_eml_parts(
    tmp_path: Path, hook_of: Any
) -> None:
    source = tmp_path / "m.eml"
    source.write_bytes(MESSAGE)
    seen: list[Any] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        saved = save_eml_parts(source, tmp_path / "out", progress=hook_of(seen))
    assert [s.filename for s in saved] == ["data.csv"]
    assert seen and all(isinstance(part, PartInfo) and done == 3 for part, done in seen), seen


def test_a_new_style_hook_is_left_alone() -> None:
    """The other side of the judgement: these must not be taken for old hooks."""
    got: list[Progress] = []
    for hook in (
        got.append,
        lambda p, *, verbose=False: got.append(p),  # noqa: PLW0108 - its shape is the point
        lambda p, x=1: got.append(p),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            wrapped = _legacy_progress(hook, 2)
        assert wrapped is not None
        wrapped(Progress(1, 2, INFO))
    assert got == [Progress(1, 2, INFO)] * 3
