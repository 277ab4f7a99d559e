"""The face-swap training job: two facesets in, a resumable ``NAME.dsmodel`` folder out.

Consent is checked by the session layer before this runs; the consent record ids it passes
are stored in the model card. Calling this again on the same ``out_model`` resumes training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from deepstudio.engine.faceset import Faceset, load_faceset
from deepstudio.models.faceswap.losses import eyes_mouth_map
from deepstudio.models.faceswap.trainer import FaceSwapTrainer, IdentityData, TrainConfig
from deepstudio.types import ProgressCallback, TrainResult
from deepstudio.vision.measures import mouth_openings


def identity_data(faceset: Faceset) -> IdentityData:
    """Training arrays of a faceset, with eye/mouth priority maps and mouth openings from its
    landmarks."""
    priorities = np.stack([eyes_mouth_map(points, faceset.size) for points in faceset.landmarks])
    opening = mouth_openings(faceset.landmarks)
    return IdentityData(faceset.identity, faceset.faces, faceset.masks, priorities, opening)


def _summary(faceset: Faceset) -> dict[str, Any]:
    source = faceset.meta.get("source", {})
    return {"identity": faceset.identity, "faces": len(faceset.faces), "size": faceset.size,
            "source_hash": source.get("content_hash"), "track_id": faceset.meta.get("track_id"),
            "pose_range": faceset.meta.get("pose_range")}


def train_faceswap(src_dir: str | Path, dst_dir: str | Path, out_model: str | Path,
                   res: int | None = None, iters: int = 100_000, device: str = "auto",
                   progress: ProgressCallback | None = None, consent_ids: Sequence[str] = (),
                   config: TrainConfig | None = None) -> TrainResult:
    """Train (or resume) a model that puts the ``src_dir`` face onto ``dst_dir`` footage.

    ``res`` overrides ``config.resolution`` for a new model (None: by device). Training stops
    at ``iters`` total iterations or when ``progress`` raises Cancelled; both save the model.
    """
    config = config or TrainConfig()
    if res is not None:
        config = replace(config, resolution=res)
    src, dst = load_faceset(src_dir), load_faceset(dst_dir)
    trainer = FaceSwapTrainer(out_model, [identity_data(src), identity_data(dst)], config,
                              device=device, consent_ids=consent_ids,
                              training_data={"src": _summary(src), "dst": _summary(dst)})
    return trainer.train(iters, progress)
