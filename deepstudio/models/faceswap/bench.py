"""Training and inference speed of the swap model on this machine (prints figures).

``python -m deepstudio.models.faceswap.bench --res 64 --iters 10 --device cpu``
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from deepstudio.models.faceswap.inference import FaceSwapper
from deepstudio.models.faceswap.trainer import FaceSwapTrainer, IdentityData, TrainConfig


def noise_identity(name: str, n: int, size: int, rng: np.random.Generator) -> IdentityData:
    """Random pixels: speed does not depend on content, and no media is needed."""
    faces = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    ones = np.ones((n, size, size), np.float32)
    return IdentityData(name, faces, ones, np.zeros_like(ones))


def _trainer(model_dir: str, resolution: int | None, device: str, batch_size: int,
             architecture: str) -> tuple[FaceSwapTrainer, list[IdentityData]]:
    rng = np.random.default_rng(0)
    data = [noise_identity(n, 32, resolution or 64, rng) for n in ("a", "b")]
    config = TrainConfig(architecture=architecture, resolution=resolution,
                         batch_size=batch_size, checkpoint_every_s=1e9, preview_every_s=1e9)
    return FaceSwapTrainer(model_dir, data, config, device=device), data


def untrained_model(model_dir: str, resolution: int | None = 64,
                    device: str = "auto") -> list[str]:
    """Save a swap model after one step on noise: it runs exactly as fast as a trained one of
    the same size, for speed measurements. ``resolution`` None: the device's default (and
    widths). Returns its identity names."""
    trainer, data = _trainer(model_dir, resolution, device, 8, "df")
    trainer.train(1)
    return [d.name for d in data]


def run(resolution: int, iterations: int, device: str, batch_size: int,
        architecture: str) -> dict[str, float]:
    """Seconds per training iteration (after one warm-up) and milliseconds per swapped face."""
    with tempfile.TemporaryDirectory() as folder:
        trainer, data = _trainer(f"{folder}/bench.dsmodel", resolution, device, batch_size,
                                 architecture)
        trainer.train(1)
        start = time.perf_counter()
        trainer.train(1 + iterations)
        per_iter = (time.perf_counter() - start) / iterations
        swapper = FaceSwapper(trainer.model_dir, device=device, batch_size=batch_size)
        swapper.swap(data[1].faces[:batch_size], "a")
        start = time.perf_counter()
        swapper.swap(data[1].faces, "a")
        per_face = (time.perf_counter() - start) / len(data[1].faces)
        params = sum(p.numel() for p in trainer.net.parameters())
    return {"s_per_iter": per_iter, "ms_per_face": per_face * 1000, "params_m": params / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--res", type=int, default=64)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--arch", default="df", choices=("df", "liae"))
    args = parser.parse_args()
    figures = run(args.res, args.iters, args.device, args.batch, args.arch)
    print(f"{args.arch} {args.res} px, batch {args.batch} per identity, {args.device}: "
          f"{figures['s_per_iter']:.3f} s/iter ({1 / figures['s_per_iter']:.2f} it/s), "
          f"inference {figures['ms_per_face']:.1f} ms/face, {figures['params_m']:.1f} M params")


if __name__ == "__main__":
    main()
