"""The faceset browser: the facesets of the project, and one faceset's faces as a thumbnail
grid with its counts (kept, rejected per filter) and the pose range it covers.

A faceset is a folder written by :mod:`deepstudio.engine.faceset` (``faceset.json`` +
``faces/*.png``); this view only reads it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from deepstudio.engine.faceset import FACESET_FILE

THUMB = 72
MAX_SHOWN = 600
"""Thumbnails shown at most (a faceset of a long clip can hold thousands of faces)."""


def faceset_folders(session) -> list[Path]:
    """Faceset folders of the project (newest first)."""
    if session is None or session.paths is None or not session.paths.facesets.is_dir():
        return []
    found = [p for p in session.paths.facesets.iterdir()
             if not p.name.startswith(".") and (p / FACESET_FILE).is_file()]
    return sorted(found, key=lambda p: (p / FACESET_FILE).stat().st_mtime, reverse=True)


def read_faceset_meta(folder: Path) -> dict[str, Any] | None:
    """The faceset's description, or None when it is missing or unreadable."""
    try:
        meta = json.loads((folder / FACESET_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _range(values: list[float] | None) -> str:
    if not values:
        return "–"
    low, high = values
    return f"{low:+.0f}° … {high:+.0f}°"


def faceset_summary(meta: dict[str, Any]) -> str:
    """Two lines: counts and rejections, then the pose range."""
    kept = len(meta.get("faces", []))
    seen = meta.get("frames_seen", kept)
    rejected = meta.get("rejected", {})
    dropped = ", ".join(f"{k} {v}" for k, v in rejected.items() if v) or "none"
    poses = meta.get("pose_range", {})
    return (f"{kept} faces kept of {seen} seen · rejected: {dropped}\n"
            f"yaw {_range(poses.get('yaw'))}   pitch {_range(poses.get('pitch'))}   "
            f"roll {_range(poses.get('roll'))}")


def _thumbnail(path: Path) -> QPixmap:
    reader = QImageReader(str(path))
    reader.setScaledSize(QSize(THUMB, THUMB))
    return QPixmap.fromImage(reader.read())


class FacesetView(QWidget):
    """Pick a faceset of the project and see its faces."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = None
        self.folder: Path | None = None
        self.picker = QComboBox()
        self.picker.setMinimumContentsLength(18)
        self.picker.currentIndexChanged.connect(
            lambda i: self.show_faceset(self._picked(i)))
        reload = QToolButton()
        reload.setText("⟳")
        reload.setAutoRaise(True)
        reload.setToolTip("Look for new facesets")
        reload.clicked.connect(self.refresh)
        self.title = QLabel("No faceset")
        self.title.setObjectName("SectionTitle")
        self.summary = QLabel("Extract one from a person's face track in the Identities pane.")
        self.summary.setObjectName("PaneHint")
        self.summary.setWordWrap(True)
        self.grid = QListWidget()
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setIconSize(QSize(THUMB, THUMB))
        self.grid.setGridSize(QSize(THUMB + 8, THUMB + 8))
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setSpacing(2)
        self.grid.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.grid.setStyleSheet("QListWidget { background: #111214; }")
        row = QHBoxLayout()
        row.addWidget(QLabel("Faceset"))
        row.addWidget(self.picker, 1)
        row.addWidget(reload)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(row)
        layout.addWidget(self.title)
        layout.addWidget(self.summary)
        layout.addWidget(self.grid, 1)

    def set_session(self, session) -> None:
        self.session = session
        self.folder = None
        self.refresh()

    def refresh(self) -> None:
        """Re-list the project's facesets, keeping the shown one."""
        keep = self.folder
        folders = faceset_folders(self.session)
        self.picker.blockSignals(True)
        self.picker.clear()
        for folder in folders:
            self.picker.addItem(folder.name, str(folder))
        self.picker.blockSignals(False)
        target = keep if keep in folders else (folders[0] if folders else None)
        if target is not None:
            self.picker.setCurrentIndex(folders.index(target))
        self.show_faceset(target)

    def show_faceset(self, folder: Path | None) -> None:
        self.folder = folder
        self.grid.clear()
        meta = read_faceset_meta(folder) if folder is not None else None
        if meta is None:
            self.title.setText("No faceset" if folder is None else f"{folder.name}: unreadable")
            self.summary.setText("Extract one from a person's face track in the Identities "
                                 "pane." if folder is None else "faceset.json is missing or "
                                 "damaged")
            return
        if self._picked(self.picker.currentIndex()) != folder:
            index = self.picker.findData(str(folder))
            if index < 0:
                self.picker.addItem(folder.name, str(folder))
                index = self.picker.count() - 1
            self.picker.blockSignals(True)
            self.picker.setCurrentIndex(index)
            self.picker.blockSignals(False)
        size = meta.get("size", "?")
        self.title.setText(f"{meta.get('identity', '?')} · {size}×{size} px")
        self.summary.setText(faceset_summary(meta))
        for entry in meta.get("faces", [])[:MAX_SHOWN]:
            item = QListWidgetItem(QIcon(_thumbnail(folder / "faces" / entry["file"])), "")
            item.setToolTip(f"frame {entry.get('frame')} · yaw {entry.get('yaw', 0):+.0f}° "
                            f"pitch {entry.get('pitch', 0):+.0f}° · sharpness "
                            f"{entry.get('sharpness', 0):.0f}")
            item.setSizeHint(QSize(THUMB + 6, THUMB + 6))
            self.grid.addItem(item)

    def _picked(self, index: int) -> Path | None:
        data = self.picker.itemData(index)
        return Path(data) if data else None

    def face_count(self) -> int:
        return self.grid.count()
