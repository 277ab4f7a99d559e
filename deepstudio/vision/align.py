"""Face alignment to a canonical template, face masks, and pasting back.

Template: mean positions of nine stable FaceMesh landmarks (eye corners, top of the nose
bridge, nose tip, mouth corners, chin). It was derived by averaging 76 static-mode FaceMesh
detections (the testdata photos and 10 frames from each of seven talking-head clips) with
generalised Procrustes analysis on those nine points, then made exactly left/right symmetric
(averaged with its mirror image) and levelled so the eye line is horizontal. Units: the
crop is [0, 1]²; the mean face-oval box (forehead landmark 10 to chin) has its longer side
(the height) equal to 1 and is centred in the crop. ``coverage`` shrinks this around the
centre: with coverage 0.8 the face oval fills 80 % of the crop side.
``tests/vision/test_align.py`` re-derives the template from clips and checks it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deepstudio.vision import facemesh as fm

TEMPLATE_INDICES = (fm.RIGHT_EYE_OUTER, fm.RIGHT_EYE_INNER, fm.LEFT_EYE_INNER,
                    fm.LEFT_EYE_OUTER, fm.NOSE_BRIDGE[0], fm.NOSE_TIP, fm.MOUTH_RIGHT,
                    fm.MOUTH_LEFT, fm.CHIN)
"""Landmarks used to fit the alignment, in the order of :data:`TEMPLATE`."""

TEMPLATE = np.array([
    [0.2377, 0.3136], [0.3966, 0.3204], [0.6034, 0.3204], [0.7623, 0.3136],
    [0.5000, 0.2841], [0.5000, 0.5436], [0.3487, 0.7316], [0.6513, 0.7316],
    [0.5000, 1.0000],
], dtype=np.float64)
"""Canonical (x, y) of :data:`TEMPLATE_INDICES` at coverage 1 in a unit crop."""

DEFAULT_COVERAGE = 0.8

REGIONS = {
    "face": fm.FACE_OVAL,
    "mouth": fm.LIPS_OUTER,
    "lower_face": (*fm.JAW, fm.NOSE_BRIDGE[3]),
}
"""Landmark sets whose convex hull defines a mask region. ``lower_face`` spans from ear to
ear across the middle of the nose down to the chin (what lip-sync regenerates)."""


@dataclass(frozen=True)
class AlignedFace:
    """A square face crop and the affine maps between frame and crop pixel coordinates."""

    image: np.ndarray
    matrix: np.ndarray
    """2x3 float64, frame -> crop."""
    inverse: np.ndarray
    """2x3 float64, crop -> frame (the exact inverse of ``matrix``)."""


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (rotation, uniform scale, translation) src -> dst.

    Umeyama (1991), without reflection. ``src`` and ``dst`` are (N, 2); returns 2x3.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    signs = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        signs[1] = -1.0
    rotation = (u * signs) @ vt
    variance = (src_c ** 2).sum() / len(src)
    scale = float((singular * signs).sum() / variance) if variance > 0 else 1.0
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def template_points(size: int, coverage: float = DEFAULT_COVERAGE) -> np.ndarray:
    """The template in pixel coordinates of a ``size`` x ``size`` crop."""
    return ((TEMPLATE - 0.5) * coverage + 0.5) * size


def alignment_matrix(landmarks: np.ndarray, size: int,
                     coverage: float = DEFAULT_COVERAGE) -> np.ndarray:
    """2x3 similarity frame -> crop that puts the face on the template."""
    points = np.asarray(landmarks)[list(TEMPLATE_INDICES), :2]
    return umeyama(points, template_points(size, coverage))


def align_face(frame: np.ndarray, landmarks: np.ndarray, size: int,
               coverage: float = DEFAULT_COVERAGE) -> AlignedFace:
    """Crop the face of ``landmarks`` (478, 2 or 3) out of ``frame`` as size x size."""
    matrix = alignment_matrix(landmarks, size, coverage)
    image = cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    return AlignedFace(image, matrix, cv2.invertAffineTransform(matrix))


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 similarity to (N, 2) or (N, 3) points; z is scaled like x and y."""
    points = np.asarray(points)
    out = points.astype(np.float32, copy=True)
    out[:, :2] = points[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    if points.shape[1] > 2:
        out[:, 2:] *= np.sqrt(abs(np.linalg.det(matrix[:, :2])))
    return out


def face_mask(landmarks: np.ndarray, shape: tuple[int, ...], feather_px: float = 8.0,
              erode_px: float = 0.0) -> np.ndarray:
    """Float32 (H, W) mask of the face-oval hull: 1 inside, 0 outside.

    The edge is first moved inwards by ``erode_px`` (negative grows it), then ramps linearly
    from 0 at that edge to 1 at ``feather_px`` further inside, so nothing outside the
    (eroded) hull is ever touched and the ramp decreases monotonically towards the edge.
    """
    return region_mask(landmarks, shape, "face", feather_px, erode_px)


def region_mask(landmarks: np.ndarray, shape: tuple[int, ...], region: str,
                feather_px: float = 8.0, erode_px: float = 0.0) -> np.ndarray:
    """Like :func:`face_mask` for a named region of :data:`REGIONS`."""
    points = np.asarray(landmarks)[list(REGIONS[region]), :2]
    return hull_mask(points, shape, feather_px, erode_px)


def hull_mask(points: np.ndarray, shape: tuple[int, ...], feather_px: float,
              erode_px: float) -> np.ndarray:
    """Feathered mask of the convex hull of (N, 2) pixel points (see :func:`face_mask`)."""
    height, width = shape[:2]
    mask = np.zeros((height, width), dtype=np.float32)
    margin = int(np.ceil(max(0.0, -erode_px))) + 2
    x0 = max(int(np.floor(points[:, 0].min())) - margin, 0)
    y0 = max(int(np.floor(points[:, 1].min())) - margin, 0)
    x1 = min(int(np.ceil(points[:, 0].max())) + margin + 1, width)
    y1 = min(int(np.ceil(points[:, 1].max())) + margin + 1, height)
    if x1 <= x0 or y1 <= y0:
        return mask
    inside = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    hull = cv2.convexHull(np.round(points - (x0, y0)).astype(np.int32))
    cv2.fillConvexPoly(inside, hull, 1)
    # Signed distance to the hull edge (positive inside), measured within the region box.
    signed = (cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
              - cv2.distanceTransform(1 - inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE))
    ramp = signed - erode_px
    if feather_px > 0:
        roi = np.clip(ramp / feather_px, 0.0, 1.0)
    else:
        roi = (ramp > 0).astype(np.float32)
    mask[y0:y1, x0:x1] = roi
    return mask


def paste_back(frame: np.ndarray, face_img: np.ndarray, inverse_matrix: np.ndarray,
               mask: np.ndarray) -> np.ndarray:
    """Blend a crop back into a copy of ``frame`` through the crop -> frame matrix.

    ``mask`` is float in [0, 1], either frame-sized (H, W) (e.g. from :func:`face_mask`) or
    crop-sized (a mask predicted in crop space, warped along with the image). Only the box
    the crop lands in is warped and blended.
    """
    height, width = frame.shape[:2]
    size_y, size_x = face_img.shape[:2]
    corners = np.array([[0, 0], [size_x, 0], [0, size_y], [size_x, size_y]], dtype=np.float64)
    landed = corners @ inverse_matrix[:, :2].T + inverse_matrix[:, 2]
    x0, y0 = np.maximum(np.floor(landed.min(axis=0)).astype(int) - 1, 0)
    x1 = min(int(np.ceil(landed[:, 0].max())) + 2, width)
    y1 = min(int(np.ceil(landed[:, 1].max())) + 2, height)
    out = frame.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    to_roi = inverse_matrix.copy()
    to_roi[:, 2] -= (x0, y0)
    roi_size = (x1 - x0, y1 - y0)
    warped = cv2.warpAffine(face_img, to_roi, roi_size, flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    if mask.shape[:2] == (height, width):
        alpha = mask[y0:y1, x0:x1]
    else:
        alpha = cv2.warpAffine(mask.astype(np.float32), to_roi, roi_size,
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    # Where the frame box reaches past the rotated crop there is nothing to paste.
    inside_crop = cv2.warpAffine(np.ones((size_y, size_x), np.float32), to_roi, roi_size,
                                 flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    alpha = (alpha.astype(np.float32) * inside_crop)[..., None]
    region = out[y0:y1, x0:x1].astype(np.float32)
    blended = region + (warped.astype(np.float32) - region) * alpha
    out[y0:y1, x0:x1] = np.clip(np.rint(blended), 0, 255).astype(frame.dtype)
    return out
