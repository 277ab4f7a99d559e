"""User settings: defaults, recent projects, round trip, broken and newer files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepstudio.persistence import settings as st


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("DEEPSTUDIO_CONFIG_DIR", str(folder))
    return folder


def test_defaults_without_a_file(config_dir: Path) -> None:
    settings = st.load_settings()
    assert settings.recent_projects == []
    assert settings.pref("autosave_minutes") == 1 and settings.pref("crf") == 18
    assert st.settings_path() == config_dir / "settings.json"


def test_round_trip_and_recent_list(config_dir: Path, tmp_path: Path) -> None:
    settings = st.load_settings()
    for i in range(12):
        settings.add_recent(tmp_path / f"p{i}.dstudio")
    settings.add_recent(tmp_path / "p5.dstudio")
    settings.preferences["crf"] = 20
    assert st.save_settings(settings)
    loaded = st.load_settings()
    assert len(loaded.recent_projects) == st.MAX_RECENT
    assert loaded.recent_projects[:2] == [str(tmp_path / "p5.dstudio"),
                                          str(tmp_path / "p11.dstudio")]
    assert loaded.recent_projects.count(str(tmp_path / "p5.dstudio")) == 1
    assert loaded.pref("crf") == 20 and loaded.pref("theme") == "system"


def test_corrupt_file_is_moved_aside(config_dir: Path) -> None:
    config_dir.mkdir()
    (config_dir / "settings.json").write_text("{nope")
    settings = st.load_settings()
    assert settings.recent_projects == [] and not settings.read_only
    assert (config_dir / "settings.json.bad").read_text() == "{nope"
    assert st.save_settings(settings)


def test_newer_file_is_read_but_never_overwritten(config_dir: Path) -> None:
    config_dir.mkdir()
    newer = {"schema_version": 9, "recent_projects": ["/a.dstudio"], "preferences": {"crf": 30},
             "cloud": {"x": 1}}
    (config_dir / "settings.json").write_text(json.dumps(newer))
    settings = st.load_settings()
    assert settings.read_only and settings.recent_projects == ["/a.dstudio"]
    assert settings.pref("crf") == 30
    assert st.save_settings(settings) is False
    assert json.loads((config_dir / "settings.json").read_text()) == newer


def test_cache_dir_honours_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    assert st.user_cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("DEEPSTUDIO_CACHE_DIR")
    assert "DeepStudio" in str(st.user_cache_dir())
