"""Probing real and broken files: exact facts or a one-line error naming the file."""

from __future__ import annotations

from fractions import Fraction

import pytest
from synth import run_ffmpeg

from deepstudio.errors import MediaError
from deepstudio.media.probe import probe


def test_probe_real_clip(testdata):
    info = probe(testdata / "occlusion_a.mp4")
    assert info.has_video and not info.is_vfr
    assert info.fps == Fraction(30000, 1001)
    assert info.frame_count == 300
    assert (info.width, info.height) == (640, 360)
    assert info.pix_fmt == "yuv420p"
    assert info.audio[0].sample_rate == 44100 and info.audio[0].channels == 1
    assert abs(info.duration_s - 10.0) < 0.05
    assert len(info.content_hash) == 32


def test_probe_generated_clip_counts_frames(index_video):
    info = probe(index_video)
    assert info.frame_count == 120 and info.fps == 25 and info.rotation == 0


def test_content_hash_is_stable_and_distinct(testdata):
    first = probe(testdata / "talk_a.mp4").content_hash
    assert first == probe(testdata / "talk_a.mp4").content_hash
    assert first != probe(testdata / "talk_b.mp4").content_hash


def _problem(path, **kw) -> str:
    with pytest.raises(MediaError) as err:
        probe(path, **kw)
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    return message


def test_missing_file(tmp_path):
    assert "not found" in _problem(tmp_path / "nope.mp4")


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.touch()
    assert "empty" in _problem(path)


def test_text_file_named_mp4(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 50)
    assert "not a media file" in _problem(path)


def test_truncated_mp4(tmp_path, testdata):
    data = (testdata / "talk_a.mp4").read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: len(data) // 3])
    message = _problem(path, require_video=True) if _raises(path) else None
    if message is None:  # faststart files keep their index: the readable part is reported
        assert probe(path).frame_count < probe(testdata / "talk_a.mp4").frame_count


def _raises(path) -> bool:
    try:
        probe(path, require_video=True)
    except MediaError:
        return True
    return False


def test_audio_only_file_as_video(testdata):
    assert "no video" in _problem(testdata / "speech_a.wav", require_video=True)
    assert probe(testdata / "speech_a.wav").has_audio


def test_image_given_as_video(testdata):
    assert "still image" in _problem(testdata / "face_01.jpg", require_video=True)


def test_directory(tmp_path):
    assert "not a regular file" in _problem(tmp_path)


def test_local_files_only(tmp_path):
    playlist = tmp_path / "remote.m3u8"
    playlist.write_text("#EXTM3U\n#EXTINF:10,\nhttp://127.0.0.1:9/x.ts\n#EXT-X-ENDLIST\n")
    _problem(playlist, require_video=True)


def test_probe_generated_rates(tmp_path):
    for rate, expected in (("24000/1001", Fraction(24000, 1001)), ("60", Fraction(60))):
        clip = tmp_path / f"r{expected.numerator}.mp4"
        run_ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=64x48:rate={rate}:duration=1",
                   "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip))
        info = probe(clip)
        assert info.fps == expected and not info.is_vfr
