"""Where a render command's chunks are encoded: here (the default), on a Ray cluster
(``--ray``), or on a studio farm (``--openjd`` writes an Open Job Description job whose tasks
run ``deepstudio farm chunk`` and ``deepstudio farm finish``).

Every render command (``render``, ``swap``, ``lipsync``) first *prepares* a render (a session
and its settings; for ``swap``/``lipsync`` that includes face analysis and consent checks) and
then hands it to :func:`deliver`. The batch queue prepares its items the same way.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepstudio.cli.main import add_quiet
from deepstudio.cli.progress import ProgressBar
from deepstudio.errors import UserError

WORK_FOLDER = ".deepstudio-work"
"""Beside the output, the default work folder of cluster and farm renders (the output's folder
is usually on the storage the farm shares)."""


@dataclass
class PreparedRender:
    """A render ready to go: its session (closed by whoever renders it) and settings."""

    session: Any
    output: Path
    settings: Any
    note: str = ""
    """Appended to the summary line (e.g. who was shown in place of whom)."""


def add_farm_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("distributed rendering")
    g.add_argument("--ray", metavar="ADDRESS",
                   help="encode the chunks on a Ray cluster: HOST:PORT, 'auto' (the cluster "
                        "this machine belongs to) or 'local' (start one here); needs "
                        "pip install 'deepstudio[farm]'")
    g.add_argument("--workers", type=int, metavar="N", help="with --ray: at most N workers")
    g.add_argument("--work-dir", type=Path, metavar="DIR",
                   help="folder for the resumable chunks; with a cluster or --openjd it must be "
                        f"on storage every machine mounts at the same path (default there: "
                        f"{WORK_FOLDER} beside the output)")
    g.add_argument("--chunk-seconds", type=float, metavar="S",
                   help="length of a chunk, the unit of resume and of distributed work "
                        "(default 30)")
    g.add_argument("--openjd", type=Path, metavar="BUNDLE",
                   help="do not render: analyse, plan, and write an Open Job Description job "
                        "bundle (one task per chunk, then a join/sign step) into this folder")


def register(subparsers) -> None:
    farm = subparsers.add_parser(
        "farm", help="encode or finish a planned render (the tasks of a farm job)")
    sub = farm.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("chunk", help="encode chunks of a planned render")
    p.add_argument("plan", type=Path, help="the render's plan.json (or its work folder)")
    p.add_argument("--index", type=int, nargs="+", required=True, help="chunk numbers")
    add_quiet(p)
    p.set_defaults(run=run_chunks)
    p = sub.add_parser("finish", help="join, mux the audio and sign a planned render")
    p.add_argument("plan", type=Path, help="the render's plan.json (or its work folder)")
    add_quiet(p)
    p.set_defaults(run=run_finish)
    p = sub.add_parser("run", help="encode a planned render's unfinished chunks (here or on "
                                   "Ray) and finish it")
    p.add_argument("plan", type=Path, help="the render's plan.json (or its work folder)")
    p.add_argument("--ray", metavar="ADDRESS", help="encode on a Ray cluster (as for render)")
    p.add_argument("--workers", type=int, metavar="N", help="with --ray: at most N workers")
    add_quiet(p)
    p.set_defaults(run=run_plan)
    p = sub.add_parser("status", help="how many chunks of a planned render are encoded")
    p.add_argument("plan", type=Path, help="the render's plan.json (or its work folder)")
    p.set_defaults(run=run_status)


def work_dir_for(args: argparse.Namespace, output: Path) -> Path | None:
    """The work folder asked for; beside the output for cluster and farm renders; else None
    (the session's own)."""
    if args.work_dir is not None:
        return args.work_dir.resolve()
    if args.openjd is not None or (args.ray not in (None, "local")):
        return output.resolve().parent / WORK_FOLDER
    return None


@contextlib.contextmanager
def farm_runner(address: str | None, workers: int | None = None) -> Iterator[Any]:
    """A Ray farm for ``address`` (closed on exit), or None to render in this process."""
    if address is None:
        yield None
        return
    try:
        from deepstudio.farm.ray_farm import RayFarm
    except ImportError as exc:
        if exc.name != "ray":
            raise
        raise UserError("rendering on Ray needs the farm extra: pip install "
                        "'deepstudio[farm]'") from None
    farm = RayFarm(address, workers)
    try:
        yield farm
    finally:
        farm.close()


def deliver(args: argparse.Namespace, job: PreparedRender, report: ProgressBar) -> int:
    """Render a prepared render where ``args`` say (or export it as a farm job); closes its
    session."""
    output = job.output.resolve()
    work_dir = work_dir_for(args, output)
    try:
        if args.openjd is not None:
            from deepstudio.farm.openjd import write_bundle
            from deepstudio.farm.plan_file import write_plan

            plan = job.session.plan_render(output, job.settings, report, work_dir)
            bundle = write_bundle(args.openjd, [(output.name, write_plan(plan),
                                                 len(plan.chunks))])
            report.done()
            print(f"{bundle}: Open Job Description job for {output.name} "
                  f"({len(plan.chunks)} chunk tasks, then join and sign)")
            return 0
        with farm_runner(args.ray, args.workers) as runner:
            result = job.session.render_now(output, job.settings, report, runner, work_dir)
            where = runner.describe() if runner is not None else ""
    finally:
        job.session.close()
    report.done()
    if not args.quiet:
        print(result.summary() + job.note)
        if where:
            print(where)
    return 0


def run_chunks(args: argparse.Namespace) -> int:
    from deepstudio.engine.render import ChunkEncoder
    from deepstudio.farm.plan_file import read_plan

    plan = read_plan(args.plan)
    for index in args.index:
        if not 0 <= index < len(plan.chunks):
            raise UserError(f"the render has chunks 0..{len(plan.chunks) - 1}, not {index}",
                            args.plan)
    todo = [plan.chunks[i] for i in args.index if not plan.chunks[i].done()]
    if todo:
        bar = ProgressBar(f"Chunks {args.index} of {plan.output.name}", args.quiet)
        with ChunkEncoder(plan) as encoder:
            for chunk in todo:
                encoder.encode(chunk, bar)
        bar.done()
    if not args.quiet:
        print(f"{plan.output.name}: chunks {args.index} encoded "
              f"({len(todo)} now, {len(args.index) - len(todo)} already done)")
    return 0


def run_finish(args: argparse.Namespace) -> int:
    from deepstudio.engine.render import finish
    from deepstudio.farm.plan_file import read_plan

    plan = read_plan(args.plan)
    bar = ProgressBar(f"Finishing {plan.output.name}", args.quiet)
    finish(plan, progress=bar)
    return _finished(args, plan, bar)


def run_plan(args: argparse.Namespace) -> int:
    from deepstudio.engine.render import complete
    from deepstudio.farm.plan_file import read_plan

    plan = read_plan(args.plan)
    bar = ProgressBar(f"Rendering {plan.output.name}", args.quiet)
    with farm_runner(args.ray, args.workers) as runner:
        complete(plan, bar, runner)
        if runner is not None and not args.quiet:
            print(runner.describe())
    return _finished(args, plan, bar)


def _finished(args: argparse.Namespace, plan, bar: ProgressBar) -> int:
    bar.done()
    if not args.quiet:
        print(f"{plan.output}: {plan.end - plan.start} frames from {len(plan.chunks)} chunks, "
              f"signed as {plan.render_id}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from deepstudio.farm.plan_file import read_plan

    plan = read_plan(args.plan)
    done = len(plan.chunks) - len(plan.unfinished())
    print(f"{plan.output}: {done} of {len(plan.chunks)} chunks encoded "
          f"(render {plan.render_id})")
    return 0
