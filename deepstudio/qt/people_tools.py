"""The window's people-and-models tools: the Identities, Facesets and Training docks, the
Tools menu (consent, training, verify), consent refusals, faceset extraction and model import.

Kept apart from :mod:`deepstudio.qt.mainwindow`, which creates one :class:`PeopleTools` and
forwards session changes, job updates, errors and playhead moves to it.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QFrame, QMenu, QScrollArea, QWidget

from deepstudio.core.project import FaceTrackRef
from deepstudio.engine.disclosure import Problem
from deepstudio.errors import UserError
from deepstudio.qt.consent_dialog import ConsentDialog, refusal_box
from deepstudio.qt.dialogs import error_box
from deepstudio.qt.faceset_view import FacesetView
from deepstudio.qt.identities import IdentitiesPane, faces_at
from deepstudio.qt.training_panel import TrainingPanel
from deepstudio.qt.verify_dialog import VerifyDialog

_CONSENT = re.compile(r"\bconsent\b", re.IGNORECASE)
MODEL_FILTERS = {"faceswap": "DeepStudio model (card.json)",
                 "lipsync": "Lip-sync model (card.json *.pth);;DeepStudio model (card.json);;"
                            "Wav2Lip checkpoint (*.pth)"}


def scrollable(panel: QWidget) -> QScrollArea:
    """``panel`` in a scroll area: a tall panel then scrolls in a short window instead of
    making the whole window taller than the screen."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(panel)
    return area


def is_consent_refusal(message: str) -> bool:
    """Whether an error message refuses an action for the lack of consent (job errors keep
    only their text, so the text decides)."""
    return bool(_CONSENT.search(message))


