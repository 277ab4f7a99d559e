"""The first hour with the editor, on the real window and real clips: it fits a laptop
screen, import does what ``deepstudio import`` does, faces have names that tell people apart,
face effects from the Clip menu land on the selected face over its clip, overlapping effects
get rows of their own, times are timecode, and the File, Help, Identities and Training
actions a new user reaches for exist and explain themselves."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import video_clips, wait_job
from PySide6.QtCore import QRect
from PySide6.QtGui import QScreen
from PySide6.QtWidgets import QFileDialog, QSpinBox

from deepstudio.core.project import FaceTrackRef
from deepstudio.qt.mainwindow import MainWindow
from deepstudio.qt.mediabin import FACES_COLUMN, FORMAT_COLUMN, PROXY_COLUMN
from deepstudio.qt.timeline import FACE_ROW_H


def settle(qtbot, ms: int = 200) -> None:
    qtbot.wait(ms)


@pytest.mark.parametrize("screen", [(1366, 768), (1920, 1000)])
def test_window_fits_the_screen_it_opens_on(qtbot, monkeypatch, astronaut_project, screen):
    area = QRect(0, 0, *screen)
    monkeypatch.setattr(QScreen, "availableGeometry", lambda self: area)
    window = MainWindow()
    qtbot.addWidget(window)
    assert window.width() <= screen[0] and window.height() <= screen[1]
    hint = window.minimumSizeHint()
    assert hint.width() <= 1366 and hint.height() <= 740, hint
    window.show()
    window.open_project(astronaut_project)
    settle(qtbot, 400)
    # what a 1366×768 screen hid before: the Identities tab, the status bar, the job log
    assert window.statusBar().isVisible() and window.statusBar().geometry().bottom() < screen[1]
    assert window.docks["jobs"].height() > 100
    assert window.docks["identities"].isVisible()  # tabbed with the media bin
    timecode = window.preview.timecode
    assert timecode.width() >= timecode.sizeHint().width()
    assert window.preview.duration.text() == "/ 00:00:03:00"  # right after opening


def test_docks_grow_back_after_the_window_shrinks(qtbot, window, astronaut_project):
    window.open_project(astronaut_project)
    window.resize(1920, 1080)
    settle(qtbot)
    wide = window.docks["media"].width(), window.docks["timeline"].height()
    window.resize(1366, 768)
    settle(qtbot)
    small = window.docks["media"].width(), window.docks["timeline"].height()
    assert small[0] < wide[0] and small[1] < wide[1]
    window.resize(1920, 1080)
    settle(qtbot)
    again = window.docks["media"].width(), window.docks["timeline"].height()
    assert again[0] > 0.9 * wide[0] and again[1] > 0.9 * wide[1]


def test_import_places_analyses_and_remembers_the_folder(qtbot, window, tmp_path, testdata,
                                                         monkeypatch):
    from synth import make_index_video

    (tmp_path / "footage").mkdir()
    camera = make_index_video(tmp_path / "footage" / "camera.mp4", frames=80, gop=80)
    asked: list[str] = []

    def choose(parent, title, folder, filters):
        asked.append(folder)
        return [str(camera if len(asked) == 1 else testdata / "talk_b.mp4")], filters

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(choose))
    assert window.create_project(tmp_path / "P.dstudio", "P")
    window.act["import"].trigger()
    window.act["import"].trigger()
    assert asked == [str(Path.home()), str(camera.parent)]  # starts where the last one was
    project = window.session.project
    first, second = (c for _, c in video_clips(project))
    assert second.start == first.end  # at the end of the timeline
    assert window.timeline.selection == ("clip", second.id)
    assert window.controller.playhead == second.start
    visible = (window.timeline.width() - 136) / window.timeline.pixels_per_frame
    assert window.timeline.scroll_frames <= second.start < window.timeline.scroll_frames + visible
    analyses = [j for j in window.session.jobs.jobs if j.kind == "analyse"]
    assert len(analyses) == 2
    # both files have keyframes far apart: each gets a proxy, the Proxy column follows
    for row in (0, 1):
        qtbot.waitUntil(lambda r=row: window.media_bin.topLevelItem(r).text(PROXY_COLUMN)
                        == "yes", timeout=60_000)
    for job in analyses:
        wait_job(qtbot, job)
    qtbot.waitUntil(lambda: window.media_bin.topLevelItem(1).text(FACES_COLUMN) == "1 face")


def test_bin_tells_ntsc_rates_from_round_ones(qtbot, window, tmp_path):
    """A 29.97 fps clip beside a 25 fps one: the bin said "30", hiding the very difference
    that a mixed-rate timeline has to conform."""
    from synth import make_index_video

    ntsc = make_index_video(tmp_path / "ntsc.mp4", frames=30, fps="30000/1001")
    pal = make_index_video(tmp_path / "pal.mp4", frames=25, fps="25")
    assert window.create_project(tmp_path / "P.dstudio", "P")
    window.import_files([ntsc, pal])
    rows = [window.media_bin.topLevelItem(r).text(FORMAT_COLUMN) for r in (0, 1)]
    assert [row.split(" · ")[1] for row in rows] == ["29.97", "25"]
    for job in [j for j in window.session.jobs.jobs if j.kind == "analyse"]:
        wait_job(qtbot, job)


def test_dialogue_dropped_under_a_clip_gets_an_audio_track_of_its_own(qtbot, window,
                                                                       tmp_path):
    """The dubbing step of docs/first-hour.md: the dialogue dropped from the bin at 0:00 on
    the picture's row (or below the tracks) goes on a new audio track, since A1 holds the
    clip's own sound there."""
    from synth import make_index_video

    from deepstudio.engine.demo_media import write_dialogue

    clip = make_index_video(tmp_path / "shot.mp4", frames=50)
    dialogue = write_dialogue(tmp_path / "dialogue.wav", seconds=2.0)
    assert window.create_project(tmp_path / "P.dstudio", "P")
    window.import_files([clip])
    project = window.session.project
    video_track = project.tracks[0]
    dialogue_id = window.session.import_media(dialogue)
    for row in (video_track.id, ""):
        window.timeline.media_dropped.emit(dialogue_id, row, 0)
    audio = [t for t in project.tracks if t.kind == "audio"]
    assert [t.name for t in audio] == ["A1", "A2", "A3"]
    assert [(c.media_id, c.start) for t in audio[1:] for c in t.clips] == [(dialogue_id, 0)] * 2
    for job in [j for j in window.session.jobs.jobs if j.kind == "analyse"]:
        wait_job(qtbot, job)


