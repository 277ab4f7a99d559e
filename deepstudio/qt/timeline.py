"""The timeline: ruler, video/effect/face/audio lanes, playhead, and clip editing by mouse.

Overlapping effects sit on rows of their own in the effects lane; an effect that cannot be
exported as placed (no model, no consent: see engine.problems) is outlined in red with its
problem written on its bar and in its tooltip. Face-track segments carry the face's name
("multi_a · face 2", or the person assigned to it).

Every edit is a core command sent through ``document.do`` (a Session, or anything with
``.project`` and ``.do(command)``), so it is undoable; the view repaints when the window
tells it the project changed. During a drag only a ghost is drawn: the command runs on
release.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
    QPolygonF,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

from deepstudio.core import commands as cmd
from deepstudio.core.names import effect_target, effect_type_label, face_track_name
from deepstudio.core.project import Clip, Effect, FaceTrackRef, Project, Track
from deepstudio.core.timecode import format_short, ruler_step
from deepstudio.engine.disclosure import Problem
from deepstudio.errors import UserError
from deepstudio.qt import theme
from deepstudio.qt.faces import clip_face_spans
from deepstudio.qt.media_cache import MediaCache

MEDIA_MIME = "application/x-deepstudio-media"
PROBLEM = QColor("#ff5a4f")

HEADER_W = 136
RULER_H = 30
LANE_H = {"video": 58, "audio": 50}
FX_ROW_H = 22
FACE_ROW_H = 18
LANE_PAD = 4
EDGE_PX = 6
SNAP_PX = 8

LaneKind = Literal["video", "fx", "faces", "audio"]
FaceSpans = dict[int, list[tuple[int, int]]]
"""Face-track id → ranges ``[first, last+1)`` of media frames where the face is tracked."""


class Document(Protocol):
    project: Project

    def do(self, command: cmd.Command) -> Any: ...


@dataclass
class Lane:
    kind: LaneKind
    track: Track
    top: int
    height: int
    face_ids: tuple[int, ...] = ()
    effect_rows: dict[str, int] = field(default_factory=dict)
    """fx lanes: the row of each effect of the track (overlapping effects never share one)."""


@dataclass
class Drag:
    mode: Literal["move", "trim_in", "trim_out", "scrub"]
    item: Clip | Effect | None
    origin_frame: int
    start: int = 0
    end: int = 0
    track_id: str | None = None
    snapped_at: int | None = None


Selection = tuple[str, Any] | None
"""("clip", id) | ("effect", id) | ("face", (media_id, face_track_id)) | None"""


class TimelineView(QWidget):
    seek_requested = Signal(int)
    selection_changed = Signal(object)
    error = Signal(str)
    media_dropped = Signal(str, str, int)  # media id, track id, start frame

    def __init__(self, cache: MediaCache | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document: Document | None = None
        self.cache = cache
        self.face_spans: Callable[[str], FaceSpans | None] = lambda media_id: None
        self._static: QPixmap | None = None
        self._ppf = 4.0
        self._scroll = 0.0
        self.playhead = 0
        self.marks: tuple[int | None, int | None] = (None, None)
        self.snapping = True
        self.selection: Selection = None
        self.problems: dict[str, list[Problem]] = {}
        """Effect id → what keeps it from exporting as placed (the window keeps it current)."""
        self._drag: Drag | None = None
        self._drop_frame: int | None = None
        self.setMouseTracking(True)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setMinimumHeight(RULER_H + 120)
        if cache is not None:
            cache.updated.connect(lambda _id: self.invalidate())

    # --- state -------------------------------------------------------------------------

    def set_document(self, document: Document | None) -> None:
        self.document = document
        self.selection = None
        self.refresh()

    def refresh(self) -> None:
        """Re-read the project (call after a change set)."""
        if self.selection and not self._exists(self.selection):
            self.select(None)
        self.setMinimumHeight(max(RULER_H + 120, self._lanes_bottom() + 8))
        self.invalidate()

    def set_problems(self, problems: dict[str, list[Problem]]) -> None:
        self.problems = problems
        self.invalidate()

    def set_playhead(self, frame: int) -> None:
        """Move the playhead: only the cached lanes and the playhead line are drawn again."""
        if frame != self.playhead:
            self.playhead = frame
            self.update()

    def invalidate(self) -> None:
        """Something other than the playhead changed: draw the lanes again."""
        self._static = None
        self.update()

    @property
    def pixels_per_frame(self) -> float:
        return self._ppf

    @pixels_per_frame.setter
    def pixels_per_frame(self, value: float) -> None:
        self._ppf = value
        self.invalidate()

    @property
    def scroll_frames(self) -> float:
        return self._scroll

    @scroll_frames.setter
    def scroll_frames(self, value: float) -> None:
        self._scroll = value
        self.invalidate()

    def set_marks(self, mark_in: int | None, mark_out: int | None) -> None:
        self.marks = (mark_in, mark_out)
        self.invalidate()

    def set_zoom(self, pixels_per_frame: float, anchor_x: float | None = None) -> None:
        """Zoom keeping the frame under ``anchor_x`` (default: the playhead) in place."""
        pixels_per_frame = min(40.0, max(0.02, pixels_per_frame))
        if anchor_x is None:
            anchor_x = self.x_of(self.playhead)
        anchor = self.frame_at(anchor_x, exact=True)
        self.pixels_per_frame = pixels_per_frame
        self.scroll_frames = max(0.0, anchor - (anchor_x - HEADER_W) / pixels_per_frame)
        self.invalidate()

    def zoom_to_fit(self) -> None:
        project = self.project
        frames = max(project.duration_frames() if project else 0, 25)
        self.pixels_per_frame = max(0.02, (self.width() - HEADER_W - 24) / (frames * 1.05))
        self.scroll_frames = 0.0
        self.invalidate()

    def select(self, selection: Selection) -> None:
        if selection != self.selection:
            self.selection = selection
            self.selection_changed.emit(selection)
            self.invalidate()

    @property
    def project(self) -> Project | None:
        return self.document.project if self.document is not None else None

    def _exists(self, selection: tuple[str, Any]) -> bool:
        project = self.project
        if project is None:
            return False
        kind, key = selection
        if kind == "clip":
            return any(c.id == key for _, c in project.clips())
        if kind == "effect":
            return key in project.effects
        return key[0] in project.media

    # --- geometry ------------------------------------------------------------------------

    def x_of(self, frame: float) -> float:
        return HEADER_W + (frame - self.scroll_frames) * self.pixels_per_frame

    def frame_at(self, x: float, exact: bool = False) -> float:
        f = (x - HEADER_W) / self.pixels_per_frame + self.scroll_frames
        return f if exact else max(0, round(f))

    def lanes(self) -> list[Lane]:
        project = self.project
        if project is None:
            return []
        lanes: list[Lane] = []
        top = RULER_H
        for track in project.tracks:
            if track.kind == "video":
                face_ids = self._face_ids(track)
                rows = effect_rows([e for e in project.effects.values()
                                    if e.track_id == track.id])
                fx_height = LANE_PAD + max(1, max(rows.values(), default=0) + 1) * FX_ROW_H
                faces_height = LANE_PAD + max(1, len(face_ids)) * FACE_ROW_H
                lanes.append(Lane("video", track, top, LANE_H["video"]))
                lanes.append(Lane("fx", track, top + LANE_H["video"], fx_height,
                                  effect_rows=rows))
                lanes.append(Lane("faces", track, top + LANE_H["video"] + fx_height,
                                  faces_height, face_ids))
                top += LANE_H["video"] + fx_height + faces_height
            else:
                lanes.append(Lane("audio", track, top, LANE_H["audio"]))
                top += LANE_H["audio"]
        return lanes

    def _lanes_bottom(self) -> int:
        lanes = self.lanes()
        return lanes[-1].top + lanes[-1].height if lanes else RULER_H

    def _face_ids(self, track: Track) -> tuple[int, ...]:
        ids: set[int] = set()
        for clip in track.clips:
            ids.update((self.face_spans(clip.media_id) or {}).keys())
        return tuple(sorted(ids))

    @staticmethod
    def mute_rect(lane: Lane) -> QRectF:
        """The mute toggle in an audio track's header."""
        return QRectF(HEADER_W - 30, lane.top + 8, 22, 18)

    def lane_at(self, y: float) -> Lane | None:
        for lane in self.lanes():
            if lane.top <= y < lane.top + lane.height:
                return lane
        return None

    def clip_rect(self, lane: Lane, start: int, end: int) -> QRectF:
        x0, x1 = self.x_of(start), self.x_of(end)
        return QRectF(x0, lane.top + 2, max(2.0, x1 - x0), lane.height - 4)

    def effect_rect(self, lane: Lane, effect: Effect, start: int | None = None,
                    end: int | None = None) -> QRectF:
        """The bar of ``effect`` on its row of an fx lane (optionally at another range)."""
        x0 = self.x_of(effect.start if start is None else start)
        x1 = self.x_of(effect.end if end is None else end)
        row = lane.effect_rows.get(effect.id, 0)
        return QRectF(x0, lane.top + LANE_PAD / 2 + row * FX_ROW_H, max(2.0, x1 - x0),
                      FX_ROW_H - 3)

    def face_row_top(self, lane: Lane, face_id: int) -> float:
        return lane.top + LANE_PAD / 2 + lane.face_ids.index(face_id) * FACE_ROW_H

    def face_segments(self, lane: Lane) -> list[tuple[int, str, int, int]]:
        """(face id, media id, timeline start, timeline end) of every tracked stretch shown
        in a faces lane (clipped to the clips that show it)."""
        project = self.project
        if project is None:
            return []
        return [(face_id, clip.media_id, a, b) for clip in lane.track.clips
                for face_id, spans in (self.face_spans(clip.media_id) or {}).items()
                for a, b in clip_face_spans(project, clip, spans)]

    def face_name(self, media_id: str, face_id: int) -> str:
        """What a face segment says: "multi_a · face 2", or the person assigned to it."""
        return face_track_name(self.project, FaceTrackRef(media_id, face_id))

    def item_at(self, x: float, y: float) -> tuple[Lane, Clip | Effect | None, str]:
        """The lane, the clip/effect under (x, y) and the grip: 'in', 'out' or 'body'."""
        lane = self.lane_at(y)
        if lane is None or x < HEADER_W:
            return lane, None, ""  # type: ignore[return-value]
        items: list[Clip | Effect] = []
        if lane.kind in ("video", "audio"):
            items = list(lane.track.clips)
        elif lane.kind == "fx" and self.project is not None:
            row = int((y - lane.top - LANE_PAD / 2) // FX_ROW_H)
            items = [e for e in self.project.effects.values() if e.track_id == lane.track.id
                     and lane.effect_rows.get(e.id) == row]
        for item in items:
            x0, x1 = self.x_of(item.start), self.x_of(item.end)
            if x0 - 2 <= x <= x1 + 2:
                if x - x0 <= EDGE_PX and x1 - x0 > 3 * EDGE_PX:
                    return lane, item, "in"
                if x1 - x <= EDGE_PX and x1 - x0 > 3 * EDGE_PX:
                    return lane, item, "out"
                return lane, item, "body"
        return lane, None, ""

    # --- snapping --------------------------------------------------------------------------

    def _snap(self, start: int, end: int, moving: Clip | Effect | None,
              edges: tuple[bool, bool]) -> tuple[int, int | None]:
        """Shift to apply so that an active edge of ``[start, end)`` meets a snap target."""
        project = self.project
        if not self.snapping or project is None:
            return 0, None
        exclude = moving.id if isinstance(moving, Clip) else None
        targets = set(cmd.snap_targets(project, self.playhead, exclude_clip=exclude))
        targets.update(e for e in self.marks if e is not None)
        targets.update(f for e in project.effects.values()
                       if moving is None or e.id != moving.id for f in (e.start, e.end))
        tolerance = max(1, round(SNAP_PX / self.pixels_per_frame))
        best: tuple[int, int | None] = (0, None)
        best_distance = tolerance + 1
        for edge, active in zip((start, end), edges):
            if not active:
                continue
            target = cmd.snap_frame(edge, targets, tolerance)
            if target != edge and abs(target - edge) < best_distance:
                best, best_distance = (target - edge, target), abs(target - edge)
        return best

    # --- mouse -----------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.project is None:
            return
        pos = event.position()
        frame = int(self.frame_at(pos.x()))
        if pos.y() < RULER_H:
            self._drag = Drag("scrub", None, frame)
            self.seek_requested.emit(frame)
            return
        lane, item, grip = self.item_at(pos.x(), pos.y())
        if lane is not None and lane.kind == "audio" and self.mute_rect(lane).contains(pos):
            self.run(cmd.SetTrackMuted(lane.track.id, not lane.track.muted))
            return
        if item is None:
            if lane is not None and lane.kind == "faces":
                for face_id, media_id, a, b in self.face_segments(lane):
                    row_top = self.face_row_top(lane, face_id)
                    if a <= frame < b and row_top <= pos.y() < row_top + FACE_ROW_H:
                        self.select(("face", (media_id, face_id)))
                        return
            self.select(None)
            self._drag = Drag("scrub", None, frame)
            self.seek_requested.emit(frame)
            return
        self.select(("clip" if isinstance(item, Clip) else "effect", item.id))
        mode = {"in": "trim_in", "out": "trim_out", "body": "move"}[grip]
        self._drag = Drag(mode, item, frame, item.start, item.end, lane.track.id)  # type: ignore[arg-type]

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        drag = self._drag
        if drag is None:
            _, item, grip = self.item_at(pos.x(), pos.y())
            shape = (Qt.CursorShape.SizeHorCursor if grip in ("in", "out")
                     else Qt.CursorShape.OpenHandCursor if item is not None
                     else Qt.CursorShape.ArrowCursor)
            self.setCursor(shape)
            problems = self.problems.get(item.id, []) if isinstance(item, Effect) else []
            self.setToolTip("\n".join(p.text for p in problems))
            return
        frame = int(self.frame_at(pos.x()))
        if drag.mode == "scrub":
            self.seek_requested.emit(frame)
            return
        item = drag.item
        assert item is not None
        delta = frame - drag.origin_frame
        if drag.mode == "move":
            start = max(0, item.start + delta)
            end = start + item.end - item.start
            shift, drag.snapped_at = self._snap(start, end, item, (True, True))
            drag.start, drag.end = start + shift, end + shift
            lane = self.lane_at(pos.y())
            kinds = ("video", "audio") if isinstance(item, Clip) else ("video", "fx")
            if lane is not None and lane.kind in kinds:
                drag.track_id = lane.track.id
        elif drag.mode == "trim_in":
            start = min(item.end - 1, max(0, item.start + delta))
            shift, drag.snapped_at = self._snap(start, item.end, item, (True, False))
            drag.start = min(item.end - 1, start + shift)
        else:
            end = max(item.start + 1, item.end + delta)
            shift, drag.snapped_at = self._snap(item.start, end, item, (False, True))
            drag.end = max(item.start + 1, end + shift)
        self.invalidate()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        drag, self._drag = self._drag, None
        if drag is None or drag.item is None:
            return
        item = drag.item
        command: cmd.Command | None = None
        if isinstance(item, Clip):
            track_id = self.project.track_of_clip(item.id).id  # type: ignore[union-attr]
            if drag.mode == "move" and (drag.start != item.start or drag.track_id != track_id):
                command = cmd.MoveClip(item.id, drag.start,
                                       drag.track_id if drag.track_id != track_id else None)
            elif drag.mode == "trim_in" and drag.start != item.start:
                command = cmd.TrimClip(item.id, in_frame=item.in_frame + drag.start - item.start)
            elif drag.mode == "trim_out" and drag.end != item.end:
                command = cmd.TrimClip(item.id, out_frame=item.in_frame + drag.end - item.start)
        elif (drag.start, drag.end, drag.track_id) != (item.start, item.end, item.track_id):
            command = cmd.SetEffectRange(item.id, drag.start, drag.end,
                                         drag.track_id if drag.track_id != item.track_id
                                         else None)
        if command is not None:
            self.run(command)
        self.invalidate()

    def run(self, command: cmd.Command) -> bool:
        """Send ``command`` to the document; a refusal is reported, never raised."""
        if self.document is None:
            return False
        try:
            self.document.do(command)
        except UserError as exc:
            self.error.emit(str(exc))
            return False
        return True

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120 or event.angleDelta().x() / 120
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.set_zoom(self.pixels_per_frame * (1.25 ** steps), event.position().x())
        else:
            visible = (self.width() - HEADER_W) / self.pixels_per_frame
            self.scroll_frames = max(0.0, self.scroll_frames - steps * visible / 10)
            self.invalidate()
        event.accept()

    # --- drag and drop of media from the bin ---------------------------------------------

    def dragEnterEvent(self, event: Any) -> None:
        if event.mimeData().hasFormat(MEDIA_MIME):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: Any) -> None:
        self._drop_frame = int(self.frame_at(event.position().x()))
        self.invalidate()
        event.acceptProposedAction()

    def dragLeaveEvent(self, event: Any) -> None:
        self._drop_frame = None
        self.invalidate()

    def dropEvent(self, event: Any) -> None:
        self._drop_frame = None
        media_id = bytes(event.mimeData().data(MEDIA_MIME)).decode()
        lane = self.lane_at(event.position().y())
        frame = int(self.frame_at(event.position().x()))
        shift, _ = self._snap(frame, frame, None, (True, False))
        self.media_dropped.emit(media_id, lane.track.id if lane else "", frame + shift)
        event.acceptProposedAction()
        self.invalidate()

    # --- painting --------------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        return QSize(900, 260)

    def resizeEvent(self, event: Any) -> None:
        self.invalidate()

    def paintEvent(self, event: QPaintEvent) -> None:
        """Lanes, clips and ruler come from a cached picture (redrawn only after
        :meth:`invalidate`), so a moving playhead costs one blit and one line."""
        ratio = self.devicePixelRatioF()
        if self._static is None or self._static.size() != self.size() * ratio:
            self._static = QPixmap(self.size() * ratio)
            self._static.setDevicePixelRatio(ratio)
            painter = QPainter(self._static)
            try:
                self._paint(painter)
            finally:
                painter.end()
        p = QPainter(self)
        try:
            p.drawPixmap(0, 0, self._static)
            if self.project is not None:
                p.setRenderHint(QPainter.RenderHint.Antialiasing)
                self._paint_playhead(p, self.lanes())
        finally:
            p.end()

    def _paint(self, p: QPainter) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("#17181b"))
        project = self.project
        font = QFont(self.font())
        font.setPointSizeF(max(7.5, font.pointSizeF() * 0.9))
        p.setFont(font)
        if project is None:
            p.setPen(QColor("#6b6e74"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                       "Open or create a project to edit its timeline")
            return
        lanes = self.lanes()
        for i, lane in enumerate(lanes):
            band = QColor("#1f2125" if i % 2 == 0 else "#1c1e21")
            p.fillRect(QRect(HEADER_W, lane.top, self.width() - HEADER_W, lane.height), band)
            p.setPen(QColor("#101113"))
            p.drawLine(0, lane.top + lane.height - 1, self.width(), lane.top + lane.height - 1)
        self._paint_marks(p)
        for lane in lanes:
            p.save()
            p.setClipRect(QRect(HEADER_W, lane.top, self.width() - HEADER_W, lane.height))
            getattr(self, f"_paint_{lane.kind}")(p, lane, project)
            p.restore()
        self._paint_drag(p, lanes)
        self._paint_headers(p, lanes)
        self._paint_ruler(p, project)

    def _paint_marks(self, p: QPainter) -> None:
        mark_in, mark_out = self.marks
        if mark_in is None and mark_out is None:
            return
        a = self.x_of(mark_in or 0)
        b = self.x_of(mark_out) if mark_out is not None else self.width()
        p.fillRect(QRectF(a, 0, b - a, self.height()), QColor(61, 142, 230, 26))

    def _paint_ruler(self, p: QPainter, project: Project) -> None:
        fps = project.timeline_fps()
        p.fillRect(QRect(0, 0, self.width(), RULER_H), QColor("#25272b"))
        p.setPen(QColor("#101113"))
        p.drawLine(0, RULER_H - 1, self.width(), RULER_H - 1)
        step = ruler_step(self.pixels_per_frame, fps)
        minor = max(1, step // 5) if step >= 5 else 1
        first = int(self.scroll_frames // minor) * minor
        last = int(self.frame_at(self.width(), exact=True)) + 1
        for frame in range(first, last + 1, minor):
            x = self.x_of(frame)
            if x < HEADER_W:
                continue
            major = frame % step == 0
            p.setPen(QColor("#8b8f96" if major else "#4a4d53"))
            p.drawLine(QPointF(x, RULER_H - (12 if major else 5)), QPointF(x, RULER_H - 1))
            if major:
                p.setPen(QColor("#b8bbc1"))
                p.drawText(QPointF(x + 4, RULER_H - 15), format_short(frame, fps))
        mark_in, mark_out = self.marks
        for mark, text in ((mark_in, "I"), (mark_out, "O")):
            if mark is not None:
                x = self.x_of(mark)
                p.fillRect(QRectF(x - (9 if text == "O" else 0), 0, 9, 12), theme.ACCENT)
                p.setPen(QColor("white"))
                p.drawText(QRectF(x - (9 if text == "O" else 0), 0, 9, 12),
                           Qt.AlignmentFlag.AlignCenter, text)
        p.fillRect(QRect(0, 0, HEADER_W, RULER_H), QColor("#25272b"))
        p.setPen(QColor("#9da1a8"))
        p.drawText(QRect(10, 0, HEADER_W - 10, RULER_H), Qt.AlignmentFlag.AlignVCenter,
                   f"{float(fps):g} fps")

    def _paint_headers(self, p: QPainter, lanes: list[Lane]) -> None:
        numbers = {"video": 0, "audio": 0}
        for lane in lanes:
            rect = QRect(0, lane.top, HEADER_W, lane.height)
            p.fillRect(rect, QColor("#232529"))
            p.setPen(QColor("#101113"))
            p.drawLine(rect.bottomLeft(), rect.bottomRight())
            p.drawLine(rect.topRight(), rect.bottomRight())
            if lane.kind in ("video", "audio"):
                numbers[lane.kind] += 1
                tag = f"{'V' if lane.kind == 'video' else 'A'}{numbers[lane.kind]}"
                chip = QRectF(8, lane.top + 8, 26, 18)
                colour = theme.VIDEO_CLIP if lane.kind == "video" else theme.AUDIO_CLIP
                p.setBrush(colour)
                p.setPen(Qt.PenStyle.NoPen)
                p.drawRoundedRect(chip, 3, 3)
                p.setPen(QColor("white"))
                p.drawText(chip, Qt.AlignmentFlag.AlignCenter, tag)
                p.setPen(QColor("#c9ccd1"))
                name_w = HEADER_W - (80 if lane.kind == "audio" else 46)
                p.drawText(QRectF(40, lane.top + 8, name_w, 18), Qt.AlignmentFlag.AlignVCenter,
                           QFontMetrics(p.font()).elidedText(lane.track.name,
                                                             Qt.TextElideMode.ElideRight,
                                                             name_w))
                if lane.kind == "audio":
                    self._paint_mute_toggle(p, lane)
            elif lane.kind == "fx":
                p.setPen(QColor("#a98fd6"))
                p.drawText(QRectF(40, lane.top, HEADER_W - 46, lane.height),
                           Qt.AlignmentFlag.AlignVCenter, "Effects")
            else:
                p.setPen(QColor("#8b8f96"))
                label = "Faces" if lane.face_ids else "Faces (not analysed)"
                p.drawText(QRectF(40, lane.top, HEADER_W - 46, min(lane.height, 14)),
                           Qt.AlignmentFlag.AlignVCenter, label)

    def _paint_mute_toggle(self, p: QPainter, lane: Lane) -> None:
        rect = self.mute_rect(lane)
        muted = lane.track.muted
        p.setBrush(QColor("#d9822b") if muted else QColor("#2f3237"))
        p.setPen(QPen(QColor("#5a5e65"), 1))
        p.drawRoundedRect(rect, 3, 3)
        p.setPen(QColor("white") if muted else QColor("#9da1a8"))
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, "M")

    def _paint_clip_marks(self, p: QPainter, rect: QRectF, clip: Clip, muted: bool) -> None:
        """A chain for a clip linked to its picture or sound, "muted" for a silent one."""
        right = rect.right() - 6
        if clip.link is not None and rect.width() > 40:
            p.setPen(QPen(QColor("#eef2f7"), 1.2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            for dx in (0.0, 5.0):
                p.drawRoundedRect(QRectF(right - 12 + dx, rect.top() + 4, 7, 5), 2.5, 2.5)
            right -= 18
        if muted and rect.width() > 90:
            p.setPen(QColor("#ffd7a8"))
            p.drawText(QRectF(right - 44, rect.top() + 1, 44, 12),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, "muted")

    def _paint_block(self, p: QPainter, rect: QRectF, colour: QColor, selected: bool) -> None:
        path = QPainterPath()
        path.addRoundedRect(rect, 4, 4)
        p.fillPath(path, colour)
        p.setPen(QPen(QColor("#ffffff") if selected else colour.lighter(150),
                      2 if selected else 1))
        p.setBrush(Qt.BrushStyle.NoBrush)  # an outline: a brush left by the last item fills
        p.drawPath(path)

    def _media_name(self, project: Project, media_id: str) -> str:
        item = project.media.get(media_id)  # type: ignore[call-overload]
        return Path(item.path).name if item else media_id

    def _paint_video(self, p: QPainter, lane: Lane, project: Project) -> None:
        for clip in lane.track.clips:
            rect = self.clip_rect(lane, clip.start, clip.end)
            selected = self.selection == ("clip", clip.id)
            self._paint_block(p, rect, theme.VIDEO_CLIP, selected)
            thumb = self.cache.thumbnail(clip.media_id) if self.cache else None
            body = rect.adjusted(1, 16, -1, -1)
            if thumb is not None and body.width() > 8:
                tw = body.height() * thumb.width() / max(1, thumb.height())
                p.save()
                p.setClipRect(body)
                x = body.left()
                while x < body.right():
                    p.drawImage(QRectF(x, body.top(), tw, body.height()), thumb)
                    x += tw
                p.restore()
            p.setPen(QColor("#eef2f7"))
            p.drawText(rect.adjusted(6, 1, -4, 0).toRect(), Qt.AlignmentFlag.AlignTop,
                       self._media_name(project, clip.media_id))
            self._paint_clip_marks(p, rect, clip, False)

    def _paint_audio(self, p: QPainter, lane: Lane, project: Project) -> None:
        fps = float(project.timeline_fps())
        for clip in lane.track.clips:
            rect = self.clip_rect(lane, clip.start, clip.end)
            silent = clip.muted or lane.track.muted
            colour = QColor("#3b3f45") if silent else theme.AUDIO_CLIP
            self._paint_block(p, rect, colour, self.selection == ("clip", clip.id))
            self._paint_waveform(p, rect.adjusted(1, 14, -1, -2), clip, fps)
            self._paint_clip_marks(p, rect, clip, silent)
            p.setPen(QColor("#e6f4ec"))
            p.drawText(rect.adjusted(6, 1, -4, 0).toRect(), Qt.AlignmentFlag.AlignTop,
                       self._media_name(project, clip.media_id))

    def _paint_waveform(self, p: QPainter, rect: QRectF, clip: Clip, fps: float) -> None:
        peaks = self.cache.peaks(clip.media_id, fps) if self.cache else None
        if peaks is None or rect.width() < 2:
            return
        mid, half = rect.center().y(), rect.height() / 2
        x0 = max(rect.left(), HEADER_W)
        x1 = min(rect.right(), self.width())
        p.setPen(QColor("#8fd6ae"))
        x = x0
        while x < x1:
            a = int(self.frame_at(x, exact=True)) - clip.start + clip.in_frame
            b = int(self.frame_at(x + 1, exact=True)) - clip.start + clip.in_frame + 1
            a, b = max(0, a), min(peaks.size, b)
            if a < b:
                h = float(peaks[a:b].max()) * half
                p.drawLine(QPointF(x, mid - h), QPointF(x, mid + h))
            x += 1

    def _paint_fx(self, p: QPainter, lane: Lane, project: Project) -> None:
        metrics = QFontMetrics(p.font())
        for effect in project.effects.values():
            if effect.track_id != lane.track.id:
                continue
            rect = self.effect_rect(lane, effect)
            selected = self.selection == ("effect", effect.id)
            self._paint_block(p, rect, theme.EFFECT, selected)
            label = effect_label(project, effect)
            problems = self.problems.get(effect.id)
            if problems:  # inside the white outline of a selected bar
                inset = 2.5 if selected else 1.0
                p.setPen(QPen(PROBLEM, 1.5 if selected else 2))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRoundedRect(rect.adjusted(inset, inset, -inset, -inset), 3, 3)
                label = f"⚠ {problems[0].badge} · {label}"
            left = 6
            if effect.face_track is not None:
                p.setBrush(theme.face_colour(effect.face_track))
                p.setPen(Qt.PenStyle.NoPen)
                p.drawEllipse(QRectF(rect.left() + 6, rect.center().y() - 4, 8, 8))
                left = 18
            text = rect.adjusted(left, 0, -4, 0)
            p.setPen(QColor("#ffd0cc") if problems else QColor("#f1eafc"))
            p.drawText(text, Qt.AlignmentFlag.AlignVCenter,
                       metrics.elidedText(label, Qt.TextElideMode.ElideRight,
                                          int(max(0.0, text.width()))))

    def _paint_faces(self, p: QPainter, lane: Lane, project: Project) -> None:
        metrics = QFontMetrics(p.font())
        for face_id, media_id, a, b in self.face_segments(lane):
            rect = QRectF(self.x_of(a), self.face_row_top(lane, face_id),
                          max(2.0, self.x_of(b) - self.x_of(a)), FACE_ROW_H - 3)
            colour = QColor(theme.face_colour(face_id))
            selected = self.selection == ("face", (media_id, face_id))
            colour.setAlpha(255 if selected else 170)
            p.fillRect(rect, colour)
            if selected:
                p.setPen(QPen(QColor("white"), 1.5))
                p.drawRect(rect)
            if rect.width() > 40:
                name = self.face_name(media_id, face_id)
                p.setPen(QColor("#101113"))
                p.drawText(rect.adjusted(4, 0, -2, 0), Qt.AlignmentFlag.AlignVCenter,
                           metrics.elidedText(name, Qt.TextElideMode.ElideRight,
                                              int(rect.width() - 6)))

    def _paint_drag(self, p: QPainter, lanes: list[Lane]) -> None:
        drag = self._drag
        if drag is not None and drag.item is not None and drag.mode != "scrub":
            kind = "fx" if isinstance(drag.item, Effect) else None
            ghosts = [(drag.track_id, drag.start, drag.end)]
            if isinstance(drag.item, Clip) and self.project is not None:
                shift = (drag.start - drag.item.start, drag.end - drag.item.end)
                ghosts += [(t.id, c.start + shift[0], c.end + shift[1])
                           for t, c in self.project.linked(drag.item)]
            for lane in lanes:
                for track_id, start, end in ghosts:
                    if lane.track.id == track_id and (lane.kind == kind or (
                            kind is None and lane.kind in ("video", "audio"))):
                        rect = (self.effect_rect(lane, drag.item, start, end)
                                if isinstance(drag.item, Effect)
                                else self.clip_rect(lane, start, end))
                        p.setBrush(QColor(255, 255, 255, 40))
                        p.setPen(QPen(QColor("#ffffff"), 1, Qt.PenStyle.DashLine))
                        p.drawRoundedRect(rect, 4, 4)
            if drag.snapped_at is not None:
                x = self.x_of(drag.snapped_at)
                p.setPen(QPen(QColor("#ffd54f"), 1))
                p.drawLine(QPointF(x, RULER_H), QPointF(x, self.height()))
        if self._drop_frame is not None:
            x = self.x_of(self._drop_frame)
            p.setPen(QPen(theme.ACCENT, 2))
            p.drawLine(QPointF(x, RULER_H), QPointF(x, self.height()))

    def _paint_playhead(self, p: QPainter, lanes: list[Lane]) -> None:
        x = self.x_of(self.playhead)
        if x < HEADER_W:
            return
        bottom = lanes[-1].top + lanes[-1].height if lanes else self.height()
        p.setPen(QPen(theme.PLAYHEAD, 1.5))
        p.drawLine(QPointF(x, RULER_H - 10), QPointF(x, max(bottom, self.height())))
        p.setBrush(theme.PLAYHEAD)
        p.setPen(Qt.PenStyle.NoPen)
        p.drawPolygon(QPolygonF([QPointF(x - 6, RULER_H - 12), QPointF(x + 6, RULER_H - 12),
                                 QPointF(x, RULER_H - 4)]))


def effect_label(project: Project, effect: Effect) -> str:
    """What an effect's bar says: "Lip-sync · Anna", "Face swap · multi_a · face 2"."""
    return f"{effect_type_label(effect)} · {effect_target(project, effect)}"


def effect_rows(effects: list[Effect]) -> dict[str, int]:
    """A row for each effect: the first one free at its start, so effects that overlap in
    time never share a row (interval partitioning, in time order)."""
    rows: dict[str, int] = {}
    row_ends: list[int] = []
    for effect in sorted(effects, key=lambda e: (e.start, e.end, e.id)):
        row = next((r for r, end in enumerate(row_ends) if end <= effect.start), len(row_ends))
        if row == len(row_ends):
            row_ends.append(effect.end)
        else:
            row_ends[row] = effect.end
        rows[effect.id] = row
    return rows