class PeopleTools:
    """Owns the identity/faceset/training panes of ``window`` (a MainWindow)."""

    def __init__(self, window) -> None:
        self.window = window
        self.identities = IdentitiesPane(window.run)
        self.facesets = FacesetView()
        self.training = TrainingPanel()
        self.consent_dialog: ConsentDialog | None = None
        self.verify_dialog: VerifyDialog | None = None
        self.refusal = None
        self._extract_jobs: set[str] = set()
        self.identities.current_face = self.current_face
        self.identities.open_consent = self.record_consent
        self.identities.extract = self.extract_faceset
        self.training.refused = self.show_refusal
        self.training.error = window.show_error
        window.inspector.playhead = lambda: window.controller.playhead
        window.inspector.import_model = self.import_model
        window.inspector.fix_problem = self.fix_problem
        window.inspector.assign_face = self.assign_face
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        docks = window.docks
        docks["identities"] = window._dock("Identities", self.identities, left)
        docks["facesets"] = window._dock("Facesets", scrollable(self.facesets), right)
        docks["training"] = window._dock("Training", scrollable(self.training), right)
        # tabified once the window is laid out: tabifying during construction leaves stale
        # tab bars painted over the docks (Qt 6.11)
        QTimer.singleShot(0, self._tabify)

    def _tabify(self) -> None:
        docks = self.window.docks
        self.window.tabifyDockWidget(docks["media"], docks["identities"])
        self.window.tabifyDockWidget(docks["inspector"], docks["facesets"])
        self.window.tabifyDockWidget(docks["inspector"], docks["training"])
        docks["media"].raise_()
        docks["inspector"].raise_()

    def make_menu(self, menu: QMenu) -> None:
        """Fill the Tools menu."""
        w = self.window
        self.actions = {
            "consent": w._action("Identities && &Consent…", lambda: self.record_consent(None),
                                 tip="Record, list or revoke a person's consent"),
            "identities": w._action("Show &Identities", lambda: self.raise_dock("identities")),
            "facesets": w._action("Show &Facesets", lambda: self.raise_dock("facesets")),
            "train": w._action("&Train Face Swap…", lambda: self.raise_dock("training")),
            "verify": w._action("&Verify File…", self.verify_file,
                                tip="Check a file for content credentials and the watermark"),
        }
        for key in ("consent", "identities", None, "facesets", "train", None, "verify"):
            menu.addSeparator() if key is None else menu.addAction(self.actions[key])

    def raise_dock(self, name: str) -> None:
        dock = self.window.docks[name]
        if not dock.isVisible():
            dock.show()
        dock.raise_()

    # --- forwarded from the window ---------------------------------------------------------

    def set_session(self, session) -> None:
        self._extract_jobs.clear()
        for pane in (self.identities, self.facesets, self.training):
            pane.set_session(session)
        for key, action in getattr(self, "actions", {}).items():
            action.setEnabled(key == "verify" or session is not None)

    def changed(self, changes) -> None:
        if changes.identities or changes.media:
            self.identities.refresh()
            if self.training.lipsync and not self.training.running:
                self.training.refresh()  # the speakers it offers are the people's faces

    def job_changed(self, job) -> None:
        self.training.job_changed(job)
        if job.id in self._extract_jobs and job.finished:
            self._extract_jobs.discard(job.id)
            if job.status == "done":
                self.facesets.refresh()
                self.facesets.show_faceset(job.result.path)
                self.training.refresh()
                self.raise_dock("facesets")

    def show_error(self, message: str):
        """The box for an error: a consent refusal offers to record consent."""
        if is_consent_refusal(message) and self.window.session is not None:
            return self.show_refusal(message)
        return error_box(self.window, message)

    def show_refusal(self, message: str):
        self.refusal = refusal_box(self.window, message, self.record_consent)
        return self.refusal

    # --- actions ---------------------------------------------------------------------------

    def current_face(self) -> FaceTrackRef | None:
        """The face track selected on the timeline, else the first one under the playhead."""
        w = self.window
        selection = w.timeline.selection
        if selection and selection[0] == "face":
            return FaceTrackRef(*selection[1])
        if w.session is None:
            return None
        found = faces_at(w.session, w.controller.playhead)
        if not found:
            w.statusBar().showMessage("No face here: select a face track on the timeline or "
                                      "move the playhead onto a face", 6000)
        return found[0] if found else None

    def record_consent(self, person: str | None = None,
                       scopes: tuple[str, ...] = ()) -> ConsentDialog | None:
        """Open the consent dialog on ``person`` with ``scopes`` ticked."""
        w = self.window
        if w.session is None:
            return None
        if self.consent_dialog is not None:
            self.consent_dialog.close()
        self.consent_dialog = ConsentDialog(w.session, w.run, person, w, scopes)
        self.consent_dialog.show()
        return self.consent_dialog

    def fix_problem(self, problem: Problem) -> None:
        """The one-click fix of an effect's consent problem: the consent dialog on the
        person with the missing scope ticked; a face assigned to nobody is first given a
        person (asked for by name)."""
        person = problem.person
        if person is None and problem.face is not None:
            person = self.assign_face(problem.face)
        if person is not None:
            self.record_consent(person, (problem.scope,) if problem.scope else ())

    def assign_face(self, ref: FaceTrackRef) -> str | None:
        """Ask whom a face shows and assign it (the Identities pane comes forward)."""
        self.raise_dock("identities")
        return self.identities.assign_face(ref)

    def extract_faceset(self, ref: FaceTrackRef, identity_id: str):
        try:
            job = self.window.session.extract_faceset(ref.media_id, ref.track_id, identity_id)
        except UserError as exc:
            self.window.show_error(str(exc))
            return None
        self._extract_jobs.add(job.id)
        self.raise_dock("facesets")
        self.window.docks["jobs"].raise_()
        return job

    def import_model(self, kind: str) -> str | None:
        """Ask for a model file of ``kind`` and add it; the model id (None: not added)."""
        w = self.window
        start = w.session.paths.models if w.session.paths else Path.home()
        path, _ = QFileDialog.getOpenFileName(w, "Import Model", str(start), MODEL_FILTERS[kind])
        if not path:
            return None
        chosen = Path(path)
        return self.add_model(chosen.parent if chosen.name == "card.json" else chosen, kind)

    def add_model(self, path: Path, kind: str) -> str | None:
        try:
            return self.window.session.import_model(path, kind)
        except UserError as exc:
            self.window.show_error(str(exc))
            return None

    def verify_file(self, path: Path | None = None) -> VerifyDialog:
        w = self.window
        folder = w.session.paths.renders if w.session is not None and w.session.paths else None
        if self.verify_dialog is None:
            self.verify_dialog = VerifyDialog(folder, w)
        self.verify_dialog.show()
        self.verify_dialog.raise_()
        if path is not None:
            self.verify_dialog.verify(Path(path))
        return self.verify_dialog
