"""The Queue pane: the batch queue (renders waiting, running, done, failed) and where it runs.

The queue lives on disk (:mod:`deepstudio.farm.batch`); this pane only shows it and changes it
(priority, retry, cancel, remove), and starts ``deepstudio batch run`` as a process of its own,
so renders go on when the editor closes and a crash of either loses nothing. The pane re-reads
the queue file every second; the runner writes each item's progress there.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QProcess, Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from deepstudio.errors import UserError
from deepstudio.farm.batch import BatchItem, BatchQueue, report_text

REFRESH_MS = 1000
STATUS_TEXT = {"queued": "Queued", "running": "Running", "done": "Done", "failed": "Failed",
               "cancelled": "Cancelled"}
WHERE = (("On this computer", None), ("On a local Ray cluster", "local"),
         ("On the Ray cluster at…", "address"))


def deepstudio_command() -> list[str]:
    """How to start the ``deepstudio`` command from here (a frozen app is the command)."""
    return [sys.executable] if getattr(sys, "frozen", False) else [
        sys.executable, "-m", "deepstudio"]


class QueuePane(QWidget):
    def __init__(self, queue: BatchQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.where = QComboBox()
        self.where.setToolTip("Where the queue runs: in a process on this computer, on a Ray "
                              "cluster started here, or on a Ray cluster (needs "
                              "pip install 'deepstudio[farm]')")
        for text, value in WHERE:
            self.where.addItem(text, value)
        self.address = QLineEdit()
        self.address.setPlaceholderText("head-node:6379")
        self.address.setVisible(False)
        self.where.currentIndexChanged.connect(
            lambda: self.address.setVisible(self.where.currentData() == "address"))
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Run the queued renders (they go on if the editor closes)")
        self.start_button.clicked.connect(self.start)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Start no new render; running ones finish")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.state = QLabel()
        self.state.setObjectName("PaneHint")
        self.state.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.actions = {}
        menu = QMenu(self)
        for key, text, tip, slot in (
                ("up", "Raise Priority", "Run the selected renders earlier",
                 lambda: self._bump(1)),
                ("down", "Lower Priority", "Run the selected renders later",
                 lambda: self._bump(-1)),
                ("retry", "Retry", "Queue the selected failed or cancelled renders again",
                 self.retry),
                ("cancel", "Cancel", "Cancel the selected renders (a running one stops)",
                 self.cancel),
                ("remove", "Remove", "Remove the selected renders from the queue",
                 self.remove)):
            action = menu.addAction(text, slot)
            action.setToolTip(tip)
            self.actions[key] = action
        selected = QToolButton()
        selected.setText("Selected")
        selected.setToolTip("Change the selected renders (also on right-click)")
        selected.setMenu(menu)
        selected.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        report = QToolButton()
        report.setText("Report…")
        report.setToolTip("The summary of the queue")
        report.clicked.connect(self.show_report)
        top = QHBoxLayout()
        for widget in (self.where, self.address, self.start_button, self.pause_button,
                       selected, report):
            top.addWidget(widget)
        top.addStretch(1)

        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["#", "Render", "Priority", "Status", "Progress", "Result"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QTreeWidget.SelectionMode.ExtendedSelection)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(
            lambda pos: menu.exec(self.tree.viewport().mapToGlobal(pos)))
        header = self.tree.header()
        header.setStretchLastSection(True)
        for column in (0, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(1, 200)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(4, 90)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.state)
        self._rows: dict[int, tuple[QTreeWidgetItem, QProgressBar]] = {}
        self.items: list[BatchItem] = []
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(REFRESH_MS)
        self.refresh()

    # --- showing --------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the queue and show it (an unreadable queue is shown, never raised)."""
        try:
            self.items = self.queue.items()
            paused, runner = self.queue.paused, self.queue.runner_pid()
        except UserError as exc:
            self._say(str(exc))
            return
        for item in self.items:
            self._show(item)
        for item_id in set(self._rows) - {i.id for i in self.items}:
            row, _ = self._rows.pop(item_id)
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(row))
        waiting = sum(i.status == "queued" for i in self.items)
        running = f"running (process {runner})" if runner else "not running"
        self.state.setText(f"{'Running · ' if runner else ''}{waiting} waiting, "
                           f"{sum(i.status == 'done' for i in self.items)} "
                           f"done, {sum(i.status == 'failed' for i in self.items)} failed"
                           f"{' · paused' if paused else ''}")
        self.state.setToolTip(f"{self.queue.folder}: {running}")
        self.start_button.setEnabled(runner is None and waiting > 0)
        self.pause_button.setText("Resume" if paused else "Pause")

    def _show(self, item: BatchItem) -> None:
        if item.id not in self._rows:
            row = QTreeWidgetItem([str(item.id), item.name, "", "", "", ""])
            row.setData(0, Qt.ItemDataRole.UserRole, item.id)
            self.tree.addTopLevelItem(row)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            self.tree.setItemWidget(row, 4, bar)
            self._rows[item.id] = (row, bar)
        row, bar = self._rows[item.id]
        row.setText(2, str(item.priority))
        row.setText(3, STATUS_TEXT[item.status])
        bar.setValue(round(item.fraction * 1000))
        bar.setFormat(f"{item.fraction * 100:.0f} %")
        if item.status == "done" and item.seconds is not None:
            result = f"{item.frames} frames in {item.seconds:.1f} s · {item.output}"
        else:
            result = item.error or item.message
        row.setText(5, result)
        row.setToolTip(1, " ".join(item.argv))
        row.setToolTip(5, result)

    def _say(self, message: str) -> None:
        """A one-line problem, in full in the tooltip (the label may be narrow)."""
        self.state.setText(message)
        self.state.setToolTip(message)

    def selected_ids(self) -> list[int]:
        return [int(row.data(0, Qt.ItemDataRole.UserRole)) for row in self.tree.selectedItems()]

    def select(self, ids: list[int]) -> None:
        self.tree.clearSelection()
        for item_id in ids:
            self._rows[item_id][0].setSelected(True)

    # --- changing -------------------------------------------------------------------------

    def add(self, argv: list[str], name: str) -> BatchItem:
        item = self.queue.add(argv, name)
        self.refresh()
        return item

    def _apply(self, change) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        try:
            change(ids)
        except UserError as exc:
            self._say(str(exc))
            return
        self.refresh()

    def _bump(self, step: int) -> None:
        by_id = {i.id: i for i in self.items}
        self._apply(lambda ids: [self.queue.set_priority([i], by_id[i].priority + step)
                                 for i in ids])

    def retry(self) -> None:
        self._apply(self.queue.retry)

    def cancel(self) -> None:
        self._apply(self.queue.cancel)

    def remove(self) -> None:
        self._apply(self.queue.remove)

    def toggle_pause(self) -> None:
        self.queue.set_paused(not self.queue.paused)
        self.refresh()

    def show_report(self) -> QDialog:
        dialog = QDialog(self)
        dialog.setWindowTitle("Queue report")
        text = QPlainTextEdit(report_text(self.queue.items()))
        text.setReadOnly(True)
        text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        QVBoxLayout(dialog).addWidget(text)
        dialog.resize(720, 360)
        dialog.show()
        return dialog

    # --- running --------------------------------------------------------------------------

    def run_arguments(self) -> list[str]:
        args = ["batch", "run", "--queue", str(self.queue.folder), "-q"]
        where = self.where.currentData()
        if where == "local":
            args += ["--ray", "local"]
        elif where == "address":
            address = self.address.text().strip()
            if not address:
                raise UserError("enter the address of the Ray cluster's head node "
                                "(host:port)")
            args += ["--ray", address]
        return args

    def start(self) -> int | None:
        """Start a runner process for the queue; returns its process id."""
        try:
            command = [*deepstudio_command(), *self.run_arguments()]
        except UserError as exc:
            self._say(str(exc))
            return None
        self.queue.set_paused(False)
        started, pid = QProcess.startDetached(command[0], command[1:], str(Path.home()))
        if not started:
            self._say(f"could not start {' '.join(command)}")
            return None
        self.start_button.setEnabled(False)
        QTimer.singleShot(300, self.refresh)
        return pid
