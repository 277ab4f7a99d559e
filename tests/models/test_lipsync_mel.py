"""Log-mel features and per-frame audio windows: alignment at real frame rates, edge cases."""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from deepstudio.errors import MediaError
from deepstudio.media.audio import read_audio
from deepstudio.models.lipsync.mel import (
    MEL_FLOOR,
    MEL_WINDOW,
    SAMPLE_RATE,
    log_mel_spectrogram,
    mel_window_for_frame,
    mel_windows,
)

FRAME_RATES = [Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001),
               Fraction(30), Fraction(60)]


def _click_track(times_s: list[float], duration_s: float) -> np.ndarray:
    """Silence with a 30 ms Hann-shaped noise burst centred on each time."""
    rng = np.random.default_rng(0)
    audio = np.zeros(int(duration_s * SAMPLE_RATE), dtype=np.float32)
    half = int(0.015 * SAMPLE_RATE)
    burst = np.hanning(2 * half + 1) * rng.uniform(-0.8, 0.8, 2 * half + 1)
    for t in times_s:
        c = round(t * SAMPLE_RATE)
        audio[c - half:c + half + 1] += burst.astype(np.float32)
    return audio


def _energy_centroid(window: np.ndarray) -> float:
    """Column position (0..15) of the centre of the burst energy in a window."""
    weights = window.mean(axis=0) - MEL_FLOOR
    return float((weights * np.arange(window.shape[1])).sum() / weights.sum())


@pytest.mark.parametrize("fps", FRAME_RATES, ids=lambda f: f"{float(f):.3f}")
def test_clicks_at_frame_centres_land_in_the_window_middle(fps: Fraction) -> None:
    duration = 40.0  # long enough for 23.976-vs-24 style drift to show
    frame_count = int(duration * fps) - 1
    clicked = list(range(7, frame_count - 20, 53))
    mel = log_mel_spectrogram(_click_track([(k + 0.5) / fps for k in clicked], duration))
    half_frame_columns = 0.5 / float(fps) * 80
    for k in clicked:
        window = mel_window_for_frame(mel, k, fps)
        assert window.shape == (80, MEL_WINDOW)
        offset = _energy_centroid(window) - (MEL_WINDOW - 1) / 2
        assert abs(offset) < half_frame_columns, (k, offset)
        # a frame a few frames away does not see the click in its middle
        away = mel_window_for_frame(mel, k + 5, fps)
        assert away[:, 6:10].max() < window[:, 6:10].max() - 1.0


def test_windows_are_padded_with_silence_at_both_ends() -> None:
    audio = np.random.default_rng(1).uniform(-0.5, 0.5, SAMPLE_RATE).astype(np.float32)  # 1 s
    mel = log_mel_spectrogram(audio)
    assert mel.shape == (80, 81)
    assert mel.min() >= -4.0 and mel.max() <= 4.0
    first = mel_window_for_frame(mel, 0, 25)
    assert np.all(first[:, :3] == MEL_FLOOR) and first[:, -1].max() > MEL_FLOOR
    last = mel_window_for_frame(mel, 24, 25)
    assert np.all(last[:, -3:] == MEL_FLOOR)
    beyond = mel_window_for_frame(mel, 100, 25)
    assert np.all(beyond == MEL_FLOOR)
    batch = mel_windows(mel, range(25), 25)
    assert batch.shape == (25, 80, MEL_WINDOW) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch[10], mel_window_for_frame(mel, 10, 25))


def test_empty_and_broken_audio_give_clear_errors() -> None:
    with pytest.raises(MediaError, match=r"dialogue\.wav: the audio track is empty"):
        log_mel_spectrogram(np.zeros(0, np.float32), source="dialogue.wav")
    with pytest.raises(MediaError, match="NaN"):
        log_mel_spectrogram(np.array([0.0, np.nan, 0.1], np.float32))
    with pytest.raises(ValueError, match="mono"):
        log_mel_spectrogram(np.zeros((100, 2), np.float32))
    tiny = log_mel_spectrogram(np.array([0.3], np.float32))  # shorter than one STFT window
    assert tiny.shape == (80, 1)
    as_int16 = log_mel_spectrogram((np.ones(800) * 16000).astype(np.int16))
    np.testing.assert_allclose(as_int16, log_mel_spectrogram(np.ones(800, np.float32) * 16000
                                                             / 32767), atol=1e-4)


def test_long_audio_is_computed_in_blocks_without_seams() -> None:
    rng = np.random.default_rng(2)
    audio = (rng.standard_normal(SAMPLE_RATE * 60 * 3) * 0.1).astype(np.float32)  # 3 minutes
    mel = log_mel_spectrogram(audio)
    assert mel.shape == (80, 1 + audio.size // 200)
    # a piece around a block boundary (column 4096) computed on its own agrees there: piece
    # column j is centred on sample (first - 2 + j) * 200, fully inside the piece for j >= 2
    first = 4096 - 50
    piece = log_mel_spectrogram(audio[(first - 2) * 200:(first + 102) * 200])
    np.testing.assert_allclose(piece[:, 2:102], mel[:, first:first + 100], atol=1e-3)


def _write_stereo_wav(path: Path, rate: int, seconds: float) -> None:
    t = np.arange(int(rate * seconds)) / rate
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    right = 0.5 * np.sin(2 * np.pi * 660 * t)
    pcm = (np.stack([left, right], axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


def test_stereo_44k1_audio_is_resampled_by_read_audio_before_the_mel(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    _write_stereo_wav(path, 44100, 2.0)
    samples = read_audio(path)
    assert samples.ndim == 1 and abs(samples.size - 2 * SAMPLE_RATE) < 400
    mel = log_mel_spectrogram(samples, source=path)
    assert mel.shape[1] == 1 + samples.size // 200
    # energy sits in the bands of 440 and 660 Hz, not at 5 kHz
    assert mel[:, 20:-20].mean(axis=1).argmax() < 30
