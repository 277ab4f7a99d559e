"""Compositing a generated face (or mouth) back into a frame: colour match, masks, blending.

Shared by the face-swap and lip-sync effects. All functions work on aligned crops (uint8 RGB,
size x size) and float32 masks in [0, 1] of the same size.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from deepstudio.vision.align import paste_back

ColourMode = Literal["none", "reinhard", "histogram"]
BlendMode = Literal["feather", "poisson"]


def _masked(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    inside = mask > 0.5
    return values[inside] if inside.any() else values.reshape(-1, values.shape[-1])


def reinhard_transfer(face: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Match the mean and spread of ``face``'s L*a*b* colours to ``reference`` inside the mask
    (Reinhard et al. 2001)."""
    src = cv2.cvtColor(face, cv2.COLOR_RGB2LAB).astype(np.float32)
    ref = cv2.cvtColor(reference, cv2.COLOR_RGB2LAB).astype(np.float32)
    s, r = _masked(src, mask), _masked(ref, mask)
    scale = (r.std(axis=0) + 1e-3) / (s.std(axis=0) + 1e-3)
    out = (src - s.mean(axis=0)) * np.clip(scale, 0.5, 2.0) + r.mean(axis=0)
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def histogram_transfer(face: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Match each RGB channel's histogram inside the mask to the reference's."""
    out = face.copy()
    for c in range(3):
        s = _masked(face[..., c:c + 1], mask)[:, 0]
        r = _masked(reference[..., c:c + 1], mask)[:, 0]
        s_cdf = np.cumsum(np.bincount(s, minlength=256)).astype(np.float64)
        r_cdf = np.cumsum(np.bincount(r, minlength=256)).astype(np.float64)
        s_cdf /= s_cdf[-1]
        r_cdf /= r_cdf[-1]
        lut = np.interp(s_cdf, r_cdf, np.arange(256)).astype(np.uint8)
        out[..., c] = lut[face[..., c]]
    return out


def colour_transfer(face: np.ndarray, reference: np.ndarray, mask: np.ndarray,
                    mode: ColourMode) -> np.ndarray:
    if mode == "reinhard":
        return reinhard_transfer(face, reference, mask)
    if mode == "histogram":
        return histogram_transfer(face, reference, mask)
    return face


def refine_mask(mask: np.ndarray, erode_px: int, blur_px: int) -> np.ndarray:
    """Shrink (positive) or grow (negative) the mask by ``erode_px`` and soften its edge."""
    out = mask.astype(np.float32)
    if erode_px:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(erode_px) + 1,) * 2)
        out = cv2.erode(out, k) if erode_px > 0 else cv2.dilate(out, k)
    if blur_px > 0:
        out = cv2.GaussianBlur(out, (0, 0), blur_px / 2)
    return np.clip(out, 0, 1)


def occluder_mask(crop: np.ndarray, face_mask: np.ndarray, keep_out: np.ndarray,
                  threshold: float = 3.5) -> np.ndarray:
    """1 where a pixel inside the face looks like the face, 0 where something in front of it
    (a microphone, a dark sleeve) does.

    The face's colour is modelled by the median and spread (MAD) of its L*a*b* values; pixels
    more than ``threshold`` spreads away count as occluders, except inside ``keep_out`` (eyes,
    brows, lips, nostrils, which are meant to differ from skin). A heuristic: a hand in front
    of the face has skin colour and is not caught.
    """
    lab = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB).astype(np.float32)
    skin = (face_mask > 0.9) & (keep_out < 0.5)
    if skin.sum() < 50:
        return np.ones(face_mask.shape, np.float32)
    values = lab[skin]
    median = np.median(values, axis=0)
    spread = np.median(np.abs(values - median), axis=0) * 1.4826 + 2.0
    distance = np.sqrt((((lab - median) / spread) ** 2).sum(axis=2))
    occluded = (distance > threshold) & (keep_out < 0.5)
    occluded = cv2.morphologyEx(occluded.astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5),
                                np.uint8))
    keep = 1.0 - cv2.GaussianBlur(occluded.astype(np.float32), (0, 0), 2.0)
    return np.clip(keep, 0, 1)


def paste_face(frame: np.ndarray, face: np.ndarray, mask: np.ndarray, inverse: np.ndarray,
               blend: BlendMode = "feather") -> np.ndarray:
    """The frame with ``face`` (a crop) pasted through ``inverse`` (crop -> frame)."""
    if blend == "poisson" and (mask > 0.5).sum() > 16:
        return _poisson(frame, face, mask, inverse)
    return paste_back(frame, face, inverse, mask)


def _poisson(frame: np.ndarray, face: np.ndarray, mask: np.ndarray,
             inverse: np.ndarray) -> np.ndarray:
    """Seamless (Poisson) cloning of the face region, then the feathered mask on top so the
    clone's edge never shows."""
    h, w = frame.shape[:2]
    warped = cv2.warpAffine(face, inverse, (w, h), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    region = cv2.warpAffine((mask > 0.5).astype(np.uint8) * 255, inverse, (w, h),
                            flags=cv2.INTER_NEAREST)
    ys, xs = np.nonzero(region)
    if len(xs) == 0 or xs.min() <= 1 or ys.min() <= 1 or xs.max() >= w - 2 or ys.max() >= h - 2:
        return paste_back(frame, face, inverse, mask)  # seamlessClone needs room at the edges
    centre = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
    cloned = cv2.seamlessClone(warped, frame, region, centre, cv2.NORMAL_CLONE)
    alpha = cv2.warpAffine(mask.astype(np.float32), inverse, (w, h), flags=cv2.INTER_LINEAR)
    return (frame * (1 - alpha[..., None]) + cloned * alpha[..., None]).astype(np.uint8)
