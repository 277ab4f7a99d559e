"""The dark theme: Fusion style, a dark palette and the stylesheet resources/theme/dark.qss."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from deepstudio.resources import resource

ACCENT = QColor("#3d8ee6")
VIDEO_CLIP = QColor("#37608f")
AUDIO_CLIP = QColor("#2f6b4f")
EFFECT = QColor("#7a4fb8")
PLAYHEAD = QColor("#ff4f4f")
FACE_COLOURS = [QColor(c) for c in ("#ffc400", "#00c8ff", "#ff4081", "#76ff03", "#d500f9",
                                    "#ff9100", "#1de9b6", "#ffea00")]
"""The engine's overlay colours per face track (engine/overlays.py), so lanes match boxes."""


def face_colour(track_id: int) -> QColor:
    """The colour of one face track, the same in the timeline lane and the inspector."""
    return FACE_COLOURS[track_id % len(FACE_COLOURS)]


def stylesheet() -> str:
    return resource("theme/dark.qss").read_text("utf-8")


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#1c1d20", QPalette.ColorRole.WindowText: "#d6d8dc",
        QPalette.ColorRole.Base: "#15161a", QPalette.ColorRole.AlternateBase: "#1f2024",
        QPalette.ColorRole.ToolTipBase: "#2a2c30", QPalette.ColorRole.ToolTipText: "#e2e4e8",
        QPalette.ColorRole.Text: "#e2e4e8", QPalette.ColorRole.Button: "#2d3035",
        QPalette.ColorRole.ButtonText: "#e2e4e8", QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: "#2b5f99", QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#5aa6ff", QPalette.ColorRole.PlaceholderText: "#6b6e74",
    }
    for role, colour in roles.items():
        p.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText,
                 QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b6e74"))
    app.setPalette(p)
    app.setStyleSheet(stylesheet())
