"""The kill campaign in reduced form: each kind of work SIGKILLed 10 times at random moments.

After every kill the files must load, the rerun must resume (a render redoes at most one
chunk, training at most one checkpoint interval), and the finished result must be complete
and verify. The two training kinds are killed 3 times, not 10: each rerun starts torch and
trains again, which took 16-36 s per kill on the loaded 2-core VM (6 min for 10 lip-sync
kills), more than CI's budget allows. ``DEEPSTUDIO_FAULT_KILLS`` sets the kills of every
kind (the full campaign, with the figures of docs/reliability.md, is
``python tests/faults/kill_campaign.py --kills 100``).
"""

from __future__ import annotations

import os

import pytest
from kill_campaign import run_kind
from kill_scenarios import SCENARIOS, Bench, RenderScenario, TrainScenario

KILLS = os.environ.get("DEEPSTUDIO_FAULT_KILLS")


def kills_for(kind: str) -> int:
    if KILLS is not None:
        return int(KILLS)
    return 3 if issubclass(SCENARIOS[kind], TrainScenario) else 10


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory, testdata) -> Bench:
    return Bench(tmp_path_factory.mktemp("kills"))


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("kind", list(SCENARIOS))
def test_killed_work_loses_nothing_and_resumes(kind, bench):
    tally = run_kind(kind, bench, kills_for(kind), per_sequence=4, seed=19)
    assert tally.kills == kills_for(kind)
    assert tally.corrupted == 0, tally.problems
    assert tally.problems == []
    assert tally.tracebacks == 0
    scenario = SCENARIOS[kind]
    if issubclass(scenario, RenderScenario):
        assert max(tally.redone) <= scenario.chunk_frames
    if issubclass(scenario, TrainScenario):
        assert max(tally.redone) <= scenario.interval
