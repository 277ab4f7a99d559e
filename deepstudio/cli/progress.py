"""A terminal progress bar for long commands (silent with --quiet)."""

from __future__ import annotations

import sys
import time

from deepstudio.types import Progress


class ProgressBar:
    """A progress callback that draws ``title [#####-----] 50% message ETA`` on stderr.

    On a terminal it redraws one line; in a log (not a TTY) it prints a line every 10 %.
    """

    def __init__(self, title: str, quiet: bool = False) -> None:
        self.title = title
        self.quiet = quiet
        self._tty = sys.stderr.isatty()
        self._last_draw = 0.0
        self._last_decile = -1
        self._started = time.monotonic()

    def __call__(self, progress: Progress) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        fraction = max(0.0, min(1.0, progress.fraction))
        if self._tty:
            if now - self._last_draw < 0.1 and fraction < 1.0:
                return
            self._last_draw = now
            filled = int(fraction * 30)
            eta = self._eta(fraction, progress.eta_s)
            line = (f"\r{self.title} [{'#' * filled}{'-' * (30 - filled)}] {fraction:4.0%} "
                    f"{progress.message[:40]:40s} {eta}")
            sys.stderr.write(line)
            sys.stderr.flush()
        else:
            decile = int(fraction * 10)
            if decile > self._last_decile:
                self._last_decile = decile
                print(f"{self.title}: {fraction:.0%} {progress.message}", file=sys.stderr)

    def _eta(self, fraction: float, eta_s: float | None) -> str:
        if eta_s is None and fraction > 0.02:
            eta_s = (time.monotonic() - self._started) * (1 - fraction) / fraction
        return f"ETA {eta_s:5.0f}s" if eta_s is not None else ""

    def done(self) -> None:
        if not self.quiet and self._tty:
            sys.stderr.write("\n")
            sys.stderr.flush()
