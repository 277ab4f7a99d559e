"""Fixtures for model tests: small face-like data and a tiny saved swap model."""

from __future__ import annotations

from pathlib import Path

import pytest
from synth_faces import TINY_CONFIG, face_like_identities

from deepstudio.models.faceswap.trainer import FaceSwapTrainer, IdentityData, TrainConfig


@pytest.fixture
def tiny_config() -> TrainConfig:
    """32 px, narrow layers, no timed checkpoints or previews: fast and deterministic."""
    return TINY_CONFIG


@pytest.fixture
def identities() -> list[IdentityData]:
    return face_like_identities()


@pytest.fixture
def tiny_model(tmp_path: Path, identities: list[IdentityData]) -> Path:
    """A DF model at 32 px trained for two iterations, saved with optimizer state."""
    model_dir = tmp_path / "tiny.dsmodel"
    FaceSwapTrainer(model_dir, identities, TINY_CONFIG, device="cpu",
                    consent_ids=["consent-1"]).train(2)
    return model_dir
