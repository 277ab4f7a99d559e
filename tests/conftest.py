"""Shared fixtures: the real test media beside the repository and tiny generated media."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from synth import make_index_video

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTDATA = (REPO_ROOT / ".." / "shared" / "testdata").resolve()


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The folder of real third-party clips (never copied into the repository)."""
    if not (TESTDATA / "MANIFEST.md").is_file():
        pytest.fail(f"test media not found at {TESTDATA} (expected ../shared/testdata)")
    return TESTDATA


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Keep settings, caches and the signing key of tests out of the real user folders."""
    home = tmp_path_factory.getbasetemp() / "user-dirs"
    monkeypatch.setenv("DEEPSTUDIO_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("DEEPSTUDIO_CACHE_DIR", str(home / "cache"))


@pytest.fixture(scope="session")
def index_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_index_video(tmp_path_factory.mktemp("media") / "index.mp4")
