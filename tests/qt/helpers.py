"""Helpers for driving the real main window in tests."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from deepstudio.qt.mainwindow import MainWindow


def answer(window: MainWindow, *buttons: QMessageBox.StandardButton) -> list[str]:
    """Answer the window's next questions with ``buttons``; returns the questions asked."""
    asked: list[str] = []
    queue = list(buttons)

    def ask(title: str, text: str, _buttons) -> QMessageBox.StandardButton:
        asked.append(title)
        return queue.pop(0) if queue else QMessageBox.StandardButton.Discard

    window.ask = ask
    return asked


def error_texts(window: MainWindow) -> list[str]:
    return [box.text() for box in window.findChildren(QMessageBox, "ErrorBox")
            if box.isVisible()]


UI_WAIT_MS = 30_000
"""How long a test waits for the window to show what already happened (a finished job's row,
a status line): a hang guard, not a speed limit, so generous for a loaded machine where queued
signals may take seconds to arrive (pytest-qt's own default is 5 s)."""


def wait_job(qtbot, job, timeout_ms: int = 60_000) -> None:
    qtbot.waitUntil(lambda: job.finished, timeout=timeout_ms)


def video_clips(project) -> list:
    """(track, clip) of the clips on video tracks (a video's sound is a linked audio clip)."""
    return [(t, c) for t, c in project.clips() if t.kind == "video"]
