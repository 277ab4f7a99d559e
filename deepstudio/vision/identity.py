"""Identity embeddings: dlib's 128-d face descriptor (ResNet, LFW 99.38 %), fully offline.

The model files come from the ``face-recognition-models`` package. Its ``__init__`` imports
``pkg_resources`` (gone from recent setuptools), so the files are located through the
import system without importing the package.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from deepstudio.errors import ModelFileError
from deepstudio.types import BBox, Frame

SAME_PERSON_DISTANCE = 0.6
"""Descriptors of one person are usually closer than this (dlib's own threshold)."""
DESCRIPTOR_SIZE = 128

_SHAPE_MODEL = "shape_predictor_5_face_landmarks.dat"
_DESCRIPTOR_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
_models: tuple[Any, Any] | None = None
_models_lock = threading.Lock()


def models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError("package face-recognition-models is not installed")
    return Path(spec.submodule_search_locations[0]) / "models"


def check_model_files() -> tuple[Path, Path]:
    """The shape predictor's and the descriptor network's files; ModelFileError if missing."""
    folder = models_dir()
    paths = folder / _SHAPE_MODEL, folder / _DESCRIPTOR_MODEL
    for path in paths:
        if not path.is_file():
            raise ModelFileError("model file missing", path)
    return paths


def _load_models() -> tuple[Any, Any]:
    """dlib's 5-point shape predictor and descriptor network, loaded once per process."""
    global _models
    with _models_lock:
        if _models is None:
            import dlib

            shape_model, descriptor_model = check_model_files()
            _models = (dlib.shape_predictor(str(shape_model)),
                       dlib.face_recognition_model_v1(str(descriptor_model)))
        return _models


class Embedder(Protocol):
    def embed(self, frame_rgb: Frame, bbox: BBox) -> np.ndarray:
        """The 128-d float32 descriptor of the face in ``bbox`` of an RGB uint8 frame."""
        ...


class FaceEmbedder:
    """Computes identity descriptors of faces given by their boxes.

    The box may come from FaceMesh (the landmark extent): dlib's 5-point predictor finds the
    eye corners and nose inside it and the network aligns its own 150 px chip from those.
    The shared models are only read, so one embedder may be used from several threads, but
    dlib holds the GIL while it works (~75 ms per face): where other threads must keep going,
    use :class:`~deepstudio.vision.embedding_process.EmbeddingProcess`.
    """

    def __init__(self) -> None:
        self._predictor, self._network = _load_models()

    def embed(self, frame_rgb: Frame, bbox: BBox) -> np.ndarray:
        """The 128-d float32 descriptor of the face in ``bbox`` of an RGB uint8 frame."""
        import dlib

        rect = dlib.rectangle(int(round(bbox.x0)), int(round(bbox.y0)),
                              int(round(bbox.x1)), int(round(bbox.y1)))
        image = np.ascontiguousarray(frame_rgb)
        shape = self._predictor(image, rect)
        descriptor = self._network.compute_face_descriptor(image, shape)
        return np.asarray(descriptor, dtype=np.float32)


def embedding_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance of two descriptors; below :data:`SAME_PERSON_DISTANCE` = same person."""
    return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))
