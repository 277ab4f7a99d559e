"""Watermark detection over a clip: whiten, demodulate, find scale and tile phase, decode.

1. Each frame's luma is whitened (high-pass, divided by the local residual energy). The mark's
   sign follows a known slow wave in time (:func:`.wm_pattern.modulation`), so the residuals
   are summed twice, weighted by the cosine and the sine of that wave at each frame's time
   (quadrature: a trimmed clip starts at an unknown point of the wave), and the plain sum's
   share is taken out of both. The picture of a locked-off shot is the same in every frame
   and cancels; moving content only grows like the square root of the frame count, the mark
   linearly. A still, or frames spanning less than most of a period, are summed plainly.
2. Scale: every ratio on a geometric grid (and the common resize ratios) is scored on a centre
   crop; the best ones are refined on a fine grid over the whole picture.
3. For a scale, each sum is resampled to the nominal scale, folded modulo the tile and
   circularly cross-correlated with the sync chips; the peak of the correlations' combined
   magnitude gives the tile phase (so crops do not matter), the mix of the two sums that holds
   the mark (its phase in time, and its sign), and a z-score that says whether a mark is there.
4. The data chips at that phase give one soft value per code bit; Viterbi decoding gives the
   payload + CRC bits, and the CRC-24 must pass for a payload to be reported.
5. When nothing decodes, steps 2-4 run again on the sums flipped left to right (a mirrored
   copy).
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
SECOND_LOOK_FRAMES = 300
"""When nothing decodes from the first frames and the clip has more, read this many: on a
static 450x450 clip after crop + 50 % downscale + CRF 28 the raw code-bit accuracy rises from
0.78 (Viterbi fails) at 150 frames to 0.87 at 300. Unmarked files take twice as long."""
Z_DETECT = 7.5
"""Sync z-score from which a reading is decoded; a mark is reported only if its CRC-24 also
passes (a wrong decode passes with probability 2**-24, and a file gets at most a dozen decodes:
three scale candidates, two orientations, two looks). On the unmarked testdata clips the best
noise score is 5.5-7.4 (bench_watermark runs: the highest 672x224 multi_a read mirrored),
marked clips after all three attacks score 8.3 and up."""
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
_CHI2_MEDIAN = {1: 0.4549, 2: 1.3863}
"""Median of a chi-square variable with 1 and 2 degrees of freedom."""


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
    sync_z: float = 0.0
    mirrored: bool = False
    """Whether the best reading was of the picture flipped left to right."""

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
        }


@dataclass(frozen=True)
class _Candidate:
    scale: float
    z: float
    shift: tuple[int, int]
    weights: tuple[float, ...]
    """How to mix the sums' whitened folds so that the mix holds the mark with a + sign."""


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
    result = _read(upright, sums.count, mirrored=False)
    if result.payload is None:
        # A mirrored copy (a common edit when re-uploading) holds the tile flipped left-right.
        flipped = [np.ascontiguousarray(r[:, ::-1]) for r in upright]
        mirrored = _read(flipped, sums.count, mirrored=True)
        if mirrored.payload is not None or mirrored.sync_z > result.sync_z:
            return mirrored
    return result


def _read(sums: list[np.ndarray], frames_used: int, mirrored: bool) -> WatermarkResult:
    """Search and decode the summed residuals of one orientation."""
    candidates = _search_scale(sums)
    if not candidates:
        return WatermarkResult(False, None, 0.0, 0.5, frames_used)
    decoded = [(cand, *_decode(sums, cand)) for cand in candidates if cand.z >= Z_DETECT]
    hit = next(((c, p, a) for c, p, a in decoded if p is not None), None)
    if hit is None:
        best = candidates[0]
        accuracy = decoded[0][2] if decoded else _decode(sums, best)[1]
        return WatermarkResult(False, None, 0.0, accuracy, frames_used, best.scale, best.z,
                               mirrored)
    cand, payload, accuracy = hit
    confidence = min(1.0, (cand.z - Z_DETECT) / (Z_STRONG - Z_DETECT))
    return WatermarkResult(True, payload, confidence, accuracy, frames_used, cand.scale, cand.z,
                           mirrored)


def detect_in_clip(frames: Callable[[int], Iterable[TimedFrame]],
                   available: int) -> WatermarkResult:
    """Look at ``frames(DEFAULT_MAX_FRAMES)`` and, when no payload decodes and the clip has
    more than that (``available``), take a second, longer look at ``frames(SECOND_LOOK_FRAMES)``.
    ``frames(n)`` yields up to n timed frames of the clip."""
    result = detect_watermark(frames(DEFAULT_MAX_FRAMES), DEFAULT_MAX_FRAMES)
    if result.payload is None and available > DEFAULT_MAX_FRAMES:
        longer = detect_watermark(frames(SECOND_LOOK_FRAMES), SECOND_LOOK_FRAMES)
        if longer.payload is not None or longer.sync_z > result.sync_z:
            return longer
    return result


