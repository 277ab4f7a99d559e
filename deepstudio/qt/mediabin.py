"""The media bin: imported files with thumbnail, duration, size, rate and analysis state.

Files come in through the import dialog or by dropping them on the bin; items are dragged
onto the timeline (as a media id in :data:`~deepstudio.qt.timeline.MEDIA_MIME`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem

from deepstudio.core.project import MediaItem
from deepstudio.qt.media_cache import MediaCache
from deepstudio.qt.timeline import MEDIA_MIME

ICON_SIZE = QSize(48, 27)
COLUMNS = ("Name", "Duration", "Format", "Faces", "Proxy")
"""Narrow enough that the analysis and proxy states show in the bin of a 1366-px screen."""
FORMAT_COLUMN, FACES_COLUMN, PROXY_COLUMN = 2, 3, 4
NAME_WIDTH = 130


def describe_duration(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)}:{secs:05.2f}"


def _icon(image: QImage | None, audio_only: bool) -> QIcon:
    pixmap = QPixmap(ICON_SIZE)
    pixmap.fill(QColor("#101113"))
    p = QPainter(pixmap)
    if image is not None:
        scaled = image.scaled(ICON_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                              Qt.TransformationMode.SmoothTransformation)
        p.drawImage((ICON_SIZE.width() - scaled.width()) // 2,
                    (ICON_SIZE.height() - scaled.height()) // 2, scaled)
    else:
        p.setPen(QColor("#8fd6ae" if audio_only else "#5d6066"))
        p.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, "♪" if audio_only else "…")
    p.end()
    return QIcon(pixmap)


class MediaBin(QTreeWidget):
    files_dropped = Signal(list)
    media_activated = Signal(str)

    def __init__(self, cache: MediaCache, parent=None) -> None:
        super().__init__(parent)
        self.cache = cache
        self.session = None
        self.analysis_state: dict[str, str] = {}
        self.proxy_state: dict[str, str] = {}
        self.setColumnCount(len(COLUMNS))
        self.setHeaderLabels(COLUMNS)
        self.setRootIsDecorated(False)
        self.setIconSize(ICON_SIZE)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setUniformRowHeights(True)
        header = self.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, NAME_WIDTH)  # the name stays readable; the list scrolls
        for column in range(1, len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        cache.updated.connect(self._update_icon)
        self.itemDoubleClicked.connect(
            lambda item, _c: self.media_activated.emit(item.data(0, Qt.ItemDataRole.UserRole)))

    def set_session(self, session) -> None:
        self.session = session
        self.analysis_state.clear()
        self.proxy_state.clear()
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the rows from the project's media (cheap: a bin holds tens of files)."""
        selected = set(self.selected_media())
        self.clear()
        if self.session is None:
            return
        for item in self.session.project.media.values():
            row = QTreeWidgetItem(self, self._texts(item))
            row.setData(0, Qt.ItemDataRole.UserRole, item.id)
            row.setToolTip(0, str(self.session.media_path(item.id)))
            if item.has_video:
                row.setToolTip(FORMAT_COLUMN, f"{item.width}×{item.height} pixels, "
                                              f"{float(item.fps):.5g} frames per second")
            row.setIcon(0, _icon(self.cache.thumbnail(item.id), not item.has_video))
            # states read from the left, so they show when the bin is narrower than its rows
            row.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            row.setSelected(item.id in selected)

    def _texts(self, item: MediaItem) -> list[str]:
        video = item.has_video
        return [Path(item.path).name, describe_duration(item.duration_s),
                # 29.97 and 30 (23.976 and 24) are different rates: never round one to the other
                f"{item.width}×{item.height} · {float(item.fps):.5g}" if video else "audio",
                self.analysis_state.get(item.id, "—" if video else ""),
                self.proxy_state.get(item.id, "—" if video else "")]

    def set_analysis_state(self, media_id: str, text: str) -> None:
        self.analysis_state[media_id] = text
        self._set_text(media_id, FACES_COLUMN, text)

    def set_proxy_state(self, media_id: str, text: str) -> None:
        """What the Proxy column says: "yes", "making 40%", "not needed", a failure..."""
        self.proxy_state[media_id] = text
        self._set_text(media_id, PROXY_COLUMN, text)

    def _set_text(self, media_id: str, column: int, text: str) -> None:
        for i in range(self.topLevelItemCount()):
            row = self.topLevelItem(i)
            if row.data(0, Qt.ItemDataRole.UserRole) == media_id:
                row.setText(column, text)

    def _update_icon(self, media_id: str) -> None:
        for i in range(self.topLevelItemCount()):
            row = self.topLevelItem(i)
            if row.data(0, Qt.ItemDataRole.UserRole) == media_id and self.session:
                item = self.session.project.media.get(media_id)
                if item is not None:
                    row.setIcon(0, _icon(self.cache.thumbnail(media_id), not item.has_video))

    def selected_media(self) -> list[str]:
        return [row.data(0, Qt.ItemDataRole.UserRole) for row in self.selectedItems()]

    # --- drag out (to the timeline) and drop in (files) ------------------------------------

    def mimeTypes(self) -> list[str]:
        return [MEDIA_MIME, "text/uri-list"]

    def mimeData(self, items: list[QTreeWidgetItem]) -> QMimeData:
        data = QMimeData()
        if items:
            data.setData(MEDIA_MIME, items[0].data(0, Qt.ItemDataRole.UserRole).encode())
        return data

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.files_dropped.emit(paths)
            event.acceptProposedAction()
