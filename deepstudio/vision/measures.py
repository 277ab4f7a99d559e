"""Per-face measurements from FaceMesh landmarks: mouth and eye openness, head pose.

Used by the quality evaluations (expression fidelity, lip-sync) and by faceset filtering.
Openness values are normalised by the face height, so they compare across shots and sizes.
"""

from __future__ import annotations

import numpy as np

from deepstudio.vision import facemesh as fm

RIGHT_EYE_LIDS = (159, 145)
LEFT_EYE_LIDS = (386, 374)


def face_height(landmarks: np.ndarray) -> float:
    return float(np.linalg.norm(landmarks[fm.CHIN, :2] - landmarks[fm.FACE_OVAL[0], :2])) or 1.0


def mouth_openness(landmarks: np.ndarray) -> float:
    """Gap between the inner lips over the face height (0 closed, ~0.15 wide open)."""
    gap = np.linalg.norm(landmarks[fm.LOWER_LIP_INNER, :2] - landmarks[fm.UPPER_LIP_INNER, :2])
    return float(gap) / face_height(landmarks)


def mouth_openings(landmark_stack) -> np.ndarray:
    """:func:`mouth_openness` of each face of a sequence of landmark arrays, float32."""
    return np.array([mouth_openness(points) for points in landmark_stack], dtype=np.float32)


def standardised(values: np.ndarray) -> np.ndarray:
    """``values`` minus their mean over their standard deviation (1 where they are constant),
    float32: how open a mouth is for this person or this footage."""
    return ((values - values.mean()) / (values.std() or 1.0)).astype(np.float32)


def eye_openness(landmarks: np.ndarray) -> float:
    """Mean lid gap over eye width of both eyes (0 closed, ~0.3 open)."""
    values = []
    for (top, bottom), (a, b) in ((RIGHT_EYE_LIDS, (fm.RIGHT_EYE_OUTER, fm.RIGHT_EYE_INNER)),
                                  (LEFT_EYE_LIDS, (fm.LEFT_EYE_OUTER, fm.LEFT_EYE_INNER))):
        width = np.linalg.norm(landmarks[a, :2] - landmarks[b, :2]) or 1.0
        values.append(np.linalg.norm(landmarks[top, :2] - landmarks[bottom, :2]) / width)
    return float(np.mean(values))


def head_pose(landmarks: np.ndarray) -> tuple[float, float, float]:
    """Rough (yaw, pitch, roll) in degrees from FaceMesh 3D landmarks; 0, 0, 0 is frontal.

    Head axes: x from the right to the left outer eye corner, y from forehead to chin made
    orthogonal to x; yaw and pitch are how far those axes tilt into depth, roll is the eye
    line's angle in the image.
    """
    points = np.asarray(landmarks, dtype=np.float64)
    x_axis = points[fm.LEFT_EYE_OUTER] - points[fm.RIGHT_EYE_OUTER]
    x_axis /= np.linalg.norm(x_axis)
    y_axis = points[fm.CHIN] - points[fm.FACE_OVAL[0]]
    y_axis -= x_axis * (y_axis @ x_axis)
    y_axis /= np.linalg.norm(y_axis)
    yaw = np.degrees(np.arcsin(np.clip(x_axis[2], -1, 1)))
    pitch = np.degrees(np.arcsin(np.clip(y_axis[2], -1, 1)))
    roll = np.degrees(np.arctan2(x_axis[1], x_axis[0]))
    return float(yaw), float(pitch), float(roll)
