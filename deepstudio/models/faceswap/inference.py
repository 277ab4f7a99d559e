"""Apply a trained swap model to batches of aligned faces.

Callers (the render pipeline, previews) align faces with ``deepstudio.vision.align``, call
:meth:`FaceSwapper.swap` once per batch of frames, and paste the result back with the mask.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from deepstudio.models.checkpoint import load_model
from deepstudio.models.device import autocast, pick_device, place_images, place_module
from deepstudio.models.faceswap.networks import FaceSwapNet

DEFAULT_BATCH = 16


def prepare_faces(faces: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 (N, S, S, 3) RGB -> float32 (N, 3, R, R) in [0, 1], resized to the model's R."""
    faces = np.asarray(faces)
    if faces.ndim != 4 or faces.shape[3] != 3 or faces.shape[1] != faces.shape[2]:
        raise ValueError(f"faces must be (N, S, S, 3) uint8, not {faces.shape}")
    if faces.shape[1] != resolution:
        interp = cv2.INTER_AREA if faces.shape[1] > resolution else cv2.INTER_CUBIC
        faces = np.stack([cv2.resize(f, (resolution, resolution), interpolation=interp)
                          for f in faces]) if len(faces) else faces[:, :resolution, :resolution]
    return np.ascontiguousarray(faces.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0


def finish_faces(face: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Network outputs (N, 3, R, R), (N, 1, R, R) -> uint8 (N, S, S, 3), float32 (N, S, S)."""
    faces = np.clip(np.rint(face.transpose(0, 2, 3, 1) * 255), 0, 255).astype(np.uint8)
    masks = np.clip(mask[:, 0], 0, 1).astype(np.float32)
    if faces.shape[1] != size:
        faces = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_CUBIC)
                          for f in faces]) if len(faces) else faces.reshape(0, size, size, 3)
        masks = np.stack([cv2.resize(m, (size, size), interpolation=cv2.INTER_LINEAR)
                          for m in masks]) if len(masks) else masks.reshape(0, size, size)
    return faces, masks


def identity_index(identities: list[str], identity: str | int) -> int:
    """Index of an identity given by name or index; ValueError when the model lacks it."""
    if isinstance(identity, int) and 0 <= identity < len(identities):
        return identity
    if isinstance(identity, str) and identity in identities:
        return identities.index(identity)
    raise ValueError(f"identity {identity!r} is not in this model ({', '.join(identities)})")


class FaceSwapper:
    """A loaded swap model: ``swap(faces, to_identity)`` on batches of aligned faces."""

    def __init__(self, model_dir: str | Path, device: str = "auto",
                 batch_size: int = DEFAULT_BATCH) -> None:
        self.device = pick_device(device)
        net, self.card = load_model(model_dir)
        if not isinstance(net, FaceSwapNet):
            raise ValueError(f"{model_dir}: {self.card.architecture} is not a face-swap model")
        self.net = place_module(net, self.device).eval()
        self.batch_size = batch_size

    @property
    def identities(self) -> list[str]:
        return list(self.card.identities)

    @property
    def resolution(self) -> int:
        return self.net.resolution

    @torch.no_grad()
    def swap(self, faces: np.ndarray, to_identity: str | int) -> tuple[np.ndarray, np.ndarray]:
        """Render aligned faces as ``to_identity``.

        ``faces`` uint8 (N, S, S, 3) RGB, any S (resized to the model's resolution and back).
        Returns faces uint8 (N, S, S, 3) and masks float32 (N, S, S) in [0, 1].
        """
        index = identity_index(self.identities, to_identity)
        size = np.asarray(faces).shape[1] if np.asarray(faces).ndim == 4 else 0
        inputs = prepare_faces(faces, self.resolution)
        out_faces, out_masks = [], []
        for start in range(0, len(inputs), self.batch_size):
            batch = place_images(torch.from_numpy(inputs[start:start + self.batch_size]),
                                 self.device)
            with autocast(self.device):
                face, mask = self.net(batch, index)
            out_faces.append(face.float().cpu().numpy())
            out_masks.append(mask.float().cpu().numpy())
        if not out_faces:
            return np.zeros((0, size, size, 3), np.uint8), np.zeros((0, size, size), np.float32)
        return finish_faces(np.concatenate(out_faces), np.concatenate(out_masks), size)
