"""Tools > Verify file on a file the session rendered (with the optional visible label chosen
in the export dialog) and on a third-party clip; the verification runs off the UI thread."""

from __future__ import annotations

from dataclasses import replace

from helpers import wait_job

from deepstudio.media.encode import EncodeSettings
from deepstudio.qt.export_dialog import ExportDialog


def test_export_label_then_verify_rendered_and_foreign_files(qtbot, window, tmp_path, testdata,
                                                            astronaut_project):
    window.open_project(astronaut_project)
    dialog = ExportDialog(tmp_path / "out.mp4", 75, (0, 20), window)
    disclosure = dialog.findChild(type(window.status_jobs), "Disclosure").text()
    assert "Content Credentials" in disclosure and "watermark" in disclosure
    assert dialog.render_request()[1].label is None  # the visible label is opt-in
    dialog.label_box.setChecked(True)
    dialog.label_text.setText("Synthetic")
    dialog.label_corner.setCurrentIndex(dialog.label_corner.findData("top-left"))
    output, settings = dialog.render_request()
    assert (settings.label.text, settings.label.corner) == ("Synthetic", "top-left")

    settings = replace(settings, encode=EncodeSettings(preset="ultrafast"))
    job = window.start_render(output, settings)
    wait_job(qtbot, job)
    assert job.status == "done", job.error

    verify = window.people.verify_file()
    assert verify.isVisible()
    future = verify.verify(output)
    assert not verify.verify_button.isEnabled()  # busy, yet the event loop keeps running
    qtbot.waitUntil(lambda: verify.report is not None, timeout=60_000)
    assert future.done()
    report = verify.report
    assert report.credentials.valid and report.watermark.detected
    assert verify.verdict.text() == report.verdict and "SYNTHETIC" in report.verdict
    assert verify.text.toPlainText() == report.to_text()
    assert "watermark:    found" in verify.text.toPlainText()
    assert verify.copy_button.isEnabled() and verify.verify_button.isEnabled()

    verify.verify(testdata / "swap_a.mp4")
    qtbot.waitUntil(lambda: verify.report is not None, timeout=60_000)
    assert verify.report.verdict == "no DeepStudio disclosure found"
    assert "credentials:  none" in verify.text.toPlainText()

    verify.verify(tmp_path / "missing.mp4")
    qtbot.waitUntil(lambda: verify.verify_button.isEnabled(), timeout=10_000)
    assert verify.report is None and "missing.mp4" in verify.verdict.text()
    verify.close()
