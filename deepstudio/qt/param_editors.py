"""Inspector editors that need the project: a model picker (with "Import model…"), a
dialogue-clip picker, numbers keyframed at the playhead, and timeline times as timecode.

Each editor calls ``commit(value)`` with the parameter's new value; the inspector turns that
into one SetEffectParams command.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QSpinBox,
    QToolButton,
    QWidget,
)

from deepstudio.core import keyframes
from deepstudio.core.effects import ParamSpec
from deepstudio.core.project import Effect, Project
from deepstudio.core.timecode import format_timecode, parse_timecode

MODEL_KINDS = {"face_swap": "faceswap", "lip_sync": "lipsync"}
"""The kind of model (ModelRef.kind) each effect type's "model" parameter takes."""
IMPORT = "\0import"

Commit = Callable[[Any], None]


def model_picker(project: Project, effect: Effect, value: Any, commit: Commit,
                 import_model: Callable[[str], str | None] | None) -> QComboBox:
    """Models of the kind the effect takes, and "Import model…" (``import_model(kind)``
    returns the new model's id, or None when the user gave up)."""
    kind = MODEL_KINDS.get(effect.type)
    combo = QComboBox()
    combo.addItem("None", None)
    for model in project.models.values():
        if kind is None or model.kind == kind:
            combo.addItem(model.name, model.id)
            combo.setItemData(combo.count() - 1, model.path, Qt.ItemDataRole.ToolTipRole)
    if value is not None and combo.findData(value) < 0:
        combo.addItem(f"missing model {value}", value)
    if import_model is not None and kind is not None:
        combo.insertSeparator(combo.count())
        combo.addItem("Import model…", IMPORT)
    current = max(0, combo.findData(value))
    combo.setCurrentIndex(current)

    def chosen(index: int) -> None:
        data = combo.itemData(index)
        if data != IMPORT:
            commit(data)
            return
        new = import_model(kind) if import_model is not None and kind is not None else None
        if new is None:
            combo.blockSignals(True)
            combo.setCurrentIndex(current)
            combo.blockSignals(False)
        else:
            commit(new)

    combo.currentIndexChanged.connect(chosen)
    return combo


def audio_picker(project: Project, value: Any, commit: Commit) -> QComboBox:
    """The clips with audio on audio tracks (the parameter stores the clip id)."""
    fps = float(project.timeline_fps())
    combo = QComboBox()
    combo.addItem("None", None)
    for track, clip in project.clips():
        if track.kind == "audio" and project.media[clip.media_id].has_audio:
            name = Path(project.media[clip.media_id].path).name
            combo.addItem(f"{name} · {track.name} at {clip.start / fps:.2f} s", clip.id)
    if value is not None and combo.findData(value) < 0:
        combo.addItem(f"missing clip {value}", value)
    combo.setCurrentIndex(max(0, combo.findData(value)))
    combo.currentIndexChanged.connect(lambda i: commit(combo.itemData(i)))
    return combo


class TimecodeSpin(QSpinBox):
    """A frame number shown and typed as timecode (``00:00:01:05``; a plain frame count is
    understood too), stepping one frame at a time."""

    def __init__(self, value: int, fps: Fraction, minimum: int = 0, maximum: int = 10**7,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fps = fps
        self.setRange(minimum, maximum)
        self.setValue(value)
        self.setKeyboardTracking(False)
        self.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToPreviousValue)
        self.setToolTip(f"{value} frames at {float(fps):g} fps; type a timecode or frames")

    def textFromValue(self, value: int) -> str:
        return format_timecode(value, self.fps)

    def valueFromText(self, text: str) -> int:
        frame = parse_timecode(text, self.fps)
        return self.value() if frame is None else frame

    def validate(self, text: str, pos: int):
        ok = all(c.isdigit() or c == ":" for c in text.strip())
        state = (QValidator.State.Acceptable if ok and parse_timecode(text, self.fps) is not None
                 else QValidator.State.Intermediate if ok else QValidator.State.Invalid)
        return state, text, pos


def number_spin(param: ParamSpec) -> QSpinBox | QDoubleSpinBox:
    """A spin box over the parameter's range (commits on Enter / focus out, not per key)."""
    low = param.minimum if param.minimum is not None else -1e6
    high = param.maximum if param.maximum is not None else 1e6
    if param.kind == "float":
        spin: QSpinBox | QDoubleSpinBox = QDoubleSpinBox()
        spin.setDecimals(3)
        spin.setSingleStep(0.05)
        spin.setRange(low, high)
    else:
        spin = QSpinBox()
        spin.setRange(int(low), int(high))
    spin.setKeyboardTracking(False)
    return spin


class KeyframedNumber(QWidget):
    """A number with a keyframe toggle (◆) at the playhead.

    Plain value: editing sets it; the toggle makes it animated with one key here.
    Animated value: the spin box shows the value at the playhead, editing sets a key here,
    the toggle adds or removes the key here (the last key removed leaves a plain value)."""

    def __init__(self, param: ParamSpec, effect: Effect, commit: Commit, frame: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.param = param
        self.effect = effect
        self.commit = commit
        self.value = effect.params.get(param.name, param.default)
        self.spin = number_spin(param)
        self.key = QToolButton()
        self.key.setText("◆")
        self.key.setCheckable(True)
        self.key.setAutoRaise(True)
        self.key.setObjectName(f"key-{param.name}")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.spin, 1)
        layout.addWidget(self.key)
        self.frame = 0
        self.sync(frame)
        self.spin.valueChanged.connect(self._edited)
        self.key.toggled.connect(self._toggled)

    def _relative(self, frame: int) -> int:
        return min(max(0, frame - self.effect.start), self.effect.end - self.effect.start - 1)

    def sync(self, frame: int) -> None:
        """Show the value and key state at timeline ``frame`` (no command is run)."""
        self.frame = self._relative(frame)
        ks = keyframes.keys(self.value)
        has_key = any(f == self.frame for f, _ in ks)
        for widget, setter, state in ((self.spin, self.spin.setValue,
                                       keyframes.value_at(self.value, self.frame)),
                                      (self.key, self.key.setChecked, has_key)):
            widget.blockSignals(True)
            setter(state)
            widget.blockSignals(False)
        self.key.setToolTip(f"{len(ks)} keyframe{'s' * (len(ks) != 1)}; "
                            + ("remove the key at the playhead" if has_key
                               else "add a key at the playhead") if ks
                            else "Animate: add a keyframe at the playhead")
        self.spin.setStyleSheet("QAbstractSpinBox { border-color: #c9a227; }" if has_key
                                else "")

    def _edited(self, number: float) -> None:
        number = int(number) if self.param.kind == "int" else float(number)
        if keyframes.is_animated(self.value):
            self.commit(keyframes.set_key(self.value, self.frame, number))
        else:
            self.commit(number)

    def _toggled(self, on: bool) -> None:
        if on:
            self.commit(keyframes.set_key(self.value, self.frame,
                                          keyframes.value_at(self.value, self.frame)))
        else:
            self.commit(keyframes.remove_key(self.value, self.frame))
