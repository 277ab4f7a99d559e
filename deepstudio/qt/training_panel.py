"""The training panel: start (or resume) a training job and watch it: iterations, speed, ETA,
loss curves and the trainer's preview grid. A face-swap model learns from two facesets; a
lip-sync model from a speaker's face track in a video with its sound.

Stopping cancels the job; the trainer saves a checkpoint when cancelled, so starting again
with the same model name resumes from it. Job updates reach :meth:`TrainingPanel.job_changed`
on the main thread (the window forwards them from the bridge).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from deepstudio.errors import ConsentError, UserError
from deepstudio.qt.faceset_view import faceset_folders, read_faceset_meta
from deepstudio.qt.images import qimage_from_rgb
from deepstudio.qt.jobs_pane import format_eta

RESOLUTIONS = (32, 48, 64, 96, 128, 160, 192, 256)
DEFAULT_RESOLUTION = 64
"""On the CPU larger faces train too slowly to be useful (0.33 s/iter at 64 px, 6.5 at 128)."""
DEVICES = (("Auto", "auto"), ("CPU", "cpu"), ("CUDA GPU", "cuda"))
CURVE_COLOURS = [QColor(c) for c in ("#3d8ee6", "#ff9f43", "#5cc98a", "#e5645c", "#b084f5",
                                     "#f5d142")]
_MESSAGE = re.compile(r"iteration (\d+)/(\d+), ([\d.]+) it/s(?:, (.*))?$")


@dataclass(frozen=True)
class TrainFigures:
    """What one progress report of the trainer says."""

    iteration: int
    total: int
    iters_per_s: float
    losses: dict[str, float] = field(default_factory=dict)


def train_figures(job) -> TrainFigures | None:
    """The figures of a training job's last report: from ``job.progress`` (a TrainProgress)
    when the job keeps it, else parsed from the trainer's message."""
    progress = getattr(job, "progress", None)
    if progress is not None and hasattr(progress, "iteration"):
        return TrainFigures(progress.iteration, progress.total_iterations,
                            progress.iters_per_s, dict(progress.losses))
    found = _MESSAGE.search(job.message or "")
    if found is None:
        return None
    losses = {}
    for part in (found.group(4) or "").split(", "):
        name, _, value = part.rpartition(" ")
        try:
            losses[name] = float(value)
        except ValueError:
            continue
    return TrainFigures(int(found.group(1)), int(found.group(2)), float(found.group(3)), losses)


