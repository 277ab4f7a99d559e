"""The one mapping between timeline frames and media frames (nearest in time, or a blend)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from deepstudio.core import timebase

NTSC_FILM, NTSC = Fraction(24000, 1001), Fraction(30000, 1001)
RATES = [NTSC_FILM, Fraction(24), Fraction(25), NTSC, Fraction(30), Fraction(50), Fraction(60)]


@pytest.mark.parametrize("media_fps", RATES)
@pytest.mark.parametrize("timeline_fps", RATES)
def test_the_frame_shown_is_on_screen_at_the_middle_of_the_timeline_frame(media_fps,
                                                                         timeline_fps):
    frames = 10 * 60  # ten seconds at the fastest rate
    for position in range(int(10 * timeline_fps)):
        k = timebase.media_frame(position, media_fps, timeline_fps, frames)
        middle = (position + Fraction(1, 2)) / timeline_fps
        assert Fraction(k) / media_fps <= middle < Fraction(k + 1) / media_fps


@pytest.mark.parametrize("media_fps", RATES)
@pytest.mark.parametrize("timeline_fps", RATES)
def test_a_change_in_the_picture_lands_within_half_a_timeline_frame(media_fps, timeline_fps):
    """A flash that starts at media frame F (with a beep at F's time) first shows on a
    timeline frame that starts within half a timeline frame of the beep."""
    for flash in range(1, 200, 7):
        first = timebase.first_position(flash, media_fps, timeline_fps)
        offset = Fraction(first) / timeline_fps - Fraction(flash) / media_fps
        assert -Fraction(1, 2) / timeline_fps <= offset < Fraction(1, 2) / timeline_fps


def test_same_rate_is_the_identity_and_frames_are_clamped():
    assert [timebase.media_frame(p, 25, 25, 10) for p in range(12)] == [*range(10), 9, 9]
    assert timebase.media_frame(-3, 30, 25, 10) == 0


def test_faster_media_skips_frames_and_slower_media_repeats_them():
    assert [timebase.media_frame(p, 60, 24, 100) for p in range(5)] == [1, 3, 6, 8, 11]
    assert [timebase.media_frame(p, 24, 60, 100) for p in range(6)] == [0, 0, 1, 1, 1, 2]


@pytest.mark.parametrize(("media_fps", "timeline_fps"), [(30, 25), (24, 60), (NTSC, 24)])
def test_first_position_inverts_media_frame(media_fps, timeline_fps):
    for frame in range(40):
        first = timebase.first_position(frame, media_fps, timeline_fps)
        assert timebase.media_frame(first, media_fps, timeline_fps, 10**6) >= frame
        if first > 0:
            assert timebase.media_frame(first - 1, media_fps, timeline_fps, 10**6) < frame


def test_blend_weights_follow_time():
    assert timebase.blended_frames(1, 30, 25, 100) == (1, 2, pytest.approx(0.3))
    assert timebase.blended_frames(2, 25, 25, 100) == (2, 3, 0.0)
    assert timebase.blended_frames(200, 30, 25, 100)[:2] == (99, 99)


def test_rescale_keeps_meeting_edges_meeting():
    edges = [0, 7, 8, 31, 32, 100]
    moved = [timebase.rescale(e, 30, 25) for e in edges]
    assert moved == sorted(moved) and moved[0] == 0
    assert timebase.rescale(125, 25, 30) == 150
