"""Training / fine-tuning a lip-sync model on a speaker's own footage (Wav2Lip recipe).

Every iteration:

1. sync expert step (unless it is a frozen pretrained expert): binary cross-entropy of the
   cosine similarity of (5 real lower-face frames, their audio) = 1 and (same frames, audio
   of another time) = 0;
2. generator step: ``(1 - ws - wd) * L1 + ws * sync + wd * adversarial + wm * mouth``, where
   *sync* asks the (frozen for this step) expert to judge the 5 generated lower halves in sync
   with their audio and *adversarial* asks the quality discriminator to take them for real.
   ``ws`` stays 0 until the expert's running loss falls below ``expert_ready_loss`` (an
   untrained expert only adds noise), as Wav2Lip only adds the sync loss once its expert is
   good. *mouth* is the error of a linear probe that reads each frame's mouth opening (measured
   on its landmarks) from the generator's audio embedding: see ``mouth_probe_weight``;
3. discriminator step: real frames = 1, generated = 0.

Checkpoints (the three networks, their optimizers, the trainer state) go through
:mod:`deepstudio.models.checkpoint` every ``checkpoint_every_s`` seconds (or
``checkpoint_every_iters`` iterations), at the end, and when the progress callback cancels;
training resumes from them, on any device. On CUDA the forward passes run under autocast (bf16,
or fp16 with a gradient scaler; :mod:`deepstudio.models.device` decides); losses are computed in
fp32. A step that runs out of device memory is retried with half the windows, and training goes
on at that size.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from deepstudio.errors import Cancelled, ModelFileError
from deepstudio.models import checkpoint as ckpt
from deepstudio.models.device import Compute, as_compute, run_with_oom_backoff
from deepstudio.models.lipsync.dataset import Batch, LipSyncData, sample_batch, vary_voice
from deepstudio.models.lipsync.networks import (
    CPU_ARCH,
    SYNC_FRAMES,
    WAV2LIP_ARCH,
    LipSyncModel,
    lower_half,
    masked_input,
)
from deepstudio.models.lipsync.original_checkpoints import (
    ORIGINAL_CHANNEL_ORDER,
    load_into,
    read_original_state_dict,
)
from deepstudio.types import ProgressCallback, TrainProgress

ARCHITECTURE = "lipsync.wav2lip"
MOUTH_PROBE = "mouth_probe"


@dataclass
class LipSyncTrainConfig:
    """Settings of one training run (stored in the model card's training data)."""

    size: int = CPU_ARCH.size
    width: float = CPU_ARCH.width
    batch_size: int = 4
    """Windows of 5 frames per step."""
    lr: float = 1e-4
    mouth_weight: float = 4.0
    """Extra L1 weight at the mouth (see :func:`mouth_weights`); 0 gives Wav2Lip's plain L1."""
    mouth_probe_weight: float = 0.1
    """Weight of the mouth-opening probe on the audio embedding (0: off; needs data with
    measured openings). Without it the expert stays at chance for thousands of CPU iterations,
    the sync loss never switches on and the generator learns to ignore the audio; the probe
    makes the embedding carry the mouth opening from the first iterations (a ridge regression
    from the same mel windows reaches r = 0.53 on held-out talk_long_a frames)."""
    sync_weight: float = 0.03
    disc_weight: float = 0.07
    expert_ready_loss: float = 0.55
    """Running expert loss (chance = 0.69) under which the sync loss is switched on."""
    train_expert: bool = True
    checkpoint_every_s: float = 300.0
    checkpoint_every_iters: int = 0
    """Also checkpoint every this many iterations (0: by time only)."""
    preview_every: int = 100
    seed: int = 0
    init_generator: str | None = None
    """Optional original Wav2Lip ``.pth`` to fine-tune from (forces 96 px, width 1, BGR)."""
    init_expert: str | None = None
    """Optional original SyncNet expert ``.pth``; it is then frozen (``train_expert`` off)."""

    @classmethod
    def for_device(cls, device: torch.device, **overrides: Any) -> LipSyncTrainConfig:
        """Small and fast on the CPU; the published Wav2Lip size on CUDA."""
        base = cls() if device.type != "cuda" else cls(size=WAV2LIP_ARCH.size,
                                                       width=WAV2LIP_ARCH.width, batch_size=16)
        return cls(**{**asdict(base), **overrides})


@dataclass
class Losses:
    l1: float = math.nan
    sync: float = math.nan
    expert: float = math.nan
    disc: float = math.nan
    adversarial: float = math.nan
    mouth: float = math.nan

    def text(self) -> str:
        return " · ".join(f"{k} {v:.4f}" for k, v in asdict(self).items() if not math.isnan(v))


@dataclass
class TrainState:
    """What the trainer needs besides the weights to resume exactly where it stopped."""

    iteration: int = 0
    expert_loss_ema: float = math.log(2)
    expert_ready: bool = False
    history: list[dict[str, float]] = field(default_factory=list)
    batch_size: int | None = None
    """Windows per step after any out-of-memory back-off (None: the configured size)."""


@dataclass
class StepInputs:
    """One step's batch on the device (see :meth:`LipSyncTrainer.prepare`)."""

    batch: Batch
    real: torch.Tensor
    references: torch.Tensor
    mels: torch.Tensor
    sync_mels: torch.Tensor
    off_mels: torch.Tensor
    mouth: torch.Tensor | None
    """Standardised mouth openings of the frames, or None when the probe is off."""


def _to_tensor(images: np.ndarray, compute: Compute, bgr: bool) -> torch.Tensor:
    """(N, S, S, 3) uint8 RGB -> (N, 3, S, S) float in [0, 1] on the device."""
    t = compute.images_from_uint8(images)
    return t.flip(1) if bgr else t


def _mels(mels: np.ndarray, compute: Compute) -> torch.Tensor:
    return compute.tensor(mels.astype(np.float32, copy=False)).unsqueeze(1)


def _stack(frames: torch.Tensor) -> torch.Tensor:
    """(B*5, 3, S, S) -> (B, 15, S/2, S): lower halves of each window stacked on channels."""
    halves = lower_half(frames)
    return halves.reshape(-1, SYNC_FRAMES * 3, *halves.shape[2:])


def _bce(prob: torch.Tensor, target: float) -> torch.Tensor:
    prob = prob.float().clamp(1e-6, 1 - 1e-6)
    return F.binary_cross_entropy(prob, torch.full_like(prob, target))


MOUTH_CENTRE = (0.5, 0.685)
"""Where the mouth sits in an aligned crop (unit coordinates): the template's mouth corners
are at x 0.379/0.621, y 0.685 with the default coverage (:mod:`deepstudio.vision.align`)."""
MOUTH_SIGMA = (0.12, 0.07)


def mouth_weights(size: int, mouth_weight: float, device: torch.device) -> torch.Tensor:
    """(1, 1, S, S) per-pixel L1 weights: 1 + ``mouth_weight`` x a Gaussian on the mouth,
    scaled to mean 1.

    With plain L1 the mouth is a few percent of the pixels, and the cheapest way down the loss
    is to copy the reference frame's lower face: the generator learns to ignore the audio for
    a long time. Weighting the mouth makes the audio-dependent pixels count from the start.
    """
    axis = (torch.arange(size, dtype=torch.float32, device=device) + 0.5) / size
    gx = torch.exp(-0.5 * ((axis - MOUTH_CENTRE[0]) / MOUTH_SIGMA[0]) ** 2)
    gy = torch.exp(-0.5 * ((axis - MOUTH_CENTRE[1]) / MOUTH_SIGMA[1]) ** 2)
    weights = 1 + mouth_weight * gy[:, None] * gx[None, :]
    return (weights / weights.mean()).expand(1, 1, size, size)


def _freeze(*modules: nn.Module, frozen: bool) -> None:
    """Skip weight gradients of the judges while the generator learns from them."""
    for module in modules:
        module.requires_grad_(not frozen)


class LipSyncTrainer:
    """Owns the networks, optimizers and device for one model folder.

    ``device``: a device name, torch device or :class:`Compute` (which also fixes precision).
    """

    def __init__(self, model_dir: str | Path, config: LipSyncTrainConfig,
                 device: str | torch.device | Compute, training_data: dict[str, Any] | None = None,
                 consent_ids: Sequence[str] = ()) -> None:
        self.model_dir = Path(model_dir)
        self.config = config
        self.compute = as_compute(device)
        self.device = self.compute.device
        self.training_data = training_data or {}
        self.consent_ids = list(consent_ids)
        self.rng = np.random.default_rng(config.seed)
        torch.manual_seed(config.seed)
        self.state = TrainState()
        self.card: ckpt.ModelCard | None = None
        resume = ckpt.resumable_dir(self.model_dir)
        if resume is not None:
            self.model, self.card = ckpt.load_model(resume)
            if not isinstance(self.model, LipSyncModel):
                raise ModelFileError(f"holds a {self.card.architecture} model, not a lip-sync "
                                     "model", self.model_dir)
        else:
            self.model = self._fresh_model()
        self.compute.module(self.model)
        self.l1_weights = mouth_weights(self.model.arch.size, config.mouth_weight, self.device)
        self.bgr = self.model.channel_order == ORIGINAL_CHANNEL_ORDER
        self.train_expert = config.train_expert and config.init_expert is None
        params = dict(lr=config.lr, betas=(0.5, 0.999))
        self.opt_g = torch.optim.Adam(self.model.generator.parameters(), **params)
        self.opt_e = torch.optim.Adam(self.model.expert.parameters(), **params)
        self.opt_d = torch.optim.Adam(self.model.discriminator.parameters(), **params)
        # A training aid, not part of the model: saved with the optimizer state for resuming.
        self.mouth_probe = self.compute.module(nn.Linear(self.model.arch.ch(512), 1))
        self.opt_probe = torch.optim.Adam(self.mouth_probe.parameters(), **params)
        self.scaler = self.compute.grad_scaler()
        if resume is not None:
            self._restore(resume)
        elif config.init_expert is not None:
            self.state.expert_ready = True
        self.batch_size = min(config.batch_size, self.state.batch_size or config.batch_size)

    def _fresh_model(self) -> LipSyncModel:
        c = self.config
        if c.init_generator or c.init_expert:
            model = LipSyncModel(WAV2LIP_ARCH.size, WAV2LIP_ARCH.width, ORIGINAL_CHANNEL_ORDER)
            if c.init_generator:
                load_into(model.generator, read_original_state_dict(c.init_generator),
                          c.init_generator)
            if c.init_expert:
                load_into(model.expert, read_original_state_dict(c.init_expert), c.init_expert)
            return model
        return LipSyncModel(c.size, c.width)

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.opt_g, "expert": self.opt_e, "discriminator": self.opt_d}

    def _restore(self, folder: Path) -> None:
        loaded = ckpt.load_train_state(folder)
        if loaded is None:
            return
        optimizer_state, trainer_state = loaded
        try:
            for name, opt in self._optimizers().items():
                opt.load_state_dict(optimizer_state[name])
            probe = optimizer_state.get(MOUTH_PROBE)
            if probe is not None:  # absent in checkpoints made before the probe existed
                self.mouth_probe.load_state_dict(probe["weights"])
                self.opt_probe.load_state_dict(probe["optimizer"])
            self.state = TrainState(**trainer_state)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"training state does not fit this trainer ({exc})",
                                 folder) from exc

    # -- one iteration ---------------------------------------------------------------------

    def step(self, data: LipSyncData, centres: np.ndarray) -> tuple[Losses, Batch, torch.Tensor]:
        """One expert + generator + discriminator update; returns losses and the generated
        frames (detached) of the batch. Out of device memory, the step is retried with half
        the windows (the expert may then have taken one extra step) and later steps keep
        that size."""
        (losses, inputs, fake), self.batch_size = run_with_oom_backoff(
            lambda size: self._step_once(data, centres, size), self.batch_size,
            self.release_memory)
        self.state.batch_size = self.batch_size
        return losses, inputs.batch, fake

    def _step_once(self, data: LipSyncData, centres: np.ndarray,
                   batch_size: int) -> tuple[Losses, StepInputs, torch.Tensor]:
        inputs = self.prepare(data, centres, batch_size)
        losses, fake = self.optimise(inputs)
        return losses, inputs, fake

    def release_memory(self) -> None:
        for optimizer in (self.opt_g, self.opt_e, self.opt_d, self.opt_probe):
            optimizer.zero_grad(set_to_none=True)
        self.compute.release_memory()

    def prepare(self, data: LipSyncData, centres: np.ndarray, batch_size: int) -> StepInputs:
        """The data path of one step: ``batch_size`` windows sampled, voice-varied and moved
        to the device."""
        batch = vary_voice(sample_batch(data, centres, batch_size, self.rng), self.rng)
        mouth = None
        if self.config.mouth_probe_weight > 0 and batch.mouth_open is not None \
                and data.mouth_open is not None:
            mean, std = float(data.mouth_open.mean()), float(data.mouth_open.std()) or 1.0
            mouth = self.compute.tensor(((batch.mouth_open - mean) / std).astype(np.float32))
        return StepInputs(batch, _to_tensor(batch.targets, self.compute, self.bgr),
                          _to_tensor(batch.references, self.compute, self.bgr),
                          _mels(batch.mels, self.compute), _mels(batch.sync_mels, self.compute),
                          _mels(batch.off_mels, self.compute), mouth)

    def optimise(self, inputs: StepInputs) -> tuple[Losses, torch.Tensor]:
        """The device side of one step on :meth:`prepare`'s inputs; returns the losses and
        the generated frames (detached)."""
        c, model = self.config, self.model
        real = inputs.real
        losses = Losses()
        model.train()
        if self.train_expert:
            losses.expert = self._expert_step(inputs)
        model.expert.eval()

        with self.compute.autocast():
            fake, audio = model.generator.forward_with_audio(
                masked_input(real, inputs.references), inputs.mels)
        l1 = self._generator_step(inputs, fake, audio, losses)
        losses.l1 = l1.item()
        if c.disc_weight > 0:
            losses.disc = self._disc_step(real, fake.detach())
        self.state.iteration += 1
        return losses, fake.detach()

    def _generator_step(self, inputs: StepInputs, fake: torch.Tensor, audio: torch.Tensor,
                        losses: Losses) -> torch.Tensor:
        """Update the generator (and the mouth probe) with the judges frozen; returns the L1.
        The judges are unfrozen again also when this runs out of memory, since the retry
        trains the expert first."""
        c, model, real = self.config, self.model, inputs.real
        _freeze(model.expert, model.discriminator, frozen=True)
        try:
            sync_on = self.state.expert_ready and c.sync_weight > 0
            weight_s = c.sync_weight if sync_on else 0.0
            l1 = ((fake.float() - real).abs() * self.l1_weights).mean()
            loss = (1 - weight_s - c.disc_weight) * l1
            if sync_on:
                with self.compute.autocast():
                    prob = model.expert.sync_probability(_stack(fake), inputs.sync_mels)
                sync = _bce(prob, 1.0)
                loss = loss + weight_s * sync
                losses.sync = sync.item()
            if c.disc_weight > 0:
                with self.compute.autocast():
                    judged = model.discriminator(fake)
                adversarial = _bce(judged, 1.0)
                loss = loss + c.disc_weight * adversarial
                losses.adversarial = adversarial.item()
            optimizers = [self.opt_g]
            if inputs.mouth is not None:
                mouth = F.mse_loss(self.mouth_probe(audio.float()).squeeze(1), inputs.mouth)
                loss = loss + c.mouth_probe_weight * mouth
                losses.mouth = mouth.item()
                optimizers.append(self.opt_probe)  # a scaler only steps optimizers with gradients
            self._update(loss, *optimizers)
        finally:
            _freeze(model.expert, model.discriminator, frozen=False)
        return l1

    def _update(self, loss: torch.Tensor, *optimizers: torch.optim.Optimizer) -> None:
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        for optimizer in optimizers:
            self.scaler.step(optimizer)
        self.scaler.update()

    def _expert_step(self, inputs: StepInputs) -> float:
        stack = _stack(inputs.real)
        with self.compute.autocast():
            good = self.model.expert.sync_probability(stack, inputs.sync_mels)
            bad = self.model.expert.sync_probability(stack, inputs.off_mels)
        loss = (_bce(good, 1.0) + _bce(bad, 0.0)) / 2
        self._update(loss, self.opt_e)
        value = loss.item()
        self.state.expert_loss_ema = 0.95 * self.state.expert_loss_ema + 0.05 * value
        if self.state.expert_loss_ema < self.config.expert_ready_loss:
            self.state.expert_ready = True
        return value

    def _disc_step(self, real: torch.Tensor, fake: torch.Tensor) -> float:
        with self.compute.autocast():
            on_real = self.model.discriminator(real)
            on_fake = self.model.discriminator(fake)
        loss = (_bce(on_real, 1.0) + _bce(on_fake, 0.0)) / 2
        self._update(loss, self.opt_d)
        return loss.item()

    # -- evaluation, previews, checkpoints -------------------------------------------------

    @torch.no_grad()
    def evaluate_l1(self, data: LipSyncData, centres: np.ndarray, limit: int = 64) -> float:
        """Mean L1 of the generator on up to ``limit`` fixed windows (references: the window
        one window later or earlier in the same run), in eval mode."""
        if len(centres) == 0:
            return math.nan
        picked = centres[np.linspace(0, len(centres) - 1, min(limit, len(centres))).astype(int)]
        rng = np.random.default_rng(12345)
        self.model.eval()
        total, count = 0.0, 0
        for start in range(0, len(picked), 8):
            part = picked[start:start + 8]
            batch = sample_batch(data, part, len(part), rng)
            real = _to_tensor(batch.targets, self.compute, self.bgr)
            refs = _to_tensor(batch.references, self.compute, self.bgr)
            with self.compute.autocast():
                fake = self.model.generator(masked_input(real, refs),
                                            _mels(batch.mels, self.compute))
            total += F.l1_loss(fake.float(), real, reduction="sum").item()
            count += real.numel()
        return total / count

    def preview(self, batch: Batch, fake: torch.Tensor, rows: int = 4) -> np.ndarray:
        """Grid (rows*S, 4*S, 3) uint8 RGB: masked input | reference | generated | real."""
        n = min(rows, len(batch.targets) // SYNC_FRAMES)
        picks = np.arange(n) * SYNC_FRAMES + SYNC_FRAMES // 2
        generated = (fake[picks].float().clamp(0, 1) * 255).round().byte()
        if self.bgr:
            generated = generated.flip(1)
        generated = generated.permute(0, 2, 3, 1).cpu().numpy()
        masked = batch.targets[picks].copy()
        masked[:, masked.shape[1] // 2:] = 0
        cells = [masked, batch.references[picks], generated, batch.targets[picks]]
        return np.concatenate([np.concatenate(row, axis=1) for row in zip(*cells)], axis=0)

    def save(self) -> ckpt.ModelCard:
        card = self.card or ckpt.ModelCard(ARCHITECTURE, self.model.card_kwargs())
        card.kwargs = self.model.card_kwargs()
        card.iterations = self.state.iteration
        card.loss_history = list(self.state.history)
        card.consent_ids = list(dict.fromkeys([*card.consent_ids, *self.consent_ids]))
        card.training_data = {**card.training_data, **self.training_data,
                              "config": asdict(self.config)}
        optimizer_state = {name: opt.state_dict() for name, opt in self._optimizers().items()}
        optimizer_state[MOUTH_PROBE] = {"weights": self.mouth_probe.state_dict(),
                                        "optimizer": self.opt_probe.state_dict()}
        self.card = ckpt.save_checkpoint(self.model_dir, self.model, card, optimizer_state,
                                         asdict(self.state))
        return self.card

    # -- the loop --------------------------------------------------------------------------

    def train(self, data: LipSyncData, iterations: int, progress: ProgressCallback | None = None,
              train_fraction: float = 1.0, log_every: int = 10) -> ckpt.ModelCard:
        """Train until ``iterations`` in total (counting resumed ones); returns the saved card.

        ``train_fraction`` of every run of frames trains; the rest gives ``validation_l1``."""
        if data.size != self.model.arch.size:
            raise ValueError(f"faces are {data.size} px but the model is {self.model.arch.size}"
                             " px")
        train_centres, val_centres = data.split(train_fraction)
        if len(train_centres) == 0:
            raise ValueError(f"need at least {SYNC_FRAMES} consecutive frames with a face to "
                             "train lip-sync")
        start_iter = self.state.iteration
        started = last_save = time.monotonic()
        try:
            while self.state.iteration < iterations:
                losses, batch, fake = self.step(data, train_centres)
                done = self.state.iteration - start_iter
                rate = done / max(time.monotonic() - started, 1e-9)
                if self.state.iteration % log_every == 0 or self.state.iteration == iterations:
                    self.state.history.append({"iteration": self.state.iteration,
                                               **{k: v for k, v in asdict(losses).items()
                                                  if not math.isnan(v)}})
                if ckpt.checkpoint_due(self.state.iteration, time.monotonic() - last_save,
                                       self.config.checkpoint_every_s,
                                       self.config.checkpoint_every_iters):
                    self.save()
                    last_save = time.monotonic()
                if progress is not None:
                    want_preview = (done == 1  # something to look at at once
                                    or self.state.iteration % self.config.preview_every == 0)
                    left = iterations - self.state.iteration
                    progress(TrainProgress(
                        fraction=self.state.iteration / iterations,
                        message=(f"iteration {self.state.iteration}/{iterations} · "
                                 f"{losses.text()} · {rate:.2f} it/s"),
                        eta_s=left / rate if rate > 0 else None,
                        preview=self.preview(batch, fake) if want_preview else None,
                        iteration=self.state.iteration, total_iterations=iterations,
                        iters_per_s=rate, batch_size=self.batch_size,
                        losses={k: v for k, v in asdict(losses).items() if not math.isnan(v)}))
        except Cancelled:
            self.save()
            raise
        if len(val_centres):
            self.training_data["validation_l1"] = self.evaluate_l1(data, val_centres)
        return self.save()
