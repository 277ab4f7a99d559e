"""Running a lip-sync generator on aligned faces: a model folder or an original Wav2Lip file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from deepstudio.errors import ModelFileError
from deepstudio.models.checkpoint import load_model
from deepstudio.models.device import autocast, pick_device, place_images, place_module
from deepstudio.models.lipsync.mel import MEL_WINDOW, N_MELS
from deepstudio.models.lipsync.networks import LipSyncGenerator, LipSyncModel, masked_input
from deepstudio.models.lipsync.original_checkpoints import ORIGINAL_CHANNEL_ORDER, load_original


class LipSyncer:
    """Regenerates the lower half of aligned faces so the mouth follows new audio.

    ``model`` is a ``NAME.dsmodel`` folder trained here or an original Wav2Lip generator
    ``.pth`` (96 px, BGR weights: colour order is handled here, callers always pass RGB).
    """

    def __init__(self, model: str | Path, device: str | torch.device = "auto",
                 batch_size: int = 32) -> None:
        path = Path(model)
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self.batch_size = batch_size
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
        self.generator = place_module(generator, self.device).eval()
        self.size = generator.arch.size

    def _check(self, name: str, array: np.ndarray, shape: tuple[int, ...]) -> None:
        if array.shape[1:] != shape:
            raise ValueError(f"{name} must be (N, {', '.join(map(str, shape))}), "
                             f"got {array.shape}")

    def _tensor(self, images: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
        t = place_images(t, self.device).float().div_(255.0)
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
        out = np.empty_like(faces, dtype=np.uint8)
        for start in range(0, len(faces), self.batch_size):
            part = slice(start, start + self.batch_size)
            inputs = masked_input(self._tensor(faces[part]), self._tensor(references[part]))
            audio = torch.from_numpy(np.ascontiguousarray(mels[part], dtype=np.float32))
            with autocast(self.device):
                generated = self.generator(inputs, audio.to(self.device).unsqueeze(1))
            generated = generated.float().clamp_(0, 1).mul_(255).round_().byte()
            if self.bgr:
                generated = generated.flip(1)
            out[part] = generated.permute(0, 2, 3, 1).cpu().numpy()
        return out
