"""The face-swap training loop: resumable, cancellable, OOM-tolerant, CPU or CUDA.

Identity 0 is the face to put in (the "source"), identity 1 the footage it goes into (the
"destination"); each iteration trains one batch per identity to reconstruct itself from a warped
copy, then (when ``gan_weight > 0``) one discriminator step on masked real vs. reconstructed faces.

The model folder is checkpointed every ``checkpoint_every_s`` seconds (or
``checkpoint_every_iters`` iterations), at the end and on cancellation; constructing a trainer
on a folder that holds a checkpoint resumes it (weights, optimizer and discriminator state,
iteration count, batch size, loss history).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from deepstudio.errors import Cancelled, ModelFileError
from deepstudio.models import checkpoint
from deepstudio.models.device import (
    Compute,
    as_compute,
    default_resolution,
    run_with_oom_backoff,
)
from deepstudio.models.faceswap import losses
from deepstudio.models.faceswap.augment import AugmentSettings, augment_batch
from deepstudio.models.faceswap.networks import FaceSwapNet, PatchDiscriminator
from deepstudio.types import ProgressCallback, TrainProgress, TrainResult
from deepstudio.vision.measures import standardised

log = logging.getLogger(__name__)

ARCHITECTURES = {"df": "faceswap.df", "liae": "faceswap.liae"}
PREVIEW_FACES = 4

@dataclass
class IdentityData:
    """Aligned training faces of one identity, all the same size S.

    faces uint8 (N, S, S, 3) RGB; masks float32 (N, S, S) in [0, 1]; priorities float32
    (N, S, S) in [0, 1] marking eyes and mouth (see :func:`losses.eyes_mouth_map`); optionally
    mouth_open float32 (N,), each face's mouth opening measured on its landmarks.
    """

    name: str
    faces: np.ndarray
    masks: np.ndarray
    priorities: np.ndarray
    mouth_open: np.ndarray | None = None

    def __post_init__(self) -> None:
        n, size = len(self.faces), self.faces.shape[1] if self.faces.ndim == 4 else 0
        if n == 0 or self.faces.shape[1:] != (size, size, 3):
            raise ValueError(f"identity {self.name!r}: faces must be (N, S, S, 3), N > 0")
        if self.masks.shape != (n, size, size) or self.priorities.shape != (n, size, size):
            raise ValueError(f"identity {self.name!r}: masks/priorities must be (N, S, S)")
        if self.mouth_open is not None and self.mouth_open.shape != (n,):
            raise ValueError(f"identity {self.name!r}: mouth_open must be (N,)")

    @property
    def size(self) -> int:
        return int(self.faces.shape[1])

    def resized(self, size: int) -> IdentityData:
        """The same data at ``size`` x ``size`` (area filter when shrinking)."""
        if size == self.size:
            return self
        interp = cv2.INTER_AREA if size < self.size else cv2.INTER_CUBIC

        def scale(stack: np.ndarray) -> np.ndarray:
            return np.stack([cv2.resize(x, (size, size), interpolation=interp) for x in stack])

        return IdentityData(self.name, scale(self.faces), scale(self.masks),
                            scale(self.priorities), self.mouth_open)

    def mouth_scores(self) -> np.ndarray | None:
        """Mouth openings standardised over this identity (how open for this person)."""
        if self.mouth_open is None:
            return None
        return standardised(self.mouth_open)


@dataclass(frozen=True)
class TrainConfig:
    """Training settings. Architecture, resolution and dims only apply to a new model."""

    architecture: str = "df"
    resolution: int | None = None
    """None: 64 on the CPU, 128 on CUDA."""
    dims: dict[str, int] | None = None
    """Network widths (e_ch, ae_dims, d_ch); None: sized for the device."""
    batch_size: int = 8
    learning_rate: float = 5e-5
    gan_weight: float = 0.1
    priority_weight: float = 3.0
    mouth_probe_weight: float = 1.0
    """Weight of the expression probe: one linear map shared by all identities must read each
    face's (standardised) mouth opening from the shared dense code. That puts "mouth open" on
    the same code direction for every person, so the source decoder opens the mouth where the
    footage does, which an autoencoder trained for minutes otherwise leaves to chance (the
    swapped mouth correlated 0.17-0.37 with the original after 30 CPU minutes). 0: off.
    On the 32-px test faces the probe's error fell from 1.0 to 0.34 in 100 steps at 1.0 and
    only to 0.78 at 0.1."""
    checkpoint_every_s: float = 300.0
    checkpoint_every_iters: int = 0
    """Also checkpoint every this many iterations (0: by time only). A kill loses at most
    the work since the last checkpoint."""
    preview_every_s: float = 30.0
    history_every: int = 50
    seed: int | None = None
    augment: AugmentSettings = field(default_factory=AugmentSettings)


def default_dims(device: torch.device) -> dict[str, int]:
    """Network widths that train at a usable speed on the device (CPU ~1 GFLOP per face)."""
    if device.type == "cuda":
        return {"e_ch": 64, "ae_dims": 256, "d_ch": 64}
    return {"e_ch": 32, "ae_dims": 128, "d_ch": 16}


def _to_tensor(array: np.ndarray, compute: Compute) -> torch.Tensor:
    """(N, H, W, C) or (N, H, W) float32 numpy -> (N, C, H, W) on the device."""
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    tensor = tensor.unsqueeze(1) if tensor.ndim == 3 else tensor.permute(0, 3, 1, 2)
    return compute.images(tensor)


def preview_grid(sources: np.ndarray, targets: np.ndarray, swapped: np.ndarray) -> np.ndarray:
    """uint8 RGB (3S, kS, 3): a row of source faces, of target faces, of targets swapped."""
    return np.concatenate([np.concatenate(list(row), axis=1)
                           for row in (sources, targets, swapped)], axis=0)


Batches = list[tuple[list[torch.Tensor], torch.Tensor | None]]
"""Per identity: (inputs, targets, masks, priorities) on the device, and the mouth scores."""


class FaceSwapTrainer:
    """Trains (or resumes) the swap model in ``model_dir`` on per-identity face data.

    ``device`` is a device name or a :class:`Compute` (which also fixes the precision); a
    checkpoint saved on one device resumes on any other.
    """

    def __init__(self, model_dir: str | Path, data: Sequence[IdentityData],
                 config: TrainConfig | None = None, device: str | Compute = "auto",
                 consent_ids: Sequence[str] = (),
                 training_data: dict[str, Any] | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.config = config or TrainConfig()
        self.compute = as_compute(device)
        self.device = self.compute.device
        self._rng = np.random.default_rng(self.config.seed)
        if self.config.seed is not None:
            torch.manual_seed(self.config.seed)
        if len(data) < 2:
            raise ValueError("face-swap training needs faces of at least two identities")
        resume = checkpoint.resumable_dir(self.model_dir)
        if resume is None:
            self.net, self.card = self._new_model(data, consent_ids, training_data)
        else:
            self.net, self.card = self._load_model(resume, data)
        self.data = [d.resized(self.net.resolution) for d in data]
        self.net = self.compute.module(self.net).train()
        self.disc = self.compute.module(PatchDiscriminator()).train()
        self._forward = self.compute.compiled(self.net.forward_with_code)
        lr = self.config.learning_rate
        self.opt_g = torch.optim.Adam(self.net.parameters(), lr=lr, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=lr, betas=(0.5, 0.999))
        # A training aid, not part of the model; saved with the optimizer state for resuming.
        self.mouth_probe = self.compute.module(nn.Linear(self.net.code_dims, 1))
        self.opt_probe = torch.optim.Adam(self.mouth_probe.parameters(), lr=lr,
                                          betas=(0.5, 0.999))
        self._mouth_scores = [d.mouth_scores() for d in self.data]
        self.batch_size = self.config.batch_size
        if resume is not None:
            self._restore_train_state(resume)
        self._scaler = self.compute.grad_scaler()
        self._history_sums: dict[str, float] = {}
        self._history_count = 0

    # -- construction -------------------------------------------------------------------------

    def _new_model(self, data: Sequence[IdentityData], consent_ids: Sequence[str],
                   training_data: dict[str, Any] | None
                   ) -> tuple[FaceSwapNet, checkpoint.ModelCard]:
        cfg = self.config
        if cfg.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {cfg.architecture!r}; "
                             f"expected one of {', '.join(ARCHITECTURES)}")
        kwargs = {"resolution": cfg.resolution or default_resolution(self.device),
                  "identities": len(data), **(cfg.dims or default_dims(self.device))}
        summary = dict(training_data or {})
        summary.setdefault("faces", {d.name: len(d.faces) for d in data})
        card = checkpoint.ModelCard(
            architecture=ARCHITECTURES[cfg.architecture], kwargs=kwargs,
            identities=[d.name for d in data], consent_ids=list(consent_ids),
            training_data=summary)
        net = checkpoint.build_model(card, self.model_dir / checkpoint.CARD)
        assert isinstance(net, FaceSwapNet)
        return net, card

    def _load_model(self, folder: Path, data: Sequence[IdentityData]
                    ) -> tuple[FaceSwapNet, checkpoint.ModelCard]:
        net, card = checkpoint.load_model(folder)
        if not isinstance(net, FaceSwapNet):
            raise ModelFileError(f"{card.architecture} is not a face-swap model", folder)
        names = [d.name for d in data]
        if card.identities != names:
            raise ValueError(f"{self.model_dir}: model was trained on identities "
                             f"{card.identities}, not {names}")
        if folder != self.model_dir:
            log.warning("%s: last save was cut short; resuming from %s", self.model_dir, folder)
        return net, card

    def _restore_train_state(self, folder: Path) -> None:
        state = checkpoint.load_train_state(folder)
        if state is None:  # a weights-only model: fine-tune it with fresh optimizers
            return
        optimizers, trainer = state
        try:
            self.disc.load_state_dict(optimizers["discriminator_weights"])
            self.opt_g.load_state_dict(optimizers["generator"])
            self.opt_d.load_state_dict(optimizers["discriminator"])
            if "mouth_probe" in optimizers:  # absent in checkpoints from before the probe
                self.mouth_probe.load_state_dict(optimizers["mouth_probe_weights"])
                self.opt_probe.load_state_dict(optimizers["mouth_probe"])
        except (KeyError, ValueError, RuntimeError) as exc:
            raise ModelFileError(f"training state does not fit the model ({exc})",
                                 folder / checkpoint.OPTIMIZER) from exc
        for group in (*self.opt_g.param_groups, *self.opt_d.param_groups):
            group["lr"] = self.config.learning_rate
        self.batch_size = min(self.batch_size, int(trainer.get("batch_size", self.batch_size)))

    # -- one iteration ------------------------------------------------------------------------

    def sample_batches(self, batch_size: int) -> Batches:
        """The data path of one iteration: per identity, ``batch_size`` random faces augmented
        on the CPU and moved to the device, with their mouth scores."""
        batches: Batches = []
        for identity, data in enumerate(self.data):
            picks = self._rng.choice(len(data.faces), batch_size,
                                     replace=len(data.faces) < batch_size)
            arrays = augment_batch(self._rng, data.faces[picks], data.masks[picks],
                                   data.priorities[picks], self.config.augment)
            scores = self._mouth_scores[identity]
            batches.append(([_to_tensor(a, self.compute) for a in arrays],
                            None if scores is None else self.compute.tensor(scores[picks])))
        return batches

    def _train_step(self, batch_size: int) -> dict[str, float]:
        return self.optimise(self.sample_batches(batch_size))

    def optimise(self, batches: Batches) -> dict[str, float]:
        """The device side of one iteration: generator (+ probe) and discriminator updates on
        batches from :meth:`sample_batches`; returns the step's losses."""
        cfg = self.config
        use_gan = cfg.gan_weight > 0
        use_probe = cfg.mouth_probe_weight > 0
        probed = False
        reals, fakes = [], []
        results: dict[str, float] = {}
        self.opt_g.zero_grad(set_to_none=True)
        self.opt_probe.zero_grad(set_to_none=True)
        self.disc.requires_grad_(False)  # the generator step needs no discriminator gradients
        with self.compute.autocast():
            total = torch.zeros((), device=self.device)
            for identity, ((inputs, targets, masks, priorities), mouth) in enumerate(batches):
                face, mask, code = self._forward(inputs, identity)
                loss = (losses.reconstruction_loss(face, targets, masks, priorities,
                                                   cfg.priority_weight)
                        + losses.mask_loss(mask, masks))
                results[f"loss/{self.data[identity].name}"] = float(loss.detach())
                total = total + loss
                if use_probe and mouth is not None:
                    probe = F.mse_loss(self.mouth_probe(code.float()).squeeze(1), mouth)
                    results[f"mouth/{self.data[identity].name}"] = float(probe.detach())
                    total = total + cfg.mouth_probe_weight * probe
                    probed = True
                reals.append(targets * masks)
                fakes.append(face * masks)
            if use_gan:
                fake = torch.cat(fakes)
                g_gan = losses.generator_gan_loss(self.disc(fake))
                results["gan/g"] = float(g_gan.detach())
                total = total + cfg.gan_weight * g_gan
        self._scaler.scale(total).backward()
        self._scaler.step(self.opt_g)
        if probed:  # a scaler may only step optimizers whose parameters got gradients
            self._scaler.step(self.opt_probe)
        if use_gan:
            self.disc.requires_grad_(True)
            self.opt_d.zero_grad(set_to_none=True)
            with self.compute.autocast():
                d_loss = losses.discriminator_loss(self.disc(torch.cat(reals)),
                                                   self.disc(fake.detach()))
            self._scaler.scale(d_loss).backward()
            self._scaler.step(self.opt_d)
            results["gan/d"] = float(d_loss.detach())
        self._scaler.update()
        return results

    def release_memory(self) -> None:
        """After an out-of-memory error: drop gradients and cached blocks, and forget the
        interrupted step in the gradient scaler (keeping its scale), which refuses to step an
        optimizer twice between updates."""
        self.opt_g.zero_grad(set_to_none=True)
        self.opt_d.zero_grad(set_to_none=True)
        self.opt_probe.zero_grad(set_to_none=True)
        scaler = self.compute.grad_scaler()
        if scaler.is_enabled():
            scaler.load_state_dict(self._scaler.state_dict())
        self._scaler = scaler
        self.compute.release_memory()

    # -- outputs ------------------------------------------------------------------------------

    @torch.no_grad()
    def preview(self) -> np.ndarray:
        """Grid of the first source faces, first target faces, and those targets swapped.

        The swapped row blends the generated face into the target through the predicted mask,
        as the render will.
        """
        k = min(PREVIEW_FACES, *(len(d.faces) for d in self.data[:2]))
        sources, targets = self.data[0].faces[:k], self.data[1].faces[:k]
        inputs = _to_tensor(targets.astype(np.float32) / 255, self.compute)
        self.net.eval()
        try:
            with self.compute.autocast():
                swapped, mask = self.net(inputs, 0)
        finally:
            self.net.train()
        blended = swapped.float() * mask.float() + inputs * (1 - mask.float())
        swapped_u8 = (blended.clamp(0, 1) * 255).round().byte()
        return preview_grid(sources, targets, swapped_u8.permute(0, 2, 3, 1).cpu().numpy())

    @torch.no_grad()
    def evaluate(self, max_faces: int = 16) -> dict[str, float]:
        """Reconstruction + mask loss per identity on its first faces, unaugmented.

        Deterministic (no warp, no jitter), so it can be compared across iterations.
        """
        results = {}
        self.net.eval()
        try:
            for identity, data in enumerate(self.data):
                n = min(max_faces, len(data.faces))
                faces = _to_tensor(data.faces[:n].astype(np.float32) / 255, self.compute)
                masks = _to_tensor(data.masks[:n], self.compute)
                priorities = _to_tensor(data.priorities[:n], self.compute)
                with self.compute.autocast():
                    face, mask = self.net(faces, identity)
                loss = (losses.reconstruction_loss(face, faces, masks, priorities,
                                                   self.config.priority_weight)
                        + losses.mask_loss(mask, masks))
                results[f"loss/{data.name}"] = float(loss)
        finally:
            self.net.train()
        return results

    def _record(self, step_losses: dict[str, float]) -> None:
        for key, value in step_losses.items():
            self._history_sums[key] = self._history_sums.get(key, 0.0) + value
        self._history_count += 1
        if self._history_count >= self.config.history_every:
            self._flush_history()

    def _flush_history(self) -> None:
        if self._history_count == 0:
            return
        entry = {"iteration": float(self.card.iterations)}
        entry.update({k: v / self._history_count for k, v in self._history_sums.items()})
        self.card.loss_history.append(entry)
        self._history_sums, self._history_count = {}, 0

    def save(self) -> None:
        """Checkpoint weights, optimizers, discriminator and card (previous one kept)."""
        self._flush_history()
        optimizers = {"generator": self.opt_g.state_dict(),
                      "discriminator": self.opt_d.state_dict(),
                      "discriminator_weights": self.disc.state_dict(),
                      "mouth_probe": self.opt_probe.state_dict(),
                      "mouth_probe_weights": self.mouth_probe.state_dict()}
        trainer_state = {"batch_size": self.batch_size,
                         "config": {k: v for k, v in asdict(self.config).items()
                                    if k != "augment"}}
        checkpoint.save_checkpoint(self.model_dir, self.net, self.card, optimizers, trainer_state)

    # -- the loop -----------------------------------------------------------------------------

    @property
    def iteration(self) -> int:
        return self.card.iterations

    def train(self, iterations: int, progress: ProgressCallback | None = None) -> TrainResult:
        """Train until the model has ``iterations`` iterations in total (resumed ones count).

        ``progress`` gets a :class:`TrainProgress` after every iteration (with a preview image
        every ``preview_every_s``); raising :class:`Cancelled` from it saves and returns.
        """
        start_iter, start = self.iteration, time.monotonic()
        last_save = last_preview = start
        step_losses: dict[str, float] = {}
        cancelled = False
        try:
            while self.iteration < iterations:
                step_losses, self.batch_size = run_with_oom_backoff(
                    self._train_step, self.batch_size, self.release_memory)
                self.card.iterations += 1
                self._record(step_losses)
                now = time.monotonic()
                if checkpoint.checkpoint_due(self.iteration, now - last_save,
                                             self.config.checkpoint_every_s,
                                             self.config.checkpoint_every_iters):
                    self.save()
                    last_save = now
                if progress is not None:
                    show = now - last_preview >= self.config.preview_every_s
                    if show:
                        last_preview = now
                    progress(self._progress(iterations, start_iter, start, step_losses, show))
        except Cancelled:
            cancelled = True
        self.save()
        if progress is not None and not cancelled:
            try:
                progress(self._progress(iterations, start_iter, start, step_losses, True))
            except Cancelled:
                cancelled = True
        return TrainResult(self.model_dir, self.iteration, cancelled, self.batch_size,
                           step_losses)

    def _progress(self, total: int, start_iter: int, start: float, step_losses: dict[str, float],
                  with_preview: bool) -> TrainProgress:
        done = self.iteration - start_iter
        rate = done / max(time.monotonic() - start, 1e-9)
        remaining = max(0, total - self.iteration)
        shown = ", ".join(f"{k} {v:.4f}" for k, v in step_losses.items())
        return TrainProgress(
            fraction=min(1.0, self.iteration / total) if total else 1.0,
            message=f"iteration {self.iteration}/{total}, {rate:.2f} it/s, {shown}",
            eta_s=remaining / rate if rate > 0 else None,
            preview=self.preview() if with_preview else None,
            iteration=self.iteration, total_iterations=total, iters_per_s=rate,
            batch_size=self.batch_size, losses=dict(step_losses))
