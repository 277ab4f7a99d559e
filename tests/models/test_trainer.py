"""Trainer mechanics: OOM back-off, cancellation, resume, preview, card bookkeeping."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from synth_faces import TINY_CONFIG, face_like_identities

from deepstudio.errors import Cancelled
from deepstudio.models import checkpoint
from deepstudio.models.device import is_out_of_memory, run_with_oom_backoff
from deepstudio.models.faceswap.trainer import FaceSwapTrainer, IdentityData, TrainConfig
from deepstudio.types import TrainProgress

EVAL_RATIO_LIMIT = 0.93
MOUTH_RATIO_LIMIT = 0.7


def test_backoff_halves_the_batch_until_the_step_fits() -> None:
    tried, released = [], []

    def step(batch: int) -> str:
        tried.append(batch)
        if batch > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return "ok"

    assert run_with_oom_backoff(step, 8, lambda: released.append(1)) == ("ok", 2)
    assert tried == [8, 4, 2] and len(released) == 2


def test_backoff_reraises_other_errors_and_oom_at_batch_one() -> None:
    def broken(batch: int) -> None:
        raise ValueError("not memory")

    with pytest.raises(ValueError):
        run_with_oom_backoff(broken, 8)

    def never_fits(batch: int) -> None:
        raise RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate; "
                           "out of memory")

    with pytest.raises(RuntimeError):
        run_with_oom_backoff(never_fits, 4)
    assert is_out_of_memory(torch.OutOfMemoryError("x")) and not is_out_of_memory(KeyError())


def test_trainer_survives_an_injected_oom_with_a_smaller_batch(
        tmp_path: Path, identities: list[IdentityData], tiny_config: TrainConfig) -> None:
    trainer = FaceSwapTrainer(tmp_path / "m.dsmodel", identities, tiny_config, device="cpu")
    real_forward = trainer._forward

    def forward_with_little_memory(faces: torch.Tensor, identity: int):
        if faces.shape[0] > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return real_forward(faces, identity)

    trainer._forward = forward_with_little_memory
    result = trainer.train(2)
    assert (result.iterations, result.batch_size) == (2, 2)
    _, state = checkpoint.load_train_state(tmp_path / "m.dsmodel")
    assert state["batch_size"] == 2


def test_cancel_from_progress_saves_and_returns(tmp_path: Path, identities: list[IdentityData],
                                                tiny_config: TrainConfig) -> None:
    seen: list[TrainProgress] = []

    def progress(p: TrainProgress) -> None:
        seen.append(p)
        if p.iteration == 3:
            raise Cancelled()

    config = replace(tiny_config, preview_every_s=0)
    result = FaceSwapTrainer(tmp_path / "m.dsmodel", identities, config,
                             device="cpu").train(100, progress)
    assert result.cancelled and result.iterations == 3
    card = checkpoint.load_card(tmp_path / "m.dsmodel")
    assert card.iterations == 3 and card.loss_history[-1]["iteration"] == 3
    last = seen[-1]
    assert last.preview is not None and last.preview.dtype == np.uint8
    assert last.preview.shape == (3 * 32, 4 * 32, 3)  # rows: sources, targets, swapped
    assert np.array_equal(last.preview[32:64, :32], identities[1].faces[0])
    assert last.iters_per_s > 0 and last.eta_s is not None and "loss/a" in last.losses
    assert 0 < last.fraction < 0.1


def test_resume_continues_iterations_and_optimizer(tiny_model: Path, identities: list[IdentityData],
                                                   tiny_config: TrainConfig) -> None:
    trainer = FaceSwapTrainer(tiny_model, identities, tiny_config, device="cpu")
    assert trainer.iteration == 2
    assert float(trainer.opt_g.state_dict()["state"][0]["step"]) == 2
    assert float(trainer.opt_probe.state_dict()["state"][0]["step"]) == 2
    result = trainer.train(4)
    assert result.iterations == 4
    card = checkpoint.load_card(tiny_model)
    assert card.consent_ids == ["consent-1"] and card.identities == ["a", "b"]
    assert card.training_data["faces"] == {"a": 8, "b": 8}
    with pytest.raises(ValueError, match="trained on identities"):
        FaceSwapTrainer(tiny_model, identities[::-1], tiny_config, device="cpu")


def _learning(seed: int, model: Path, learn: bool = True) -> dict[str, float]:
    """Evaluation loss (fixed faces, no augmentation) after 20 iterations over the same model
    untrained (same seed, same initial weights); ``ratio`` is the worse of the two people."""
    config = replace(TINY_CONFIG, learning_rate=5e-4 if learn else 0.0, seed=seed)
    trainer = FaceSwapTrainer(model, face_like_identities(), config, device="cpu")
    before = trainer.evaluate()
    trainer.train(20)
    after = trainer.evaluate()
    ratios = {key: after[key] / before[key] for key in before}
    return {"ratio": max(ratios.values()), **{f"ratio {k}": v for k, v in ratios.items()}}


def measure_learning(seed: int, workdir: Path, testdata: Path, learn: bool = True) -> dict:
    """The figures of :func:`_learning` (a probe of ``tests/learning_spread.py``)."""
    return _learning(seed, workdir / "m.dsmodel", learn)


def test_training_reduces_the_loss(tmp_path: Path) -> None:
    """The worse person's evaluation loss after 20 iterations over the same model untrained.

    Measured with ``python tests/learning_spread.py faceswap_synthetic`` over seeds 0-4 x
    torch threads 1, 2, 3 (native AVX-512) plus seeds 0-4 with the kernels capped to AVX2 and
    to SSE (25 runs): 0.747-0.833, median 0.777, sd 0.031. Learning rate 0 measures exactly
    1.000 (the evaluation is deterministic). The limit, 0.93, is the worst run plus 3 sd."""
    figures = _learning(0, tmp_path / "m.dsmodel")
    assert figures["ratio"] < EVAL_RATIO_LIMIT, figures


def _mouth_learning(architecture: str, seed: int, model: Path,
                    learn: bool = True) -> dict[str, float]:
    """Mean probe loss of the last 20 of 100 steps over the first 5 steps (a constant guess
    stays at ~1.0); ``ratio`` is the worse of the two people."""
    config = replace(TINY_CONFIG, architecture=architecture,
                     learning_rate=1e-3 if learn else 0.0, seed=seed)
    trainer = FaceSwapTrainer(model, face_like_identities(), config, device="cpu")
    steps = [trainer._train_step(8) for _ in range(100)]
    ratios = {name: np.mean([s[f"mouth/{name}"] for s in steps[-20:]])
              / np.mean([s[f"mouth/{name}"] for s in steps[:5]]) for name in ("a", "b")}
    return {"ratio": float(max(ratios.values())),
            **{f"ratio {k}": float(v) for k, v in ratios.items()}}


def measure_mouth_df(seed: int, workdir: Path, testdata: Path, learn: bool = True) -> dict:
    """The figures of :func:`_mouth_learning` for DF (a probe of ``tests/learning_spread.py``)."""
    return _mouth_learning("df", seed, workdir / "m.dsmodel", learn)


def measure_mouth_liae(seed: int, workdir: Path, testdata: Path, learn: bool = True) -> dict:
    """The figures of :func:`_mouth_learning` for LIAE (a probe of
    ``tests/learning_spread.py``)."""
    return _mouth_learning("liae", seed, workdir / "m.dsmodel", learn)


@pytest.mark.parametrize("architecture", ["df", "liae"])
def test_the_shared_code_learns_the_mouth_opening(tmp_path: Path, identities: list[IdentityData],
                                                  tiny_config: TrainConfig,
                                                  architecture: str) -> None:
    """One probe reads both people's mouth opening from the shared code; it learns, and
    data without measured openings trains without it.

    Means of 20 and of 5 steps, not single batches. Measured (``python
    tests/learning_spread.py faceswap_mouth_df faceswap_mouth_liae``): DF 0.465 (seed 0,
    1 thread), LIAE 0.390 / 0.414 (seed 0, 1 / 2 threads); the limit 0.7 leaves 0.24. The
    full grid (5 seeds x 3 thread counts x 3 instruction sets) has not been run yet."""
    figures = _mouth_learning(architecture, 0, tmp_path / "m.dsmodel")
    assert figures["ratio"] < MOUTH_RATIO_LIMIT, figures
    config = replace(tiny_config, architecture=architecture)
    unmeasured = [replace(d, mouth_open=None) for d in identities]
    plain = FaceSwapTrainer(tmp_path / "p.dsmodel", unmeasured, config, device="cpu")
    assert not any(k.startswith("mouth/") for k in plain._train_step(4))


def test_liae_trains_and_loads_for_inference(tmp_path: Path, identities: list[IdentityData],
                                             tiny_config: TrainConfig) -> None:
    from deepstudio.models.faceswap.inference import FaceSwapper

    config = replace(tiny_config, architecture="liae")
    FaceSwapTrainer(tmp_path / "l.dsmodel", identities, config, device="cpu").train(1)
    assert checkpoint.load_card(tmp_path / "l.dsmodel").architecture == "faceswap.liae"
    faces, masks = FaceSwapper(tmp_path / "l.dsmodel", device="cpu").swap(
        identities[1].faces[:2], "a")
    assert faces.shape == (2, 32, 32, 3) and masks.shape == (2, 32, 32)
    with pytest.raises(ValueError, match="unknown architecture"):
        FaceSwapTrainer(tmp_path / "x.dsmodel", identities,
                        replace(tiny_config, architecture="vae"), device="cpu")
