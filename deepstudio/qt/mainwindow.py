"""The main window: docks (media bin, preview, timeline, inspector, jobs, queue), menus, toolbar,
status bar, and the glue between them and a Session.

Views never refresh each other: every edit goes through ``session.do`` and the change set
that comes back (through the session's listener) tells each view to re-read the project.
Engine callbacks (job progress) arrive on worker threads and are marshalled by the bridge.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QGuiApplication,
    QKeySequence,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QWidget,
)

from deepstudio.core import commands as cmd
from deepstudio.core.effects import effect_spec, effect_specs
from deepstudio.core.names import face_track_name
from deepstudio.core.project import Clip, Effect, FaceTrackRef
from deepstudio.core.timebase import parse_rate
from deepstudio.engine.problems import problems_by_effect
from deepstudio.errors import UserError
from deepstudio.farm.batch import BatchQueue, default_queue_folder, project_render_item
from deepstudio.persistence.settings import Settings, load_settings, save_settings
from deepstudio.qt.bridge import MainThreadBridge, on_main_thread
from deepstudio.qt.dialogs import NewProjectDialog, PreferencesDialog, about_text
from deepstudio.qt.export_dialog import ExportDialog
from deepstudio.qt.faces import clip_face_spans, face_spans, faces_text
from deepstudio.qt.help import ShortcutsDialog, manual_path
from deepstudio.qt.icons import icon
from deepstudio.qt.inspector import Inspector
from deepstudio.qt.jobs_pane import JobsPane
from deepstudio.qt.media_cache import MediaCache
from deepstudio.qt.mediabin import MediaBin
from deepstudio.qt.panes import PreviewPane, TimelinePane
from deepstudio.qt.people_tools import PeopleTools
from deepstudio.qt.queue_pane import QueuePane
from deepstudio.qt.timeline import HEADER_W
from deepstudio.types import new_id

MEDIA_FILTER = ("Media (*.mp4 *.mov *.mkv *.avi *.webm *.m4v *.wav *.mp3 *.m4a *.aac *.flac "
                "*.ogg);;All files (*)")


UI_SWITCH_INTERVAL_S = 0.001


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        # Background threads (preview, job relays) hand the interpreter lock back to the UI
        # thread within 1 ms instead of the default 5 ms.
        sys.setswitchinterval(UI_SWITCH_INTERVAL_S)
        self.session = None
        self.settings = settings or load_settings()
        self.bridge = MainThreadBridge(self)
        self.cache = MediaCache(self._resolve_media, self)
        self.marks: tuple[int | None, int | None] = (None, None)
        self._spans: dict[str, Any] = {}
        self._analysis_jobs: dict[str, str] = {}
        self._proxy_jobs: dict[str, str] = {}
        self._unsubscribe_jobs = None
        self.problems: dict[str, list] = {}
        """Effect id → what keeps it from exporting as placed (engine.problems)."""
        self.shortcuts_dialog: ShortcutsDialog | None = None
        self._dock_sizes: dict[QDockWidget, QSize] = {}
        self._fitted_size = QSize()
        self.setWindowTitle("DeepStudio")
        self.fit_to_screen()
        self.setDockNestingEnabled(True)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)

        self.preview = PreviewPane()
        self.controller = self.preview.controller
        self.timeline_pane = TimelinePane(self.cache)
        self.timeline = self.timeline_pane.view
        self.media_bin = MediaBin(self.cache)
        self.inspector = Inspector(self.run)
        self.inspector.add_face_effect = self.add_effect_on_face
        self.inspector.problems = lambda effect_id: self.problems.get(effect_id, [])
        self.jobs_pane = JobsPane()
        self.queue_pane = QueuePane(BatchQueue(default_queue_folder()))
        self.setCentralWidget(self.preview)
        self.docks = {
            "media": self._dock("Media", self.media_bin, Qt.DockWidgetArea.LeftDockWidgetArea),
            "inspector": self._dock("Inspector", self.inspector,
                                    Qt.DockWidgetArea.RightDockWidgetArea),
            "timeline": self._dock("Timeline", self.timeline_pane,
                                   Qt.DockWidgetArea.BottomDockWidgetArea),
            "jobs": self._dock("Jobs", self.jobs_pane, Qt.DockWidgetArea.RightDockWidgetArea),
            "queue": self._dock("Queue", self.queue_pane, Qt.DockWidgetArea.RightDockWidgetArea),
        }
        self.splitDockWidget(self.docks["inspector"], self.docks["jobs"], Qt.Orientation.Vertical)
        self.tabifyDockWidget(self.docks["jobs"], self.docks["queue"])
        self.docks["jobs"].raise_()
        width, height = self.width(), self.height()  # shares of the screen-sized window
        self.resizeDocks([self.docks["media"], self.docks["inspector"]],
                         [round(width * 0.3), round(width * 0.25)], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["timeline"]], [round(height * 0.36)],
                         Qt.Orientation.Vertical)
        self.resizeDocks([self.docks["inspector"], self.docks["jobs"]],
                         [round(height * 0.5), round(height * 0.3)], Qt.Orientation.Vertical)
        self.people = PeopleTools(self)  # identities, consent, facesets, training, verify

        self._make_actions()
        self._make_menus()
        self._make_toolbar()
        self._make_status_bar()
        self._connect()
        self.autosave_timer = QTimer(self)
        self.autosave_timer.timeout.connect(self.autosave)
        self.set_session(None)
        self.installEventFilter(self)  # notes the docks' sizes before each resize

    # --- construction ----------------------------------------------------------------------

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, slot, shortcut: Any = None, icon_name: str | None = None,
                checkable: bool = False, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcuts(shortcut if isinstance(shortcut, list) else [shortcut])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if icon_name:
            action.setIcon(icon(icon_name))
        action.setCheckable(checkable)
        if tip or shortcut is not None:
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            action.setToolTip(f"{tip or text.replace('&', '').rstrip('…')}"
                              + (f"  ({keys})" if keys else ""))
        # triggered(bool) passes the checked flag: only checkable actions' slots take it
        # (a slot with an optional argument, such as a path, would receive False)
        action.triggered.connect(slot if checkable else lambda: slot())
        self.addAction(action)
        return action

    def _make_actions(self) -> None:
        c, k = self.controller, QKeySequence
        a = self._action
        self.act = {
            "new": a("&New Project…", self.new_project, k.StandardKey.New, "new"),
            "open": a("&Open Project…", self.open_dialog, k.StandardKey.Open, "open"),
            "save": a("&Save", self.save, k.StandardKey.Save, "save"),
            "save_as": a("Save &As…", self.save_as_dialog, k.StandardKey.SaveAs,
                         tip="Save a copy of the project in a new folder and go on there"),
            "close_project": a("&Close Project", self.close_project, k.StandardKey.Close),
            "import": a("&Import Media…", self.import_dialog, k("Ctrl+I"), "import"),
            "export": a("&Export…", self.export_dialog, k("Ctrl+E"), "export"),
            "prefs": a("&Preferences…", self.preferences, k.StandardKey.Preferences),
            "quit": a("&Quit", self.close, k.StandardKey.Quit),
            "undo": a("&Undo", self.undo, k.StandardKey.Undo, "undo"),
            "redo": a("&Redo", self.redo, [k("Ctrl+Shift+Z"), k("Ctrl+Y")], "redo"),
            "split": a("S&plit at Playhead", self.split_at_playhead, k("S"), "split"),
            "delete": a("&Delete", self.delete_selection, [k(Qt.Key.Key_Delete),
                                                          k(Qt.Key.Key_Backspace)], "delete"),
            "mark_in": a("Mark &In", lambda: self.set_mark(0), k("I")),
            "mark_out": a("Mark &Out", lambda: self.set_mark(1), k("O")),
            "clear_marks": a("&Clear In/Out", lambda: self.set_marks(None, None),
                             k("Alt+X")),
            "analyse": a("&Analyse Faces", self.analyse_selected, k("Ctrl+Shift+A"),
                         "analyse", tip="Track every face of the selected media"),
            "proxy": a("Make &Proxy Media", self.proxy_selected, None, None,
                       tip="Re-encode the selected media with frequent keyframes so that the "
                           "preview seeks fast (renders always use the original)"),
            "add_clip": a("Add to &Timeline", self.add_selected_to_timeline, k("E")),
            "unlink": a("&Unlink Picture and Sound", self.unlink_selected, k("Ctrl+Alt+L"),
                        tip="Edit the selected clip's picture and sound separately"),
            "mute_clip": a("&Mute / Unmute Clip", self.toggle_clip_mute, k("Ctrl+Alt+M"),
                           tip="Silence the selected clip's sound (e.g. the original dialogue "
                               "under a dub)"),
            "timeline_rate": a("Timeline &Frame Rate…", self.timeline_rate_dialog,
                               tip="Change the timeline's frame rate; clips keep their speed"),
            "play": a("&Play / Pause", c.toggle, k(Qt.Key.Key_Space), "play"),
            "shuttle_back": a("Play &Backward (J)", c.shuttle_back, k("J")),
            "stop": a("&Stop (K)", c.pause, k("K")),
            "shuttle_fwd": a("Play &Forward (L)", c.shuttle_forward, k("L")),
            "step_back": a("Step &Back", lambda: c.step(-1), k(Qt.Key.Key_Left), "step_back"),
            "step_fwd": a("Step &Forward", lambda: c.step(1), k(Qt.Key.Key_Right),
                          "step_forward"),
            "to_start": a("Go to &Start", c.go_start, k(Qt.Key.Key_Home), "to_start"),
            "to_end": a("Go to &End", c.go_end, k(Qt.Key.Key_End), "to_end"),
            "zoom_in": a("Zoom &In Timeline", lambda: self._zoom_timeline(1.5), k("="),
                         "zoom_in"),
            "zoom_out": a("Zoom &Out Timeline", lambda: self._zoom_timeline(1 / 1.5), k("-"),
                          "zoom_out"),
            "zoom_fit": a("Zoom Timeline to &Fit", self._fit_timeline, k("Shift+Z"), "fit"),
            "snap": a("S&napping", self._toggle_snap, k("N"), "snap", checkable=True),
            "toggle_compare": a("Toggle &Before/After", self.toggle_before_after, k("\\"),
                                "compare"),
            "shortcuts": a("&Keyboard Shortcuts", self.show_shortcuts, k("Ctrl+/")),
            "manual": a("User &Manual", self.open_manual, k.StandardKey.HelpContents,
                        tip="Open the manual (README) in your browser or editor"),
            "about": a("&About DeepStudio", self.about),
        }
        self.act["snap"].setChecked(True)
        self.overlay_actions = {}
        for name, text, key in (("boxes", "Face &Boxes", "Shift+B"),
                                ("landmarks", "&Landmarks", "Shift+L"),
                                ("ids", "Track &Ids", "Shift+I"), ("masks", "&Masks", "Shift+M")):
            action = a(text, lambda on, n=name: self.controller.set_overlays(**{n: on}),
                       k(key), name, checkable=True)
            self.overlay_actions[name] = action

    def _make_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        for key in ("new", "open"):
            file.addAction(self.act[key])
        self.recent_menu = file.addMenu("Open &Recent")
        self.recent_menu.setObjectName("RecentMenu")
        for key in ("save", "save_as", "close_project"):
            file.addAction(self.act[key])
        file.addSeparator()
        file.addAction(self.act["import"])
        file.addAction(self.act["export"])
        file.addSeparator()
        file.addAction(self.act["prefs"])
        file.addSeparator()
        file.addAction(self.act["quit"])
        edit = bar.addMenu("&Edit")
        for key in ("undo", "redo", None, "split", "delete", None, "mark_in", "mark_out",
                    "clear_marks", None, "snap"):
            edit.addSeparator() if key is None else edit.addAction(self.act[key])
        view = bar.addMenu("&View")
        for action in self.overlay_actions.values():
            view.addAction(action)
        view.addSeparator()
        view.addAction(self.act["toggle_compare"])
        view.addSeparator()
        for key in ("zoom_in", "zoom_out", "zoom_fit"):
            view.addAction(self.act[key])
        view.addSeparator()
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        play = bar.addMenu("&Playback")
        for key in ("play", "shuttle_back", "stop", "shuttle_fwd", None, "step_back",
                    "step_fwd", "to_start", "to_end"):
            play.addSeparator() if key is None else play.addAction(self.act[key])
        clip = bar.addMenu("&Clip")
        clip.addAction(self.act["add_clip"])
        clip.addAction(self.act["unlink"])
        clip.addAction(self.act["mute_clip"])
        clip.addAction(self.act["analyse"])
        clip.addAction(self.act["proxy"])
        clip.addSeparator()
        clip.addAction(self.act["timeline_rate"])
        self.effect_menu = clip.addMenu(icon("effect"), "Add &Effect")
        for spec in effect_specs():
            self.effect_menu.addAction(spec.label, lambda t=spec.type_id: self.add_effect(t))
        self.people.make_menu(bar.addMenu("&Tools"))
        help_menu = bar.addMenu("&Help")
        for key in ("shortcuts", "manual", None, "about"):
            help_menu.addSeparator() if key is None else help_menu.addAction(self.act[key])
        self._fill_recent()

    def _make_toolbar(self) -> None:
        tools = self.addToolBar("Main")
        tools.setObjectName("toolbar-main")
        tools.setMovable(False)
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        for key in ("new", "open", "save", None, "import", "analyse", None, "undo", "redo"):
            tools.addSeparator() if key is None else tools.addAction(self.act[key])
        tools.addSeparator()
        label = QLabel("  Overlays ")
        label.setObjectName("PaneHint")
        tools.addWidget(label)
        for action in self.overlay_actions.values():
            tools.addAction(action)
        tools.addAction(self.act["toggle_compare"])
        spacer = QWidget()
        spacer.setSizePolicy(spacer.sizePolicy().horizontalPolicy().Expanding,
                             spacer.sizePolicy().verticalPolicy().Preferred)
        tools.addWidget(spacer)
        tools.addAction(self.act["export"])
        tools.widgetForAction(self.act["export"]).setToolButtonStyle(
            Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.preview.add_transport([self.act[k] for k in ("to_start", "step_back", "play",
                                                          "step_fwd", "to_end")],
                                   self.act["play"])
        self.effect_menu.menuAction().setIconText("Add Effect")
        self.timeline_pane.add_tools([self.act[k] for k in ("split", "delete")] + [None]
                                     + [self.act[k] for k in ("snap", None, "zoom_out",
                                                              "zoom_in", "zoom_fit")
                                        if k] + [self.effect_menu.menuAction()])

    def _make_status_bar(self) -> None:
        status = self.statusBar()
        self.status_jobs = QLabel()
        self.status_format = QLabel()
        self.status_saved = QLabel()
        for widget in (self.status_jobs, self.status_format, self.status_saved):
            status.addPermanentWidget(widget)

    def _connect(self) -> None:
        self.controller.playhead_changed.connect(self._playhead_moved)
        self.controller.playing_changed.connect(
            lambda on: self.act["play"].setIcon(icon("pause" if on else "play")))
        self.timeline.seek_requested.connect(self.controller.seek)
        self.timeline.selection_changed.connect(self.inspector.show_selection)
        self.timeline.error.connect(self.show_error)
        self.timeline.media_dropped.connect(self._media_dropped)
        self.media_bin.files_dropped.connect(self.import_files)
        self.media_bin.media_activated.connect(lambda m: self._add_media_clip(m))

    # --- session ---------------------------------------------------------------------------

    def set_session(self, session) -> None:
        """Show ``session`` (None: no project open)."""
        if self.session is not None:
            if self._unsubscribe_jobs is not None:
                self._unsubscribe_jobs()
            self.controller.set_session(None)
            self.session.close()
        self.session = session
        self._spans.clear()
        self._analysis_jobs.clear()
        self._proxy_jobs.clear()
        self.marks = (None, None)
        self.jobs_pane.clear()
        if session is not None:
            session.subscribe(self._changed_from_any_thread)
            self._unsubscribe_jobs = session.jobs.subscribe(self.bridge.wrap(self._job_changed))
            for job in session.jobs.jobs:
                self.jobs_pane.update_job(job)
            self.autosave_timer.start(int(self.settings.pref("autosave_minutes") * 60_000))
        else:
            self.autosave_timer.stop()
        self.media_bin.set_session(session)
        for media_id in session.project.media if session is not None else ():
            self._load_spans(media_id)
        self.timeline.face_spans = self._spans.get
        self.timeline.set_document(session)
        self.timeline.set_marks(None, None)
        self.inspector.set_session(session)
        self.people.set_session(session)
        self.controller.set_session(session)
        self.timeline.set_playhead(0)
        for action in self.act.values():
            action.setEnabled(session is not None or action in (
                self.act[k] for k in ("new", "open", "quit", "prefs", "shortcuts", "manual",
                                      "about")))
        self.act["save"].setEnabled(session is not None and not session.read_only)
        self.effect_menu.setEnabled(session is not None)
        self._update_problems()
        self.preview.show_position()
        QTimer.singleShot(0, self._fit_timeline)
        self._update_state()

    def open_project(self, folder: str | Path) -> bool:
        """Open the project in ``folder``, offering recovery of an autosave; False on error.

        A project open for editing elsewhere (another window or process) is offered
        read-only."""
        from deepstudio.persistence.project_lock import ProjectLockedError
        from deepstudio.persistence.project_store import ProjectPaths
        from deepstudio.session import Session

        if self.session is not None and self.session.folder == ProjectPaths(folder).folder:
            self.statusBar().showMessage(f"{self.session.folder.name} is open already", 4000)
            return True
        if not self.maybe_save():
            return False
        try:
            try:
                session = Session.open(folder)
            except ProjectLockedError as exc:
                answer = self.ask("Project already open",
                                  f"{Path(folder).name} is already open in {exc.who}.\n\n"
                                  "Open it read-only? You can look at it and render it, but "
                                  f"not save changes (to change it, {exc.remedy}).",
                                  QMessageBox.StandardButton.Open
                                  | QMessageBox.StandardButton.Cancel)
                if answer != QMessageBox.StandardButton.Open:
                    return False
                session = Session.open(folder, read_only=True)
        except UserError as exc:
            self.show_error(str(exc))
            return False
        if not session.read_only and Session.recoverable(folder):
            answer = self.ask("Recover unsaved changes?",
                              f"{Path(folder).name} has unsaved changes from a session that "
                              "did not close properly. Recover them?",
                              QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
            if answer == QMessageBox.StandardButton.Yes:
                session.recover()
            elif answer == QMessageBox.StandardButton.No:
                session.discard_autosave()
        self.settings.add_recent(session.folder)
        save_settings(self.settings)
        self._fill_recent()
        self.set_session(session)
        return True

    def create_project(self, folder: Path, name: str) -> bool:
        from deepstudio.session import Session

        if not self.maybe_save():
            return False
        try:
            session = Session.create(folder, name)
        except UserError as exc:
            self.show_error(str(exc))
            return False
        self.settings.add_recent(session.folder)
        save_settings(self.settings)
        self._fill_recent()
        self.set_session(session)
        return True

    def _changed_from_any_thread(self, changes: cmd.ChangeSet) -> None:
        if on_main_thread():
            self._changed(changes)
        else:
            self.bridge.call(self._changed, changes)

    def _changed(self, changes: cmd.ChangeSet) -> None:
        if changes.media or changes.project:
            for media_id in changes.media:
                if self.session and media_id in self.session.project.media:
                    self._load_spans(media_id)
            self.media_bin.refresh()
        self._update_problems()
        self.timeline.refresh()
        self.timeline_pane.sync_scrollbar()
        self.inspector.rebuild()
        self.people.changed(changes)
        self.controller.refresh()
        self.preview.show_position()
        self._update_state()

    def _update_problems(self) -> None:
        """Check the effects as placed (models, dialogue, consent) and mark them."""
        self.problems = (problems_by_effect(self.session.problems())
                         if self.session is not None else {})
        self.timeline.set_problems(self.problems)

    def _update_state(self) -> None:
        session = self.session
        if session is None:
            self.setWindowTitle("DeepStudio")
            self.status_format.setText("")
            self.status_saved.setText("")
            return
        dirty = session.dirty
        read_only = " (read-only)" if session.read_only else ""
        self.setWindowTitle(f"{session.project.name}{read_only}[*] — DeepStudio")
        self.setWindowModified(dirty)
        history = session.history
        self.act["undo"].setEnabled(history.can_undo)
        self.act["redo"].setEnabled(history.can_redo)
        self.act["undo"].setText(f"&Undo {history.undo_text}".rstrip())
        self.act["redo"].setText(f"&Redo {history.redo_text}".rstrip())
        project = session.project
        video = next((m for m in project.media.values() if m.has_video), None)
        self.status_format.setText(f"{video.width}×{video.height} · {float(video.fps):.3g} fps"
                                   if video else f"{float(project.timeline_fps()):g} fps")
        if session.read_only:
            self.status_saved.setText("Read-only: open in another editor")
        else:
            self.status_saved.setText("● Unsaved changes" if dirty else "Saved")

    def _resolve_media(self, media_id: str):
        if self.session is None or media_id not in self.session.project.media:
            return None
        return self.session.project.media[media_id], self.session.media_path(media_id)

    def _load_spans(self, media_id: str) -> None:
        if not self.session.project.media[media_id].has_video:
            return
        if self.session.has_proxy(media_id):
            self.media_bin.set_proxy_state(media_id, "yes")
        try:
            analysis = self.session.analysis(media_id)
        except UserError:
            analysis = None
        if analysis is not None:
            self._spans[media_id] = face_spans(analysis)
            self.media_bin.set_analysis_state(media_id, faces_text(len(analysis.tracks)))

    # --- user-facing helpers ---------------------------------------------------------------

    def run(self, command: cmd.Command) -> bool:
        """Apply ``command`` through the session; a refusal is shown, never raised."""
        if self.session is None:
            return False
        try:
            self.session.do(command)
        except UserError as exc:
            self.show_error(str(exc))
            return False
        return True

    def show_error(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)
        self.people.show_error(message)

    def ask(self, title: str, text: str, buttons) -> QMessageBox.StandardButton:
        """A modal question (tests replace this method to answer it)."""
        return QMessageBox.question(self, title, text, buttons)

    def maybe_save(self) -> bool:
        """Ask about unsaved changes; False when the user cancels."""
        if self.session is None or not self.session.dirty:
            return True
        if self.session.read_only:
            answer = self.ask("Discard changes?",
                              f"{self.session.project.name} is open read-only: your changes "
                              "cannot be saved. Close it anyway?",
                              QMessageBox.StandardButton.Discard
                              | QMessageBox.StandardButton.Cancel)
            return answer == QMessageBox.StandardButton.Discard
        answer = self.ask("Unsaved changes",
                          f"Save changes to {self.session.project.name} before closing?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Cancel:
            return False
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        self.session.discard_autosave()
        return True

    # --- file ------------------------------------------------------------------------------

    def new_project(self) -> None:
        dialog = NewProjectDialog(Path.home(), self)
        if dialog.exec():
            self.create_project(*dialog.target())

    def open_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open Project (a .dstudio folder)")
        if folder:
            self.open_project(folder)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for entry in self.settings.recent_projects:
            self.recent_menu.addAction(Path(entry).name,
                                       lambda e=entry: self.open_project(e)).setToolTip(entry)
        self.recent_menu.setEnabled(bool(self.settings.recent_projects))

    def save_as_dialog(self) -> None:
        dialog = NewProjectDialog(self.session.folder.parent, self, "Save Project As",
                                  f"{self.session.project.name} copy", "Save")
        if dialog.exec():
            self.save_as(*dialog.target())

    def save_as(self, folder: Path, name: str) -> bool:
        """Save a copy of the project (with its analyses, facesets and models) as ``name``
        in ``folder`` and go on there; False on error."""
        from deepstudio.session import Session

        try:
            saved = self.session.save_as(folder, name)
            session = Session.open(saved)
        except UserError as exc:
            self.show_error(str(exc))
            return False
        self.session.discard_autosave()  # its unsaved changes went to the copy
        self.settings.add_recent(saved)
        save_settings(self.settings)
        self._fill_recent()
        self.set_session(session)
        self.statusBar().showMessage(f"Saved as {saved}", 4000)
        return True

    def close_project(self) -> bool:
        """Close the project (asking about unsaved changes); False when the user cancels."""
        if not self.maybe_save():
            return False
        self.set_session(None)
        return True

    def save(self) -> bool:
        if self.session is None:
            return False
        try:
            self.session.save()
        except UserError as exc:
            self.show_error(str(exc))
            return False
        self.statusBar().showMessage(f"Saved {self.session.folder}", 4000)
        self._update_state()
        return True

    def autosave(self) -> None:
        if self.session is not None and self.session.dirty:
            try:
                self.session.write_autosave()
            except UserError as exc:
                self.statusBar().showMessage(f"Autosave failed: {exc}", 8000)

    def preferences(self) -> None:
        dialog = PreferencesDialog(self.settings, self)
        if dialog.exec():
            dialog.apply()
            save_settings(self.settings)
            if self.session is not None:
                self.autosave_timer.start(int(self.settings.pref("autosave_minutes") * 60_000))

    def import_dialog(self) -> None:
        folder = self.settings.pref("last_media_folder") or str(Path.home())
        paths, _ = QFileDialog.getOpenFileNames(self, "Import Media", folder, MEDIA_FILTER)
        if paths:
            self.settings.preferences["last_media_folder"] = str(Path(paths[0]).parent)
            save_settings(self.settings)
        self.import_files([Path(p) for p in paths])

    def import_files(self, paths: list[Path]) -> list[str]:
        """What ``deepstudio import`` does: add each file to the bin, place it at the end of
        the timeline (shown and selected), analyse its faces and make its proxy when it
        seeks slowly, all in the background; returns the media ids."""
        imported = []
        placed: str | None = None
        was_empty = self.session.project.duration_frames() == 0
        for path in paths:
            try:
                media_id = self.session.import_media(path)
                placed = self.session.add_clip_for_media(media_id)
            except UserError as exc:
                self.show_error(str(exc))
                continue
            imported.append(media_id)
            media = self.session.project.media[media_id]
            if media.has_video and media_id not in self._spans:
                self.analyse(media_id)
            advised = self.session.proxy_advised(media_id)
            if advised and self.settings.pref("auto_proxies"):
                self.make_proxy(media_id)  # keyframes far apart: scrubbing would lag
            elif not advised and media.has_video and not self.session.has_proxy(media_id):
                self.media_bin.set_proxy_state(media_id, "not needed")
        if placed is not None:
            if was_empty:
                self._fit_timeline()
            self.show_clip(self.session.project.clip(placed))
        return imported

    def show_clip(self, clip: Clip) -> None:
        """Select ``clip``, move the playhead to its start and scroll the timeline to it."""
        self.timeline.select(("clip", clip.id))
        self.controller.seek(clip.start)
        view = self.timeline
        visible = (view.width() - HEADER_W) / view.pixels_per_frame
        if not view.scroll_frames <= clip.start < view.scroll_frames + visible * 0.9:
            view.scroll_frames = max(0.0, clip.start - visible * 0.1)
        self.timeline_pane.sync_scrollbar()

    def export_dialog(self) -> None:
        session = self.session
        duration = session.project.duration_frames()
        if duration == 0:
            self.show_error("the timeline is empty: add a clip before exporting")
            return
        folder = session.paths.renders if session.paths else Path.home()
        dialog = ExportDialog(folder / f"{session.project.name}.mp4", duration, self.marks, self,
                              session.problems())
        dialog.quality.setValue(int(self.settings.pref("crf")))
        if dialog.exec():
            if dialog.to_queue:
                self.queue_render(*dialog.render_request())
            else:
                self.start_render(*dialog.render_request())

    def start_render(self, output: Path, settings) -> Any:
        job = self.session.render(output, settings)
        self.docks["jobs"].raise_()
        return job

    def show_shortcuts(self) -> ShortcutsDialog:
        if self.shortcuts_dialog is None:
            self.shortcuts_dialog = ShortcutsDialog(self.menuBar(), self)
        self.shortcuts_dialog.show()
        self.shortcuts_dialog.raise_()
        self.shortcuts_dialog.search.setFocus()
        return self.shortcuts_dialog

    def open_manual(self) -> None:
        path = manual_path()
        if path is None or not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self.show_error("cannot open the manual: " + (
                f"no program opens {path}" if path else "README.md is not installed"))

    def queue_render(self, output: Path, settings) -> Any:
        """Add a render of the saved project to the batch queue (saving it first, asked)."""
        session = self.session
        if session.folder is None:
            self.show_error("save the project before queueing a render of it")
            return None
        if session.dirty:
            answer = self.ask("Save before queueing?",
                              "The queue renders the saved project. Save your changes now?",
                              QMessageBox.StandardButton.Save
                              | QMessageBox.StandardButton.Cancel)
            if answer != QMessageBox.StandardButton.Save or not self.save():
                return None
        argv = project_render_item(session.folder, output, settings,
                                   session.project.timeline_fps())
        item = self.queue_pane.add(argv, f"{session.project.name} → {output.name}")
        self.docks["queue"].raise_()
        self.statusBar().showMessage(f"Queued {output.name} (item {item.id})", 6000)
        return item

    def about(self) -> None:
        QMessageBox.about(self, "About DeepStudio", about_text())

    # --- edit ------------------------------------------------------------------------------

    def undo(self) -> None:
        if self.session is not None and self.session.history.can_undo:
            self.session.undo()

    def redo(self) -> None:
        if self.session is not None and self.session.history.can_redo:
            self.session.redo()

    def _selected(self, kind: str) -> str | None:
        selection = self.timeline.selection
        return selection[1] if selection and selection[0] == kind else None

    def split_at_playhead(self) -> None:
        """Split the selected clip, else every clip under the playhead."""
        if self.session is None:
            return
        frame = self.controller.playhead
        project = self.session.project
        clip_id = self._selected("clip")
        targets: list[str] = []
        for clip in [project.clip(clip_id)] if clip_id else [c for _, c in
                                                             project.clips_at(frame)]:
            linked = {c.id for _, c in project.linked(clip)}
            if clip.start < frame < clip.end and not linked & set(targets):
                targets.append(clip.id)  # a linked clip is cut with its partner
        splits = [cmd.SplitClip(c, frame) for c in targets]
        if splits:
            self.run(splits[0] if len(splits) == 1 else cmd.Macro("Split clips", splits))

    def unlink_selected(self) -> None:
        clip_id = self._selected("clip")
        if clip_id is not None:
            self.run(cmd.UnlinkClip(clip_id))

    def toggle_clip_mute(self) -> None:
        """Mute the selected clip's sound: an audio clip, or the sound linked to a picture."""
        clip_id = self._selected("clip")
        if self.session is None or clip_id is None:
            return
        project = self.session.project
        clip = project.clip(clip_id)
        sounds = [(t, c) for t, c in [(project.track_of_clip(clip_id), clip),
                                      *project.linked(clip)] if t.kind == "audio"]
        if not sounds:
            self.show_error("the selected clip has no sound on the timeline")
            return
        muted = not all(c.muted for _, c in sounds)
        commands = [cmd.SetClipMuted(c.id, muted) for _, c in sounds]
        self.run(commands[0] if len(commands) == 1 else cmd.Macro("Mute clips", commands))

    def timeline_rate_dialog(self) -> None:
        if self.session is None:
            return
        current = self.session.project.timeline_fps()
        rates = ["23.976", "24", "25", "29.97", "30", "50", "59.94", "60"]
        shown = f"{float(current):.3f}".rstrip("0").rstrip(".")
        text, ok = QInputDialog.getItem(
            self, "Timeline Frame Rate",
            "Frames per second of the timeline. Clips of every rate keep their speed and "
            "stay in sync with their sound;\nframes are picked (or blended) by time.",
            rates, rates.index(shown) if shown in rates else 2, True)
        if not ok:
            return
        try:
            fps = parse_rate(text)
        except ValueError as exc:
            self.show_error(str(exc))
            return
        if fps != current:
            self.run(cmd.SetTimelineRate(fps))

    def delete_selection(self) -> None:
        if self.timeline.selection is None:
            return
        kind, key = self.timeline.selection
        if kind == "clip":
            self.run(cmd.DeleteClip(key))
        elif kind == "effect":
            self.run(cmd.RemoveEffect(key))

    def set_mark(self, which: int) -> None:
        marks = list(self.marks)
        marks[which] = self.controller.playhead + which  # out is exclusive
        self.set_marks(*marks)

    def set_marks(self, mark_in: int | None, mark_out: int | None) -> None:
        if mark_in is not None and mark_out is not None and mark_out <= mark_in:
            mark_out = None
        self.marks = (mark_in, mark_out)
        self.timeline.set_marks(mark_in, mark_out)

    def _toggle_snap(self, on: bool) -> None:
        self.timeline.snapping = on

    def _zoom_timeline(self, factor: float) -> None:
        self.timeline.set_zoom(self.timeline.pixels_per_frame * factor)
        self.timeline_pane.sync_scrollbar()

    def _fit_timeline(self) -> None:
        self.timeline.zoom_to_fit()
        self.timeline_pane.sync_scrollbar()

    def toggle_before_after(self) -> None:
        combo = self.preview.compare
        combo.setCurrentIndex(0 if combo.currentData() != "after" else 1)

    def _playhead_moved(self, frame: int) -> None:
        self.timeline.set_playhead(frame)
        self.inspector.playhead_moved(frame)
        view = self.timeline
        x = view.x_of(frame)
        if x > view.width() - 20 or x < 136:
            view.scroll_frames = max(0.0, frame - 20 / view.pixels_per_frame)
            self.timeline_pane.sync_scrollbar()

    # --- clips, analysis, effects ----------------------------------------------------------

    def _selected_media(self) -> list[str]:
        media = self.media_bin.selected_media()
        clip_id = self._selected("clip")
        if not media and clip_id:
            media = [self.session.project.clip(clip_id).media_id]
        return media

    def add_selected_to_timeline(self) -> None:
        for media_id in self._selected_media():
            self._add_media_clip(media_id)

    def _add_media_clip(self, media_id: str, track_id: str | None = None,
                        start: int | None = None) -> str | None:
        try:
            return self.session.add_clip_for_media(media_id, track_id, start)
        except UserError as exc:
            self.show_error(str(exc))
            return None

    def _media_dropped(self, media_id: str, track_id: str, start: int) -> None:
        project = self.session.project
        media = project.media.get(media_id)
        if media is None:
            return
        fits = track_id and project.track(track_id).kind == ("video" if media.has_video
                                                             else "audio")
        self._add_media_clip(media_id, track_id if fits else None, start)

    def analyse_selected(self) -> None:
        project = self.session.project
        media = self._selected_media() or [m.id for m in project.media.values()
                                           if m.has_video and m.id not in self._spans]
        for media_id in media:
            if project.media[media_id].has_video:
                self.analyse(media_id)

    def proxy_selected(self) -> None:
        project = self.session.project
        for media_id in self._selected_media() or list(project.media):
            if project.media[media_id].has_video and not self.session.has_proxy(media_id):
                self.make_proxy(media_id)

    def make_proxy(self, media_id: str):
        job = self.session.make_proxy(media_id)
        self._proxy_jobs[job.id] = media_id
        self.media_bin.set_proxy_state(media_id, "queued")
        return job

    def _proxy_progress(self, media_id: str, job) -> None:
        if job.status == "running":
            self.media_bin.set_proxy_state(media_id, f"{job.fraction:.0%}")  # (narrow bin)
        elif job.status == "done":
            self.media_bin.set_proxy_state(media_id, "yes" if job.result else "not needed")
            self.controller.refresh()  # the preview now reads the proxy
        elif job.finished:
            self.media_bin.set_proxy_state(media_id, job.status)

    def analyse(self, media_id: str):
        """Analyse the media's faces in the background (the running job if there is one)."""
        running = [j for j in self.session.jobs.jobs
                   if self._analysis_jobs.get(j.id) == media_id and not j.finished]
        if running:
            return running[0]
        job = self.session.analyze(media_id)
        self._analysis_jobs[job.id] = media_id
        self.media_bin.set_analysis_state(media_id, "queued")
        return job

    def _job_changed(self, job) -> None:
        self.jobs_pane.update_job(job)
        self.people.job_changed(job)
        running = sum(not j.finished for j in self.session.jobs.jobs) if self.session else 0
        self.status_jobs.setText(f"{running} job{'s' * (running != 1)} running" if running
                                 else "")
        media_id = self._analysis_jobs.get(job.id)
        if media_id is not None:
            self._analysis_progress(media_id, job)
        if job.id in self._proxy_jobs:
            self._proxy_progress(self._proxy_jobs[job.id], job)
        if job.status == "failed":
            self.show_error(job.error or f"{job.title} failed")
        elif job.status == "done" and job.kind == "render":
            self.statusBar().showMessage(f"Exported {getattr(job.result, 'output', '')}", 8000)

    def _analysis_progress(self, media_id: str, job) -> None:
        if job.status == "running":
            self.media_bin.set_analysis_state(media_id, f"{job.fraction:.0%}")
        elif job.status == "done":
            self._spans[media_id] = face_spans(job.result)
            self.media_bin.set_analysis_state(media_id, faces_text(len(job.result.tracks)))
            self.timeline.refresh()
            self.inspector.rebuild()
            self.controller.refresh()
        elif job.finished:
            self.media_bin.set_analysis_state(media_id, job.status)

    def add_effect(self, type_id: str) -> str | None:
        """Place an effect from the Clip menu. One that changes a face goes on the selected
        face track (else the face under the playhead, else the clip's first face) over the
        clip that shows it (the selected clip, else the one under the playhead); other
        effects cover the selected clip, else the in/out range, else the whole timeline."""
        project = self.session.project
        if effect_spec(type_id).needs_face_track:
            return self._add_face_effect(type_id)
        clip_id = self._selected("clip")
        video = [t for t in project.tracks if t.kind == "video"]
        if clip_id:
            track = project.track_of_clip(clip_id)
            start, end = project.clip(clip_id).start, project.clip(clip_id).end
        elif video:
            track = video[0]
            start, end = self.marks[0] or 0, self.marks[1] or project.duration_frames()
        else:
            self.show_error("add a video clip to the timeline before adding effects")
            return None
        return self._place_effect(Effect(id=new_id("effect"), type=type_id, track_id=track.id,
                                         face_track=None, media_id=None, start=start,
                                         end=max(end, start + 1)))

    def _add_face_effect(self, type_id: str) -> str | None:
        project = self.session.project
        face = self._selected("face")
        clip = self._clip_for_face(face) if face else None
        if clip is None:
            clip_id = self._selected("clip")
            clip = project.clip(clip_id) if clip_id else next(
                (c for _, c in reversed(project.clips_at(self.controller.playhead, "video"))),
                None)
            if clip is not None and project.track_of_clip(clip.id).kind != "video":
                clip = next((c for t, c in project.linked(clip) if t.kind == "video"), None)
                # (a clip's sound selected: the effect goes on its picture)
        if clip is None:
            self.show_error("select a face or a clip on the timeline (or put the playhead on "
                            "a clip) to place the effect on")
            return None
        if face is None or face[0] != clip.media_id:
            face_id = self._face_in_clip(clip)
            face = (clip.media_id, face_id) if face_id is not None else None
        start, end = clip.start, clip.end
        if face is not None:
            start, end = self._face_range(clip, face[1]) or (start, end)
        return self._place_effect(Effect(
            id=new_id("effect"), type=type_id, track_id=self.session.project.track_of_clip(
                clip.id).id, face_track=face[1] if face else None,
            media_id=face[0] if face else None, start=start, end=end))

    def _clip_for_face(self, face: tuple[str, int]) -> Clip | None:
        """The clip that shows a face: under the playhead if one is, else the first."""
        media_id, face_id = face
        clips = [c for t, c in self.session.project.clips() if t.kind == "video"
                 and c.media_id == media_id and self._face_range(c, face_id)]
        return next((c for c in clips if c.contains(self.controller.playhead)),
                    clips[0] if clips else None)

    def _face_in_clip(self, clip: Clip) -> int | None:
        """The face under the playhead in ``clip``, else its first face (None: none known)."""
        spans = self._spans.get(clip.media_id) or {}
        playhead, project = self.controller.playhead, self.session.project
        here = [f for f, runs in sorted(spans.items()) if any(
            a <= playhead < b for a, b in clip_face_spans(project, clip, runs))]
        return here[0] if here else min(spans, default=None)

    def _face_range(self, clip: Clip, face_id: int) -> tuple[int, int] | None:
        """From the face's first to its last frame in ``clip`` (timeline frames)."""
        shown = clip_face_spans(self.session.project, clip,
                                (self._spans.get(clip.media_id) or {}).get(face_id, []))
        return (shown[0][0], shown[-1][1]) if shown else None

    def _place_effect(self, effect: Effect) -> str | None:
        if self.run(cmd.AddEffect(effect)):
            self.timeline.select(("effect", effect.id))
            return effect.id
        return None

    def add_effect_on_face(self, type_id: str, media_id: str, face_id: int) -> None:
        """Place an effect where face ``face_id`` of ``media_id`` is seen in its clip."""
        clip = self._clip_for_face((media_id, face_id))
        span = self._face_range(clip, face_id) if clip is not None else None
        if clip is None or span is None:
            name = face_track_name(self.session.project, FaceTrackRef(media_id, face_id))
            self.show_error(f"{name} is not on the timeline")
            return
        self._place_effect(Effect(id=new_id("effect"), type=type_id,
                                  track_id=self.session.project.track_of_clip(clip.id).id,
                                  face_track=face_id, media_id=media_id, start=span[0],
                                  end=span[1]))

    # --- window ----------------------------------------------------------------------------

    def fit_to_screen(self) -> None:
        """Fill the free area of the screen the window opens on, as editors do (down to
        1366×768; a window manager's frame is taken off once it is known)."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        area = screen.availableGeometry()
        frame = self.frameGeometry().size() - self.geometry().size()
        self.resize(area.size() - frame)
        self.move(area.topLeft())
        self._fitted_size = self.size()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self._fit_frame)

    def _fit_frame(self) -> None:
        """Once shown, a window manager's frame is known: take it off the size chosen by
        :meth:`fit_to_screen` (unless the window was resized since)."""
        if self.size() == self._fitted_size and self.frameGeometry().size() != self.size():
            self.fit_to_screen()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self and event.type() == QEvent.Type.Resize:
            # seen before the layout fits the docks to the new size: their sizes as they were
            self._dock_sizes = {d: d.size() for d in self.docks.values() if _docked(d)}
        return False

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Docks keep their share of the window: they shrink with it and grow back, instead
        of the preview taking (and keeping) every pixel the window gains."""
        super().resizeEvent(event)
        old, new = event.oldSize(), event.size()
        if old.width() <= 0 or old.height() <= 0 or old == new:
            return
        before = self._dock_sizes
        fx, fy = new.width() / old.width(), new.height() / old.height()
        sides = [d for d in (self.docks["media"], self.docks["inspector"]) if d in before]
        if sides:
            self.resizeDocks(sides, [round(before[d].width() * fx) for d in sides],
                             Qt.Orientation.Horizontal)
        timeline = self.docks["timeline"]
        if timeline in before:
            self.resizeDocks([timeline], [round(before[timeline].height() * fy)],
                             Qt.Orientation.Vertical)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        self.set_session(None)
        self.cache.shutdown()
        event.accept()


def _docked(dock: QDockWidget) -> bool:
    return dock.isVisible() and not dock.isFloating()
