"""What the render mixes: the audio tracks' clips, each at its gain, leaving out muted clips
and tracks — the dubbing workflow of muting the original dialogue under a new one."""

from __future__ import annotations

import numpy as np
import pytest
from synth import run_ffmpeg

from deepstudio.core.commands import SetClipGain, SetClipMuted, SetTrackMuted
from deepstudio.engine.render import RenderSettings
from deepstudio.media.audio import read_audio
from deepstudio.media.encode import EncodeSettings
from deepstudio.session import Session


@pytest.fixture(scope="module")
def dialogue(tmp_path_factory):
    """Two seconds of a 1000 Hz tone (the "translated dialogue")."""
    path = tmp_path_factory.mktemp("dub") / "dialogue.wav"
    run_ffmpeg("-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=16000:duration=2",
               str(path))
    return path


def _levels(path) -> tuple[float, float]:
    """Amplitude of the original's 440 Hz tone and of the dialogue's 1000 Hz in a render."""
    samples = read_audio(path, sample_rate=16000)[1600:30400]  # clear of the edges
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / 16000)

    def band(f: float) -> float:
        return float(spectrum[np.abs(freqs - f) < 15].max() / len(samples))

    return band(440), band(1000)


def test_render_mixes_audio_tracks_and_leaves_out_muted_sound(index_video, dialogue,
                                                              tmp_path):
    session = Session.create(tmp_path / "Dub.dstudio", "Dub")
    try:
        picture = session.project.clip(session.add_clip_for_media(
            session.import_media(index_video)))
        [(original_track, original)] = session.project.linked(picture)
        dub = session.project.clip(session.add_clip_for_media(session.import_media(dialogue),
                                                              start=0))
        assert session.project.track_of_clip(dub.id).id != original_track.id

        def render(name: str) -> tuple[float, float]:
            out = tmp_path / f"{name}.mp4"
            settings = RenderSettings(0, 50, EncodeSettings(preset="ultrafast"))
            session.render_now(out, settings)
            return _levels(out)

        both = render("both")
        session.do(SetClipMuted(original.id, True))
        dub_only = render("dub_only")
        session.do(SetClipMuted(original.id, False))
        session.do(SetClipGain(original.id, -12.0))
        quieter = render("quieter")
        session.do(SetTrackMuted(session.project.track_of_clip(dub.id).id, True))
        original_only = render("original_only")
    finally:
        session.close()
    assert both[0] > 0.02 and both[1] > 0.02
    assert dub_only[0] < 0.01 * both[0] and dub_only[1] == pytest.approx(both[1], rel=0.1)
    assert quieter[0] == pytest.approx(both[0] * 10 ** (-12 / 20), rel=0.15)
    assert original_only[1] < 0.01 * both[1] and original_only[0] > 0
