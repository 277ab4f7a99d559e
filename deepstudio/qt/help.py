"""Help: the keyboard shortcuts of every menu action as a searchable list, and where the
user's manual (the README) is."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QHeaderView,
    QLineEdit,
    QMenu,
    QMenuBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from deepstudio.persistence.settings import user_cache_dir

PACKAGE_README = Path(__file__).resolve().parents[2] / "README.md"
"""The manual beside the package (a source checkout or an editable install)."""


def manual_path() -> Path | None:
    """The README to open: the one beside the package, else the copy an installed package
    carries in its metadata (written once to the cache folder); None when neither exists."""
    if PACKAGE_README.is_file():
        return PACKAGE_README
    try:
        text = importlib.metadata.metadata("deepstudio").get_payload() or ""
    except importlib.metadata.PackageNotFoundError:
        return None
    if not text.strip():
        return None
    copy = user_cache_dir() / "manual" / "README.md"
    try:
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(text, encoding="utf-8")
    except OSError:
        return None
    return copy


def menu_shortcuts(bar: QMenuBar) -> list[tuple[str, str, str]]:
    """(menu, action, shortcuts) of every action of the menu bar, in menu order; actions
    without a shortcut are listed too, so the list also says where things are."""
    rows: list[tuple[str, str, str]] = []

    def walk(menu: QMenu, path: str) -> None:
        for action in menu.actions():
            if action.isSeparator():
                continue
            name = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
            if action.menu() is not None:
                if action.menu().objectName() != "RecentMenu":  # projects, not actions
                    walk(action.menu(), f"{path} ▸ {name}")
            else:
                rows.append((path, name, shortcut_text(action)))

    for top in bar.actions():
        if top.menu() is not None:
            walk(top.menu(), top.text().replace("&", ""))
    return rows


def shortcut_text(action: QAction) -> str:
    return ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText)
                     for k in action.shortcuts())


class ShortcutsDialog(QDialog):
    """Every menu action with its keys; typing filters by action, menu or key."""

    def __init__(self, bar: QMenuBar, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        self.setObjectName("ShortcutsDialog")
        self.resize(560, 520)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search actions, menus or keys…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.filter)
        self.list = QTreeWidget()
        self.list.setRootIsDecorated(False)
        self.list.setAlternatingRowColors(True)
        self.list.setStyleSheet("QTreeWidget::item { padding: 3px 12px 3px 2px; }")
        self.list.setHeaderLabels(["Action", "Keys", "Menu"])
        self.list.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for menu, name, keys in menu_shortcuts(bar):
            self.list.addTopLevelItem(QTreeWidgetItem([name.rstrip("…"), keys, menu]))
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)

    def filter(self, text: str) -> None:
        words = text.lower().split()
        for i in range(self.list.topLevelItemCount()):
            item = self.list.topLevelItem(i)
            haystack = " ".join(item.text(c) for c in range(3)).lower()
            item.setHidden(not all(w in haystack for w in words))

    def visible_actions(self) -> list[str]:
        return [self.list.topLevelItem(i).text(0) for i in range(self.list.topLevelItemCount())
                if not self.list.topLevelItem(i).isHidden()]
