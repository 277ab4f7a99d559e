"""The batch queue with real renders: priorities, per-item state, a failure that stops no other
item, retry, cancel, pause, a report, and a queue that survives its runner being killed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from deepstudio.cli.batch import execute_item
from deepstudio.cli.main import main
from deepstudio.farm.batch import BatchQueue, run_queue
from deepstudio.media.probe import probe

REPO_ROOT = Path(__file__).resolve().parents[2]


def _add(queue: Path, *command: str, priority: int = 0) -> None:
    assert main(["batch", "add", "--queue", str(queue), "--priority", str(priority), "--",
                 *command]) == 0


def test_a_failing_item_stops_no_other_and_can_be_retried(index_video, tmp_path, capsys):
    queue, out = tmp_path / "q.dsbatch", tmp_path / "out"
    out.mkdir()
    missing = tmp_path / "late.mp4"
    _add(queue, "render", str(index_video), "-o", str(out / "low.mp4"), "--end", "1")
    _add(queue, "render", str(missing), "-o", str(out / "late.mp4"), priority=5)
    _add(queue, "render", str(index_video), "-o", str(out / "high.mp4"), "--end", "2",
         priority=3)
    capsys.readouterr()
    assert main(["batch", "run", "--queue", str(queue)]) == 1  # an item failed
    log = capsys.readouterr().err
    order = [line.split("]")[0] for line in log.splitlines() if line.endswith("started")]
    assert order == ["[2", "[3", "[1"]  # priority first, then the order of adding
    items = {i.id: i for i in BatchQueue(queue).items()}
    assert [items[k].status for k in (1, 2, 3)] == ["done", "failed", "done"]
    assert "late.mp4: file not found" in items[2].error
    assert items[3].frames == 50 and probe(out / "high.mp4").frame_count == 50
    assert items[1].render_id.startswith("render-") and items[1].render_id != items[3].render_id

    shutil.copy(index_video, missing)  # the user fixes the cause ...
    assert main(["batch", "retry", "--queue", str(queue)]) == 0  # ... and retries the failed
    assert main(["batch", "run", "--queue", str(queue), "-q"]) == 0
    retried = BatchQueue(queue).item(2)
    assert retried.status == "done" and retried.attempts == 2 and retried.error is None

    report_file = tmp_path / "report.json"
    assert main(["batch", "report", "--queue", str(queue), "--json", str(report_file)]) == 0
    assert "3 items: 3 done" in capsys.readouterr().out
    report = json.loads(report_file.read_text())
    assert report["summary"]["done"] == 3 and report["summary"]["frames"] == 25 + 120 + 50


def test_bad_lines_are_refused_when_queued(tmp_path, capsys):
    queue = str(tmp_path / "q.dsbatch")
    assert main(["batch", "add", "--queue", queue, "--", "train", "--src", "x"]) == 2
    assert main(["batch", "add", "--queue", queue, "--", "render", "a.mp4", "-o", "b.mp4",
                 "--ray", "auto"]) == 2
    assert main(["batch", "add", "--queue", queue, "--", "render", "a.mp4"]) == 2  # no -o
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 3 and "one of render, swap, lipsync" in errors[0]
    assert "--ray belongs to 'batch run'" in errors[1] and "-o/--output" in errors[2]
    assert BatchQueue(queue).items() == []


def test_cancel_stops_a_running_item_and_pause_holds_the_rest(testdata, tmp_path):
    queue = BatchQueue(tmp_path / "q.dsbatch")
    long = queue.add(["render", str(testdata / "talk_long_a.mp4"), "-o",
                      str(tmp_path / "long.mp4")])
    short = queue.add(["render", str(testdata / "talk_b.mp4"), "-o", str(tmp_path / "s.mp4"),
                       "--end", "1"])
    runner = threading.Thread(target=run_queue, args=(queue, execute_item))
    runner.start()
    try:
        while queue.item(long.id).fraction < 0.35:  # rendering (past the analysis share)
            assert runner.is_alive()
            time.sleep(0.2)
        assert queue.cancel([long.id]) == [long.id]
    finally:
        runner.join(timeout=300)
    assert queue.item(long.id).status == "cancelled" and not (tmp_path / "long.mp4").exists()
    assert queue.item(short.id).status == "done"

    third = queue.add(["render", str(testdata / "talk_b.mp4"), "-o", str(tmp_path / "t.mp4"),
                       "--end", "1"])
    queue.set_paused(True)
    run_queue(queue, execute_item)  # a paused queue starts nothing
    assert queue.item(third.id).status == "queued"
    queue.set_paused(False)
    assert queue.cancel([third.id]) == [third.id]  # a queued item is cancelled at once
    assert queue.item(third.id).status == "cancelled"


def test_the_queue_survives_its_runner_being_killed(testdata, tmp_path):
    queue = BatchQueue(tmp_path / "q.dsbatch")
    out, work = tmp_path / "long.mp4", tmp_path / "work"
    queue.add(["render", str(testdata / "talk_long_a.mp4"), "-o", str(out), "--chunk-seconds",
               "5", "--work-dir", str(work), "--preset", "ultrafast"])
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "deepstudio", "batch", "run", "--queue",
               str(queue.folder), "-q"]
    runner = subprocess.Popen(command, env=env)
    try:
        while len(list(work.glob("render-*/chunk_*.mp4"))) < 2:
            assert runner.poll() is None
            time.sleep(0.1)
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait()
    assert queue.item(1).status == "running" and queue.runner_pid() is None
    subprocess.run(command, env=env, check=True, timeout=600)
    item = queue.item(1)
    assert item.status == "done" and item.attempts == 2
    assert "resumed with" in item.message
    assert probe(out).frame_count == probe(testdata / "talk_long_a.mp4").frame_count


NO_RAY_PROBE = """
import sys
from deepstudio.cli.main import main
code = main(sys.argv[1:])
assert "ray" not in sys.modules, "rendering here imported ray"
sys.exit(code)
"""


def test_without_a_cluster_ray_is_never_imported(index_video, tmp_path):
    queue = tmp_path / "q.dsbatch"
    _add(queue, "render", str(index_video), "-o", str(tmp_path / "o.mp4"), "--end", "1")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    for argv in (["render", str(index_video), "-o", str(tmp_path / "p.mp4"), "--end", "1",
                  "-q"], ["batch", "run", "--queue", str(queue), "-q"]):
        subprocess.run([sys.executable, "-c", NO_RAY_PROBE, *argv], env=env, check=True,
                       timeout=300)


@pytest.fixture(autouse=True)
def _no_leftover_runner(tmp_path):
    yield
    lock = tmp_path / "q.dsbatch" / "runner.lock"
    assert not lock.exists() or BatchQueue(lock.parent).runner_pid() is None
