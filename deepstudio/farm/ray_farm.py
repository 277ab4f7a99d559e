"""Encoding a render's chunks on a Ray cluster (the only module that imports ``ray``).

A :class:`RayFarm` is a :data:`~deepstudio.engine.render.ChunkRunner`: the engine plans the
render and finishes it on this machine (join, audio, credentials), the farm encodes the
unfinished chunks on Ray actors. Each actor (:class:`ChunkWorker`) keeps the effect models of
the plans it worked on loaded between chunks. A render with a model effect asks for one GPU per
actor when the cluster has GPUs, and one CPU slot (``cpus_per_worker``) otherwise.

Nothing travels through Ray's object store but small messages: the plan and its chunks live in
the render's work folder, which every node must reach at the same path (as the media and the
models; see :mod:`deepstudio.farm.plan_file`). A chunk file appears only once complete, so when
a worker dies its chunk goes back into the queue and another worker encodes it; when this
process or the head node dies, running the render again redoes only the missing chunks.

Several renders may share one farm at a time (a batch runs items side by side): their chunks
wait in one queue, served in order of priority then of arrival.
"""

from __future__ import annotations

import itertools
import logging
import os
import resource
import socket
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any

import ray
from ray import exceptions as ray_errors

from deepstudio.core.effects import effect_spec
from deepstudio.core.project import Project
from deepstudio.engine.render import Chunk, ChunkEncoder, RenderPlan
from deepstudio.errors import UserError
from deepstudio.farm.plan_file import read_plan, write_plan
from deepstudio.types import Progress, ProgressCallback

KEPT_PLANS = 2
"""Plans (and their loaded models) an actor keeps: a batch interleaves a few renders."""
MAX_WORKER_DEATHS = 3
"""A chunk whose workers died this many times fails its render (it may be what kills them)."""
STUCK_S = 120.0
"""Chunks wait this long for a worker when none is alive or starting, then fail."""
WAIT_S = 0.2

_WORKER_LOST = (ray_errors.RayActorError, ray_errors.WorkerCrashedError,
                ray_errors.ObjectLostError, ray_errors.NodeDiedError)


class FarmError(UserError):
    """The cluster cannot be reached or cannot take the work."""


