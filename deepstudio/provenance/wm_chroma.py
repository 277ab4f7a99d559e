"""The watermark of frames from ``CHROMA_MIN_SIDE`` up: a static mark in the blue chroma.

Why chroma, static, big chips and a motion mask (issue 18, measured by sweeps against a plain
x264 CRF 18 encode of the same frames, whose figures are in docs/benchmarks.md, "Invisible
disclosure"; "survives" = read after 10 % crop + 50 % downscale + CRF 28):

* Any luma mark strong enough to survive cost 3-10 VMAF points and 18-68 % more file. The
  blue-difference plane (Cb) is the colour direction the eye resolves least (it is close to
  the blue-yellow, S-cone axis; Cr would add red-green, which the eye sees well), and VMAF
  does not look at chroma.
* Static in time: a sign that changes every second is a new picture the encoder codes again
  (+30-40 % file for a chroma mark). A static mark is coded in the key frame and then carried
  by prediction wherever the picture stands still.
* Chips of 16 px and more (the tile drawn ``pattern_scale`` times larger, so a frame holds
  about one tile across its short side) and an extra Gaussian smoothing of ``_SMOOTH`` tile
  pixels: after a 50 % downscale and 4:2:0 subsampling again, 8-px chips would be 2 chroma
  samples wide and CRF 28 wipes them out; at 16 px the mark survives, and the smoother chips
  cost 5 % less file at CRF 18 for the same read.
* Where the picture moves (or is noisy enough to look as if it did) the encoder cannot carry
  a static mark by prediction and codes it again every frame: the mark is faded out there.
  The mask holds a block's strongest recent change (decaying by ``_RELEASE`` a frame), so it
  does not flicker, which would cost bits of its own. A dark, hand-held stage clip went from
  +44 % to +8 % file at the same read; talking heads from +13-17 % to +4-10 %.

The mark is ``amplitude`` Cb levels (video range) per unit of the tile at full mask, about
the same RMS change; :func:`amplitude_for` lowers it on large frames, which fold more copies.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from deepstudio.provenance.wm_pattern import TILE, payload_tile

CHROMA_MIN_SIDE = 360
"""Short side from which the mark is in chroma. Smaller frames keep the luma mark: their
chroma planes (180 samples and less) are too small for 16-px chips to survive a 50 % downscale
(raw code-bit accuracy 0.5 on the 256x256 and 672x224 clips)."""
_MIN_PATTERN_SCALE = 2.0
_SMOOTH = 2.5
"""Extra Gaussian smoothing of the tile (tile pixels): 3.5 saved another 2 % of file but lost
a fifth of the sync score."""
AMPLITUDE = 4.0
_AMPLITUDE_FULL_SIDE = 540
_MOTION_BLOCKS = 16
"""The motion mask's grid: the frame in 16 x 16 blocks (of any frame size)."""
_MOTION_KNEE = 1.0
"""Mean change (video-range luma levels) of a block between frames from which the mark fades;
it is gone at twice this."""
_RELEASE = 0.98
_LIMITED_CHROMA = 224 / 255
"""Video-range chroma (16-240) moves this much per full-range level."""


def pattern_scale(width: int, height: int) -> float:
    """How many frame pixels one tile pixel spans: the tile across the short side, at least
    twice its size (16-px chips)."""
    return max(_MIN_PATTERN_SCALE, min(width, height) / TILE)


def amplitude_for(width: int, height: int) -> float:
    """``AMPLITUDE`` up to a short side of ``_AMPLITUDE_FULL_SIDE``, then falling with the short
    side: a 700-720 px frame read as well at 3 levels as a 524-px one at 4, for a quarter
    less file."""
    return AMPLITUDE * min(1.0, _AMPLITUDE_FULL_SIDE / min(width, height))


def _smooth_tile(payload: int) -> np.ndarray:
    """The payload tile with the extra smoothing (periodic), at unit RMS."""
    fy = np.fft.fftfreq(TILE)[:, None]
    fx = np.fft.rfftfreq(TILE)[None, :]
    gauss = np.exp(-2.0 * (np.pi * _SMOOTH) ** 2 * (fy**2 + fx**2))
    tile = np.fft.irfft2(np.fft.rfft2(payload_tile(payload)) * gauss, s=(TILE, TILE))
    return (tile / np.sqrt(np.mean(tile**2))).astype(np.float32)


