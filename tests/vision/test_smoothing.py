from __future__ import annotations

import numpy as np
import pytest

from deepstudio.vision.smoothing import OneEuroFilter, face_size, smooth_sequence


def acceleration(x: np.ndarray) -> float:
    """Mean magnitude of the frame-to-frame second difference of x/y (pixels/frame²)."""
    return float(np.abs(x[2:] - 2 * x[1:-1] + x[:-2])[..., :2].mean())


def test_smoothing_reduces_jitter_of_real_landmarks_with_little_lag(talk_faces):
    raw = np.stack([f.landmarks for f in talk_faces])
    smoothed = smooth_sequence(raw, np.arange(len(raw)), fps=25)
    assert smoothed.shape == raw.shape and smoothed.dtype == np.float32
    reduction = 1 - acceleration(smoothed) / acceleration(raw)
    assert reduction >= 0.3
    # Small lag: on average within ~0.5 % of the face size of the raw landmarks, and the
    # raw signal delayed by a whole frame fits worse than the undelayed one.
    deviation = np.abs(smoothed - raw)[..., :2].mean()
    assert deviation < 0.005 * np.median(face_size(raw))
    delayed = np.abs(smoothed[1:] - raw[:-1])[..., :2].mean()
    assert np.abs(smoothed[1:] - raw[1:])[..., :2].mean() < delayed
    # The causal (online) pass alone smooths less and lags more, but still helps.
    causal = smooth_sequence(raw, np.arange(len(raw)), fps=25, zero_phase=False)
    assert 0.3 <= 1 - acceleration(causal) / acceleration(raw) < reduction


def test_filter_follows_fast_moves_and_is_scale_invariant():
    rng = np.random.default_rng(1)
    t = np.arange(100)
    square = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], dtype=np.float64)
    still = np.repeat(square[None], 100, axis=0)
    still[50:, :, 0] += 1.0  # a jump of one face width
    noisy = still + rng.normal(0, 0.01, still.shape)
    for scale in (1.0, 300.0):
        out = smooth_sequence(noisy * scale, t, fps=25)
        # After a few frames the jump is followed; the noise before it is damped.
        assert np.allclose(out[56:] / scale, still[56:], atol=0.05)
        assert acceleration(out[:50]) < 0.5 * acceleration(noisy[:50] * scale)


def test_no_smoothing_across_cuts_or_gaps():
    values = np.zeros((6, 1, 3), np.float32)
    values[3:] = 100.0
    values[:, 0, 0] += [0, 1, 0, 0, 1, 0]
    frames = np.array([0, 1, 2, 10, 11, 12])
    out = smooth_sequence(values, frames, fps=25)
    assert out[3, 0, 1] == pytest.approx(100.0)  # restarted after the gap
    out = smooth_sequence(values, np.arange(6), fps=25, breaks=np.array([0, 0, 0, 1, 0, 0]))
    assert out[3, 0, 1] == pytest.approx(100.0)  # restarted at the cut
    out = smooth_sequence(values, np.arange(6), fps=25)
    assert out[3, 0, 1] < 100.0  # but blended without either


def test_online_filter_matches_first_sample_and_resets():
    one_euro = OneEuroFilter()
    first = np.array([3.0, 4.0])
    np.testing.assert_allclose(one_euro(first, 0.04, scale=10.0), first)
    assert not np.allclose(one_euro(first + 5, 0.04, scale=10.0), first + 5)
    one_euro.reset()
    np.testing.assert_allclose(one_euro(first + 5, 0.04, scale=10.0), first + 5)
