"""Mixed frame rates on one timeline: every clip keeps its real duration, and picture and
sound stay within half a timeline frame of each other from the first clip to the last.

Each clip shows white flashes with beeps at the same instants (the beep starts at the flash
frame's time). The clips are imported with ``deepstudio import`` into projects of 24, 25 and
30 fps, rendered with ``deepstudio render``, and the render is measured: the time of the
first bright frame of each flash against the onset of its beep.
"""

from __future__ import annotations

import itertools
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from synth import run_ffmpeg

from deepstudio.cli.main import main
from deepstudio.core.timebase import parse_rate
from deepstudio.media.audio import read_audio
from deepstudio.media.decode import VideoReader
from deepstudio.media.probe import probe
from deepstudio.session import Session

CLIP_RATES = ["23.976", "25", "29.97", "30", "50", "60"]
CLIP_SECONDS = 1.6
FLASH_TIMES = (0.3, 1.1)
"""Seconds into each clip; a flash lasts 0.1 s, so every rate shows it on some frame."""
RATE = 48000


def _flash_clip(folder: Path, rate_text: str) -> Path:
    fps = parse_rate(rate_text)
    frames = int(CLIP_SECONDS * fps)
    picture = np.zeros((frames, 32, 32, 3), np.uint8)
    sound = np.zeros(int(frames / fps * RATE), np.float32)
    for t in FLASH_TIMES:
        first = round(t * fps)
        picture[first:first + max(1, round(0.1 * fps))] = 255
        onset = int(first / fps * RATE)
        sound[onset:onset + 960] = 0.8
    wav = folder / f"beeps_{rate_text}.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((sound * 32767).astype(np.int16).tobytes())
    clip = folder / f"flash_{rate_text}.mp4"
    run_ffmpeg("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "32x32", "-r", str(fps),
               "-i", "pipe:0", "-i", str(wav), "-c:v", "libx264", "-pix_fmt", "yuv420p",
               "-c:a", "aac", str(clip), stdin=picture.tobytes())
    return clip


@pytest.fixture(scope="module")
def flash_clips(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("rates")
    return [_flash_clip(folder, rate) for rate in CLIP_RATES]


def _flash_onsets(path: Path, fps: Fraction) -> list[float]:
    with VideoReader(path) as reader:
        bright = [k for k, f in reader.frames() if f.mean() > 128]
    starts = [bright[0]] + [b for a, b in itertools.pairwise(bright) if b - a > 1]
    return [float(k / fps) for k in starts]


def _beep_onsets(path: Path) -> list[float]:
    audio = np.abs(read_audio(path, sample_rate=RATE))
    loud = np.flatnonzero(audio > 0.3)
    starts = [loud[0]] + [b for a, b in itertools.pairwise(loud) if b - a > RATE // 20]
    return [s / RATE for s in starts]


@pytest.mark.parametrize("timeline", ["24", "25", "30"])
def test_mixed_rate_timeline_renders_in_sync_and_at_real_duration(flash_clips, tmp_path,
                                                                  timeline):
    project = tmp_path / "Mixed.dstudio"
    assert main(["new", str(project), "--fps", timeline]) == 0
    assert main(["import", str(project), *map(str, flash_clips), "--no-analyse", "-q"]) == 0
    session = Session.open(project)
    try:
        fps = session.project.timeline_fps()
        clips = [c for t in session.project.tracks if t.kind == "video" for c in t.clips]
        sounds = [c for t in session.project.tracks if t.kind == "audio" for c in t.clips]
        assert len(clips) == len(sounds) == len(CLIP_RATES)
        for clip in clips:  # each clip lasts its real duration (a timeline holds whole frames)
            media = session.project.media[clip.media_id]
            assert abs(clip.length / fps - media.frame_count / media.fps) <= Fraction(1, 2) / fps
    finally:
        session.close()
    assert fps == int(timeline)
    out = tmp_path / "mixed.mp4"
    assert main(["render", str(project), "-o", str(out), "-q"]) == 0

    info = probe(out)
    assert info.frame_count == sum(c.length for c in clips)  # no stretch, gap or extra frame
    assert abs(len(read_audio(out, sample_rate=RATE)) / RATE - info.frame_count / fps) < 0.03
    flashes, beeps = _flash_onsets(out, fps), _beep_onsets(out)
    assert len(flashes) == len(beeps) == 2 * len(CLIP_RATES)
    offsets = [(b - f) * float(fps) for f, b in zip(flashes, beeps)]
    # start, middle and end of the render: within half a frame (AAC's 1024-sample frames
    # put a beep's onset up to ~1 ms late; ±0.5 frame is the sync floor)
    assert max(abs(o) for o in offsets) <= 0.5 + 0.001 * float(fps), offsets


def test_real_25_and_30_fps_clips_play_at_their_own_speed(testdata, tmp_path):
    """The issue's case: talk_b (25 fps, 4.9 s) then talk_a (30 fps, 6.13 s) on the 25 fps
    timeline talk_b sets. The render lasts their real 11.0 s (not 13.3 s of stretched
    frames), with sound as long as the picture."""
    project = tmp_path / "Talks.dstudio"
    assert main(["new", str(project)]) == 0
    talks = [testdata / "talk_b.mp4", testdata / "talk_a.mp4"]
    assert main(["import", str(project), *map(str, talks), "--no-analyse", "-q"]) == 0
    out = tmp_path / "talks.mp4"
    assert main(["render", str(project), "-o", str(out), "--preset", "ultrafast", "-q"]) == 0
    real = sum(probe(t).frame_count / float(probe(t).fps) for t in talks)
    info = probe(out)
    assert info.fps == 25 and abs(info.frame_count / 25 - real) <= 1 / 25
    assert abs(len(read_audio(out, sample_rate=16000)) / 16000 - info.frame_count / 25) < 0.05
