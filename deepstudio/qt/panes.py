"""The preview pane (picture + transport bar) and the timeline pane (toolbar + timeline +
scroll bar), assembled from their widgets."""

from __future__ import annotations

from fractions import Fraction

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QScrollBar,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from deepstudio.core.timecode import format_timecode
from deepstudio.qt.icons import icon
from deepstudio.qt.media_cache import MediaCache
from deepstudio.qt.playback import PreviewController
from deepstudio.qt.preview_view import PreviewView
from deepstudio.qt.timeline import HEADER_W, TimelineView

ZOOMS = (("Fit", None), ("25 %", 0.25), ("50 %", 0.5), ("100 %", 1.0), ("200 %", 2.0))
COMPARES = (("With effects", "after"), ("Without effects", "before"),
            ("Split wipe", "split"))


def tool_button(action_or_icon, tooltip: str = "") -> QToolButton:
    button = QToolButton()
    button.setAutoRaise(True)
    if isinstance(action_or_icon, str):
        button.setIcon(icon(action_or_icon))
        button.setToolTip(tooltip)
    else:
        button.setDefaultAction(action_or_icon)
    return button


class PreviewPane(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = PreviewView()
        self.controller = PreviewController(self.view, self)
        self.timecode = QLabel(format_timecode(0, Fraction(25)))
        self.timecode.setObjectName("TimecodeLabel")
        self.timecode.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.duration = QLabel("/ 00:00:00:00")
        self.duration.setObjectName("PaneHint")
        self.zoom = QComboBox()
        self.zoom.setToolTip("Zoom of the picture")
        for text, value in ZOOMS:
            self.zoom.addItem(text, value)
        self.zoom.currentIndexChanged.connect(lambda i: self.view.set_zoom(self.zoom.itemData(i)))
        self.compare = QComboBox()
        self.compare.setToolTip("Compare the picture with and without its effects (\\)")
        for text, value in COMPARES:
            self.compare.addItem(text, value)
        self.compare.currentIndexChanged.connect(
            lambda i: self.controller.set_compare(self.compare.itemData(i)))
        self.transport = QHBoxLayout()
        self.transport.setContentsMargins(8, 4, 8, 6)
        self.transport.setSpacing(2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.view, 1)
        bar = QWidget()
        bar.setObjectName("TransportBar")
        bar.setStyleSheet("#TransportBar { background: #202226; border-top: 1px solid #111214; }")
        bar.setLayout(self.transport)
        layout.addWidget(bar)
        self.controller.playhead_changed.connect(self.show_position)

    def add_transport(self, actions: list, play_action) -> None:
        """Lay out the transport bar around the window's actions (so shortcuts are shared)."""
        self.transport.addWidget(self.timecode)
        self.transport.addWidget(self.duration)
        self.transport.addStretch(1)
        for action in actions:
            button = tool_button(action)
            if action is play_action:
                button.setIconSize(button.iconSize() * 1.4)
            self.transport.addWidget(button)
        self.transport.addStretch(1)
        self.transport.addWidget(self.compare)
        self.transport.addSpacing(4)
        self.transport.addWidget(self.zoom)

    def polish_timecode(self) -> None:
        """Size the timecode field for the widest timecode in its font (never clipped)."""
        self.timecode.ensurePolished()
        metrics = self.timecode.fontMetrics()
        margins = self.timecode.contentsMargins()
        self.timecode.setFixedWidth(metrics.horizontalAdvance("00:00:00:00") + 22
                                    + margins.left() + margins.right())

    def showEvent(self, event) -> None:
        self.polish_timecode()
        super().showEvent(event)

    def show_position(self, frame: int | None = None) -> None:
        controller = self.controller
        fps = controller.fps
        self.timecode.setText(format_timecode(controller.playhead if frame is None else frame,
                                              fps))
        total = controller.session.project.duration_frames() if controller.session else 0
        self.duration.setText(f"/ {format_timecode(total, fps)}")


class TimelinePane(QWidget):
    def __init__(self, cache: MediaCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = TimelineView(cache)
        self.scroll = QScrollBar(Qt.Orientation.Horizontal)
        self.scroll.valueChanged.connect(self._scrolled)
        self.toolbar = QHBoxLayout()
        self.toolbar.setContentsMargins(6, 3, 6, 3)
        self.toolbar.setSpacing(2)
        bar = QWidget()
        bar.setObjectName("TimelineBar")
        bar.setStyleSheet("#TimelineBar { background: #202226; border-bottom: 1px solid #111214; }")
        bar.setLayout(self.toolbar)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(bar)
        # Lanes scroll vertically when there are more than fit; time scrolls with the bar below
        self.lanes = QScrollArea()
        self.lanes.setWidgetResizable(True)
        self.lanes.setFrameShape(QFrame.Shape.NoFrame)
        self.lanes.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.lanes.setWidget(self.view)
        layout.addWidget(self.lanes, 1)
        layout.addWidget(self.scroll)
        self._syncing = False

    def add_tools(self, actions: list) -> None:
        for action in actions:
            if action is None:
                self.toolbar.addSpacing(12)
            else:
                button = tool_button(action)
                if action.menu() is not None:  # a menu (Add Effect): show its name
                    button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
                    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
                self.toolbar.addWidget(button)
        self.toolbar.addStretch(1)

    def sync_scrollbar(self) -> None:
        """Fit the scroll bar to the timeline length and the visible span."""
        view = self.view
        project = view.project
        visible = max(1, int((view.width() - HEADER_W) / view.pixels_per_frame))
        length = max(project.duration_frames() if project else 0, view.playhead) + visible // 2
        self._syncing = True
        self.scroll.setRange(0, max(0, length - visible // 2))
        self.scroll.setPageStep(visible)
        self.scroll.setValue(int(view.scroll_frames))
        self._syncing = False

    def _scrolled(self, value: int) -> None:
        if not self._syncing:
            self.view.scroll_frames = float(value)