def chroma_pattern(payload: int, width: int, height: int) -> np.ndarray:
    """The smoothed tile repeated over the chroma plane of a width x height frame (half size,
    rounded up) at :func:`pattern_scale` (float32, unit RMS before the mask)."""
    cw, ch = -(-width // 2), -(-height // 2)
    step = 2.0 / pattern_scale(width, height)  # tile pixels per chroma sample
    reps = (math.ceil(ch * step / TILE) + 1, math.ceil(cw * step / TILE) + 1)
    tiled = np.tile(_smooth_tile(payload), reps)
    matrix = np.array([[step, 0, 0], [0, step, 0]], dtype=np.float64)
    return cv2.warpAffine(tiled, matrix, (cw, ch),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


class ChromaMark:
    """The chroma mark of one payload for frames of one size, with the motion mask's state
    (frames are marked in order; a gap or a step back in time starts the mask afresh)."""

    def __init__(self, payload: int, width: int, height: int, amplitude: float) -> None:
        self.width = width
        self.height = height
        self._pattern = chroma_pattern(payload, width, height) * np.float32(amplitude)
        self._grid = (max(1, width // _MOTION_BLOCKS), max(1, height // _MOTION_BLOCKS))
        self._previous: np.ndarray | None = None
        self._held: np.ndarray | None = None
        self._time: float | None = None

    def restart(self) -> None:
        """Start the motion mask afresh at the next frame."""
        self._previous = None

    def delta_cb(self, luma: np.ndarray, gain: float, time_s: float | None) -> np.ndarray:
        """The change of the video-range Cb plane (chroma size, float32) for a frame whose
        luma levels are ``gain`` times video-range luma, shown ``time_s`` into its video."""
        return self._pattern * self._motion_mask(luma, gain, time_s)

    def embed_i420(self, planes: np.ndarray, time_s: float | None) -> np.ndarray:
        """Marks the Cb plane of limited-range 4:2:0 planes (Y, U, V stacked) in place."""
        h, w = self.height, self.width
        delta = self.delta_cb(planes[:h], 1.0, time_s)
        cb = planes.reshape(-1)[h * w:h * w + (h // 2) * (w // 2)].reshape(h // 2, w // 2)
        cb[:] = _add(cb, delta)
        return planes

    def embed_rgb(self, frame_rgb: np.ndarray, time_s: float | None) -> np.ndarray:
        """The marked copy of an RGB frame: blue and green move so that full-range luma and
        Cr stay and Cb changes by the same amount as :meth:`embed_i420` gives (in full-range
        levels), so an encoder's 4:2:0 conversion carries the same mark."""
        gray = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2GRAY)
        delta = self.delta_cb(gray, 255 / 219, time_s) / _LIMITED_CHROMA
        full = cv2.resize(delta, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        r, g, b = cv2.split(frame_rgb)
        # Y = .299 R + .587 G + .114 B and Cb = .564 (B - Y): dG = -.34414 d, dB = 1.772 d.
        return cv2.merge([r, _add(g, full * np.float32(-0.34414)),
                          _add(b, full * np.float32(1.772))])

    def _motion_mask(self, luma: np.ndarray, gain: float, time_s: float | None) -> np.ndarray:
        """1 where the picture has held still, fading to 0 where a block changed by more than
        ``_MOTION_KNEE`` levels recently (chroma size, float32). A still gets 1 everywhere."""
        coarse = cv2.resize(luma, self._grid, interpolation=cv2.INTER_AREA).astype(np.float32)
        fresh = (time_s is None or self._time is None or self._previous is None
                 or not 0.0 < time_s - self._time < 0.5)
        if fresh:
            self._held = np.zeros_like(coarse)
        else:
            change = cv2.GaussianBlur(np.abs(coarse - self._previous), (0, 0), 1.0) / gain
            self._held = np.maximum(change, self._held * np.float32(_RELEASE))
        self._previous, self._time = coarse, time_s
        mask = np.clip(2.0 - self._held / _MOTION_KNEE, 0.0, 1.0)
        return cv2.resize(mask, (-(-self.width // 2), -(-self.height // 2)),
                          interpolation=cv2.INTER_LINEAR)


def _add(plane: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """uint8 plane + float delta, rounded and saturated (SIMD uint8 paths: the delta is
    carried as ``delta + 128`` in uint8, within +-127 levels)."""
    offset = cv2.convertScaleAbs(delta, alpha=1.0, beta=128.0)
    return cv2.addWeighted(plane, 1.0, offset, 1.0, -128.0)
