"""The device helpers on the CPU: the same code paths a CUDA run takes, forced on here.

Autocast in bf16 and fp16 (with the gradient scaler), channels_last, uint8 transfers,
memory-sized batches, the out-of-memory back-off (an injected ``torch.OutOfMemoryError``),
torch.compile, and checkpoints that move between precisions and devices.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from deepstudio.models import checkpoint
from deepstudio.models.device import (
    Compute,
    activation_bytes,
    amp_dtype,
    batch_for_memory,
    map_batches,
)
from deepstudio.models.faceswap.inference import FaceSwapper
from deepstudio.models.faceswap.networks import DFNet
from deepstudio.models.faceswap.trainer import FaceSwapTrainer, IdentityData, TrainConfig

CPU = torch.device("cpu")


def _oom(message: str = "CUDA out of memory (injected)") -> torch.OutOfMemoryError:
    return torch.OutOfMemoryError(message)


def test_precision_choice_per_device() -> None:
    assert amp_dtype(CPU) is None  # fp32 on the CPU unless asked
    assert amp_dtype(CPU, "bf16") is torch.bfloat16
    assert amp_dtype(CPU, "fp16") is torch.float16
    assert amp_dtype(torch.device("cuda"), "fp32") is None
    with pytest.raises(ValueError, match="unknown precision"):
        amp_dtype(CPU, "int8")
    plain = Compute.choose("cpu")
    assert (plain.amp, plain.channels_last, plain.pin_memory, plain.compile_backend) == (
        None, False, False, None)
    assert plain.precision == "fp32" and plain.with_precision("bf16").precision == "bf16"


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_autocast_and_scaler_follow_the_precision(precision: str) -> None:
    compute = Compute.choose("cpu", precision)
    net = compute.module(DFNet(32, 2, 8, 32, 8))
    faces = compute.images(torch.rand(2, 3, 32, 32))
    with compute.autocast():
        face, _mask = net(faces, 0)
    assert face.dtype == compute.amp
    assert net(faces, 0)[0].dtype == torch.float32  # outside the region: fp32
    assert compute.grad_scaler().is_enabled() == (precision == "fp16")


def test_uint8_images_cross_as_bytes_and_convert_on_the_device() -> None:
    images = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    for compute in (Compute(CPU), Compute(CPU, channels_last=True)):
        tensor = compute.images_from_uint8(images)
        expected = torch.from_numpy(images.transpose(0, 3, 1, 2).astype(np.float32) / 255)
        assert tensor.shape == (3, 3, 8, 8) and torch.equal(tensor, expected)
        assert tensor.is_contiguous(memory_format=compute.memory_format)
    with pytest.raises(ValueError, match="uint8"):
        Compute(CPU).images_from_uint8(images.astype(np.float32))


def test_channels_last_gives_the_same_swap(tiny_model: Path,
                                           identities: list[IdentityData]) -> None:
    faces = identities[1].faces
    plain = FaceSwapper(tiny_model, Compute(CPU))
    nhwc = FaceSwapper(tiny_model, Compute(CPU, channels_last=True))
    weight = next(p for p in nhwc.net.parameters() if p.ndim == 4)
    assert weight.is_contiguous(memory_format=torch.channels_last)
    a, b = plain.swap(faces, "a"), nhwc.swap(faces, "a")
    assert np.abs(a[0].astype(int) - b[0].astype(int)).max() <= 1
    assert np.allclose(a[1], b[1], atol=1e-4)


def test_inference_batches_are_sized_by_free_memory_where_it_is_known(
        tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert FaceSwapper(tiny_model, "cpu").batch_size == 16  # host memory: the default
    monkeypatch.setattr(Compute, "free_memory_bytes", lambda self: 64 << 20)
    swapper = FaceSwapper(tiny_model, "cpu")
    per_face = activation_bytes(swapper.net, torch.zeros(1, 3, 32, 32), 0)
    assert swapper.batch_size == min(256, (32 << 20) // per_face) > 16


def test_batch_size_arithmetic() -> None:
    assert batch_for_memory(10 << 20, None, 16) == 16  # nothing to size by: the default
    assert batch_for_memory(10 << 20, 1 << 30, 16) == 51  # half of 1 GiB / 10 MiB
    assert batch_for_memory(10 << 20, 1 << 20, 16) == 1
    assert batch_for_memory(1, 1 << 40, 16) == 256  # capped
    net = DFNet(64, 2, 8, 32, 8)
    small = activation_bytes(net, torch.zeros(1, 3, 64, 64), 0)
    two = activation_bytes(net, torch.zeros(2, 3, 64, 64), 0)
    assert small > 64 * 64 * 4 * 4 and two == 2 * small  # per face, linear in the batch


def test_an_out_of_memory_slice_is_split_and_later_slices_stay_small() -> None:
    seen, released = [], []

    def run(part: slice) -> list[int]:
        seen.append(part.stop - part.start)
        if part.stop - part.start > 3:
            raise _oom()
        return list(range(part.start, part.stop))

    parts, size = map_batches(run, 11, 8, lambda: released.append(1))
    assert [i for part in parts for i in part] == list(range(11)) and size == 2
    assert seen[:3] == [8, 4, 2] and max(seen[3:]) == 2 and len(released) == 2
    with pytest.raises(ValueError):
        map_batches(lambda part: (_ for _ in ()).throw(ValueError("other")), 4, 2)


def test_swap_inference_splits_a_batch_that_runs_out_of_memory(
        tiny_model: Path, identities: list[IdentityData]) -> None:
    faces = identities[1].faces
    expected = FaceSwapper(tiny_model, "cpu", batch_size=8).swap(faces, "a")
    swapper = FaceSwapper(tiny_model, "cpu", batch_size=8)
    real = swapper._forward

    def little_memory(batch: torch.Tensor, identity: int):
        if batch.shape[0] > 2:
            raise _oom()
        return real(batch, identity)

    swapper._forward = little_memory
    got = swapper.swap(faces, "a")
    assert swapper.batch_size == 2
    assert np.array_equal(got[0], expected[0]) and np.allclose(got[1], expected[1])


def test_compiled_inference_matches_eager(tiny_model: Path,
                                          identities: list[IdentityData]) -> None:
    """The compile switch wraps the network; aot_eager traces it (graph capture and autograd
    decomposition) without needing a C compiler, so the test is quick."""
    faces = identities[1].faces
    eager = FaceSwapper(tiny_model, Compute(CPU)).swap(faces, "b")
    compiled = FaceSwapper(tiny_model, Compute(CPU, compile_backend="aot_eager"))
    assert compiled._forward is not compiled.net
    got = compiled.swap(faces, "b")
    assert np.abs(got[0].astype(int) - eager[0].astype(int)).max() <= 1


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_checkpoint_saved_under_autocast_resumes_in_fp32_and_infers(
        tmp_path: Path, identities: list[IdentityData], tiny_config: TrainConfig,
        precision: str) -> None:
    """Train under autocast (as on CUDA), save, load with a device of our choosing, resume
    in fp32 on another Compute, infer: weights and optimizer state are device-free."""
    model_dir = tmp_path / "m.dsmodel"
    mixed = FaceSwapTrainer(model_dir, identities, tiny_config, Compute.choose("cpu", precision))
    result = mixed.train(3)
    assert np.isfinite(list(result.losses.values())).all()
    weights = checkpoint._read_tensors(model_dir, checkpoint.load_card(model_dir),
                                       checkpoint.WEIGHTS)
    assert {t.dtype for t in weights.values()} == {torch.float32}
    assert all(t.device.type == "cpu" and t.is_contiguous() for t in weights.values())

    net, card = checkpoint.load_model(model_dir, Compute(CPU, channels_last=True))
    assert card.iterations == 3 and next(net.parameters()).device == CPU

    resumed = FaceSwapTrainer(model_dir, identities, tiny_config, Compute.choose("cpu"))
    assert resumed.iteration == 3 and resumed.opt_g.state_dict()["state"]
    before = {k: v.clone() for k, v in resumed.net.state_dict().items()}
    resumed.train(5)
    assert resumed.iteration == 5
    assert any(not torch.equal(before[k], v) for k, v in resumed.net.state_dict().items())
    faces, masks = FaceSwapper(model_dir, Compute.choose("cpu", precision)).swap(
        identities[1].faces, "a")
    assert faces.shape == identities[1].faces.shape and np.isfinite(masks).all()


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_training_goes_on_with_half_the_batch_after_an_injected_oom_under_autocast(
        tmp_path: Path, identities: list[IdentityData], tiny_config: TrainConfig,
        precision: str) -> None:
    """The OOM comes in the discriminator's own step, after the generator's optimizer has
    stepped through the gradient scaler (which refuses a second step before an update)."""
    trainer = FaceSwapTrainer(tmp_path / "m.dsmodel", identities,
                              replace(tiny_config, batch_size=8),
                              Compute.choose("cpu", precision))
    real = trainer.disc.forward

    def disc_with_little_memory(faces: torch.Tensor) -> torch.Tensor:
        training_disc = next(trainer.disc.parameters()).requires_grad
        if training_disc and faces.shape[0] > 8:  # both identities together: 2 x batch
            raise _oom()
        return real(faces)

    trainer.disc.forward = disc_with_little_memory
    result = trainer.train(3)
    assert (result.iterations, result.batch_size) == (3, 4)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_dssim_stays_fp32_under_autocast(precision: str) -> None:
    """Its variances are differences of blurred squares: in fp16 they cancel to zero and
    negative denominators, the gradient overflows at every loss scale and the generator
    never steps (seen on the CPU before the loss was kept in fp32)."""
    from deepstudio.models.faceswap.losses import dssim

    rng = torch.Generator().manual_seed(0)
    pred = torch.rand(2, 3, 32, 32, generator=rng, requires_grad=True)
    target = torch.rand(2, 3, 32, 32, generator=rng)
    exact = dssim(pred, target, 3)
    with Compute.choose("cpu", precision).autocast():
        mixed = dssim(pred, target, 3)
    assert mixed.dtype == torch.float32 and torch.equal(mixed, exact)
    mixed.sum().backward()
    assert torch.isfinite(pred.grad).all()
