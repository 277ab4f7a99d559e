"""The render path on real and generated media: exact frames, audio in sync, all codecs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from synth import decode_index, run_ffmpeg

from deepstudio.cli.main import main
from deepstudio.media.audio import read_audio
from deepstudio.media.decode import VideoReader
from deepstudio.media.probe import probe


def test_range_render_keeps_exact_frames_and_duration(index_video, tmp_path):
    out = tmp_path / "range.mp4"
    assert main(["render", str(index_video), "-o", str(out), "--start", "1", "--end", "3",
                 "-q"]) == 0
    info = probe(out)
    assert info.frame_count == 50 and info.fps == 25
    assert abs(info.duration_s - 2.0) < 0.05
    with VideoReader(out) as reader:
        assert [decode_index(f) for _, f in reader.frames()] == list(range(25, 75))
    assert abs(len(read_audio(out)) / 16000 - 2.0) < 0.05


@pytest.fixture(scope="module")
def flash_clip(tmp_path_factory):
    """White flashes at frames 30 and 80 with clicks at the same instants (25 fps)."""
    folder = tmp_path_factory.mktemp("sync")
    frames = np.zeros((100, 64, 64, 3), np.uint8)
    frames[[30, 80]] = 255
    rate = 48000
    audio = np.zeros(4 * rate, np.float32)
    for frame in (30, 80):
        start = int(frame / 25 * rate)
        audio[start:start + 480] = 0.8
    wav = folder / "clicks.wav"
    import wave

    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((audio * 32767).astype(np.int16).tobytes())
    clip = folder / "flash.mp4"
    run_ffmpeg("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "64x64", "-r", "25", "-i", "pipe:0",
               "-i", str(wav), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
               str(clip), stdin=frames.tobytes())
    return clip


def _onsets(path) -> tuple[list[int], list[float]]:
    with VideoReader(path) as reader:
        bright = [k for k, f in reader.frames() if f.mean() > 128]
    audio = np.abs(read_audio(path, sample_rate=16000))
    loud = np.flatnonzero(audio > 0.3)
    clicks = [loud[0] / 16000]
    clicks += [s / 16000 for a, s in itertools.pairwise(loud) if s - a > 1600]
    return bright, clicks


def test_audio_stays_in_sync_through_a_range_render(flash_clip, tmp_path):
    out = tmp_path / "sync.mp4"
    assert main(["render", str(flash_clip), "-o", str(out), "--start", "0.4", "-q",
                 "--effect", "debug"]) == 0
    bright, clicks = _onsets(out)
    assert bright == [20, 70]
    for frame, click in zip(bright, clicks):
        assert abs(click - frame / 25) < 0.5 / 25 + 0.025  # within half a frame + AAC priming


@pytest.mark.parametrize("codec", ["h265", "prores"])
def test_other_codecs(index_video, tmp_path, codec):
    out = tmp_path / ("o.mov" if codec == "prores" else "o.mp4")
    assert main(["render", str(index_video), "-o", str(out), "--codec", codec, "-q"]) == 0
    info = probe(out)
    assert info.codec == ("hevc" if codec == "h265" else "prores")
    assert info.frame_count == 120 and info.has_audio
    with VideoReader(out) as reader:
        assert decode_index(reader.read(77)) == 77


def test_png_sequence_with_audio(index_video, tmp_path):
    out = tmp_path / "frames"
    assert main(["render", str(index_video), "-o", str(out), "--codec", "png", "--end", "1",
                 "-q"]) == 0
    pngs = sorted(out.glob("frame_*.png"))
    assert len(pngs) == 25 and (out / "audio.wav").is_file()


def test_faceless_frames_pass_through_unchanged(tmp_path):
    clip = tmp_path / "noface.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1",
               "-c:v", "libx264", "-crf", "10", "-pix_fmt", "yuv420p", str(clip))
    out = tmp_path / "noface_out.mp4"
    assert main(["render", str(clip), "-o", str(out), "--effect", "debug", "--crf", "10",
                 "-q"]) == 0
    with VideoReader(clip) as a, VideoReader(out) as b:
        for (_, x), (_, y) in zip(a.frames(), b.frames()):
            # Only the invisible watermark (about 41 dB) and the re-encode differ: no drawing.
            diff = np.abs(x.astype(float) - y.astype(float))
            assert 10 * np.log10(255**2 / np.mean(diff**2)) > 35
            assert np.percentile(diff.max(axis=2), 99.9) < 40


def test_debug_effect_draws_on_the_face(testdata, tmp_path):
    out = tmp_path / "debug.mp4"
    assert main(["render", str(testdata / "talk_b.mp4"), "-o", str(out), "--effect", "debug",
                 "--end", "1", "-q"]) == 0
    with VideoReader(testdata / "talk_b.mp4") as a, VideoReader(out) as b:
        diff = np.abs(a.read(10).astype(int) - b.read(10).astype(int)).sum(axis=2)
    ys, xs = np.nonzero(diff > 120)
    assert len(ys) > 500  # landmarks and box drawn
    assert 100 < np.median(xs) < 424 and 80 < np.median(ys) < 450  # on the face, not elsewhere


def test_killed_render_resumes_from_finished_chunks(index_video, tmp_path, monkeypatch):
    from deepstudio.cli.render import session_for_video
    from deepstudio.engine import render as render_module
    from deepstudio.engine.render import RenderSettings

    work = tmp_path / "work"
    out = tmp_path / "resumed.mp4"
    encoded: list[int] = []
    original = render_module._encode_range

    def counting(inputs, processors, disclosure, a, b, *rest):
        encoded.append(a)
        if len(encoded) == 3 and not hasattr(counting, "crashed"):
            counting.crashed = True
            raise KeyboardInterrupt  # the process dies in the middle of the third chunk
        return original(inputs, processors, disclosure, a, b, *rest)

    monkeypatch.setattr(render_module, "_encode_range", counting)
    session = session_for_video(index_video, "none")
    with pytest.raises(KeyboardInterrupt):
        render_module.render(session.render_inputs(), out, RenderSettings(chunk_seconds=1), work)
    assert not out.exists()
    encoded.clear()
    render_module.render(session.render_inputs(), out, RenderSettings(chunk_seconds=1), work)
    assert encoded == [50, 75, 100]  # chunks 0 and 25 were kept, not redone
    with VideoReader(out) as reader:
        assert [decode_index(f) for _, f in reader.frames()] == list(range(120))
    assert not any(work.iterdir())  # the work folder is cleaned after success
