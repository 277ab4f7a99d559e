"""The project document: JSON round trip, timeline rate and length, lookups, validation."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from deepstudio.core.project import DEFAULT_FPS, Project


def test_round_trip_through_json(project: Project) -> None:
    data = json.loads(json.dumps(project.to_dict()))
    again = Project.from_dict(data)
    assert again == project
    assert again.to_dict() == project.to_dict()


def test_timeline_rate_is_stored_and_defaults_until_chosen(project: Project) -> None:
    assert project.timeline_fps() == Fraction(25)
    assert Project("Empty").timeline_fps() == DEFAULT_FPS
    ntsc = Project("N", fps=Fraction(24000, 1001))
    assert Project.from_dict(json.loads(json.dumps(ntsc.to_dict()))).fps == Fraction(24000, 1001)


def test_a_clip_lasts_its_media_duration_on_any_timeline(make_media) -> None:
    """talk_a's case: 184 frames at 30 fps last 6.13 s, so 153 frames at 25 fps (6.12 s),
    not 184 (7.36 s)."""
    talk = make_media("t", frames=184, fps=30)
    assert talk.length_frames(Fraction(25)) == 153
    assert talk.length_frames(Fraction(30)) == 184
    assert talk.length_frames(Fraction(60)) == 368
    assert make_media("one", frames=1, fps=60).length_frames(Fraction(24)) == 1


def test_duration_and_lookups(project: Project) -> None:
    assert project.duration_frames() == 100  # audio clip c3 is the longest
    assert Project("Empty").duration_frames() == 0
    assert project.track_of_clip("c2").id == "V1"
    assert [c.id for _, c in project.clips_at(65)] == ["c2", "c3"]
    assert [c.id for _, c in project.clips_at(55, "video")] == []
    assert project.clip("c2").position_at(65) == 15
    assert project.media_frame(project.clip("c2"), 65) == 15  # same rate: same frame
    assert [e.id for e in project.effects_at(39)] == ["e1"] and not project.effects_at(40)
    assert project.media_length("ma") == 100  # audio-only: 4 s at 25 fps
    with pytest.raises(KeyError):
        project.clip("nope")


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["tracks"][0]["clips"][1].update(start=40), "overlap"),
    (lambda d: d["tracks"][0]["clips"][0].update(media_id="zz"), "unknown media zz"),
    (lambda d: d["effects"][0].update(track_id="zz"), "unknown track zz"),
    (lambda d: d["media"].append(dict(d["media"][0])), "duplicate media id mv"),
    (lambda d: d["tracks"][0].update(kind="subtitle"), "unknown kind"),
    (lambda d: d["identities"][0]["consents"][0].update(date="01/02/2024"), "not an ISO date"),
    (lambda d: d["identities"][0]["consents"][0].update(scope=["all"]), "unknown scope"),
    (lambda d: d.update(schema_version=0), "migrate first"),
])
def test_from_dict_rejects_inconsistent_documents(project: Project, mutate, message: str) -> None:
    data = project.to_dict()
    mutate(data)
    with pytest.raises(ValueError, match=message):
        Project.from_dict(data)