def card_history(model_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Loss curves a model card recorded in earlier runs (empty for a new model)."""
    try:
        entries = json.loads((model_dir / "card.json").read_text("utf-8")).get(
            "loss_history", [])
    except (OSError, ValueError, AttributeError):
        return {}
    curves: dict[str, list[tuple[int, float]]] = {}
    for entry in entries if isinstance(entries, list) else []:
        iteration = int(entry.get("iteration", 0))
        for name, value in entry.items():
            if name != "iteration":
                curves.setdefault(name, []).append((iteration, float(value)))
    return curves


class LossPlot(QWidget):
    """Loss curves over iterations (linear axes, auto-scaled), with a legend."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.curves: dict[str, list[tuple[int, float]]] = {}
        self.setMinimumHeight(150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_curves(self, curves: dict[str, list[tuple[int, float]]]) -> None:
        self.curves = curves
        self.update()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#111214"))
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        plot = QRectF(self.rect()).adjusted(44, 26, -10, -22)  # legend above, axis below
        points = [p for curve in self.curves.values() for p in curve]
        painter.setPen(QPen(QColor("#2c2e33"), 1))
        for k in range(5):
            y = plot.top() + plot.height() * k / 4
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        if not points:
            painter.setPen(QColor("#6b6e74"))
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter, "Loss curves appear here")
            painter.end()
            return
        xs = np.array([p[0] for p in points], dtype=float)
        ys = np.array([p[1] for p in points], dtype=float)
        x0, x1 = xs.min(), max(xs.max(), xs.min() + 1)
        y0, y1 = float(np.percentile(ys, 1)), float(np.percentile(ys, 99))
        y0, y1 = min(y0, ys.min()), max(y1, y0 + 1e-6)

        def at(x: float, y: float) -> QPointF:
            return QPointF(plot.left() + (x - x0) / (x1 - x0) * plot.width(),
                           plot.bottom() - (min(max(y, y0), y1) - y0) / (y1 - y0) * plot.height())

        painter.setPen(QColor("#8a8e95"))
        for k in range(5):
            value = y1 - (y1 - y0) * k / 4
            y = plot.top() + plot.height() * k / 4
            painter.drawText(QRectF(0, y - 8, plot.left() - 6, 16),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             f"{value:.3g}")
        painter.drawText(QRectF(plot.left(), plot.bottom() + 4, plot.width(), 16),
                         Qt.AlignmentFlag.AlignLeft, f"{int(x0)}")
        painter.drawText(QRectF(plot.left(), plot.bottom() + 4, plot.width(), 16),
                         Qt.AlignmentFlag.AlignRight, f"iteration {int(x1)}")
        legend_x = plot.left() + 8
        for index, (name, curve) in enumerate(sorted(self.curves.items())):
            colour = CURVE_COLOURS[index % len(CURVE_COLOURS)]
            painter.setPen(QPen(colour, 1.6))
            path = QPainterPath(at(*curve[0]))
            for point in curve[1:]:
                path.lineTo(at(*point))
            if len(curve) == 1:
                painter.drawEllipse(at(*curve[0]), 2, 2)
            painter.drawPath(path)
            painter.drawLine(QPointF(legend_x, 12), QPointF(legend_x + 14, 12))
            painter.drawText(QPointF(legend_x + 18, 16), name)
            legend_x += 26 + painter.fontMetrics().horizontalAdvance(name)
        painter.end()


class PreviewImage(QLabel):
    """The trainer's preview grid, scaled to fit while keeping its aspect."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source: QPixmap | None = None
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setStyleSheet("QLabel { background: #111214; color: #6b6e74; }")
        self.setText("Preview: source · target · swapped")

    def set_image(self, rgb: np.ndarray) -> None:
        self.source = QPixmap.fromImage(qimage_from_rgb(rgb))
        self._fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self.source is not None:
            self.setPixmap(self.source.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.SmoothTransformation))


def _figure(title: str) -> tuple[QWidget, QLabel]:
    box = QWidget()
    box.setStyleSheet("QWidget#Figure { background: #202226; border: 1px solid #2c2e33; "
                      "border-radius: 4px; }")
    box.setObjectName("Figure")
    value = QLabel("–")
    value.setStyleSheet("font-size: 15px; font-weight: 600; color: #e8eaee; border: none;")
    caption = QLabel(title)
    caption.setStyleSheet("color: #8a8e95; border: none;")
    layout = QVBoxLayout(box)
    layout.setContentsMargins(8, 4, 8, 4)
    layout.setSpacing(0)
    layout.addWidget(value)
    layout.addWidget(caption)
    return box, value


KINDS = (("Face swap", "faceswap"), ("Lip-sync", "lipsync"))


def _sync_advice_text(model_dir: Path) -> str:
    """For a lip-sync model whose footage looked out of sync: what to set and retrain."""
    from deepstudio.engine.av_sync import sync_advice

    try:
        card = json.loads((model_dir / "card.json").read_text("utf-8"))
        footage = card.get("training_data", {}).get("footage", [])
    except (OSError, ValueError, AttributeError):
        return ""
    advice = [a for item in footage if isinstance(item, dict) and (a := sync_advice(item))]
    return "".join(f"\n{a.text}: set Sound delay to {a.sound_delay} frames and train again."
                   for a in advice)


def speaker_tracks(session) -> list[tuple[str, tuple[str, int, str]]]:
    """(label, (media id, track id, identity id)) of every face track assigned to a person:
    the footage a lip-sync model can learn that person's mouth from."""
    found = []
    for identity in session.project.identities.values():
        for ref in identity.face_tracks:
            media = session.project.media.get(ref.media_id)
            if media is not None:
                found.append((f"{identity.name} · {Path(media.path).name} · face "
                              f"{ref.track_id}", (ref.media_id, ref.track_id, identity.id)))
    return found


class TrainingPanel(QWidget):
    """Train a face-swap model from two facesets, or a lip-sync model from a speaker's
    footage, of the project."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = None
        self.job = None
        self.refused: Callable[[str], None] = lambda message: None
        self.error: Callable[[str], None] = lambda message: None
        self.curves: dict[str, list[tuple[int, float]]] = {}
        self._preview_shown = None
        self.kind = QComboBox()
        self.kind.setObjectName("TrainKind")
        for text, value in KINDS:
            self.kind.addItem(text, value)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.source = QComboBox()
        self.target = QComboBox()
        for combo in (self.source, self.target):
            combo.setMinimumContentsLength(16)
            combo.currentIndexChanged.connect(self._update_buttons)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. alice_to_bea")
        self.name.textChanged.connect(self._update_buttons)
        self.iterations = QSpinBox()
        self.iterations.setRange(1, 10_000_000)
        self.iterations.setSingleStep(1000)
        self.iterations.setValue(10_000)
        self.iterations.setToolTip("Total iterations of the model (resumed ones count)")
        self.resolution = QComboBox()
        for size in RESOLUTIONS:
            self.resolution.addItem(f"{size} px", size)
        self.resolution.setCurrentIndex(RESOLUTIONS.index(DEFAULT_RESOLUTION))
        self.resolution.setToolTip("Face size the model learns (new models only). 64 px "
                                   "trains at about 3 it/s on a CPU; 128 px wants a GPU.")
        self.sound_delay = QSpinBox()
        self.sound_delay.setRange(-50, 50)
        self.sound_delay.setSuffix(" frames")
        self.sound_delay.setToolTip("Out-of-sync footage: how many frames its sound comes after "
                                    "its picture (negative: before). Training corrects it.")
        self.device = QComboBox()
        for text, value in DEVICES:
            self.device.addItem(text, value)
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("TrainStart")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop and save a checkpoint; Resume continues from it")
        self.stop_button.clicked.connect(self.stop)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Model", self.kind)
        form.addRow("Source face", self.source)
        form.addRow("Onto target", self.target)
        self.form = form
        form.addRow("Model name", self.name)
        form.addRow("Iterations", self.iterations)  # one per row: the pane stays narrow
        form.addRow("Face size", self.resolution)
        form.addRow("Device", self.device)
        form.addRow("Sound delay", self.sound_delay)
        form.setRowVisible(self.sound_delay, False)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.start_button)
        form.addRow("", buttons)

        figures = QGridLayout()
        figures.setSpacing(6)
        self.figures: dict[str, QLabel] = {}
        for column, (key, title) in enumerate((("iteration", "iteration"),
                                               ("speed", "iterations / s"),
                                               ("eta", "remaining"))):
            box, value = _figure(title)
            self.figures[key] = value
            figures.addWidget(box, 0, column)
        self.status = QLabel("Pick a source and a target faceset.")
        self.status.setObjectName("PaneHint")
        self.status.setWordWrap(True)
        self.plot = LossPlot()
        self.preview = PreviewImage()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(form)
        layout.addLayout(figures)
        layout.addWidget(self.status)
        layout.addWidget(self.plot, 2)
        layout.addWidget(self.preview, 3)
        self._update_buttons()

    # --- project ---------------------------------------------------------------------------

    def set_session(self, session) -> None:
        self.session = session
        self.job = None
        self.refresh()

    @property
    def lipsync(self) -> bool:
        return self.kind.currentData() == "lipsync"

    def _kind_changed(self) -> None:
        self.form.labelForField(self.source).setText("Speaker" if self.lipsync
                                                     else "Source face")
        self.form.setRowVisible(self.target, not self.lipsync)
        self.form.setRowVisible(self.sound_delay, self.lipsync)
        self.form.setRowVisible(self.resolution, not self.lipsync)  # lip-sync: 64 px on a
        # CPU, 96 on CUDA
        self.name.setPlaceholderText("e.g. tess_lips" if self.lipsync else "e.g. alice_to_bea")
        self.source.clear()
        self.refresh()

    def refresh(self) -> None:
        """Re-list the project's facesets, or its people's face tracks for lip-sync (keeping
        the choices)."""
        if self.session is None:
            return
        if self.lipsync:
            keep = self.source.currentData()
            self.source.blockSignals(True)
            self.source.clear()
            for label, data in speaker_tracks(self.session):
                self.source.addItem(label, data)
            index = self.source.findData(keep)
            self.source.setCurrentIndex(index if index >= 0 else min(0, self.source.count() - 1))
            self.source.blockSignals(False)
            self._update_buttons()
            return
        folders = faceset_folders(self.session)
        for combo in (self.source, self.target):
            keep = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for folder in folders:
                meta = read_faceset_meta(folder) or {}
                combo.addItem(f"{meta.get('identity', '?')} · {folder.name} "
                              f"({len(meta.get('faces', []))} faces)", str(folder))
            index = combo.findData(keep)
            combo.setCurrentIndex(index if index >= 0 else -1)
            combo.blockSignals(False)
        if self.source.currentIndex() < 0 and folders:
            self.source.setCurrentIndex(0)
        if self.target.currentIndex() < 0 and len(folders) > 1:
            self.target.setCurrentIndex(1)
        self._update_buttons()

    def choose(self, source: Path, target: Path, name: str) -> None:
        self.source.setCurrentIndex(self.source.findData(str(source)))
        self.target.setCurrentIndex(self.target.findData(str(target)))
        self.name.setText(name)

    def model_dir(self) -> Path | None:
        from deepstudio.session import slug

        name = self.name.text().strip()
        if self.session is None or self.session.paths is None or not name:
            return None
        return self.session.paths.models / f"{slug(name)}.dsmodel"

    def _resumable(self) -> bool:
        folder = self.model_dir()
        return folder is not None and (folder / "card.json").is_file()

    @property
    def running(self) -> bool:
        return self.job is not None and not self.job.finished

    def start_blocker(self) -> str | None:
        """Why Start is off (for its tooltip), or None when training can start."""
        if self.session is None:
            return "Open a project first."
        if self.running:
            return "A training is running: Stop it first."
        if self.lipsync and self.source.count() == 0:
            return ("Assign a face track to a person first (Identities ▸ Assign face): a "
                    "lip-sync model learns from a person's footage.")
        if not self.lipsync and self.source.count() < 2:
            return (f"Extract a faceset of each person first (Identities ▸ Extract faceset): "
                    f"face swap needs two, the project has {self.source.count()}.")
        if self.source.currentData() is None or (
                not self.lipsync and self.target.currentData() in (None,
                                                                   self.source.currentData())):
            return "Choose a source and a different target faceset."
        if not self.name.text().strip():
            return "Name the model."
        return None

    def _update_buttons(self) -> None:
        blocker = self.start_blocker()
        self.start_button.setText("Resume" if self._resumable() else "Start")
        self.start_button.setEnabled(blocker is None)
        self.start_button.setToolTip(blocker or ("Continue training from the last checkpoint"
                                                 if self._resumable() else "Start training"))
        if self.job is None:  # nothing to report yet: say what is missing
            self.status.setText(blocker or "Ready to train.")
        self.stop_button.setEnabled(self.running and not self.job.cancel_requested)
        for widget in (self.kind, self.source, self.target, self.name, self.iterations,
                       self.resolution, self.sound_delay, self.device):
            widget.setEnabled(not self.running)

    # --- running ---------------------------------------------------------------------------

    def start(self):
        """Start (or resume) training as chosen; the job, or None when refused."""
        if self.session is None or self.running:
            return None
        model_dir = self.model_dir()
        resuming = self._resumable()
        try:
            if self.lipsync:
                media_id, track_id, identity_id = self.source.currentData()
                job = self.session.train_lipsync(media_id, track_id, identity_id,
                                                 self.name.text().strip(),
                                                 self.iterations.value(),
                                                 self.device.currentData(),
                                                 self.sound_delay.value())
            else:
                job = self.session.train_faceswap(
                    Path(self.source.currentData()), Path(self.target.currentData()),
                    self.name.text().strip(),
                    self.iterations.value(), self.resolution.currentData(),
                    self.device.currentData())
        except ConsentError as exc:
            self.status.setText(str(exc))
            self.refused(str(exc))
            return None
        except (UserError, ValueError) as exc:
            self.status.setText(str(exc))
            self.error(str(exc))
            return None
        self.job = job
        self.curves = card_history(model_dir) if resuming and model_dir else {}
        self.plot.set_curves(self.curves)
        self._preview_shown = None
        self.status.setText("Resuming from the last checkpoint…" if resuming
                            else "Reading the footage and building the model…" if self.lipsync
                            else "Loading facesets and building the model…")
        self._update_buttons()
        return job

    def stop(self) -> None:
        if self.running:
            self.job.cancel()
            self.status.setText("Stopping: saving a checkpoint…")
            self._update_buttons()

    def job_changed(self, job) -> None:
        """Show a job update (main thread); updates of other jobs are ignored."""
        if job is not self.job:
            return
        figures = train_figures(job)
        if figures is not None:
            self.figures["iteration"].setText(f"{figures.iteration:,} / {figures.total:,}")
            self.figures["speed"].setText(f"{figures.iters_per_s:.2f}")
            for name, value in figures.losses.items():
                curve = self.curves.setdefault(name, [])
                if not curve or curve[-1][0] < figures.iteration:
                    curve.append((figures.iteration, value))
            self.plot.set_curves(self.curves)
        self.figures["eta"].setText(format_eta(job.eta_s).replace(" left", "")
                                    if job.status == "running" else "–")
        if job.preview is not None and job.preview is not self._preview_shown:
            self._preview_shown = job.preview
            self.preview.set_image(job.preview)
        if job.status == "running" and not job.cancel_requested:
            self.status.setText(job.message or "Training…")
        elif job.finished:
            self.status.setText(self._finished_text(job))
        self._update_buttons()

    def _finished_text(self, job) -> str:
        result = job.result
        if job.status == "done" and result is not None and getattr(result, "cancelled", False):
            return (f"Stopped at iteration {result.iterations:,}; checkpoint saved. "
                    "Resume continues from it.")
        if job.status == "done" and result is not None:
            return (f"Finished: {result.iterations:,} iterations, saved in "
                    f"{result.model_dir.name}" + _sync_advice_text(result.model_dir))
        if job.status == "cancelled":
            return "Stopped before the first iteration."
        return job.error or f"Training {job.status}"
