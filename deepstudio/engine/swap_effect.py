"""The face-swap effect: align the bound face, run the swap model, colour-match, paste back.

All faces of a batch of frames go through the model in one call. Frames where the bound face
is missing pass through untouched. The alignment uses the analysis' temporally smoothed
landmarks, so the pasted face does not jitter.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from deepstudio.core.project import Effect
from deepstudio.engine.compositing import (
    colour_transfer,
    occluder_mask,
    paste_face,
    refine_mask,
)
from deepstudio.engine.effects import EffectContext, EffectProcessor, FrameItem, register_processor
from deepstudio.errors import ModelFileError
from deepstudio.vision import facemesh as fm
from deepstudio.vision.align import (
    DEFAULT_COVERAGE,
    alignment_matrix,
    face_mask,
    hull_mask,
    transform_points,
)

KEEP_OUT = (fm.LEFT_EYE, fm.RIGHT_EYE, fm.LIPS_OUTER)
"""Face parts that are meant to differ from skin colour (never taken for occluders)."""


def model_folder(context: EffectContext, model_id: str | None) -> Path:
    """The folder of a project model (by id), or a model path given directly."""
    if not model_id:
        raise ModelFileError("no model chosen for the effect (pick one in the inspector)")
    ref = context.project.models.get(model_id)
    return context.resolve(ref.path if ref is not None else model_id)


@register_processor("face_swap")
class FaceSwapProcessor(EffectProcessor):
    """Applies one face-swap effect (model loaded once, lazily: torch only when used)."""

    def __init__(self, effect: Effect, context: EffectContext) -> None:
        super().__init__(effect, context)
        from deepstudio.models.faceswap.inference import FaceSwapper

        self.swapper = FaceSwapper(model_folder(context, effect.params.get("model")),
                                   context.device)
        card = self.swapper.card
        self.coverage = float(card.training_data.get("coverage", DEFAULT_COVERAGE))
        self.size = max(self.swapper.resolution, 128)
        self.identity = effect.params.get("identity") or card.identities[0]

    def apply(self, items: list[FrameItem]) -> None:
        jobs = []
        for item in items:
            for face in item.faces_of(self.effect):
                strength = float(self.effect.param_at("strength", item.index))
                if strength <= 0:
                    continue
                jobs.append((item, face, strength))
        if not jobs:
            return
        crops, matrices = [], []
        for item, face, _ in jobs:
            matrix = self._matrix(face.landmarks, item.index)
            crops.append(_warp(item.image, matrix, self.size))
            matrices.append(matrix)
        with self.context.times.measure("model"):
            swapped, masks = self.swapper.swap(np.stack(crops), self.identity)
        p = self.effect.params
        for (item, face, strength), crop, matrix, out, model_mask in zip(
                jobs, crops, matrices, swapped, masks):
            points = transform_points(face.landmarks, matrix)
            hull = face_mask(points, crop.shape, feather_px=0)
            mask = np.minimum(model_mask, np.maximum(hull, 0.0))
            if p.get("occlusion", True):
                keep_out = hull_mask_union(points, crop.shape)
                mask *= occluder_mask(crop, hull, keep_out)
            mask = refine_mask(mask, int(p.get("mask_erode", 2)), int(p.get("mask_blur", 8)))
            out = colour_transfer(out, crop, mask, p.get("colour", "reinhard"))
            inverse = _invert(matrix)
            item.image = paste_face(item.image, out, mask * strength, inverse,
                                    p.get("blend", "feather"))

    def _matrix(self, landmarks: np.ndarray, frame: int) -> np.ndarray:
        """Frame -> crop alignment, with the user's scale and offset of the pasted face."""
        matrix = alignment_matrix(landmarks, self.size, self.coverage)
        scale = float(self.effect.param_at("face_scale", frame))
        dx = float(self.effect.param_at("offset_x", frame)) * self.size
        dy = float(self.effect.param_at("offset_y", frame)) * self.size
        if scale == 1.0 and dx == 0 and dy == 0:
            return matrix
        # Crop-space adjustment: scaling the crop by 1/scale about its centre makes the
        # pasted face `scale` times larger; shifting the crop moves the face the other way.
        c = self.size / 2
        adjust = np.array([[1 / scale, 0, c - c / scale - dx / scale],
                           [0, 1 / scale, c - c / scale - dy / scale]])
        return _compose(adjust, matrix)

    def close(self) -> None:
        self.swapper = None


def hull_mask_union(points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Mask of :data:`KEEP_OUT`, slightly grown."""
    out = np.zeros(shape[:2], np.float32)
    for region in KEEP_OUT:
        out = np.maximum(out, hull_mask(points[list(region), :2], shape, 0.0, -3.0))
    return out


def _warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """outer ∘ inner for 2x3 affine matrices."""
    a = np.vstack([outer, [0, 0, 1]])
    b = np.vstack([inner, [0, 0, 1]])
    return (a @ b)[:2]


def _invert(matrix: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(matrix)
