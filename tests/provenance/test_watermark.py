"""Watermark: invisibility, robustness to ordinary handling, no false positives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ffmpeg_util import read_frames, synthetic_video
from wm_harness import psnr, run_clip

from deepstudio.provenance.payload import payload_from_render_id
from deepstudio.provenance.watermark import WatermarkEmbedder, detect_watermark

PAYLOAD = payload_from_render_id("render-5e1f00d2c0de")
ROBUST_CLIPS = ("talk_a.mp4", "swap_b.mp4")
"""Real clips for the robustness test (the bench covers all; see bench_watermark.py)."""
MET = ("none", "crf28", "crop10")
"""Attacks the watermark survives today (payload bit accuracy >= 95 %)."""
NOT_YET = ("scale50", "all")
"""Attacks of issue 6 not yet reliably survived on 75 frames: checked in the slow test."""


def test_embed_keeps_shape_and_is_invisible(testdata: Path) -> None:
    frame = next(read_frames(testdata / "talk_c.mp4", 1))
    h, w = frame.shape[:2]
    marked = WatermarkEmbedder(PAYLOAD, w, h).embed(frame)
    assert marked.shape == frame.shape and marked.dtype == np.uint8
    assert 40.0 <= psnr(marked, frame) < 60.0  # invisible, yet really there
    # same luma delta on R, G and B: chroma unchanged wherever nothing clipped
    delta = marked.astype(int) - frame
    inside = np.all((frame > 8) & (frame < 247), axis=2)
    assert np.all(delta[inside, 0] == delta[inside, 1])
    with pytest.raises(ValueError):
        WatermarkEmbedder(PAYLOAD, w + 2, h).embed(frame)


def test_robust_on_generated_clip(tmp_path: Path) -> None:
    src = tmp_path / "gen.mp4"
    synthetic_video(src, 640, 360, seconds=3.0)
    result = run_clip(src, tmp_path, PAYLOAD, max_frames=75, attacks=("crf28",))
    assert result.psnr_db >= 40.0
    assert all(acc >= 0.95 for acc in result.bit_accuracy.values()), result.bit_accuracy


@pytest.mark.parametrize("clip", ROBUST_CLIPS)
def test_robust_on_real_clips(clip: str, testdata: Path, tmp_path: Path) -> None:
    result = run_clip(testdata / clip, tmp_path, PAYLOAD, max_frames=75, attacks=MET[1:])
    assert result.psnr_db >= 40.0
    assert all(acc >= 0.95 for acc in result.bit_accuracy.values()), result.bit_accuracy


@pytest.mark.slow
@pytest.mark.parametrize("clip", ROBUST_CLIPS)
def test_robust_to_downscale_and_all_combined(clip: str, testdata: Path, tmp_path: Path) -> None:
    """The full issue-6 bar; currently fails for some clips (see the provenance report)."""
    result = run_clip(testdata / clip, tmp_path, PAYLOAD, max_frames=75, attacks=NOT_YET)
    assert all(acc >= 0.95 for acc in result.bit_accuracy.values()), result.bit_accuracy


def test_no_false_positives_on_untouched_clips(testdata: Path) -> None:
    clips = sorted(testdata.glob("*.mp4"))
    assert len(clips) >= 10
    for clip in clips:
        result = detect_watermark(read_frames(clip, 60), max_frames=60)
        assert not result.detected and result.payload is None, clip.name
        assert result.frames_used > 0
