"""Lip-sync trainer mechanics on tiny synthetic data: progress, checkpoints, resume, cancel."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from deepstudio.errors import Cancelled, ModelFileError
from deepstudio.models.checkpoint import load_card, load_model, load_train_state
from deepstudio.models.device import Compute
from deepstudio.models.lipsync.dataset import LipSyncData, sample_batch, vary_voice
from deepstudio.models.lipsync.inference import LipSyncer
from deepstudio.models.lipsync.networks import SYNC_FRAMES, LipSyncModel
from deepstudio.models.lipsync.trainer import LipSyncTrainConfig, LipSyncTrainer
from deepstudio.types import Progress

TINY = LipSyncTrainConfig(size=64, width=0.125, batch_size=2, lr=1e-3, preview_every=2,
                          expert_ready_loss=0.7)
MOUTH_RATIO_LIMIT = 0.5


@pytest.fixture(autouse=True)
def _one_thread():
    """The test machine is shared; with other jobs running, more torch threads only contend."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _data(frames: int = 40, runs: int = 2) -> LipSyncData:
    """Faces whose mouth brightness follows the first mel band, so audio predicts the mouth."""
    rng = np.random.default_rng(0)
    loud = rng.uniform(-4, 4, frames).astype(np.float32)
    mels = np.repeat(loud[:, None, None], 80 * 16, axis=1).reshape(frames, 80, 16)
    faces = np.full((frames, 64, 64, 3), 90, dtype=np.uint8)
    faces[:, 40:56, 16:48] = ((loud + 4) * 30).astype(np.uint8)[:, None, None, None]
    segments = np.repeat(np.arange(runs), frames // runs)
    return LipSyncData(faces, mels, segments, mouth_open=loud)


def test_windows_never_cross_runs_and_references_come_from_elsewhere() -> None:
    data = _data(40, 2)
    centres = data.centres()
    assert set(centres.tolist()) == set(range(2, 18)) | set(range(22, 38))
    train, val = data.split(0.5)
    assert len(train) == 16 and set(val.tolist()) == {15, 16, 17, 35, 36, 37}
    batch = sample_batch(data, train, 6, np.random.default_rng(1))
    assert batch.targets.shape == (30, 64, 64, 3) and batch.mels.shape == (30, 80, 16)
    assert batch.sync_mels.shape == (6, 80, 16)
    # the centre frame of each window is paired with its own mel window
    np.testing.assert_array_equal(batch.mels[2::5], batch.sync_mels)
    with pytest.raises(ValueError, match="faces must be"):
        LipSyncData(np.zeros((3, 64, 32, 3), np.uint8), np.zeros((3, 80, 16)), np.zeros(3))


def test_voice_variation_changes_each_sample_one_way() -> None:
    rng = np.random.default_rng(3)
    data = _data(40, 2)
    data.mels[:] = rng.uniform(-3, 3, data.mels.shape[1:]).astype(np.float32)  # one sound
    batch = sample_batch(data, data.centres(), 6, rng)
    varied = vary_voice(batch, rng)
    assert varied.mels.shape == batch.mels.shape and varied.targets is batch.targets
    assert varied.mels.min() >= -4 and varied.mels.max() <= 4
    # a sample's frames, its in-sync and its out-of-sync windows hear the same voice ...
    per_sample = varied.mels.reshape(6, 5, 80, 16)
    np.testing.assert_array_equal(per_sample, np.repeat(per_sample[:, :1], 5, axis=1))
    np.testing.assert_array_equal(varied.sync_mels, per_sample[:, 2])
    np.testing.assert_array_equal(varied.off_mels, per_sample[:, 2])
    # ... different samples different voices, and the sound's course in time is kept
    assert len({per_sample[i, 0].tobytes() for i in range(6)}) == 6
    inner = slice(8, 72)  # bands away from the edges the shift repeats
    steps = np.abs(np.diff(varied.sync_mels[:, inner], axis=2))
    original = np.abs(np.diff(batch.sync_mels[:, inner], axis=2))
    np.testing.assert_allclose(steps.mean(), original.mean(), rtol=0.1)


def test_training_reports_progress_saves_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "speaker.dsmodel"
    data = _data()
    reports: list[Progress] = []
    trainer = LipSyncTrainer(out, TINY, torch.device("cpu"), {"note": "synthetic"})
    card = trainer.train(data, 4, reports.append, train_fraction=0.5, log_every=2)
    assert [round(p.fraction, 2) for p in reports] == [0.25, 0.5, 0.75, 1.0]
    assert "l1" in reports[0].message and "it/s" in reports[0].message
    assert reports[-1].eta_s == 0 and reports[0].eta_s > 0
    assert [p.iteration for p in reports] == [1, 2, 3, 4] and "l1" in reports[0].losses
    # a preview at once (the first iteration of a run), then every preview_every
    previews = [p.preview for p in reports if p.preview is not None]
    assert len(previews) == 3 and previews[0].shape == (2 * 64, 4 * 64, 3)
    assert previews[0].dtype == np.uint8
    assert card.iterations == 4 and len(card.loss_history) == 2
    assert card.training_data["note"] == "synthetic" and "validation_l1" in card.training_data
    assert load_card(out).kwargs == {"size": 64, "width": 0.125, "channel_order": "rgb"}
    model, _ = load_model(out)
    assert isinstance(model, LipSyncModel)
    optimizer_state, trainer_state = load_train_state(out)
    assert set(optimizer_state) == {"generator", "expert", "discriminator", "mouth_probe"}
    assert trainer_state["iteration"] == 4

    resumed = LipSyncTrainer(out, TINY, torch.device("cpu"))
    assert resumed.state.iteration == 4
    for name, param in resumed.model.state_dict().items():
        torch.testing.assert_close(param, trainer.model.state_dict()[name], msg=name)
    assert resumed.opt_g.state_dict()["state"][0]["step"] == 4
    torch.testing.assert_close(resumed.mouth_probe.weight, trainer.mouth_probe.weight)
    card = resumed.train(data, 6)
    assert card.iterations == 6 and load_card(out).iterations == 6

    syncer = LipSyncer(out, device="cpu")
    faces = syncer.generate(data.faces[:3], data.faces[5:8], data.mels[:3])
    assert faces.shape == (3, 64, 64, 3) and faces.dtype == np.uint8


def _mouth_learning(seed: int, model: Path, learn: bool = True) -> dict[str, float]:
    """Mean probe loss of the last 10 of 60 steps over the mean of the first 5."""
    config = replace(TINY, seed=seed, lr=TINY.lr if learn else 0.0)
    data = _data(60, 2)
    trainer = LipSyncTrainer(model, config, torch.device("cpu"))
    centres = data.centres()
    losses = [trainer.step(data, centres)[0].mouth for _ in range(60)]
    return {"ratio": float(np.mean(losses[-10:]) / np.mean(losses[:5]))}


def measure_mouth_probe(seed: int, workdir: Path, testdata: Path, learn: bool = True) -> dict:
    """The figures of :func:`_mouth_learning` (a probe of ``tests/learning_spread.py``)."""
    return _mouth_learning(seed, workdir / "probe.dsmodel", learn)


def test_the_audio_embedding_learns_the_mouth_opening(tmp_path: Path) -> None:
    """The probe loss (mouth opening read from the generator's audio embedding) falls when the
    audio predicts the mouth, and the probe is off for data without measured openings.

    Means of 10 and of 5 steps, not single batches. Measured (``python
    tests/learning_spread.py lipsync_mouth_probe``): 0.098 (seed 0, 1 thread) against the
    limit 0.5. The full grid (5 seeds x 3 thread counts x 3 instruction sets) has not been
    run yet."""
    figures = _mouth_learning(0, tmp_path / "probe.dsmodel")
    assert figures["ratio"] < MOUTH_RATIO_LIMIT, figures
    data = _data(60, 2)
    trainer = LipSyncTrainer(tmp_path / "plain.dsmodel", TINY, torch.device("cpu"))
    without = LipSyncData(data.faces, data.mels, data.segments)
    assert np.isnan(trainer.step(without, data.centres())[0].mouth)


def test_cancel_from_the_callback_keeps_a_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "cancelled.dsmodel"

    def cancel_at_three(report: Progress) -> None:
        if report.fraction >= 0.3:
            raise Cancelled()

    with pytest.raises(Cancelled):
        LipSyncTrainer(out, TINY, torch.device("cpu")).train(_data(), 10, cancel_at_three)
    assert load_card(out).iterations == 3
    assert LipSyncTrainer(out, TINY, torch.device("cpu")).state.iteration == 3


def test_a_folder_of_another_model_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "other.dsmodel"
    out.mkdir()
    (out / "card.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="not JSON"):
        LipSyncTrainer(out, TINY, torch.device("cpu"))


def test_mouth_weights_peak_on_the_template_mouth_and_average_one() -> None:
    import torch

    from deepstudio.models.lipsync.trainer import mouth_weights

    w = mouth_weights(64, 4.0, torch.device("cpu"))[0, 0]
    assert abs(float(w.mean()) - 1.0) < 1e-5
    row, col = divmod(int(torch.argmax(w)), 64)
    assert (row, col) in {(43, 31), (43, 32), (44, 31), (44, 32)}  # (0.5, 0.685) of 64 px
    assert float(w[10, 5]) < float(w.max()) / 3  # forehead and cheeks count far less
    assert torch.allclose(mouth_weights(64, 0.0, torch.device("cpu")), torch.ones(1, 1, 64, 64))


def test_out_of_memory_halves_the_windows_under_autocast_and_resume_keeps_the_size(
        tmp_path: Path) -> None:
    """The CUDA path's structure on the CPU: bf16 autocast, an injected OutOfMemoryError in
    the discriminator while the judges are frozen for the generator's step, training going
    on with half the windows (the expert trainable again), the size surviving a resume."""
    out = tmp_path / "speaker.dsmodel"
    config = replace(TINY, batch_size=4)
    trainer = LipSyncTrainer(out, config, Compute.choose("cpu", "bf16"))
    real = trainer.model.discriminator.forward

    def discriminator_with_little_memory(faces: torch.Tensor) -> torch.Tensor:
        if faces.shape[0] > 2 * SYNC_FRAMES:
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return real(faces)

    trainer.model.discriminator.forward = discriminator_with_little_memory
    card = trainer.train(_data(), 3)
    assert card.iterations == 3 and trainer.batch_size == 2
    assert load_train_state(out)[1]["batch_size"] == 2
    assert LipSyncTrainer(out, config, "cpu").batch_size == 2


def test_generation_splits_a_batch_that_runs_out_of_memory(tmp_path: Path) -> None:
    out = tmp_path / "speaker.dsmodel"
    LipSyncTrainer(out, TINY, "cpu").save()
    data = _data()
    expected = LipSyncer(out, "cpu", batch_size=8).generate(data.faces[:7], data.faces[7:14],
                                                            data.mels[:7])
    syncer = LipSyncer(out, "cpu", batch_size=8)
    real = syncer._forward

    def little_memory(faces: torch.Tensor, mels: torch.Tensor) -> torch.Tensor:
        if faces.shape[0] > 3:
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return real(faces, mels)

    syncer._forward = little_memory
    got = syncer.generate(data.faces[:7], data.faces[7:14], data.mels[:7])
    assert syncer.batch_size == 2 and np.array_equal(got, expected)
