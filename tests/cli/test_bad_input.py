"""Every kind of bad input gives one line naming the file and the problem, and exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest
from synth import run_ffmpeg

from deepstudio.cli.main import main


def _fails_cleanly(capsys, argv: list[str], path, words: str) -> None:
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "Traceback" not in err[0]
    assert str(path) in err[0] and words in err[0], err[0]


@pytest.fixture
def out(tmp_path):
    return tmp_path / "out.mp4"


def test_zero_byte_file(tmp_path, out, capsys):
    bad = tmp_path / "empty.mp4"
    bad.touch()
    _fails_cleanly(capsys, ["render", str(bad), "-o", str(out), "-q"], bad, "empty")
    assert not out.exists()


def test_text_named_mp4(tmp_path, out, capsys):
    bad = tmp_path / "readme.mp4"
    bad.write_text("hello\n" * 100)
    _fails_cleanly(capsys, ["analyze", str(bad), "-q"], bad, "not a media file")


def test_truncated_mp4(tmp_path, out, capsys, testdata):
    data = (testdata / "talk_b.mp4").read_bytes()
    bad = tmp_path / "cut.mp4"
    bad.write_bytes(data[: len(data) // 2])
    code = main(["render", str(bad), "-o", str(out), "-q"])
    err = capsys.readouterr().err.strip()
    if code == 0:  # an index-first file renders what is there, and says how much
        from deepstudio.media.probe import probe

        assert probe(out).frame_count == probe(bad).frame_count
    else:
        assert code == 2 and str(bad) in err and len(err.splitlines()) == 1


def test_audio_only(testdata, out, capsys):
    wav = testdata / "speech_a.wav"
    _fails_cleanly(capsys, ["render", str(wav), "-o", str(out), "-q"], wav, "no video")


def test_image_as_video(testdata, out, capsys):
    jpg = testdata / "face_02.jpg"
    _fails_cleanly(capsys, ["analyze", str(jpg), "-q"], jpg, "still image")


def test_missing_file(tmp_path, out, capsys):
    missing = tmp_path / "gone.mp4"
    _fails_cleanly(capsys, ["render", str(missing), "-o", str(out), "-q"], missing, "not found")


def test_unwritable_output(index_video, tmp_path, capsys):
    target = tmp_path / "no" / "such" / "folder" / "out.mp4"
    _fails_cleanly(capsys, ["render", str(index_video), "-o", str(target), "-q"], target,
                   "does not exist")


def test_unwritable_output_folder(index_video, capsys):
    target = __import__("pathlib").Path("/proc/out.mp4")  # refused even to root
    _fails_cleanly(capsys, ["render", str(index_video), "-o", str(target), "-q"], target,
                   "not writable")


def test_output_is_a_directory(index_video, tmp_path, capsys):
    _fails_cleanly(capsys, ["render", str(index_video), "-o", str(tmp_path), "-q"], tmp_path,
                   "directory")


def test_range_outside_clip(index_video, out, capsys):
    _fails_cleanly(capsys, ["render", str(index_video), "-o", str(out), "--start", "99", "-q"],
                   index_video, "empty range")


def test_exit_code_and_no_traceback_in_a_real_process(tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"\x00" * 1000)
    proc = subprocess.run([sys.executable, "-m", "deepstudio", "analyze", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("deepstudio: error: ")


def test_odd_size_and_vfr_render(tmp_path, capsys):
    odd = tmp_path / "odd.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1",
               "-vf", "scale=853:479", "-c:v", "libx264", "-pix_fmt", "yuv444p", str(odd))
    vfr = tmp_path / "vfr.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30:duration=1.5",
               "-vf", "setpts='if(lt(N,30),N/30,1+(N-30)/15)/TB'", "-fps_mode", "passthrough",
               "-frames:v", "45", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(vfr))
    from deepstudio.media.probe import probe

    for clip in (odd, vfr):
        out = tmp_path / f"{clip.stem}_out.mp4"
        assert main(["render", str(clip), "-o", str(out), "--effect", "debug", "-q"]) == 0
        source, result = probe(clip), probe(out)
        assert result.frame_count == source.frame_count
        assert abs(result.duration_s - source.frame_count / float(source.fps)) < 0.1
