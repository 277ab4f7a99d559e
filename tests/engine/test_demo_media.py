"""The first-hour walkthrough's media (docs/first-hour/make_media.py), made as a user makes
it: two clips of different frame rates, each with its sound inside, and a dialogue WAV."""

from __future__ import annotations

import subprocess
import sys
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np

from deepstudio.media.probe import probe

SCRIPT = Path(__file__).parents[2] / "docs" / "first-hour" / "make_media.py"


def test_first_hour_media_has_two_rates_sound_and_a_dialogue(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], check=True,
                   capture_output=True)
    interview = probe(tmp_path / "interview_25fps.mp4")
    closeup = probe(tmp_path / "closeup_2997fps.mp4")
    assert (interview.fps, interview.frame_count) == (25, 125)
    assert (closeup.fps, closeup.frame_count) == (Fraction(30000, 1001), 120)
    assert interview.audio and closeup.audio
    with wave.open(str(tmp_path / "dialogue_de.wav")) as w:
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), np.int16) / 32768
    assert len(samples) == 5 * rate
    # syllables and pauses, so a lip-sync effect has a mouth to open and close
    loudness = np.sqrt((samples[: len(samples) // 800 * 800].reshape(-1, 800) ** 2).mean(1))
    assert (loudness > 0.05).mean() > 0.3 and (loudness < 0.005).mean() > 0.1
