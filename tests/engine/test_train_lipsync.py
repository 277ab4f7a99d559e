"""Lip-sync training on real footage: data set from a talking-head clip, loss goes down."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from deepstudio.engine.train_lipsync import SpeakerFootage, build_lipsync_data, train_lipsync
from deepstudio.errors import MediaError
from deepstudio.models.checkpoint import ModelCard
from deepstudio.models.lipsync.inference import LipSyncer
from deepstudio.models.lipsync.mel import MEL_FLOOR
from deepstudio.models.lipsync.trainer import LipSyncTrainConfig, LipSyncTrainer
from deepstudio.types import Progress

FRAMES = 50  # two seconds of talk_b (25 fps)
TRAIN_FRACTION = 0.8
HELD_OUT_RATIO_LIMIT = 0.85
TRAIN_RATIO_LIMIT = 0.85
UPPER_ERROR_LIMIT = 37


@pytest.fixture(autouse=True)
def _one_thread():
    """The test machine's 2 cores are shared; under load 2 torch threads run ~10x slower
    than 1 (they spin waiting for each other)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_training_set_from_real_footage(testdata: Path, tmp_path: Path) -> None:
    footage = SpeakerFootage(testdata / "talk_b.mp4", start=10, end=10 + FRAMES)
    data, summary = build_lipsync_data([footage, footage], 64, cache_dir=tmp_path)
    assert data.faces.shape == (2 * FRAMES, 64, 64, 3) and data.mels.shape == (2 * FRAMES, 80, 16)
    # one run per piece: windows never join the two copies
    assert set(data.segments.tolist()) == {0, 1}
    assert len(data.centres()) == 2 * (FRAMES - 4)
    assert summary[0]["frames"] == FRAMES and summary[0]["track_id"] is not None
    # she is speaking: the audio windows are not silence, and the mouth area changes over time
    assert (data.mels > MEL_FLOOR + 1).mean() > 0.3
    mouth = data.faces[:FRAMES, 40:56, 20:44].astype(np.float32)
    assert mouth.std(axis=0).mean() > 3
    # the crops are aligned: the face sits in the same place in every frame
    assert np.abs(data.faces[:FRAMES, 10:30].astype(np.float32).mean(axis=(1, 2, 3))
                  - data.faces[0, 10:30].mean()).max() < 25


def test_sound_delay_trains_each_frame_with_later_audio(testdata: Path, tmp_path: Path):
    """Footage whose sound comes 3 frames after its picture: each frame gets the audio of 3
    frames later; the summary keeps the delay and the sync measured on the footage."""
    plain = SpeakerFootage(testdata / "talk_b.mp4", start=10, end=10 + FRAMES)
    delayed = SpeakerFootage(testdata / "talk_b.mp4", start=10, end=10 + FRAMES, sound_delay=3)
    data, summary = build_lipsync_data([plain, delayed], 64, cache_dir=tmp_path)
    assert np.array_equal(data.mels[FRAMES:2 * FRAMES - 3], data.mels[3:FRAMES])
    assert [s["sound_delay_frames"] for s in summary] == [0, 3]
    assert set(summary[0]["av_sync"]) == {"lag_frames", "correlation", "chance", "measured"}


def test_video_without_audio_is_a_clear_error(testdata: Path, tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"swap_a\.mp4: has no audio"):
        build_lipsync_data([SpeakerFootage(testdata / "swap_a.mp4", end=10)], 64, tmp_path)


def _train_tiny(seed: int, workdir: Path, testdata: Path, cache_dir: Path, learn: bool = True,
                reports: list[Progress] | None = None) -> tuple[ModelCard, dict]:
    """40 iterations on the first two seconds of talk_b (80 % trains, the rest is held out).

    The figures compare the trained model's L1 on fixed windows with the same model untrained
    (same seed, so the same initial weights): the held-out windows and the training windows."""
    config = LipSyncTrainConfig(size=64, width=0.125, batch_size=2, lr=1e-3 if learn else 0.0,
                                preview_every=1000, seed=seed)
    footage = [SpeakerFootage(testdata / "talk_b.mp4", end=FRAMES)]
    data, _ = build_lipsync_data(footage, 64, cache_dir=cache_dir)
    train, held_out = data.split(TRAIN_FRACTION)
    untrained = LipSyncTrainer(workdir / "untrained.dsmodel", config, torch.device("cpu"))
    before = {"held_out": untrained.evaluate_l1(data, held_out),
              "train": untrained.evaluate_l1(data, train)}
    out = workdir / "talk_b.dsmodel"
    card = train_lipsync(footage, out, config, iters=40, device="cpu",
                         progress=None if reports is None else reports.append,
                         train_fraction=TRAIN_FRACTION, cache_dir=cache_dir)
    trained = LipSyncTrainer(out, config, torch.device("cpu"))
    after = {"held_out": card.training_data["validation_l1"],
             "train": trained.evaluate_l1(data, train)}
    # the upper half comes from the input, so a trained model reproduces it closely
    generated = LipSyncer(out, device="cpu").generate(data.faces[:8], data.faces[7::-1],
                                                      data.mels[:8])
    upper = np.abs(generated[:, :32].astype(int) - data.faces[:8, :32].astype(int)).mean()
    figures = {"ratio": after["held_out"] / before["held_out"],
               "train_ratio": after["train"] / before["train"], "upper_error": float(upper),
               "held_out_l1": after["held_out"], "untrained_held_out_l1": before["held_out"]}
    return card, figures


def measure_learning(seed: int, workdir: Path, testdata: Path, learn: bool = True) -> dict:
    """The figures of :func:`_train_tiny` (a probe of ``tests/learning_spread.py``)."""
    return _train_tiny(seed, workdir, testdata, workdir.parent / "analysis-cache", learn)[1]


def test_tiny_training_run_on_real_footage_reduces_the_loss(testdata: Path,
                                                            tmp_path: Path) -> None:
    """The trained model's L1 on held-out and on training windows, each against the same
    model untrained (paired, deterministic windows; single-batch losses are too noisy).

    Measured with ``python tests/learning_spread.py lipsync_real_footage`` (8 runs: seeds 0-4
    on 1 thread, native AVX-512; kernels capped to AVX2: seeds 0-1 on 1 thread, seed 0 on 3):
    held-out ratio 0.540-0.746, upper-half error 24.4-32.7. The same run with
    learning rate 0 (BatchNorm statistics still adapt) measures 0.927 and 40.9, so the limits
    (0.85, 37) sit about midway between the worst trained run and a trainer that learns
    nothing. The old check (last single batch < 0.85 x the first) failed on another CPU.
    """
    reports: list[Progress] = []
    card, figures = _train_tiny(0, tmp_path, testdata, tmp_path, reports=reports)
    assert card.iterations == 40 and len(card.loss_history) == 4
    assert figures["ratio"] < HELD_OUT_RATIO_LIMIT, figures
    assert figures["train_ratio"] < TRAIN_RATIO_LIMIT, figures
    assert card.training_data["footage"][0]["frames"] == FRAMES
    assert reports[-1].fraction == pytest.approx(1.0)
    assert any("iteration 40/40" in r.message for r in reports)
    assert figures["upper_error"] < UPPER_ERROR_LIMIT, figures
