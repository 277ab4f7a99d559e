"""Identities pane and consent dialog on the real window: assign a face to a new person,
record consent, see the badges, revoke, undo, save and reopen; extract a real faceset."""

from __future__ import annotations

from datetime import date

from helpers import UI_WAIT_MS, wait_job
from PySide6.QtCore import Qt

from deepstudio.core.consent import valid_consent
from deepstudio.session import Session


def badges(pane, row: int = 0) -> list[str]:
    item = pane.tree.topLevelItem(row)
    return [item.text(c) for c in (1, 2, 3)]


def test_identity_and_consent_round_trip(qtbot, window, astronaut_project):
    assert window.open_project(astronaut_project)
    session = window.session
    [media_id] = session.project.media
    wait_job(qtbot, window.analyse(media_id))
    pane = window.people.identities

    window.timeline.select(("face", (media_id, 0)))
    pane.ask_name = lambda *args: "Astro"
    qtbot.mouseClick(pane.buttons["assign"], Qt.MouseButton.LeftButton)
    astro = session.identity_named("Astro")
    assert [(r.media_id, r.track_id) for r in astro.face_tracks] == [(media_id, 0)]
    top = pane.tree.topLevelItem(0)
    assert top.text(0) == "Astro" and top.child(0).text(0) == "astronaut · face 0"
    assert badges(pane) == ["✘", "✘", "✘"]

    qtbot.mouseClick(pane.buttons["consent"], Qt.MouseButton.LeftButton)
    dialog = window.people.consent_dialog
    assert dialog.isVisible() and dialog.person.currentText() == "Astro"
    assert not dialog.add_button.isEnabled()  # no scope chosen yet
    dialog.scopes["train"].setChecked(True)
    dialog.scopes["swap"].setChecked(True)
    dialog.recorded_by.setText("Producer")
    dialog.expires.setChecked(True)
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    [record] = astro.consents
    assert record.scope == ["train", "swap"] and record.recorded_by == "Producer"
    assert record.date == date.today().isoformat() and record.expiry > record.date
    assert badges(pane) == ["✔", "✔", "✘"]
    assert dialog.record_ids() == [record.id]
    assert dialog.records.topLevelItem(0).text(4) == "valid"

    dialog.select_record(record.id)
    qtbot.mouseClick(dialog.revoke_button, Qt.MouseButton.LeftButton)
    assert record.revoked and valid_consent(astro, "swap") is None
    assert dialog.records.topLevelItem(0).text(4) == f"revoked {date.today().isoformat()}"
    assert badges(pane) == ["✘", "✘", "✘"]
    assert window.act["undo"].text() == "&Undo Revoke consent"

    window.act["undo"].trigger()  # the revocation
    assert not record.revoked and badges(pane) == ["✔", "✔", "✘"]
    assert dialog.records.topLevelItem(0).text(4) == "valid"
    window.act["undo"].trigger()  # the record
    assert astro.consents == [] and dialog.record_ids() == []
    window.act["undo"].trigger()  # the person and their face
    assert session.project.identities == {} and pane.tree.topLevelItemCount() == 0
    for _ in range(3):
        window.act["redo"].trigger()
    assert badges(pane) == ["✘", "✘", "✘"]  # revoked again

    # a new person named in the dialog is created together with their first record
    dialog.person.setCurrentText("Bea Lee")
    dialog.scopes["lipsync"].setChecked(True)
    dialog.add_record()
    bea = session.identity_named("Bea Lee")
    assert [c.scope for c in bea.consents] == [["lipsync"]] and bea.face_tracks == []
    assert pane.tree.topLevelItemCount() == 2
    dialog.close()

    window.act["save"].trigger()
    reopened = Session.open(astronaut_project, read_only=True)
    try:
        again = reopened.identity_named("Astro")
        assert again.consents[0].revoked and again.consents[0].recorded_by == "Producer"
        assert valid_consent(reopened.identity_named("Bea Lee"), "lipsync") is not None
    finally:
        reopened.close()


def test_extract_faceset_from_identity_shows_grid(qtbot, window, tmp_path, testdata):
    assert window.create_project(tmp_path / "F.dstudio", "F")
    [media_id] = window.import_files([testdata / "swap_a.mp4"])
    window._add_media_clip(media_id)
    wait_job(qtbot, window.analyse(media_id))
    pane = window.people.identities
    window.controller.seek(10)  # a face under the playhead, nothing selected
    pane.ask_name = lambda *args: "Kai"
    pane.assign_clicked()
    kai = window.session.identity_named("Kai")
    assert len(kai.face_tracks) == 1

    pane.select(("identity", kai.id))
    qtbot.mouseClick(pane.buttons["extract"], Qt.MouseButton.LeftButton)
    [job] = [j for j in window.session.jobs.jobs if j.kind == "extract"]
    wait_job(qtbot, job, 60_000)
    assert job.status == "done", job.error
    view = window.people.facesets
    qtbot.waitUntil(lambda: view.folder == job.result.path, timeout=UI_WAIT_MS)
    info = job.result
    assert info.faces > 10 and view.face_count() == info.faces
    assert view.grid.item(0).icon().availableSizes()  # a real thumbnail, not a blank
    assert view.title.text().startswith("Kai")
    assert f"{info.faces} faces kept of {info.frames_seen} seen" in view.summary.text()
    assert "yaw" in view.summary.text() and "°" in view.summary.text()
    assert window.docks["facesets"].isVisible()
    # the training panel lists the new faceset
    assert window.people.training.source.findData(str(info.path)) >= 0
