"""A render and a batch exported as Open Job Description jobs, validated and run by the
reference implementation (``openjd check`` / ``openjd run``, from openjd-cli)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deepstudio.cli.main import main
from deepstudio.engine.verify import verify_file
from deepstudio.media.probe import probe

pytest.importorskip("openjd", reason="openjd-cli is in the farm extra")
REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _openjd(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}  # the tasks run this checkout
    return subprocess.run([str(BIN / "openjd"), *args], capture_output=True, text=True,
                          env=env, timeout=600)


def test_a_render_exported_as_a_job_runs_under_openjd(testdata, tmp_path, capsys):
    out, bundle = tmp_path / "shots" / "talk.mp4", tmp_path / "bundle"
    out.parent.mkdir()
    assert main(["render", str(testdata / "talk_b.mp4"), "--effect", "debug", "-o", str(out),
                 "--end", "2", "--chunk-seconds", "0.8", "--openjd", str(bundle)]) == 0
    assert "3 chunk tasks" in capsys.readouterr().out and not out.exists()
    template = json.loads((bundle / "template.json").read_text())
    assert [s["name"] for s in template["steps"]] == ["render-1-chunks", "render-1-finish"]
    checked = _openjd("check", str(bundle / "template.json"))
    assert checked.returncode == 0, checked.stdout + checked.stderr

    ran = _openjd("run", str(bundle / "template.json"), "--step", "render-1-finish",
                  "--run-dependencies", "-p", f"DeepStudio={BIN / 'deepstudio'}")
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert probe(out).frame_count == 50 and probe(out).has_audio
    report = verify_file(out)
    assert report.credentials.valid and report.payload_matches
    assert not any((out.parent / ".deepstudio-work").iterdir())  # work folders removed


def test_a_batch_exports_as_one_job_with_steps_per_render(testdata, tmp_path, capsys):
    queue = tmp_path / "q.dsbatch"
    for clip in ("talk_a", "talk_b"):
        assert main(["batch", "add", "--queue", str(queue), "--", "render",
                     str(testdata / f"{clip}.mp4"), "-o", str(tmp_path / f"{clip}.mp4"),
                     "--end", "1"]) == 0
    assert main(["batch", "add", "--queue", str(queue), "--", "render",
                 str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "x.mp4")]) == 0
    capsys.readouterr()
    assert main(["batch", "export-openjd", "--queue", str(queue), str(tmp_path / "job"),
                 "-q"]) == 2  # one item could not be planned: left out, and said so
    streams = capsys.readouterr()
    assert "item 3 left out" in streams.err and "missing.mp4" in streams.err
    assert "job for 2 renders" in streams.out
    template = json.loads((tmp_path / "job" / "template.json").read_text())
    assert [s["name"] for s in template["steps"]] == [
        "render-1-chunks", "render-1-finish", "render-2-chunks", "render-2-finish"]
    assert template["steps"][3]["dependencies"] == [{"dependsOn": "render-2-chunks"}]
    checked = _openjd("check", str(tmp_path / "job" / "template.json"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
