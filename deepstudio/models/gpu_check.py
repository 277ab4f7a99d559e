"""``python -m deepstudio.models.gpu_check``: what the models do on this machine's device.

Prints the model-level figures of issue 22 (``deepstudio bench --gpu`` adds a 1080p render):

* device, torch, CUDA and cuDNN versions;
* training it/s of face swap (DF and LIAE, each resolution, AMP on and off, at the default batch
  and at the largest batch that fits) and of lip-sync, each **end to end** (sampling and
  augmentation on the CPU, the transfer, the step) beside **step only** (the same step on a
  batch already on the device): their ratio is the share of time the data path costs;
* inference parity: the largest difference, in 8-bit levels, between the CPU in fp32 and the
  device in fp32 / fp16 / bf16, for both models.

Without CUDA it says so in one line and measures the CPU at reduced sizes (its parity figure
then compares the CPU's fp32 with its own bf16 autocast). Asserts nothing; rates are timed
over a window after a warm-up step, with the device synchronised.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from deepstudio.models.device import Compute, is_out_of_memory, pick_device
from deepstudio.models.faceswap.bench import noise_identity, untrained_model
from deepstudio.models.faceswap.inference import FaceSwapper
from deepstudio.models.faceswap.trainer import FaceSwapTrainer, TrainConfig, default_dims
from deepstudio.models.lipsync.dataset import LipSyncData
from deepstudio.models.lipsync.inference import LipSyncer
from deepstudio.models.lipsync.mel import MEL_WINDOW, N_MELS
from deepstudio.models.lipsync.networks import CPU_ARCH, WAV2LIP_ARCH, LipSyncArch
from deepstudio.models.lipsync.trainer import LipSyncTrainConfig, LipSyncTrainer

Figures = dict[str, object]
T = TypeVar("T")


@dataclass(frozen=True)
class Plan:
    """What to measure on a kind of device."""

    swap_resolutions: tuple[int, ...]
    precisions: tuple[str, ...]
    """Training precisions: "auto" is the device's AMP choice, "fp32" AMP off."""
    swap_batch: int
    lipsync_arch: LipSyncArch
    lipsync_batch: int
    largest_batch_cap: int | None
    """Search the largest batch that fits up to this (doubling); None: no search."""
    seconds: float
    """Timing window of each rate."""
    parity_precisions: tuple[str, ...]


GPU_PLAN = Plan(swap_resolutions=(128, 256), precisions=("auto", "fp32"), swap_batch=8,
                lipsync_arch=WAV2LIP_ARCH, lipsync_batch=16, largest_batch_cap=128,
                seconds=1.5, parity_precisions=("fp32", "fp16", "bf16"))
CPU_PLAN = Plan(swap_resolutions=(64,), precisions=("fp32", "bf16"), swap_batch=8,
                lipsync_arch=CPU_ARCH, lipsync_batch=4, largest_batch_cap=None,
                seconds=2.0, parity_precisions=("bf16",))


def plan_for(device: torch.device) -> Plan:
    return GPU_PLAN if device.type == "cuda" else CPU_PLAN


def environment(device: torch.device) -> Figures:
    """Device and library versions."""
    figures: Figures = {"torch": torch.__version__, "cpu_cores": os.cpu_count(),
                        "cpu": platform.processor() or platform.machine()}
    if device.type != "cuda":
        figures.update(device="cpu", torch_threads=torch.get_num_threads())
        return figures
    props = torch.cuda.get_device_properties(device)
    figures.update(device=torch.cuda.get_device_name(device), cuda=torch.version.cuda,
                   cudnn=torch.backends.cudnn.version(),
                   compute_capability=f"{props.major}.{props.minor}",
                   memory_gb=round(props.total_memory / 2**30, 1),
                   bf16=torch.cuda.is_bf16_supported())
    return figures


def rate(step: Callable[[], object], compute: Compute, seconds: float,
         min_steps: int = 3) -> float:
    """Steps per second of ``step`` after one warm-up call, over at least ``seconds``."""
    step()
    compute.synchronize()
    count, start = 0, time.perf_counter()
    while count < min_steps or time.perf_counter() - start < seconds:
        step()
        count += 1
    compute.synchronize()
    return count / (time.perf_counter() - start)


