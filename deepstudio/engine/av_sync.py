"""How far apart a clip's speech and its speaker's mouth are: speech-band energy per video
frame, and the lag at which mouth opening follows it best.

``deepstudio evaluate lipsync`` reports that lag for a result. Lip-sync training measures it on
its footage and shifts each frame's mel window by it: footage whose sound lags its picture
(talk_long_b's by ~6 frames) would otherwise teach the model that lag, and every dub made with
the model would repeat it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepstudio.media.audio import read_audio

SPEECH_BAND_HZ = (300.0, 3000.0)
MAX_LAG_FRAMES = 15
ENERGY_RATE = 16000
CHANCE_SHIFTS = 60
"""Circular shifts of the energy that give the correlation a lag search reaches by chance."""
SYNC_MARGIN = 0.1
"""A lag counts as measured when its correlation beats chance (95th percentile) by this."""


def pearson(a: Sequence[float], b: Sequence[float]) -> float:
    """Correlation of two series, ignoring NaNs; NaN when either is (nearly) constant."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or x[ok].std() < 1e-9 or y[ok].std() < 1e-9:
        return float("nan")
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def speech_energy(audio_path: Path, fps: float, frames: int, start_s: float = 0.0) -> np.ndarray:
    """Log energy of the speech band in a one-frame window centred on each video frame."""
    return speech_energy_of(read_audio(audio_path, ENERGY_RATE, start_s=start_s), fps, frames)


def speech_energy_of(samples: np.ndarray, fps: float, frames: int) -> np.ndarray:
    """:func:`speech_energy` of mono samples at ``ENERGY_RATE`` (NaN where the window does
    not fit in the audio)."""
    spec_win = int(ENERGY_RATE / fps)
    out = np.full(frames, np.nan)
    freqs = np.fft.rfftfreq(spec_win * 2, 1 / ENERGY_RATE)
    band = (freqs >= SPEECH_BAND_HZ[0]) & (freqs <= SPEECH_BAND_HZ[1])
    window = np.hanning(spec_win * 2)
    for k in range(frames):
        centre = int(round(k / fps * ENERGY_RATE))
        a = centre - spec_win
        if a < 0 or centre + spec_win > len(samples):
            continue
        spectrum = np.abs(np.fft.rfft(samples[a:centre + spec_win] * window)) ** 2
        out[k] = np.log(spectrum[band].sum() + 1e-8)
    return out


def best_lag(mouth: np.ndarray, energy: np.ndarray, max_lag: int = MAX_LAG_FRAMES
             ) -> tuple[int, float, float]:
    """(lag, r at lag, r at 0): positive lag = the mouth moves after the sound."""
    results = {}
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            results[lag] = pearson(mouth[lag:], energy[:len(energy) - lag])
        else:
            results[lag] = pearson(mouth[:lag], energy[-lag:])
    finite = {k: v for k, v in results.items() if np.isfinite(v)}
    if not finite:
        return 0, float("nan"), float("nan")
    lag = max(finite, key=finite.get)
    return lag, finite[lag], results.get(0, float("nan"))


@dataclass(frozen=True)
class AVSync:
    """The measured offset of a piece of footage."""

    lag_frames: int
    """Positive: the mouth moves this many frames after the sound."""
    correlation: float
    """Mouth opening vs speech energy at that lag."""
    chance: float
    """What the lag search reaches on unrelated audio (95th percentile over circular shifts)."""

    @property
    def measured(self) -> bool:
        """Whether the mouth follows the speech clearly enough for the lag to mean anything
        (a speaker whose lips hardly follow his loudness gives a lag at random)."""
        return bool(np.isfinite(self.correlation)) and \
            self.correlation >= self.chance + SYNC_MARGIN

    @property
    def correction_frames(self) -> int:
        """The lag when it is measured, else 0 (footage taken as in sync)."""
        return self.lag_frames if self.measured else 0

    def to_dict(self) -> dict[str, object]:
        return {"lag_frames": self.lag_frames, "correlation": round(self.correlation, 3),
                "chance": round(self.chance, 3), "measured": self.measured}


def measure_av_sync(mouth: np.ndarray, energy: np.ndarray) -> AVSync:
    """The lag of ``mouth`` (per frame, NaN without a face) behind ``energy``, and whether
    it stands out from chance. Chance: the same search against the energy rotated by evenly
    spaced amounts of at least a second's worth of lags (deterministic, no random draws)."""
    lag, r_best, _ = best_lag(mouth, energy)
    n = len(energy)
    lowest = 3 * MAX_LAG_FRAMES
    shifts = np.linspace(lowest, n - lowest, CHANCE_SHIFTS).astype(int) if n > 2 * lowest else []
    chance = [best_lag(mouth, np.roll(energy, int(shift)))[1] for shift in shifts]
    chance = [r for r in chance if np.isfinite(r)]
    return AVSync(lag, r_best, float(np.percentile(chance, 95)) if chance else float("inf"))


ADVICE_FRAMES = 3
"""Offsets below this are within what lips and loudness show on footage in sync."""


@dataclass(frozen=True)
class SyncAdvice:
    """Footage whose lips clearly follow its speech at an offset nobody corrected."""

    text: str
    sound_delay: int
    """The sound delay that would correct it."""


def sync_advice(footage: dict) -> SyncAdvice | None:
    """Advice for one footage summary of a lip-sync model card (its ``av_sync`` measure and
    the ``sound_delay_frames`` applied), or None when there is nothing to say."""
    sync = footage.get("av_sync") or {}
    applied = int(footage.get("sound_delay_frames", 0))
    suggested = -int(sync.get("lag_frames", 0))
    residual = suggested - applied
    if not sync.get("measured") or abs(residual) < ADVICE_FRAMES:
        return None
    when = "after" if residual > 0 else "before"
    return SyncAdvice(f"{Path(str(footage.get('path', '?'))).name}: its sound seems to come "
                      f"{abs(residual)} frames {when} the lips (correlation "
                      f"{float(sync.get('correlation', 0)):.2f}); if the footage is out of "
                      f"sync", suggested)
