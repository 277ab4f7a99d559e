"""Combining progress of consecutive steps into one report."""

from __future__ import annotations

from dataclasses import replace

from deepstudio.types import Progress, ProgressCallback


def split_progress(report: ProgressCallback | None, first_share: float
                   ) -> tuple[ProgressCallback, ProgressCallback]:
    """Two callbacks mapping 0..1 of a first and a second step onto one 0..1 report (other
    fields, such as a training step's figures, pass through)."""
    target = report or (lambda p: None)

    def first(p: Progress) -> None:
        target(replace(p, fraction=p.fraction * first_share, eta_s=None))

    def second(p: Progress) -> None:
        # The second step's own ETA is the whole remaining time: pass it through.
        target(replace(p, fraction=first_share + p.fraction * (1 - first_share)))

    return first, second
