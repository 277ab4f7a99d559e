"""Print the farm figures: a 2-minute render with a face-swap model on a loopback Ray cluster
with 1 and with 2 worker processes, each pinned to one core with its encoder on one thread,
against the same render in one process on one core; and what one chunk costs and moves.

Run from the repository root, as root (the cluster needs a network namespace):
    nice -n 10 python tests/farm/bench_farm.py [--repeats 2] [--json OUT]

The project is talk_long_a.mp4 (60 s, 256×256, 25 fps) placed twice on the timeline with an
untrained 64-px swap model over it (as fast as a trained one), analysed beforehand. Each case
renders it into its own work folder, so no case reuses another's chunks. Cases alternate and
each figure is the best of ``--repeats`` runs: the shared VM's load only ever slows a run.
The driver of every case is pinned to core 0 (``taskset``), with OMP_NUM_THREADS=1; the Ray
head node (one CPU slot) is pinned to core 0 and the worker node (one slot) to core 1.

Wall times suffer from a loaded machine; CPU seconds much less, so the Ray path's overhead is
also given in CPU seconds: the driver with its ffmpeg children, each Ray worker (its own
rusage, with its encoders), and the cluster's daemons over the run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from loopback import LoopbackCluster, cluster_unavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIP = REPO_ROOT.parent / "shared" / "testdata" / "talk_long_a.mp4"
CHUNK_SECONDS = 10.0
CASES = (("in-process", None, None), ("ray, 1 worker", "ray", 1), ("ray, 2 workers", "ray", 2))


def build_project(folder: Path, copies: int = 2) -> Path:
    from deepstudio.cli.bench_gpu import EffectSetup, add_bench_effect
    from deepstudio.models.faceswap.bench import untrained_model
    from deepstudio.session import Session

    session = Session.create(folder / "Bench.dstudio", "Bench")
    media_id = session.import_media(CLIP)
    for _ in range(copies):
        session.add_clip_for_media(media_id)
    model = folder / "bench.dsmodel"
    shown, _ = untrained_model(str(model), 64, "auto")
    add_bench_effect(session, model, "faceswap",
                     EffectSetup("face_swap", {"identity": shown}, "swap", shown))
    session.save()
    session.close()
    return folder / "Bench.dstudio"


def drive(project: Path, out: Path, work: Path, address: str | None,
          workers: int | None) -> dict[str, object]:
    """One render, timed by phase (run as a child process: ``bench_farm.py drive …``)."""
    from deepstudio.engine.render import ChunkEncoder, RenderSettings, finish, start_audio
    from deepstudio.farm.ray_farm import process_cpu_seconds
    from deepstudio.media.encode import EncodeSettings
    from deepstudio.session import Session

    started = time.perf_counter()
    session = Session.open(project)
    settings = RenderSettings(encode=EncodeSettings(threads=1), chunk_seconds=CHUNK_SECONDS)
    plan = session.plan_render(out, settings, None, work)
    planned = time.perf_counter()
    audio = start_audio(plan)
    if address is None:
        reports: list[dict] = []
        with ChunkEncoder(plan) as encoder:
            for chunk in plan.chunks:
                t = time.perf_counter()
                encoder.encode(chunk)
                reports.append({"index": chunk.index, "frames": chunk.end - chunk.start,
                                "seconds": time.perf_counter() - t,
                                "bytes": chunk.path.stat().st_size})
    else:
        from deepstudio.farm.ray_farm import RayFarm

        with RayFarm(address, workers) as farm:
            farm(plan, lambda progress: None)
            reports = farm.reports
    # what every worker reads once per render: the plan and the face analyses
    shipped = [plan.job_dir / "plan.json", *plan.job_dir.glob("analysis/*")]
    plan_bytes = sum(f.stat().st_size for f in shipped if f.is_file())
    encoded = time.perf_counter()
    finish(plan, audio)
    done = time.perf_counter()
    session.close()
    # CPU: this process with its ffmpeg children, plus each Ray worker's own (its last report)
    workers = {r["pid"]: r["worker_cpu_s"] for r in reports if "pid" in r}
    return {"frames": plan.end - plan.start, "chunks": len(plan.chunks),
            "driver_cpu_s": process_cpu_seconds(), "workers_cpu_s": sum(workers.values()),
            "wall_s": done - started, "plan_s": planned - started,
            "chunks_s": encoded - planned, "finish_s": done - encoded,
            "output_bytes": out.stat().st_size, "chunk_reports": reports,
            "plan_bytes": plan_bytes}


def run_case(cluster: LoopbackCluster, project: Path, root: Path, name: str,
             address: str | None, workers: int | None, run: int) -> dict[str, object]:
    tag = f"{name.replace(' ', '').replace(',', '-')}-{run}"
    command = ["taskset", "-c", "0", sys.executable, __file__, "drive", str(project),
               str(root / f"{tag}.mp4"), str(root / f"work-{tag}")]
    if address is not None:
        command += [cluster.address, str(workers)]
    daemons = cluster.cpu_seconds()
    done = cluster.run(command, env={**cluster.env, "OMP_NUM_THREADS": "1"},
                       capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    after = cluster.cpu_seconds()
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # the Ray processes that lived through the run (head, raylets, agents); workers report
    by_process: dict[str, float] = {}
    for pid in after.keys() & daemons.keys():
        kind = _process_kind(pid)
        by_process[kind] = round(by_process.get(kind, 0.0) + after[pid] - daemons[pid], 2)
    result["daemons_cpu_by_process"] = by_process
    result["daemons_cpu_s"] = sum(by_process.values())
    result["cpu_s"] = result["driver_cpu_s"] + result["workers_cpu_s"] + (
        result["daemons_cpu_s"] if address is not None else 0.0)
    return result


def _process_kind(pid: int) -> str:
    """A short name of a cluster process (gcs_server, raylet, DashboardAgent, …)."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    text = " ".join(w.decode(errors="replace") for w in words[:3])
    for name in ("gcs_server", "raylet", "DashboardAgent", "RuntimeEnvAgent", "log_monitor",
                 "monitor.py", "dashboard.py", "agent.py", "sleep"):
        if name in text:
            return name
    return Path(words[0].decode(errors="replace")).name


