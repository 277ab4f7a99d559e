"""Where a render's time goes: seconds each stage kept its thread busy.

The render's stages run on overlapping threads, so the per-stage seconds add up to more than
the wall time; the largest one is the stage the others wait for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

class StageTimes:
    """A thread-safe accumulator of seconds per stage name.

    The render records ``decode``, ``effects``, ``watermark`` and ``encode``; model-based
    effects record their inference as ``model``, which is part of ``effects`` (the rest of
    it is alignment, masks, colour matching and pasting)."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self._seconds[stage] = self._seconds.get(stage, 0.0) + seconds

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - start)

    def timed(self, items: Iterable[T], stage: str) -> Iterator[T]:
        """``items`` with the time spent producing each one added to ``stage``."""
        iterator = iter(items)
        while True:
            start = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                self.add(stage, time.perf_counter() - start)
                return
            self.add(stage, time.perf_counter() - start)
            yield item

    def totals(self) -> dict[str, float]:
        with self._lock:
            return dict(self._seconds)
