"""The export dialog: range, codec, quality and audio, and the disclosure every render
carries (content credentials and an invisible watermark; not optional).

Before anything starts, the dialog lists every problem of the timeline (effects without a
model, people without consent: engine.problems) in the user's words, and Export stays off
until they are fixed, so a render never fails on the first of them minutes later."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from deepstudio.engine.disclosure import LabelSettings, Problem
from deepstudio.media.encode import EXTENSIONS, EncodeSettings
from deepstudio.provenance.label import DEFAULT_TEXT

CODEC_LABELS = {"h264": "H.264 (MP4)", "h265": "H.265 / HEVC (MP4)", "prores": "ProRes (MOV)",
                "png": "PNG image sequence"}
PRESETS = ("ultrafast", "veryfast", "fast", "medium", "slow")
DISCLOSURE = ("Every export discloses that it contains synthetic media:\n"
              "•  Content Credentials (C2PA manifest, signed): what was altered, by which "
              "effects, with whose recorded consent\n"
              "•  Invisible watermark in the picture, readable after re-encoding\n"
              "Both are always embedded and cannot be switched off.")
CORNERS = (("Bottom right", "bottom-right"), ("Bottom left", "bottom-left"),
           ("Top right", "top-right"), ("Top left", "top-left"))


class ExportDialog(QDialog):
    def __init__(self, default_output: Path, duration: int, marks: tuple[int | None, int | None],
                 parent: QWidget | None = None, problems: list[Problem] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.setMinimumWidth(520)
        self.duration = duration
        self.marks = marks
        self.output = QLineEdit(str(default_output))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.output, 1)
        path_row.addWidget(browse)
        self.whole = QRadioButton(f"Whole timeline ({duration} frames)")
        self.marked = QRadioButton("Between in and out marks")
        self.whole.setChecked(True)
        has_marks = marks[0] is not None or marks[1] is not None
        self.marked.setEnabled(has_marks)
        if has_marks:
            a, b = self._marked_range()
            self.marked.setText(f"Between in and out marks (frames {a}–{b})")
            self.marked.setChecked(True)
        self.codec = QComboBox()
        for codec, label in CODEC_LABELS.items():
            self.codec.addItem(label, codec)
        self.codec.currentIndexChanged.connect(self._codec_changed)
        self.quality = QSpinBox()
        self.quality.setRange(0, 51)
        self.quality.setValue(18)
        self.quality.setToolTip("Constant rate factor: lower is better quality, larger files")
        self.preset = QComboBox()
        self.preset.addItems(PRESETS)
        self.preset.setCurrentText("medium")
        self.audio = QComboBox()
        self.audio.addItem("AAC", "aac")
        self.audio.addItem("Copy source stream", "copy")
        self.audio.addItem("No audio", "none")
        form = QFormLayout()
        form.addRow("Output", path_row)
        form.addRow("Range", self.whole)
        form.addRow("", self.marked)
        form.addRow("Codec", self.codec)
        form.addRow("Quality (CRF)", self.quality)
        form.addRow("Speed", self.preset)
        form.addRow("Audio", self.audio)
        disclosure = QLabel(DISCLOSURE)
        disclosure.setObjectName("Disclosure")
        disclosure.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        self.export_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.export_button.setText("Export")
        buttons.accepted.connect(self.accept)
        self.to_queue = False
        """True when the user chose "Add to Queue" (render later, with the batch queue)."""
        queue = buttons.addButton("Add to Queue", QDialogButtonBox.ButtonRole.ActionRole)
        queue.setToolTip("Render later from the Queue pane (the saved project is rendered)")
        queue.clicked.connect(self._queue)
        buttons.rejected.connect(self.reject)
        self.problems = list(problems or [])
        layout = QVBoxLayout(self)
        if self.problems:
            layout.addWidget(self._problem_list())
            self.export_button.setEnabled(False)
            self.export_button.setToolTip("Fix the problems listed above first")
        layout.addLayout(form)
        layout.addWidget(disclosure)
        layout.addWidget(self._label_box())
        layout.addWidget(buttons)

    def _problem_list(self) -> QTextBrowser:
        """The problems grouped by effect, in timeline order (scrolls when there are many)."""
        grouped: dict[str, list[str]] = {}
        for problem in self.problems:
            grouped.setdefault(problem.where, []).append(problem.what)
        count = len(self.problems)
        body = "".join(f"<p style='margin: 6px 0 0 0'><b>{html.escape(where)}</b></p><ul "
                       "style='margin: 0 0 0 -24px'>"
                       + "".join(f"<li>{html.escape(w)}</li>" for w in whats) + "</ul>"
                       for where, whats in grouped.items())
        box = QTextBrowser()
        box.setObjectName("ExportProblems")
        box.setHtml(f"<b>{count} problem{'s' * (count > 1)} to fix before exporting:</b>"
                    + body)
        box.setStyleSheet("QTextBrowser { color: #ffd0cc; background: #3d1a1a; "
                          "border: 1px solid #e5645c; border-radius: 4px; padding: 4px; }")
        box.setMinimumHeight(min(70 + 34 * count + 20 * len(grouped), 260))
        return box

    def problem_texts(self) -> list[str]:
        return [p.text for p in self.problems]

    def _label_box(self) -> QGroupBox:
        """The optional visible label (it changes the picture, so the user chooses)."""
        self.label_box = QGroupBox("Also burn in a visible label")
        self.label_box.setCheckable(True)
        self.label_box.setChecked(False)
        self.label_text = QLineEdit(DEFAULT_TEXT)
        self.label_corner = QComboBox()
        for text, corner in CORNERS:
            self.label_corner.addItem(text, corner)
        self.label_opacity = QDoubleSpinBox()
        self.label_opacity.setRange(0.1, 1.0)
        self.label_opacity.setSingleStep(0.05)
        self.label_opacity.setValue(LabelSettings().opacity)
        form = QFormLayout(self.label_box)
        form.addRow("Text", self.label_text)
        form.addRow("Corner", self.label_corner)
        form.addRow("Opacity", self.label_opacity)
        return self.label_box

    def label_settings(self) -> LabelSettings | None:
        if not self.label_box.isChecked():
            return None
        return LabelSettings(self.label_text.text().strip() or DEFAULT_TEXT,
                             self.label_corner.currentData(), self.label_opacity.value())

    def _marked_range(self) -> tuple[int, int]:
        a, b = self.marks
        return (a or 0, b if b is not None else self.duration)

    def _codec_changed(self) -> None:
        codec = self.codec.currentData()
        lossy = codec in ("h264", "h265")
        self.quality.setEnabled(lossy)
        self.preset.setEnabled(lossy)
        path = Path(self.output.text())
        suffix = EXTENSIONS[codec]
        self.output.setText(str(path.with_suffix(suffix) if suffix else path.with_suffix("")))

    def _queue(self) -> None:
        self.to_queue = True
        self.accept()

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.output.text())
        if path:
            self.output.setText(path)

    def frame_range(self) -> tuple[int, int]:
        return self._marked_range() if self.marked.isChecked() else (0, self.duration)

    def encode_settings(self) -> EncodeSettings:
        return EncodeSettings(codec=self.codec.currentData(), quality=self.quality.value(),
                              preset=self.preset.currentText(), audio=self.audio.currentData())

    def render_request(self):
        """(output path, RenderSettings) as chosen."""
        from deepstudio.engine.render import RenderSettings

        start, end = self.frame_range()
        return Path(self.output.text()), RenderSettings(start, end, self.encode_settings(),
                                                        self.label_settings())
