"""The picture area of the preview pane: a frame fitted (or zoomed) on a dark backdrop,
with the before/after split handle that can be dragged, and badges naming effects that could
not be applied to the frame shown."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

BADGE_BACKGROUND = QColor(176, 48, 40, 225)


class PreviewView(QWidget):
    split_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.frame_size: tuple[int, int] = (0, 0)
        """(width, height) of the frame ``image`` shows (the image may be scaled already)."""
        self._box = (960, 540, 1.0)
        """Widget width, height and device pixel ratio, kept for other threads to read."""
        self.zoom: float | None = None  # None: fit to the widget
        self.split: float | None = None  # position of the split line, None: no split
        self.message = "No project open"
        self.badges: tuple[str, ...] = ()
        """Effects left out of the frame shown, and why ("Lip-sync on Anna: no model…")."""
        self._dragging = False
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def sizeHint(self) -> QSize:
        return QSize(960, 540)

    def show_frame(self, frame: np.ndarray, badges: tuple[str, ...] = ()) -> None:
        self.show_image(self.display_image(frame), (frame.shape[1], frame.shape[0]), badges)

    def show_image(self, image: QImage, frame_size: tuple[int, int],
                   badges: tuple[str, ...] = ()) -> None:
        """Show an image made by :meth:`display_image` from a frame of ``frame_size``."""
        self.image = image
        self.frame_size = frame_size
        self.badges = badges
        self.message = ""
        self.update()

    def display_image(self, frame: np.ndarray) -> QImage:
        """The RGB frame as this view draws it; safe to call from any thread.

        When fitting, the frame is scaled here (OpenCV) to the size it is drawn at, in Qt's
        native 32-bit format, so painting is a plain copy: scaling a 720p frame in paintEvent
        took ~12 ms of the interface thread for every frame shown.
        """
        import cv2

        h, w = frame.shape[:2]
        width, height, ratio = self._box
        if self.zoom is None:
            scale = min(width / w, height / h) * ratio
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            if size != (w, h):
                # Bilinear down to half size (4x faster than INTER_AREA at a fractional
                # ratio, and as sharp); area averaging below that, where bilinear aliases.
                frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA if scale < 0.5
                                   else cv2.INTER_LINEAR)
        bgrx = cv2.cvtColor(frame, cv2.COLOR_RGB2BGRA)  # byte order of Format_RGB32
        image = QImage(bgrx.data, bgrx.shape[1], bgrx.shape[0], bgrx.strides[0],
                       QImage.Format.Format_RGB32).copy()  # owns its pixels once bgrx is gone
        image.setDevicePixelRatio(ratio if self.zoom is None else 1.0)
        return image

    def resizeEvent(self, event) -> None:
        self._box = (self.width(), self.height(), self.devicePixelRatioF())
        super().resizeEvent(event)

    def show_message(self, message: str) -> None:
        self.image = None
        self.badges = ()
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
        w, h = self.frame_size
        scale = self.zoom or min(self.width() / w, self.height() / h)
        rect = QRectF(0, 0, w * scale, h * scale)
        rect.moveCenter(QRectF(self.rect()).center())
        # Whole pixels: an image made to this size is then copied, not resampled.
        rect.moveTopLeft(QPointF(round(rect.left()), round(rect.top())))
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
        rect = self.image_rect()
        image = self.image
        ratio = image.devicePixelRatio()
        if (round(rect.width() * ratio), round(rect.height() * ratio)) == (image.width(),
                                                                            image.height()):
            p.drawImage(rect.topLeft(), image)  # made for this size: a plain copy
        else:  # zoomed, or resized since the image was made
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            p.drawImage(rect, image)
        self._paint_badges(p, rect)
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

    def _paint_badges(self, p: QPainter, rect: QRectF) -> None:
        """One warning line per effect left out, at the top left of the picture."""
        metrics = p.fontMetrics()
        top = max(rect.top(), 0.0) + 8
        for badge in self.badges:
            text = metrics.elidedText(f"⚠  {badge}", Qt.TextElideMode.ElideRight,
                                      int(max(40.0, min(rect.width(), self.width()) - 40)))
            box = QRectF(max(rect.left(), 0.0) + 8, top, metrics.horizontalAdvance(text) + 16,
                         metrics.height() + 8)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(BADGE_BACKGROUND)
            p.drawRoundedRect(box, 4, 4)
            p.setPen(QColor("#ffffff"))
            p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
            top += box.height() + 4

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
