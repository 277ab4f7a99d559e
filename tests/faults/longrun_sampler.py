"""Sampling a process tree's memory, open files and threads from /proc (Linux)."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    t_s: float
    rss_mb: float
    """Resident memory of the process itself."""
    tree_rss_mb: float
    """... and of all its descendants (ffmpeg, worker processes)."""
    fds: int
    threads: int
    children: int


def _status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _rss_mb(pid: int) -> float:
    try:
        return int(_status(pid).get("VmRSS", "0 kB").split()[0]) / 1024
    except (OSError, ValueError):
        return 0.0


def descendants(pid: int) -> list[int]:
    """All processes below ``pid`` (children of children included)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(_status(int(entry)).get("PPid", "0"))
        except (OSError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def sample(pid: int, started: float) -> Sample:
    children = descendants(pid)
    return Sample(
        t_s=round(time.monotonic() - started, 1),
        rss_mb=round(_rss_mb(pid), 1),
        tree_rss_mb=round(_rss_mb(pid) + sum(_rss_mb(c) for c in children), 1),
        fds=len(os.listdir(f"/proc/{pid}/fd")),
        threads=len(os.listdir(f"/proc/{pid}/task")),
        children=len(children))


class Sampler:
    """Samples ``pid`` every ``every_s`` seconds on a thread until stopped."""

    def __init__(self, pid: int, every_s: float) -> None:
        self.pid = pid
        self.every_s = every_s
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> list[Sample]:
        self._stop.set()
        self._thread.join()
        return self.samples

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(sample(self.pid, self._started))
            except OSError:  # the process ended
                return
            self._stop.wait(self.every_s)


def thread_names(pid: int) -> dict[str, int]:
    """How many threads of each name the process has (to tell what a growth is)."""
    names: dict[str, int] = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            name = Path(f"/proc/{pid}/task/{task}/comm").read_text().strip()
        except OSError:
            continue
        names[name] = names.get(name, 0) + 1
    return dict(sorted(names.items()))


def growth(samples: list[Sample], warmup_s: float) -> dict[str, float]:
    """How much each figure grew after the warm-up: last-quarter mean minus the mean of the
    first quarter after warm-up, and the peak over the whole run."""
    steady = [s for s in samples if s.t_s >= warmup_s] or samples
    quarter = max(1, len(steady) // 4)
    head, tail = steady[:quarter], steady[-quarter:]
    out: dict[str, float] = {"samples": len(samples), "duration_s": samples[-1].t_s}
    for name in ("rss_mb", "tree_rss_mb", "fds", "threads"):
        first = sum(getattr(s, name) for s in head) / len(head)
        last = sum(getattr(s, name) for s in tail) / len(tail)
        out[f"{name}_start"] = round(first, 1)
        out[f"{name}_end"] = round(last, 1)
        out[f"{name}_growth"] = round(last - first, 1)
        out[f"{name}_peak"] = max(getattr(s, name) for s in samples)
    return out


def as_rows(samples: list[Sample]) -> list[dict[str, float]]:
    return [asdict(s) for s in samples]


def arguments(doc: str, minutes: float, bound_mb: float) -> argparse.ArgumentParser:
    """The options both long runs take (a run adds its own)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=minutes)
    parser.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="write the figures and samples as JSON")
    parser.add_argument("--bound-mb", type=float, default=bound_mb,
                        help="the most the memory may grow after the warm-up")
    return parser


def work_folder(args: argparse.Namespace, prefix: str) -> Path:
    work = args.work or Path(tempfile.mkdtemp(prefix=prefix))
    work.mkdir(parents=True, exist_ok=True)
    return work


def report(args: argparse.Namespace, figures: dict, samples: list[dict]) -> None:
    """Print the figures; write them with the samples when ``--json`` was given."""
    print(json.dumps(figures, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps({"figures": figures, "samples": samples}, indent=1))
