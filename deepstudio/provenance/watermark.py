"""Invisible watermark: embedding (this module) and detection (:mod:`.wm_detect`).

Frames whose short side is ``CHROMA_MIN_SIDE`` (360 px) or more carry a static mark in the blue
chroma (:mod:`.wm_chroma`: VMAF within 1.2 points and +3-9 % file at CRF 18, where the luma mark
cost 8-12 points and +30-70 %). Smaller frames, where a chroma mark does not survive a 50 %
downscale, carry the luma mark described here; no quality floor is set for them.

The luma mark: the same delta is added to R, G and B, which changes luma by exactly that delta
and leaves chroma untouched. The delta is the payload tile (see :mod:`.wm_pattern`) tiled over
the frame, scaled per 8x8 block by a perceptual mask: full strength where the block has some
texture (skin, hair, sensor noise), down to 0.4 of it where the picture is flat (a clean green
screen, a graded sky, titles), where a spread-spectrum pattern would show as a faint
checkerboard. Dark blocks get less still (0.6 of it at luma 16 and below, rising to full
strength at 64): in gamma-coded video a step of a few levels near black is a large relative
change of light, and the grain of a dark scene (which the texture measure counts as texture)
does not hide an 8-px pattern. A frame's mask is normalised to RMS 1 (the RMS change is then
``strength`` grey levels: PSNR ~ 20*log10(255/strength) dB, 38.0 dB on the smallest frames and
42.2 dB on HD, see :func:`strength_for`), but a mostly flat frame is lifted by at most 1.25x, so
it stays marked at half strength instead of getting the full energy. Measured with
``tests/provenance/bench_watermark.py`` against the previous mask (0.75-1.3, always normalised,
strength 2.75): a flat frame changes by 1.45 instead of 2.77 grey levels RMS, and the testdata
clips recover the payload after the same attacks or more of them.

In a video the delta's sign follows :func:`.wm_pattern.modulation` of the frame's time, which
lets the detector cancel the static picture of a locked-off shot.
"""

from __future__ import annotations

import cv2
import numpy as np

from deepstudio.provenance.wm_chroma import CHROMA_MIN_SIDE, ChromaMark, amplitude_for
from deepstudio.provenance.wm_detect import WatermarkResult, detect_watermark
from deepstudio.provenance.wm_pattern import TILE, modulation, payload_tile

__all__ = ["CHROMA_MIN_SIDE", "DEFAULT_STRENGTH", "WatermarkEmbedder", "WatermarkResult",
           "detect_watermark", "strength_for"]

DEFAULT_STRENGTH = 3.2
"""RMS change in grey levels, at full strength, of a frame whose short side is one tile or less
(see :func:`strength_for`)."""
_LARGE_FRAME_FACTOR = 0.6
_BLOCK = 8
_MASK_FLOOR = 0.4
_MASK_CEIL = 1.2
_MASK_REF_ACTIVITY = 1.6
"""Mean absolute Laplacian of a block (blurred over 3x3 blocks) that gets full strength:
talking-head skin measures 1-3, camera noise on a plain wall ~1, a synthetic flat field 0."""
_DARK_LUMA, _LIT_LUMA, _DARK_FLOOR = 16.0, 64.0, 0.6
"""Full-range block luma at and below which the mask is scaled by ``_DARK_FLOOR``, and from
which it is not scaled. occlusion_a (a dark stage, mean luma 15): PSNR 39.0 -> 40.3 dB, SSIM of
the worst 1 % 0.72 -> 0.83, raw code-bit accuracy after all three attacks 0.96 -> 0.90."""
_MAX_LIFT = 1.25
_LIMITED_RANGE = 219 / 255
"""Video-range luma (16-235) moves this much per full-range grey level."""


def strength_for(width: int, height: int) -> float:
    """The mark's full-strength RMS change for a frame size: ``DEFAULT_STRENGTH`` up to a short
    side of one tile (256 px), then falling with the cube root of the short side (2.3 grey
    levels at 720 px, 2.0 at 1080 px: 42 dB PSNR), to no less than 0.6 of it.

    The detector folds every tile of a frame onto one, so a frame n tiles across gains about
    sqrt(n) in signal-to-noise: after crop + 50 % downscale + CRF 28 at one strength the sync
    scored 9 on 256x256 and 26-30 on 700-720 px square clips. Only part of that gain is spent
    on a weaker mark, because how much raw accuracy a sync score buys varies between clips:
    at the square-root law talk_b (524x524) fell to 0.80-0.85, at this one it reads 0.84-0.89.
    Small frames need the full strength; on large ones the weaker mark stays out of sight on
    smooth skin and plain walls, where at full strength an 8-px texture could be made out at 1:1.
    """
    if width <= 0 or height <= 0:
        raise ValueError("frame size must be positive")
    factor = (TILE / min(width, height)) ** (1 / 3)
    return DEFAULT_STRENGTH * min(1.0, max(_LARGE_FRAME_FACTOR, factor))


