"""The real main window, driven like a person would: import, analyse, place, play, seek,
edit, undo/redo, export, cancel, errors, autosave recovery and closing."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from helpers import UI_WAIT_MS, answer, error_texts, wait_job
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from deepstudio.engine.render import RenderSettings
from deepstudio.media.encode import EncodeSettings
from deepstudio.media.probe import probe
from deepstudio.qt.export_dialog import ExportDialog
from deepstudio.qt.mainwindow import MainWindow
from deepstudio.qt.mediabin import FACES_COLUMN, FORMAT_COLUMN, PROXY_COLUMN

Yes, No = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No
Cancel, Discard = QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Discard


@pytest.fixture
def window(qtbot):
    w = MainWindow()
    answer(w)  # unanswered questions: discard
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    return w


def shown(qtbot, window: MainWindow, frame: int) -> None:
    qtbot.waitUntil(lambda: window.controller.shown_frame == frame, timeout=10_000)


def test_import_analyse_place_play_seek(qtbot, window, tmp_path, testdata):
    assert window.create_project(tmp_path / "P.dstudio", "P")
    [media_id] = window.import_files([testdata / "talk_b.mp4"])
    assert window.media_bin.topLevelItemCount() == 1
    assert window.media_bin.topLevelItem(0).text(FORMAT_COLUMN) == "524×524 · 25"
    qtbot.waitUntil(lambda: window.cache.thumbnail(media_id) is not None, timeout=10_000)

    # like `deepstudio import`: placed on the timeline (the picture on V1 and, linked to
    # it, its sound on A1; the picture selected) and analysed
    assert [t.kind for t, _ in window.session.project.clips()] == ["video", "audio"]
    (_, clip), _ = window.session.project.clips()
    assert window.timeline.selection == ("clip", clip.id)
    [job] = [j for j in window.session.jobs.jobs if j.kind == "analyse"]
    wait_job(qtbot, job)
    assert job.status == "done"
    qtbot.waitUntil(lambda: window.media_bin.topLevelItem(0).text(FACES_COLUMN) == "1 face",
                    timeout=UI_WAIT_MS)
    assert media_id in window._spans
    faces = next(lane for lane in window.timeline.lanes() if lane.kind == "faces")
    assert faces.face_ids == (0,) and window.timeline.face_segments(faces)

    window.overlay_actions["boxes"].trigger()
    window.overlay_actions["landmarks"].trigger()
    assert window.controller.overlays.boxes and window.controller.overlays.landmarks
    window.controller.seek(60)
    shown(qtbot, window, 60)
    assert window.preview.timecode.text() == "00:00:02:10"
    assert window.preview.view.image is not None

    before = window.controller.shown_count
    window.act["play"].trigger()
    assert window.controller.playing
    qtbot.wait(600)
    window.act["play"].trigger()
    assert not window.controller.playing
    assert window.controller.playhead > 60
    assert window.controller.shown_count - before >= 5
    assert "P" in window.windowTitle() and window.isWindowModified()


def test_edit_split_trim_undo_redo_and_title(qtbot, window, astronaut_project):
    assert window.open_project(astronaut_project)
    session = window.session
    assert not window.isWindowModified()
    (track, clip), (sound_track, _) = session.project.clips()
    window.timeline.select(("clip", clip.id))
    window.controller.seek(30)
    window.act["split"].trigger()
    assert len(session.project.track(track.id).clips) == 2
    assert len(session.project.track(sound_track.id).clips) == 2  # its sound is cut too
    assert window.isWindowModified()
    assert window.act["undo"].text() == "&Undo Split clip"

    right = session.project.track(track.id).clips[1]
    window.inspector.show_selection(("clip", right.id))
    window.timeline.select(("clip", right.id))
    window.act["delete"].trigger()
    assert len(session.project.track(track.id).clips) == 1
    window.act["undo"].trigger()
    window.act["undo"].trigger()
    assert [c.id for c in session.project.track(track.id).clips] == [clip.id]
    assert session.project.clip(clip.id).out_frame == 75
    window.act["redo"].trigger()
    assert len(session.project.track(track.id).clips) == 2

    # the inspector edits the selected clip through commands too
    window.timeline.select(("clip", clip.id))
    from PySide6.QtWidgets import QSpinBox

    out_spin = [s for s in window.inspector.widget().findChildren(QSpinBox)
                if s.value() == 30][-1]
    out_spin.setValue(20)
    assert session.project.clip(clip.id).out_frame == 20
    assert session.history.undo_text == "Trim clip"

    answer(window, Cancel)
    window.close()
    assert window.isVisible()  # cancelled: still open, still dirty
    assert window.act["save"].isEnabled()
    window.act["save"].trigger()
    assert not window.isWindowModified()


def test_refused_edit_and_bad_import_show_one_line_dialogs(qtbot, window, tmp_path,
                                                           astronaut_project):
    window.open_project(astronaut_project)
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("not a video")
    assert window.import_files([bogus]) == []
    [text] = error_texts(window)
    assert str(bogus) in text and "\n" not in text and "Traceback" not in text
    assert not window.session.dirty


def test_export_and_failing_render(qtbot, window, tmp_path, astronaut_project):
    window.open_project(astronaut_project)
    dialog = ExportDialog(tmp_path / "out.mp4", 75, (10, 40), window)
    assert "Content Credentials" in dialog.findChild(type(window.status_jobs), "Disclosure").text()
    output, settings = dialog.render_request()
    assert (settings.start_frame, settings.end_frame) == (10, 40)
    job = window.start_render(output, RenderSettings(10, 40, EncodeSettings(preset="ultrafast")))
    wait_job(qtbot, job)
    assert job.status == "done", job.error
    info = probe(output)
    assert info.frame_count == 30 and info.has_audio
    qtbot.waitUntil(lambda: window.jobs_pane.row_of(job.id)[0].text(1) == "Done",
                    timeout=UI_WAIT_MS)

    blocker = tmp_path / "file"
    blocker.write_text("x")
    failing = window.start_render(blocker / "out.mp4", RenderSettings())
    wait_job(qtbot, failing)
    assert failing.status == "failed"
    qtbot.waitUntil(lambda: bool(error_texts(window)), timeout=UI_WAIT_MS)
    assert all("\n" not in t for t in error_texts(window))
    assert not window.session.dirty and len(window.session.project.clips()) == 2


def test_cancel_job_from_jobs_pane(qtbot, window, tmp_path, testdata):
    window.create_project(tmp_path / "C.dstudio", "C")
    [media_id] = window.import_files([testdata / "talk_long_a.mp4"])
    job = window.analyse(media_id)
    qtbot.waitUntil(lambda: job.status == "running" and job.fraction > 0, timeout=60_000)
    cancel = window.jobs_pane.row_of(job.id)[2]
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    wait_job(qtbot, job, UI_WAIT_MS)
    assert job.status == "cancelled"
    qtbot.waitUntil(lambda: window.jobs_pane.row_of(job.id)[0].text(1) == "Cancelled",
                    timeout=UI_WAIT_MS)
    assert window.media_bin.topLevelItem(0).text(FACES_COLUMN) == "cancelled"
    assert not error_texts(window)


def test_autosave_recovery_after_crash(qtbot, tmp_path, astronaut_project):
    folder = tmp_path / "Crash.dstudio"
    shutil.copytree(astronaut_project, folder)
    first = MainWindow()
    qtbot.addWidget(first)
    first.open_project(folder)
    (_, clip), _sound = first.session.project.clips()
    first.timeline.select(("clip", clip.id))
    first.controller.seek(40)
    first.act["split"].trigger()
    first.autosave()
    assert first.session.paths.autosave_file.exists()
    first.session.jobs.shutdown()  # the process "dies": no save, no close questions
    first.session.lock.release()  # as the kernel drops a dead process's lock
    first.session = None

    second = MainWindow()
    qtbot.addWidget(second)
    asked = answer(second, Yes)
    assert second.open_project(folder)
    assert asked == ["Recover unsaved changes?"]
    assert len(second.session.project.clips()) == 4  # picture and sound, each split
    assert second.isWindowModified()
    answer(second, Discard)


def test_screenshot_command(qtbot, tmp_path, astronaut_project):
    from PySide6.QtGui import QImage

    from deepstudio.cli.main import main

    png = tmp_path / "shot.png"
    assert main(["gui", "--screenshot", str(png), "--open", str(astronaut_project),
                 "--seek", "1.0"]) == 0
    image = QImage(str(png))
    assert image.width() >= 1200 and image.height() >= 700
    # the preview shows the astronaut, not an empty black frame: many distinct colours
    colours = {image.pixel(x, y) for x in range(300, 1100, 7) for y in range(100, 500, 7)}
    assert len(colours) > 500
    assert Path(astronaut_project, "project.json").exists()


def test_a_project_opens_from_the_manifest_file_a_desktop_hands_over(qtbot, tmp_path,
                                                                      astronaut_project):
    from PySide6.QtGui import QImage

    from deepstudio.cli.main import main
    from deepstudio.persistence.project_store import ProjectPaths

    manifest = ProjectPaths(astronaut_project).manifest_file
    png = tmp_path / "shot.png"
    # as a file manager runs the desktop entry (or Finder the app): the bare path, no command
    assert main([str(manifest), "--screenshot", str(png)]) == 0
    image = QImage(str(png))
    colours = {image.pixel(x, y) for x in range(300, 1100, 7) for y in range(100, 500, 7)}
    assert len(colours) > 500  # the project's clip is in the preview


def test_the_about_box_names_the_torch_build_and_device() -> None:
    from deepstudio.qt.dialogs import about_text

    text = about_text()
    assert "DeepStudio 0.1" in text
    assert re.search(r"^torch \S+ \((CPU|CUDA [\d.]+) build\)$", text, re.M)
    assert re.search(r"^device: (CPU|CUDA, .+)", text, re.M)


def test_long_gop_media_gets_a_proxy_the_preview_reads(qtbot, window, tmp_path):
    from synth import decode_index, make_index_video

    clip = make_index_video(tmp_path / "camera.mp4", frames=100, gop=100)
    assert window.create_project(tmp_path / "P.dstudio", "P")
    [media_id] = window.import_files([clip])
    qtbot.waitUntil(lambda: window.media_bin.topLevelItem(0).text(PROXY_COLUMN) == "yes",
                    timeout=60_000)
    assert window.session.has_proxy(media_id)
    window.media_bin.topLevelItem(0).setSelected(True)
    window.act["add_clip"].trigger()
    window.controller.seek(63)
    shown(qtbot, window, 63)
    frame = window.session.preview.request(63).result(timeout=10)
    assert decode_index(frame.image) == 63


def test_automatic_proxies_can_be_turned_off_in_preferences(qtbot, window, tmp_path):
    from synth import make_index_video

    from deepstudio.qt.dialogs import PreferencesDialog

    dialog = PreferencesDialog(window.settings, window)
    assert dialog.auto_proxies.isChecked()
    dialog.auto_proxies.setChecked(False)
    dialog.apply()
    assert window.settings.pref("auto_proxies") is False
    clip = make_index_video(tmp_path / "camera.mp4", frames=60, gop=60)
    assert window.create_project(tmp_path / "P.dstudio", "P")
    [media_id] = window.import_files([clip])
    assert window.session.proxy_advised(media_id)
    assert not [job for job in window.session.jobs.jobs if job.kind == "proxy"]
    assert window.media_bin.topLevelItem(0).text(PROXY_COLUMN) == "—"
