"""The picture area of the preview pane: a frame fitted (or zoomed) on a dark backdrop,
with the before/after split handle that can be dragged."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from deepstudio.qt.images import qimage_from_rgb


class PreviewView(QWidget):
    split_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.zoom: float | None = None  # None: fit to the widget
        self.split: float | None = None  # position of the split line, None: no split
        self.message = "No project open"
        self._dragging = False
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def sizeHint(self) -> QSize:
        return QSize(960, 540)

    def show_frame(self, frame: np.ndarray) -> None:
        self.image = qimage_from_rgb(frame)
        self.message = ""
        self.update()

    def show_message(self, message: str) -> None:
        self.image = None
        self.message = message
        self.update()

    def set_zoom(self, zoom: float | None) -> None:
        self.zoom = zoom
        self.update()

    def set_split(self, split: float | None) -> None:
        self.split = split
        self.update()

    def image_rect(self) -> QRectF:
        if self.image is None:
            return QRectF()
        w, h = self.image.width(), self.image.height()
        scale = self.zoom or min(self.width() / w, self.height() / h)
        rect = QRectF(0, 0, w * scale, h * scale)
        rect.moveCenter(QRectF(self.rect()).center())
        return rect

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        try:
            self._paint(p)
        finally:
            p.end()

    def _paint(self, p: QPainter) -> None:
        p.fillRect(self.rect(), QColor("#0c0c0e"))
        if self.image is None:
            p.setPen(QColor("#5d6066"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.message)
            return
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        rect = self.image_rect()
        p.drawImage(rect, self.image)
        if self.split is not None:
            x = rect.left() + self.split * rect.width()
            p.setPen(QPen(QColor("#ffffff"), 2))
            p.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
            p.setBrush(QColor("#ffffff"))
            p.drawEllipse(QPointF(x, rect.center().y()), 7, 7)
            p.setPen(QColor("#e8eaee"))
            for text, left in (("BEFORE", True), ("AFTER", False)):
                box = QRectF(x - 78 if left else x + 8, rect.top() + 8, 70, 20)
                p.fillRect(box, QColor(0, 0, 0, 150))
                p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def _split_at(self, x: float) -> float:
        rect = self.image_rect()
        return min(1.0, max(0.0, (x - rect.left()) / max(1.0, rect.width())))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.split is not None and self.image is not None:
            self._dragging = True
            self.split = self._split_at(event.position().x())
            self.split_changed.emit(self.split)
            self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._dragging:
            self.split = self._split_at(event.position().x())
            self.split_changed.emit(self.split)
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._dragging = False