def largest_batch(try_batch: Callable[[int], object], release: Callable[[], None],
                  start: int, cap: int) -> int:
    """The largest of start, 2·start, … ≤ cap for which ``try_batch`` runs without running out
    of memory (0 when even ``start`` does not fit)."""
    fits, batch = 0, start
    while batch <= cap:
        try:
            try_batch(batch)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            release()
            break
        fits, batch = batch, batch * 2
    release()
    return fits


def data_path_rates(sample: Callable[[], T], optimise: Callable[[T], object],
                    compute: Compute, seconds: float, items: int) -> Figures:
    """Training rates end to end (``optimise(sample())``) and step only (``optimise`` on one
    sample kept on the device), their ratio, and ``items`` (faces or windows) per second."""
    step_only = _rate_on(sample(), optimise, compute, seconds)
    end_to_end = rate(lambda: optimise(sample()), compute, seconds)
    return {"it_s": round(end_to_end, 3), "step_only_it_s": round(step_only, 3),
            "e2e_vs_step": round(end_to_end / step_only, 3),
            "items_s": round(end_to_end * items, 1)}


def _rate_on(batch: T, optimise: Callable[[T], object], compute: Compute,
             seconds: float) -> float:
    return rate(lambda: optimise(batch), compute, seconds)


@contextmanager
def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="deepstudio-gpu-check-") as folder:
        yield Path(folder)


def swap_training(compute: Compute, architecture: str, resolution: int, batch: int,
                  seconds: float, cap: int | None) -> Figures:
    """Face-swap training rates (two identities, ``batch`` faces each) and, with ``cap``, the
    largest batch that fits and the rates there."""
    rng = np.random.default_rng(0)
    data = [noise_identity(name, 64, resolution, rng) for name in ("a", "b")]
    config = TrainConfig(architecture=architecture, resolution=resolution,
                         dims=default_dims(compute.device), batch_size=batch,
                         checkpoint_every_s=1e9, preview_every_s=1e9)
    with _scratch() as folder:
        trainer = FaceSwapTrainer(folder / "m.dsmodel", data, config, compute)

        def measure(size: int) -> Figures:
            return data_path_rates(lambda: trainer.sample_batches(size), trainer.optimise,
                                   compute, seconds, 2 * size)

        figures: Figures = {"batch": batch, **measure(batch)}
        if cap is not None:
            best = largest_batch(lambda size: trainer.optimise(trainer.sample_batches(size)),
                                 trainer.release_memory, batch, cap)
            figures["largest_batch"] = best
            if best > batch:
                figures["at_largest"] = measure(best)
    return figures


def noise_lipsync_data(size: int, frames: int, rng: np.random.Generator) -> LipSyncData:
    faces = rng.integers(0, 256, (frames, size, size, 3), dtype=np.uint8)
    mels = rng.uniform(-4, 4, (frames, N_MELS, MEL_WINDOW)).astype(np.float32)
    return LipSyncData(faces, mels, np.zeros(frames, np.int64),
                       rng.uniform(0, 1, frames).astype(np.float32))


def lipsync_training(compute: Compute, arch: LipSyncArch, batch: int,
                     seconds: float) -> Figures:
    """Lip-sync training rates (``batch`` windows of 5 frames; expert, generator with the sync
    loss switched on, and discriminator: the full step)."""
    data = noise_lipsync_data(arch.size, 64, np.random.default_rng(0))
    centres = data.centres()
    config = LipSyncTrainConfig(size=arch.size, width=arch.width, batch_size=batch,
                                checkpoint_every_s=1e9)
    with _scratch() as folder:
        trainer = LipSyncTrainer(folder / "l.dsmodel", config, compute)
        trainer.state.expert_ready = True  # the sync loss on: every network runs
        return {"batch": batch, **data_path_rates(
            lambda: trainer.prepare(data, centres, batch), trainer.optimise, compute, seconds,
            batch)}


