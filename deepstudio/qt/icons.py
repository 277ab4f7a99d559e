"""Toolbar and transport icons: small monochrome SVG glyphs rendered at any size."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

COLOUR = "#cdd1d7"
ACTIVE = "#ffffff"

_PATHS = {
    "new": '<path d="M6 3h8l5 5v13H6z" fill="none" stroke="{c}" stroke-width="1.7"/>'
           '<path d="M14 3v5h5" fill="none" stroke="{c}" stroke-width="1.7"/>',
    "open": '<path d="M3 6h6l2 2h10v11H3z" fill="none" stroke="{c}" stroke-width="1.7"/>',
    "save": '<path d="M4 4h13l3 3v13H4z" fill="none" stroke="{c}" stroke-width="1.7"/>'
            '<rect x="8" y="4" width="7" height="5" fill="{c}"/>'
            '<rect x="7" y="13" width="10" height="7" fill="none" stroke="{c}" '
            'stroke-width="1.5"/>',
    "import": '<path d="M12 3v11m-4-4 4 4 4-4" fill="none" stroke="{c}" stroke-width="1.8"/>'
              '<path d="M4 15v5h16v-5" fill="none" stroke="{c}" stroke-width="1.8"/>',
    "export": '<path d="M12 15V4m-4 4 4-4 4 4" fill="none" stroke="{c}" stroke-width="1.8"/>'
              '<path d="M4 15v5h16v-5" fill="none" stroke="{c}" stroke-width="1.8"/>',
    "undo": '<path d="M9 7 4 12l5 5" fill="none" stroke="{c}" stroke-width="1.8"/>'
            '<path d="M4 12h10a6 6 0 0 1 0 12" fill="none" stroke="{c}" stroke-width="1.8" '
            'transform="translate(0 -5)"/>',
    "redo": '<path d="m15 7 5 5-5 5" fill="none" stroke="{c}" stroke-width="1.8"/>'
            '<path d="M20 12H10a6 6 0 0 0 0 12" fill="none" stroke="{c}" stroke-width="1.8" '
            'transform="translate(0 -5)"/>',
    "analyse": '<rect x="4" y="4" width="16" height="16" rx="2" fill="none" stroke="{c}" '
               'stroke-width="1.5" stroke-dasharray="3 2"/><circle cx="12" cy="11" r="3.5" '
               'fill="none" stroke="{c}" stroke-width="1.7"/><path d="M6.5 19c1-3 3-4.5 5.5-4.5'
               's4.5 1.5 5.5 4.5" fill="none" stroke="{c}" stroke-width="1.7"/>',
    "boxes": '<rect x="4" y="5" width="16" height="14" fill="none" stroke="{c}" stroke-width="2"/>',
    "landmarks": ''.join(f'<circle cx="{x}" cy="{y}" r="1.5" fill="{{c}}"/>' for x, y in (
        (8, 8), (16, 8), (12, 12), (9, 16), (12, 17), (15, 16), (6, 12), (18, 12), (12, 5))),
    "ids": '<path d="M4 6h12l4 6-4 6H4z" fill="none" stroke="{c}" stroke-width="1.7"/>'
           '<text x="6" y="15.5" font-size="8" font-family="sans-serif" font-weight="bold" '
           'fill="{c}">#1</text>',
    "masks": '<path d="M12 3c5 0 7 4 7 8 0 5-3 10-7 10s-7-5-7-10c0-4 2-8 7-8z" fill="{c}" '
             'fill-opacity="0.45" stroke="{c}" stroke-width="1.5"/>',
    "compare": '<rect x="3" y="5" width="18" height="14" fill="none" stroke="{c}" '
               'stroke-width="1.6"/><rect x="3" y="5" width="9" height="14" fill="{c}" '
               'fill-opacity="0.5"/><path d="M12 3v18" stroke="{c}" stroke-width="1.8"/>',
    "play": '<path d="M7 4.5v15l13-7.5z" fill="{c}"/>',
    "pause": '<rect x="6" y="4.5" width="4" height="15" fill="{c}"/>'
             '<rect x="14" y="4.5" width="4" height="15" fill="{c}"/>',
    "step_back": '<path d="M17 5v14L8 12z" fill="{c}"/><rect x="5" y="5" width="2.5" '
                 'height="14" fill="{c}"/>',
    "step_forward": '<path d="M7 5v14l9-7z" fill="{c}"/><rect x="16.5" y="5" width="2.5" '
                    'height="14" fill="{c}"/>',
    "to_start": '<path d="M20 5v14l-7-7zM13 5v14l-7-7z" fill="{c}"/><rect x="3.5" y="5" '
                'width="2.2" height="14" fill="{c}"/>',
    "to_end": '<path d="M4 5v14l7-7zM11 5v14l7-7z" fill="{c}"/><rect x="18.3" y="5" '
              'width="2.2" height="14" fill="{c}"/>',
    "split": '<path d="M12 3v18" stroke="{c}" stroke-width="1.8"/><rect x="3" y="8" width="7" '
             'height="8" fill="none" stroke="{c}" stroke-width="1.5"/><rect x="14" y="8" '
             'width="7" height="8" fill="none" stroke="{c}" stroke-width="1.5"/>',
    "delete": '<path d="M5 7h14M9 7V4h6v3M7 7l1 13h8l1-13" fill="none" stroke="{c}" '
              'stroke-width="1.7"/>',
    "snap": '<path d="M6 4v8a6 6 0 0 0 12 0V4" fill="none" stroke="{c}" stroke-width="2.2"/>'
            '<path d="M4 4h4M16 4h4" stroke="{c}" stroke-width="2.2"/>',
    "zoom_in": '<circle cx="10" cy="10" r="6" fill="none" stroke="{c}" stroke-width="1.8"/>'
               '<path d="M14.5 14.5 20 20M7 10h6M10 7v6" stroke="{c}" stroke-width="1.8"/>',
    "zoom_out": '<circle cx="10" cy="10" r="6" fill="none" stroke="{c}" stroke-width="1.8"/>'
                '<path d="M14.5 14.5 20 20M7 10h6" stroke="{c}" stroke-width="1.8"/>',
    "fit": '<path d="M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5" fill="none" stroke="{c}" '
           'stroke-width="1.8"/>',
    "cancel": '<circle cx="12" cy="12" r="8.5" fill="none" stroke="{c}" stroke-width="1.7"/>'
              '<path d="M8.5 8.5l7 7M15.5 8.5l-7 7" stroke="{c}" stroke-width="1.8"/>',
    "effect": '<path d="M12 3l2.2 5.6L20 9.3l-4.5 3.8 1.4 5.9L12 15.9 7.1 19l1.4-5.9L4 9.3l5.8-.7z"'
              ' fill="none" stroke="{c}" stroke-width="1.6"/>',
}


def _render(svg: str, size: int) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    QSvgRenderer(QByteArray(svg.encode())).render(painter, QRectF(0, 0, size, size))
    painter.end()
    return pixmap


@cache
def icon(name: str) -> QIcon:
    """A named icon (see ``_PATHS``), in the theme's text colour, white when checked."""
    result = QIcon()
    for colour, state in ((COLOUR, QIcon.State.Off), (ACTIVE, QIcon.State.On)):
        svg = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">'
               + _PATHS[name].replace("{c}", colour) + "</svg>")
        for size in (16, 24, 32, 48):
            result.addPixmap(_render(svg, size), QIcon.Mode.Normal, state)
    return result
