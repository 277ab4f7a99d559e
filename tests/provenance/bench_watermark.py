"""Print watermark PSNR, embed time and payload bit accuracy per attack for the testdata clips.

Run from the repository root: /work/venv/bin/python tests/provenance/bench_watermark.py [N]
(N frames per clip, default 75).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from ffmpeg_util import ATTACKS
from wm_harness import run_clip

from deepstudio.provenance.payload import payload_from_render_id

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"


def main() -> None:
    frames = int(sys.argv[1]) if len(sys.argv) > 1 else 75
    payload = payload_from_render_id("render-bench")
    print(f"{'clip':22s} {'PSNR':>6s} {'ms/fr':>6s}  " + "  ".join(
        f"{a:>7s}" for a in ("none", *ATTACKS)))
    with tempfile.TemporaryDirectory() as work:
        for clip in sorted(TESTDATA.glob("*.mp4")):
            r = run_clip(clip, Path(work), payload, frames)
            accs = "  ".join(f"{r.bit_accuracy[a]:7.3f}" for a in ("none", *ATTACKS))
            print(f"{clip.name:22s} {r.psnr_db:6.2f} {r.embed_ms:6.2f}  {accs}", flush=True)


if __name__ == "__main__":
    main()
