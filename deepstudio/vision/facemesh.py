"""Dense face landmarks with MediaPipe FaceMesh (478 points incl. irises).

The landmark index groups below are MediaPipe's mesh topology (the same vertex sets as
``mediapipe.solutions.face_mesh_connections``), written out as ordered polygons so that
masks can be filled without importing mediapipe. "Left"/"right" are the subject's own sides
(the subject's right eye appears on the image's left in a frontal shot).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np

from deepstudio.types import BBox, Frame

NUM_LANDMARKS = 478
"""468 mesh points plus 5 points per iris (``refine_landmarks=True``)."""
DUPLICATE_IOU = 0.5
"""Two meshes whose boxes overlap this much are one face found twice. In tracking mode
MediaPipe now and then adds a fresh detection of a face it is already tracking
(talk_portrait_a: 23 of 250 frames, the two boxes overlapping 0.72-0.81), which would make
a second, flickering track of the same person; distinct faces in the testdata never overlap."""

FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378,
             400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54,
             103, 67, 109)
"""Outline of the face (forehead, temples, jaw, chin) as a closed polygon."""

JAW = (234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397,
       288, 361, 323, 454)
"""Lower part of :data:`FACE_OVAL`, ear to ear through the chin (an open polyline)."""

LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37,
              39, 40, 185)
"""Outer lip contour as a closed polygon, starting at the subject's right mouth corner."""

LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82,
              81, 80, 191)
"""Inner lip contour (the mouth opening) as a closed polygon."""

RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
"""Eyelid contours as closed polygons; the first point is the outer corner."""

RIGHT_IRIS = (468, 469, 470, 471, 472)
LEFT_IRIS = (473, 474, 475, 476, 477)
"""Iris centre followed by four points on the iris rim."""

NOSE_BRIDGE = (168, 6, 197, 195, 5, 4, 1)
"""Nose ridge from between the eyes down to the tip (index 1)."""

NOSE = (1, 2, 4, 5, 6, 19, 45, 48, 64, 94, 97, 98, 115, 168, 195, 197, 220, 275, 278, 294,
        326, 327, 344, 440)
"""All nose vertices of MediaPipe's FACEMESH_NOSE group."""

RIGHT_BROW = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)
LEFT_BROW = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)
"""Eyebrow vertices (MediaPipe's FACEMESH_*_EYEBROW groups)."""

FEATURE_POINTS = tuple(sorted(set(FACE_OVAL + RIGHT_BROW + LEFT_BROW + RIGHT_EYE + LEFT_EYE
                                  + RIGHT_IRIS + LEFT_IRIS + NOSE + LIPS_OUTER + LIPS_INNER)))
"""The landmarks that outline the face and its features (162 of the 478): what a landmark
overlay shows. The other points fill the cheeks and forehead, where they hide the face."""

NOSE_TIP = 1
CHIN = 152
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
LEFT_EYE_OUTER, LEFT_EYE_INNER = 263, 362
MOUTH_RIGHT, MOUTH_LEFT = 61, 291
UPPER_LIP_INNER, LOWER_LIP_INNER = 13, 14


@dataclass(frozen=True)
class FaceObservation:
    """One face found in one frame.

    ``landmarks`` is float32 (478, 3): x, y in frame pixels, z in the same pixel scale
    (MediaPipe's relative depth times the frame width; smaller is nearer the camera).
    ``score`` is the fraction of landmarks inside the frame: the FaceMesh solution API
    exposes no per-face confidence (faces below its tracking threshold are simply dropped),
    so this measures how much of the face is visible.
    """

    landmarks: np.ndarray
    bbox: BBox
    score: float


class FaceMeshDetector:
    """MediaPipe FaceMesh over RGB frames; use as a context manager.

    ``static=False`` runs the tracking mode meant for consecutive video frames (detection
    only when tracking is lost, so it is fast); ``static=True`` detects afresh on every
    image (photos, or frames far apart).
    """

    def __init__(self, max_faces: int = 4, static: bool = False,
                 min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5) -> None:
        self.max_faces = max_faces
        self.static = static
        self._options = dict(static_image_mode=static, max_num_faces=max_faces,
                             refine_landmarks=True,
                             min_detection_confidence=min_detection_confidence,
                             min_tracking_confidence=min_tracking_confidence)
        self._mesh: Any = None
        self._previous: list[BBox] = []
        """The boxes of the faces found in the last frame (tracking mode)."""

    def __enter__(self) -> FaceMeshDetector:
        from mediapipe.python.solutions.face_mesh import FaceMesh

        with native_stderr_silenced():
            self._mesh = FaceMesh(**self._options)
            # The first face opens the TFLite interpreters, which log to stderr once.
            self._mesh.process(_warm_up_face())
        if not self.static:
            self.reset()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def reset(self) -> None:
        """Forget the faces being tracked (the next frame is not a continuation).

        A blank frame ends every track, as a cut would. (MediaPipe's own ``reset`` restarts
        the graph, whose first frames then open the TFLite interpreters again, logging to
        stderr as at start-up, from whichever thread.)
        """
        if self._mesh is not None:
            self._mesh.process(_BLANK)
        self._previous = []

    def close(self) -> None:
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def detect(self, frame_rgb: Frame) -> list[FaceObservation]:
        """Faces in one RGB uint8 frame (H, W, 3), in MediaPipe's order."""
        if self._mesh is None:
            raise RuntimeError("FaceMeshDetector used outside its 'with' block")
        image = np.ascontiguousarray(frame_rgb)
        image.flags.writeable = False  # lets MediaPipe wrap the buffer without a copy
        height, width = image.shape[:2]
        faces = [_observation(face, width, height)
                 for face in _face_landmark_lists(self._mesh, image)]
        if len(faces) > 1:
            faces = self._without_duplicates(faces)
        if not self.static:
            self._previous = [face.bbox for face in faces]
        return faces

    def _without_duplicates(self, faces: list[FaceObservation]) -> list[FaceObservation]:
        """``faces`` in MediaPipe's order, keeping one of each group that overlaps by
        :data:`DUPLICATE_IOU`: the one closest to a face of the last frame (the mesh
        MediaPipe was tracking, not the fresh detection)."""
        def continuity(face: FaceObservation) -> float:
            return max((face.bbox.iou(box) for box in self._previous), default=0.0)

        kept: list[FaceObservation] = []
        for face in sorted(faces, key=continuity, reverse=True):  # stable: ties keep order
            if all(face.bbox.iou(other.bbox) < DUPLICATE_IOU for other in kept):
                kept.append(face)
        chosen = {id(face) for face in kept}
        return [face for face in faces if id(face) in chosen]