def _per_node(reports: list[dict]) -> dict[str, list[float]]:
    """Chunk seconds per node (which worker did what, and how fast)."""
    nodes: dict[str, list[float]] = {}
    for report in reports:
        nodes.setdefault(report["node"][:8], []).append(round(report["seconds"], 1))
    return nodes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if reason := cluster_unavailable():
        sys.exit(f"cannot run: {reason}")
    with tempfile.TemporaryDirectory(prefix="deepstudio-farm-bench-") as tmp:
        root = Path(tmp)
        project = build_project(root)
        runs: dict[str, list[dict[str, object]]] = {name: [] for name, _, _ in CASES}
        nodes = [("head", 1, [0]), ("worker", 1, [1])]
        with LoopbackCluster(root / "cluster", nodes) as cluster:
            for run in range(args.repeats):
                for name, address, workers in CASES:
                    result = run_case(cluster, project, root, name, address, workers, run)
                    runs[name].append(result)
                    print(f"{name}: {result['wall_s']:.1f} s (chunks {result['chunks_s']:.1f} s,"
                          f" finish {result['finish_s']:.1f} s)", file=sys.stderr, flush=True)
    best = {name: min(results, key=lambda r: r["wall_s"]) for name, results in runs.items()}
    local, one, two = (best[name] for name, _, _ in CASES)
    chunk_s = [r["seconds"] for r in one["chunk_reports"]]
    figures = {
        "machine": f"{platform.node()} {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        "frames": local["frames"], "chunks": local["chunks"],
        "wall_s": {name: round(r["wall_s"], 2) for name, r in best.items()},
        "all_wall_s": {name: [round(r["wall_s"], 2) for r in rs] for name, rs in runs.items()},
        "scaling_1_to_2_workers": round(one["wall_s"] / two["wall_s"], 3),
        "ray_overhead_vs_in_process": round(one["wall_s"] / local["wall_s"] - 1, 3),
        "cpu_s": {name: round(min(r["cpu_s"] for r in rs), 1) for name, rs in runs.items()},
        "cpu_breakdown_s": {name: {k: round(r[k], 1) if isinstance(r[k], float) else r[k]
                                   for k in ("driver_cpu_s", "workers_cpu_s", "daemons_cpu_s",
                                             "daemons_cpu_by_process")}
                            for name, r in best.items()},
        "ray_cpu_overhead_vs_in_process": round(
            min(r["cpu_s"] for r in runs["ray, 1 worker"])
            / min(r["cpu_s"] for r in runs["in-process"]) - 1, 3),
        "chunk_s_per_10s_chunk": {"min": round(min(chunk_s), 2), "max": round(max(chunk_s), 2),
                                  "mean": round(sum(chunk_s) / len(chunk_s), 2)},
        "chunk_bytes_mean": round(sum(r["bytes"] for r in one["chunk_reports"])
                                  / len(one["chunk_reports"])),
        "plan_and_analysis_bytes": one["plan_bytes"],
        # how busy the farm kept its workers: their chunk time over workers × chunk phase
        "two_workers_busy": round(sum(r["seconds"] for r in two["chunk_reports"])
                                  / (2 * two["chunks_s"]), 3),
        "two_workers_chunks_per_node": _per_node(two["chunk_reports"]),
        "finish_s": round(one["finish_s"], 2), "plan_s": round(one["plan_s"], 2),
        "output_bytes": one["output_bytes"], "source_bytes": CLIP.stat().st_size * 2,
    }
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["drive"]:
        rest = sys.argv[2:]
        address = rest[3] if len(rest) > 3 else None
        workers = int(rest[4]) if len(rest) > 4 else None
        print(json.dumps(drive(Path(rest[0]), Path(rest[1]), Path(rest[2]), address, workers)))
    else:
        main()
