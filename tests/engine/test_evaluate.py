"""The evaluation measures on real clips behave as the manifest's own sync check says."""

from __future__ import annotations

import json

import numpy as np

from deepstudio.cli.main import main
from deepstudio.engine.av_sync import best_lag, pearson


def test_lag_search_finds_a_known_shift():
    rng = np.random.default_rng(1)
    energy = rng.normal(size=300)
    mouth = np.roll(energy, 3) + rng.normal(scale=0.3, size=300)  # mouth 3 frames late
    lag, r_best, _ = best_lag(mouth, energy)
    assert lag == 3 and r_best > 0.9
    assert np.isnan(pearson([1, 1, 1, 1], [1, 2, 3, 4]))


def test_lipsync_measures_on_real_speech(testdata, tmp_path):
    own, other = tmp_path / "own.json", tmp_path / "other.json"
    clip = testdata / "talk_a.mp4"
    assert main(["evaluate", "lipsync", str(clip), "--json", str(own), "--plot",
                 str(tmp_path / "p.png"), "-q"]) == 0
    assert main(["evaluate", "lipsync", str(clip), "--audio", str(testdata / "speech_b.wav"),
                 "--original", str(clip), "--json", str(other), "-q"]) == 0
    a, b = json.loads(own.read_text())["summary"], json.loads(other.read_text())["summary"]
    # The manifest measured r=0.60 at +100 ms for this clip; a foreign speech track ~0.
    assert a["mouth_energy_correlation_at_offset"] > 0.45 and abs(a["av_offset_frames"]) <= 5
    assert abs(b["mouth_energy_correlation"]) < 0.25
    assert b["mouth_correlation_with_original"] > 0.99 and b["mouth_psnr_db"] > 60
    assert (tmp_path / "p.png").stat().st_size > 10_000


def test_swap_measures_on_an_unswapped_clip(testdata, tmp_path):
    out = tmp_path / "s.json"
    clip = testdata / "swap_a.mp4"
    assert main(["evaluate", "swap", str(clip), str(clip), "--source",
                 str(testdata / "face_04.jpg"), "--json", str(out), "-q"]) == 0
    summary = json.loads(out.read_text())["summary"]
    # Unchanged video: it is its own target person, not the man in the photo.
    assert summary["fraction_closer_to_source"] < 0.05
    assert summary["mean_distance_to_target"] < 0.35
    assert summary["correlation"]["mouth"] > 0.99
    assert abs(summary["flicker_excess"]) < 1e-6
