"""Visible label: drawn only in its corner, opacity respected."""

from __future__ import annotations

import numpy as np
import pytest

from deepstudio.provenance.label import VisibleLabel


@pytest.mark.parametrize("corner", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_label_touches_only_its_corner(corner: str) -> None:
    frame = np.full((360, 640, 3), 128, dtype=np.uint8)
    out = VisibleLabel(640, 360, corner=corner).apply(frame)  # type: ignore[arg-type]
    changed = np.argwhere(np.any(out != frame, axis=2))
    assert len(changed) > 100
    cy, cx = changed.mean(axis=0)
    assert (cy < 180) == corner.startswith("top")
    assert (cx < 320) == corner.endswith("left")
    assert np.array_equal(frame, np.full_like(frame, 128))  # input untouched


def test_opacity_scales_the_change() -> None:
    frame = np.full((240, 320, 3), 100, dtype=np.uint8)
    faint = VisibleLabel(320, 240, "Synthetic", opacity=0.2).apply(frame)
    strong = VisibleLabel(320, 240, "Synthetic", opacity=1.0).apply(frame)
    diff_faint = np.abs(faint.astype(int) - frame).max()
    diff_strong = np.abs(strong.astype(int) - frame).max()
    assert 0 < diff_faint < diff_strong
    assert strong.max() >= 240  # full-opacity text is (anti-aliased) white


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        VisibleLabel(320, 240, "  ")
    with pytest.raises(ValueError):
        VisibleLabel(320, 240, opacity=0)
    with pytest.raises(ValueError):
        VisibleLabel(320, 240).apply(np.zeros((10, 10, 3), dtype=np.uint8))
