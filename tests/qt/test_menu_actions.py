"""Every action of every menu, triggered the way a click does (``triggered(checked)``), on a
window with a project open and a clip selected: none raises. File and input dialogs answer
"cancel", modal dialogs are dismissed."""

from __future__ import annotations

from pathlib import Path

from helpers import answer, video_clips
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QMenu, QMessageBox
from shiboken6 import isValid

LAST = ("&Delete", "&Close Project", "&Quit")
"""Actions that end what the others need; triggered at the end."""


def menu_actions(menu: QMenu, path: str = "") -> list[tuple[str, QAction]]:
    """(menu path, action) of every action in ``menu`` and its submenus."""
    found = []
    for action in menu.actions():
        if action.isSeparator():
            continue
        name = f"{path} ▸ {action.text()}"
        if action.menu() is not None:
            action.menu().aboutToShow.emit()  # menus filled on show (recent projects)
            found += menu_actions(action.menu(), name)
        else:
            found.append((name, action))
    return found


def dismiss_dialogs(monkeypatch) -> list[str]:
    """Make every modal dialog answer at once; returns the titles of those shown."""
    shown: list[str] = []

    def cancelled(result):
        def ask(*args, **kwargs):
            shown.append(next((a for a in args if isinstance(a, str)), "?"))
            return result
        return staticmethod(ask)

    monkeypatch.setattr(QFileDialog, "getOpenFileName", cancelled(("", "")))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", cancelled(([], "")))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", cancelled(("", "")))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", cancelled(""))
    monkeypatch.setattr(QInputDialog, "getText", cancelled(("", False)))
    monkeypatch.setattr(QInputDialog, "getItem", cancelled(("", False)))
    monkeypatch.setattr(QMessageBox, "about", cancelled(None))
    monkeypatch.setattr(QDesktopServices, "openUrl",
                        staticmethod(lambda url: shown.append(url.toLocalFile()) or True))

    def exec_(dialog):
        shown.append(dialog.windowTitle())
        return QDialog.DialogCode.Rejected

    monkeypatch.setattr(QDialog, "exec", exec_)
    return shown


def test_every_menu_action_runs(qtbot, window, astronaut_project, monkeypatch):
    shown = dismiss_dialogs(monkeypatch)
    assert window.open_project(astronaut_project)
    [(_, clip)] = video_clips(window.session.project)
    window.timeline.select(("clip", clip.id))
    actions = [a for menu in window.menuBar().actions() for a in menu_actions(menu.menu(),
                                                                              menu.text())]
    names = [name for name, _ in actions]
    assert "&Tools ▸ &Verify File…" in names and "&File ▸ &Quit" in names
    # opening a recent project rebuilds that menu; closing ends the session the rest need
    actions.sort(key=lambda item: (LAST.index(item[1].text()) + 1 if item[1].text() in LAST
                                   else 0, "Open &Recent" in item[0]))
    triggered, added = [], set()
    for name, action in actions:
        if not isValid(action) or not action.isEnabled():
            continue  # (a recent project opened rebuilds the recent menu's actions)
        answer(window)  # questions (unsaved changes) are answered "discard"
        clips = video_clips(window.session.project) if window.session else []
        if clips:
            window.timeline.select(("clip", clips[0][1].id))
        before = set(window.session.project.effects) if window.session else set()
        action.trigger()  # a slot that raises fails the test (pytest-qt captures it)
        qtbot.wait(10)
        triggered.append(name)
        if "Add &Effect" in name:
            added.update(window.session.project.effects[e].type
                         for e in set(window.session.project.effects) - before)
        if window.controller.playing:
            window.controller.pause()
    assert {"&Tools ▸ &Verify File…", "&Edit ▸ &Delete", "&File ▸ &Close Project",
            "&File ▸ &Quit", "&Help ▸ &Keyboard Shortcuts"} <= set(triggered)
    assert window.session is None and not window.isVisible()  # closed, then quit
    assert window.people.verify_dialog is not None and window.people.verify_dialog.isVisible()
    assert len(triggered) >= 40, sorted(set(names) - set(triggered))
    assert "Export" in shown
    manual = [Path(p) for p in shown if p.endswith("README.md")]
    assert manual and manual[0].is_file() and "## The editor" in manual[0].read_text()
    assert {"debug", "face_swap", "lip_sync"} <= added  # the menu's type ids arrived intact
