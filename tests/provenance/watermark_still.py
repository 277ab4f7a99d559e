"""Make the side-by-side still of the watermark: plain vs marked, 1:1, a face and a backdrop.

Run from the repository root: python tests/provenance/watermark_still.py docs/watermark_still.png

The footage is the demo clip (scikit-image's astronaut, animated; no third-party frames).
Both sides go through x264 medium CRF 18 as a render does: the plain side as the frames are,
the marked side with the watermark added to the 4:2:0 planes the render hands to ffmpeg
(640x480: the static blue-chroma mark). Rows: the face, and a smooth patch of the backdrop;
columns: plain, marked, and the difference of the marked plane (Cb here; luma for frames under
360 px) times 10 (mid-grey = no change).

For a 1:1 look at real footage, ``--clip PATH`` marks the first 2 s of a video instead and
writes the same rows (crops at ``--face X,Y`` and ``--wall X,Y``); such a still holds
third-party frames when the clip does (testdata): keep it out of the repository.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np
from ffmpeg_util import FFMPEG, read_frames, video_fps

from deepstudio.engine.demo_media import demo_frames
from deepstudio.media.decode import rgb_to_i420
from deepstudio.provenance.payload import payload_from_render_id
from deepstudio.provenance.watermark import WatermarkEmbedder

SIZE, FPS, SECONDS = (640, 480), 25, 3.0
SHOWN = 50
"""Frame 50 (2.0 s): a P or B frame like most of a video (and the luma wave is at +1)."""
CROPS = {"face": (190, 50), "backdrop": (400, 40)}
"""Top-left corners (x, y) of the 200 x 200 crops."""
SIDE = 200
AMPLIFY = 10


def encode(planes: list[np.ndarray], size: tuple[int, int], fps: float, out: Path) -> None:
    w, h = size
    subprocess.run([FFMPEG, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p",
                    "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", "-c:v", "libx264",
                    "-preset", "medium", "-crf", "18", "-pix_fmt", "yuv420p", str(out)],
                   input=b"".join(p.tobytes() for p in planes), check=True)


def shown_frame(path: Path) -> np.ndarray:
    return list(read_frames(path, SHOWN + 1))[SHOWN]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--clip", type=Path, help="mark this video instead of the demo clip")
    parser.add_argument("--face", default="190,50", help="top-left x,y of the face crop")
    parser.add_argument("--wall", default="400,40", help="top-left x,y of the backdrop crop")
    args = parser.parse_args()
    if args.clip is None:
        fps: float = FPS
        rgb = list(demo_frames(SECONDS, FPS, SIZE))
    else:
        fps = video_fps(args.clip)
        rgb = list(read_frames(args.clip, SHOWN + 10))
    frames = [rgb_to_i420(f) for f in rgb]
    size = (rgb[0].shape[1], rgb[0].shape[0])
    embedder = WatermarkEmbedder(payload_from_render_id("render-still"), *size)
    with tempfile.TemporaryDirectory() as tmp:
        plain, marked = Path(tmp) / "plain.mp4", Path(tmp) / "marked.mp4"
        encode(frames, size, fps, plain)
        encode([embedder.embed_i420(p.copy(), i / fps) for i, p in enumerate(frames)], size,
               fps, marked)
        a, b = shown_frame(plain), shown_frame(marked)
    channel, plane = (2, "Cb") if embedder.chroma else (0, "luma")
    diff = (cv2.cvtColor(b, cv2.COLOR_RGB2YCrCb)[..., channel].astype(int)
            - cv2.cvtColor(a, cv2.COLOR_RGB2YCrCb)[..., channel])
    diff_rgb = np.repeat(np.clip(128 + AMPLIFY * diff, 0, 255).astype(np.uint8)[..., None], 3, 2)
    rows = []
    for name, corner in (("face", args.face), ("backdrop", args.wall)):
        x, y = (int(v) for v in corner.split(","))
        cells = [img[y:y + SIDE, x:x + SIDE] for img in (a, b, diff_rgb)]
        rows.append(np.hstack([_labelled(c, f"{name}: {t}") for c, t in
                               zip(cells, ("plain", "marked", f"{plane} difference x{AMPLIFY}"))]))
    cv2.imwrite(str(args.out), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))


def _labelled(cell: np.ndarray, text: str) -> np.ndarray:
    """The cell under a black strip holding ``text`` (the picture itself is left untouched)."""
    strip = np.zeros((18, cell.shape[1], 3), np.uint8)
    cv2.putText(strip, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1,
                cv2.LINE_AA)
    return np.vstack([strip, cell])


if __name__ == "__main__":
    main()
