"""Issue floor: lip-sync trained on the first part of a talking clip, tested on the rest.

Run with ``pytest -m slow tests/quality -s`` (about 30 minutes of training on this CPU).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from deepstudio.cli.main import main

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]
TRAIN_MINUTES = float(os.environ.get("DEEPSTUDIO_QUALITY_MINUTES", "28"))
CLIP = "talk_long_a.mp4"  # 60 s: train on the first 45 s, test on the last 15 s
SPLIT_S = 45.0


def _out(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DEEPSTUDIO_QUALITY_OUT", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _summary(path: Path) -> dict:
    return json.loads(path.read_text())["summary"]


def test_lipsync_quality_floor(testdata, tmp_path):
    from deepstudio.media.ffmpeg import run_ffmpeg

    out = _out(tmp_path)
    clip = testdata / CLIP
    ledger = tmp_path / "Ledger.dstudio"
    assert main(["new", str(ledger)]) == 0
    assert main(["consent", "add", str(ledger), "--identity", "Speaker", "--recorded-by", "QA",
                 "--scope", "train", "--scope", "lipsync"]) == 0
    model = tmp_path / "speaker.dsmodel"
    assert main(["train-lipsync", str(clip), "-o", str(model), "--until", str(SPLIT_S),
                 "--minutes", str(TRAIN_MINUTES), "--lr", "2e-4", "--project", str(ledger),
                 "--identity", "Speaker", "-q"]) == 0
    held_out = tmp_path / "held_out.mp4"  # the untouched test part, as its own clip
    run_ffmpeg(["-ss", str(SPLIT_S), "-i", str(clip), "-c:v", "libx264", "-crf", "16",
                "-c:a", "aac", str(held_out)], held_out)
    own_audio = tmp_path / "own.wav"
    run_ffmpeg(["-i", str(held_out), "-vn", "-ac", "1", "-ar", "16000", str(own_audio)],
               own_audio)
    results = {}
    for name, audio in (("own_audio", own_audio), ("other_speech", testdata / "speech_a.wav")):
        synced = out / f"lipsync_{name}.mp4"
        assert main(["lipsync", str(held_out), "--audio", str(audio), "--model", str(model),
                     "-o", str(synced), "--project", str(ledger), "--identity", "Speaker",
                     "--end", "5", "-q"]) == 0
        report = out / f"lipsync_{name}.json"
        args = ["evaluate", "lipsync", str(synced), "--json", str(report), "--plot",
                str(out / f"lipsync_{name}.png"), "-q"]
        if name == "own_audio":
            args += ["--original", str(held_out)]
        assert main(args) == 0
        results[name] = _summary(report)
    untouched = out / "lipsync_untouched_other_speech.json"
    assert main(["evaluate", "lipsync", str(held_out), "--audio",
                 str(testdata / "speech_a.wav"), "--json", str(untouched), "-q"]) == 0
    results["untouched_other_speech"] = _summary(untouched)
    card = json.loads((model / "card.json").read_text())
    print(json.dumps({"iterations": card["iterations"], **results}, indent=1))
    assert results["own_audio"]["mouth_correlation_with_original"] >= 0.6
    assert results["other_speech"]["mouth_energy_correlation"] >= 0.4
    assert abs(results["untouched_other_speech"]["mouth_energy_correlation"]) < 0.2
    assert results["other_speech"]["av_offset_frames"] == 0
