"""``deepstudio gui`` / ``deepstudio open PROJECT``: the desktop editor.

The Qt code is loaded by name only when one of these commands runs, so the CLI itself
never depends on PySide6 (the layer contracts keep cli and qt independent).
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from deepstudio.persistence.project_store import project_folder_of

QT_APP = "deepstudio.qt.app"


def register(subparsers) -> None:
    gui = subparsers.add_parser("gui", help="open the editor (the default without a command)")
    gui.add_argument("project", type=Path, nargs="?", metavar="PROJECT",
                     help="a .dstudio project folder or the .dstudio-project file inside it "
                          "(what the desktop entry passes)")
    gui.add_argument("--open", type=Path, metavar="PROJECT", help="the same, as an option")
    gui.add_argument("--screenshot", type=Path, metavar="PNG",
                     help="render the window after loading, save it as PNG and exit")
    gui.add_argument("--seek", type=float, metavar="SECONDS",
                     help="with --screenshot: move the playhead here first")
    gui.set_defaults(run=run_gui)
    open_ = subparsers.add_parser("open", help="open a project in the editor")
    open_.add_argument("project", type=Path, help="a .dstudio project folder")
    open_.set_defaults(run=lambda args: _app().run(project_folder_of(args.project)))


def _app():
    return importlib.import_module(QT_APP)


def run_gui(args: argparse.Namespace) -> int:
    app = _app()
    given = args.open or args.project
    project = None if given is None else project_folder_of(given)
    if args.screenshot is not None:
        path = app.screenshot(args.screenshot, project, args.seek)
        print(path)
        return 0
    return app.run(project)
