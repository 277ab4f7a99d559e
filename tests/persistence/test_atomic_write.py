"""Atomic writes replace whole files, keep permissions and leave no temp files behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from deepstudio.persistence.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text


def test_writes_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    atomic_write_json(target, {"x": [1, 2], "name": "Ä"})
    assert json.loads(target.read_text(encoding="utf-8")) == {"x": [1, 2], "name": "Ä"}
    atomic_write_text(target, "short")
    assert target.read_text() == "short"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_keeps_mode_of_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    target.chmod(0o640)
    atomic_write_bytes(target, b"new")
    assert target.stat().st_mode & 0o777 == 0o640


def test_unserialisable_json_touches_nothing(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    target.write_text("old")
    with pytest.raises(TypeError):
        atomic_write_json(target, {"ok": 1, "bad": {1, 2}})
    with pytest.raises(ValueError):
        atomic_write_json(target, {"nan": float("nan")})
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_interrupted_replace_keeps_old_and_cleans_up(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
