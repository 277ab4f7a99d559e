"""Every command: apply changes what it says, undo restores exactly, redo repeats exactly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from deepstudio.core.commands import (
    AddClip,
    AddConsent,
    AddEffect,
    AddIdentity,
    AddMedia,
    AddModel,
    AddTrack,
    AssignFaceTrack,
    ChangeSet,
    Command,
    CommandError,
    DeleteClip,
    Macro,
    MoveClip,
    RemoveEffect,
    RemoveIdentity,
    RemoveMedia,
    RemoveModel,
    RemoveTrack,
    RenameIdentity,
    RenameProject,
    RevokeConsent,
    SetClipGain,
    SetEffectParams,
    SetEffectRange,
    SetEffectTarget,
    SplitClip,
    TrimClip,
    UnassignFaceTrack,
    changed,
    snap_frame,
    snap_targets,
)
from deepstudio.core.effects import EffectSpec, ParamSpec, UnknownEffectError, register_effect
from deepstudio.core.project import (
    Clip,
    ConsentRecord,
    Effect,
    FaceTrackRef,
    Identity,
    MediaItem,
    ModelRef,
    Project,
    Track,
)
from deepstudio.errors import UserError
from deepstudio.types import Id

MODEL_FX = register_effect(EffectSpec(
    "test_model_fx", "Test model effect", "An effect that names a model (tests only).",
    (ParamSpec("model", "Model", "model", None),)))
AUDIO_FX = register_effect(EffectSpec(
    "test_audio_fx", "Test audio effect", "An effect that names audio media (tests only).",
    (ParamSpec("audio", "Audio", "audio", None),)))


def consent(cid: str = "k2", scope: tuple[str, ...] = ("lipsync",)) -> ConsentRecord:
    return ConsentRecord(Id(cid), "Ben", "Producer", "2024-02-01", list(scope))


# (command factory, expected change set of apply and undo)
CASES: dict[str, tuple[Callable[[Project], Command], ChangeSet]] = {
    "AddMedia": (lambda p: AddMedia(replace(p.media[Id("mv")], id=Id("mnew"))),
                 changed(media=["mnew"])),
    "RemoveMedia": (lambda p: RemoveMedia(Id("mu")), changed(media=["mu"], identities=["i2"])),
    "AddTrack": (lambda p: AddTrack(Track(Id("V3"), "video", "Video 3"), 0),
                 changed(tracks=["V3"])),
    "RemoveTrack": (lambda p: RemoveTrack(Id("V2")), changed(tracks=["V2"])),
    "AddClip": (lambda p: AddClip(Id("V1"), Clip(Id("c9"), Id("mv"), 100, 0, 10)),
                changed(clips=["c9"], tracks=["V1"])),
    "MoveClip": (lambda p: MoveClip(Id("c2"), start=70), changed(clips=["c2"], tracks=["V1"])),
    "MoveClipToTrack": (lambda p: MoveClip(Id("c1"), start=5, track_id=Id("V2")),
                        changed(clips=["c1"], tracks=["V1", "V2"])),
    "TrimClipIn": (lambda p: TrimClip(Id("c2"), in_frame=20), changed(clips=["c2"], tracks=["V1"])),
    "TrimClipOut": (lambda p: TrimClip(Id("c2"), out_frame=30),
                    changed(clips=["c2"], tracks=["V1"])),
    "SplitClip": (lambda p: SplitClip(Id("c1"), 20, Id("c1b")),
                  changed(clips=["c1", "c1b"], tracks=["V1"])),
    "DeleteClip": (lambda p: DeleteClip(Id("c1")), changed(clips=["c1"], tracks=["V1"])),
    "SetClipGain": (lambda p: SetClipGain(Id("c3"), -6.0), changed(clips=["c3"])),
    "AddEffect": (lambda p: AddEffect(Effect(Id("e2"), "debug", Id("V1"), None, None, 0, 10)),
                  changed(effects=["e2"])),
    "RemoveEffect": (lambda p: RemoveEffect(Id("e1")), changed(effects=["e1"])),
    "SetEffectParams": (lambda p: SetEffectParams(Id("e1"), {"line_width": 4}),
                        changed(effects=["e1"])),
    "SetEffectRange": (lambda p: SetEffectRange(Id("e1"), 5, 45, Id("V2")),
                       changed(effects=["e1"])),
    "SetEffectTarget": (lambda p: SetEffectTarget(Id("e1"), Id("mv"), 1), changed(effects=["e1"])),
    "AddIdentity": (lambda p: AddIdentity(Identity(Id("i3"), "Cleo")), changed(identities=["i3"])),
    "RemoveIdentity": (lambda p: RemoveIdentity(Id("i2")), changed(identities=["i2"])),
    "RenameIdentity": (lambda p: RenameIdentity(Id("i1"), "Anna B"), changed(identities=["i1"])),
    "AssignFaceTrack": (lambda p: AssignFaceTrack(Id("i2"), FaceTrackRef(Id("mv"), 0)),
                        changed(identities=["i1", "i2"])),
    "UnassignFaceTrack": (lambda p: UnassignFaceTrack(Id("i1"), FaceTrackRef(Id("mv"), 0)),
                          changed(identities=["i1"])),
    "AddConsent": (lambda p: AddConsent(Id("i2"), consent()), changed(identities=["i2"])),
    "RevokeConsent": (lambda p: RevokeConsent(Id("i1"), Id("k1"), "2025-06-01"),
                      changed(identities=["i1"])),
    "AddModel": (lambda p: AddModel(ModelRef(Id("md2"), "Lips", "lipsync", "models/md2",
                                             "cd" * 32)),
                 changed(models=["md2"])),
    "RemoveModel": (lambda p: RemoveModel(Id("md1")), changed(models=["md1"])),
    "RenameProject": (lambda p: RenameProject("Renamed"), changed(project=True)),
    "Macro": (lambda p: Macro("Cut out", [SplitClip(Id("c1"), 20, Id("c1b")),
                                          DeleteClip(Id("c1b"))]),
              changed(clips=["c1", "c1b"], tracks=["V1"])),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_apply_undo_redo_round_trip(project: Project, name: str) -> None:
    make, expected = CASES[name]
    command = make(project)
    before = project.to_dict()
    assert command.apply(project) == expected
    after = project.to_dict()
    assert after != before
    Project.from_dict(after)  # the edited project is still a valid document
    assert command.undo(project) == expected
    assert project.to_dict() == before
    assert command.apply(project) == expected  # redo
    assert project.to_dict() == after


def test_add_first_video_media_changes_timeline_rate(make_media: Callable[..., MediaItem]) -> None:
    project = Project("Empty")
    command = AddMedia(make_media("m30", fps=30))
    assert command.apply(project).project
    assert project.timeline_fps() == 30
    assert command.undo(project).project


def test_trim_moves_start_with_in_point_and_clamps(project: Project) -> None:
    TrimClip(Id("c2"), in_frame=20).apply(project)
    c2 = project.clip(Id("c2"))
    assert (c2.start, c2.in_frame, c2.out_frame) == (70, 20, 40)
    TrimClip(Id("c2"), in_frame=-50, out_frame=500).apply(project)
    assert (c2.start, c2.in_frame, c2.out_frame) == (50, 0, 100)  # clamped to the media
    TrimClip(Id("c2"), in_frame=80, out_frame=70).apply(project)
    assert (c2.in_frame, c2.out_frame) == (69, 70)  # in point stops one frame before out


def test_trim_never_moves_a_clip_before_frame_zero(project: Project) -> None:
    AddClip(Id("V2"), Clip(Id("c9"), Id("mv"), 5, 10, 20)).apply(project)
    TrimClip(Id("c9"), in_frame=0).apply(project)
    c9 = project.clip(Id("c9"))
    assert (c9.start, c9.in_frame) == (0, 5)


def test_split_keeps_every_source_frame_in_place(project: Project) -> None:
    shown = {f: project.media_frame(project.clip(Id("c2")), f) for f in range(60, 90)}
    SplitClip(Id("c2"), 71, Id("c2b")).apply(project)
    for frame, source in shown.items():
        [(_, clip)] = project.clips_at(frame, "video")
        assert project.media_frame(clip, frame) == source
    assert project.clip(Id("c2")).end == 71 == project.clip(Id("c2b")).start


def test_split_ids_are_stable_across_redo(project: Project) -> None:
    command = SplitClip(Id("c1"), 10)
    command.apply(project)
    new = command.new_clip_id
    command.undo(project)
    command.apply(project)
    assert project.clip(new).start == 10


REFUSED: dict[str, Callable[[Project], Command]] = {
    "media in use": lambda p: RemoveMedia(Id("mv")),
    "overlap": lambda p: AddClip(Id("V1"), Clip(Id("c9"), Id("mv"), 40, 0, 30)),
    "audio on video track": lambda p: AddClip(Id("V2"), Clip(Id("c9"), Id("ma"), 0, 0, 10)),
    "video-only on audio track": lambda p: AddClip(Id("A1"), Clip(Id("c9"), Id("mu"), 200, 0, 5)),
    "beyond media": lambda p: AddClip(Id("V2"), Clip(Id("c9"), Id("mv"), 0, 90, 120)),
    "duplicate clip id": lambda p: AddClip(Id("V2"), Clip(Id("c1"), Id("mv"), 0, 0, 10)),
    "unknown track": lambda p: AddClip(Id("nope"), Clip(Id("c9"), Id("mv"), 0, 0, 10)),
    "move onto clip": lambda p: MoveClip(Id("c2"), start=45),
    "move before zero": lambda p: MoveClip(Id("c2"), start=-1),
    "move audio clip to video track": lambda p: MoveClip(Id("c3"), track_id=Id("V2")),
    "trim into neighbour": lambda p: TrimClip(Id("c1"), out_frame=70),
    "split at edge": lambda p: SplitClip(Id("c1"), 50),
    "remove non-empty track": lambda p: RemoveTrack(Id("V1")),
    "empty effect range": lambda p: SetEffectRange(Id("e1"), 10, 10),
    "bad param value": lambda p: SetEffectParams(Id("e1"), {"line_width": 100}),
    "unknown param": lambda p: SetEffectParams(Id("e1"), {"colour": "red"}),
    "face without media": lambda p: SetEffectTarget(Id("e1"), None, 2),
    "duplicate identity name": lambda p: AddIdentity(Identity(Id("i3"), " anna ")),
    "rename onto other name": lambda p: RenameIdentity(Id("i2"), "ANNA"),
    "assign to same identity": lambda p: AssignFaceTrack(Id("i1"), FaceTrackRef(Id("mv"), 0)),
    "unassign foreign track": lambda p: UnassignFaceTrack(Id("i2"), FaceTrackRef(Id("mv"), 0)),
    "bad consent scope": lambda p: AddConsent(Id("i2"), consent(scope=("everything",))),
    "bad consent date": lambda p: AddConsent(Id("i2"), ConsentRecord(
        Id("k3"), "Ben", "P", "yesterday", ["swap"])),
    "unknown consent": lambda p: RevokeConsent(Id("i1"), Id("k9"), "2025-01-01"),
    "empty project name": lambda p: RenameProject("  "),
    "identity with a model": lambda p: RemoveIdentity(Id("i1")),
    "unknown model param": lambda p: AddEffect(Effect(Id("e9"), "test_model_fx", Id("V1"), None,
                                                      None, 0, 5, {"model": "md9"})),
    "audio param without audio": lambda p: AddEffect(Effect(
        Id("e9"), "test_audio_fx", Id("V1"), None, None, 0, 5, {"audio": "mu"})),
    "macro step refused": lambda p: Macro("Two", [RenameProject("Fine"), MoveClip(Id("c2"), 45)]),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_command_leaves_project_untouched(project: Project, name: str) -> None:
    before = project.to_dict()
    with pytest.raises(CommandError) as info:
        REFUSED[name](project).apply(project)
    assert "\n" not in str(info.value)
    assert project.to_dict() == before


def test_bad_param_message_names_effect_and_parameter(project: Project) -> None:
    with pytest.raises(CommandError, match="'debug' parameter 'line_width' must be <= 16"):
        SetEffectParams(Id("e1"), {"line_width": 100}).apply(project)


def test_unknown_effect_type_is_a_user_error(project: Project) -> None:
    before = project.to_dict()
    with pytest.raises(UnknownEffectError, match=r"unknown effect type 'warp' \(known: .*debug"):
        AddEffect(Effect(Id("e9"), "warp", Id("V1"), None, None, 0, 5)).apply(project)
    assert project.to_dict() == before


def test_add_effect_fills_default_params(project: Project) -> None:
    AddEffect(Effect(Id("e2"), "debug", Id("V1"), None, None, 0, 10, {"ids": False})
              ).apply(project)
    assert project.effects[Id("e2")].params == {
        "boxes": True, "landmarks": True, "ids": False, "line_width": 2}


def test_remove_model_refused_while_an_effect_uses_it(project: Project) -> None:
    AddEffect(Effect(Id("e2"), MODEL_FX.type_id, Id("V1"), 0, Id("mv"), 0, 10,
                     {"model": "md1"})).apply(project)
    with pytest.raises(CommandError, match="used by 1 effect"):
        RemoveModel(Id("md1")).apply(project)
    assert Id("md1") in project.models


def test_remove_media_restores_order_and_face_tracks_on_undo(project: Project) -> None:
    order = list(project.media)
    command = RemoveMedia(Id("mu"))
    command.apply(project)
    assert project.identities[Id("i2")].face_tracks == []
    command.undo(project)
    assert list(project.media) == order
    assert project.identities[Id("i2")].face_tracks == [FaceTrackRef(Id("mu"), 3)]


def test_command_error_is_a_user_error() -> None:
    assert issubclass(CommandError, UserError)


def test_snap_frame_picks_nearest_target_within_tolerance() -> None:
    assert snap_frame(47, [0, 50, 60], 5) == 50
    assert snap_frame(44, [0, 50, 60], 5) == 44
    assert snap_frame(55, [50, 60], 5) == 50  # ties go to the first target
    assert snap_frame(3, [], 5) == 3


def test_snap_targets_are_clip_edges_and_playhead(project: Project) -> None:
    assert snap_targets(project, playhead=33, exclude_clip=Id("c2")) == [0, 33, 50, 100]
    assert 60 in snap_targets(project) and 90 in snap_targets(project)


def test_audio_parameter_names_a_clip_with_audio(project: Project) -> None:
    AddEffect(Effect(Id("e2"), AUDIO_FX.type_id, Id("V1"), None, None, 0, 10,
                     {"audio": "c3"})).apply(project)
    with pytest.raises(CommandError, match="no clip with audio"):
        AddEffect(Effect(Id("e3"), AUDIO_FX.type_id, Id("V1"), None, None, 0, 10,
                         {"audio": "ma"})).apply(project)  # a media id, not a clip


def test_effects_of_unknown_types_do_not_block_edits(project: Project) -> None:
    """A project saved by a build with a plugin effect still opens and edits here."""
    project.effects[Id("e7")] = Effect(Id("e7"), "plugin_fx", Id("V1"), None, None, 0, 5,
                                       {"model": "md1"})
    RemoveModel(Id("md1")).apply(project)
    assert Id("md1") not in project.models
