"""The inspector: editable properties of the selected clip, effect or face track.

Each edit becomes one core command (``run(command)``), so it is undoable; the inspector
rebuilds from the project after every change set, never keeping its own copy. Times are
timeline times, shown as timecode. An effect that cannot be exported as placed shows its
problems at the top, each with its fix one click away (``fix_problem``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from deepstudio.core import commands as cmd
from deepstudio.core import keyframes
from deepstudio.core.effects import ParamSpec, effect_spec, effect_specs
from deepstudio.core.names import face_track_name, media_name
from deepstudio.core.project import Clip, Effect, FaceTrackRef, Project
from deepstudio.core.timecode import format_timecode
from deepstudio.engine.disclosure import Problem
from deepstudio.errors import UserError
from deepstudio.qt.faces import clip_face_spans, face_spans_of
from deepstudio.qt.param_editors import (
    KeyframedNumber,
    TimecodeSpin,
    audio_picker,
    model_picker,
    number_spin,
)
from deepstudio.qt.timeline import Selection, effect_label

FIX_TEXT = {"consent": "Record consent…", "assign": "Assign to a person…"}


def problem_box(problem: Problem, fix: Callable[[Problem], None] | None) -> QWidget:
    """A problem's sentence, in red, with the button that fixes it (when one can)."""
    box = QFrame()
    box.setObjectName("Problem")
    box.setStyleSheet("#Problem { background: #3d1a1a; border: 1px solid #e5645c; "
                      "border-radius: 4px; } #Problem QLabel { color: #ffd0cc; }")
    layout = QVBoxLayout(box)
    layout.setContentsMargins(8, 6, 8, 6)
    text = QLabel(f"⚠ {problem.text}")
    text.setObjectName("ProblemText")
    text.setWordWrap(True)
    layout.addWidget(text)
    kind = "consent" if problem.person else "assign" if problem.face else None
    if kind is not None and fix is not None:
        button = QPushButton(FIX_TEXT[kind])
        button.setObjectName("ProblemFix")
        button.clicked.connect(lambda: fix(problem))
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignLeft)
    return box


