"""The training panel on the real window with real facesets: refused without consent (the
refusal offers to record it), then a tiny CPU training job showing progress, stopped with a
checkpoint and resumed; the model it made is picked for a face-swap effect in the inspector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import UI_WAIT_MS, wait_job
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QMessageBox

from deepstudio.core import keyframes
from deepstudio.core.project import FaceTrackRef, Identity
from deepstudio.qt.param_editors import KeyframedNumber
from deepstudio.qt.training_panel import train_figures
from deepstudio.types import new_id


@pytest.fixture
def two_faceset_project(tmp_path: Path, testdata: Path) -> Path:
    """A saved project with two people (no consent yet) and a faceset of each."""
    from deepstudio.core.commands import AddIdentity
    from deepstudio.session import Session

    session = Session.create(tmp_path / "T.dstudio", "T")
    for name, clip in (("Kai", "swap_a.mp4"), ("Tess", "talk_b.mp4")):
        media_id = session.import_media(testdata / clip)
        session.add_clip_for_media(media_id)
        track = min(session.analyze_now(media_id).tracks)
        session.do(AddIdentity(Identity(new_id("identity"), name,
                                        [FaceTrackRef(media_id, track)])))
        job = session.extract_faceset(media_id, track, session.identity_named(name).id)
        assert job.wait(60).faces > 4
    session.save()
    session.close()
    return session.folder


def test_training_refused_then_consent_train_stop_resume(qtbot, window, two_faceset_project):
    assert window.open_project(two_faceset_project)
    session = window.session
    panel = window.people.training
    facesets = sorted((two_faceset_project / "facesets").iterdir())
    assert panel.source.count() == 2
    panel.choose(facesets[0], facesets[1], "kai_to_tess")
    panel.iterations.setValue(400)
    panel.resolution.setCurrentIndex(panel.resolution.findData(32))
    panel.device.setCurrentIndex(panel.device.findData("cpu"))
    assert panel.start_button.text() == "Start" and panel.start_button.isEnabled()

    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.job is None and not [j for j in session.jobs.jobs if j.kind == "train"]
    refusal = window.findChild(QMessageBox, "ConsentRefusal")
    assert refusal is not None and refusal.isVisible()
    assert "'Kai'" in refusal.text() and "train" in refusal.text()
    record = next(b for b in refusal.buttons() if b.objectName() == "RecordConsent")
    record.click()
    dialog = window.people.consent_dialog
    assert dialog.isVisible() and dialog.person.currentText() == "Kai"
    for person in ("Kai", "Tess"):
        dialog.person.setCurrentText(person)
        dialog.scopes["train"].setChecked(True)
        dialog.scopes["swap"].setChecked(True)
        assert dialog.add_record() is not None
    dialog.close()

    job = panel.start()
    assert job is not None and job.kind == "train"
    assert not panel.start_button.isEnabled() and not panel.name.isEnabled()
    qtbot.waitUntil(lambda: (train_figures(job) or train_figures_zero()).iteration >= 2,
                    timeout=60_000)
    qtbot.waitUntil(lambda: panel.figures["iteration"].text().endswith("/ 400"), timeout=UI_WAIT_MS)
    assert float(panel.figures["speed"].text()) > 0
    assert panel.curves and all(len(c) >= 1 for c in panel.curves.values())
    assert any(name.startswith("loss/") for name in panel.curves)
    assert panel.stop_button.isEnabled()

    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    wait_job(qtbot, job, 30_000)
    assert job.status == "done" and job.result.cancelled, job.error
    stopped_at = job.result.iterations
    qtbot.waitUntil(lambda: panel.status.text().startswith("Stopped at iteration"),
                    timeout=UI_WAIT_MS)
    model_dir = two_faceset_project / "models" / "kai_to_tess.dsmodel"
    assert (model_dir / "card.json").is_file()
    assert panel.start_button.text() == "Resume" and panel.start_button.isEnabled()

    panel.iterations.setValue(stopped_at + 1)
    resumed = panel.start()
    wait_job(qtbot, resumed, 60_000)
    assert resumed.status == "done" and not resumed.result.cancelled, resumed.error
    assert resumed.result.iterations == stopped_at + 1
    qtbot.waitUntil(lambda: panel.status.text().startswith("Finished: "), timeout=UI_WAIT_MS)
    assert panel.preview.source is not None  # the final preview grid
    [model] = session.project.models.values()
    assert model.kind == "faceswap" and model.name == "kai_to_tess"

    # the model drives a face-swap effect placed on Kai's face, edited in the inspector
    kai = session.identity_named("Kai")
    ref = kai.face_tracks[0]
    window._load_spans(ref.media_id)
    window.add_effect_on_face("face_swap", ref.media_id, ref.track_id)
    [effect] = session.project.effects.values()
    window.inspector.show_selection(("effect", effect.id))
    pickers = [c for c in window.inspector.widget().findChildren(QComboBox)
               if c.findText("Import model…") >= 0]
    [picker] = pickers
    picker.setCurrentIndex(picker.findText("kai_to_tess"))
    assert session.project.effects[effect.id].params["model"] == model.id
    # choosing the model also chose whom it renders: one of the people it was trained on
    assert session.project.effects[effect.id].params["identity"] in ("Kai", "Tess")
    assert session.model_people(model.id) == ["Kai", "Tess"]
    window.controller.seek(effect.start + 5)
    [strength] = [e for e in window.inspector.widget().findChildren(KeyframedNumber)
                  if e.param.name == "strength"]
    strength.key.click()
    value = session.project.effects[effect.id].params["strength"]
    assert keyframes.keys(value) == [(5, 1.0)]
    window.act["undo"].trigger()
    assert session.project.effects[effect.id].params["strength"] == 1.0

    # a lip-sync effect offers no face-swap models
    window.timeline.select(None)
    window.add_effect_on_face("lip_sync", ref.media_id, ref.track_id)
    lip = next(e for e in session.project.effects.values() if e.type == "lip_sync")
    window.inspector.show_selection(("effect", lip.id))
    [lip_picker] = [c for c in window.inspector.widget().findChildren(QComboBox)
                    if c.findText("Import model…") >= 0]
    assert lip_picker.findText("kai_to_tess") < 0


def train_figures_zero():
    from deepstudio.qt.training_panel import TrainFigures

    return TrainFigures(0, 0, 0.0)


def test_lipsync_training_from_a_speakers_face_track(qtbot, window, tmp_path: Path,
                                                     testdata: Path):
    """Lip-sync in the same panel: the speakers offered are the people's face tracks; a tiny
    CPU run shows its figures, curves and preview and adds a lip-sync model to the project."""
    from datetime import date

    from deepstudio.core.commands import AddConsent, AddIdentity
    from deepstudio.core.project import ConsentRecord
    from deepstudio.session import Session

    session = Session.create(tmp_path / "L.dstudio", "L")
    media_id = session.import_media(testdata / "talk_b.mp4")
    session.add_clip_for_media(media_id)
    track = min(session.analyze_now(media_id).tracks)
    tess = Identity(new_id("identity"), "Tess", [FaceTrackRef(media_id, track)])
    session.do(AddIdentity(tess))
    session.save()
    session.close()
    assert window.open_project(tmp_path / "L.dstudio")
    panel = window.people.training
    panel.kind.setCurrentIndex(panel.kind.findData("lipsync"))
    assert not panel.form.isRowVisible(panel.target)
    assert panel.form.isRowVisible(panel.sound_delay)
    assert panel.source.count() == 1 and panel.source.currentText().startswith("Tess · talk_b")
    panel.name.setText("tess_lips")
    panel.iterations.setValue(3)
    panel.sound_delay.setValue(2)
    panel.device.setCurrentIndex(panel.device.findData("cpu"))
    assert panel.start() is None  # no consent yet: refused, nothing started
    assert "'Tess'" in panel.status.text()
    window.session.do(AddConsent(tess.id, ConsentRecord(new_id("consent"), "Tess", "QA",
                                                        date.today().isoformat(), ["train"])))

    job = panel.start()
    assert job is not None and job.kind == "train" and not panel.kind.isEnabled()
    wait_job(qtbot, job, 120_000)
    assert job.status == "done" and not job.result.cancelled, job.error
    qtbot.waitUntil(lambda: panel.status.text().startswith("Finished: 3 iterations"),
                    timeout=UI_WAIT_MS)
    assert panel.figures["iteration"].text() == "3 / 3"
    assert panel.curves and panel.preview.source is not None
    [model] = window.session.project.models.values()
    assert model.kind == "lipsync" and model.name == "tess_lips"
    card = json.loads((tmp_path / "L.dstudio" / "models" / "tess_lips.dsmodel"
                       / "card.json").read_text())
    [footage] = card["training_data"]["footage"]
    assert footage["sound_delay_frames"] == 2 and "lag_frames" in footage["av_sync"]
