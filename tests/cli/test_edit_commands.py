"""Face swap and lip-sync end to end from the CLI on real clips (tiny models, seconds)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepstudio.cli.main import main
from deepstudio.media.audio import read_audio
from deepstudio.media.decode import VideoReader
from deepstudio.media.probe import probe


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ledger") / "Ledger.dstudio"
    assert main(["new", str(folder)]) == 0
    for person, scopes in (("Man", ["train", "swap"]), ("Woman", ["train", "swap"]),
                           ("Anchor", ["train", "lipsync"])):
        args = ["consent", "add", str(folder), "--identity", person, "--recorded-by", "QA"]
        for scope in scopes:
            args += ["--scope", scope]
        assert main(args) == 0
    return folder


@pytest.fixture(scope="module")
def swap_model(ledger, testdata, tmp_path_factory):
    folder = tmp_path_factory.mktemp("swap")
    for clip, person in (("swap_a.mp4", "Man"), ("swap_b.mp4", "Woman")):
        assert main(["faceset", "extract", str(testdata / clip), "--identity", person, "-o",
                     str(folder / person), "--max-faces", "12", "-q"]) == 0
    model = folder / "m.dsmodel"
    assert main(["train", "--src", str(folder / "Man"), "--dst", str(folder / "Woman"), "-o",
                 str(model), "--res", "32", "--iters", "4", "--project", str(ledger),
                 "-q"]) == 0
    return model


def test_swap_renders_the_face_and_records_it(swap_model, ledger, testdata, tmp_path):
    out = tmp_path / "swapped.mp4"
    assert main(["swap", str(testdata / "swap_b.mp4"), "--model", str(swap_model), "-o",
                 str(out), "--end", "1", "--project", str(ledger), "-q"]) == 0
    assert probe(out).frame_count == 30
    with VideoReader(testdata / "swap_b.mp4") as a, VideoReader(out) as b:
        diff = np.abs(a.read(12).astype(int) - b.read(12).astype(int)).mean(axis=2)
    assert diff[150:400, 150:360].mean() > 3 * diff[:80, :].mean()  # face changed, wall not
    report = tmp_path / "v.json"
    main(["verify", str(out), "--json", str(report)])
    claim = json.loads(report.read_text())["credentials"]["claim"]["deepstudio"]
    assert claim["effects"] == ["face_swap"] and len(claim["consent_record_ids"]) == 2
    assert claim["models"]


def test_swap_is_refused_without_consent(swap_model, ledger, testdata, tmp_path, capsys):
    out = tmp_path / "x.mp4"
    assert main(["swap", str(testdata / "swap_b.mp4"), "--model", str(swap_model), "-o",
                 str(out), "-q"]) == 2
    assert "consent" in capsys.readouterr().err
    listing = ledger.parent / "listing"
    main(["consent", "list", str(ledger)])
    record = next(line.split()[0] for line in capsys.readouterr().out.splitlines()
                  if "Woman" in line)
    assert main(["consent", "revoke", str(ledger), record]) == 0
    assert main(["swap", str(testdata / "swap_b.mp4"), "--model", str(swap_model), "-o",
                 str(out), "--project", str(ledger), "-q"]) == 2
    err = capsys.readouterr().err
    assert "Woman" in err and "revoked" in err and not out.exists() and not listing.exists()


def test_lipsync_trains_and_dubs_with_new_audio(ledger, testdata, tmp_path):
    model = tmp_path / "anchor.dsmodel"
    clip = testdata / "talk_b.mp4"
    assert main(["train-lipsync", str(clip), "-o", str(model), "--iters", "2", "--until", "1",
                 "--project", str(ledger), "--identity", "Anchor", "-q"]) == 0
    out = tmp_path / "dub.mp4"
    assert main(["lipsync", str(clip), "--audio", str(testdata / "speech_b.wav"), "--model",
                 str(model), "-o", str(out), "--end", "1.2", "--project", str(ledger),
                 "--identity", "Anchor", "-q"]) == 0
    assert probe(out).frame_count == 30
    dubbed = read_audio(out)[:16000]
    new = read_audio(testdata / "speech_b.wav")[:16000]
    original = read_audio(clip)[:16000]
    envelope = [np.abs(x[: len(dubbed)]).reshape(-1, 400).mean(axis=1) for x in
                (dubbed, new, original)]
    assert np.corrcoef(envelope[0], envelope[1])[0, 1] > 0.9  # the new dialogue is heard
    assert np.corrcoef(envelope[0], envelope[2])[0, 1] < 0.5  # the old one is replaced
    with VideoReader(clip) as a, VideoReader(out) as b:
        diff = np.abs(a.read(15).astype(int) - b.read(15).astype(int)).mean(axis=2)
    assert diff[330:430, 190:330].mean() > 2 * diff[:100, :].mean()  # only the mouth area
