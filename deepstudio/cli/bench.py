"""``deepstudio bench``: the speed and memory figures the issues set floors for.

Prints figures; asserts nothing. Each run measures on the given clip (or a generated one):
decode fps, raw mediapipe FaceMesh fps on the same decoded frames, analysis fps (and its
ratio to raw), render fps with the debug effect, and the ratio of the render's wall time to a
plain ffmpeg transcode of the same clip with the same encoder settings. Each figure is the
best of five runs, alternating the two sides being compared, so that a busy moment of the
machine hurts neither (on the 2-core VM the same transcode varies by up to 30 % run to run).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEATS = 5
QT_BENCH = "deepstudio.qt.bench"


def register(subparsers) -> None:
    p = subparsers.add_parser("bench", help="measure decode, analysis and render speed")
    p.add_argument("input", type=Path, nargs="?", help="video clip (default: a generated one)")
    p.add_argument("--crf", type=int, default=18)
    p.add_argument("--preset", default="medium")
    p.add_argument("--memory", action="store_true",
                   help="also measure peak memory rendering a generated 10-minute 1080p clip "
                        "(takes several minutes)")
    p.add_argument("--memory-minutes", type=float, default=10.0, help=argparse.SUPPRESS)
    p.add_argument("--swap", action="store_true",
                   help="also render the clip with a 64-px face-swap model (an untrained one: "
                        "it runs as fast as a trained one)")
    p.add_argument("--gui", action="store_true",
                   help="also measure the editor: start-up, seek-to-display and playback with "
                        "face overlays (needs a display, or QT_QPA_PLATFORM=offscreen)")
    p.add_argument("--gpu", action="store_true",
                   help="instead: the model and device figures (training it/s end to end and "
                        "step only, CPU/GPU parity) and 1080p renders with the face-swap and "
                        "lip-sync effects with per-stage times; on a machine without CUDA, "
                        "the CPU at reduced sizes")
    p.add_argument("--device", default="auto", help=argparse.SUPPRESS)
    p.add_argument("--clip-seconds", type=float, help=argparse.SUPPRESS)
    p.add_argument("--clip-dir", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--json", type=Path, help="also write the figures as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.gpu:
        from deepstudio.cli import bench_gpu

        return bench_gpu.run(args)
    figures: dict[str, object] = {"machine": machine_description()}
    with tempfile.TemporaryDirectory(prefix="deepstudio-bench-") as tmp:
        work = Path(tmp)
        clip = args.input or generated_clip(work / "generated.mp4")
        figures["clip"] = str(clip)
        figures.update(speed_figures(clip, work, args.crf, args.preset))
        if args.swap:
            figures.update(swap_figures(clip, work, args.crf, args.preset))
        if args.gui:
            # Loaded by name, like `deepstudio gui`: the CLI never depends on PySide6.
            gui_bench = importlib.import_module(QT_BENCH).gui_bench
            figures.update({f"gui_{k}": v for k, v in gui_bench(clip).items()})
        if args.memory:
            figures.update(memory_figures(work, args.memory_minutes))
    for key, value in figures.items():
        print(f"{key:28s} {value:.2f}" if isinstance(value, float) else f"{key:28s} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


def machine_description() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, {platform.processor() or ''} " \
           f"Python {platform.python_version()}".replace("  ", " ")


def generated_clip(path: Path) -> Path:
    """A 10 s 640x480 clip with a face: scikit-image's astronaut, gently moving."""
    from deepstudio.engine.demo_media import write_demo_clip

    write_demo_clip(path, seconds=10.0)
    return path


def speed_figures(clip: Path, work: Path, crf: int, preset: str) -> dict[str, object]:
    from deepstudio.cli.render import session_for_video
    from deepstudio.engine.analyse import analyse_media
    from deepstudio.engine.render import RenderSettings
    from deepstudio.media.decode import VideoReader
    from deepstudio.media.encode import EncodeSettings
    from deepstudio.media.ffmpeg import LOCAL_PROTOCOLS, run_ffmpeg
    from deepstudio.vision.analysis import raw_facemesh_fps

    out: dict[str, object] = {}
    with VideoReader(clip) as reader:
        info = reader.info
        out["clip_frames"] = info.frame_count
        out["clip_size"] = f"{info.width}x{info.height} @ {float(info.fps):.3f} fps"
        t = time.perf_counter()
        frames = [f for _, f in reader.frames()]
        out["decode_fps"] = len(frames) / (time.perf_counter() - t)
    # Best of REPEATS, alternating, so that a busy moment of the machine hurts neither side.
    raw, analysed = [], []
    for attempt in range(REPEATS):
        raw.append(raw_facemesh_fps(frames[:300]))
        t = time.perf_counter()
        analyse_media(clip, work / f"cache{attempt}")  # an empty cache: real analysis
        analysed.append(info.frame_count / (time.perf_counter() - t))
    del frames
    out["raw_facemesh_fps"] = max(raw)
    out["analysis_fps"] = max(analysed)
    out["analysis_vs_raw"] = out["analysis_fps"] / out["raw_facemesh_fps"]

    session = session_for_video(clip, "debug")
    session.cache_dir = work / "cache0"  # analysis above is reused: this times the render
    settings = RenderSettings(0, None, EncodeSettings(quality=crf, preset=preset))
    plain_args = [*LOCAL_PROTOCOLS, "-i", str(clip), "-c:v", "libx264", "-preset", preset,
                  "-crf", str(crf), "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k",
                  str(work / "plain.mp4")]
    render_times, plain_times = [], []
    for _ in range(REPEATS):
        t = time.perf_counter()
        session.render_now(work / "render.mp4", settings)
        render_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        run_ffmpeg(plain_args, clip)
        plain_times.append(time.perf_counter() - t)
    session.close()
    render_s, plain_s = min(render_times), min(plain_times)
    out["render_debug_fps"] = info.frame_count / render_s
    out["ffmpeg_transcode_fps"] = info.frame_count / plain_s
    out["render_vs_transcode_time"] = render_s / plain_s
    out["watermark_share_of_render"] = watermark_seconds(clip, 60) / 60 * info.frame_count \
        / render_s
    return out


