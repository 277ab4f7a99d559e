"""GUI figures for ``deepstudio bench --gui``: start-up time, seek-to-display latency and
playback rate with face overlays on, measured on the real window (prints nothing, asserts
nothing: the caller prints the dict)."""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STARTUP_PROBE = """
import json, sys, time
t0 = time.perf_counter()
from deepstudio.qt.app import open_window, process_until
window = open_window()
process_until(window.isVisible, 10)
print(json.dumps({"usable_s": time.perf_counter() - t0, "torch": "torch" in sys.modules}))
"""


def startup_seconds() -> dict:
    """Seconds from a fresh interpreter to a shown window, and whether torch got imported."""
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    out = subprocess.run([sys.executable, "-c", STARTUP_PROBE], capture_output=True, text=True,
                         env=env, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def gui_bench(clip_path: str | Path, seeks: int = 30, play_seconds: float = 5.0) -> dict:
    """Measure the editor on ``clip_path`` (analysed first, overlays on)."""
    from PySide6.QtWidgets import QMessageBox

    from deepstudio.qt.app import open_window, process_until

    result: dict = {"startup": startup_seconds()}
    with tempfile.TemporaryDirectory() as tmp:
        window = open_window()
        window.ask = lambda *args: QMessageBox.StandardButton.Discard
        window.create_project(Path(tmp) / "Bench.dstudio", "Bench")
        [media_id] = window.import_files([Path(clip_path)])
        job = window.analyse(media_id)
        jobs = window.session.jobs.jobs  # the analysis, and a proxy when the file wants one
        process_until(lambda: all(j.finished for j in jobs), 600)
        window._add_media_clip(media_id)
        for name in ("boxes", "landmarks", "ids"):
            window.overlay_actions[name].trigger()
        controller = window.controller
        media = window.session.project.media[media_id]
        last = window.session.project.duration_frames() - 1
        rng = random.Random(0)
        latencies = []
        for _ in range(seeks):
            frame = rng.randrange(0, last + 1)
            started = time.perf_counter()
            controller.seek(frame)
            process_until(lambda f=frame: controller.shown_frame == f, 10)
            latencies.append((time.perf_counter() - started) * 1000)
        controller.seek(0)
        process_until(lambda: controller.shown_frame == 0, 10)
        shown: list[tuple[float, int]] = []  # (time, frame) of every frame put on screen
        controller.frame_shown.connect(lambda f: shown.append((time.perf_counter(), f)))
        started = time.perf_counter()
        controller.play()
        duration = min(play_seconds, last / float(media.fps))
        process_until(lambda: not controller.playing
                      or time.perf_counter() - started > duration, duration + 5)
        controller.pause()
        (t0, first), (t1, final) = shown[0], shown[-1]
        frames_shown = len({f for _, f in shown})
        result.update(
            clip=str(clip_path), size=f"{media.width}x{media.height}",
            source_fps=float(media.fps), analysis_status=job.status,
            proxy=window.session.has_proxy(media_id),
            seek_median_ms=statistics.median(latencies), seek_max_ms=max(latencies),
            playback_fps=(len(shown) - 1) / (t1 - t0),
            playback_dropped=(final - first + 1) - frames_shown)
        window.close()
    return result
