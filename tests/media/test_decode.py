"""Decoding returns exactly the frame asked for, upright, at any size."""

from __future__ import annotations

import numpy as np
import pytest
from synth import decode_index, make_index_video, run_ffmpeg

from deepstudio.media.decode import VideoReader


def test_sequential_frames_are_in_order_and_complete(index_video):
    with VideoReader(index_video) as reader:
        indices = [(k, decode_index(f)) for k, f in reader.frames()]
    assert len(indices) == reader.frame_count == 120
    assert all(k == shown for k, shown in indices)


def test_random_access_returns_the_exact_frame(index_video):
    rng = np.random.default_rng(7)
    with VideoReader(index_video) as reader:
        wanted = [*rng.integers(0, 120, 40).tolist(), 0, 119, 118, 1, 60, 61, 59]
        for k in wanted:
            assert decode_index(reader.read(k)) == k


def test_range_streaming_starts_mid_gop(index_video):
    with VideoReader(index_video) as reader:
        got = [decode_index(f) for _, f in reader.frames(37, 50)]
    assert got == list(range(37, 50))


def test_rotation_metadata_is_applied(tmp_path, index_video):
    rotated = tmp_path / "rotated.mp4"
    run_ffmpeg("-display_rotation", "90", "-i", str(index_video), "-c", "copy", str(rotated))
    reference = tmp_path / "reference.png"
    run_ffmpeg("-i", str(rotated), "-frames:v", "1", str(reference))  # ffmpeg autorotates
    import cv2

    expected = cv2.cvtColor(cv2.imread(str(reference)), cv2.COLOR_BGR2RGB)
    with VideoReader(rotated) as reader:
        assert reader.info.rotation in (90, 270)
        frame = reader.read(0)
    assert frame.shape == expected.shape == (128, 96, 3)
    assert np.abs(frame.astype(int) - expected.astype(int)).mean() < 8


@pytest.mark.parametrize("size", [(853, 479), (4096, 2160)])
def test_odd_and_4k_sizes_decode(tmp_path, size):
    w, h = size
    clip = tmp_path / f"{w}x{h}.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=0.4",
               "-vf", f"scale={w}:{h}", "-c:v", "libx264", "-preset", "ultrafast",
               "-pix_fmt", "yuv444p", str(clip))
    with VideoReader(clip) as reader:
        frames = list(reader.frames())
        assert len(frames) == 10
        assert frames[0][1].shape == (h, w, 3)
        assert reader.read(7).shape == (h, w, 3)


def test_variable_frame_rate_is_conformed_to_average_rate(tmp_path):
    clip = tmp_path / "vfr.mp4"
    # 30 frames at 30 fps, then 15 frames at 15 fps: two seconds, VFR.
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30:duration=1.5",
               "-vf", "setpts='if(lt(N,30),N/30,1+(N-30)/15)/TB'", "-fps_mode", "passthrough",
               "-frames:v", "45", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip))
    with VideoReader(clip) as reader:
        assert reader.info.is_vfr
        n = reader.frame_count
        assert abs(n / float(reader.info.fps) - 2.0) < 0.1
        frames = list(reader.frames())
    assert len(frames) == n


def test_long_gop_file_seeks_exactly(tmp_path):
    clip = make_index_video(tmp_path / "longgop.mp4", frames=200, fps="30000/1001", gop=250)
    with VideoReader(clip) as reader:
        for k in (199, 3, 150, 151, 100):
            assert decode_index(reader.read(k)) == k


def test_decoded_planes_survive_the_rgb_round_trip(index_video):
    """A render converts only the frames effects touch, and what they leave alone comes back
    bit for bit when their RGB goes back to 4:2:0."""
    from deepstudio.media.decode import rgb_to_i420

    with VideoReader(index_video) as reader:
        for k, decoded in reader.decoded_frames(10, 13):
            planes = decoded.i420()
            assert planes is not None and planes.shape == (decoded.height * 3 // 2,
                                                           decoded.width)
            rgb = decoded.rgb()
            assert decode_index(rgb) == k
            assert rgb is not decoded.rgb()  # fresh arrays: effects may draw on them
            assert np.array_equal(rgb_to_i420(rgb), planes)


def test_frames_without_usable_planes_still_give_rgb(tmp_path, index_video):
    """Rotated, odd-sized or full-range frames have no planes to hand on, only RGB."""
    rotated = tmp_path / "rotated.mp4"
    run_ffmpeg("-display_rotation", "90", "-i", str(index_video), "-c", "copy", str(rotated))
    odd = tmp_path / "odd.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=0.2",
               "-vf", "scale=853:479", "-c:v", "libx264", "-preset", "ultrafast",
               "-pix_fmt", "yuv444p", str(odd))
    full = tmp_path / "full.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=0.2",
               "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuvj420p", str(full))
    for clip, shape in ((rotated, (128, 96, 3)), (odd, (479, 853, 3)), (full, (48, 64, 3))):
        with VideoReader(clip) as reader:
            _, decoded = next(reader.decoded_frames(0, 1))
            assert decoded.i420() is None, clip.name
            assert decoded.rgb().shape == shape
