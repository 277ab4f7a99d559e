"""Shot-cut detection from colour histograms of a tiny copy of each frame.

A hard cut changes the colour distribution of the whole picture at once; motion inside a
shot mostly moves colours around. Each frame is shrunk to 64x36 (area average, so noise
and small motion wash out), converted to HSV and binned 8x4x4; a cut is declared where the
total-variation distance between consecutive histograms is both large in absolute terms and
several times the recent typical distance (so a shaky or flickering shot does not fire).
Costs well under a millisecond per frame.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

from deepstudio.types import Frame

THUMB_SIZE = (64, 36)
BINS = (8, 4, 4)
MIN_DISTANCE = 0.2
"""Total-variation distance (0 same, 1 disjoint) a cut must reach."""
MIN_RATIO = 4.0
"""...and how many times the median of the recent distances."""
HISTORY = 15
MIN_SHOT_FRAMES = 3
"""Cuts closer than this to the previous one are ignored (flashes, dissolve steps)."""


def colour_histogram(frame: Frame) -> np.ndarray:
    """Normalised HSV histogram (sums to 1) of an RGB frame, as a flat float32 array."""
    # Subsample by striding first, each axis to about twice the thumbnail: area-resizing a
    # full frame costs more than the rest (one step for both axes left a portrait 720x1280
    # frame at 144x256, 0.47 ms a frame).
    step_y = max(1, frame.shape[0] // (2 * THUMB_SIZE[1]))
    step_x = max(1, frame.shape[1] // (2 * THUMB_SIZE[0]))
    small = cv2.resize(frame[::step_y, ::step_x], THUMB_SIZE, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, list(BINS), [0, 180, 0, 256, 0, 256]).ravel()
    return hist / max(float(hist.sum()), 1.0)


class ShotDetector:
    """Feed frames in order; :meth:`update` says whether a new shot starts at this frame."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None
        self._recent: deque[float] = deque(maxlen=HISTORY)
        self._since_cut = 0

    def update(self, frame: Frame) -> bool:
        return self.update_histogram(colour_histogram(frame))

    def update_histogram(self, hist: np.ndarray) -> bool:
        """:meth:`update` for a histogram already made by :func:`colour_histogram` (the
        analysis computes it on its decode thread, beside MediaPipe)."""
        previous, self._previous = self._previous, hist
        self._since_cut += 1
        if previous is None:
            return False
        distance = 0.5 * float(np.abs(hist - previous).sum())
        typical = float(np.median(self._recent)) if self._recent else 0.0
        self._recent.append(distance)
        is_cut = (distance >= MIN_DISTANCE and distance >= MIN_RATIO * typical
                  and self._since_cut >= MIN_SHOT_FRAMES)
        if is_cut:
            self._since_cut = 0
            self._recent.clear()
        return is_cut
