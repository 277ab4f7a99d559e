"""Drawing face analysis over frames: boxes, landmarks, track ids and masks.

Used by the debug effect (burnt into renders) and by the preview overlays. The landmark layer
shows the points that outline the face, brows, eyes, irises, nose and lips
(:data:`~deepstudio.vision.facemesh.FEATURE_POINTS`), as a 68-point debugger would: all 478
mesh points covered a small face in dots (on a 256-px frame they hid the skin, and x264 coded
the render 2.8x the size of a plain transcode of it; with the outline points, 1.9x). Dots are
set with numpy indexing instead of one cv2.circle per point, which would cost more than the
rest of the preview at 60 fps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from deepstudio.vision.align import face_mask
from deepstudio.vision.facemesh import FEATURE_POINTS

_FEATURES = np.array(FEATURE_POINTS, dtype=np.intp)

TRACK_COLOURS = np.array([
    (255, 196, 0), (0, 200, 255), (255, 64, 129), (118, 255, 3), (213, 0, 249),
    (255, 145, 0), (29, 233, 182), (255, 234, 0),
], dtype=np.uint8)


@dataclass(frozen=True)
class Overlays:
    """Which analysis layers to draw."""

    boxes: bool = True
    landmarks: bool = True
    ids: bool = True
    masks: bool = False
    line_width: int = 2

    @property
    def any(self) -> bool:
        return self.boxes or self.landmarks or self.ids or self.masks


def track_colour(track_id: int) -> tuple[int, int, int]:
    r, g, b = TRACK_COLOURS[track_id % len(TRACK_COLOURS)]
    return int(r), int(g), int(b)


def draw_faces(frame: np.ndarray, faces: Sequence, overlays: Overlays) -> np.ndarray:
    """Draw ``faces`` (objects with track_id, landmarks, bbox) onto ``frame`` in place."""
    h, w = frame.shape[:2]
    for face in faces:
        colour = track_colour(face.track_id)
        if overlays.masks:
            mask = face_mask(face.landmarks, frame.shape, feather_px=6.0)
            tint = np.array(colour, np.float32)
            alpha = (mask * 0.35)[..., None]
            frame[:] = (frame * (1 - alpha) + tint * alpha).astype(np.uint8)
        if overlays.landmarks:
            pts = np.rint(face.landmarks[_FEATURES, :2]).astype(np.intp)
            inside = (pts[:, 0] >= 0) & (pts[:, 0] < w - 1) & (pts[:, 1] >= 0) & (pts[:, 1] < h - 1)
            xs, ys = pts[inside, 0], pts[inside, 1]
            # 2x2 px dots in one indexed write (four writes held the GIL 4x as long)
            frame[np.concatenate((ys, ys, ys + 1, ys + 1)),
                  np.concatenate((xs, xs + 1, xs, xs + 1))] = colour
        x0, y0, x1, y1 = (round(v) for v in _box(face))
        if overlays.boxes:
            cv2.rectangle(frame, (x0, y0), (x1, y1), colour, overlays.line_width, cv2.LINE_AA)
        if overlays.ids:
            label = f"#{face.track_id}"
            scale = max(0.5, (x1 - x0) / 250)
            (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
            top = max(0, y0 - th - 8)
            cv2.rectangle(frame, (x0, top), (x0 + tw + 8, top + th + 8), colour, -1)
            cv2.putText(frame, label, (x0 + 4, top + th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        (0, 0, 0), 2, cv2.LINE_AA)
    return frame


def _box(face) -> tuple[float, float, float, float]:
    box = face.bbox
    if hasattr(box, "to_list"):
        return tuple(box.to_list())
    return tuple(float(v) for v in box)
