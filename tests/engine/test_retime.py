"""Frames of a clip at another rate, in the render and in the preview: nearest or blended,
picked by time through the same mapping."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from synth import run_ffmpeg

from deepstudio.core import timebase
from deepstudio.core.commands import SetClipRetime, SetTimelineRate
from deepstudio.engine.preview import PreviewRequest
from deepstudio.engine.render import RenderSettings
from deepstudio.media.decode import VideoReader
from deepstudio.media.encode import EncodeSettings
from deepstudio.session import Session

FRAMES = 36
STEP = 6  # grey level added per frame


@pytest.fixture(scope="module")
def ramp_30fps(tmp_path_factory):
    """1.2 s at 30 fps whose frame k is uniformly grey at level 20 + 6 k (lossless)."""
    levels = 20 + STEP * np.arange(FRAMES, dtype=np.uint8)
    frames = np.repeat(levels, 64 * 64 * 3).reshape(FRAMES, 64, 64, 3)
    path = tmp_path_factory.mktemp("ramp") / "ramp30.mp4"
    run_ffmpeg("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "64x64", "-r", "30", "-i", "pipe:0",
               "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv444p", str(path),
               stdin=frames.tobytes())
    return path


def _ramp_session(tmp_path, clip_path, retime: str) -> tuple[Session, str]:
    session = Session.create(tmp_path / "Ramp.dstudio", "Ramp")
    session.do(SetTimelineRate(Fraction(25)))
    clip_id = session.add_clip_for_media(session.import_media(clip_path))
    session.do(SetClipRetime(clip_id, retime))
    return session, clip_id


def _expected(position: int, retime: str) -> float:
    if retime == "nearest":
        return 20 + STEP * timebase.media_frame(position, 30, 25, FRAMES)
    a, b, weight = timebase.blended_frames(position, 30, 25, FRAMES)
    return 20 + STEP * (a + weight * (b - a))


@pytest.mark.parametrize("retime", ["nearest", "blend"])
def test_render_and_preview_pick_the_same_frames_by_time(ramp_30fps, tmp_path, retime):
    session, clip_id = _ramp_session(tmp_path, ramp_30fps, retime)
    try:
        length = session.project.clip(clip_id).length
        assert length == round(FRAMES * 25 / 30)
        out = tmp_path / "ramp25.mov"
        session.render_now(out, RenderSettings(encode=EncodeSettings(codec="prores",
                                                                     audio="none")))
        with VideoReader(out) as reader:
            rendered = np.array([f.mean() for _, f in reader.frames()])
        previewed = np.array([session.preview.render_frame(PreviewRequest(k)).image.mean()
                              for k in range(length)])
    finally:
        session.close()
    expected = np.array([_expected(k, retime) for k in range(length)])
    assert len(rendered) == length
    # the invisible watermark and ProRes move a frame's mean by up to ~2 levels; the
    # neighbouring frame is 6 levels away
    assert np.abs(rendered - expected).max() < STEP / 2
    assert np.abs(previewed - expected).max() <= 1.5  # no watermark; YUV rounding only
    if retime == "blend":  # the mixtures are really there, not copies of the nearest frame
        nearest = np.array([_expected(k, "nearest") for k in range(length)])
        assert np.abs(nearest - expected).max() >= STEP / 2 - 0.5
        assert np.abs(previewed - expected).mean() < 0.3 * np.abs(previewed - nearest).mean()
