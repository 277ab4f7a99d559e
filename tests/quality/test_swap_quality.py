"""Issue floor: a 64-px swap model trained for at most 30 minutes on this CPU.

Run with ``pytest -m slow tests/quality -s``; the figures are printed and written to
``$DEEPSTUDIO_QUALITY_OUT`` (default: the test's temporary folder) for docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from deepstudio.cli.main import main

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]
TRAIN_MINUTES = float(os.environ.get("DEEPSTUDIO_QUALITY_MINUTES", "28"))


def _out(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DEEPSTUDIO_QUALITY_OUT", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_swap_quality_floor(testdata, tmp_path):
    out = _out(tmp_path)
    ledger = tmp_path / "Ledger.dstudio"
    assert main(["new", str(ledger)]) == 0
    for person in ("Woman", "Man"):
        assert main(["consent", "add", str(ledger), "--identity", person, "--recorded-by",
                     "QA", "--scope", "train", "--scope", "swap"]) == 0
    woman, man = tmp_path / "woman", tmp_path / "man"
    assert main(["faceset", "extract", str(testdata / "swap_b.mp4"), "--identity", "Woman",
                 "-o", str(woman), "-q"]) == 0
    assert main(["faceset", "extract", str(testdata / "swap_a.mp4"), "--identity", "Man",
                 "-o", str(man), "-q"]) == 0
    model = tmp_path / "woman_on_man.dsmodel"
    # LIAE at 3e-4: the best mouth correlation of the runs in docs/benchmarks.md
    assert main(["train", "--src", str(woman), "--dst", str(man), "-o", str(model), "--res",
                 "64", "--arch", "liae", "--lr", "3e-4", "--minutes", str(TRAIN_MINUTES),
                 "--project", str(ledger), "-q"]) == 0
    swapped = out / "swap_quality.mp4"
    assert main(["swap", str(testdata / "swap_a.mp4"), "--model", str(model), "-o",
                 str(swapped), "--project", str(ledger), "-q"]) == 0
    report = out / "swap_quality.json"
    assert main(["evaluate", "swap", str(testdata / "swap_a.mp4"), str(swapped), "--source",
                 str(woman), "--json", str(report), "--plot", str(out / "swap_quality.png"),
                 "-q"]) == 0
    summary = json.loads(report.read_text())["summary"]
    card = json.loads((model / "card.json").read_text())
    print(json.dumps({"iterations": card["iterations"], **summary}, indent=1))
    assert summary["fraction_closer_to_source"] >= 0.8
    assert summary["correlation"]["mouth"] >= 0.8
