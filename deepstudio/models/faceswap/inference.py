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
from deepstudio.models.device import Compute, activation_bytes, as_compute, map_batches
from deepstudio.models.faceswap.networks import FaceSwapNet

DEFAULT_BATCH = 16
"""Faces per inference batch where device memory does not size it (the CPU)."""


def resize_faces(faces: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 (N, S, S, 3) RGB -> uint8 (N, R, R, 3), resized to the model's R."""
    faces = np.asarray(faces)
    if faces.ndim != 4 or faces.shape[3] != 3 or faces.shape[1] != faces.shape[2]:
        raise ValueError(f"faces must be (N, S, S, 3) uint8, not {faces.shape}")
    if faces.shape[1] == resolution:
        return faces
    if not len(faces):
        return faces[:, :resolution, :resolution]
    interp = cv2.INTER_AREA if faces.shape[1] > resolution else cv2.INTER_CUBIC
    return np.stack([cv2.resize(f, (resolution, resolution), interpolation=interp)
                     for f in faces])


def prepare_faces(faces: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 (N, S, S, 3) RGB -> float32 (N, 3, R, R) in [0, 1] (the ONNX graph's input)."""
    resized = resize_faces(faces, resolution)
    return np.ascontiguousarray(resized.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0


def outputs_to_images(face: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Network outputs float (N, 3, R, R), (N, 1, R, R) -> uint8 (N, R, R, 3), float32
    (N, R, R) in [0, 1]."""
    faces = np.clip(np.rint(face.transpose(0, 2, 3, 1) * 255), 0, 255).astype(np.uint8)
    return faces, np.clip(mask[:, 0], 0, 1).astype(np.float32)


def finish_faces(faces: np.ndarray, masks: np.ndarray,
                 size: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, R, R, 3) faces and float32 (N, R, R) masks resized to the callers' S."""
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
    """A loaded swap model: ``swap(faces, to_identity)`` on batches of aligned faces.

    ``device`` is a device name or a :class:`Compute` (precision, compile); ``batch_size``
    None sizes batches by the free device memory (:data:`DEFAULT_BATCH` on the CPU). A batch
    that runs out of device memory is split and retried.
    """

    def __init__(self, model_dir: str | Path, device: str | Compute = "auto",
                 batch_size: int | None = None) -> None:
        self.compute = as_compute(device)
        net, self.card = load_model(model_dir, self.compute)
        if not isinstance(net, FaceSwapNet):
            raise ValueError(f"{model_dir}: {self.card.architecture} is not a face-swap model")
        self.net = net
        self._forward = self.compute.compiled(net)
        self.batch_size = batch_size or self._memory_batch()

    @property
    def device(self) -> torch.device:
        return self.compute.device

    @property
    def identities(self) -> list[str]:
        return list(self.card.identities)

    @property
    def resolution(self) -> int:
        return self.net.resolution

    def _memory_batch(self) -> int:
        def per_face() -> int:
            r = self.resolution
            with self.compute.autocast():
                return activation_bytes(self.net, self.compute.images(torch.zeros(1, 3, r, r)),
                                        0)

        return self.compute.inference_batch(per_face, DEFAULT_BATCH)

    @torch.no_grad()
    def swap(self, faces: np.ndarray, to_identity: str | int) -> tuple[np.ndarray, np.ndarray]:
        """Render aligned faces as ``to_identity``.

        ``faces`` uint8 (N, S, S, 3) RGB, any S (resized to the model's resolution and back).
        Returns faces uint8 (N, S, S, 3) and masks float32 (N, S, S) in [0, 1].
        """
        index = identity_index(self.identities, to_identity)
        size = np.asarray(faces).shape[1] if np.asarray(faces).ndim == 4 else 0
        inputs = resize_faces(faces, self.resolution)

        def run(part: slice) -> tuple[np.ndarray, np.ndarray]:
            batch = self.compute.images_from_uint8(inputs[part])
            with self.compute.autocast():
                face, mask = self._forward(batch, index)
            face_u8 = face.float().clamp_(0, 1).mul_(255).round_().byte()
            return (face_u8.permute(0, 2, 3, 1).cpu().numpy(),
                    mask.float()[:, 0].clamp_(0, 1).cpu().numpy())

        parts, self.batch_size = map_batches(run, len(inputs), self.batch_size,
                                             self.compute.release_memory)
        if not parts:
            return np.zeros((0, size, size, 3), np.uint8), np.zeros((0, size, size), np.float32)
        return finish_faces(np.concatenate([p[0] for p in parts]),
                            np.concatenate([p[1] for p in parts]), size)
