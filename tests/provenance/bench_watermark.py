"""Print watermark PSNR, embed CPU time, payload bit accuracy per attack and false positives.

Run from the repository root: /work/venv/bin/python tests/provenance/bench_watermark.py [N]
(N frames marked per clip, default 300; detection reads them as ``deepstudio verify`` does:
150 frames, then 300 when nothing decoded). Bit accuracy is over the
48 payload bits (0.5 when nothing decoded); "FP" is whether a mark was reported in the
unmarked source frames, with the best sync z-score found there.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from ffmpeg_util import ATTACKS
from wm_harness import run_clip

from deepstudio.provenance.payload import payload_from_render_id
from deepstudio.provenance.wm_detect import SECOND_LOOK_FRAMES

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"


def main() -> None:
    frames = int(sys.argv[1]) if len(sys.argv) > 1 else SECOND_LOOK_FRAMES
    payload = payload_from_render_id("render-bench")
    names = ("none", *ATTACKS)
    print(f"{'clip':20s} {'size':>9s} {'PSNR':>6s} {'ms/fr':>6s}  "
          + "  ".join(f"{a:>7s}" for a in names) + "  FP (z)")
    with tempfile.TemporaryDirectory() as work:
        for clip in sorted(TESTDATA.glob("*.mp4")):
            r = run_clip(clip, Path(work), payload, frames)
            accs = "  ".join(f"{r.bit_accuracy[a]:7.3f}" for a in names)
            print(f"{clip.name:20s} {r.size:>9s} {r.psnr_db:6.2f} {r.embed_ms:6.2f}  {accs}  "
                  f"{'YES' if r.untouched_detected else 'no'} ({r.untouched_z:.1f})", flush=True)


if __name__ == "__main__":
    main()
