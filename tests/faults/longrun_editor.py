"""Long run: the editor playing and scrubbing for 30 minutes while jobs run.

    nice -n 10 python tests/faults/longrun_editor.py --minutes 30 --json editor-long.json

Opens the real main window (``QT_QPA_PLATFORM=offscreen`` unless a display is set, e.g. under
Xvfb) on a project holding a generated two-minute 720p clip (testsrc2 with a tone; a keyframe
every 250 frames, so scrubbing decodes hard until its proxy exists) and the real talk_b clip,
then drives it as a person would, in a 20-second cycle: play 8 s, scrub (a seek every 33 ms to
random frames, like dragging the playhead) 6 s, shuttle at twice the speed forward then backward
(L L, J J) 3 s, step frame by frame 3 s. Every 40 s, when no job is running, it starts the next
of: an analysis of talk_b (its cache deleted first), a proxy of the long clip (the proxy deleted
first), a 4-second render.

The process is sampled every 15 s: resident memory (also of its worker processes), open file
descriptors, threads. After a 5-minute warm-up the figures must not grow beyond the bounds
(default: 120 MB of memory, 10 file descriptors, 6 threads); exits 1 when they do.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from longrun_sampler import (
    Sampler,
    arguments,
    as_rows,
    growth,
    report,
    thread_names,
    work_folder,
)
from synth import run_ffmpeg

TESTDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata"
CYCLE_S = 20.0
JOB_EVERY_S = 40.0


def make_project(work: Path) -> Path:
    from deepstudio.session import Session

    folder = work / "Editor.dstudio"
    if folder.exists():
        return folder
    clip = work / "long-gop-720p.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-f", "lavfi", "-i",
               "sine=frequency=330:sample_rate=48000", "-t", "120", "-c:v", "libx264",
               "-preset", "veryfast", "-g", "250", "-pix_fmt", "yuv420p", "-c:a", "aac",
               "-shortest", str(clip))
    session = Session.create(folder, "Editor long run")
    try:
        for path in (clip, (TESTDATA / "talk_b.mp4").resolve()):
            session.add_clip_for_media(session.import_media(path))
        session.save()
    finally:
        session.close()
    return folder


class Driver:
    """Plays, scrubs, shuttles and steps the window's preview; starts jobs."""

    def __init__(self, window, rng: random.Random) -> None:
        from deepstudio.engine.render import RenderSettings
        from deepstudio.media.proxy import proxy_path
        from deepstudio.vision.analysis import cache_path

        self.window = window
        self.rng = rng
        self.started = time.monotonic()
        self.elapsed = 0.0
        self.next_job_at = 5.0
        self.jobs_started = 0
        session = window.session
        media = list(session.project.media.values())
        self.long_media = next(m for m in media if "long-gop" in m.path)
        self.talk_media = next(m for m in media if "talk_b" in m.path)
        self.proxy_file = proxy_path(session.cache_dir, self.long_media.content_hash)
        self.analysis_file = cache_path(session.cache_dir, self.talk_media.content_hash)
        self.render_settings = RenderSettings(0, 100)

    def tick(self) -> None:
        self.elapsed = time.monotonic() - self.started
        controller = self.window.controller
        phase = self.elapsed % CYCLE_S
        if phase < 8:
            if controller.rate != 1:
                controller.play(1)
        elif phase < 14:
            controller.pause()
            controller.seek(self.rng.randint(0, controller.last_frame()))
        elif phase < 17:
            rate = 2 if phase < 15.5 else -2  # L L, then J J
            if controller.rate != rate:
                controller.play(rate)
        else:
            controller.step(self.rng.choice((-1, 1)))
        if self.elapsed >= self.next_job_at:
            self.next_job_at = self.elapsed + JOB_EVERY_S
            if not any(not j.finished for j in self.window.session.jobs.jobs):
                self.start_job()

    def start_job(self) -> None:
        window, kind = self.window, self.jobs_started % 3
        self.jobs_started += 1
        if kind == 0:
            self.analysis_file.unlink(missing_ok=True)
            window.session._analyses.pop(self.talk_media.id, None)
            window.analyse(self.talk_media.id)
        elif kind == 1:
            self.proxy_file.unlink(missing_ok=True)
            window.make_proxy(self.long_media.id)
        else:
            output = window.session.paths.renders / "longrun.mp4"
            window.start_render(output, self.render_settings)


def main() -> int:
    parser = arguments(__doc__, minutes=30.0, bound_mb=120.0)
    parser.add_argument("--bound-fds", type=int, default=10)
    parser.add_argument("--bound-threads", type=int, default=6)
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work = work_folder(args, "deepstudio-longeditor-")
    project = make_project(work)

    from PySide6.QtCore import QTimer

    from deepstudio.qt.app import application, open_window

    app = application()
    window = open_window(project, interactive=False)
    window.resize(1366, 768)
    driver = Driver(window, random.Random(19))
    timer = QTimer()
    timer.setInterval(33)
    timer.timeout.connect(driver.tick)
    timer.start()
    sampler = Sampler(os.getpid(), 15.0).start()
    figures: dict[str, object] = {}

    def finish() -> None:
        """Read the figures while the project is still open, then quit (which closes it)."""
        timer.stop()
        samples = sampler.stop()
        jobs = window.session.jobs.jobs
        figures.update(growth(samples, warmup_s=300.0))
        figures["jobs_started"] = driver.jobs_started
        figures["jobs_done"] = sum(j.status == "done" for j in jobs)
        figures["jobs_failed"] = [j.error for j in jobs if j.status == "failed"]
        figures["frames_shown"] = window.controller.shown_count
        figures["threads_by_name"] = thread_names(os.getpid())
        figures["sample_rows"] = as_rows(samples)
        window.session.discard_autosave()
        app.quit()

    QTimer.singleShot(int(args.minutes * 60_000), finish)
    app.exec()
    samples = figures.pop("sample_rows")
    report(args, figures, samples)
    ok = (figures["rss_mb_growth"] <= args.bound_mb and figures["fds_growth"] <= args.bound_fds
          and figures["threads_growth"] <= args.bound_threads and not figures["jobs_failed"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
