"""Tools > Verify file…: the report of ``deepstudio verify`` for any media file.

Reading the credentials and searching the frames for the watermark takes seconds, so it runs
on a worker thread; the finished report is marshalled back through the bridge.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from deepstudio.errors import UserError
from deepstudio.qt.bridge import MainThreadBridge

VERDICT_STYLES = {
    "valid": ("#17331f", "#5cc98a"),
    "watermark": ("#3a2e12", "#f0b34a"),
    "invalid": ("#3d1a1a", "#e5645c"),
    "none": ("#25272b", "#9da1a8"),
}


def verdict_kind(report) -> str:
    """How to colour a report: credentials valid, watermark only, altered/mismatch, nothing."""
    cred = report.credentials
    if (cred.present and not cred.valid) or report.payload_matches is False:
        return "invalid"
    if cred.valid:
        return "valid"
    return "watermark" if report.synthetic else "none"


def _verify(path: Path):
    from deepstudio.engine.verify import verify_file

    return verify_file(path)


class VerifyDialog(QDialog):
    """Pick a file, verify it in the background, read the verdict and the full report."""

    def __init__(self, start_folder: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Verify File")
        self.setObjectName("VerifyDialog")
        self.setMinimumSize(680, 420)
        self.start_folder = start_folder or Path.home()
        self.bridge = MainThreadBridge(self)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deepstudio-verify")
        self.future: Future | None = None
        self.report = None
        self.path = QLineEdit()
        self.path.setPlaceholderText("A video, image or audio file")
        self.path.returnPressed.connect(self.verify_current)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.verify_button = QPushButton("Verify")
        self.verify_button.setDefault(True)
        self.verify_button.clicked.connect(self.verify_current)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        row.addWidget(self.verify_button)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setMaximumHeight(6)
        self.busy.hide()
        self.verdict = QLabel("Checks the content credentials and searches the picture for "
                              "DeepStudio's invisible watermark.")
        self.verdict.setObjectName("Verdict")
        self.verdict.setWordWrap(True)
        self._style_verdict("none")
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setPlaceholderText("The full report appears here")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = buttons.addButton("Copy report", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self.text.toPlainText()))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.busy)
        layout.addWidget(self.verdict)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.finished.connect(lambda _: self._pool.shutdown(wait=False, cancel_futures=True))

    def _style_verdict(self, kind: str) -> None:
        background, colour = VERDICT_STYLES[kind]
        weight = 400 if kind == "none" else 600
        self.verdict.setStyleSheet(
            f"QLabel#Verdict {{ background: {background}; color: {colour}; border: 1px solid "
            f"{colour}; border-radius: 4px; padding: 8px; font-weight: {weight}; }}")

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Verify File", str(self.start_folder))
        if path:
            self.path.setText(path)
            self.verify_current()

    def verify_current(self) -> None:
        if self.path.text().strip():
            self.verify(Path(self.path.text().strip()))

    def verify(self, path: Path) -> Future:
        """Start verifying ``path``; the report shows when it is done."""
        self.path.setText(str(path))
        self.report = None
        self.verify_button.setEnabled(False)
        self.copy_button.setEnabled(False)
        self.busy.show()
        self.verdict.setText(f"Verifying {path.name}…")
        self._style_verdict("none")
        self.text.clear()
        future = self._pool.submit(_verify, path)
        self.future = future
        self.bridge.on_done(future, self._done)
        return future

    def _done(self, future: Future) -> None:
        if future is not self.future:
            return  # superseded by a newer request
        self.busy.hide()
        self.verify_button.setEnabled(True)
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            message = str(error) if isinstance(error, UserError) else (
                f"{type(error).__name__}: {error}")
            self.verdict.setText(message)
            self._style_verdict("invalid")
            return
        self.report = future.result()
        self.verdict.setText(self.report.verdict)
        self._style_verdict(verdict_kind(self.report))
        self.text.setPlainText(self.report.to_text())
        self.copy_button.setEnabled(True)
