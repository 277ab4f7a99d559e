from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from deepstudio.errors import Cancelled, MediaError
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
def talk_a(testdata: Path, cache_dir: Path) -> tuple[FaceAnalysis, float]:
    start = time.perf_counter()
    reports: list[Progress] = []
    analysis = analyze_video(testdata / "talk_a.mp4", progress=reports.append,
                             cache_dir=cache_dir)
    assert reports and all(0 < r.fraction <= 1 for r in reports)
    assert reports[-1].fraction == 1.0
    return analysis, time.perf_counter() - start


def test_one_talking_head_is_one_track(talk_a):
    analysis, _ = talk_a
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
    analysis, first_s = talk_a
    stored = cache_path(cache_dir, analysis.content_hash)
    assert stored.name == f"{analysis.content_hash}-v{ANALYSIS_VERSION}.npz" and stored.is_file()
    with np.load(stored, allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)
    start = time.perf_counter()
    again = analyze_video(testdata / "talk_a.mp4", cache_dir=cache_dir)
    assert time.perf_counter() - start < min(0.5, first_s / 5)
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


def test_multi_shot_clip_cuts_and_tracks(testdata: Path):
    analysis = analyze_video(testdata / "occlusion_a.mp4")
    assert analysis.cuts == [45, 107, 236]
    # FaceMesh finds the performer in the third shot and one audience face in the last;
    # different people, so different ids and no re-association (that is tested on spliced
    # shots in test_tracker.py). No track crosses a cut without a re-association.
    assert len(analysis.tracks) == 2
    for track in analysis.tracks.values():
        shots = np.searchsorted(analysis.cuts, track.frames, side="right")
        assert len(np.unique(shots)) == 1
    assert analysis.reassociations == []


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
