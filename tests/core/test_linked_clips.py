"""A video file's sound as a linked clip: edits act on picture and sound together until
unlinked; mute and gain act on sound; a timeline rate change keeps every clip's time."""

from __future__ import annotations

import itertools
from dataclasses import replace
from fractions import Fraction

import pytest

from deepstudio.core.commands import (
    CommandError,
    DeleteClip,
    MoveClip,
    SetClipMuted,
    SetClipRetime,
    SetTimelineRate,
    SetTrackMuted,
    SplitClip,
    TrimClip,
    UnlinkClip,
)
from deepstudio.core.history import History
from deepstudio.core.project import Clip, Project, Track
from deepstudio.types import Id


@pytest.fixture
def linked(project: Project) -> Project:
    """The demo project plus a linked picture/sound pair of ``mv``: ``p1`` on V2 and ``s1``
    on a new audio track A2, both at 200..240 showing media positions 20..60."""
    project.track(Id("V2")).clips.append(Clip(Id("p1"), Id("mv"), 200, 20, 60, link=Id("L")))
    project.tracks.append(Track(Id("A2"), "audio", "Audio 2",
                                [Clip(Id("s1"), Id("mv"), 200, 20, 60, link=Id("L"))]))
    return project


def _spans(project: Project, *ids: str) -> list[tuple[int, int, int]]:
    return [(c.start, c.in_frame, c.out_frame) for c in map(project.clip, ids)]


def test_move_trim_split_delete_act_on_both(linked: Project) -> None:
    history = History(linked)
    history.do(MoveClip(Id("p1"), start=300))
    assert _spans(linked, "p1", "s1") == [(300, 20, 60)] * 2
    history.do(TrimClip(Id("s1"), in_frame=30))
    assert _spans(linked, "p1", "s1") == [(310, 30, 60)] * 2
    history.do(SplitClip(Id("p1"), 320, Id("p2")))
    right_sound = [c for _, c in linked.clips() if c.start == 320 and c.id != "p2"]
    assert len(right_sound) == 1 and right_sound[0].link == linked.clip(Id("p2")).link
    assert right_sound[0].link not in (None, "L")
    history.do(DeleteClip(Id("p2")))
    assert not any(c.start == 320 for _, c in linked.clips())
    for _ in range(4):
        history.undo()
    assert _spans(linked, "p1", "s1") == [(200, 20, 60)] * 2
    assert linked.clip(Id("s1")).link == "L"


def test_a_refused_partner_refuses_the_whole_edit(linked: Project) -> None:
    """c3 covers A1..100 only; move the pair so the sound would land on another clip."""
    linked.track(Id("A2")).clips.append(Clip(Id("block"), Id("ma"), 400, 0, 10))
    before = linked.to_dict()
    with pytest.raises(CommandError, match=r"would overlap \S+ \(00:00:16:00.* Audio 2") as err:
        MoveClip(Id("p1"), start=380).apply(linked)
    assert "block" not in str(err.value)  # named by its file and timecodes, never by its id
    assert linked.to_dict() == before


def test_unlink_then_edit_one_alone(linked: Project) -> None:
    history = History(linked)
    history.do(UnlinkClip(Id("s1")))
    history.do(MoveClip(Id("s1"), start=205))
    assert _spans(linked, "p1", "s1") == [(200, 20, 60), (205, 20, 60)]
    with pytest.raises(CommandError, match="not linked"):
        UnlinkClip(Id("s1")).apply(linked)
    history.undo()
    history.undo()
    assert linked.clip(Id("p1")).link == linked.clip(Id("s1")).link == "L"


def test_mute_clip_and_track(linked: Project) -> None:
    history = History(linked)
    history.do(SetClipMuted(Id("s1"), True))
    history.do(SetTrackMuted(Id("A1"), True))
    assert linked.clip(Id("s1")).muted and linked.track(Id("A1")).muted
    with pytest.raises(CommandError, match="no sound"):
        SetTrackMuted(Id("V1"), True).apply(linked)
    assert Project.from_dict(linked.to_dict()) == linked
    history.undo()
    history.undo()
    assert not linked.clip(Id("s1")).muted and not linked.track(Id("A1")).muted


def test_retime_process_is_checked(linked: Project) -> None:
    SetClipRetime(Id("p1"), "blend").apply(linked)
    assert linked.clip(Id("p1")).retime == "blend"
    with pytest.raises(CommandError, match="unknown retime"):
        SetClipRetime(Id("p1"), "optical-flow").apply(linked)


def test_timeline_rate_change_keeps_every_time(linked: Project) -> None:
    """25 → 30 fps: frame f becomes 1.2 f; a clip shows the same media for as long."""
    linked.effects[Id("e1")].params["line_width"] = {"keyframes": [[0, 1], [25, 5]]}
    before = linked.to_dict()
    history = History(linked)
    history.do(SetTimelineRate(Fraction(30)))
    assert linked.timeline_fps() == 30
    assert _spans(linked, "c2", "p1") == [(72, 12, 48), (240, 24, 72)]
    effect = linked.effects[Id("e1")]
    assert (effect.start, effect.end) == (12, 48)
    assert effect.params["line_width"] == {"keyframes": [[0, 1], [30, 5]]}
    # a 25 fps media frame shows at the same time on the new timeline
    assert linked.media_frame(linked.clip(Id("c2")), 72 + 12) == 20
    history.undo()
    assert linked.to_dict() == before
    with pytest.raises(CommandError, match="not a timeline frame rate"):
        SetTimelineRate(Fraction(0)).apply(linked)


def test_rate_change_never_makes_neighbours_overlap(project: Project) -> None:
    track = project.track(Id("V2"))
    track.clips += [Clip(Id(f"n{i}"), Id("mv"), 7 * i, 0, 7) for i in range(12)]
    for fps in (Fraction(24000, 1001), Fraction(60), Fraction(24), Fraction(30000, 1001)):
        SetTimelineRate(fps).apply(project)
        Project.from_dict(project.to_dict())  # validates: no overlaps, ranges inside media
        ends = [(c.start, c.end) for c in track.clips]
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(ends))


def test_a_30fps_clip_fills_its_real_time_on_a_25fps_timeline(project: Project,
                                                            make_media) -> None:
    talk = make_media("talk", frames=184, fps=30)
    project.media[talk.id] = talk
    clip = Clip(Id("t"), talk.id, 0, 0, project.media_length(talk.id))
    assert clip.length == 153  # 6.12 s, not 184 frames (7.36 s)
    shown = [project.media_frame(clip, f) for f in range(clip.length)]
    assert shown[:7] == [0, 1, 3, 4, 5, 6, 7] and shown[-1] == 183
    assert replace(clip, retime="blend").retime == "blend"