@pytest.fixture
def two_clip_window(qtbot, window, tmp_path, testdata):
    """multi_a (three faces, 25 fps) then talk_b on the timeline, both analysed."""
    assert window.create_project(tmp_path / "Dub.dstudio", "Dub")
    window.import_files([testdata / "multi_a.mp4", testdata / "talk_b.mp4"])
    for job in [j for j in window.session.jobs.jobs if j.kind == "analyse"]:
        wait_job(qtbot, job)
    qtbot.waitUntil(lambda: len(window._spans) == 2, timeout=10_000)
    return window


def add_from_clip_menu(window, label: str) -> str:
    [action] = [a for a in window.effect_menu.actions() if a.text() == label]
    before = set(window.session.project.effects)
    action.trigger()
    [new] = set(window.session.project.effects) - before
    return new


def test_face_names_face_effects_and_effect_rows(qtbot, two_clip_window):
    window = two_clip_window
    project = window.session.project
    multi, talk = (c for _, c in video_clips(project))
    faces = next(lane for lane in window.timeline.lanes() if lane.kind == "faces")
    assert faces.face_ids == (0, 1, 2) and faces.height >= 3 * FACE_ROW_H >= 3 * 18
    names = {(m, f): window.timeline.face_name(m, f)
             for f, m, _, _ in window.timeline.face_segments(faces)}
    assert names[(multi.media_id, 2)] == "multi_a · face 2"
    assert names[(talk.media_id, 0)] == "talk_b · face 0"

    # a face effect from the Clip menu: on the selected face, over the clip that shows it
    window.timeline.select(("face", (multi.media_id, 2)))
    swap = project.effects[add_from_clip_menu(window, "Face swap")]
    assert (swap.media_id, swap.face_track) == (multi.media_id, 2)
    assert multi.start <= swap.start < swap.end <= multi.end
    # with a clip selected: that clip's face (talk_b has one), not all faces everywhere
    window.timeline.select(("clip", talk.id))
    lips = project.effects[add_from_clip_menu(window, "Lip-sync")]
    assert (lips.media_id, lips.face_track) == (talk.media_id, 0)
    assert talk.start <= lips.start < lips.end <= talk.end
    # its sound selected: the effect still goes on the picture (a video track)
    [(_, sound)] = project.linked(talk)
    window.timeline.select(("clip", sound.id))
    on_sound = project.effects[add_from_clip_menu(window, "Face swap")]
    assert (on_sound.media_id, on_sound.face_track) == (talk.media_id, 0)
    assert project.track(on_sound.track_id).kind == "video"
    # overlapping effects sit on rows of their own
    window.timeline.select(("face", (multi.media_id, 1)))
    other = add_from_clip_menu(window, "Lip-sync")
    fx = next(lane for lane in window.timeline.lanes() if lane.kind == "fx")
    assert fx.effect_rows[swap.id] != fx.effect_rows[other]
    assert not window.timeline.effect_rect(fx, swap).intersects(
        window.timeline.effect_rect(fx, project.effects[other]))
    assert window.timeline.item_at(window.timeline.effect_rect(fx, project.effects[other])
                                   .center().x(), window.timeline.effect_rect(
                                       fx, project.effects[other]).center().y())[1].id == other

    # a person's name replaces "multi_a · face 2" everywhere once assigned
    window.people.identities.ask_name = lambda *args: "Cheryl"
    window.people.identities.assign_face(FaceTrackRef(multi.media_id, 2))
    assert window.timeline.face_name(multi.media_id, 2) == "Cheryl"
    window.timeline.select(("effect", swap.id))
    assert window.inspector.widget().findChild(type(window.preview.timecode),
                                               "SectionTitle").text() == \
        "Effect · Face swap · Cheryl"

    # the inspector shows timeline times as timecode
    window.timeline.select(("clip", talk.id))
    spins = window.inspector.widget().findChildren(QSpinBox)
    assert spins[0].text() == "00:00:04:20" and spins[0].value() == talk.start
    window.timeline.select(("face", (talk.media_id, 0)))
    texts = [w.text() for w in window.inspector.widget().findChildren(
        type(window.preview.timecode))]
    assert "00:00:04:20 – 00:00:09:17" in texts


