"""The key-derived spread-spectrum tile shared by the watermark embedder and detector.

Design (all sizes at the nominal, unscaled resolution):

* The mark is one square tile of ``TILE`` pixels repeated over the whole frame, so any crop
  still holds whole periods of it, and the tile phase of a crop can be found by circular
  cross-correlation of the frame folded modulo the tile.
* The tile is a grid of ``GRID x GRID`` chips of ``CHIP`` pixels. A fixed pseudo-random quarter
  of the chips carry a known sign pattern (the *sync*, used to find the phase and the scale);
  the rest carry the 72 payload + CRC bits after a rate-1/3 convolutional code (234 code
  bits), each code bit spread over three or four chips with pseudo-random signs.
* The chip image is band-pass filtered (periodic Gaussians, :func:`chip_filter`): the mark
  lives in the mid frequencies that survive H.264 at CRF 28 and a 50 % downscale, with no hard
  edges, and leaves out the coarse frequencies where the host picture would drown it. The
  detector correlates with the same filter (a matched filter), which measured ~+1.5 dB of
  code-bit SNR over plain chip sums after crop + downscale + CRF 28.
* In a video the mark's sign follows a slow square-ish wave in time (:func:`modulation`,
  period ``MODULATION_PERIOD_S``). The picture of a locked-off shot is the same in every frame,
  so a static mark could not be told apart from it: the detector demodulates, and everything
  that does not change at that rhythm (the set, the background) cancels. A still carries the
  mark at full strength.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from deepstudio.provenance.ecc import coded_length, conv_encode
from deepstudio.provenance.payload import CODE_BITS, encode_payload

TILE = 256
CHIP = 8
GRID = TILE // CHIP
SYNC_CHIPS = GRID * GRID // 4
DATA_CHIPS = GRID * GRID - SYNC_CHIPS
CODED_BITS = coded_length(CODE_BITS)
SMOOTH_SIGMA = 1.2
LOW_CUT_SIGMA = 4.0
_KEY = 0x0DEE_5D10_5A7E_2026
MODULATION_PERIOD_S = 2.0
_MODULATION_SHARPNESS = 2.5
"""The wave is a cosine times this, clipped to +-1: flat at full strength 74 % of the time, and
each change of sign a ramp of a quarter second (no visible pop, and H.264 codes it)."""


def modulation(time_s: float | None) -> float:
    """The mark's sign and weight at ``time_s`` seconds into a video (1 for a still: None)."""
    if time_s is None:
        return 1.0
    wave = _MODULATION_SHARPNESS * math.cos(2.0 * math.pi * time_s / MODULATION_PERIOD_S)
    return max(-1.0, min(1.0, wave))


@lru_cache(maxsize=1)
def chip_layout() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(sync chip indices, data chip indices, code bit of each data chip, chip signs)."""
    rng = np.random.default_rng(_KEY)
    order = rng.permutation(GRID * GRID)
    sync = order[:SYNC_CHIPS]
    data = order[SYNC_CHIPS:]
    data_bit = np.arange(DATA_CHIPS) % CODED_BITS
    signs = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=GRID * GRID)
    return sync, data, data_bit, signs


@lru_cache(maxsize=1)
def chip_filter() -> np.ndarray:
    """The tile's band-pass (rfft2 layout): Gaussian low-pass times a Gaussian low cut.

    The low-pass keeps the mark in the frequencies that survive H.264 and a 50 % downscale;
    the low cut drops the coarse frequencies where natural images hold most of their energy
    (there the mark would only cost PSNR and be drowned by the host image).
    """
    fy = np.fft.fftfreq(TILE)[:, None]
    fx = np.fft.rfftfreq(TILE)[None, :]
    f2 = fy**2 + fx**2
    low_pass = np.exp(-2.0 * (np.pi * SMOOTH_SIGMA) ** 2 * f2)
    return (low_pass * (1.0 - np.exp(-2.0 * (np.pi * LOW_CUT_SIGMA) ** 2 * f2))).astype(np.float32)


def _render_chips(chips: np.ndarray) -> np.ndarray:
    """Chip values (GRID*GRID,) -> smooth periodic tile (TILE, TILE) float32."""
    grid = chips.reshape(GRID, GRID).astype(np.float32)
    tile = np.kron(grid, np.ones((CHIP, CHIP), dtype=np.float32))
    return band_pass(tile)


def band_pass(tile: np.ndarray) -> np.ndarray:
    """A periodic TILE x TILE image filtered with :func:`chip_filter` (also the detector's
    matched filter: the filter is symmetric, so it is its own adjoint)."""
    return np.fft.irfft2(np.fft.rfft2(tile) * chip_filter(), s=tile.shape).astype(np.float32)


def payload_tile(payload: int) -> np.ndarray:
    """The tile carrying ``payload`` (sync + data chips), scaled to unit RMS."""
    sync, data, data_bit, signs = chip_layout()
    coded = conv_encode(encode_payload(payload)).astype(np.float32) * 2.0 - 1.0
    chips = np.zeros(GRID * GRID, dtype=np.float32)
    chips[sync] = signs[sync]
    chips[data] = signs[data] * coded[data_bit]
    tile = _render_chips(chips)
    return tile / np.sqrt(np.mean(tile**2))


@lru_cache(maxsize=1)
def sync_tile_spectrum() -> np.ndarray:
    """Conjugate FFT of the sync-only tile, for circular cross-correlation."""
    sync, _, _, signs = chip_layout()
    chips = np.zeros(GRID * GRID, dtype=np.float32)
    chips[sync] = signs[sync]
    return np.conj(np.fft.rfft2(_render_chips(chips)))
