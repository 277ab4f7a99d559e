"""Watermark detection over a clip: whiten, demodulate, find scale and tile phase, decode.

1. Each frame's blue-difference chroma (Cb) and luma are whitened (high-pass, divided by the
   local residual energy). Cb is summed plainly: frames of 360 px and more carry a static mark
   there (:mod:`.wm_chroma`). Luma, where smaller frames carry a mark whose sign follows a slow
   wave in time (:func:`.wm_pattern.modulation`), is summed weighted by the cosine and the sine
   of that wave at each frame's time (quadrature: a trimmed clip starts at an unknown point of
   the wave), with the plain luma sum's share taken out of both. In those two the picture of a
   locked-off shot is the same in every frame and cancels; moving content only grows like the
   square root of the frame count, the mark linearly. A still, or frames spanning less than
   most of a period, give the plain luma sum instead.
2. Scale: every ratio on a geometric grid (and the common resize ratios) is scored on a centre
   crop; the best ones are refined on a fine grid over the whole picture.
3. For a scale, each sum is resampled to the nominal scale, folded modulo the tile and
   circularly cross-correlated with the sync chips; the peak of the correlations' combined
   magnitude gives the tile phase (so crops do not matter), the mix of the sums that holds
   the mark (chroma or luma, its phase in time, and its sign), and a z-score from which a
   reading is decoded.
4. The data chips at that phase give one soft value per code bit; Viterbi decoding gives the
   payload + CRC bits, and the CRC-24 must pass for a payload to be reported.
5. When nothing decodes, steps 2-4 run again on the sums flipped left to right (a mirrored
   copy), and then on the upright sums turned by small angles (a rotated copy: every
   ``_ROTATION_STEP`` up to ``_MAX_ROTATION`` degrees either way, at the common resize ratios,
   scored on the centre crop; the best refined in angle and scale on the whole picture).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from deepstudio.provenance.ecc import conv_encode, viterbi_decode
from deepstudio.provenance.payload import (
    CODE_BITS,
    decode_payload,
    encode_payload,
    payload_hex,
)
from deepstudio.provenance.wm_chroma import CHROMA_MIN_SIDE, pattern_scale
from deepstudio.provenance.wm_pattern import (
    CHIP,
    CODED_BITS,
    DATA_CHIPS,
    GRID,
    MODULATION_PERIOD_S,
    TILE,
    band_pass,
    chip_layout,
    sync_tile_spectrum,
)

DEFAULT_MAX_FRAMES = 150
CLIP_FRAMES = 300
"""Frames :func:`detect_in_clip` reads (a file's whole length when it is shorter). One look at
300 frames replaced a look at 150 followed, when nothing decoded, by a second at 300: a static
chroma mark gains from every frame the codec re-quantised differently (450x450 after crop +
50 % downscale + CRF 28: raw code-bit accuracy 0.82 at 150 frames, 0.83-0.85 at 300), and an
unmarked 20-s file was searched twice (18.6 s to verify, now about 9)."""
Z_DETECT = 6.0
"""Sync z-score from which a reading is decoded. It no longer separates marked from unmarked
files on its own: the static chroma of a locked-off picture is not cancelled the way the luma
wave's demodulation cancelled it, and the unmarked testdata clips score 8.3-10.3 (300 frames,
bench_watermark), while marked clips after all three attacks score 8.2 and up (the dark stage
clip lowest). What rejects a noise reading is the CRC-24: a wrong decode passes it with
probability 2**-24, and a file gets at most 8 decodes (three scale candidates upright, three
mirrored, two turned), so under 5e-7 per file; none of the unmarked testdata clips decodes."""
Z_STRONG = 15.0
_COMMON_SCALES = (1.0, 0.5, 0.75, 2 / 3, 1 / 3, 0.25, 1.5, 2.0)
_GRID_RATIO = 1.03
"""Spacing of the coarse scale grid: any scale is within 1.5 % of a grid point."""
_GRID_EXTENT = 2 * TILE
"""Nominal size of the centre crop the coarse grid is scored on. 1.5 % off scale shifts the
pattern by under 4 px (half a chip) at 256 px from the centre, so the sync still lines up;
across a whole large frame the shift would grow far past a chip."""
_MIN_SCALE, _MAX_SCALE = 0.2, 3.0
_MAX_SOURCE_SIDE = 4096
"""Scales that would make the marked original's long side larger than this (beyond 4K) are not
tried: on a 720x1280 file, reading it as a quarter-size copy of a 2880x5120 original cost 188 ms
per try, against 10 ms at full size."""
_HIGHPASS_SIGMA = 2.2
_SEEDS = 3
_ENERGY_FLOOR = 0.5
_CHIP_CLIP = 2.5
WHITEN_BOX = 7
_DEMOD_SPAN = 0.75
"""Frames spanning at least this many modulation periods are demodulated."""
_CHI2_MEDIAN = {1: 0.4549, 2: 1.3863, 3: 2.3660}
"""Median of a chi-square variable with 1, 2 and 3 degrees of freedom."""
_ROTATION_STEP, _MAX_ROTATION = 1.25, 6.25
"""Angles (degrees) tried for a rotated copy. Half a step off turns a point 256 px from the
centre crop's middle by 2.8 px, a third of a chip, so the sync still lines up there."""
_ROTATION_RATIOS = (1.0, 0.75, 2 / 3, 0.5)
"""Resize ratios tried with each angle: a turned copy at its own size or a common smaller one
(the full grid at every angle would cost ten scale searches)."""


