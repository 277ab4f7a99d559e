"""``deepstudio bench``'s watermark figure: embedding timed the way a render marks frames."""

from __future__ import annotations

from pathlib import Path

from deepstudio.cli.bench import watermark_seconds


def test_watermark_seconds_marks_the_clips_frames(index_video: Path) -> None:
    seconds = watermark_seconds(index_video, 10)
    assert 0.0 < seconds < 5.0
