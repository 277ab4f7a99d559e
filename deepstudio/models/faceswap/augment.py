"""Training-sample augmentation in numpy/cv2 (runs on the CPU beside the network).

Each sample gets a random similarity transform (applied alike to face, mask and priority map),
a colour jitter (applied alike to input and target, so the network learns to keep the colour
it is shown), and a smooth random grid warp applied to the *input only*: the network learns to
undo the warp, i.e. to draw a clean face of its identity from a distorted one (DeepFaceLab's
trick that forces the shared encoder to code pose and expression rather than pixels).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentSettings:
    rotation_deg: float = 10.0
    scale: float = 0.05
    shift: float = 0.05
    warp: bool = True
    colour: bool = True
    flip: bool = False


def random_affine(rng: np.random.Generator, size: int, settings: AugmentSettings) -> np.ndarray:
    """2x3 similarity transform around the centre: small rotation, scale, shift (and flip)."""
    angle = rng.uniform(-settings.rotation_deg, settings.rotation_deg)
    scale = 1 + rng.uniform(-settings.scale, settings.scale)
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    matrix[:, 2] += rng.uniform(-settings.shift, settings.shift, 2) * size
    if settings.flip and rng.random() < 0.5:
        matrix[0] = -matrix[0]
        matrix[0, 2] += size
    return matrix


def random_warp_maps(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Smooth remap fields (map_x, map_y), float32 (size, size): identity plus offsets.

    The offsets are drawn on a coarse grid of 3-5 points a side (zero on its border, so the
    crop's edges stay put) and interpolated bicubically with the grid's corners on the crop's.
    """
    cells = int(rng.integers(3, 6))
    step = (size - 1) / (cells - 1)
    offsets = np.zeros((2, cells, cells), np.float32)
    offsets[:, 1:-1, 1:-1] = rng.normal(0, step * 0.24, (2, cells - 2, cells - 2))
    coarse = np.linspace(0, cells - 1, size, dtype=np.float32)
    at_x, at_y = np.meshgrid(coarse, coarse)
    pixels = np.arange(size, dtype=np.float32)
    grid_x, grid_y = np.meshgrid(pixels, pixels)
    return (grid_x + cv2.remap(offsets[0], at_x, at_y, cv2.INTER_CUBIC),
            grid_y + cv2.remap(offsets[1], at_x, at_y, cv2.INTER_CUBIC))


def colour_jitter(rng: np.random.Generator, images: list[np.ndarray]) -> list[np.ndarray]:
    """Same random gain per channel, contrast and gamma for every float [0, 1] image given."""
    gain = rng.uniform(0.85, 1.15, 3).astype(np.float32)
    contrast = np.float32(rng.uniform(0.8, 1.2))
    gamma = np.float32(rng.uniform(0.8, 1.25))
    out = []
    for image in images:
        x = np.clip(image * gain, 0, 1)
        x = np.clip((x - 0.5) * contrast + 0.5, 0, 1)
        out.append(np.power(x, gamma, dtype=np.float32))
    return out


def augment_sample(rng: np.random.Generator, face: np.ndarray, mask: np.ndarray,
                   priority: np.ndarray, settings: AugmentSettings
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One training sample: (input, target) float32 (S, S, 3), (mask, priority) float32 (S, S).

    ``face`` is uint8 (S, S, 3) RGB; ``mask`` and ``priority`` float32 (S, S) in [0, 1].
    """
    size = face.shape[0]
    matrix = random_affine(rng, size, settings)
    target = cv2.warpAffine(face, matrix, (size, size), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT101).astype(np.float32) / 255.0
    mask = cv2.warpAffine(mask, matrix, (size, size), flags=cv2.INTER_LINEAR)
    priority = cv2.warpAffine(priority, matrix, (size, size), flags=cv2.INTER_LINEAR)
    if settings.warp:
        map_x, map_y = random_warp_maps(rng, size)
        warped = cv2.remap(target, map_x, map_y, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT101)
    else:
        warped = target
    if settings.colour:
        warped, target = colour_jitter(rng, [warped, target])
    return warped, target, mask, priority


def augment_batch(rng: np.random.Generator, faces: np.ndarray, masks: np.ndarray,
                  priorities: np.ndarray, settings: AugmentSettings
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Batch version: inputs/targets (N, S, S, 3), masks/priorities (N, S, S), all float32."""
    samples = [augment_sample(rng, f, m, p, settings) for f, m, p in zip(faces, masks, priorities)]
    return tuple(np.stack(parts) for parts in zip(*samples))  # type: ignore[return-value]
