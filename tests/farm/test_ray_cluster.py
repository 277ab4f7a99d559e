"""Renders on a real Ray cluster (a head and a worker node on 127.0.0.1): the same frames and
sound as a local render, disclosed alike, and resumed after a worker or the driver dies.

The default run renders with a model effect; the same check with the debug effect and a batch
on the cluster are marked slow (``pytest -m slow tests/farm``)."""

from __future__ import annotations

import json
import shutil
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from loopback import cluster_unavailable

from deepstudio.cli.main import main
from deepstudio.engine.verify import verify_file
from deepstudio.farm.batch import BatchQueue
from deepstudio.media.audio import read_audio
from deepstudio.media.decode import VideoReader
from deepstudio.media.probe import probe

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900),
              pytest.mark.skipif(cluster_unavailable() is not None,
                                 reason=str(cluster_unavailable()))]


def _frames(path: Path) -> np.ndarray:
    with VideoReader(path) as reader:
        return np.stack([frame for _, frame in reader.frames()])


def _verified_render_id(path: Path) -> str:
    report = verify_file(path)
    assert report.credentials.valid and report.payload_matches, report.to_text()
    return report.credentials.claim["deepstudio"]["render_id"]


def _planned_twice(command: list[str], tmp_path: Path) -> tuple[Path, Path]:
    """Plan a render once (as a farm job), and copy its work folder with another output:
    two plans of one render (same render id), to render on the cluster and locally."""
    bundle = tmp_path / "bundle"
    assert main([*command, "-o", str(tmp_path / "farm.mp4"), "--work-dir",
                 str(tmp_path / "w1"), "--openjd", str(bundle), "-q"]) == 0
    (farm_plan,) = (tmp_path / "w1").glob("render-*/plan.json")
    local_dir = tmp_path / "w2" / farm_plan.parent.name
    shutil.copytree(farm_plan.parent, local_dir)
    data = json.loads((local_dir / "plan.json").read_text())
    data["output"] = str(tmp_path / "local.mp4")
    (local_dir / "plan.json").write_text(json.dumps(data))
    return farm_plan, local_dir / "plan.json"


def _command(effect: str, testdata: Path, swap_model: tuple[Path, Path]) -> list[str]:
    if effect == "debug":
        return ["render", str(testdata / "talk_b.mp4"), "--effect", "debug"]
    model, ledger = swap_model  # the woman of talk_b.mp4 takes the model's "bea" part
    return ["swap", str(testdata / "talk_b.mp4"), "--model", str(model), "--project",
            str(ledger), "--end", "3"]


@pytest.mark.parametrize(("effect", "frames"), [
    ("face_swap", 75),
    pytest.param("debug", 122, marks=pytest.mark.slow),  # the same path without a model
])
def test_farm_render_is_identical_to_a_local_one(cluster, swap_model, testdata, tmp_path,
                                                  effect, frames):
    command = [*_command(effect, testdata, swap_model), "--chunk-seconds", "1",
               "--encoder-threads", "1"]
    farm_plan, local_plan = _planned_twice(command, tmp_path)
    one_thread = {**cluster.env, "OMP_NUM_THREADS": "1"}  # as each Ray worker (one CPU)
    farm = cluster.deepstudio("farm", "run", str(farm_plan), "--ray", cluster.address,
                              env=one_thread, timeout=600)
    assert farm.returncode == 0, farm.stderr
    assert "on 2 Ray nodes" in farm.stdout  # both nodes took chunks
    local = cluster.deepstudio("farm", "run", str(local_plan), env=one_thread, timeout=600)
    assert local.returncode == 0, local.stderr

    farmed, rendered = tmp_path / "farm.mp4", tmp_path / "local.mp4"
    a, b = _frames(farmed), _frames(rendered)
    assert len(a) == frames and np.array_equal(a, b)
    assert np.array_equal(read_audio(farmed), read_audio(rendered))
    assert _verified_render_id(farmed) == _verified_render_id(rendered)


def _wait_for(condition, timeout_s: float, proc) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _render_command(cluster, testdata: Path, out: Path, work: Path) -> list[str]:
    return [sys.executable, "-m", "deepstudio", "render", str(testdata / "talk_long_b.mp4"),
            "--effect", "debug", "-o", str(out), "--chunk-seconds", "1", "--ray",
            cluster.address, "--work-dir", str(work), "--preset", "veryfast"]


def test_render_completes_when_a_worker_node_dies(cluster, testdata, tmp_path):
    out = tmp_path / "survived.mp4"
    proc = cluster.popen(_render_command(cluster, testdata, out, tmp_path / "work"),
                         stdout=-1, stderr=-1, text=True)
    try:
        def worker_encoding() -> bool:  # an ffmpeg of the worker node writes a chunk
            return any("chunk_" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
                       for pid in cluster.node_pids("worker") if Path(f"/proc/{pid}").exists())

        _wait_for(worker_encoding, 300, proc)
        assert cluster.kill_node("worker") > 0
        _, stderr = proc.communicate(timeout=600)
    finally:
        proc.kill()
        cluster.start_node("worker")  # for the tests after this one
    assert proc.returncode == 0, stderr
    assert probe(out).frame_count == 500
    _verified_render_id(out)


def test_rerun_after_the_driver_dies_redoes_only_unfinished_chunks(cluster, testdata, tmp_path):
    out, work = tmp_path / "resumed.mp4", tmp_path / "work"
    command = _render_command(cluster, testdata, out, work)
    proc = cluster.popen(command, stdout=-1, stderr=-1)
    try:
        _wait_for(lambda: len(list(work.glob("render-*/chunk_*.mp4"))) >= 3, 300, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
    finished = len(list(work.glob("render-*/chunk_*.mp4")))
    assert not out.exists()
    rerun = cluster.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    reused = int(rerun.stdout.split("resumed with ")[1].split(" of ")[0])
    assert reused >= finished >= 3 and "of 20 chunks already done" in rerun.stdout
    assert probe(out).frame_count == 500
    _verified_render_id(out)


@pytest.mark.slow  # the queue's own behaviour is tested without a cluster (test_batch.py)
def test_a_batch_runs_on_the_cluster_and_one_failure_stops_nothing(cluster, testdata,
                                                                   tmp_path):
    queue = tmp_path / "q.dsbatch"
    for clip, end in (("talk_a", "3"), ("talk_c", "3")):
        assert main(["batch", "add", "--queue", str(queue), "--", "render",
                     str(testdata / f"{clip}.mp4"), "-o", str(tmp_path / f"{clip}.mp4"),
                     "--end", end, "--chunk-seconds", "1"]) == 0
    assert main(["batch", "add", "--queue", str(queue), "--priority", "9", "--", "render",
                 str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "x.mp4")]) == 0
    ran = cluster.deepstudio("batch", "run", "--queue", str(queue), "--ray", cluster.address,
                             timeout=600)
    assert ran.returncode == 1, ran.stderr  # an item failed; the others were rendered
    items = {i.id: i for i in BatchQueue(queue).items()}
    assert [items[k].status for k in (1, 2, 3)] == ["done", "done", "failed"]
    for clip in ("talk_a", "talk_c"):
        out = tmp_path / f"{clip}.mp4"
        assert probe(out).frame_count == (90 if clip == "talk_a" else 75)
        _verified_render_id(out)
