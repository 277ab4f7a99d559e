"""The Queue pane: Export ▸ Add to Queue, a runner process started from the pane, per-item
state, retry, cancel, remove and the report, all on the queue file the CLI shares."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import QDialogButtonBox, QMessageBox, QPlainTextEdit

from deepstudio.core.commands import SetClipGain
from deepstudio.farm.batch import BatchQueue
from deepstudio.media.encode import EncodeSettings
from deepstudio.media.probe import probe
from deepstudio.qt.export_dialog import ExportDialog


def _status(pane, item_id: int) -> str:
    pane.refresh()
    return pane._rows[item_id][0].text(3)


def test_queue_a_project_render_run_it_and_manage_items(qtbot, window, tmp_path,
                                                        astronaut_project):
    from helpers import answer

    window.open_project(astronaut_project)
    pane = window.queue_pane
    dialog = ExportDialog(tmp_path / "queued.mp4", 75, (10, 40), window)
    queue_button = next(b for b in dialog.findChildren(type(dialog.findChild(
        QDialogButtonBox).buttons()[0])) if b.text() == "Add to Queue")
    queue_button.click()
    assert dialog.to_queue and dialog.result() == dialog.DialogCode.Accepted
    output, settings = dialog.render_request()
    settings = replace(settings, encode=EncodeSettings(preset="ultrafast"))

    clip = window.session.project.clips()[0][1]
    assert window.run(SetClipGain(clip.id, -1.0))  # unsaved: the queue renders what is saved
    asked = answer(window, QMessageBox.StandardButton.Cancel)
    assert window.queue_render(output, settings) is None and asked == ["Save before queueing?"]
    answer(window, QMessageBox.StandardButton.Save)
    item = window.queue_render(output, settings)
    assert not window.session.dirty and item.argv[:2] == ["render",
                                                          str(window.session.folder)]
    failing = pane.add(["render", str(tmp_path / "missing.mp4"), "-o",
                        str(tmp_path / "x.mp4")], "a missing clip")
    assert _status(pane, item.id) == "Queued" and pane.start_button.isEnabled()

    assert pane.start() is not None  # a runner process of its own
    qtbot.waitUntil(lambda: _status(pane, failing.id) == "Failed"
                    and _status(pane, item.id) == "Done", timeout=180_000)
    qtbot.waitUntil(lambda: pane.queue.runner_pid() is None, timeout=30_000)
    info = probe(output)
    assert info.frame_count == 30 and info.has_audio
    assert "missing.mp4" in pane._rows[failing.id][0].text(5)
    assert "30 frames" in pane._rows[item.id][0].text(5)

    pane.select([failing.id])
    pane.actions["up"].trigger()
    pane.actions["retry"].trigger()
    assert _status(pane, failing.id) == "Queued" and pane.items[-1].priority == 1
    pane.actions["cancel"].trigger()
    assert _status(pane, failing.id) == "Cancelled"
    report = pane.show_report()
    assert "2 items: 1 done, 1 cancelled" in report.findChild(QPlainTextEdit).toPlainText()
    report.close()
    pane.actions["remove"].trigger()
    pane.refresh()
    assert list(pane._rows) == [item.id]
    assert [i.id for i in BatchQueue(pane.queue.folder).items()] == [item.id]  # on disk


def test_an_unreadable_queue_is_shown_not_raised(qtbot, tmp_path):
    from deepstudio.qt.queue_pane import QueuePane

    folder = tmp_path / "q.dsbatch"
    folder.mkdir()
    (folder / "queue.json").write_text("{broken")
    pane = QueuePane(BatchQueue(folder))
    qtbot.addWidget(pane)
    assert "is not a readable batch queue" in pane.state.toolTip()
    pane.where.setCurrentIndex(2)  # a cluster, but no address given
    assert pane.start() is None and "address of the Ray cluster" in pane.state.toolTip()