def whiten(frame: np.ndarray) -> np.ndarray:
    """High-passed luma divided by the local residual energy (float32, frame size)."""
    if frame.ndim == 3:
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    else:
        gray = frame.astype(np.float32)
    high = gray - cv2.GaussianBlur(gray, (0, 0), _HIGHPASS_SIGMA)
    h, w = high.shape
    small = (max(1, w // 4), max(1, h // 4))
    energy = cv2.resize(high * high, small, interpolation=cv2.INTER_AREA)
    energy = cv2.GaussianBlur(energy, (0, 0), 3.0)
    energy = cv2.resize(energy, (w, h), interpolation=cv2.INTER_LINEAR)
    return high / (cv2.sqrt(energy) + _ENERGY_FLOOR)


class _Sums:
    """The whitened residuals of one frame size: plain, and weighted by the cosine and the
    sine of the modulation's phase at each frame's time."""

    def __init__(self, shape: tuple[int, int]) -> None:
        self.plain = np.zeros(shape, np.float32)
        self.cos = np.zeros(shape, np.float32)
        self.sin = np.zeros(shape, np.float32)
        self.count = 0
        self.cos_weight = 0.0
        self.sin_weight = 0.0
        self.stills = 0
        self.first = math.inf
        self.last = -math.inf

    def add(self, time_s: float | None, residual: np.ndarray) -> None:
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

    def components(self) -> list[np.ndarray]:
        """The sums to search: the two demodulated ones with the plain sum's share taken out
        (which cancels whatever is the same in every frame), or the plain sum when the frames
        are stills or span too little of a period to demodulate."""
        if self.stills or self.last - self.first < _DEMOD_SPAN * MODULATION_PERIOD_S:
            return [self.plain]
        return [self.cos - (self.cos_weight / self.count) * self.plain,
                self.sin - (self.sin_weight / self.count) * self.plain]


def _accumulate(frames: Iterable[TimedFrame]) -> _Sums | None:
    """The sums of the most common frame size (None when there were no frames)."""
    sums: dict[tuple[int, int], _Sums] = {}
    for time_s, frame in frames:
        key = frame.shape[:2]
        if key not in sums:
            sums[key] = _Sums(key)
        sums[key].add(time_s, whiten(frame))
    return max(sums.values(), key=lambda s: s.count, default=None)


def _search_scale(sums: list[np.ndarray]) -> list[_Candidate]:
    """Up to ``_SEEDS`` refined scale candidates, best sync z-score first.

    Every scale on a geometric grid (and the common resize ratios) is first scored on a
    centre crop, where being up to half a grid step off still lines the sync up; the best are
    then refined on the whole picture."""
    h, w = sums[0].shape
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


def _centre_crop(sums: list[np.ndarray], scale: float) -> list[np.ndarray]:
    """The middle ``_GRID_EXTENT`` nominal pixels (or less) of each sum at ``scale``."""
    h, w = sums[0].shape
    side = math.ceil(_GRID_EXTENT * scale)
    y, x = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return [r[y:y + side, x:x + side] for r in sums]


def _refine(sums: list[np.ndarray], seed: _Candidate, step: float, span: int) -> _Candidate:
    """The best of ``seed`` and its neighbours at relative scale steps of ``step``."""
    near = (_score(sums, seed.scale * (1 + k * step)) for k in range(-span, span + 1) if k)
    return max((seed, *near), key=lambda c: c.z)


def _fold(residual: np.ndarray, scale: float) -> np.ndarray:
    """The residual resampled to nominal scale and summed modulo the tile (TILE x TILE)."""
    h, w = residual.shape
    out_w, out_h = math.ceil(w / scale), math.ceil(h / scale)
    matrix = np.array([[1 / scale, 0, 0], [0, 1 / scale, 0]], dtype=np.float64)
    nominal = cv2.warpAffine(residual, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR)
    ny, nx = -(-out_h // TILE), -(-out_w // TILE)
    padded = np.zeros((ny * TILE, nx * TILE), dtype=np.float32)
    padded[:out_h, :out_w] = nominal
    return padded.reshape(ny, TILE, nx, TILE).sum(axis=(0, 2))


def _whitened_spectra(folds: list[np.ndarray]) -> list[np.ndarray]:
    """Each fold's spectrum divided by its locally averaged magnitude: flattens the host
    content, and leaves every fold with noise of the same level, so that their correlations
    can be added as :func:`_score` does."""
    spectra = [np.fft.rfft2(f) for f in folds]
    return [s / (cv2.blur(np.abs(s).astype(np.float32), (WHITEN_BOX, WHITEN_BOX)) + 1e-6)
            for s in spectra]


def _score(sums: list[np.ndarray], scale: float) -> _Candidate:
    """The sync correlation at ``scale``. With two sums the mark is split between them in an
    unknown proportion; the sum of their squared correlations finds it whatever the split,
    and the correlations at the peak give the mix that holds it with a + sign. The z-score is
    the peak's magnitude over the noise level read off the median (the squared magnitude of
    noise follows a chi-square law with one degree of freedom per sum)."""
    specs = _whitened_spectra([_fold(r, scale) for r in sums])
    corrs = [np.fft.irfft2(s * sync_tile_spectrum(), s=(TILE, TILE)) for s in specs]
    power = sum(c * c for c in corrs)
    peak = np.unravel_index(int(np.argmax(power)), power.shape)
    noise = math.sqrt(float(np.median(power)) / _CHI2_MEDIAN[len(sums)]) + 1e-12
    magnitude = math.sqrt(float(power[peak]))
    weights = tuple(float(c[peak]) / (magnitude + 1e-12) for c in corrs)
    return _Candidate(scale, magnitude / noise, (int(peak[0]), int(peak[1])), weights)


def _decode(sums: list[np.ndarray], cand: _Candidate) -> tuple[int | None, float]:
    """(payload or None, raw code-bit accuracy) at the candidate's scale and phase."""
    sync, data, data_bit, signs = chip_layout()
    specs = _whitened_spectra([_fold(r, cand.scale) for r in sums])
    mixed = np.fft.irfft2(sum(w * s for w, s in zip(cand.weights, specs)), s=(TILE, TILE))
    aligned = band_pass(np.roll(mixed.astype(np.float32), (-cand.shift[0], -cand.shift[1]),
                                axis=(0, 1)))
    chips = aligned.reshape(GRID, CHIP, GRID, CHIP).sum(axis=(1, 3)).ravel() * signs
    soft = np.bincount(data_bit, weights=_clip_outliers(chips[data]), minlength=CODED_BITS)
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
