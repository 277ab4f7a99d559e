"""The timeline widget on a real core project: painting, hit-testing, and mouse edits that
become undoable core commands (move with snapping, trim, move to another track)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt

from deepstudio.core import commands as cmd
from deepstudio.core.history import History
from deepstudio.core.project import Clip, MediaItem, Project, Track
from deepstudio.qt.timeline import EDGE_PX, TimelineView
from deepstudio.types import Id


def make_history() -> History:
    project = Project(name="t")
    history = History(project)
    media = MediaItem(id=Id("m1"), path="a.mp4", content_hash="h", duration_s=8.0,
                      frame_count=200, fps_num=25, fps_den=1, width=64, height=36,
                      has_video=True, has_audio=True)
    history.do(cmd.AddMedia(media))
    for tid in ("v1", "v2"):
        history.do(cmd.AddTrack(Track(id=Id(tid), kind="video", name=tid.upper())))
    history.do(cmd.AddClip(Id("v1"), Clip(Id("c1"), Id("m1"), start=0, in_frame=0,
                                          out_frame=50)))
    history.do(cmd.AddClip(Id("v1"), Clip(Id("c2"), Id("m1"), start=100, in_frame=50,
                                          out_frame=100)))
    history.clear()
    return history


def drag(qtbot, view: TimelineView, start: QPoint, end: QPoint) -> None:
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    for i in range(1, 6):
        qtbot.mouseMove(view, start + (end - start) * (i / 5))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=end)


def lane_y(view: TimelineView, track_id: str, kind: str = "video") -> int:
    lane = next(lane for lane in view.lanes() if lane.track.id == track_id and lane.kind == kind)
    return lane.top + lane.height // 2


def test_move_snaps_to_clip_edge_and_undoes(qtbot):
    history = make_history()
    view = TimelineView()
    qtbot.addWidget(view)
    view.resize(1000, 300)
    view.set_document(history)
    view.pixels_per_frame = 4.0
    view.show()
    y = lane_y(view, "v1")
    # grab c2 in its middle and drop it so that its start lands 1 frame after c1's end
    grab = QPoint(round(view.x_of(125)), y)
    drag(qtbot, view, grab, grab + QPoint((51 - 100) * 4, 0))
    assert history.project.clip(Id("c2")).start == 50  # snapped onto c1's end
    assert view.selection == ("clip", "c2")
    history.undo()
    assert history.project.clip(Id("c2")).start == 100


def test_trim_out_edge_and_move_to_other_track(qtbot):
    history = make_history()
    view = TimelineView()
    qtbot.addWidget(view)
    view.resize(1000, 300)
    view.set_document(history)
    view.snapping = False
    view.show()
    y = lane_y(view, "v1")
    edge = QPoint(round(view.x_of(50)) - EDGE_PX // 2, y)
    drag(qtbot, view, edge, edge - QPoint(40, 0))  # 10 frames shorter at 4 px/frame
    assert history.project.clip(Id("c1")).out_frame == 40
    grab = QPoint(round(view.x_of(20)), y)
    drag(qtbot, view, grab, QPoint(grab.x(), lane_y(view, "v2")))
    assert history.project.track_of_clip(Id("c1")).id == "v2"
    assert history.undo_text == "Move clip"


def test_refused_edit_is_reported_not_raised(qtbot):
    history = make_history()
    view = TimelineView()
    qtbot.addWidget(view)
    view.set_document(history)
    with qtbot.waitSignal(view.error) as blocker:
        assert not view.run(cmd.MoveClip(Id("c2"), start=10))  # overlaps c1
    assert "overlap" in blocker.args[0]
    assert history.project.clip(Id("c2")).start == 100


def test_ruler_click_seeks_and_paint_survives_every_lane(qtbot):
    history = make_history()
    view = TimelineView()
    qtbot.addWidget(view)
    view.resize(900, 300)
    view.set_document(history)
    view.face_spans = lambda media_id: {0: [(0, 40), (60, 90)], 3: [(10, 20)]}
    view.show()
    faces = next(lane for lane in view.lanes() if lane.kind == "faces")
    assert faces.face_ids == (0, 3)
    assert (0, "m1", 100, 110) not in view.face_segments(faces)  # c2 shows media 50..100
    assert (0, "m1", 110, 140) in view.face_segments(faces)
    with qtbot.waitSignal(view.seek_requested) as blocker:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(round(view.x_of(30)), 10))
    assert blocker.args == [30]
    assert not view.grab().isNull()
