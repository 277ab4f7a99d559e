"""Synthetic face-like training data and a tiny swap-model configuration (fast on a CPU)."""

from __future__ import annotations

import cv2
import numpy as np

from deepstudio.models.faceswap.trainer import IdentityData, TrainConfig

TINY_DIMS = {"e_ch": 8, "ae_dims": 32, "d_ch": 8}
TINY_CONFIG = TrainConfig(resolution=32, dims=TINY_DIMS, batch_size=4, seed=0,
                          checkpoint_every_s=1e9, preview_every_s=1e9)


def face_like(rng: np.random.Generator, n: int, tone: tuple[int, int, int]) -> IdentityData:
    """Ellipse 'faces' with dark eyes and a mouth opened 0-3 px at random offsets: cheap,
    structured images with a measured mouth opening."""
    size = 32
    faces = np.zeros((n, size, size, 3), np.uint8)
    masks = np.zeros((n, size, size), np.float32)
    opening = rng.integers(0, 4, n)
    for i in range(n):
        dx, dy = rng.integers(-2, 3, 2)
        cx, cy = 16 + int(dx), 16 + int(dy)
        faces[i] = rng.integers(0, 60, 3).astype(np.uint8)
        cv2.ellipse(faces[i], (cx, cy), (10, 13), 0, 0, 360, tone, -1)
        for ex in (-4, 4):
            cv2.circle(faces[i], (cx + ex, cy - 3), 2, (20, 20, 20), -1)
        cv2.ellipse(faces[i], (cx, cy + 6), (4, int(opening[i])), 0, 0, 360, (90, 10, 10), -1)
        cv2.ellipse(masks[i], (cx, cy), (10, 13), 0, 0, 360, 1.0, -1)
    priorities = np.zeros_like(masks)
    priorities[:, 10:26, 8:24] = 1.0
    return IdentityData("a" if tone[0] > 150 else "b", faces, masks, priorities,
                        (opening / 26).astype(np.float32))


def face_like_identities(seed: int = 1, per_identity: int = 8) -> list[IdentityData]:
    """Two people, light and dark, ``per_identity`` faces each."""
    rng = np.random.default_rng(seed)
    return [face_like(rng, per_identity, (220, 180, 150)),
            face_like(rng, per_identity, (120, 90, 70))]