@dataclass(frozen=True)
class WatermarkResult:
    """What :func:`detect_watermark` found.

    ``confidence`` maps the sync z-score to [0, 1] (0 at the detection threshold or below,
    1 from ``Z_STRONG``), and is 0 when no payload decoded. ``bit_accuracy_estimate`` is the
    fraction of raw code bits (before error correction) that were right: measured against the
    re-encoded payload when one decoded, else predicted from the sync chips' signal-to-noise
    ratio (0.5 means no signal).
    """

    detected: bool
    payload: int | None
    confidence: float
    bit_accuracy_estimate: float
    frames_used: int
    scale: float | None = None
    """File pixels per tile pixel of the mark found: the resize ratio for a luma mark, the
    ratio times the original's :func:`.wm_chroma.pattern_scale` for a chroma mark."""
    sync_z: float = 0.0
    mirrored: bool = False
    """Whether the best reading was of the picture flipped left to right."""
    rotation: float = 0.0
    """Degrees (counter-clockwise) by which the picture was found turned."""

    def to_dict(self) -> dict[str, object]:
        return {
            "detected": self.detected,
            "payload": None if self.payload is None else payload_hex(self.payload),
            "confidence": round(self.confidence, 4),
            "bit_accuracy_estimate": round(self.bit_accuracy_estimate, 4),
            "frames_used": self.frames_used,
            "scale": None if self.scale is None else round(self.scale, 4),
            "sync_z": round(self.sync_z, 2),
            "mirrored": self.mirrored,
            "rotation": round(self.rotation, 2),
        }


@dataclass(frozen=True)
class _Candidate:
    scale: float
    z: float
    shift: tuple[int, int]
    weights: tuple[float, ...]
    """How to mix the sums' whitened folds so that the mix holds the mark with a + sign."""
    angle: float = 0.0
    """Degrees by which the picture is turned back before folding."""


TimedFrame = tuple[float | None, np.ndarray]
"""A frame and its time in seconds from the start of its video (None for a still image)."""


def detect_watermark(frames: Iterable[TimedFrame],
                     max_frames: int = DEFAULT_MAX_FRAMES) -> WatermarkResult:
    """Look for a DeepStudio watermark in up to ``max_frames`` RGB (or grey) uint8 frames.

    Frames may be of any size; if the size changes within the iterable, the most common size
    is used.
    """
    sums = _accumulate(itertools.islice(frames, max_frames))
    if sums is None:
        return WatermarkResult(False, None, 0.0, 0.5, 0)
    upright = sums.components()
    result = _read(upright, sums.count, _search_scale(upright), mirrored=False)
    if result.payload is None:
        # A mirrored copy (a common edit when re-uploading) holds the tile flipped left-right.
        flipped = np.ascontiguousarray(upright[:, ::-1])
        mirrored = _read(flipped, sums.count, _search_scale(flipped), mirrored=True)
        if mirrored.payload is not None or mirrored.sync_z > result.sync_z:
            result = mirrored
    if result.payload is None:
        rotated = _read(upright, sums.count, _search_rotation(upright), mirrored=False)
        if rotated.payload is not None:
            return rotated
    return result


def _read(sums: np.ndarray, frames_used: int, candidates: list[_Candidate],
          mirrored: bool) -> WatermarkResult:
    """Decode the best of the search's candidates for the summed residuals of one
    orientation."""
    if not candidates:
        return WatermarkResult(False, None, 0.0, 0.5, frames_used)
    decoded = [(cand, *_decode(sums, cand)) for cand in candidates if cand.z >= Z_DETECT]
    hit = next(((c, p, a) for c, p, a in decoded if p is not None), None)
    if hit is None:
        best = candidates[0]
        accuracy = decoded[0][2] if decoded else _decode(sums, best)[1]
        return WatermarkResult(False, None, 0.0, accuracy, frames_used, best.scale, best.z,
                               mirrored, best.angle)
    cand, payload, accuracy = hit
    confidence = min(1.0, (cand.z - Z_DETECT) / (Z_STRONG - Z_DETECT))
    return WatermarkResult(True, payload, confidence, accuracy, frames_used, cand.scale, cand.z,
                           mirrored, cand.angle)


