"""``deepstudio batch``: a queue of renders, run here or on a Ray cluster, or exported as one
Open Job Description job (see :mod:`deepstudio.farm.batch`)."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path

from deepstudio.cli.main import add_quiet
from deepstudio.errors import UserError

RENDER_COMMANDS = ("render", "swap", "lipsync")
PER_RUN_OPTIONS = ("--ray", "--workers", "--openjd")


def register(subparsers) -> None:
    batch = subparsers.add_parser(
        "batch", help="a queue of renders (shots × languages × models), run here or on Ray")
    sub = batch.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = _action(sub, "add", "queue a render: batch add [--priority N] -- swap shot.mp4 …")
    p.add_argument("--priority", type=int, default=0, help="higher runs first (default 0)")
    p.add_argument("--name", help="a label for the item (default: command and output)")
    p.add_argument("--from", dest="from_file", type=Path, metavar="FILE",
                   help="queue every line of FILE (one render command per line, # comments)")
    p.add_argument("command", nargs=argparse.REMAINDER,
                   help="a render, swap or lipsync command line, without 'deepstudio'")
    p.set_defaults(run=add)

    p = _action(sub, "run", "run the queued renders until none is left")
    p.add_argument("--ray", metavar="ADDRESS",
                   help="encode on a Ray cluster (HOST:PORT, 'auto' or 'local'); default: here")
    p.add_argument("--workers", type=int, metavar="N", help="with --ray: at most N workers")
    p.add_argument("--parallel", type=int, metavar="K",
                   help="renders prepared and finished side by side (default: 1 here; on "
                        "Ray one per GPU, or per CPU slot without GPUs)")
    add_quiet(p)
    p.set_defaults(run=run)

    p = _action(sub, "report", "the items, their state and results", aliases=["list"])
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the report as JSON")
    p.set_defaults(run=report)

    for name, text, handler in (("retry", "queue failed or cancelled items again", retry),
                                ("cancel", "cancel queued items, stop running ones", cancel),
                                ("remove", "remove items from the queue", remove)):
        p = _action(sub, name, text)
        p.add_argument("ids", type=int, nargs="*" if name == "retry" else "+", metavar="ID")
        p.set_defaults(run=handler)

    p = _action(sub, "priority", "change the priority of items")
    p.add_argument("priority", type=int)
    p.add_argument("ids", type=int, nargs="+", metavar="ID")
    p.set_defaults(run=set_priority)

    for name, paused in (("pause", True), ("resume", False)):
        p = _action(sub, name, "start no new item (running ones finish)" if paused
                    else "let a paused queue start items again")
        p.set_defaults(run=functools.partial(pause, paused=paused))

    p = _action(sub, "export-openjd",
                "plan the queued renders and write one Open Job Description job for them")
    p.add_argument("bundle", type=Path, help="job bundle folder to write")
    add_quiet(p)
    p.set_defaults(run=export_openjd)


def _action(sub, name: str, text: str, **kwargs) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=text, description=text, **kwargs)
    p.add_argument("--queue", type=Path, metavar="FOLDER",
                   help="the queue folder (default: your own queue in the config folder)")
    return p


def _queue(args: argparse.Namespace):
    from deepstudio.farm.batch import BatchQueue, default_queue_folder

    return BatchQueue(args.queue or default_queue_folder())


# --- adding ---------------------------------------------------------------------------------


def add(args: argparse.Namespace) -> int:
    import shlex

    queue = _queue(args)
    commands = []
    if args.from_file is not None:
        try:
            lines = args.from_file.read_text("utf-8").splitlines()
        except OSError as exc:
            raise UserError(f"cannot read ({exc.strerror})", args.from_file) from None
        commands = [shlex.split(line) for line in lines
                    if line.strip() and not line.lstrip().startswith("#")]
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if command:
        commands.append(command)
    if not commands:
        raise UserError("nothing to add: give a render command or --from FILE")
    for argv in commands:
        item_args(argv, os.getcwd())  # refuse a bad line before queueing any
    for argv in commands:
        item = queue.add(argv, args.name, args.priority)
        print(f"queued item {item.id}: {item.name} (priority {item.priority})")
    return 0


def item_args(argv: list[str], cwd: str) -> argparse.Namespace:
    """Parse a queued command line as its command would (UserError when it is not a render
    command); relative paths are taken from ``cwd``."""
    from deepstudio.cli.main import build_parser

    if not argv or argv[0] not in RENDER_COMMANDS:
        raise UserError(f"a batch item is one of {', '.join(RENDER_COMMANDS)}, not "
                        f"{' '.join(argv[:1]) or 'nothing'!r}")
    if used := [a for a in argv if a.split("=")[0] in PER_RUN_OPTIONS]:
        raise UserError(f"{used[0]} belongs to 'batch run' / 'batch export-openjd', not to "
                        "an item")
    try:
        args = _quiet_parser(build_parser()).parse_args(argv)
    except _ParseError as exc:
        raise UserError(f"{' '.join(argv[:2])}…: {exc}") from None
    for key, value in vars(args).items():
        if isinstance(value, Path) and not value.is_absolute():
            setattr(args, key, Path(cwd) / value)
    return args


class _ParseError(Exception):
    pass


def _quiet_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """argparse exits on errors; a queued line must raise instead (for every subparser)."""

    def error(message: str):
        raise _ParseError(message)

    stack = [parser]
    while stack:
        current = stack.pop()
        current.error = error
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())
    return parser


# --- running --------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    from deepstudio.cli.farm import farm_runner
    from deepstudio.farm.batch import report_text, run_queue, summary

    queue = _queue(args)
    with farm_runner(args.ray, args.workers) as farm:
        parallel = args.parallel or (farm.capacity() if farm is not None else 1)
        execute = functools.partial(execute_item, farm=farm, ray=args.ray)
        items = run_queue(queue, execute, max(1, parallel),
                          None if args.quiet else _print_change)
    if not args.quiet:
        print(report_text(items))
    totals = summary(items)
    return 1 if totals["failed"] else 0


def execute_item(item, report, farm=None, ray: str | None = None):
    """Prepare and render one queued item (on ``farm`` when given)."""
    from deepstudio.cli.farm import work_dir_for
    from deepstudio.engine.progress import split_progress
    from deepstudio.farm.batch import ItemResult

    args = item_args(item.argv, item.cwd)
    args.ray = ray
    prepare_part, render_part = split_progress(report, 0.3)
    job = args.prepare(args, prepare_part)
    output = job.output.resolve()
    runner = functools.partial(farm, priority=item.priority) if farm is not None else None
    try:
        result = job.session.render_now(output, job.settings, render_part, runner,
                                        work_dir_for(args, output))
    finally:
        job.session.close()
    return ItemResult(str(result.output), result.frames, result.seconds, result.render_id,
                      result.reused_chunks)


def _print_change(item) -> None:
    if item.status == "running" and item.message != "starting":
        return
    detail = {"running": "started", "done": f"done, {item.frames} frames in "
                                             f"{item.seconds or 0:.1f} s",
              "failed": f"FAILED: {item.error}", "cancelled": "cancelled",
              "queued": item.message}[item.status]
    print(f"[{item.id}] {item.name}: {detail}", file=sys.stderr, flush=True)


# --- looking and changing -------------------------------------------------------------------


def report(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from deepstudio.farm.batch import report_text, summary

    queue = _queue(args)
    items = queue.items()
    pid = queue.runner_pid()
    print(f"{queue.folder}: " + (f"running (process {pid})" if pid else "not running")
          + (", paused" if queue.paused else ""))
    print(report_text(items))
    if args.json is not None:
        from deepstudio.persistence.atomic import atomic_write_json

        atomic_write_json(args.json, {"queue": str(queue.folder), "summary": summary(items),
                                      "items": [asdict(i) for i in items]})
    return 0


def retry(args: argparse.Namespace) -> int:
    ids = _queue(args).retry(args.ids or None)
    print(f"queued again: {', '.join(map(str, ids)) or 'nothing (no failed item)'}")
    return 0


def cancel(args: argparse.Namespace) -> int:
    ids = _queue(args).cancel(args.ids)
    print(f"cancelled: {', '.join(map(str, ids)) or 'nothing (none queued or running)'}")
    return 0


def remove(args: argparse.Namespace) -> int:
    _queue(args).remove(args.ids)
    print(f"removed: {', '.join(map(str, args.ids))}")
    return 0


def set_priority(args: argparse.Namespace) -> int:
    _queue(args).set_priority(args.ids, args.priority)
    print(f"priority {args.priority}: {', '.join(map(str, args.ids))}")
    return 0


def pause(args: argparse.Namespace, paused: bool) -> int:
    _queue(args).set_paused(paused)
    print("paused: no new item starts" if paused else "resumed")
    return 0


def export_openjd(args: argparse.Namespace) -> int:
    """Plan every queued item into its work folder (beside its output unless it names one) and
    write one job for all; an item that cannot be planned is reported and left out."""
    from deepstudio.cli.farm import WORK_FOLDER
    from deepstudio.cli.progress import ProgressBar
    from deepstudio.farm.openjd import write_bundle
    from deepstudio.farm.plan_file import write_plan

    renders, skipped = [], 0
    for item in _queue(args).items():
        if item.status != "queued":
            continue
        try:
            item_arguments = item_args(item.argv, item.cwd)
            bar = ProgressBar(f"Planning item {item.id}", args.quiet)
            job = item_arguments.prepare(item_arguments, bar)
            output = job.output.resolve()
            try:
                plan = job.session.plan_render(
                    output, job.settings, bar,
                    item_arguments.work_dir or output.parent / WORK_FOLDER)
            finally:
                job.session.close()
            bar.done()
        except UserError as exc:
            print(f"item {item.id} left out: {exc}", file=sys.stderr)
            skipped += 1
            continue
        renders.append((item.name, write_plan(plan), len(plan.chunks)))
    if not renders:
        raise UserError("no queued item could be planned", args.bundle)
    bundle = write_bundle(args.bundle, renders)
    print(f"{bundle}: Open Job Description job for {len(renders)} renders "
          f"({sum(r[2] for r in renders)} chunk tasks)" + (f"; {skipped} left out"
                                                           if skipped else ""))
    return 2 if skipped else 0
