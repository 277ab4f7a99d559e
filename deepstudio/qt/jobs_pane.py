"""The jobs pane: every background job with its progress bar, ETA, cancel button and log.

Job updates arrive on worker threads; the window forwards them here through the bridge, so
:meth:`JobsPane.update_job` always runs on the main thread.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHeaderView,
    QPlainTextEdit,
    QProgressBar,
    QSplitter,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from deepstudio.qt.icons import icon

STATUS_TEXT = {"queued": "Queued", "running": "Running", "done": "Done", "failed": "Failed",
               "cancelled": "Cancelled", "interrupted": "Interrupted"}


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}:{secs:02d} left" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


class JobsPane(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(5)
        self.tree.setHeaderLabels(["Job", "Status", "Progress", "ETA", ""])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(2, 110)
        for column in (1, 3, 4):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setPlaceholderText("Job messages appear here")
        self.log.setMaximumBlockCount(2000)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.tree)
        splitter.addWidget(self.log)
        splitter.setSizes([160, 70])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self._rows: dict[str, tuple[QTreeWidgetItem, QProgressBar, QToolButton]] = {}
        self._logged: dict[str, tuple[str, int]] = {}

    def clear(self) -> None:
        self.tree.clear()
        self._rows.clear()
        self._logged.clear()

    def update_job(self, job) -> None:
        row = self._rows.get(job.id)
        if row is None:
            item = QTreeWidgetItem([job.title, "", "", "", ""])
            self.tree.insertTopLevelItem(0, item)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            cancel = QToolButton()
            cancel.setIcon(icon("cancel"))
            cancel.setAutoRaise(True)
            cancel.setToolTip("Cancel this job")
            cancel.setObjectName(f"cancel-{job.id}")
            cancel.clicked.connect(job.cancel)
            self.tree.setItemWidget(item, 2, bar)
            self.tree.setItemWidget(item, 4, cancel)
            row = self._rows[job.id] = (item, bar, cancel)
        item, bar, cancel = row
        status = STATUS_TEXT.get(job.status, job.status)
        item.setText(1, status)
        item.setToolTip(0, job.error or job.message or job.title)
        bar.setValue(round(job.fraction * 1000))
        bar.setFormat(f"{job.fraction * 100:.0f} %")
        item.setText(3, format_eta(job.eta_s) if job.status == "running" else "")
        cancel.setEnabled(not job.finished and not job.cancel_requested)
        self._log(job, status)

    def _log(self, job, status: str) -> None:
        """Append status changes, new messages and log lines (not every progress tick)."""
        last_status, lines = self._logged.get(job.id, ("", 0))
        if status != last_status:
            self.log.appendPlainText(f"[{job.title}] {status}"
                                     + (f": {job.error}" if job.error else ""))
        for line in job.log[lines:]:
            if line != job.error:
                self.log.appendPlainText(f"[{job.title}] {line.rstrip()}")
        self._logged[job.id] = (status, len(job.log))

    def row_of(self, job_id: str) -> tuple[QTreeWidgetItem, QProgressBar, QToolButton]:
        return self._rows[job_id]
