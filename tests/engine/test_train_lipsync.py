"""Lip-sync training on real footage: data set from a talking-head clip, loss goes down."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from deepstudio.engine.train_lipsync import SpeakerFootage, build_lipsync_data, train_lipsync
from deepstudio.errors import MediaError
from deepstudio.models.lipsync.inference import LipSyncer
from deepstudio.models.lipsync.mel import MEL_FLOOR
from deepstudio.models.lipsync.trainer import LipSyncTrainConfig
from deepstudio.types import Progress

FRAMES = 50  # two seconds of talk_b (25 fps)


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


def test_tiny_training_run_on_real_footage_reduces_the_loss(testdata: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "talk_b.dsmodel"
    config = LipSyncTrainConfig(size=64, width=0.125, batch_size=2, lr=1e-3,
                                preview_every=1000)
    reports: list[Progress] = []
    card = train_lipsync([SpeakerFootage(testdata / "talk_b.mp4", end=FRAMES)], out, config,
                         iters=40, device="cpu", progress=reports.append, train_fraction=0.8,
                         cache_dir=tmp_path)
    assert card.iterations == 40
    l1 = [entry["l1"] for entry in card.loss_history]
    assert len(l1) == 4
    # losses of single batches are noisy; the trend and the held-out frames both improve
    assert l1[-1] < 0.85 * l1[0], l1
    assert card.training_data["validation_l1"] < 0.85 * l1[0]
    assert card.training_data["footage"][0]["frames"] == FRAMES
    assert reports[-1].fraction == pytest.approx(1.0)
    assert any("iteration 40/40" in r.message for r in reports)

    syncer = LipSyncer(out, device="cpu")
    data, _ = build_lipsync_data([SpeakerFootage(testdata / "talk_b.mp4", end=8)], 64, tmp_path)
    generated = syncer.generate(data.faces, data.faces[::-1], data.mels)
    assert generated.shape == data.faces.shape
    # the upper half comes from the input, so a trained model reproduces it closely
    upper = np.abs(generated[:, :32].astype(int) - data.faces[:, :32].astype(int)).mean()
    assert upper < 40
