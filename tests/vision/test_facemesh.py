from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from deepstudio.vision import facemesh as fm
from deepstudio.vision.facemesh import FaceMeshDetector


def test_single_face_landmarks_in_pixels(talk_frames, talk_faces):
    face = talk_faces[0]
    height, width = talk_frames[0].shape[:2]
    assert (height, width) == (524, 524)
    assert face.landmarks.shape == (fm.NUM_LANDMARKS, 3)
    assert face.landmarks.dtype == np.float32
    # The MANIFEST gives a typical face box of ~241x277 px for talk_b.
    assert 180 < face.bbox.width < 320 and 200 < face.bbox.height < 340
    assert 0 <= face.bbox.x0 < face.bbox.x1 <= width
    assert face.score == pytest.approx(1.0)
    lm = face.landmarks
    # Anatomy in a frontal upright shot: subject's right eye on the image's left,
    # eyes above the nose tip, nose above the mouth, mouth above the chin, irises in the eyes.
    assert lm[fm.RIGHT_EYE_OUTER, 0] < lm[fm.LEFT_EYE_OUTER, 0]
    assert lm[fm.RIGHT_EYE_OUTER, 1] < lm[fm.NOSE_TIP, 1] < lm[fm.MOUTH_LEFT, 1] < lm[fm.CHIN, 1]
    right_eye = lm[list(fm.RIGHT_EYE), :2]
    assert np.all(right_eye.min(0) < lm[fm.RIGHT_IRIS[0], :2])
    assert np.all(lm[fm.RIGHT_IRIS[0], :2] < right_eye.max(0))


def test_landmark_groups_match_mediapipe_topology():
    from mediapipe.python.solutions import face_mesh_connections as conn

    def vertices(edges):
        return {i for edge in edges for i in edge}

    def closed_edges(polygon):
        return {frozenset(pair) for pair in zip(polygon, polygon[1:] + polygon[:1])}

    assert closed_edges(fm.FACE_OVAL) == {frozenset(e) for e in conn.FACEMESH_FACE_OVAL}
    assert closed_edges(fm.RIGHT_EYE) == {frozenset(e) for e in conn.FACEMESH_RIGHT_EYE}
    assert closed_edges(fm.LEFT_EYE) == {frozenset(e) for e in conn.FACEMESH_LEFT_EYE}
    lips = {frozenset(e) for e in conn.FACEMESH_LIPS}
    assert closed_edges(fm.LIPS_OUTER) | closed_edges(fm.LIPS_INNER) == lips
    assert set(fm.RIGHT_IRIS[1:]) == vertices(conn.FACEMESH_RIGHT_IRIS)
    assert set(fm.LEFT_IRIS[1:]) == vertices(conn.FACEMESH_LEFT_IRIS)
    assert set(fm.NOSE) == vertices(conn.FACEMESH_NOSE)
    assert set(fm.JAW) < set(fm.FACE_OVAL)


def test_no_face_in_a_blank_frame_and_static_mode_on_photo(testdata: Path):
    import cv2

    with FaceMeshDetector(static=True) as detector:
        assert detector.detect(np.full((240, 320, 3), 127, np.uint8)) == []
        photo = cv2.cvtColor(cv2.imread(str(testdata / "face_02.jpg")), cv2.COLOR_BGR2RGB)
        faces = detector.detect(photo)
    assert len(faces) == 1


def test_detect_outside_with_block_is_an_error():
    with pytest.raises(RuntimeError):
        FaceMeshDetector().detect(np.zeros((8, 8, 3), np.uint8))


def test_fast_landmark_reading_equals_protobuf_fields(talk_frames):
    from mediapipe.framework.formats import landmark_pb2
    from mediapipe.python.solutions.face_mesh import FaceMesh

    with FaceMesh(max_num_faces=1, refine_landmarks=True) as mesh:
        face = mesh.process(talk_frames[0]).multi_face_landmarks[0]
    expected = np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float32)
    np.testing.assert_array_equal(fm.landmarks_array(face), expected)
    # A list with optional fields set takes the general path and still reads right.
    with_visibility = landmark_pb2.NormalizedLandmarkList()
    with_visibility.landmark.add(x=0.25, y=0.5, z=-0.1, visibility=0.9)
    np.testing.assert_allclose(fm.landmarks_array(with_visibility), [[0.25, 0.5, -0.1]])


def test_graph_call_gives_what_mediapipe_process_gives(clip_frames):
    """The detector feeds the graph itself (``process`` builds a namedtuple class per call);
    over frames with faces coming and going, in tracking mode, both read the same faces."""
    from mediapipe.python.solutions.face_mesh import FaceMesh

    frames = clip_frames("occlusion_a.mp4", 140)[100:140]  # no face, then a cut to one
    options = dict(static_image_mode=False, max_num_faces=2, refine_landmarks=True)
    with FaceMesh(**options) as by_process, FaceMesh(**options) as by_graph:
        for frame in frames:
            expected = by_process.process(frame).multi_face_landmarks or []
            found = fm._face_landmark_lists(by_graph, frame)
            assert [f.SerializeToString() for f in found] == [
                f.SerializeToString() for f in expected]
    assert any(expected) and len(frames) == 40


def test_a_face_found_twice_is_reported_once(clip_frames):
    """In tracking mode MediaPipe sometimes adds a fresh detection of the face it tracks
    (talk_portrait_a frames 39, 59, 69, 71: two boxes overlapping 0.72-0.81); the detector
    keeps the tracked one, whose box continues the last frame's."""
    frames = clip_frames("talk_portrait_a.mp4", 75)
    with FaceMeshDetector(max_faces=4) as detector:
        found = [detector.detect(frame) for frame in frames]
    assert [len(faces) for faces in found] == [1] * 75
    for before, after in itertools.pairwise(found):
        assert before[0].bbox.iou(after[0].bbox) > 0.8
