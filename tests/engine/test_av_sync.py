"""A/V sync of footage: the measured lag follows a real shift of the sound, and training
points out footage whose lips clearly follow its speech at an offset."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepstudio.engine.av_sync import measure_av_sync, speech_energy, sync_advice
from deepstudio.media.ffmpeg import run_ffmpeg
from deepstudio.vision.analysis import analyze_video
from deepstudio.vision.measures import mouth_openings


def test_the_measured_lag_follows_a_real_shift_of_the_sound(testdata: Path, tmp_path: Path):
    """talk_a's lips follow its speech a few frames late (the manifest saw +100 ms); with
    its sound delayed by 5 frames (166.7 ms at 30 fps) the lag drops by 5, within a frame."""
    clip = testdata / "talk_a.mp4"
    analysis = analyze_video(clip, cache_dir=tmp_path)
    track = max(analysis.tracks.values(), key=lambda t: len(t.frames))
    mouth = np.full(analysis.frame_count, np.nan)
    mouth[track.frames] = mouth_openings(track.smoothed)
    delayed = tmp_path / "delayed.wav"
    run_ffmpeg(["-i", str(clip), "-vn", "-af", "adelay=166.667", "-ac", "1", "-ar", "16000",
                str(delayed)], delayed)
    as_recorded = measure_av_sync(mouth, speech_energy(clip, analysis.fps, len(mouth)))
    shifted = measure_av_sync(mouth, speech_energy(delayed, analysis.fps, len(mouth)))
    assert as_recorded.measured and shifted.measured
    assert 2 <= as_recorded.lag_frames <= 5
    assert abs(as_recorded.lag_frames - shifted.lag_frames - 5) <= 1
    # Against unrelated speech the mouth follows nothing: no lag is measured.
    other = measure_av_sync(mouth, speech_energy(testdata / "speech_b.wav", analysis.fps,
                                                 len(mouth)))
    assert not other.measured and other.correction_frames == 0


def test_training_points_out_an_uncorrected_offset():
    def footage(lag: int, measured: bool, delay: int = 0) -> dict:
        return {"path": "/clips/take3.mp4", "sound_delay_frames": delay,
                "av_sync": {"lag_frames": lag, "correlation": 0.52, "chance": 0.3,
                            "measured": measured}}

    advice = sync_advice(footage(-6, True))
    assert advice is not None and advice.sound_delay == 6
    assert "take3.mp4" in advice.text and "6 frames after" in advice.text
    assert sync_advice(footage(-6, True, delay=6)) is None  # corrected
    assert sync_advice(footage(-6, True, delay=2)).sound_delay == 6  # not enough
    assert sync_advice(footage(-6, False)) is None  # lips do not follow the speech clearly
    assert sync_advice(footage(-2, True)) is None  # within what footage in sync shows
