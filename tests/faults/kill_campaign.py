"""The kill campaign: SIGKILL DeepStudio at random moments of its work, check every file.

Full run (the figures in docs/reliability.md), about an hour or more on two cores::

    nice -n 10 python tests/faults/kill_campaign.py --kills 100 --json kills.json

Reduced run (what the default test suite does, see test_kill_campaign.py)::

    python tests/faults/kill_campaign.py --kills 10

``--kinds render proxy`` runs only some kinds (see kill_scenarios.SCENARIOS). Each kind runs
sequences of at most ``--per-sequence`` killed runs followed by a run that finishes, until it
has been killed ``--kills`` times. The table it prints has: kills, files found corrupted after
a kill or at the end (floor 0), other problems (a resume that redid finished work, a lost
save, a wrong result; floor 0), tracebacks printed (floor 0), and the work each kill cost.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import kill_runner as runner
from kill_scenarios import SCENARIOS, Bench, Tally


def run_kind(kind: str, bench: Bench, kills: int, per_sequence: int, seed: int) -> Tally:
    """Kill one kind of work ``kills`` times and check everything; returns its figures."""
    scenario_type = SCENARIOS[kind]
    tally = Tally(kind, scenario_type.unit, "")
    scenario = scenario_type(bench, random.Random(f"{seed}-{kind}"), tally)
    tally.bound = scenario.bound
    started = time.monotonic()
    scenario.prepare()
    killed_groups: list[int] = []
    while tally.kills < kills:
        scenario.start_sequence()
        in_sequence = 0
        while True:
            want_kill = in_sequence < per_sequence and tally.kills < kills
            outcome = runner.run(scenario.argv(), scenario.env,
                                 scenario.kill_when() if want_kill else None)
            tally.tracebacks += outcome.tracebacks
            if outcome.tracebacks:
                tally.problem(f"traceback: {outcome.text[-600:]}")
            if not outcome.killed:
                if outcome.returncode != 0:
                    tally.problem(f"exit {outcome.returncode}: {outcome.text[-300:]}")
                scenario.after_finish(outcome)
                break
            killed_groups.append(outcome.pgid)
            tally.kills += 1
            in_sequence += 1
            tally.redone.append(scenario.after_kill(outcome))
            if scenario.finished():
                scenario.after_finish(outcome)
                break
        tally.sequences += 1
    tally.orphans = runner.reap(killed_groups)
    tally.seconds = time.monotonic() - started
    return tally


def markdown(tallies: list[Tally]) -> str:
    lines = ["| kind | kills | corrupted | other problems | tracebacks | work redone per kill "
             "(mean / max) | bound |",
             "|---|---|---|---|---|---|---|"]
    for t in tallies:
        row = t.row()
        lines.append(f"| {t.kind} | {t.kills} | {t.corrupted} | {len(t.problems)} | "
                     f"{t.tracebacks} | {row['redone_mean']:.1f} / {row['redone_max']:.0f} "
                     f"{t.unit} | {t.bound} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100, help="kills per kind")
    parser.add_argument("--per-sequence", type=int, default=4,
                        help="kills before a run is let finish")
    parser.add_argument("--kinds", nargs="+", choices=sorted(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every kill")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="deepstudio-kills-"))
    bench = Bench(work)
    tallies = []
    for kind in args.kinds:
        tally = run_kind(kind, bench, args.kills, args.per_sequence, args.seed)
        tallies.append(tally)
        print(f"{kind}: {tally.row()}", flush=True)
        for problem in tally.problems:
            print(f"  problem: {problem}", flush=True)
        if args.verbose:
            for note in tally.notes:
                print(f"  {note}", flush=True)
        if args.json is not None:  # after every kind: a long campaign cut short keeps its figures
            rows = [dict(t.row(), problems=t.problems, notes=t.notes) for t in tallies]
            args.json.write_text(json.dumps(rows, indent=2))
    print(markdown(tallies))
    return 0 if all(not t.problems and not t.tracebacks for t in tallies) else 1


if __name__ == "__main__":
    sys.exit(main())
