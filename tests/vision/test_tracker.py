from __future__ import annotations

from deepstudio.vision.facemesh import FaceMeshDetector
from deepstudio.vision.shots import ShotDetector
from deepstudio.vision.tracker import FaceTracker


def run_tracker(frames, fps=25.0, max_faces=4, drop=()):
    """Track ids per frame; frames whose index is in ``drop`` pretend nothing was found.
    ``centres``, a list, receives each frame's {track id: face centre x}."""
    tracker, shots = FaceTracker(fps), ShotDetector()
    per_frame = []
    with FaceMeshDetector(max_faces=max_faces) as detector:
        for index, frame in enumerate(frames):
            cut = shots.update(frame)
            faces = [] if index in drop else detector.detect(frame)
            per_frame.append(tracker.update(index, frame, faces, cut=cut))
    return tracker, per_frame


def test_ids_survive_a_short_dropout_without_any_embedding(talk_frames):
    frames = talk_frames[:40]
    tracker, ids = run_tracker(frames, drop=set(range(15, 22)))  # 0.28 s missing
    assert all(i == [0] for k, i in enumerate(ids) if k not in range(15, 22))
    assert tracker.embeddings_computed == 0 and tracker.reassociations == []


def test_reassociation_after_cuts_by_identity(talk_frames, clip_frames):
    """talk_b person, cut to another person (swap_a), cut back to talk_b 1.2 s later."""
    other = clip_frames("swap_a.mp4", 20)
    frames = talk_frames[:20] + other + talk_frames[40:60]
    tracker, ids = run_tracker(frames)
    assert all(len(i) == 1 for i in ids)
    first, second, third = ids[0][0], ids[20][0], ids[40][0]
    assert first != second
    assert third == first
    assert {i[0] for i in ids[:20]} == {first} and {i[0] for i in ids[40:]} == {first}
    assert tracker.reassociations == [(40, first)]


def test_lost_tracks_are_embedded_off_the_analysis_thread(talk_frames, clip_frames,
                                                          monkeypatch):
    """The crops of a track cut off are embedded on the helper thread while FaceMesh goes on;
    only the returning face's own descriptor is computed in line."""
    import threading

    from deepstudio.vision.identity import FaceEmbedder

    threads: list[str] = []
    original = FaceEmbedder.embed

    def recording_embed(self, frame, bbox):
        threads.append(threading.current_thread().name)
        return original(self, frame, bbox)

    monkeypatch.setattr(FaceEmbedder, "embed", recording_embed)
    frames = talk_frames[:20] + clip_frames("swap_a.mp4", 20) + talk_frames[40:60]
    tracker, ids = run_tracker(frames)
    assert ids[40] == ids[0]  # the same person is still recognised
    helper = [name for name in threads if name.startswith("face-embed")]
    assert helper and len(helper) >= len(threads) - 2  # the two returning faces' queries
    assert tracker.embeddings_computed == len(threads)