class WatermarkEmbedder:
    """Adds the watermark for one payload to frames of one size (pattern precomputed once).
    ``strength`` defaults to :func:`strength_for` the size (luma RMS) or, for a chroma mark,
    :func:`.wm_chroma.amplitude_for` it (Cb levels). Frames of a video are marked in order
    (the chroma mark fades where the picture moves, measured from the frame before)."""

    def __init__(self, payload: int, width: int, height: int,
                 strength: float | None = None) -> None:
        if width <= 0 or height <= 0:
            raise ValueError("frame size must be positive")
        if strength is None:
            strength = (amplitude_for if min(width, height) >= CHROMA_MIN_SIDE
                        else strength_for)(width, height)
        if strength <= 0:
            raise ValueError("strength must be positive")
        self.payload = payload
        self.width = width
        self.height = height
        self.strength = strength
        self._chroma: ChromaMark | None = None
        if self.chroma:
            self._chroma = ChromaMark(payload, width, height, strength)
            return
        tile = payload_tile(payload) * np.float32(strength)
        reps = (-(-height // TILE), -(-width // TILE))
        self._pattern = np.ascontiguousarray(np.tile(tile, reps)[:height, :width])
        self._blocks = (-(-width // _BLOCK), -(-height // _BLOCK))

    def embed(self, frame_rgb: np.ndarray, time_s: float | None) -> np.ndarray:
        """The watermarked copy of an RGB uint8 frame of the embedder's size, shown
        ``time_s`` seconds into its video (None for a still image)."""
        if frame_rgb.shape != (self.height, self.width, 3) or frame_rgb.dtype != np.uint8:
            raise ValueError(f"expected uint8 frame of shape {(self.height, self.width, 3)}, "
                             f"got {frame_rgb.dtype} {frame_rgb.shape}")
        if self._chroma is not None:
            return self._chroma.embed_rgb(frame_rgb, time_s)
        offset = self._offset(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2GRAY), 1.0, time_s)
        return cv2.addWeighted(frame_rgb, 1.0, cv2.merge([offset, offset, offset]), 1.0, -128.0)

    def embed_i420(self, planes: np.ndarray, time_s: float | None) -> np.ndarray:
        """Marks limited-range 4:2:0 planes (Y, U, V stacked, as ffmpeg's yuv420p) in place
        and returns them. Only Y changes (by what :meth:`embed` adds to R, G and B times
        219/255), or for a chroma mark only U, so the encoded file is the same as the RGB path
        would give (up to rounding and the encoder's chroma subsampling)."""
        if planes.shape != (self.height * 3 // 2, self.width) or planes.dtype != np.uint8:
            raise ValueError(f"expected uint8 4:2:0 planes of shape "
                             f"{(self.height * 3 // 2, self.width)}, got {planes.dtype} "
                             f"{planes.shape}")
        if self._chroma is not None:
            return self._chroma.embed_i420(planes, time_s)
        luma = planes[:self.height]
        offset = self._offset(luma, _LIMITED_RANGE, time_s)
        luma[:] = cv2.addWeighted(luma, 1.0, offset, 1.0, -128.0)
        return planes

    def restart(self) -> None:
        """Forget the frames marked so far (the chroma mark's motion mask starts afresh), so
        that a run of frames is marked the same whatever was marked before it."""
        if self._chroma is not None:
            self._chroma.restart()

    @property
    def chroma(self) -> bool:
        """Whether frames of this size carry the chroma mark (else the luma mark)."""
        return min(self.width, self.height) >= CHROMA_MIN_SIDE

    def _offset(self, luma: np.ndarray, gain: float, time_s: float | None) -> np.ndarray:
        """The mark as uint8 ``delta * gain + 128`` for a luma plane whose levels are
        ``gain`` times full-range grey (then frame + offset - 128 with saturation: all SIMD
        uint8 paths)."""
        mask = self._mask(luma, gain)
        return cv2.convertScaleAbs(cv2.multiply(self._pattern, mask),
                                   alpha=gain * modulation(time_s), beta=128.0)

    def _mask(self, gray: np.ndarray, gain: float) -> np.ndarray:
        """Per-pixel strength factor from the mean absolute Laplacian of 8x8 blocks.

        Normalised to RMS 1 (the same total energy in every frame) but lifted by at most
        ``_MAX_LIFT``, so that a mostly flat frame keeps a weak mark.
        """
        activity = cv2.convertScaleAbs(cv2.Laplacian(gray, cv2.CV_16S, ksize=1))
        small = cv2.blur(self._block_means(activity), (3, 3))
        small = np.clip(small / (_MASK_REF_ACTIVITY * gain), _MASK_FLOOR, _MASK_CEIL)
        luma = cv2.blur(self._block_means(gray), (3, 3))
        if gain != 1.0:  # limited-range luma (16-235) to full-range grey
            luma = (luma - 16.0) / gain
        small *= np.clip(_DARK_FLOOR + (1.0 - _DARK_FLOOR) * (luma - _DARK_LUMA)
                         / (_LIT_LUMA - _DARK_LUMA), _DARK_FLOOR, 1.0)
        small *= min(_MAX_LIFT, 1.0 / max(float(np.sqrt(np.mean(small * small))), 1e-6))
        cols, rows = self._blocks
        mask = cv2.resize(small, (cols * _BLOCK, rows * _BLOCK), interpolation=cv2.INTER_LINEAR)
        return mask[:self.height, :self.width]

    def _block_means(self, plane: np.ndarray) -> np.ndarray:
        """Means of the 8x8 blocks of a uint8 plane (float32, one value per block)."""
        # Padded to whole 8x8 blocks: block means then take OpenCV's integer-ratio fast path
        # (6x faster than a fractional ratio), and block k covers pixels 8k..8k+7 both on the
        # way down and on the way back up.
        cols, rows = self._blocks
        padded = cv2.copyMakeBorder(plane, 0, rows * _BLOCK - self.height, 0,
                                    cols * _BLOCK - self.width, cv2.BORDER_REPLICATE)
        return cv2.resize(padded, self._blocks, interpolation=cv2.INTER_AREA).astype(np.float32)
