from __future__ import annotations

import json
import subprocess
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from deepstudio.errors import Cancelled, MediaError
from deepstudio.media.probe import MediaInfo
from deepstudio.types import Progress
from deepstudio.vision.analysis import (
    ANALYSIS_VERSION,
    FaceAnalysis,
    analyze_video,
    cache_path,
    raw_facemesh_fps,
)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("analysis-cache")


@pytest.fixture(scope="module")
def talk_a(testdata: Path, cache_dir: Path) -> FaceAnalysis:
    reports: list[Progress] = []
    analysis = analyze_video(testdata / "talk_a.mp4", progress=reports.append,
                             cache_dir=cache_dir)
    assert reports and all(0 < r.fraction <= 1 for r in reports)
    assert reports[-1].fraction == 1.0
    return analysis


def _analysed_again(*args, **kwargs):
    raise AssertionError("analysed again instead of reading the cache")


def test_one_talking_head_is_one_track(talk_a):
    analysis = talk_a
    assert (analysis.frame_count, analysis.fps, analysis.width) == (184, 30.0, 700)
    assert len(analysis.tracks) == 1
    track = next(iter(analysis.tracks.values()))
    assert len(track.frames) >= 0.98 * analysis.frame_count
    assert track.landmarks.shape == track.smoothed.shape == (len(track.frames), 478, 3)
    assert track.bboxes.shape == (len(track.frames), 4) and track.scores.shape == track.frames.shape
    assert not np.array_equal(track.landmarks, track.smoothed)
    assert analysis.cuts == [] and analysis.reassociations == []
    faces = analysis.faces_at(int(track.frames[50]))
    assert [f.track_id for f in faces] == [track.track_id]
    np.testing.assert_array_equal(faces[0].landmarks, track.smoothed[50])
    assert analysis.faces_at(10_000) == []
    summary = analysis.summary()
    assert summary["tracks"][0]["frames"] == len(track.frames)
    assert sum(summary["faces_per_frame"].values()) == 184


