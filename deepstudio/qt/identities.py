"""The identities pane: the people in the project, the face tracks that show them, whether
their consent allows training / swapping / lip-syncing today, and the actions on them
(assign a face, record consent, extract a faceset).

It reads the project on every change set and edits it only through commands (``run``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMenu,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from deepstudio.core import commands as cmd
from deepstudio.core.names import face_track_name, media_name
from deepstudio.core.project import CONSENT_SCOPES, FaceTrackRef, Identity
from deepstudio.qt.consent_dialog import MISSING, SCOPE_LABELS, VALID, consent_state
from deepstudio.qt.theme import face_colour
from deepstudio.types import new_id

ROLE = Qt.ItemDataRole.UserRole


def faces_at(session, frame: int) -> list[FaceTrackRef]:
    """The analysed face tracks seen at timeline ``frame`` (in the clips of video tracks)."""
    refs = []
    for _, clip in session.project.clips_at(frame, "video"):
        analysis = session.analysis(clip.media_id)
        if analysis is None:
            continue
        source = session.project.media_frame(clip, frame)
        for track_id, track in sorted(analysis.tracks.items()):
            if np.any(np.asarray(track.frames) == source):
                refs.append(FaceTrackRef(clip.media_id, int(track_id)))
    return refs


def _swatch(colour: QColor) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(colour)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawRoundedRect(1, 1, 10, 10, 3, 3)
    painter.end()
    return QIcon(pixmap)


class IdentitiesPane(QWidget):
    """People and their face tracks. The window sets the callbacks after construction."""

    def __init__(self, run: Callable[[cmd.Command], bool], parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.run = run
        self.session = None
        self.current_face: Callable[[], FaceTrackRef | None] = lambda: None
        self.open_consent: Callable[[str | None], None] = lambda person: None
        self.extract: Callable[[FaceTrackRef, str], None] = lambda ref, identity_id: None
        self.tree = QTreeWidget()
        self.tree.setColumnCount(1 + len(CONSENT_SCOPES))
        self.tree.setHeaderLabels(["Person / face track"]
                                  + [SCOPE_LABELS[s] for s in CONSENT_SCOPES])
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, 1 + len(CONSENT_SCOPES)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
            self.tree.headerItem().setTextAlignment(column, Qt.AlignmentFlag.AlignCenter)
        self.tree.setAlternatingRowColors(True)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.tree.itemDoubleClicked.connect(lambda *_: self.consent_clicked())
        self.buttons = {
            "add": self._button("Add person", "Add a person by name (assign their faces and "
                                "record their consent next)", self.add_person_clicked),
            "assign": self._button("Assign face", "Assign the face track selected on the "
                                   "timeline (or under the playhead) to the selected person, "
                                   "or to a new one", self.assign_clicked),
            "consent": self._button("Consent…", "Record, list or revoke this person's "
                                    "consent", self.consent_clicked),
            "extract": self._button("Extract faceset", "Cut the aligned faces of the selected "
                                    "face track into a faceset for training",
                                    self.extract_clicked),
            "remove": self._button("Remove", "Unassign the selected face track, or forget the "
                                   "selected person", self.remove_clicked),
        }
        row = QGridLayout()  # two rows: the pane stays narrow enough for a laptop screen
        row.setContentsMargins(6, 6, 6, 0)
        row.setSpacing(4)
        for index, button in enumerate(self.buttons.values()):
            row.addWidget(button, index // 3, index % 3)
        row.setColumnStretch(3, 1)
        self.hint = QLabel("Select a face on the timeline (or park the playhead on one), "
                           "then Assign face.")
        self.hint.setObjectName("PaneHint")
        self.hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(row)
        layout.addWidget(self.tree, 1)
        hint_row = QHBoxLayout()
        hint_row.setContentsMargins(8, 0, 8, 6)
        hint_row.addWidget(self.hint)
        layout.addLayout(hint_row)
        self.refresh()

    def _button(self, text: str, tip: str, slot) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.setStyleSheet("QPushButton { padding: 3px 9px; }")
        button.clicked.connect(slot)
        return button

    # --- reading the project ---------------------------------------------------------------

    def set_session(self, session) -> None:
        self.session = session
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the tree from the project, keeping the selection."""
        selected = self.selected()
        self.tree.clear()
        project = self.session.project if self.session is not None else None
        for identity in (project.identities.values() if project is not None else ()):
            item = QTreeWidgetItem([identity.name])
            item.setData(0, ROLE, ("identity", identity.id))
            font = item.font(0)
            font.setBold(True)
            item.setFont(0, font)
            for column, scope in enumerate(CONSENT_SCOPES, start=1):
                ok, why = consent_state(identity, scope)
                item.setText(column, "✔" if ok else "✘")
                item.setForeground(column, VALID if ok else MISSING)
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignCenter)
                item.setToolTip(column, why)
            for ref in identity.face_tracks:
                child = QTreeWidgetItem([f"{media_name(project, ref.media_id)} · face "
                                         f"{ref.track_id}"])
                child.setIcon(0, _swatch(face_colour(ref.track_id)))
                child.setData(0, ROLE, ("face", (identity.id, ref)))
                item.addChild(child)
            self.tree.addTopLevelItem(item)
            item.setExpanded(True)
            if selected == item.data(0, ROLE):
                item.setSelected(True)
            for i in range(item.childCount()):
                if selected == item.child(i).data(0, ROLE):
                    item.child(i).setSelected(True)
        self.hint.setVisible(project is None or not any(
            i.face_tracks for i in project.identities.values()))
        self._update_buttons()

    def selected(self):
        """("identity", id) | ("face", (identity id, FaceTrackRef)) | None."""
        items = self.tree.selectedItems()
        return items[0].data(0, ROLE) if items else None

    def selected_identity(self) -> Identity | None:
        selection = self.selected()
        if selection is None or self.session is None:
            return None
        key = selection[1] if selection[0] == "identity" else selection[1][0]
        return self.session.project.identities.get(key)

    def select(self, selection) -> None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            for candidate in [item] + [item.child(k) for k in range(item.childCount())]:
                if candidate.data(0, ROLE) == selection:
                    self.tree.setCurrentItem(candidate)
                    return

    def _update_buttons(self) -> None:
        has_session = self.session is not None
        selection = self.selected()
        identity = self.selected_identity()
        self.buttons["add"].setEnabled(has_session)
        self.buttons["assign"].setEnabled(has_session)
        self.buttons["consent"].setEnabled(has_session)
        self.buttons["extract"].setEnabled(identity is not None and bool(identity.face_tracks))
        self.buttons["remove"].setEnabled(selection is not None)

    # --- actions ---------------------------------------------------------------------------

    def ask_name(self, title: str, default: str = "") -> str | None:
        """Ask for a person's name (tests replace this)."""
        text, ok = QInputDialog.getText(self, title, "Name of the person:", text=default)
        return text.strip() if ok and text.strip() else None

    def new_identity(self, name: str, ref: FaceTrackRef | None = None) -> str | None:
        """Add a person (optionally with a face track); their id, or None when refused."""
        identity = Identity(new_id("identity"), name.strip())
        commands: list[cmd.Command] = [cmd.AddIdentity(identity)]
        if ref is not None:
            commands.append(cmd.AssignFaceTrack(identity.id, ref))
        if not self.run(commands[0] if len(commands) == 1 else
                        cmd.Macro("Add identity", commands)):
            return None
        self.select(("identity", identity.id))
        return identity.id

    def assign(self, identity_id: str, ref: FaceTrackRef) -> bool:
        if not self.run(cmd.AssignFaceTrack(identity_id, ref)):
            return False
        self.select(("face", (identity_id, ref)))
        return True

    def add_person_clicked(self) -> str | None:
        """Ask for a name and add that person (or select them if they exist); their id."""
        name = self.ask_name("Add person")
        if name is None:
            return None
        existing = self.session.identity_named(name)
        if existing is not None:
            self.select(("identity", existing.id))
            return existing.id
        return self.new_identity(name)

    def assign_clicked(self) -> None:
        ref = self.current_face()
        identity = self.selected_identity()
        if identity is not None and ref is not None:
            self.assign(identity.id, ref)
        elif ref is not None:
            self.assign_face(ref)
        else:
            self.add_person_clicked()

    def assign_face(self, ref: FaceTrackRef) -> str | None:
        """Ask whom a face shows and assign it to that person (made if new); their name,
        or None when the user gave up or the assignment was refused."""
        name = self.ask_name(f"{face_track_name(self.session.project, ref)} shows")
        if name is None:
            return None
        existing = self.session.identity_named(name)
        done = (self.assign(existing.id, ref) if existing is not None
                else self.new_identity(name, ref) is not None)
        return name if done else None

    def consent_clicked(self) -> None:
        identity = self.selected_identity()
        self.open_consent(identity.name if identity is not None else None)

    def extract_clicked(self) -> None:
        selection = self.selected()
        identity = self.selected_identity()
        if identity is None or not identity.face_tracks:
            return
        ref = selection[1][1] if selection[0] == "face" else identity.face_tracks[0]
        self.extract(ref, identity.id)

    def remove_clicked(self) -> None:
        selection = self.selected()
        if selection is None:
            return
        if selection[0] == "face":
            self.run(cmd.UnassignFaceTrack(*selection[1]))
        else:
            self.run(cmd.RemoveIdentity(selection[1]))

    def _rename(self, identity: Identity) -> None:
        name = self.ask_name("Rename person", identity.name)
        if name is not None and name != identity.name:
            self.run(cmd.RenameIdentity(identity.id, name))

    def _context_menu(self, pos) -> None:
        item = self.tree.itemAt(pos)
        if item is None:
            return
        self.tree.setCurrentItem(item)
        identity = self.selected_identity()
        menu = QMenu(self)
        menu.addAction("Consent…", self.consent_clicked)
        if identity is not None:
            menu.addAction("Rename…", lambda: self._rename(identity))
        menu.addAction("Extract faceset", self.extract_clicked).setEnabled(
            identity is not None and bool(identity.face_tracks))
        menu.addSeparator()
        menu.addAction("Remove", self.remove_clicked)
        menu.popup(self.tree.viewport().mapToGlobal(pos))
