"""Watermark figures: robustness (always) and, with ``--quality``, what the mark costs.

Run from the repository root: python tests/provenance/bench_watermark.py [N] [--quality]

Robustness: N frames (default 300) of every testdata clip are marked, encoded (x264 CRF 18)
and attacked; detection reads them as ``deepstudio verify`` does (150 frames, then 300). The
figure is the fraction of the 48 payload bits recovered (0.5 = nothing decoded); "FP" is
whether a mark was reported in the unmarked source, with the best sync z-score found there.

``--quality`` adds the issue-18 floors, on the real render path (``wm_quality``):
* every clip whose short side is at least 360 px is rendered with the default settings and
  transcoded plainly; VMAF of each against the source and the file sizes
  (floor: VMAF drop <= 2.0, size <= +10 %);
* the embedding's share of render time (floor <= 15 %) and ``deepstudio verify`` on the
  20-s clip's render and plain transcode (floor <= 15 s);
* rotated copies (+-2 and +-5 degrees) of every clip, read as verify does.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from ffmpeg_util import ATTACKS, FFMPEG, encode_frames, read_frames, read_timed_frames, video_fps
from wm_harness import run_clip
from wm_quality import measure_cost, plain_transcode

from deepstudio.provenance.payload import payload_from_render_id
from deepstudio.provenance.watermark import WatermarkEmbedder
from deepstudio.provenance.wm_detect import CLIP_FRAMES, detect_in_clip

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"
PAYLOAD = payload_from_render_id("render-bench")
QUALITY_MIN_SIDE = 360
MAX_VMAF_DROP, MAX_SIZE_GROWTH = 2.0, 0.10
ROTATIONS = (-5.0, -2.0, 2.0, 5.0)
LONG_CLIP = "talk_long_b.mp4"


def clips() -> list[Path]:
    return sorted(TESTDATA.glob("*.mp4"))


def robustness(frames: int, work: Path) -> None:
    names = ("none", *ATTACKS)
    print(f"{'clip':20s} {'size':>9s} {'Y-PSNR':>6s} {'Cb RMS':>6s} {'ms/fr':>6s}  "
          + "  ".join(f"{a:>7s}" for a in names) + "  z all  FP (z)")
    for clip in clips():
        r = run_clip(clip, work, PAYLOAD, frames)
        accs = "  ".join(f"{r.bit_accuracy[a]:7.3f}" for a in names)
        print(f"{clip.name:20s} {r.size:>9s} {r.psnr_db:6.2f} {r.cb_rms:6.2f} {r.embed_ms:6.2f}  "
              f"{accs}  {r.sync_z['all']:5.1f}  "
              f"{'YES' if r.untouched_detected else 'no'} ({r.untouched_z:.1f})", flush=True)


def quality(work: Path) -> None:
    from deepstudio.cli.bench import watermark_seconds
    from deepstudio.media.probe import probe

    print(f"\n{'clip':20s} {'size':>9s} {'VMAF plain':>10s} {'render':>7s} {'drop':>5s}  "
          f"{'MB plain':>8s} {'render':>7s} {'growth':>7s}  {'mark share':>10s}  floors")
    for clip in clips():
        info = probe(clip)
        if min(info.width, info.height) < QUALITY_MIN_SIDE:
            continue
        cost = measure_cost(clip, work)
        share = watermark_seconds(clip, 60) / 60 * cost.frames / cost.render_s
        ok = cost.vmaf_drop <= MAX_VMAF_DROP and cost.size_growth <= MAX_SIZE_GROWTH
        print(f"{clip.name:20s} {info.width:>4d}x{info.height:<4d} {cost.vmaf_plain:10.2f} "
              f"{cost.vmaf_render:7.2f} {cost.vmaf_drop:5.2f}  {cost.bytes_plain / 1e6:8.3f} "
              f"{cost.bytes_render / 1e6:7.3f} {100 * cost.size_growth:+6.1f}%  "
              f"{100 * share:9.1f}%  {'met' if ok else 'NOT met'}", flush=True)


def verify_times(work: Path) -> None:
    from deepstudio.engine.verify import verify_file

    clip = TESTDATA / LONG_CLIP
    plain = work / "long-plain.mp4"
    plain_transcode(clip, plain)
    for name, path in (("render", work / f"{clip.stem}-render.mp4"), ("plain transcode", plain)):
        started = time.perf_counter()
        report = verify_file(path)
        seconds = time.perf_counter() - started
        found = report.watermark is not None and report.watermark.payload is not None
        print(f"verify {LONG_CLIP} {name}: {seconds:.1f} s, watermark "
              f"{'found' if found else 'not found'}", flush=True)


def rotations(frames: int, work: Path) -> None:
    print(f"\n{'clip':20s} " + "  ".join(f"{a:+5.0f} deg" for a in ROTATIONS))
    for clip in clips():
        fps = video_fps(clip)
        source = list(read_frames(clip, frames))
        h, w = source[0].shape[:2]
        embedder = WatermarkEmbedder(PAYLOAD, w, h)
        marked = work / "rot-marked.mp4"
        encode_frames((embedder.embed(f, i / fps) for i, f in enumerate(source)), marked, fps)
        cells = []
        for angle in ROTATIONS:
            rotated = work / "rotated.mp4"
            subprocess.run([FFMPEG, "-v", "error", "-y", "-i", str(marked), "-vf",
                            f"rotate={angle}*PI/180", "-c:v", "libx264", "-preset", "veryfast",
                            "-crf", "18", "-pix_fmt", "yuv420p", str(rotated)],
                           check=True, capture_output=True)
            result = detect_in_clip(lambda n, p=rotated: read_timed_frames(p, n))
            cells.append(f"{'yes' if result.payload == PAYLOAD else 'no':>9s}")
        print(f"{clip.name:20s} " + "  ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("frames", type=int, nargs="?", default=CLIP_FRAMES)
    parser.add_argument("--quality", action="store_true", help="also the issue-18 figures")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        robustness(args.frames, work)
        if args.quality:
            quality(work)
            verify_times(work)
            rotations(args.frames, work)


if __name__ == "__main__":
    main()
