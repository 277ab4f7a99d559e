"""Shared vocabulary: ids, frame indices, boxes, landmarks and progress reports."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NewType

import numpy as np

FrameIndex = int
"""Zero-based index of a frame in a media file (after rotation and CFR conforming)."""

Id = NewType("Id", str)
"""A stable opaque id (media, clips, tracks, effects, face tracks, identities, models, jobs)."""

Landmarks = np.ndarray
"""float32 array (N, 3): x, y in pixels of the frame, z in the same scale (mediapipe)."""

Frame = np.ndarray
"""uint8 array (H, W, 3) in RGB order."""


def new_id(prefix: str) -> Id:
    """A fresh id such as ``clip-3f9a1c2b7d4e``; the prefix says what it names."""
    return Id(f"{prefix}-{uuid.uuid4().hex[:12]}")


@dataclass(frozen=True)
class BBox:
    """Axis-aligned box in pixels: left, top, right, bottom (right/bottom exclusive)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2)

    def iou(self, other: BBox) -> float:
        ix = max(0.0, min(self.x1, other.x1) - max(self.x0, other.x0))
        iy = max(0.0, min(self.y1, other.y1) - max(self.y0, other.y0))
        inter = ix * iy
        union = self.width * self.height + other.width * other.height - inter
        return inter / union if union > 0 else 0.0

    def to_list(self) -> list[float]:
        return [self.x0, self.y0, self.x1, self.y1]

    @classmethod
    def from_points(cls, points: np.ndarray) -> BBox:
        return cls(float(points[:, 0].min()), float(points[:, 1].min()),
                   float(points[:, 0].max()), float(points[:, 1].max()))


@dataclass(frozen=True)
class Progress:
    """One progress report of a long operation."""

    fraction: float
    message: str = ""
    eta_s: float | None = None
    preview: np.ndarray | None = None


@dataclass(frozen=True)
class TrainProgress(Progress):
    """Progress of training, with the figures a training view shows."""

    iteration: int = 0
    total_iterations: int = 0
    iters_per_s: float = 0.0
    batch_size: int = 0
    losses: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainResult:
    """How a training job ended: stopped early (``cancelled``, checkpoint saved) or done."""

    model_dir: Path
    iterations: int
    cancelled: bool
    batch_size: int
    losses: dict[str, float]


ProgressCallback = Callable[[Progress], None]
"""Receives progress; raising :class:`deepstudio.errors.Cancelled` from it cancels the work."""
