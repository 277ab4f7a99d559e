"""numpy RGB frames to QImage/QPixmap (the array is copied, so it may be reused at once)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def qimage_from_rgb(frame: np.ndarray) -> QImage:
    """A QImage owning a copy of an (H, W, 3) uint8 RGB array."""
    frame = np.ascontiguousarray(frame)
    h, w = frame.shape[:2]
    image = QImage(frame.data, w, h, frame.strides[0], QImage.Format.Format_RGB888)
    return image.copy()
