from __future__ import annotations

import pytest

from deepstudio.vision.facemesh import FaceMeshDetector
from deepstudio.vision.shots import ShotDetector
from deepstudio.vision.tracker import FaceTracker


def run_tracker(frames, fps=25.0, max_faces=4, drop=(), start=0, joined_later=False):
    """Track ids per frame; frames whose index is in ``drop`` pretend nothing was found.
    ``start``: the frame index of ``frames[0]``."""
    tracker, shots = FaceTracker(fps, joined_later=joined_later), ShotDetector()
    per_frame = []
    with FaceMeshDetector(max_faces=max_faces) as detector:
        for index, frame in enumerate(frames, start):
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


@pytest.fixture
def embed_threads(monkeypatch) -> list[str]:
    """The names of the threads that compute descriptors, in order."""
    import threading

    from deepstudio.vision.identity import FaceEmbedder

    threads: list[str] = []
    original = FaceEmbedder.embed

    def recording_embed(self, frame, bbox):
        threads.append(threading.current_thread().name)
        return original(self, frame, bbox)

    monkeypatch.setattr(FaceEmbedder, "embed", recording_embed)
    return threads


def test_lost_tracks_are_embedded_off_the_analysis_thread(talk_frames, clip_frames,
                                                          embed_threads):
    """The crops of a track cut off are embedded on the helper thread while FaceMesh goes on;
    only the returning face's own descriptor is computed in line."""
    threads = embed_threads
    frames = talk_frames[:20] + clip_frames("swap_a.mp4", 20) + talk_frames[40:60]
    tracker, ids = run_tracker(frames)
    assert ids[40] == ids[0]  # the same person is still recognised
    helper = [name for name in threads if name.startswith("face-embed")]
    assert helper and len(helper) >= len(threads) - 2  # the two returning faces' queries
    assert tracker.embeddings_computed == len(threads)


def test_join_continues_a_face_across_a_segment_boundary(talk_frames):
    """Two trackers that each saw half of one shot join into one id, without embeddings."""
    first, ids_a = run_tracker(talk_frames[:30])
    later, ids_b = run_tracker(talk_frames[30:60], start=30)
    assert ids_a[0] == ids_b[0] == [0]
    assert first.join(later, 30, cut=False) == {0: 0}
    assert first.embeddings_computed == 0 and first.reassociations == []


def test_join_gives_an_earlier_id_back_by_identity(talk_frames, clip_frames):
    """The spliced shots of test_reassociation_after_cuts_by_identity, tracked in two
    segments split at the first cut: the same ids and re-association as in one piece."""
    other = clip_frames("swap_a.mp4", 20)
    first, ids_a = run_tracker(talk_frames[:20])
    later, ids_b = run_tracker(other + talk_frames[40:60], start=20)
    mapping = first.join(later, 20, cut=True)
    person = ids_a[0][0]
    assert mapping[ids_b[20][0]] == person  # back after the second cut: known by identity
    assert mapping[ids_b[0][0]] != person  # the other person: a new id
    assert first.reassociations == [(40, person)]
    # A cut at the boundary: the faces either side are never matched by position.
    again, _ = run_tracker(talk_frames[:20])
    after, ids_c = run_tracker(talk_frames[20:40], start=20)
    assert again.join(after, 20, cut=True) == {ids_c[0][0]: person}
    assert again.reassociations == [(20, person)] and again.embeddings_computed > 0


def test_a_later_segment_embeds_a_face_that_appears_in_it_while_it_tracks(talk_frames,
                                                                         embed_threads):
    """A segment tracked for a later join: a face that appears after its first frames, with
    nobody before it to compare with, is embedded on the helper thread at once, so the join
    (which compares it by identity) does not wait for it. A tracker not meant for a join
    does not spend that time."""
    import numpy as np

    threads = embed_threads
    black = [np.zeros_like(talk_frames[0])] * 20
    _, ids = run_tracker(black + talk_frames[40:60], start=20)
    assert ids[20] == [0] and threads == []
    first, _ = run_tracker(talk_frames[:20])
    later, ids = run_tracker(black + talk_frames[40:60], start=20, joined_later=True)
    assert [name.startswith("face-embed") for name in threads] == [True]
    threads.clear()
    person = first.join(later, 20, cut=True)[ids[20][0]]
    assert person == 0 and first.reassociations == [(40, 0)]
    assert not any(name.startswith("face-embed_") for name in threads)  # only the first's


def test_join_does_not_compare_a_new_face_with_one_continuing_beside_it(talk_frames,
                                                                        clip_frames,
                                                                        embed_threads):
    """A second person appears in the later segment while the first one, continued across
    the boundary, is still on screen: they cannot be one person, so the join embeds nothing
    (it used to embed the continuing track's crops, at the very end of the analysis)."""
    import cv2
    import numpy as np

    size = talk_frames[0].shape[1::-1]
    other = [cv2.resize(f, size) for f in clip_frames("swap_a.mp4", 20)]
    blurred = cv2.GaussianBlur(other[0], (0, 0), 30)  # no face, and no cut when it sharpens
    frames = [np.hstack([talk, other[k - 40] if k >= 40 else blurred])
              for k, talk in enumerate(talk_frames)]
    first, _ = run_tracker(frames[:30])
    later, ids = run_tracker(frames[30:], start=30)
    assert [len(i) for i in ids[:10]] == [1] * 10 and len(ids[10]) == 2
    mapping = first.join(later, 30, cut=False)
    assert mapping[ids[0][0]] == 0 and len(set(mapping.values())) == 2
    assert embed_threads == [] and first.reassociations == []
