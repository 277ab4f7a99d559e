"""The reduced fuzzed-media campaign of the default suite: 50 mutants of the real clips, every
kind of damage among them, through ``probe`` and ``render`` (the full campaign, >= 300 files
through six commands, is ``python tests/faults/fuzz_media.py``; figures in
docs/reliability.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).with_name("fuzz_media.py")
MAX_RSS_MB = 3072


@pytest.mark.timeout(900)
def test_fuzzed_media_exit_cleanly_in_bounded_time_and_memory(testdata: Path,
                                                              tmp_path: Path) -> None:
    outcomes_file = tmp_path / "outcomes.jsonl"
    proc = subprocess.run(
        [sys.executable, str(HARNESS), "--count", "50", "--commands", "probe,render",
         "--limit", "240", "--max-rss-mb", str(MAX_RSS_MB), "--keep", str(tmp_path / "work"),
         "--jsonl", str(outcomes_file)],
        capture_output=True, text=True, timeout=880)
    outcomes = [json.loads(line) for line in outcomes_file.read_text().splitlines()]
    assert len({o["file"] for o in outcomes}) == 50, proc.stderr[-2000:]
    sys.path.insert(0, str(HARNESS.parent))
    from fuzz_media import KINDS, Outcome

    assert {o["kind"] for o in outcomes} == set(KINDS)
    bad = [(o.command, o.kind, Path(o.file).name, o.problems(), o.stderr_tail[-300:])
           for o in map(lambda d: Outcome(**d), outcomes) if not o.ok]
    assert not bad, bad
    assert max(o["peak_rss_mb"] for o in outcomes) < MAX_RSS_MB
    assert {o["code"] for o in outcomes} == {0, 2}  # some files work, some are refused
    assert proc.returncode == 0, proc.stdout[-2000:]