def connect(address: str) -> bool:
    """Join the Ray cluster at ``address`` ("HOST:PORT", "auto": the one this machine belongs
    to) or, for "local", start a private one on this machine. Returns whether this call
    started Ray (and so should shut it down)."""
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": True}
    try:
        if address == "local":
            ray.init(include_dashboard=False, **options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise FarmError(f"cannot reach the Ray cluster at {address!r}: {exc}") from None
    return True


def uses_models(project: Project) -> bool:
    """Whether an effect of the project runs a model (and so wants a GPU where there is one)."""
    return any(param.kind == "model" for effect in project.effects.values()
               for param in effect_spec(effect.type).params)


def actor_resources(project: Project, cluster: dict[str, float],
                    cpus_per_worker: float) -> tuple[float, float]:
    """(CPUs, GPUs) one worker asks for: a GPU for model effects on a cluster that has GPUs."""
    gpus = 1.0 if uses_models(project) and cluster.get("GPU", 0) >= 1 else 0.0
    return cpus_per_worker, gpus


def pool_size(resources: tuple[float, float], cluster: dict[str, float],
              workers: int | None) -> int:
    """How many workers of that shape the cluster holds (at most ``workers``)."""
    cpus, gpus = resources
    fits = int(cluster.get("GPU", 0) // gpus) if gpus else int(cluster.get("CPU", 0) // cpus)
    return max(1, min(fits, workers) if workers else fits)


def process_cpu_seconds() -> float:
    """CPU time this process and its finished children (the encoders) have used so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@ray.remote
class ChunkWorker:
    """Encodes chunks of render plans read from their work folders, keeping the encoders (and
    models) of the last few plans."""

    def __init__(self) -> None:
        self._encoders: OrderedDict[str, ChunkEncoder] = OrderedDict()

    def where(self) -> dict[str, Any]:
        return {"node": ray.get_runtime_context().get_node_id(), "host": socket.gethostname(),
                "pid": os.getpid()}

    def encode(self, plan_file: str, index: int) -> dict[str, Any]:
        encoder = self._encoder(plan_file)
        chunk = encoder.plan.chunks[index]
        started = time.perf_counter()
        if not chunk.done():  # a worker thought dead may have finished it
            try:
                encoder.encode(chunk)
            except BaseException:
                self._encoders.pop(plan_file).close()
                raise
        return {"index": index, "frames": chunk.end - chunk.start,
                "seconds": time.perf_counter() - started, "bytes": chunk.path.stat().st_size,
                "worker_cpu_s": process_cpu_seconds(), **self.where()}

    def _encoder(self, plan_file: str) -> ChunkEncoder:
        if plan_file in self._encoders:
            self._encoders.move_to_end(plan_file)
            return self._encoders[plan_file]
        while len(self._encoders) >= KEPT_PLANS:
            self._encoders.popitem(last=False)[1].close()
        encoder = self._encoders[plan_file] = ChunkEncoder(read_plan(plan_file))
        return encoder


@dataclass
class _Task:
    """One chunk waiting for, or on, a worker."""

    plan_file: str
    chunk: Chunk
    resources: tuple[float, float]
    priority: int
    order: int
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    report: dict[str, Any] | None = None
    deaths: int = 0

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.done.set()


@dataclass
class _Worker:
    actor: Any
    resources: tuple[float, float]
    task: _Task | None = None


class RayFarm:
    """Encodes chunks on a Ray cluster; call it as a ChunkRunner (``render(..., runner=farm)``).

    ``workers``: at most this many actors per resource shape (default: as many as the cluster
    holds); ``cpus_per_worker``: the CPU slots each one asks for.
    """

    def __init__(self, address: str = "auto", workers: int | None = None,
                 cpus_per_worker: float = 1.0) -> None:
        self._owns_ray = connect(address)
        self.workers = workers
        self.cpus_per_worker = cpus_per_worker
        self.reports: list[dict[str, Any]] = []
        """One entry per chunk encoded: node, host, pid, frames, seconds, bytes and the
        worker process's CPU seconds so far (with its encoders)."""
        self._pending: list[_Task] = []
        self._busy: dict[Any, _Worker] = {}     # encode ref -> worker
        self._starting: dict[Any, _Worker] = {}  # where() ref -> worker
        self._idle: list[_Worker] = []
        self._pools: dict[tuple[float, float], int] = {}
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._waiting_since: float | None = None
        self._thread = threading.Thread(target=self._dispatch, name="ray-farm", daemon=True)
        self._thread.start()

    def capacity(self) -> int:
        """Workers the cluster holds: one per GPU when it has GPUs, else one per CPU slot
        (how many renders a batch prepares side by side)."""
        cluster = ray.cluster_resources()
        gpus = 1.0 if cluster.get("GPU", 0) >= 1 else 0.0
        return pool_size((self.cpus_per_worker, gpus), cluster, self.workers)

    # --- the ChunkRunner ------------------------------------------------------------------

    def __call__(self, plan: RenderPlan, progress: ProgressCallback, priority: int = 0) -> None:
        """Encode the plan's unfinished chunks on the cluster; returns when all are done.
        Raises the first chunk's error; a Cancelled from ``progress`` withdraws the chunks
        not started yet."""
        todo = plan.unfinished()
        if not todo:
            return
        plan_file = str(write_plan(plan))
        resources = actor_resources(plan.inputs.project, ray.cluster_resources(),
                                    self.cpus_per_worker)
        tasks = [_Task(plan_file, c, resources, priority, next(self._order)) for c in todo]
        total, before = len(plan.chunks), len(plan.chunks) - len(todo)
        with self._lock:
            self._ensure_pool(resources)
            self._pending.extend(tasks)
        try:
            while not all(t.done.is_set() for t in tasks):
                if failed := next((t for t in tasks if t.error is not None), None):
                    raise failed.error  # the render fails: its other chunks are withdrawn
                finished = before + sum(t.done.is_set() for t in tasks)
                progress(Progress(finished / total,
                                  f"{finished} of {total} chunks encoded on the cluster"))
                time.sleep(0.25)
        except BaseException:
            self._withdraw(tasks)
            raise
        if failed := next((t for t in tasks if t.error is not None), None):
            raise failed.error
        self.reports.extend(t.report or {} for t in tasks)

    def describe(self) -> str:
        """Where the chunks went: "5 chunks encoded on 2 Ray nodes (host/1a2b3c4d ×3, …)"."""
        nodes = Counter(f"{r['host']}/{r['node'][:8]}" for r in self.reports)
        where = ", ".join(f"{node} ×{count}" for node, count in sorted(nodes.items()))
        return f"{len(self.reports)} chunks encoded on {len(nodes)} Ray nodes ({where})"

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)
        with self._lock:
            for worker in [*self._idle, *self._busy.values(), *self._starting.values()]:
                ray.kill(worker.actor, no_restart=True)
            self._idle.clear()
            self._busy.clear()
            self._starting.clear()
        if self._owns_ray:
            ray.shutdown()

    def __enter__(self) -> RayFarm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- dispatching (on the farm's own thread) ---------------------------------------------

    def _ensure_pool(self, resources: tuple[float, float]) -> None:
        if resources not in self._pools:
            size = pool_size(resources, ray.cluster_resources(), self.workers)
            self._pools[resources] = size
            for _ in range(size):
                self._start_worker(resources)

    def _start_worker(self, resources: tuple[float, float]) -> None:
        cpus, gpus = resources
        actor = ChunkWorker.options(num_cpus=cpus, num_gpus=gpus, max_restarts=0).remote()
        self._starting[actor.where.remote()] = _Worker(actor, resources)

    def _withdraw(self, tasks: list[_Task]) -> None:
        """Take a cancelled render's chunks out of the queue (running ones finish: a chunk
        file is complete or absent, so they are kept for a later run)."""
        with self._lock:
            self._pending = [t for t in self._pending if t not in tasks]

    def _dispatch(self) -> None:
        while not self._closed.is_set():
            with self._lock:
                self._assign()
                refs = [*self._busy, *self._starting]
            if not refs:
                time.sleep(WAIT_S)
                continue
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=WAIT_S)
            with self._lock:
                for ref in ready:
                    if ref in self._starting:
                        self._started(ref)
                    elif ref in self._busy:
                        self._finished(ref)
                self._check_stuck()

    def _assign(self) -> None:
        self._pending.sort(key=lambda t: (-t.priority, t.order))
        for worker in list(self._idle):
            task = next((t for t in self._pending if t.resources == worker.resources), None)
            if task is None:
                continue
            self._pending.remove(task)
            self._idle.remove(worker)
            worker.task = task
            self._busy[worker.actor.encode.remote(task.plan_file, task.chunk.index)] = worker

    def _started(self, ref: Any) -> None:
        worker = self._starting.pop(ref)
        try:
            ray.get(ref)
        except _WORKER_LOST:  # died while starting (its node went away)
            return
        self._idle.append(worker)

    def _finished(self, ref: Any) -> None:
        worker = self._busy.pop(ref)
        task, worker.task = worker.task, None
        assert task is not None
        try:
            task.report = ray.get(ref)
        except _WORKER_LOST:
            task.deaths += 1
            if task.deaths >= MAX_WORKER_DEATHS:
                task.fail(FarmError(f"chunk {task.chunk.index} of {task.plan_file}: "
                                    f"its worker died {task.deaths} times"))
            else:
                self._pending.append(task)
            self._start_worker(worker.resources)  # placed wherever the cluster has room
            return
        except ray_errors.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            task.fail(cause)
        else:
            task.done.set()
        self._idle.append(worker)

    def _check_stuck(self) -> None:
        """Fail waiting chunks when no worker has been alive for STUCK_S (workers that cannot
        be placed, e.g. every node with room died)."""
        if not self._pending or self._idle or self._busy:
            self._waiting_since = None
            return
        now = time.monotonic()
        self._waiting_since = self._waiting_since or now
        if now - self._waiting_since > STUCK_S:
            for task in self._pending:
                task.fail(FarmError(f"no Ray worker could take chunk {task.chunk.index} for "
                                    f"{STUCK_S:.0f} s (the cluster has no free "
                                    f"{'GPU' if task.resources[1] else 'CPU'})"))
            self._pending.clear()