def test_save_as_and_close_project(qtbot, window, astronaut_project, tmp_path):
    assert window.open_project(astronaut_project)
    [media_id] = window.session.project.media
    wait_job(qtbot, window.analyse(media_id))
    target = tmp_path / "elsewhere" / "Copy.dstudio"
    assert window.save_as(target, "Copy")
    session = window.session
    assert session.folder == target and session.project.name == "Copy"
    assert session.media_path(media_id).is_file()
    assert session.analysis(media_id) is not None  # the analyses came along
    assert "Copy" in window.windowTitle() and str(target) == window.settings.recent_projects[0]
    assert window.close_project()
    assert window.session is None and window.windowTitle() == "DeepStudio"
    assert not window.act["save"].isEnabled() and window.act["open"].isEnabled()


def test_keyboard_shortcuts_are_searchable(qtbot, window):
    dialog = window.show_shortcuts()
    assert dialog.isVisible()
    everything = dialog.visible_actions()
    assert {"Split at Playhead", "Play / Pause", "Keyboard Shortcuts", "Verify File"} <= set(
        everything)
    dialog.search.setText("split")
    assert dialog.visible_actions() == ["Split at Playhead"]
    dialog.search.setText("ctrl+shift+a")
    assert dialog.visible_actions() == ["Analyse Faces"]


def test_add_person_and_why_training_cannot_start(qtbot, window, astronaut_project):
    assert window.open_project(astronaut_project)
    pane = window.people.identities
    pane.ask_name = lambda *args: "Bea"
    pane.buttons["add"].click()
    assert window.session.identity_named("Bea") is not None
    panel = window.people.training
    assert not panel.start_button.isEnabled()
    assert "Extract a faceset of each person" in panel.start_button.toolTip()
