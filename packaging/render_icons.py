"""Render the scalable icons in ``resources/icons/hicolor/scalable`` to the fixed-size PNGs
beside them (16 … 512 px, the sizes desktops and installers ask for) and to the Windows
``.ico`` and macOS ``.icns`` files the PyInstaller spec uses.

The PNGs are committed (so that an install needs no renderer); run this after changing an
SVG: ``QT_QPA_PLATFORM=offscreen python packaging/render_icons.py``. With ``--platform-icons
DIR`` it writes only the ``.ico``/``.icns`` into DIR (the build does that; they are not
committed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ROOT = Path(__file__).resolve().parents[1]
HICOLOR = ROOT / "resources" / "icons" / "hicolor"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
APP_ICON = "apps/org.deepstudio.DeepStudio"
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512)


def render(svg: Path, size: int, png: Path) -> None:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    QSvgRenderer(str(svg)).render(painter, QRectF(0, 0, size, size))
    painter.end()
    png.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(png)):
        raise OSError(f"{png}: cannot write")


def render_hicolor() -> None:
    for svg in sorted((HICOLOR / "scalable").glob("*/*.svg")):
        context = svg.parent.name
        for size in SIZES:
            render(svg, size, HICOLOR / f"{size}x{size}" / context / f"{svg.stem}.png")


def platform_icons(out: Path) -> None:
    """``DeepStudio.ico`` (Windows) and ``DeepStudio.icns`` (macOS) from the committed PNGs."""
    out.mkdir(parents=True, exist_ok=True)
    largest = Image.open(HICOLOR / "512x512" / f"{APP_ICON}.png")
    largest.save(out / "DeepStudio.ico", sizes=[(s, s) for s in ICO_SIZES])
    largest.save(out / "DeepStudio.icns", sizes=[(s, s) for s in ICNS_SIZES])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform-icons", type=Path, metavar="DIR",
                        help="write only DeepStudio.ico and DeepStudio.icns into DIR")
    args = parser.parse_args()
    if args.platform_icons:
        platform_icons(args.platform_icons)
        return 0
    QGuiApplication(sys.argv[:1])
    render_hicolor()
    return 0


if __name__ == "__main__":
    sys.exit(main())
