"""Log-mel spectrograms and per-video-frame audio windows for lip-sync models (numpy only).

The features follow the Wav2Lip family, so that its published checkpoints can be used:

- audio: 16 kHz mono float in [-1, 1], pre-emphasis 0.97;
- STFT: 800-sample (50 ms) periodic Hann window, n_fft 800, hop 200 samples (12.5 ms), centred
  frames with reflect padding, so mel column ``m`` is centred on time ``m * 12.5 ms`` (80 columns
  per second);
- 80 Slaney-style mel bands between 55 Hz and 7600 Hz applied to the magnitude spectrum;
- ``20 log10(max(1e-5, x)) - 20 dB``, mapped linearly from [-100 dB, 0 dB] onto [-4, 4] and
  clipped. Silence is therefore :data:`MEL_FLOOR` (-4).

A video frame ``k`` at ``fps`` covers the time span ``[k/fps, (k+1)/fps)``. Its audio window is
``window`` mel columns (16 = 200 ms) centred on the middle of that span, so lips and audio agree
to within half a mel hop (6.25 ms) at any frame rate. At 25 fps this is exactly the window Wav2Lip
trains with (five frames starting two frames before ``k``). Columns before the start or after the
end of the audio are silence.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from deepstudio.errors import MediaError

SAMPLE_RATE = 16000
N_FFT = 800
HOP = 200
WIN = 800
N_MELS = 80
FMIN = 55.0
FMAX = 7600.0
PREEMPHASIS = 0.97
MEL_WINDOW = 16
MEL_FPS = SAMPLE_RATE / HOP
"""Mel columns per second (80)."""
MEL_FLOOR = -4.0
"""Value of silence (and the lower clip) in normalised log-mel units."""
MEL_CEIL = 4.0

_MIN_DB = -100.0
_REF_DB = 20.0
_BLOCK_FRAMES = 4096
"""STFT columns computed at a time: bounds peak memory for hour-long dialogue tracks."""


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz * 3.0 / 200.0
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) * 27.0 / np.log(6.4)
    return np.where(hz < 1000.0, linear, log_part)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * 200.0 / 3.0
    log_part = 1000.0 * np.exp((mel - 15.0) * np.log(6.4) / 27.0)
    return np.where(mel < 15.0, linear, log_part)


def mel_filterbank() -> np.ndarray:
    """Triangular mel filters (80, 401), area-normalised (Slaney), as float32."""
    bin_hz = np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(FMIN), _hz_to_mel(FMAX), N_MELS + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bin_hz[None, :] - lower) / (centre - lower)
    falling = (upper - bin_hz[None, :]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (upper - lower))
    return weights.astype(np.float32)


_FILTERS = mel_filterbank()
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WIN) / WIN)).astype(np.float32)


def _as_mono_float(audio: np.ndarray, source: str | Path | None) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio samples, got an array of shape {audio.shape} "
                         "(read it with deepstudio.media.audio.read_audio)")
    if audio.size == 0:
        raise MediaError("the audio track is empty (no samples to drive the lips)", source)
    if np.issubdtype(audio.dtype, np.integer):
        audio = audio.astype(np.float32) / float(np.iinfo(audio.dtype).max)
    audio = audio.astype(np.float32, copy=False)
    if not np.all(np.isfinite(audio)):
        raise MediaError("the audio contains NaN or infinite samples", source)
    return audio


def log_mel_spectrogram(audio: np.ndarray, source: str | Path | None = None) -> np.ndarray:
    """Normalised log-mel spectrogram (80, 1 + len(audio) // 200) float32 of 16 kHz mono audio.

    ``source`` only names the file in error messages. Memory stays bounded for long tracks: the
    STFT is computed in blocks of columns over a strided view of the signal.
    """
    audio = _as_mono_float(audio, source)
    emphasised = np.empty_like(audio)
    emphasised[0] = audio[0]
    emphasised[1:] = audio[1:] - PREEMPHASIS * audio[:-1]
    mode = "reflect" if emphasised.size > N_FFT // 2 else "constant"
    padded = np.pad(emphasised, N_FFT // 2, mode=mode)
    n_frames = 1 + audio.size // HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, WIN)[::HOP][:n_frames]
    out = np.empty((N_MELS, n_frames), dtype=np.float32)
    for start in range(0, n_frames, _BLOCK_FRAMES):
        block = frames[start:start + _BLOCK_FRAMES] * _WINDOW
        magnitude = np.abs(np.fft.rfft(block, n=N_FFT, axis=1)).astype(np.float32)
        mel = _FILTERS @ magnitude.T
        db = 20.0 * np.log10(np.maximum(mel, 1e-5)) - _REF_DB
        out[:, start:start + block.shape[0]] = db
    normalised = (2.0 * MEL_CEIL) * (out - _MIN_DB) / (-_MIN_DB) - MEL_CEIL
    return np.clip(normalised, MEL_FLOOR, MEL_CEIL, out=normalised)


def window_start(frame_index: int | np.ndarray, fps: float | Fraction,
                 window: int = MEL_WINDOW) -> np.ndarray:
    """First mel column of the window of video frame(s) ``frame_index`` (may be negative)."""
    centre_s = (np.asarray(frame_index, dtype=np.float64) + 0.5) / float(fps)
    return np.rint(centre_s * MEL_FPS - (window - 1) / 2.0).astype(np.int64)


def mel_windows(mel: np.ndarray, frame_indices: np.ndarray | range, fps: float | Fraction,
                window: int = MEL_WINDOW) -> np.ndarray:
    """Audio windows (len(frame_indices), 80, window) float32 for the given video frames."""
    if float(fps) <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    starts = window_start(np.asarray(frame_indices), fps, window)
    columns = starts[:, None] + np.arange(window)[None, :]
    valid = (columns >= 0) & (columns < mel.shape[1])
    gathered = mel[:, np.clip(columns, 0, max(mel.shape[1] - 1, 0))]  # (80, N, window)
    gathered = np.where(valid[None], gathered, np.float32(MEL_FLOOR))
    return np.ascontiguousarray(gathered.transpose(1, 0, 2), dtype=np.float32)


def mel_window_for_frame(mel: np.ndarray, frame_index: int, fps: float | Fraction,
                         window: int = MEL_WINDOW) -> np.ndarray:
    """The (80, window) audio features of video frame ``frame_index`` (see module docstring)."""
    return mel_windows(mel, [frame_index], fps, window)[0]