class Inspector(QScrollArea):
    def __init__(self, run: Callable[[cmd.Command], bool], parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.run = run
        self.session = None
        self.selection: Selection = None
        self.add_face_effect: Callable[[str, str, int], None] | None = None
        self.playhead: Callable[[], int] = lambda: 0
        self.import_model: Callable[[str], str | None] | None = None
        self.problems: Callable[[str], list[Problem]] = lambda effect_id: []
        self.fix_problem: Callable[[Problem], None] | None = None
        self.assign_face: Callable[[FaceTrackRef], object] | None = None
        self._key_editors: list[KeyframedNumber] = []
        self.setWidgetResizable(True)
        self.rebuild()

    def set_session(self, session) -> None:
        self.session = session
        self.selection = None
        self.rebuild()

    def show_selection(self, selection: Selection) -> None:
        self.selection = selection
        self.rebuild()

    def playhead_moved(self, frame: int) -> None:
        """Show keyframed values at the new playhead (cheap: no rebuild)."""
        for editor in self._key_editors:
            editor.sync(frame)

    def rebuild(self) -> None:
        self._key_editors = []
        project: Project | None = self.session.project if self.session else None
        kind, key = self.selection if self.selection else (None, None)
        body = QWidget()
        outer = QVBoxLayout(body)
        outer.setContentsMargins(10, 10, 10, 10)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        title = QLabel()
        title.setObjectName("SectionTitle")
        title.setWordWrap(True)
        outer.addWidget(title)
        if project is not None and kind == "effect":
            for problem in self.problems(key):
                outer.addWidget(problem_box(problem, self.fix_problem))
        outer.addLayout(form)
        outer.addStretch(1)
        try:
            if project is not None and kind == "clip":
                self._clip(form, title, project, project.clip(key))
            elif project is not None and kind == "effect":
                self._effect(form, title, project, project.effects[key])
            elif project is not None and kind == "face":
                self._face(form, title, project, *key)
            else:
                raise KeyError(key)
        except KeyError:
            title.setText("Nothing selected")
            hint = QLabel("Select a clip, an effect or a face track\non the timeline.")
            hint.setObjectName("PaneHint")
            form.addRow(hint)
        for combo in body.findChildren(QComboBox):  # long names elide instead of widening
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(10)
        old = self.takeWidget()
        if old is not None:  # an editor of it may be mid-signal (its edit caused this rebuild)
            old.hide()
            old.deleteLater()
        self.setWidget(body)

    # --- clip ------------------------------------------------------------------------------

    def _clip(self, form: QFormLayout, title: QLabel, project: Project, clip: Clip) -> None:
        media = project.media[clip.media_id]
        fps = project.timeline_fps()
        title.setText(f"Clip · {Path(media.path).name}")
        form.addRow("Track", QLabel(project.track_of_clip(clip.id).name))
        start = TimecodeSpin(clip.start, fps)
        start.valueChanged.connect(lambda v: self.run(cmd.MoveClip(clip.id, start=v)))
        form.addRow("Start", start)
        form.addRow("End", QLabel(format_timecode(clip.end, fps)))
        length = project.media_length(clip.media_id)
        in_spin = TimecodeSpin(clip.in_frame, fps, 0, length - 1)
        in_spin.valueChanged.connect(lambda v: self.run(cmd.TrimClip(clip.id, in_frame=v)))
        form.addRow("Source in", in_spin)
        out_spin = TimecodeSpin(clip.out_frame, fps, 1, length)
        out_spin.valueChanged.connect(lambda v: self.run(cmd.TrimClip(clip.id, out_frame=v)))
        form.addRow("Source out", out_spin)
        form.addRow("Duration", QLabel(f"{format_timecode(clip.length, fps)}  ({clip.length} f)"))
        track = project.track_of_clip(clip.id)
        if track.kind == "audio":
            gain = QDoubleSpinBox()
            gain.setRange(-60, 24)
            gain.setSuffix(" dB")
            gain.setKeyboardTracking(False)
            gain.setValue(clip.gain_db)
            gain.valueChanged.connect(lambda v: self.run(cmd.SetClipGain(clip.id, v)))
            form.addRow("Volume", gain)
            mute = QCheckBox("Muted")
            mute.setChecked(clip.muted)
            mute.toggled.connect(lambda on: self.run(cmd.SetClipMuted(clip.id, on)))
            form.addRow("Sound", mute)
        elif media.fps != fps:
            retime = QComboBox()
            for mode, text in (("nearest", "Nearest frame"), ("blend", "Frame blend")):
                retime.addItem(text, mode)
            retime.setCurrentIndex(retime.findData(clip.retime))
            retime.setToolTip(f"The media runs at {float(media.fps):.3f} fps, the timeline at "
                              f"{float(fps):.3f}: show the nearest frame, or blend the two "
                              "around each timeline frame's time")
            retime.currentIndexChanged.connect(
                lambda _: self.run(cmd.SetClipRetime(clip.id, retime.currentData())))
            form.addRow("Retime", retime)
        for partner_track, _partner in project.linked(clip):
            unlink = QPushButton(f"Linked to {partner_track.name} — Unlink")
            unlink.clicked.connect(lambda: self.run(cmd.UnlinkClip(clip.id)))
            form.addRow("Link", unlink)
        form.addRow("Media", QLabel(f"{media.width}×{media.height} · {float(media.fps):.3f} fps"
                                    if media.has_video else "audio"))

    # --- effect ----------------------------------------------------------------------------

    def _effect(self, form: QFormLayout, title: QLabel, project: Project, effect: Effect
                ) -> None:
        title.setText(f"Effect · {effect_label(project, effect)}")
        try:
            spec = effect_spec(effect.type)
        except UserError as exc:
            form.addRow(QLabel(str(exc)))
            return
        description = QLabel(spec.description)
        description.setWordWrap(True)
        description.setObjectName("PaneHint")
        form.addRow(description)
        fps = project.timeline_fps()
        start, end = TimecodeSpin(effect.start, fps), TimecodeSpin(effect.end, fps, 1)
        start.valueChanged.connect(
            lambda v: self.run(cmd.SetEffectRange(effect.id, v, max(v + 1, effect.end))))
        end.valueChanged.connect(
            lambda v: self.run(cmd.SetEffectRange(effect.id, effect.start, v)))
        form.addRow("Start", start)
        form.addRow("End", end)
        form.addRow("Face track", self._face_target(project, effect))
        for param in spec.params:
            form.addRow(param.label, self._param_editor(project, effect, param))

    def _face_target(self, project: Project, effect: Effect) -> QComboBox:
        combo = QComboBox()
        combo.addItem("All faces", (None, None))
        for media_id in dict.fromkeys(c.media_id for _, c in project.clips()):
            analysis = self.session.analysis(media_id) if project.media[media_id].has_video \
                else None
            for track_id in sorted(analysis.tracks) if analysis is not None else []:
                combo.addItem(face_choice(project, FaceTrackRef(media_id, track_id)),
                              (media_id, track_id))
        if effect.face_track is not None:
            index = combo.findData((effect.media_id, effect.face_track))
            if index < 0:
                combo.addItem(face_choice(project, FaceTrackRef(effect.media_id,
                                                                effect.face_track)),
                              (effect.media_id, effect.face_track))
                index = combo.count() - 1
            combo.setCurrentIndex(index)
        combo.currentIndexChanged.connect(
            lambda i: self.run(cmd.SetEffectTarget(effect.id, *combo.itemData(i))))
        return combo

    def _param_editor(self, project: Project, effect: Effect, param: ParamSpec) -> QWidget:
        value = effect.params.get(param.name, param.default)

        def commit(new: Any) -> None:
            self.run(cmd.SetEffectParams(effect.id, {param.name: new}))

        def commit_model(new: Any) -> None:
            """A swap model also picks whom it renders, unless that was chosen already."""
            changes = {param.name: new}
            people = self.session.model_people(new)
            if "identity" in effect.params and people and \
                    effect.params.get("identity") not in people:
                changes["identity"] = people[0]
            self.run(cmd.SetEffectParams(effect.id, changes))

        if param.keyframable and param.kind in ("float", "int"):
            editor = KeyframedNumber(param, effect, commit, self.playhead())
            self._key_editors.append(editor)
            return editor
        if param.kind == "model":
            return model_picker(project, effect, value, commit_model, self.import_model)
        if effect.type == "face_swap" and param.name == "identity":
            return self._person_picker(effect, value, commit)
        if param.kind == "audio":
            return audio_picker(project, value, commit)
        if keyframes.is_animated(value):
            label = QLabel(f"keyframed ({len(keyframes.keys(value))} keys)")
            label.setObjectName("PaneHint")
            return label

        if param.kind in ("float", "int"):
            spin = number_spin(param)
            spin.setValue(value)
            spin.valueChanged.connect(commit)
            return spin
        if param.kind == "bool":
            box = QCheckBox()
            box.setChecked(bool(value))
            box.toggled.connect(commit)
            return box
        if param.kind == "str":
            line = QLineEdit(str(value))
            line.editingFinished.connect(lambda: commit(line.text()))
            return line
        combo = QComboBox()  # choice
        for choice in param.choices:
            combo.addItem(choice, choice)
        combo.setCurrentIndex(max(0, combo.findData(value)))
        combo.currentIndexChanged.connect(lambda i: commit(combo.itemData(i)))
        return combo

    def _person_picker(self, effect: Effect, value: Any, commit) -> QComboBox:
        """Whom a swap model renders: one of the people it was trained on."""
        combo = QComboBox()
        people = self.session.model_people(effect.params.get("model"))
        for person in people:
            combo.addItem(person, person)
        if value and value not in people:
            combo.addItem(f"{value} (not in the model)", value)
        combo.setCurrentIndex(max(0, combo.findData(value)))
        combo.currentIndexChanged.connect(lambda i: commit(combo.itemData(i)))
        return combo

    # --- face track ------------------------------------------------------------------------

    def _face(self, form: QFormLayout, title: QLabel, project: Project, media_id: str,
              track_id: int) -> None:
        ref = FaceTrackRef(media_id, track_id)
        title.setText(f"Face · {face_track_name(project, ref)}")
        form.addRow("Media", QLabel(Path(project.media[media_id].path).name))
        form.addRow("Face track", QLabel(f"{track_id}"))
        analysis = self.session.analysis(media_id)
        track = analysis.tracks.get(track_id) if analysis is not None else None
        if track is not None and len(track.frames):
            fps = project.timeline_fps()
            form.addRow("Seen in", QLabel(f"{len(track.frames)} frames of the media"))
            runs = face_spans_of(track.frames)
            shown = [(a, b) for on, clip in project.clips()
                     if on.kind == "video" and clip.media_id == media_id
                     for a, b in clip_face_spans(project, clip, runs)]
            form.addRow("On the timeline", QLabel("\n".join(
                f"{format_timecode(a, fps)} – {format_timecode(b, fps)}" for a, b in shown)
                or "not in a clip"))
        identity = project.identity_of_face_track(ref)
        form.addRow("Person", QLabel(identity.name if identity else "not assigned"))
        if identity is None and self.assign_face is not None:
            assign = QPushButton("Assign to a person…")
            assign.clicked.connect(lambda: self.assign_face(ref))
            form.addRow("", assign)
        combo = QComboBox()
        for spec in effect_specs():
            combo.addItem(spec.label, spec.type_id)
        button = QPushButton("Add effect on this face")
        button.clicked.connect(lambda: self.add_face_effect and self.add_face_effect(
            combo.currentData(), media_id, track_id))
        form.addRow("Effect", combo)
        form.addRow("", button)


def face_choice(project: Project, ref: FaceTrackRef) -> str:
    """A face in a list of faces: its name, and where it comes from once that is a person's
    name ("Anna — talk_a · face 0")."""
    name = face_track_name(project, ref)
    origin = f"{media_name(project, ref.media_id)} · face {ref.track_id}"
    return name if name == origin else f"{name} — {origin}"
