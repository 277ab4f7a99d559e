"""Effects that cannot run or lack consent, on the real window: the picture is never blanked
(the frame without the effect, with a badge, only inside the effect's range; undo restores it
at once), the effect's bar and the inspector say what is wrong as soon as it is placed, the
fix is one click away, and the export dialog lists every problem in the user's words."""

from __future__ import annotations

import re

import numpy as np
from helpers import video_clips, wait_job
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel, QPushButton, QTextBrowser

from deepstudio.core import commands as cmd
from deepstudio.core.project import Effect, ModelRef


def shown(qtbot, window, frame: int) -> None:
    window.controller.seek(frame)
    qtbot.waitUntil(lambda: window.controller.shown_frame == frame, timeout=10_000)


def plain_frame(window, frame: int) -> np.ndarray:
    """The timeline frame without any effect."""
    return window.session.preview.request(frame, compare="before").result(timeout=10).image


def test_effect_without_model_keeps_the_picture_and_badges_its_range(qtbot, window,
                                                                     astronaut_project):
    assert window.open_project(astronaut_project)
    session = window.session
    [(track, clip)] = video_clips(session.project)
    view = window.preview.view
    window.run(cmd.AddEffect(Effect("effect-swap", "face_swap", track.id, 0, clip.media_id,
                                    20, 50)))
    shown(qtbot, window, 10)  # before the effect: nothing to say
    assert view.image is not None and view.badges == ()

    shown(qtbot, window, 30)  # inside: the picture without the effect, and why
    assert view.image is not None
    assert view.badges == ("Face swap on astronaut · face 0: no model chosen",)
    frame = session.preview.request(30).result(timeout=10)
    assert np.array_equal(frame.image, plain_frame(window, 30)) and frame.image.mean() > 30
    assert [i.reason for i in frame.issues] == ["no model chosen"]
    bar = [p.badge for p in window.timeline.problems["effect-swap"]]
    assert bar[0] == "no model chosen"

    # a model that fails to load: the same, with its reason
    bad = astronaut_project / "models" / "bad.dsmodel"
    bad.mkdir(parents=True)
    (bad / "card.json").write_text("{}")
    window.run(cmd.AddModel(ModelRef("model-bad", "bad", "faceswap", "models/bad.dsmodel", "")))
    window.run(cmd.SetEffectParams("effect-swap", {"model": "model-bad"}))
    qtbot.waitUntil(lambda: len(view.badges) == 1 and "no model" not in view.badges[0],
                    timeout=20_000)
    assert view.image is not None and "card" in view.badges[0]
    frame = session.preview.request(30).result(timeout=10)
    assert np.array_equal(frame.image, plain_frame(window, 30))

    for _ in range(3):  # undo the model, its choice and the effect: the badge goes at once
        window.act["undo"].trigger()
    assert "effect-swap" not in session.project.effects
    qtbot.waitUntil(lambda: view.badges == () and view.image is not None, timeout=5000)
    assert window.controller.shown_frame == 30 and window.timeline.problems == {}


def test_consent_is_checked_when_the_effect_is_placed(qtbot, window, astronaut_project,
                                                      monkeypatch):
    assert window.open_project(astronaut_project)
    session = window.session
    [media_id] = session.project.media
    wait_job(qtbot, window.analyse(media_id))
    qtbot.waitUntil(lambda: media_id in window._spans)

    window.timeline.select(("face", (media_id, 0)))
    lip_sync = next(a for a in window.effect_menu.actions() if a.text() == "Lip-sync")
    lip_sync.trigger()
    [effect] = session.project.effects.values()
    assert (effect.type, effect.media_id, effect.face_track) == ("lip_sync", media_id, 0)
    assert window.timeline.selection == ("effect", effect.id)

    # marked at once: on its bar and in the inspector, with the fix one click away
    badges = [p.badge for p in window.timeline.problems[effect.id]]
    assert badges == ["no model chosen", "no dialogue clip chosen", "no person assigned"]
    texts = [label.text() for label in window.inspector.findChildren(QLabel, "ProblemText")]
    assert any("astronaut · face 0 is not assigned to a person" in t for t in texts)
    [fix] = window.inspector.findChildren(QPushButton, "ProblemFix")
    assert fix.text() == "Assign to a person…"
    window.people.identities.ask_name = lambda *args: "Astro"
    qtbot.mouseClick(fix, Qt.MouseButton.LeftButton)
    dialog = window.people.consent_dialog
    assert dialog.isVisible() and dialog.person.currentText() == "Astro"
    assert {s for s, box in dialog.scopes.items() if box.isChecked()} == {"lipsync"}
    assert [p.badge for p in window.timeline.problems[effect.id]] == [
        "no model chosen", "no dialogue clip chosen", "no consent for lip-sync"]
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    assert [p.badge for p in window.timeline.problems[effect.id]] == [
        "no model chosen", "no dialogue clip chosen"]
    dialog.close()

    # revoked: marked again, and the export dialog lists everything before any job starts
    [record] = session.identity_named("Astro").consents
    window.run(cmd.RevokeConsent(session.identity_named("Astro").id, record.id, "2026-01-02"))
    dialogs = []

    def exec_(dialog):
        dialogs.append(dialog)
        return QDialog.DialogCode.Rejected

    monkeypatch.setattr(QDialog, "exec", exec_)
    window.act["export"].trigger()
    [export] = dialogs
    assert export.problem_texts() == [
        "Lip-sync on Astro (00:00:00:00–00:00:03:00): no model chosen; choose it in the "
        "inspector.",
        "Lip-sync on Astro (00:00:00:00–00:00:03:00): no dialogue clip chosen; choose it in "
        "the inspector.",
        "Lip-sync on Astro (00:00:00:00–00:00:03:00): Astro's consent for lip-sync was "
        "revoked on 2026-01-02."]
    assert not export.export_button.isEnabled()
    listed = export.findChild(QTextBrowser, "ExportProblems").toPlainText()
    assert "3 problems" in listed and "Astro" in listed
    assert not re.search(r"effect-|identity-|consent-|--scope|deepstudio ", listed)
    assert not [j for j in session.jobs.jobs if j.kind == "render"]

    # the one-click fix of a consent problem opens the dialog with the missing scope ticked
    [fix] = window.inspector.findChildren(QPushButton, "ProblemFix")
    assert fix.text() == "Record consent…"
    qtbot.mouseClick(fix, Qt.MouseButton.LeftButton)
    assert window.people.consent_dialog.scopes["lipsync"].isChecked()
