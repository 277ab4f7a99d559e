"""Pieces of ``deepstudio bench --gpu`` and of the GPU run (tests/gpu/run.sh) checked here.

The GPU machine lacks most of the project's libraries (see tests/gpu/carry.sh), so the import
chains the run relies on are checked with those libraries made unimportable.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deepstudio.cli.bench_gpu import stage_breakdown

REPO = Path(__file__).resolve().parents[2]
NOT_ON_THE_GPU_IMAGE = ("mediapipe", "dlib", "face_recognition_models", "PySide6", "shiboken6")
NOT_CARRIED_EITHER = ("av", "c2pa", "imageio_ffmpeg", "cryptography", "platformdirs")

BLOCKER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
sys.meta_path.insert(0, Block())
"""


def _python_without(blocked: tuple[str, ...], code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'tests'}"}
    return subprocess.run([sys.executable, "-c", BLOCKER.format(blocked=set(blocked)) + code],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_stage_breakdown_takes_the_model_out_of_the_effects() -> None:
    stages = stage_breakdown({"decode": 1.0, "effects": 5.0, "model": 2.0, "watermark": 0.5,
                              "encode": 3.0}, 4.0)
    assert stages == {"decode": 1.0, "analysis": 4.0, "model": 2.0, "compositing": 3.0,
                      "watermark": 0.5, "encode": 3.0}


def test_model_figures_and_gpu_tests_import_with_only_the_gpu_images_libraries() -> None:
    done = _python_without(NOT_ON_THE_GPU_IMAGE + NOT_CARRIED_EITHER,
                           "import deepstudio.models.gpu_check, models.test_gpu; print('ok')")
    assert done.stdout.strip() == "ok", done.stderr


def test_the_render_bench_needs_no_analysis_libraries_once_the_clip_is_prepared() -> None:
    done = _python_without(NOT_ON_THE_GPU_IMAGE, (
        "from deepstudio.cli.main import build_parser\n"
        "args = build_parser().parse_args(['bench', '--gpu', '--clip-dir', 'x'])\n"
        "import deepstudio.cli.bench_gpu, deepstudio.engine.render, deepstudio.engine.analyse\n"
        "import deepstudio.engine.swap_effect, deepstudio.engine.lipsync_effect\n"
        "print(args.gpu)"))
    assert done.stdout.strip() == "True", done.stderr


@pytest.mark.slow
def test_a_prepared_clip_renders_where_mediapipe_is_missing(tmp_path: Path) -> None:
    """The GPU run's flow on the CPU: prepare (generate + analyse) here, then render both
    effects in a process where the analysis libraries cannot be imported."""
    from deepstudio.cli.bench_gpu import prepared_clip

    prepared_clip(tmp_path / "clip", 1.0, report=lambda line: None)
    done = _python_without(NOT_ON_THE_GPU_IMAGE, (
        "import json, pathlib\n"
        "from deepstudio.cli.bench_gpu import prepared_clip, render_figures\n"
        f"root = pathlib.Path({str(tmp_path)!r})\n"
        "work = root / 'work'; work.mkdir()\n"
        "figures = render_figures(prepared_clip(root / 'clip', 1.0), work, 'cpu', print)\n"
        "print(json.dumps(figures))"))
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    for key in ("render_swap", "render_lipsync"):
        assert f'"{key}"' in last and '"compositing"' in last and '"model"' in last
