"""VerifyReport: verdicts, payload matching, text and JSON forms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ffmpeg_util import synthetic_video

from deepstudio.provenance.credentials import RenderProvenance, read_credentials, sign_render
from deepstudio.provenance.payload import payload_from_render_id, payload_hex
from deepstudio.provenance.report import VerifyReport
from deepstudio.provenance.wm_detect import WatermarkResult

PAYLOAD = payload_from_render_id("render-report")


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    synthetic_video(folder / "src.mp4")
    sign_render(folder / "src.mp4", folder / "out.mp4",
                RenderProvenance("render-report", PAYLOAD, consent_record_ids=("consent-9",)))
    return folder / "out.mp4"


def _found(payload: int) -> WatermarkResult:
    return WatermarkResult(True, payload, 0.9, 0.97, 60, 1.0, 14.0)


def test_valid_credentials_and_matching_watermark(signed: Path) -> None:
    report = VerifyReport(signed, read_credentials(signed), _found(PAYLOAD))
    assert report.synthetic and report.payload_matches is True
    assert "credentials valid" in report.verdict
    text = report.to_text()
    assert payload_hex(PAYLOAD) in text and "matches the credentials" in text
    assert "consent-9" in text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["payload_matches"] is True and data["credentials"]["valid"] is True


def test_watermark_of_another_render_is_flagged(signed: Path) -> None:
    report = VerifyReport(signed, read_credentials(signed), _found(PAYLOAD ^ 1))
    assert report.payload_matches is False
    assert "another render" in report.verdict


def test_stripped_credentials_but_watermark(testdata: Path) -> None:
    clip = testdata / "swap_a.mp4"
    report = VerifyReport(clip, read_credentials(clip), _found(PAYLOAD))
    assert report.synthetic and "no credentials" in report.verdict
    nothing = VerifyReport(clip, read_credentials(clip),
                           WatermarkResult(False, None, 0.0, 0.5, 60))
    assert not nothing.synthetic
    assert nothing.verdict == "no DeepStudio disclosure found"
    assert "not found (60 frames checked)" in nothing.to_text()
