"""The peak of Python allocations while a call runs (tracemalloc): memory tests' one helper."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypeVar

T = TypeVar("T")


def peak_of(call: Callable[[], T]) -> tuple[T, int]:
    """What ``call()`` returned, and the peak bytes it had allocated at any one time."""
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def peak_writing(path: Path, call: Callable[[BinaryIO], T]) -> tuple[T, int]:
    """``peak_of`` for a call that writes into the file ``path`` (opened outside the count)."""
    with path.open("wb") as out:
        return peak_of(lambda: call(out))
