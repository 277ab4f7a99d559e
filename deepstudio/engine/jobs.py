"""Background jobs shared by the GUI and the CLI: analysis, rendering, training.

A job runs a function ``work(report)`` on a worker thread. ``report(Progress)`` updates the
job and is also where cancellation happens: once :meth:`Job.cancel` is called, the next report
raises :class:`~deepstudio.errors.Cancelled`, so every job stops within one progress step
(jobs report at least every few hundred milliseconds). Listeners are plain callables called
on the worker thread; the Qt layer marshals them onto the UI thread.

When the manager has a folder, every job's state is kept there as ``<id>.json`` (written
atomically), so a job list survives a crash and a killed job is shown as interrupted.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from deepstudio.engine.threads import lower_thread_priority
from deepstudio.errors import Cancelled, UserError
from deepstudio.persistence.atomic import atomic_write_json
from deepstudio.types import Id, Progress, new_id

KEEP_RESULTS = 8
"""Finished jobs whose result stays in memory. Older ones keep their status, message and log:
an editor left running would otherwise keep every result it ever made (an analysis of a
10-minute clip is ~170 MB of landmarks, and the session holds its own copy)."""

JobStatus = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]
JobListener = Callable[["Job"], None]


@dataclass
class Job:
    """One unit of background work and its observable state."""

    kind: str
    title: str
    id: Id = field(default_factory=lambda: new_id("job"))
    status: JobStatus = "queued"
    fraction: float = 0.0
    message: str = ""
    eta_s: float | None = None
    error: str | None = None
    result: Any = None
    preview: Any = None
    progress: Progress | None = None
    """The last report as sent (training reports carry losses and iterations per second)."""
    log: list[str] = field(default_factory=list)
    created: float = field(default_factory=time.time)
    future: Future | None = field(default=None, repr=False)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "cancelled", "interrupted")

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the job to stop; it stops at its next progress report."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the job ends; return its result or raise its error (None once the
        result was released, see :data:`KEEP_RESULTS`)."""
        if self.future is None:
            return self.result
        return self.future.result(timeout)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "title": self.title, "status": self.status,
                "fraction": self.fraction, "message": self.message, "error": self.error,
                "created": self.created, "log": self.log[-200:]}


class JobManager:
    """Runs jobs on a small thread pool and tells listeners about every change."""

    def __init__(self, folder: Path | None = None, workers: int = 2) -> None:
        self.folder = folder
        self.jobs: list[Job] = []
        self._listeners: list[JobListener] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="deepstudio-job")
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            self._mark_interrupted()

    def subscribe(self, listener: JobListener) -> Callable[[], None]:
        """Call ``listener(job)`` on every change; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def submit(self, kind: str, title: str, work: Callable[[Callable[[Progress], None]], Any]
               ) -> Job:
        """Queue ``work(report)``; returns the job at once."""
        self._release_old_results()
        job = Job(kind=kind, title=title)
        with self._lock:
            self.jobs.append(job)
        self._changed(job)
        job.future = self._pool.submit(self._run, job, work)
        return job

    def shutdown(self, cancel: bool = True) -> None:
        if cancel:
            for job in self.jobs:
                job.cancel()
        self._pool.shutdown(wait=True, cancel_futures=cancel)

    def _run(self, job: Job, work: Callable[[Callable[[Progress], None]], Any]) -> Any:
        lower_thread_priority()
        started = time.monotonic()
        last_emit = 0.0

        def report(progress: Progress) -> None:
            nonlocal last_emit
            if job.cancel_requested:
                raise Cancelled()
            job.progress = progress
            job.fraction = max(0.0, min(1.0, progress.fraction))
            job.message = progress.message
            job.preview = progress.preview if progress.preview is not None else job.preview
            elapsed = time.monotonic() - started
            job.eta_s = progress.eta_s if progress.eta_s is not None else (
                elapsed * (1 - job.fraction) / job.fraction if job.fraction > 0.01 else None)
            now = time.monotonic()
            if now - last_emit > 0.1 or progress.preview is not None:
                last_emit = now
                self._changed(job, persist=False)

        if job.cancel_requested:
            job.status = "cancelled"
            self._changed(job)
            raise Cancelled()
        job.status = "running"
        self._changed(job)
        try:
            job.result = work(report)
        except Cancelled:
            job.status = "cancelled"
            job.log.append("cancelled by user")
            self._changed(job)
            raise
        except UserError as exc:
            job.status, job.error = "failed", str(exc)
            job.log.append(str(exc))
            self._changed(job)
            raise
        except Exception as exc:
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
            job.log.append(traceback.format_exc())
            self._changed(job)
            raise
        job.status, job.fraction, job.eta_s = "done", 1.0, 0.0
        job.log.append(f"finished in {time.monotonic() - started:.1f} s")
        self._changed(job)
        return job.result

    def _release_old_results(self) -> None:
        """Let go of the results of all but the newest KEEP_RESULTS finished jobs."""
        with self._lock:
            finished = [job for job in self.jobs if job.finished]
        for job in finished[:-KEEP_RESULTS]:
            job.result = job.preview = job.progress = job.future = None

    def _changed(self, job: Job, persist: bool = True) -> None:
        if persist and self.folder is not None:
            atomic_write_json(self.folder / f"{job.id}.json", job.to_dict())
        for listener in list(self._listeners):
            try:
                listener(job)
            except Exception:  # a broken view must not kill the job
                traceback.print_exc()

    def _mark_interrupted(self) -> None:
        """Jobs that were running when the program died are shown as interrupted."""
        assert self.folder is not None
        for path in sorted(self.folder.glob("job-*.json")):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if data.get("status") in ("queued", "running"):
                data["status"] = "interrupted"
                atomic_write_json(path, data)
            job = Job(kind=data.get("kind", "?"), title=data.get("title", "?"), id=data["id"],
                      status=data["status"], fraction=data.get("fraction", 0.0),
                      message=data.get("message", ""), error=data.get("error"),
                      log=list(data.get("log", [])), created=data.get("created", 0.0))
            self.jobs.append(job)

