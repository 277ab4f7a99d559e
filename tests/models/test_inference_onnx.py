"""FaceSwapper on batches, and the ONNX export agreeing with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepstudio.errors import ModelFileError
from deepstudio.models.faceswap.inference import FaceSwapper
from deepstudio.models.faceswap.onnx_io import OnnxFaceSwapper, export_onnx
from deepstudio.models.faceswap.trainer import IdentityData


def _batch(identities: list[IdentityData], size: int) -> np.ndarray:
    import cv2

    return np.stack([cv2.resize(f, (size, size)) for f in identities[1].faces[:5]])


def test_swap_returns_faces_and_masks_at_the_input_size(
        tiny_model: Path, identities: list[IdentityData]) -> None:
    swapper = FaceSwapper(tiny_model, device="cpu", batch_size=2)
    assert swapper.identities == ["a", "b"] and swapper.resolution == 32
    faces, masks = swapper.swap(_batch(identities, 48), "a")
    assert faces.shape == (5, 48, 48, 3) and faces.dtype == np.uint8
    assert masks.shape == (5, 48, 48) and masks.dtype == np.float32
    assert masks.min() >= 0 and masks.max() <= 1
    by_index, _ = swapper.swap(_batch(identities, 48), 0)
    assert np.array_equal(faces, by_index)  # batched in twos, same as any batching
    empty, empty_masks = swapper.swap(np.zeros((0, 48, 48, 3), np.uint8), "a")
    assert empty.shape == (0, 48, 48, 3) and empty_masks.shape == (0, 48, 48)
    with pytest.raises(ValueError, match="not in this model"):
        swapper.swap(_batch(identities, 32), "carol")


def test_onnx_export_matches_pytorch(tiny_model: Path, identities: list[IdentityData],
                                     tmp_path: Path) -> None:
    out = export_onnx(tiny_model, tmp_path / "to_a.onnx", "a")
    onnx_swapper = OnnxFaceSwapper(out)
    assert (onnx_swapper.identity, onnx_swapper.resolution) == ("a", 32)
    faces = _batch(identities, 32)
    torch_faces, torch_masks = FaceSwapper(tiny_model, device="cpu").swap(faces, "a")
    onnx_faces, onnx_masks = onnx_swapper.swap(faces, "a")
    assert np.abs(torch_faces.astype(int) - onnx_faces).max() <= 1
    np.testing.assert_allclose(torch_masks, onnx_masks, atol=1e-4)
    with pytest.raises(ValueError, match="swaps to 'a'"):
        onnx_swapper.swap(faces, "b")


def test_onnx_loader_refuses_other_files(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="not a loadable ONNX model"):
        OnnxFaceSwapper(bogus)


def test_untrained_bench_model_loads_for_inference(tmp_path: Path) -> None:
    from deepstudio.models.faceswap.bench import untrained_model

    names = untrained_model(str(tmp_path / "bench.dsmodel"), 32, "cpu")
    swapper = FaceSwapper(tmp_path / "bench.dsmodel", device="cpu")
    assert swapper.identities == list(names) and swapper.resolution == 32
    faces, _ = swapper.swap(np.zeros((2, 40, 40, 3), np.uint8), names[0])
    assert faces.shape == (2, 40, 40, 3)
