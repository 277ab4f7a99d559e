"""Toolbar and transport icons: small monochrome SVG glyphs (``resources/icons/actions``)
rendered at any size in the theme's colours."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from deepstudio.resources import resource

COLOUR = "#cdd1d7"
ACTIVE = "#ffffff"


def _render(svg: str, size: int) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    QSvgRenderer(QByteArray(svg.encode())).render(painter, QRectF(0, 0, size, size))
    painter.end()
    return pixmap


@cache
def icon(name: str) -> QIcon:
    """The glyph ``resources/icons/actions/NAME.svg`` in the theme's text colour, white when
    checked (the files draw in ``currentColor``)."""
    glyph = resource(f"icons/actions/{name}.svg").read_text("utf-8")
    result = QIcon()
    for colour, state in ((COLOUR, QIcon.State.Off), (ACTIVE, QIcon.State.On)):
        svg = glyph.replace("currentColor", colour)
        for size in (16, 24, 32, 48):
            result.addPixmap(_render(svg, size), QIcon.Mode.Normal, state)
    return result