def detect_in_clip(frames: Callable[[int], Iterable[TimedFrame]]) -> WatermarkResult:
    """Look at ``frames(CLIP_FRAMES)``: ``frames(n)`` yields up to n timed frames of the
    clip."""
    return detect_watermark(frames(CLIP_FRAMES), CLIP_FRAMES)


def whiten(plane: np.ndarray) -> np.ndarray:
    """A plane (luma, or a frame's RGB turned to luma) high-passed and divided by the local
    residual energy (float32, frame size)."""
    if plane.ndim == 3:
        plane = cv2.cvtColor(plane, cv2.COLOR_RGB2GRAY)
    flat = plane.astype(np.float32)
    high = flat - cv2.GaussianBlur(flat, (0, 0), _HIGHPASS_SIGMA)
    h, w = high.shape
    small = (max(1, w // 4), max(1, h // 4))
    energy = cv2.resize(high * high, small, interpolation=cv2.INTER_AREA)
    energy = cv2.GaussianBlur(energy, (0, 0), 3.0)
    energy = cv2.resize(energy, (w, h), interpolation=cv2.INTER_LINEAR)
    return high / (cv2.sqrt(energy) + _ENERGY_FLOOR)


def luma_and_blue(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The frame's luma and its blue-difference chroma (Cb, full range) at frame size; a grey
    frame has no chroma (None)."""
    if frame.ndim == 2:
        return frame, None
    ycc = cv2.cvtColor(frame, cv2.COLOR_RGB2YCrCb)
    return ycc[..., 0], ycc[..., 2]


class _Sums:
    """The whitened residuals of one frame size: of the blue-difference chroma (the mark of
    frames from ``CHROMA_MIN_SIDE`` up, static in time) plainly summed; of the luma (the mark
    of smaller frames) plainly and weighted by the cosine and the sine of the modulation's
    phase at each frame's time."""

    def __init__(self, shape: tuple[int, int]) -> None:
        self.chroma = np.zeros(shape, np.float32)
        self.plain = np.zeros(shape, np.float32)
        self.cos = np.zeros(shape, np.float32)
        self.sin = np.zeros(shape, np.float32)
        self.count = 0
        self.cos_weight = 0.0
        self.sin_weight = 0.0
        self.stills = 0
        self.first = math.inf
        self.last = -math.inf

    def add(self, time_s: float | None, frame: np.ndarray) -> None:
        luma, blue = luma_and_blue(frame)
        residual = whiten(luma)
        if blue is not None:
            self.chroma += whiten(blue)
        self.plain += residual
        self.count += 1
        if time_s is None:
            self.stills += 1
        else:
            self.first, self.last = min(self.first, time_s), max(self.last, time_s)
            phase = 2.0 * math.pi * time_s / MODULATION_PERIOD_S
            c, s = math.cos(phase), math.sin(phase)
            cv2.scaleAdd(residual, c, self.cos, dst=self.cos)
            cv2.scaleAdd(residual, s, self.sin, dst=self.sin)
            self.cos_weight += c
            self.sin_weight += s

    def components(self) -> np.ndarray:
        """The sums to search, stacked as channels of one (h, w, n) array: the chroma sum (a
        static mark) and the two demodulated luma sums with the plain luma sum's share taken
        out (which cancels whatever is the same in every frame); the chroma and the plain luma
        sum when the frames are stills or span too little of a period to demodulate."""
        if self.stills or self.last - self.first < _DEMOD_SPAN * MODULATION_PERIOD_S:
            return np.dstack([self.chroma, self.plain])
        return np.dstack([self.chroma, self.cos - (self.cos_weight / self.count) * self.plain,
                          self.sin - (self.sin_weight / self.count) * self.plain])


def _accumulate(frames: Iterable[TimedFrame]) -> _Sums | None:
    """The sums of the most common frame size (None when there were no frames)."""
    sums: dict[tuple[int, int], _Sums] = {}
    for time_s, frame in frames:
        key = frame.shape[:2]
        if key not in sums:
            sums[key] = _Sums(key)
        sums[key].add(time_s, frame)
    return max(sums.values(), key=lambda s: s.count, default=None)


def _search_scale(sums: np.ndarray) -> list[_Candidate]:
    """Up to ``_SEEDS`` refined scale candidates, best sync z-score first.

    Every scale on a geometric grid (and the common resize ratios) is first scored on a
    centre crop, where being up to half a grid step off still lines the sync up; the best are
    then refined on the whole picture."""
    h, w = sums.shape[:2]
    smallest = max(_MIN_SCALE, max(h, w) / _MAX_SOURCE_SIDE)
    steps = math.floor(math.log(_MAX_SCALE / smallest) / math.log(_GRID_RATIO))
    grid = {smallest * _GRID_RATIO ** k for k in range(steps + 1)}
    grid.update(s for s in _COMMON_SCALES if smallest <= s <= _MAX_SCALE)
    grid = {s for s in grid if min(h, w) / s >= CHIP * 4}
    coarse = sorted((_score(_centre_crop(sums, s), s) for s in grid), key=lambda c: c.z,
                    reverse=True)
    # Steps of 0.5 % over +-2 %, then of 0.125 % over the +-0.25 % the first round leaves.
    refined = (_refine(sums, _refine(sums, _score(sums, seed.scale), 0.005, 4), 0.00125, 2)
               for seed in coarse[:_SEEDS])
    return sorted(refined, key=lambda c: c.z, reverse=True)


def _search_rotation(sums: np.ndarray) -> list[_Candidate]:
    """Up to two candidates for a copy turned by a few degrees (and perhaps resized by a
    common ratio), best first: every angle and ratio scored on the centre crop, the best two
    refined in angle (0.25-degree steps) and then in scale on the whole picture."""
    h, w = sums.shape[:2]
    steps = round(_MAX_ROTATION / _ROTATION_STEP)
    angles = [k * _ROTATION_STEP for k in range(-steps, steps + 1) if k]
    scales = [s for s in _rotation_scales(w, h) if min(h, w) / s >= CHIP * 4]
    coarse = sorted((_score(_centre_crop(sums, s), s, a) for s in scales for a in angles),
                    key=lambda c: c.z, reverse=True)
    refined = []
    for seed in coarse[:2]:
        best = _score(sums, seed.scale, seed.angle)
        turned = (_score(sums, best.scale, best.angle + k * 0.25) for k in (-2, -1, 1, 2))
        best = max((best, *turned), key=lambda c: c.z)
        refined.append(_refine(sums, best, 0.005, 2))
    return sorted(refined, key=lambda c: c.z, reverse=True)


def _rotation_scales(width: int, height: int) -> set[float]:
    """The mark's scale in a turned copy of ``width`` x ``height`` resized by each of
    ``_ROTATION_RATIOS``: the ratio for an original small enough for the luma mark, the ratio
    times the original's chroma pattern scale for a larger one."""
    scales = set()
    for ratio in _ROTATION_RATIOS:
        original = (width / ratio, height / ratio)
        chroma = min(original) >= CHROMA_MIN_SIDE
        scales.add(ratio * (pattern_scale(*original) if chroma else 1.0))
    return scales


def _centre_crop(sums: np.ndarray, scale: float) -> np.ndarray:
    """The middle ``_GRID_EXTENT`` nominal pixels (or less) of the sums at ``scale``."""
    h, w = sums.shape[:2]
    side = math.ceil(_GRID_EXTENT * scale)
    y, x = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return sums[y:y + side, x:x + side]


def _refine(sums: np.ndarray, seed: _Candidate, step: float, span: int) -> _Candidate:
    """The best of ``seed`` and its neighbours at relative scale steps of ``step``."""
    near = (_score(sums, seed.scale * (1 + k * step), seed.angle)
            for k in range(-span, span + 1) if k)
    return max((seed, *near), key=lambda c: c.z)


def _fold(sums: np.ndarray, scale: float, angle: float = 0.0) -> np.ndarray:
    """The stacked sums turned back by ``angle`` degrees, resampled to nominal scale and
    summed modulo the tile ((TILE, TILE, n)). One warp moves all the sums: it was most of the
    search's time."""
    h, w, n = sums.shape
    if angle:
        turn = math.radians(angle)
        cos, sin = abs(math.cos(turn)), abs(math.sin(turn))
        out_w = math.ceil((w * cos + h * sin) / scale)
        out_h = math.ceil((w * sin + h * cos) / scale)
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), -angle, 1 / scale)
        matrix[:, 2] += (out_w / 2 - w / 2, out_h / 2 - h / 2)
    else:
        out_w, out_h = math.ceil(w / scale), math.ceil(h / scale)
        matrix = np.array([[1 / scale, 0, 0], [0, 1 / scale, 0]], dtype=np.float64)
    nominal = cv2.warpAffine(sums, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR)
    nominal = nominal.reshape(out_h, out_w, n)
    fold = np.zeros((TILE, TILE, n), dtype=np.float32)
    for y in range(0, out_h, TILE):
        for x in range(0, out_w, TILE):
            block = nominal[y:y + TILE, x:x + TILE]
            fold[:block.shape[0], :block.shape[1]] += block
    return fold


def _whitened_spectra(folds: np.ndarray) -> np.ndarray:
    """Each fold's spectrum divided by its locally averaged magnitude ((TILE, TILE // 2 + 1,
    n)): flattens the host content, and leaves every fold with noise of the same level, so
    that their correlations can be added as :func:`_score` does."""
    spectra = np.fft.rfft2(folds, axes=(0, 1))
    level = cv2.blur(np.abs(spectra).astype(np.float32), (WHITEN_BOX, WHITEN_BOX))
    return spectra / (level.reshape(spectra.shape) + 1e-6)


def _score(sums: np.ndarray, scale: float, angle: float = 0.0) -> _Candidate:
    """The sync correlation at ``scale`` (and ``angle``). With several sums the mark is split
    between them in an unknown proportion; the sum of their squared correlations finds it
    whatever the split, and the correlations at the peak give the mix that holds it with a +
    sign. The z-score is the peak's magnitude over the noise level read off the median (the
    squared magnitude of noise follows a chi-square law with one degree of freedom per sum)."""
    specs = _whitened_spectra(_fold(sums, scale, angle))
    corrs = np.fft.irfft2(specs * sync_tile_spectrum()[..., None], s=(TILE, TILE), axes=(0, 1))
    power = np.einsum("ijk,ijk->ij", corrs, corrs)
    peak = np.unravel_index(int(np.argmax(power)), power.shape)
    noise = math.sqrt(float(np.median(power)) / _CHI2_MEDIAN[sums.shape[2]]) + 1e-12
    magnitude = math.sqrt(float(power[peak]))
    weights = tuple(float(c) / (magnitude + 1e-12) for c in corrs[peak])
    return _Candidate(scale, magnitude / noise, (int(peak[0]), int(peak[1])), weights, angle)


def soft_code_bits(sums: np.ndarray, cand: _Candidate) -> tuple[np.ndarray, np.ndarray]:
    """(every chip's value times its sign, one soft value per code bit) read from the stacked
    sums at the candidate's scale, angle, phase and mix (also what the design sweep in
    ``tests/provenance`` scores against the true code bits)."""
    _, data, data_bit, signs = chip_layout()
    specs = _whitened_spectra(_fold(sums, cand.scale, cand.angle))
    mixed = np.fft.irfft2(specs @ np.asarray(cand.weights), s=(TILE, TILE))
    aligned = band_pass(np.roll(mixed.astype(np.float32), (-cand.shift[0], -cand.shift[1]),
                                axis=(0, 1)))
    chips = aligned.reshape(GRID, CHIP, GRID, CHIP).sum(axis=(1, 3)).ravel() * signs
    soft = np.bincount(data_bit, weights=_clip_outliers(chips[data]), minlength=CODED_BITS)
    return chips, soft


def _decode(sums: np.ndarray, cand: _Candidate) -> tuple[int | None, float]:
    """(payload or None, raw code-bit accuracy) at the candidate's scale and phase."""
    sync = chip_layout()[0]
    chips, soft = soft_code_bits(sums, cand)
    payload = decode_payload(viterbi_decode(soft, CODE_BITS))
    if payload is not None:
        truth = conv_encode(encode_payload(payload)).astype(bool)
        return payload, float(np.mean((soft > 0) == truth))
    sync_vals = chips[sync]
    snr = float(np.mean(sync_vals)) / (float(np.std(sync_vals)) + 1e-9)
    chips_per_bit = DATA_CHIPS / CODED_BITS
    return None, 0.5 * (1 + math.erf(max(0.0, snr) * math.sqrt(chips_per_bit / 2)))


def _clip_outliers(values: np.ndarray) -> np.ndarray:
    """Values limited to ``_CHIP_CLIP`` robust standard deviations.

    A few chips that sit on strong edges of the host picture carry large wrong values; left
    alone they out-vote the other chips of their code bit and Viterbi fails on an otherwise
    good read (seen after crop + downscale + CRF 28 at ~88 % raw bit accuracy).
    """
    centre = float(np.median(values))
    spread = 1.4826 * float(np.median(np.abs(values - centre))) + 1e-12
    limit = _CHIP_CLIP * spread
    return np.clip(values, -limit, limit)
