"""Original Wav2Lip / SyncNet / discriminator files load into our networks at 96 px.

The published layouts are written out below independently of our module code (module names,
layer order, channel counts and kernel sizes from the Wav2Lip paper and release), and files with
that layout are generated with random tensors and ``torch.save``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from deepstudio.errors import ModelFileError
from deepstudio.models.lipsync.inference import LipSyncer
from deepstudio.models.lipsync.networks import (
    WAV2LIP_ARCH,
    LipSyncGenerator,
    QualityDiscriminator,
    SyncExpert,
    masked_input,
)
from deepstudio.models.lipsync.original_checkpoints import load_original

R = "res"  # a residual 3x3 conv keeping the channel count

AUDIO = [(1, 32, 3), R, R, (32, 64, 3), R, R, (64, 128, 3), R, R, (128, 256, 3), R,
         (256, 512, 3), (512, 512, 1)]
GENERATOR = {
    "face_encoder_blocks": [
        [(6, 16, 7)], [(16, 32, 3), R, R], [(32, 64, 3), R, R, R], [(64, 128, 3), R, R],
        [(128, 256, 3), R, R], [(256, 512, 3), R], [(512, 512, 3), (512, 512, 1)]],
    "face_decoder_blocks": [
        [(512, 512, 1)], [("T", 1024, 512, 3), R], [("T", 1024, 512, 3), R, R],
        [("T", 768, 384, 3), R, R], [("T", 512, 256, 3), R, R], [("T", 320, 128, 3), R, R],
        [("T", 160, 64, 3), R, R]],
}
SYNCNET_FACE = [(15, 32, 7), (32, 64, 5), R, R, (64, 128, 3), R, R, R, (128, 256, 3), R, R,
                (256, 512, 3), R, R, (512, 512, 3), (512, 512, 3), (512, 512, 1)]
SYNCNET_AUDIO = [*AUDIO[:11], R, *AUDIO[11:]]
DISC = [[(3, 32, 7)], [(32, 64, 5), (64, 64, 5)], [(64, 128, 5), (128, 128, 5)],
        [(128, 256, 5), (256, 256, 5)], [(256, 512, 3), (512, 512, 3)],
        [(512, 512, 3), (512, 512, 3)], [(512, 512, 3), (512, 512, 1)]]


def _block(state: dict, prefix: str, spec: tuple, channels: int, batchnorm: bool = True) -> int:
    if spec == R:
        spec = (channels, channels, 3)
    transposed = spec[0] == "T"
    cin, cout, k = spec[1:] if transposed else spec
    shape = (cin, cout, k, k) if transposed else (cout, cin, k, k)
    state[f"{prefix}.conv_block.0.weight"] = torch.randn(shape) * (2 / (cin * k * k)) ** 0.5
    state[f"{prefix}.conv_block.0.bias"] = torch.randn(cout) * 0.05
    if batchnorm:
        state[f"{prefix}.conv_block.1.weight"] = 1 + 0.1 * torch.randn(cout)
        state[f"{prefix}.conv_block.1.bias"] = 0.1 * torch.randn(cout)
        state[f"{prefix}.conv_block.1.running_mean"] = 0.1 * torch.randn(cout)
        state[f"{prefix}.conv_block.1.running_var"] = 0.5 + torch.rand(cout)
        state[f"{prefix}.conv_block.1.num_batches_tracked"] = torch.tensor(1000)
    return cout


def _sequence(state: dict, prefix: str, specs: list, batchnorm: bool = True) -> None:
    channels = 0
    for i, spec in enumerate(specs):
        channels = _block(state, f"{prefix}.{i}", spec, channels, batchnorm)


def _blocks(state: dict, prefix: str, blocks: list, batchnorm: bool = True) -> None:
    for b, specs in enumerate(blocks):
        _sequence(state, f"{prefix}.{b}", specs, batchnorm)


def original_generator_state() -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    _blocks(state, "face_encoder_blocks", GENERATOR["face_encoder_blocks"])
    _sequence(state, "audio_encoder", AUDIO)
    _blocks(state, "face_decoder_blocks", GENERATOR["face_decoder_blocks"])
    _block(state, "output_block.0", (80, 32, 3), 0)
    state["output_block.1.weight"] = torch.randn(3, 32, 1, 1) * 0.2
    state["output_block.1.bias"] = torch.zeros(3)
    return state


def original_syncnet_state() -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    _sequence(state, "face_encoder", SYNCNET_FACE)
    _sequence(state, "audio_encoder", SYNCNET_AUDIO)
    return state


def original_disc_state() -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    _blocks(state, "face_encoder_blocks", DISC, batchnorm=False)
    state["binary_pred.0.weight"] = torch.randn(1, 512, 1, 1) * 0.05
    state["binary_pred.0.bias"] = torch.zeros(1)
    return state


def _save_release(path: Path, state: dict[str, torch.Tensor]) -> Path:
    """Like the published files: DataParallel prefixes, optimizer state and counters beside."""
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()},
                "optimizer": {"state": {0: {"step": torch.tensor(5.0)}}, "param_groups": []},
                "global_step": 123, "global_epoch": 4}, path)
    return path


def _direct(module: torch.nn.Module, state: dict[str, torch.Tensor]) -> torch.nn.Module:
    module.load_state_dict(state, strict=True)
    return module.eval()


@torch.no_grad()
def test_original_generator_layout_loads_and_matches(tmp_path: Path) -> None:
    torch.manual_seed(0)
    state = original_generator_state()
    kind, loaded = load_original(_save_release(tmp_path / "wav2lip_gan.pth", state))
    assert kind == "generator" and isinstance(loaded, LipSyncGenerator)
    assert sum(v.numel() for k, v in state.items() if "num_batches" not in k) == sum(
        p.numel() for p in loaded.state_dict().values() if p.dtype.is_floating_point)
    direct = _direct(LipSyncGenerator(WAV2LIP_ARCH), state)
    faces, mels = torch.rand(2, 6, 96, 96), torch.randn(2, 1, 80, 16)
    out = loaded(faces, mels)
    assert out.shape == (2, 3, 96, 96)
    torch.testing.assert_close(out, direct(faces, mels), rtol=0, atol=0)
    assert out.std() > 1e-3  # a real, input-dependent output, not a constant

    # the inference wrapper takes the same file, feeds it BGR and returns RGB uint8
    syncer = LipSyncer(tmp_path / "wav2lip_gan.pth", device="cpu")
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (3, 96, 96, 3), dtype=np.uint8)
    refs = rng.integers(0, 256, (3, 96, 96, 3), dtype=np.uint8)
    windows = rng.standard_normal((3, 80, 16)).astype(np.float32)
    result = syncer.generate(rgb, refs, windows)

    def as_bgr(images: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(images[..., ::-1].copy()).permute(0, 3, 1, 2).float() / 255

    expected = direct(masked_input(as_bgr(rgb), as_bgr(refs)), torch.from_numpy(windows)[:, None])
    expected = (expected * 255).round().byte().permute(0, 2, 3, 1).numpy()[..., ::-1]
    assert result.dtype == np.uint8 and result.shape == (3, 96, 96, 3)
    assert np.abs(result.astype(int) - expected.astype(int)).max() <= 1


@torch.no_grad()
def test_original_syncnet_and_discriminator_layouts_load(tmp_path: Path) -> None:
    torch.manual_seed(1)
    sync_state = original_syncnet_state()
    kind, expert = load_original(_save_release(tmp_path / "lipsync_expert.pth", sync_state),
                                 expect="sync_expert")
    assert kind == "sync_expert"
    faces, mels = torch.rand(3, 15, 48, 96), torch.randn(3, 1, 80, 16)
    torch.testing.assert_close(expert.sync_probability(faces, mels),
                               _direct(SyncExpert(), sync_state).sync_probability(faces, mels))
    disc_state = original_disc_state()
    kind, disc = load_original(_save_release(tmp_path / "visual_quality_disc.pth", disc_state))
    assert kind == "discriminator"
    frames = torch.rand(3, 3, 96, 96)
    torch.testing.assert_close(disc(frames), _direct(QualityDiscriminator(), disc_state)(frames))


def test_wrong_files_give_model_file_errors(tmp_path: Path) -> None:
    sync_path = _save_release(tmp_path / "expert.pth", original_syncnet_state())
    with pytest.raises(ModelFileError, match="holds a sync expert, not a generator"):
        load_original(sync_path, expect="generator")
    state = original_disc_state()
    state["face_encoder_blocks.1.0.conv_block.0.weight"] = torch.zeros(64, 32, 3, 3)
    bad_shape = _save_release(tmp_path / "bad.pth", state)
    with pytest.raises(ModelFileError, match=r"wrong shape, e\.g\. face_encoder_blocks\.1\.0"):
        load_original(bad_shape)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(ModelFileError, match=r"garbage\.pth: not a loadable PyTorch weights file"):
        load_original(garbage)
    with pytest.raises(ModelFileError, match="no such checkpoint file"):
        load_original(tmp_path / "missing.pth")


class _Payload:
    """Pickles as a call that would create a marker file if the loader executed code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_a_checkpoint_with_code_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "hook": _Payload(marker)}, path)
    with pytest.raises(ModelFileError, match="not a loadable PyTorch weights file"):
        load_original(path)
    assert not marker.exists()
