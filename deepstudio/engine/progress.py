"""Combining progress of consecutive steps into one report."""

from __future__ import annotations

from deepstudio.types import Progress, ProgressCallback


def split_progress(report: ProgressCallback | None, first_share: float
                   ) -> tuple[ProgressCallback, ProgressCallback]:
    """Two callbacks mapping 0..1 of a first and a second step onto one 0..1 report."""
    target = report or (lambda p: None)

    def first(p: Progress) -> None:
        target(Progress(p.fraction * first_share, p.message, None, p.preview))

    def second(p: Progress) -> None:
        # The second step's own ETA is the whole remaining time: pass it through.
        target(Progress(first_share + p.fraction * (1 - first_share), p.message, p.eta_s,
                        p.preview))

    return first, second
