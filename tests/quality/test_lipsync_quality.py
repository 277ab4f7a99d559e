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
CLIP = "talk_long_b.mp4"  # 20 s: train on the first 14 s, test on the rest
SPLIT_S = 14.0
SOUND_DELAY_FRAMES = 6
"""talk_long_b's sound comes ~240 ms (6 frames at 25 fps) after its picture: the MANIFEST's
sync check and ``audio_mouth_ceiling.py`` (ridge r 0.54 at 0, 0.72 at +6) agree. Training
corrects it, and the own-audio reconstruction is driven by the held-out audio moved into
picture time. talk_long_a (60 s, 256 px) was used before: its loudness and mouth opening are
unrelated (-0.12) and a linear model reaches only r 0.53 from its audio, below the floor."""
FPS = 25.0
OTHER_SPEECH = ("speech_a", "speech_b")
UNTOUCHED_NEAR_0 = 0.2
"""Over the 5 s tested, the untouched talk_long_b mouth follows speech_a's loudness at r 0.25
(chance), speech_b's at 0.03."""


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
                 "--sound-delay", str(SOUND_DELAY_FRAMES),
                 "--identity", "Speaker", "-q"]) == 0
    held_out = tmp_path / "held_out.mp4"  # the untouched test part, as its own clip
    run_ffmpeg(["-ss", str(SPLIT_S), "-i", str(clip), "-c:v", "libx264", "-crf", "16",
                "-c:a", "aac", str(held_out)], held_out)
    own_audio = tmp_path / "own.wav"  # the held-out sound, moved into picture time
    run_ffmpeg(["-ss", str(SOUND_DELAY_FRAMES / FPS), "-i", str(held_out), "-vn", "-ac", "1",
                "-ar", "16000", str(own_audio)], own_audio)
    untouched_clip = tmp_path / "untouched.mp4"  # the same 5 s the lip-synced outputs hold
    run_ffmpeg(["-i", str(held_out), "-t", "5", "-an", "-c:v", "libx264", "-crf", "16",
                str(untouched_clip)], untouched_clip)
    results = {}
    drives = {"own_audio": own_audio, **{s: testdata / f"{s}.wav" for s in OTHER_SPEECH}}
    for name, audio in drives.items():
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
        if name != "own_audio":
            untouched = out / f"lipsync_untouched_{name}.json"
            assert main(["evaluate", "lipsync", str(untouched_clip), "--audio", str(audio),
                         "--json", str(untouched), "-q"]) == 0
            results[f"untouched_{name}"] = _summary(untouched)
    card = json.loads((model / "card.json").read_text())
    print(json.dumps({"iterations": card["iterations"], **results}, indent=1))
    assert results["own_audio"]["mouth_correlation_with_original"] >= 0.6
    # the floor holds "where the untouched clip scores near 0": a speech file whose
    # loudness follows the untouched mouth by chance says nothing about the model
    fair = [s for s in OTHER_SPEECH
            if abs(results[f"untouched_{s}"]["mouth_energy_correlation"]) < UNTOUCHED_NEAR_0]
    assert fair, "no speech file is unrelated to the untouched clip's mouth"
    for speech in fair:
        assert results[speech]["mouth_energy_correlation"] >= 0.4, speech
        assert results[speech]["av_offset_frames"] == 0, speech
