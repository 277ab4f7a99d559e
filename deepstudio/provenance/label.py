"""Visible disclosure label drawn onto RGB frames (prerendered once, alpha-blended per frame)."""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]
DEFAULT_TEXT = "AI-modified"


class VisibleLabel:
    """A text badge (white text on a dark rounded box) for frames of one size."""

    def __init__(self, width: int, height: int, text: str = DEFAULT_TEXT,
                 corner: Corner = "bottom-right", opacity: float = 0.8,
                 scale: float | None = None) -> None:
        if not text.strip():
            raise ValueError("label text must not be empty")
        if not 0.0 < opacity <= 1.0:
            raise ValueError("opacity must be in (0, 1]")
        self.width, self.height = width, height
        font_scale = scale if scale is not None else max(0.4, min(width, height) / 900)
        thickness = max(1, round(font_scale * 2))
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        pad = max(4, th // 2)
        bw, bh = min(width, tw + 2 * pad), min(height, th + base + 2 * pad)
        badge = np.zeros((bh, bw, 3), dtype=np.uint8)
        alpha = np.full((bh, bw), 0.55, dtype=np.float32)
        cv2.putText(badge, text, (pad, pad + th), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                    (255, 255, 255), thickness, cv2.LINE_AA)
        alpha = np.maximum(alpha, badge[..., 0].astype(np.float32) / 255.0) * opacity
        margin = max(2, min(width, height) // 40)
        x = margin if corner.endswith("left") else max(0, width - bw - margin)
        y = margin if corner.startswith("top") else max(0, height - bh - margin)
        self._box = (slice(y, y + bh), slice(x, x + bw))
        self._alpha = alpha[..., None]
        self._badge = badge.astype(np.float32) * self._alpha

    def apply(self, frame_rgb: np.ndarray) -> np.ndarray:
        """A copy of the frame with the label blended in (only the badge area is touched)."""
        if frame_rgb.shape != (self.height, self.width, 3):
            raise ValueError(f"expected frame of shape {(self.height, self.width, 3)}")
        out = frame_rgb.copy()
        region = out[self._box].astype(np.float32)
        out[self._box] = np.clip(region * (1.0 - self._alpha) + self._badge, 0, 255).astype(
            np.uint8)
        return out
