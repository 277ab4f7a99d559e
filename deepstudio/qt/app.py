"""Starting the desktop editor: the application object, theme, window, and the headless
screenshot mode used for docs and checks."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop, QSize, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from deepstudio.qt.mainwindow import MainWindow
from deepstudio.qt.theme import apply_dark_theme
from deepstudio.resources import APP_ID, resource

SETTLE_TIMEOUT_S = 20.0
SCREENSHOT_SIZE = QSize(1600, 960)


def application() -> QApplication:
    app = QApplication.instance()
    if app is None:
        # QtMultimedia reports every missing optional codec library; people need none of it
        os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia*=false")
        app = QApplication(sys.argv[:1])
        app.setApplicationName("DeepStudio")
        app.setOrganizationName("DeepStudio")
        app.setDesktopFileName(APP_ID)  # Wayland matches windows to the desktop entry by it
        app.setWindowIcon(QIcon(str(resource(f"icons/hicolor/scalable/apps/{APP_ID}.svg"))))
        apply_dark_theme(app)
    return app  # type: ignore[return-value]


def process_until(condition, timeout_s: float) -> bool:
    """Run the event loop until ``condition()`` is true or the timeout passes."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.005)
    return True


def open_window(project: str | Path | None = None, interactive: bool = True) -> MainWindow:
    """The main window, shown, with ``project`` opened when given. Not ``interactive``: no
    question is asked (an autosave is then neither recovered nor discarded)."""
    application()
    window = MainWindow()
    if not interactive:
        window.ask = lambda *args: QMessageBox.StandardButton.NoButton
    window.show()
    if project is not None:
        window.open_project(project)
    return window


def settle(window: MainWindow, seek: float | None = None) -> None:
    """Seek (seconds) and wait until the preview shows that frame and thumbnails are in."""
    controller = window.controller
    if window.session is not None:
        frame = round(seek * float(controller.fps)) if seek is not None else 0
        controller.seek(frame)
        process_until(lambda: controller.shown_frame == controller.playhead, SETTLE_TIMEOUT_S)
        process_until(lambda: False, 0.1)  # first paints ask for thumbnails and waveforms
        process_until(window.cache.idle, SETTLE_TIMEOUT_S)
    process_until(lambda: False, 0.3)  # let layouts and repaints finish


def screenshot(png: str | Path, project: str | Path | None = None,
               seek: float | None = None) -> Path:
    """Render the window after loading and save it as ``png``."""
    window = open_window(project, interactive=False)
    window.resize(SCREENSHOT_SIZE)  # the same picture whatever screen (or none) is there
    window.timeline.zoom_to_fit()
    settle(window, seek)
    window._fit_timeline()
    process_until(lambda: False, 0.2)
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(png)):
        raise OSError(f"{png}: cannot write the screenshot")
    window.close()
    return png


def run(project: str | Path | None = None) -> int:
    """Open the editor and run until the window closes; the process exit code."""
    app = application()
    window = open_window()
    if project is not None:
        QTimer.singleShot(0, lambda: window.open_project(project))
    return app.exec()
