"""A project open in one editor is offered read-only to a second one (window or process)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from helpers import answer
from PySide6.QtWidgets import QMessageBox

from deepstudio.qt.mainwindow import MainWindow

REPO = Path(__file__).resolve().parents[2]
Button = QMessageBox.StandardButton


def _second_window(qtbot) -> MainWindow:
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    return window


def test_second_window_is_told_and_opens_read_only(qtbot, window, astronaut_project):
    assert window.open_project(astronaut_project)
    asked_again = answer(window)
    assert window.open_project(astronaut_project)  # the same window: nothing to ask
    assert asked_again == []

    second = _second_window(qtbot)
    asked = answer(second, Button.Cancel)
    assert not second.open_project(astronaut_project)
    assert asked == ["Project already open"] and second.session is None

    asked = answer(second, Button.Open)
    assert second.open_project(astronaut_project)
    assert asked == ["Project already open"]
    assert second.session.read_only
    assert "(read-only)" in second.windowTitle()
    assert second.status_saved.text().startswith("Read-only")
    assert not second.act["save"].isEnabled() and window.act["save"].isEnabled()

    # the first window keeps its lock and saves as before
    assert window.save()
    second.close()
    assert window.session.lock is not None and window.session.lock.held


def test_project_open_in_another_process_shows_the_dialog(qtbot, window, astronaut_project):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import sys, time
            from deepstudio.session import Session
            session = Session.open(sys.argv[1])
            print("holding", flush=True)
            time.sleep(600)
        """), str(astronaut_project)],
        env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        texts: list[str] = []

        def ask(title, text, buttons):
            texts.append(text)
            return Button.Cancel

        window.ask = ask
        assert not window.open_project(astronaut_project)
        assert len(texts) == 1 and f"pid {holder.pid}" in texts[0]
        assert "Open it read-only?" in texts[0] and "close it there first" in texts[0]
    finally:
        holder.kill()
        holder.wait()
    answer(window)
    assert window.open_project(astronaut_project)  # its lock died with it
    assert not window.session.read_only
