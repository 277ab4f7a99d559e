"""Running a lip-sync generator on aligned faces: a model folder or an original Wav2Lip file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from deepstudio.errors import ModelFileError
from deepstudio.models.checkpoint import load_model
from deepstudio.models.device import Compute, activation_bytes, as_compute, map_batches
from deepstudio.models.lipsync.mel import MEL_WINDOW, N_MELS
from deepstudio.models.lipsync.networks import LipSyncGenerator, LipSyncModel, masked_input
from deepstudio.models.lipsync.original_checkpoints import ORIGINAL_CHANNEL_ORDER, load_original

DEFAULT_BATCH = 32
"""Faces per inference batch where device memory does not size it (the CPU)."""


class LipSyncer:
    """Regenerates the lower half of aligned faces so the mouth follows new audio.

    ``model`` is a ``NAME.dsmodel`` folder trained here or an original Wav2Lip generator
    ``.pth`` (96 px, BGR weights: colour order is handled here, callers always pass RGB).
    ``device``: a name, torch device or :class:`Compute`; ``batch_size`` None sizes batches by
    the free device memory (:data:`DEFAULT_BATCH` on the CPU). A batch that runs out of device
    memory is split and retried.
    """

    def __init__(self, model: str | Path, device: str | torch.device | Compute = "auto",
                 batch_size: int | None = None) -> None:
        path = Path(model)
        self.compute = as_compute(device)
        if path.is_dir():
            bundle, self.card = load_model(path)
            if not isinstance(bundle, LipSyncModel):
                raise ModelFileError(f"holds a {self.card.architecture} model, not a lip-sync "
                                     "model", path)
            generator: LipSyncGenerator = bundle.generator
            self.bgr = bundle.channel_order == ORIGINAL_CHANNEL_ORDER
        else:
            _, generator = load_original(path, expect="generator")
            self.card = None
            self.bgr = True
        self.generator = self.compute.module(generator).eval()
        self._forward = self.compute.compiled(self.generator)
        self.size = generator.arch.size
        self.batch_size = batch_size or self._memory_batch()

    @property
    def device(self) -> torch.device:
        return self.compute.device

    def _memory_batch(self) -> int:
        def per_face() -> int:
            s = self.size
            faces = self.compute.images(torch.zeros(1, 6, s, s))
            mels = self.compute.tensor(torch.zeros(1, 1, N_MELS, MEL_WINDOW))
            with self.compute.autocast():
                return activation_bytes(self.generator, faces, mels)

        return self.compute.inference_batch(per_face, DEFAULT_BATCH)

    def _check(self, name: str, array: np.ndarray, shape: tuple[int, ...]) -> None:
        if array.shape[1:] != shape:
            raise ValueError(f"{name} must be (N, {', '.join(map(str, shape))}), "
                             f"got {array.shape}")

    def _tensor(self, images: np.ndarray) -> torch.Tensor:
        t = self.compute.images_from_uint8(images)
        return t.flip(1) if self.bgr else t

    @torch.no_grad()
    def generate(self, faces: np.ndarray, references: np.ndarray,
                 mels: np.ndarray) -> np.ndarray:
        """faces and references (N, S, S, 3) uint8 RGB aligned crops, mels (N, 80, 16) ->
        faces (N, S, S, 3) uint8 RGB with the mouth of each mel window."""
        s = self.size
        self._check("faces", faces, (s, s, 3))
        self._check("references", references, (s, s, 3))
        self._check("mels", mels, (N_MELS, MEL_WINDOW))
        if not len(faces) == len(references) == len(mels):
            raise ValueError(f"got {len(faces)} faces, {len(references)} references and "
                             f"{len(mels)} mel windows")

        def run(part: slice) -> np.ndarray:
            inputs = masked_input(self._tensor(faces[part]), self._tensor(references[part]))
            audio = self.compute.tensor(mels[part].astype(np.float32, copy=False))
            with self.compute.autocast():
                generated = self._forward(inputs, audio.unsqueeze(1))
            generated = generated.float().clamp_(0, 1).mul_(255).round_().byte()
            if self.bgr:
                generated = generated.flip(1)
            return generated.permute(0, 2, 3, 1).cpu().numpy()

        parts, self.batch_size = map_batches(run, len(faces), self.batch_size,
                                             self.compute.release_memory)
        return np.concatenate(parts) if parts else np.zeros((0, s, s, 3), np.uint8)
