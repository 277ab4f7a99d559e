"""How much of a clip's mouth opening its own audio can predict, and at which A/V shift.

Run from the repository root (prints; asserts nothing):

    python tests/quality/audio_mouth_ceiling.py ../shared/testdata/talk_long_b.mp4 14 -8,-4,0,4,6,8

A ridge regression maps each frame's mel window (the lip-sync model's input, pooled 4x in
time) to the landmark mouth opening; it is fitted on the frames before SPLIT seconds and
scored (Pearson r) on the rest, with the audio window moved by each SHIFT frames (positive:
audio from later). The best r is a rough linear ceiling for the lip-sync quality floor on that
clip, and the best shift is the footage's own A/V offset (talk_long_b: +6 frames).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from deepstudio.engine.av_sync import pearson, speech_energy
from deepstudio.media.audio import read_audio
from deepstudio.media.probe import probe
from deepstudio.models.lipsync.mel import log_mel_spectrogram, mel_windows
from deepstudio.vision.analysis import analyze_video
from deepstudio.vision.measures import mouth_openings

RIDGE_STRENGTHS = (100.0, 1000.0, 10000.0)


def ridge_test_correlation(features: np.ndarray, target: np.ndarray, train: np.ndarray) -> float:
    """Best held-out correlation over :data:`RIDGE_STRENGTHS`."""
    mean, std = features[train].mean(0), features[train].std(0) + 1e-6
    z = (features - mean) / std
    a, y = z[train], target[train] - target[train].mean()
    best = -1.0
    for strength in RIDGE_STRENGTHS:
        weights = np.linalg.solve(a.T @ a + strength * np.eye(a.shape[1]), a.T @ y)
        best = max(best, float(np.corrcoef(z[~train] @ weights, target[~train])[0, 1]))
    return best


def main() -> None:
    clip, split_s = Path(sys.argv[1]), float(sys.argv[2])
    shifts = [int(s) for s in sys.argv[3].split(",")] if len(sys.argv) > 3 else [0]
    info = probe(clip)
    analysis = analyze_video(clip)
    track = max(analysis.tracks.values(), key=lambda t: len(t.frames))
    opening = mouth_openings(track.smoothed)
    frames = np.asarray(track.frames)
    train = frames < split_s * float(info.fps)
    mel = log_mel_spectrogram(read_audio(clip), source=clip)
    energy = speech_energy(clip, float(info.fps), info.frame_count)  # as evaluate measures it
    for shift in shifts:
        windows = mel_windows(mel, np.clip(frames + shift, 0, frames.max()), info.fps)
        pooled = windows.reshape(len(windows), windows.shape[1], -1, 4).mean(-1)
        ridge = ridge_test_correlation(pooled.reshape(len(pooled), -1), opening, train)
        loudness = pearson(opening, energy[np.clip(frames + shift, 0, info.frame_count - 1)])
        print(f"shift {shift:+3d} frames: ridge r on held-out frames {ridge:.3f}, "
              f"speech energy / mouth r {loudness:.3f}", flush=True)


if __name__ == "__main__":
    main()
