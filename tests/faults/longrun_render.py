"""Long run: a 60-minute 1080p timeline rendered at flat memory.

    nice -n 10 python tests/faults/longrun_render.py --minutes 60 --json render-long.json

Generates a one-minute 1920x1080 25 fps clip (ffmpeg testsrc2 with a sine tone), places it
``--minutes`` times end to end on a project's timeline, renders the timeline with ``deepstudio
render`` (x264 ultrafast, CRF 30: the encoder's speed is not what is measured) and samples the
render process every 10 s: its resident memory, that of its ffmpeg children, its open file
descriptors and threads. The output must have every frame and the full audio and pass
``deepstudio verify``. Prints the figures (and writes them as JSON); exits 1 when memory grew by
more than ``--bound-mb`` after the first chunk.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from longrun_sampler import Sampler, arguments, as_rows, growth, report, work_folder
from synth import run_ffmpeg

FPS = 25


def make_clip(path: Path, seconds: int) -> Path:
    run_ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate={FPS}", "-f", "lavfi",
               "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
               "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-g", "50",
               "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path))
    return path


def make_project(folder: Path, clip: Path, copies: int) -> Path:
    from deepstudio.session import Session

    session = Session.create(folder, "Long render")
    try:
        media = session.import_media(clip)
        for _ in range(copies):
            session.add_clip_for_media(media)
        session.save()
    finally:
        session.close()
    return folder


def audio_seconds(path: Path) -> float:
    """Length of the first audio stream, from its packets (no decoding)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        ticks = sum(p.duration or 0 for p in container.demux(stream))
        return float(ticks * stream.time_base)


def main() -> int:
    args = arguments(__doc__, minutes=60, bound_mb=150.0).parse_args()
    work = work_folder(args, "deepstudio-longrender-")
    clip = work / "hd-minute.mp4"
    if not clip.exists():
        make_clip(clip, 60)
    project = work / "Long.dstudio"
    if not project.exists():
        make_project(project, clip, round(args.minutes))
    output = work / "long.mp4"
    output.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "deepstudio", "render", str(project), "-o",
                             str(output), "--preset", "ultrafast", "--crf", "30", "-q"])
    sampler = Sampler(proc.pid, 10.0).start()
    code = proc.wait()
    samples = sampler.stop()
    figures = growth(samples, warmup_s=120.0)
    figures["exit_code"] = code
    if code == 0:
        from deepstudio.media.probe import probe

        info = probe(output)
        figures["frames"] = info.frame_count
        figures["expected_frames"] = round(args.minutes) * 60 * FPS
        figures["video_s"] = round(info.frame_count / FPS, 3)
        figures["audio_s"] = round(audio_seconds(output), 3)
        verify = subprocess.run([sys.executable, "-m", "deepstudio", "verify", str(output)],
                                capture_output=True, text=True)
        figures["verify"] = verify.stdout.splitlines()[1].strip() if verify.stdout else ""
    report(args, figures, as_rows(samples))
    ok = (code == 0 and figures.get("frames") == figures.get("expected_frames")
          and figures["tree_rss_mb_growth"] <= args.bound_mb)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
