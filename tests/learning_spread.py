"""Measure how far the learning tests' figures move with the seed, the number of torch threads
and the CPU's instruction set, to set (and re-check) the margins written in their docstrings.

    python tests/learning_spread.py                       # every probe, the full grid
    python tests/learning_spread.py --seeds 5 --threads 1,2,3 --isa native,avx2,default \
        lipsync_real_footage faceswap_real_faces
    python tests/learning_spread.py --control             # learning off: what a broken
                                                          # trainer would measure

Seeded training is bit-exact only on one CPU's kernels: another CPU (or another thread count)
takes another float path, and a short run's trajectory goes elsewhere. So each learning test
asserts a figure with a margin, and this script measures that figure over seeds x threads x
instruction sets. The instruction set is capped through the variables torch, oneDNN and MKL
read when torch is imported (``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA``,
``MKL_ENABLE_INSTRUCTIONS``), so one machine runs the kernels an AVX2-only or an SSE-only
x86-64 CPU would run; each instruction set therefore runs in its own child interpreter.

A probe is a function ``measure_*(seed, workdir, testdata, learn=True) -> dict`` in a test
module; its ``"ratio"`` figure is what the test compares with the module's limit.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
TESTDATA = (REPO / ".." / "shared" / "testdata").resolve()

# name -> (test module, probe function, name of the module's limit on "ratio")
PROBES: dict[str, tuple[str, str, str]] = {
    "lipsync_real_footage": ("engine/test_train_lipsync.py", "measure_learning",
                             "HELD_OUT_RATIO_LIMIT"),
    "faceswap_real_faces": ("engine/test_train_faceswap.py", "measure_learning",
                            "EVAL_RATIO_LIMIT"),
    "faceswap_synthetic": ("models/test_trainer.py", "measure_learning", "EVAL_RATIO_LIMIT"),
    "faceswap_mouth_df": ("models/test_trainer.py", "measure_mouth_df", "MOUTH_RATIO_LIMIT"),
    "faceswap_mouth_liae": ("models/test_trainer.py", "measure_mouth_liae",
                            "MOUTH_RATIO_LIMIT"),
    "lipsync_mouth_probe": ("models/test_lipsync_trainer.py", "measure_mouth_probe",
                            "MOUTH_RATIO_LIMIT"),
}

# What each capped instruction set sets before torch is imported.
ISA_ENV: dict[str, dict[str, str]] = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
             "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "default": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41",
                "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
}


def load_test_module(relative: str) -> ModuleType:
    """Import a test file by path (test folders are not packages)."""
    for folder in (str(TESTS), str(REPO)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    path = TESTS / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_child(probes: list[str], seeds: list[int], threads: list[int], learn: bool) -> None:
    """Run the probes in this interpreter (its instruction set is fixed); one JSON line each."""
    import torch

    capability = torch.backends.cpu.get_cpu_capability()
    with tempfile.TemporaryDirectory(prefix="spread-") as tmp:
        for name in probes:
            module_path, function, _ = PROBES[name]
            probe = getattr(load_test_module(module_path), function)
            for count in threads:
                torch.set_num_threads(count)
                for seed in seeds:
                    workdir = Path(tmp) / f"{name}-{count}-{seed}"
                    workdir.mkdir()
                    figures = probe(seed, workdir, TESTDATA, learn=learn)
                    print(json.dumps({"probe": name, "capability": capability,
                                      "threads": count, "seed": seed, **figures}), flush=True)


def summarise(rows: list[dict]) -> str:
    """Per probe: the spread of its ratio and how it stands against the test's limit."""
    lines = ["| probe | runs | ratio min | median | max | stdev | limit |",
             "|---|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["probe"] for r in rows):
        ratios = [r["ratio"] for r in rows if r["probe"] == name]
        module_path, _, limit_name = PROBES[name]
        limit = getattr(load_test_module(module_path), limit_name)
        spread = statistics.stdev(ratios) if len(ratios) > 1 else 0.0
        lines.append(f"| {name} | {len(ratios)} | {min(ratios):.3f} | "
                     f"{statistics.median(ratios):.3f} | {max(ratios):.3f} | {spread:.3f} | "
                     f"{limit} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("probes", nargs="*", help=f"some of {', '.join(PROBES)} (default: all)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1")
    parser.add_argument("--threads", default="1,2,3", help="torch thread counts")
    parser.add_argument("--isa", default=",".join(ISA_ENV), help="instruction sets")
    parser.add_argument("--control", action="store_true", help="learning rate 0")
    parser.add_argument("--jsonl", type=Path,
                        help="append every run's figures here; the summary covers the file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    probes = args.probes or list(PROBES)
    unknown = set(probes) - set(PROBES)
    if unknown:
        parser.error(f"unknown probe(s): {', '.join(sorted(unknown))}")
    seeds = list(range(args.seeds))
    threads = [int(t) for t in args.threads.split(",")]
    if args.child:
        run_child(probes, seeds, threads, learn=not args.control)
        return 0
    rows: list[dict] = []
    for isa in args.isa.split(","):
        env = {**os.environ, **ISA_ENV[isa], "PYTHONPATH": str(REPO)}
        command = [sys.executable, __file__, "--child", "--seeds", str(args.seeds),
                   "--threads", args.threads, *(["--control"] if args.control else []),
                   *probes]
        with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as child:
            assert child.stdout is not None
            for line in child.stdout:
                if line.startswith("{"):
                    row = {"isa": isa, **json.loads(line)}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    if args.jsonl:
                        with args.jsonl.open("a") as log:
                            log.write(json.dumps(row) + "\n")
        if child.returncode:
            raise SystemExit(f"the {isa} child failed (exit {child.returncode})")
    if args.jsonl:  # with the runs of earlier invocations
        rows = [json.loads(line) for line in args.jsonl.read_text().splitlines()]
    print(summarise(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
