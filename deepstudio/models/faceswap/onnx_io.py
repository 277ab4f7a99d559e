"""Export one swap direction to ONNX, and run such a file with onnxruntime.

The ONNX graph maps float32 (N, 3, R, R) in [0, 1] to ``face`` (N, 3, R, R) and ``mask``
(N, 1, R, R); the batch axis is dynamic. Pre/post-processing is the same numpy code as
:class:`~deepstudio.models.faceswap.inference.FaceSwapper`, so both give the same ``swap()``.
The file's metadata names the identity, the resolution and the source model card's sha256.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import torch

from deepstudio.errors import ModelFileError
from deepstudio.models.checkpoint import card_sha256, load_model
from deepstudio.models.faceswap.inference import (
    finish_faces,
    identity_index,
    outputs_to_images,
    prepare_faces,
)
from deepstudio.models.faceswap.networks import FaceSwapNet, SwapDirection

OPSET = 17


def export_onnx(model_dir: str | Path, out_path: str | Path, identity: str | int) -> Path:
    """Write the ``-> identity`` direction of the model in ``model_dir`` as an ONNX file."""
    net, card = load_model(model_dir)
    if not isinstance(net, FaceSwapNet):
        raise ModelFileError(f"{card.architecture} is not a face-swap model", model_dir)
    index = identity_index(card.identities, identity)
    out_path = Path(out_path)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    example = torch.rand(1, 3, net.resolution, net.resolution)
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated but needs no onnxscript, unlike dynamo=True.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(SwapDirection(net, index).eval(), (example,), str(tmp), dynamo=False,
                          input_names=["faces"], output_names=["face", "mask"],
                          dynamic_axes={"faces": {0: "n"}, "face": {0: "n"}, "mask": {0: "n"}},
                          opset_version=OPSET)
    proto = onnx.load(str(tmp))
    for key, value in {"deepstudio.identity": card.identities[index],
                       "deepstudio.identity_index": str(index),
                       "deepstudio.resolution": str(net.resolution),
                       "deepstudio.card_sha256": card_sha256(model_dir)}.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(tmp))
    tmp.replace(out_path)
    return out_path


class OnnxFaceSwapper:
    """Runs an exported swap direction with onnxruntime; ``swap()`` as in FaceSwapper."""

    def __init__(self, onnx_path: str | Path, providers: list[str] | None = None) -> None:
        path = Path(onnx_path)
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), providers=providers or ["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelFileError(f"not a loadable ONNX model ({exc})", path) from exc
        meta = self.session.get_modelmeta().custom_metadata_map
        try:
            self.identity = meta["deepstudio.identity"]
            self.identity_index = int(meta["deepstudio.identity_index"])
            self.resolution = int(meta["deepstudio.resolution"])
        except (KeyError, ValueError) as exc:
            raise ModelFileError("ONNX file was not exported by DeepStudio", path) from exc

    def swap(self, faces: np.ndarray, to_identity: str | int) -> tuple[np.ndarray, np.ndarray]:
        """Same contract as :meth:`FaceSwapper.swap`; ``to_identity`` must be the exported one."""
        if to_identity not in (self.identity, self.identity_index):
            raise ValueError(f"this ONNX file swaps to {self.identity!r}, not {to_identity!r}")
        size = np.asarray(faces).shape[1]
        face, mask = self.session.run(["face", "mask"],
                                      {"faces": prepare_faces(faces, self.resolution)})
        return finish_faces(*outputs_to_images(face, mask), size)