def _levels(a: np.ndarray, b: np.ndarray, scale: float = 1.0) -> Figures:
    """Largest and mean absolute difference in 8-bit levels."""
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64)) * scale
    return {"max": round(float(diff.max()), 3), "mean": round(float(diff.mean()), 4)}


def untrained_lipsync_model(model_dir: Path, device: str | torch.device = "auto") -> Path:
    """Save a freshly initialised lip-sync model of the device's default size (as fast as a
    trained one, for speed and parity measurements)."""
    dev = pick_device(device)
    LipSyncTrainer(model_dir, LipSyncTrainConfig.for_device(dev), dev).save()
    return model_dir


def inference_parity(compute: Compute, plan: Plan, faces: int = 32) -> Figures:
    """Swap and lip-sync outputs on ``compute`` at each parity precision against the CPU in
    fp32, on random faces through randomly initialised models (one training step)."""
    rng = np.random.default_rng(1)
    cpu = Compute.choose("cpu")
    figures: Figures = {}
    with _scratch() as folder:
        resolution = plan.swap_resolutions[0]
        untrained_model(str(folder / "s.dsmodel"), resolution, compute.device.type)
        inputs = rng.integers(0, 256, (faces, resolution, resolution, 3), dtype=np.uint8)
        ref_faces, ref_masks = FaceSwapper(folder / "s.dsmodel", cpu).swap(inputs, 0)
        untrained_lipsync_model(folder / "l.dsmodel", compute.device)
        data = noise_lipsync_data(plan.lipsync_arch.size, faces, rng)
        reference = LipSyncer(folder / "l.dsmodel", cpu).generate(
            data.faces, data.faces[::-1], data.mels)
        for precision in plan.parity_precisions:
            target = compute.with_precision(precision)
            got_faces, got_masks = FaceSwapper(folder / "s.dsmodel", target).swap(inputs, 0)
            generated = LipSyncer(folder / "l.dsmodel", target).generate(
                data.faces, data.faces[::-1], data.mels)
            figures[precision] = {"swap_face": _levels(got_faces, ref_faces),
                                  "swap_mask": _levels(got_masks, ref_masks, 255.0),
                                  "lipsync_face": _levels(generated, reference)}
    return figures


def device_figures(device: str = "auto", report: Callable[[str], None] = print) -> Figures:
    """The device and versions; without CUDA, first a line saying the CPU is measured."""
    dev = pick_device(device)
    if dev.type != "cuda":
        plan = plan_for(dev)
        report(f"no CUDA device: measuring the CPU at reduced sizes "
               f"({'/'.join(map(str, plan.swap_resolutions))} px face swap, "
               f"{plan.lipsync_arch.size} px lip-sync)")
    figures: Figures = {"environment": environment(dev)}
    report(_line("environment", figures["environment"]))
    return figures


def model_figures(device: str = "auto", report: Callable[[str], None] = print) -> Figures:
    """Parity, then lip-sync and face-swap training rates, each reported when measured (the
    most important first: a run cut short by its time limit still has them)."""
    dev = pick_device(device)
    plan = plan_for(dev)
    figures: Figures = {}

    def add(key: str, value: Figures) -> None:
        figures[key] = value
        report(_line(key, value))

    add("parity_vs_cpu_fp32", inference_parity(Compute.choose(dev), plan))
    for precision in plan.precisions:
        compute = Compute.choose(dev, precision)
        add(f"train_lipsync_{plan.lipsync_arch.size}_{compute.precision}",
            lipsync_training(compute, plan.lipsync_arch, plan.lipsync_batch, plan.seconds))
    for precision in plan.precisions:
        compute = Compute.choose(dev, precision)
        for resolution in plan.swap_resolutions:
            for architecture in ("df", "liae"):
                add(f"train_swap_{architecture}_{resolution}_{compute.precision}",
                    swap_training(compute, architecture, resolution, plan.swap_batch,
                                  plan.seconds, plan.largest_batch_cap))
    return figures


def _line(key: str, value: object) -> str:
    return f"{key:34s} {json.dumps(value)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    figures = {**device_figures(args.device), **model_figures(args.device)}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
