"""A video's sound on the timeline: linked to its picture, muted from the track header or the
Clip menu, unlinked, retimed; the timeline rate changed from the Clip menu."""

from __future__ import annotations

from fractions import Fraction

from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QComboBox, QInputDialog

from deepstudio.qt.timeline import TimelineView


def _lane(window, kind: str):
    return next(lane for lane in window.timeline.lanes() if lane.kind == kind)


def test_sound_lane_mute_unlink_and_waveform(qtbot, window, astronaut_project):
    assert window.open_project(astronaut_project)
    project = window.session.project
    (_, picture), (audio_track, sound) = project.clips()
    assert picture.link == sound.link is not None
    audio = _lane(window, "audio")
    assert audio.track.id == audio_track.id
    qtbot.waitUntil(lambda: window.cache.peaks(sound.media_id, 25.0) is not None,
                    timeout=20_000)

    # the M toggle in the audio track's header mutes the track (undoably)
    centre = TimelineView.mute_rect(audio).center()
    qtbot.mouseClick(window.timeline, Qt.MouseButton.LeftButton,
                     pos=QPointF(centre).toPoint())
    assert project.track(audio_track.id).muted
    window.act["undo"].trigger()
    assert not project.track(audio_track.id).muted

    # Clip ▸ Mute on the picture mutes its linked sound
    window.timeline.select(("clip", picture.id))
    window.act["mute_clip"].trigger()
    assert project.clip(sound.id).muted
    window.act["mute_clip"].trigger()
    assert not project.clip(sound.id).muted

    # unlinked, the sound moves alone
    window.act["unlink"].trigger()
    assert project.clip(picture.id).link is None and project.clip(sound.id).link is None
    window.grab()  # paints the muted/linked marks without error


def test_rate_change_and_retime_in_the_inspector(qtbot, window, astronaut_project,
                                                 monkeypatch):
    assert window.open_project(astronaut_project)
    project = window.session.project
    (_, picture), _ = project.clips()
    assert picture.length == 75
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: ("29.97", True))
    window.act["timeline_rate"].trigger()
    assert project.timeline_fps() == Fraction(30000, 1001)
    assert project.clip(picture.id).length == 90  # 3 s at 29.97 fps: the same 3 s
    window.timeline.select(("clip", picture.id))
    combo = next(c for c in window.inspector.widget().findChildren(QComboBox)
                 if c.findData("blend") >= 0)
    combo.setCurrentIndex(combo.findData("blend"))
    assert project.clip(picture.id).retime == "blend"
    window.controller.seek(10)
    qtbot.waitUntil(lambda: window.controller.shown_frame == 10, timeout=10_000)