def watermark_seconds(clip: Path, frames: int) -> float:
    """Wall time of embedding the watermark into ``frames`` frames of the clip the way an
    H.264 render does: on the 4:2:0 planes it hands to ffmpeg when the size allows, else
    on RGB."""
    from deepstudio.media.decode import VideoReader, rgb_to_i420
    from deepstudio.media.encode import EncodeSettings, takes_i420
    from deepstudio.provenance.watermark import WatermarkEmbedder

    with VideoReader(clip) as reader:
        width, height, fps = reader.info.width, reader.info.height, float(reader.info.fps)
        planar = takes_i420(EncodeSettings(), width, height)
        images = [rgb_to_i420(f) if planar else f for _, f in reader.frames(0, frames)]
    embedder = WatermarkEmbedder(0x1234_5678_9ABC, width, height)
    mark = embedder.embed_i420 if planar else embedder.embed
    mark(images[0], 0.0)
    t = time.perf_counter()
    for index, image in enumerate(images):
        mark(image, index / fps)
    return (time.perf_counter() - t) * frames / len(images)


def swap_figures(clip: Path, work: Path, crf: int, preset: str) -> dict[str, object]:
    """Render fps of the clip with the face-swap effect (batched model inference) of a 64-px
    model (see :func:`deepstudio.cli.bench_gpu.render_with_effect`)."""
    from deepstudio.cli.bench_gpu import EffectSetup, render_with_effect
    from deepstudio.models.faceswap.bench import untrained_model

    model = work / "bench.dsmodel"
    shown, _ = untrained_model(str(model), 64, "auto")
    result, _ = render_with_effect(clip, work, model, "faceswap",
                                   EffectSetup("face_swap", {"identity": shown}, "swap", shown),
                                   "auto", crf, preset)
    return {"render_swap_fps": result.frames / result.seconds}


LOOP_SECONDS = 40.0
"""The long clip repeats a generated segment this long: drawing and encoding 15 000 1080p
frames in Python took ~12 minutes, the copy-loop takes seconds. The decoder, tracker and
renderer still see a real 10-minute H.264 stream (a jump every segment, like a cut)."""


def long_clip(work: Path, seconds: float) -> Path:
    """A generated 1920x1080 25 fps clip with a face in every frame, ``seconds`` long."""
    from deepstudio.engine.demo_media import write_demo_clip
    from deepstudio.media.ffmpeg import LOCAL_PROTOCOLS, run_ffmpeg

    segment = write_demo_clip(work / "segment1080p.mp4", seconds=min(seconds, LOOP_SECONDS),
                              size=(1920, 1080), preset="ultrafast")
    if seconds <= LOOP_SECONDS:
        return segment
    clip = work / "long1080p.mp4"
    loops = int(seconds // LOOP_SECONDS)
    run_ffmpeg([*LOCAL_PROTOCOLS, "-stream_loop", str(loops), "-i", str(segment), "-t",
                f"{seconds:.3f}", "-c", "copy", str(clip)], segment)
    return clip


def memory_figures(work: Path, minutes: float) -> dict[str, object]:
    """Peak resident memory of a debug render (analysis included) of a long generated 1080p
    clip with a face in every frame, measured on its own process."""
    from deepstudio.errors import MediaError

    clip = long_clip(work, minutes * 60)
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "deepstudio", "render", str(clip), "-o",
                             str(work / "long_out.mp4"), "--effect", "debug", "--quiet",
                             "--preset", "veryfast"],
                            env={**os.environ, "DEEPSTUDIO_CACHE_DIR": str(work / "cache")})
    peak_tree = 0
    while proc.poll() is None:
        peak_tree = max(peak_tree, tree_rss_bytes(proc.pid))
        time.sleep(0.5)
    if proc.returncode != 0:
        raise MediaError("the long render failed", clip)
    return {"memory_clip": f"{minutes:g} min 1920x1080 25 fps (generated, one face)",
            "memory_render_s": time.perf_counter() - t,
            "memory_peak_tree_mb": peak_tree / 2**20}


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (ffmpeg encoders included),
    summed, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            pages = int((entry / "statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
        fields = stat[stat.rindex(")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        rss[int(entry.name)] = pages * page
    family, frontier = {pid}, [pid]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in family:
                family.add(child)
                frontier.append(child)
    return sum(rss.get(p, 0) for p in family)