def _face_landmark_lists(mesh: Any, image: np.ndarray) -> list[Any]:
    """``mesh.process(image).multi_face_landmarks or []``, minus the rest of MediaPipe's
    ``SolutionBase.process``, which builds a new namedtuple class on every call: ~0.3 ms
    holding the GIL, which stalls the other analysis workers. This reads the same private
    fields ``process`` does (mediapipe is pinned); a test checks both give the same faces."""
    from mediapipe.python import packet_getter

    mesh._graph_outputs.clear()
    mesh._simulated_timestamp += 33333  # what process() adds: 30 fps timestamps
    packet = mesh._make_packet(mesh._input_stream_type_info["image"], image)
    mesh._graph.add_packet_to_input_stream(stream="image",
                                           packet=packet.at(mesh._simulated_timestamp))
    mesh._graph.wait_until_idle()
    output = mesh._graph_outputs.get("multi_face_landmarks")
    return [] if output is None or output.is_empty() else packet_getter.get_proto_list(output)


# A serialized NormalizedLandmarkList is, per landmark, the field tag of ``landmark``, the
# message length (15) and three tagged little-endian floats x, y, z. Reading it in one go
# takes ~20 µs instead of ~2 ms for 1434 protobuf attribute reads.
_WIRE_RECORD = np.dtype([("tag", "u1"), ("length", "u1"), ("x_tag", "u1"), ("x", "<f4"),
                         ("y_tag", "u1"), ("y", "<f4"), ("z_tag", "u1"), ("z", "<f4")])
_WIRE_TAGS = {"tag": 0x0A, "length": 15, "x_tag": 0x0D, "y_tag": 0x15, "z_tag": 0x1D}


def landmarks_array(landmark_list: Any) -> np.ndarray:
    """(N, 3) float32 normalised x, y, z of a MediaPipe NormalizedLandmarkList."""
    wire = landmark_list.SerializeToString()
    if len(wire) % _WIRE_RECORD.itemsize == 0:
        records = np.frombuffer(wire, dtype=_WIRE_RECORD)
        if all(np.all(records[name] == value) for name, value in _WIRE_TAGS.items()):
            return np.stack([records["x"], records["y"], records["z"]], axis=1)
    # Any other layout (e.g. visibility fields present): the slow, general way.
    return np.array([(p.x, p.y, p.z) for p in landmark_list.landmark], dtype=np.float32)


def _observation(landmark_list: Any, width: int, height: int) -> FaceObservation:
    normalized = landmarks_array(landmark_list)
    points = normalized * np.array([width, height, width], dtype=np.float32)
    inside = ((points[:, 0] >= 0) & (points[:, 0] < width)
              & (points[:, 1] >= 0) & (points[:, 1] < height))
    return FaceObservation(points, BBox.from_points(points), float(inside.mean()))


_stderr_lock = threading.Lock()


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send the process's stderr (file descriptor 2) to /dev/null for a moment.

    MediaPipe's C++ side prints TFLite and absl log lines ("Created TensorFlow Lite XNNPACK
    delegate", "Feedback manager requires...") while a graph starts; they mean nothing to
    people. Python-level logging is unaffected outside the block. One thread at a time: two
    overlapping blocks would save and restore each other's /dev/null for good.
    """
    with _stderr_lock:
        yield from _silenced_stderr()


def _silenced_stderr() -> Iterator[None]:
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            sys.stderr.flush()
            os.dup2(null.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


_BLANK = np.zeros((64, 64, 3), np.uint8)
_BLANK.flags.writeable = False


def _warm_up_face() -> np.ndarray:
    """A real face to start the graph with (scikit-image's astronaut portrait, cropped)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:256, 128:384])