def test_cache_is_reused_and_round_trips_without_pickle(testdata, talk_a, cache_dir):
    analysis = talk_a
    stored = cache_path(cache_dir, analysis.content_hash)
    assert stored.name == f"{analysis.content_hash}-v{ANALYSIS_VERSION}.npz" and stored.is_file()
    with np.load(stored, allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("deepstudio.vision.analysis._analyze", _analysed_again)
        again = analyze_video(testdata / "talk_a.mp4", cache_dir=cache_dir)
    assert again.summary() == analysis.summary()
    for track_id, track in analysis.tracks.items():
        np.testing.assert_array_equal(again.tracks[track_id].smoothed, track.smoothed)
        np.testing.assert_array_equal(again.tracks[track_id].frames, track.frames)
    full = json.loads(analysis.to_json())
    assert len(full["tracks"][0]["smoothed"]) == len(full["tracks"][0]["frames"])


def test_three_faces_keep_three_distinct_ids(testdata: Path):
    analysis = analyze_video(testdata / "multi_a.mp4")
    assert len(analysis.tracks) == 3
    slots = set()
    for track in analysis.tracks.values():
        assert len(track.frames) >= 0.95 * analysis.frame_count
        # Each track stays in its own third of the 672-px-wide composite.
        centre_x = (track.bboxes[:, 0] + track.bboxes[:, 2]) / 2
        slot = np.unique(centre_x // 224)
        assert len(slot) == 1
        slots.add(int(slot[0]))
    assert slots == {0, 1, 2}
    assert analysis.summary()["faces_per_frame"] == {"3": 120}


def test_multi_shot_clip_cuts_and_tracks_the_same_on_any_number_of_cores(testdata: Path,
                                                                        monkeypatch):
    """occlusion_a is cut into four segments, tracked apart and joined; one core or three,
    every landmark comes out the same (segments never depend on timing or on the cores)."""
    from deepstudio.vision import analysis as module

    results = []
    for cores in (1, 3):
        monkeypatch.setattr(module.os, "cpu_count", lambda cores=cores: cores)
        starts: list[int] = []
        original = module._track_segment

        def recording(info, taken, *args, starts=starts, original=original):
            starts.append(taken.start)
            return original(info, taken, *args)

        monkeypatch.setattr(module, "_track_segment", recording)
        analysis = analyze_video(testdata / "occlusion_a.mp4")
        monkeypatch.setattr(module, "_track_segment", original)
        assert sorted(starts) == [0, 75, 150, 244]
        assert analysis.cuts == [45, 107, 236]
        # FaceMesh finds the performer in the third shot and one audience face in the last;
        # different people, so different ids and no re-association (that is tested on
        # spliced shots in test_tracker.py). No track crosses a cut without a re-association.
        assert len(analysis.tracks) == 2
        for track in analysis.tracks.values():
            shots = np.searchsorted(analysis.cuts, track.frames, side="right")
            assert len(np.unique(shots)) == 1
        assert analysis.reassociations == []
        assert [len(t.frames) for t in analysis.tracks.values()] == [129, 40]
        results.append(analysis)
    for one, three in zip(results[0].tracks.values(), results[1].tracks.values()):
        assert np.array_equal(one.frames, three.frames)
        assert np.array_equal(one.landmarks, three.landmarks)


def test_a_worker_starting_mid_shot_keeps_a_face_a_cold_start_would_miss(testdata: Path,
                                                                          monkeypatch):
    """talk_portrait_a, shared by two workers, splits near frame 125, where FaceMesh started
    cold does not find the (hand-covered) face for 9 frames; primed on the frames before the
    split, it keeps it, as one worker does (all 250 frames)."""
    from deepstudio.vision import analysis as module

    monkeypatch.setattr(module, "MAX_WORKERS", 2)
    monkeypatch.setattr(module.os, "cpu_count", lambda: 2)
    analysis = analyze_video(testdata / "talk_portrait_a.mp4")
    assert [len(t.frames) for t in analysis.tracks.values()] == [analysis.frame_count] == [250]
    assert analysis.reassociations == []  # the face MediaPipe finds twice is one track


def test_a_worker_follows_its_faces_past_its_range_until_the_next_one_has_them(
        testdata: Path):
    """occlusion_a split at frame 277: the audience face (frames 260-299) is too small for
    FaceMesh's detector to find afresh, so the second worker never sees it; the first one,
    tracking it, goes on to the end, and the joined result has the whole track."""
    import threading

    from deepstudio.media.probe import probe
    from deepstudio.vision.analysis import _join_segments, _Range, _SegmentPlan, _track_segment
    from deepstudio.vision.facemesh import FaceMeshDetector
    from deepstudio.vision.tracker import FaceTracker

    info = probe(testdata / "occlusion_a.mp4")
    plan = _SegmentPlan(info)
    plan.segments = [_Range(0, 277), _Range(277, 300)]
    first, second = plan.take(), plan.take()
    segments = []
    for taken in (second, first):  # the first one waits for the second one's frames
        with FaceMeshDetector() as detector:
            tracker = FaceTracker(29.97, joined_later=taken.start > 0)
            segments.append(_track_segment(info, taken, plan, detector, tracker,
                                           threading.Event(), [0], 0))
        plan.finish(taken)
    later, earlier = segments
    assert later.rows == {} and earlier.end == 300
    _, rows, cuts = _join_segments([earlier, later])
    assert cuts == [45, 107, 236]
    assert sorted(len(observed) for observed in rows.values()) == [40, 129]


def media_info(frames: int, keyframes: list[int]) -> MediaInfo:
    return MediaInfo(Path("x.mp4"), "mp4", frames / 25, True, frame_count=frames,
                     fps=Fraction(25), keyframes=np.array(keyframes, dtype=np.int64))


def test_segments_depend_on_the_file_alone_and_start_at_keyframes_where_that_pays():
    from deepstudio.vision.analysis import MIN_HALF_FRAMES, MIN_SEGMENT_FRAMES, _SegmentPlan

    def bounds(frames: int, keyframes: list[int]) -> list[tuple[int, int]]:
        return [(s.start, s.end) for s in _SegmentPlan(media_info(frames, keyframes)).segments]

    # A power of two of segments of at least MIN_SEGMENT_FRAMES; with a keyframe every 10
    # frames no boundary moves (decoding from the keyframe before costs almost nothing).
    assert MIN_SEGMENT_FRAMES == 70
    assert bounds(1000, list(range(0, 1000, 10))) == [
        (0, 125), (125, 250), (250, 375), (375, 500), (500, 625), (625, 750), (750, 875),
        (875, 1000)]
    # Keyframes every 250 frames: segments of half that or more; a boundary near a keyframe
    # moves to where decoding, 8 frames of priming included, starts at it, the others
    # decode from the keyframe before.
    assert [s for s, _ in bounds(1000, [0, 250, 500, 750])] == [
        0, 125, 258, 375, 508, 625, 758, 875]
    # Keyframes 60 frames apart: four segments, none worth moving (few frames to decode).
    assert [s for s, _ in bounds(300, [0, 60, 120, 180, 240])] == [0, 75, 150, 225]
    assert bounds(300, [0]) == [(0, 150), (150, 300)]
    # A short video is still cut in two when both halves have MIN_HALF_FRAMES (30).
    assert bounds(2 * MIN_SEGMENT_FRAMES - 1, [0]) == [(0, 70), (70, 139)]
    assert bounds(120, [0]) == [(0, 60), (60, 120)]
    assert bounds(2 * MIN_HALF_FRAMES - 1, [0]) == [(0, 59)]
    assert bounds(78, [0]) == [(0, 39), (39, 78)]


@pytest.fixture(scope="module")
def no_face_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import imageio_ffmpeg

    path = tmp_path_factory.mktemp("noface") / "testsrc.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error",
                    "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=1",
                    "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def test_video_without_faces_gives_zero_tracks(no_face_clip: Path, tmp_path: Path):
    analysis = analyze_video(no_face_clip, cache_dir=tmp_path)
    assert analysis.tracks == {} and analysis.frame_count == 25
    assert analysis.summary()["faces_per_frame"] == {"0": 25}
    # Saving and loading an empty analysis works too; a corrupt cache file is replaced.
    stored = cache_path(tmp_path, analysis.content_hash)
    assert FaceAnalysis.load(stored).tracks == {}
    for garbage in (b"garbage", stored.read_bytes()[:200]):  # not a zip; a truncated one
        stored.write_bytes(garbage)
        with pytest.raises(MediaError, match="not a readable face analysis"):
            FaceAnalysis.load(stored)
    assert analyze_video(no_face_clip, cache_dir=tmp_path).frame_count == 25
    assert FaceAnalysis.load(stored).frame_count == 25


def test_cancel_from_progress_stops_work_and_decoder(testdata: Path):
    seen: list[float] = []

    def cancel(report: Progress) -> None:
        seen.append(report.fraction)
        raise Cancelled

    with pytest.raises(Cancelled):
        analyze_video(testdata / "swap_b.mp4", progress=cancel)
    assert len(seen) == 1 and seen[0] < 0.5
    assert not any(t.name == "analysis-decode" for t in threading.enumerate())


def test_missing_file_is_a_media_error(tmp_path: Path):
    with pytest.raises(MediaError):
        analyze_video(tmp_path / "nope.mp4")


def test_raw_facemesh_fps(talk_frames):
    assert raw_facemesh_fps(talk_frames[:10]) > 1
