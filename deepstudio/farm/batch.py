"""The batch queue: a durable list of renders on disk, run one by one or side by side.

A queue is a folder (``NAME.dsbatch/``) holding ``queue.json``. Each item is the command line of
a render command (``render``, ``swap`` or ``lipsync``: shots × languages × models are simply
many lines) with a priority and its state: queued, running, done, failed or cancelled, the
attempts made, the result or the one-line error. Every change is a locked read-modify-write and
an atomic replace, so the editor's Queue pane, ``deepstudio batch`` commands and the running
queue can change it at the same time, and nothing is lost when any of them dies.

:func:`run_queue` takes the queued items in order of priority (then of addition) and runs each
through a caller-given function; one failing never stops the others. Only one process runs a
queue at a time (``runner.lock``); items a dead runner left running are queued again when the
next run starts, and their renders resume from their finished chunks. Cancelling a running item
stops it at its next progress report.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, fields
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from deepstudio.engine.render import RenderSettings
from deepstudio.errors import Cancelled, UserError
from deepstudio.persistence.atomic import atomic_write_json
from deepstudio.persistence.settings import user_config_dir
from deepstudio.types import Progress, ProgressCallback

ItemStatus = Literal["queued", "running", "done", "failed", "cancelled"]
STATUSES: tuple[ItemStatus, ...] = ("queued", "running", "done", "failed", "cancelled")
FORMAT = "deepstudio-batch"
VERSION = 1
QUEUE_FILE = "queue.json"
PROGRESS_EVERY_S = 1.0
"""How often a running item's progress is written (and its cancel request read)."""


class BatchError(UserError):
    """A queue that cannot be read, or a request it cannot take."""


@dataclass
class BatchItem:
    """One render of the queue and what became of it."""

    id: int
    argv: list[str]
    name: str
    priority: int = 0
    cwd: str = "/"
    """The folder relative paths of ``argv`` are taken from (where it was queued)."""
    status: ItemStatus = "queued"
    attempts: int = 0
    added: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    seconds: float | None = None
    frames: int | None = None
    output: str | None = None
    render_id: str | None = None
    error: str | None = None
    fraction: float = 0.0
    message: str = ""
    cancel_requested: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchItem:
        known = {f.name for f in fields(cls)}
        item = cls(**{k: v for k, v in data.items() if k in known})
        if item.status not in STATUSES or not isinstance(item.argv, list):
            raise ValueError(f"item {item.id} has status {item.status!r}")
        return item


@dataclass(frozen=True)
class ItemResult:
    """What a finished render reports back to the queue."""

    output: str
    frames: int
    seconds: float
    render_id: str
    reused_chunks: int = 0
    """Chunks an interrupted earlier attempt had finished."""


Executor = Callable[[BatchItem, ProgressCallback], ItemResult]
"""Runs one item's render; raises UserError (shown as the item's error) or Cancelled."""


def default_queue_folder() -> Path:
    return user_config_dir() / "queue.dsbatch"


class BatchQueue:
    """A queue folder; every method reads the current state from disk."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / QUEUE_FILE

    # --- reading and writing --------------------------------------------------------------

    def items(self) -> list[BatchItem]:
        """The items in the order they were added."""
        return self._read()[1]

    def item(self, item_id: int) -> BatchItem:
        for item in self.items():
            if item.id == item_id:
                return item
        raise BatchError(f"no item {item_id} in the queue", self.folder)

    @property
    def paused(self) -> bool:
        return bool(self._read()[0].get("paused"))

    @contextlib.contextmanager
    def edit(self) -> Iterator[list[BatchItem]]:
        """Read the items under the queue's lock, let the caller change them, write them."""
        with self._locked():
            header, items = self._read()
            yield items
            self._write(header, items)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "queue.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, header: dict[str, Any], items: list[BatchItem]) -> None:
        # Ids are never reused, so an id in a report always means one render.
        header["next_id"] = max([header.get("next_id", 1), *(i.id + 1 for i in items)])
        atomic_write_json(self.path, {**header, "items": [asdict(i) for i in items]})

    def _read(self) -> tuple[dict[str, Any], list[BatchItem]]:
        if not self.path.exists():
            return {"format": FORMAT, "version": VERSION, "next_id": 1, "paused": False}, []
        try:
            data = json.loads(self.path.read_text("utf-8"))
            if data.get("format") != FORMAT:
                raise ValueError("not a DeepStudio batch queue")
            if data.get("version", 0) > VERSION:
                raise BatchError(f"was written by a newer DeepStudio (queue version "
                                 f"{data['version']})", self.path)
            items = [BatchItem.from_dict(d) for d in data["items"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BatchError(f"is not a readable batch queue ({exc})", self.path) from None
        header = {k: v for k, v in data.items() if k != "items"}
        return header, items

    # --- what people do -------------------------------------------------------------------

    def add(self, argv: list[str], name: str | None = None, priority: int = 0,
            cwd: str | None = None) -> BatchItem:
        with self._locked():
            header, items = self._read()
            item = BatchItem(max([header.get("next_id", 1), *(i.id + 1 for i in items)]),
                             list(argv), name or _name_of(argv), priority,
                             cwd or os.getcwd())
            items.append(item)
            self._write(header, items)
        return item

    def set_priority(self, ids: list[int], priority: int) -> None:
        with self.edit() as items:
            for item in _chosen(items, ids, self.folder):
                item.priority = priority

    def retry(self, ids: list[int] | None = None) -> list[int]:
        """Queue failed and cancelled items again (all of them when ``ids`` is None)."""
        with self.edit() as items:
            again = [i for i in (_chosen(items, ids, self.folder) if ids else items)
                     if i.status in ("failed", "cancelled")]
            for item in again:
                item.status, item.error, item.fraction, item.message = "queued", None, 0.0, ""
                item.cancel_requested = False
        return [i.id for i in again]

    def cancel(self, ids: list[int]) -> list[int]:
        """Cancel queued items at once and ask running ones to stop."""
        with self.edit() as items:
            chosen = [i for i in _chosen(items, ids, self.folder)
                      if i.status in ("queued", "running")]
            for item in chosen:
                if item.status == "queued":
                    item.status, item.message = "cancelled", "cancelled before it started"
                else:
                    item.cancel_requested = True
        return [i.id for i in chosen]

    def remove(self, ids: list[int]) -> None:
        with self.edit() as items:
            chosen = _chosen(items, ids, self.folder)
            if running := [i.id for i in chosen if i.status == "running"]:
                raise BatchError(f"items {running} are running: cancel them first", self.folder)
            items[:] = [i for i in items if i not in chosen]

    def set_paused(self, paused: bool) -> None:
        """A paused queue starts no new item (running ones finish); a runner then stops."""
        with self._locked():
            header, items = self._read()
            header["paused"] = paused
            self._write(header, items)

    # --- the runner -----------------------------------------------------------------------

    def runner_pid(self) -> int | None:
        """The process running this queue now, if any."""
        path = self.folder / "runner.lock"
        if not path.exists():
            return None
        with open(path, "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                text = lock.read().strip()
                return int(text) if text.isdigit() else -1
            fcntl.flock(lock, fcntl.LOCK_UN)
        return None

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Hold the runner lock (BatchError when another process runs the queue); items left
        running by a runner that died are queued again."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "runner.lock", "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BatchError(f"is already being run (process {self.runner_pid()})",
                                 self.folder) from None
            lock.truncate(0)
            lock.write(str(os.getpid()))
            lock.flush()
            with self.edit() as items:
                for item in items:
                    if item.status == "running":
                        item.status = "queued"
                        item.message = "interrupted; resumes from its finished chunks"
            try:
                yield
            finally:
                lock.truncate(0)
                fcntl.flock(lock, fcntl.LOCK_UN)


def project_render_item(project_folder: Path, output: Path, settings: RenderSettings,
                        fps: Fraction) -> list[str]:
    """The ``deepstudio render`` command line of a project render (what the editor queues):
    the saved project, frames as exact seconds, the encode and label settings."""
    encode = settings.encode
    argv = ["render", str(project_folder), "-o", str(output),
            "--start", repr(float(settings.start_frame / fps)), "--codec", encode.codec,
            "--crf", str(encode.quality), "--preset", encode.preset,
            "--audio-codec", encode.audio]
    if settings.end_frame is not None:
        argv += ["--end", repr(float(settings.end_frame / fps))]
    if encode.threads:
        argv += ["--encoder-threads", str(encode.threads)]
    if settings.label is not None:
        argv += ["--label", settings.label.text, "--label-corner", settings.label.corner]
    return argv


def _chosen(items: list[BatchItem], ids: list[int] | None, folder: Path) -> list[BatchItem]:
    wanted = set(ids or [])
    if missing := sorted(wanted - {i.id for i in items}):
        raise BatchError(f"no item {', '.join(map(str, missing))} in the queue", folder)
    return [i for i in items if i.id in wanted]


def _name_of(argv: list[str]) -> str:
    """A short label: the command and the output file."""
    output = next((argv[k + 1] for k, a in enumerate(argv[:-1]) if a in ("-o", "--output")),
                  None)
    return f"{argv[0] if argv else '?'} → {Path(output).name if output else '?'}"


def run_queue(queue: BatchQueue, execute: Executor, parallel: int = 1,
              on_change: Callable[[BatchItem], None] | None = None) -> list[BatchItem]:
    """Run queued items until none is left (or the queue is paused), ``parallel`` at a time;
    returns the items at the end. Items added meanwhile are run too. When this is interrupted
    (Ctrl+C), running items stop at their next progress report and are queued again."""
    notify = on_change or (lambda item: None)
    stopping = threading.Event()
    with queue.running(), ThreadPoolExecutor(parallel, "batch-item") as pool:
        running: set[Future] = set()
        try:
            while True:
                while len(running) < parallel and not queue.paused:
                    item = _claim(queue)
                    if item is None:
                        break
                    notify(item)
                    running.add(pool.submit(_run_item, queue, item, execute, notify, stopping))
                if not running:
                    break
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()  # _run_item records every error on its item
        except BaseException:
            stopping.set()
            raise
    return queue.items()


class _Stopping(BaseException):
    """Raised in a running item when its runner is interrupted."""


def _claim(queue: BatchQueue) -> BatchItem | None:
    with queue.edit() as items:
        queued = [i for i in items if i.status == "queued"]
        if not queued:
            return None
        item = min(queued, key=lambda i: (-i.priority, i.id))
        item.status, item.attempts, item.started = "running", item.attempts + 1, time.time()
        item.finished, item.error, item.fraction, item.message = None, None, 0.0, "starting"
        item.cancel_requested = False
        return item


def _run_item(queue: BatchQueue, item: BatchItem, execute: Executor,
              notify: Callable[[BatchItem], None], stopping: threading.Event) -> None:
    lock = threading.Lock()
    last = [0.0]

    def report(progress: Progress) -> None:
        if stopping.is_set():
            raise _Stopping()
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_S:
            return
        last[0] = now
        with lock, queue.edit() as items:
            mine = next(i for i in items if i.id == item.id)
            mine.fraction, mine.message = max(0.0, min(1.0, progress.fraction)), progress.message
            stop = mine.cancel_requested
        notify(mine)
        if stop:
            raise Cancelled()

    status: ItemStatus = "failed"
    result, error, log = None, None, None
    try:
        result = execute(item, report)
        status = "done"
    except Cancelled:
        status = "cancelled"
    except UserError as exc:
        error = str(exc)
    except Exception as exc:
        error, log = f"{type(exc).__name__}: {exc}", traceback.format_exc()
    except BaseException:  # the runner is stopping: the next run resumes the item
        with queue.edit() as items:
            mine = next(i for i in items if i.id == item.id)
            mine.status, mine.message = "queued", "interrupted; resumes from its finished chunks"
        raise
    with queue.edit() as items:
        mine = next((i for i in items if i.id == item.id), None)
        if mine is None:
            return
        mine.status, mine.error, mine.finished = status, error, time.time()
        mine.cancel_requested = False
        mine.message = {"done": "done", "cancelled": "cancelled", "failed": "failed"}[status]
        if result is not None and result.reused_chunks:
            mine.message = f"done, resumed with {result.reused_chunks} chunks already encoded"
        if result is not None:
            mine.fraction = 1.0
            mine.output, mine.frames = result.output, result.frames
            mine.seconds, mine.render_id = result.seconds, result.render_id
    if log is not None:
        (queue.folder / f"item-{item.id}.log").write_text(log)
    notify(mine)


def summary(items: list[BatchItem]) -> dict[str, Any]:
    """Counts per status and totals of the finished renders."""
    done = [i for i in items if i.status == "done"]
    frames = sum(i.frames or 0 for i in done)
    seconds = sum(i.seconds or 0.0 for i in done)
    return {"items": len(items), **{s: sum(i.status == s for i in items) for s in STATUSES},
            "frames": frames, "render_seconds": round(seconds, 2),
            "fps": round(frames / seconds, 2) if seconds else 0.0}


def report_text(items: list[BatchItem]) -> str:
    """The summary and one line per item, for people."""
    totals = summary(items)
    lines = [f"{totals['items']} items: " + ", ".join(f"{totals[s]} {s}" for s in STATUSES
                                                      if totals[s]),
             f"rendered {totals['frames']} frames in {totals['render_seconds']:.1f} s"]
    for item in sorted(items, key=lambda i: i.id):
        detail = (f"{item.frames} frames in {item.seconds:.1f} s, {item.render_id}"
                  if item.status == "done" and item.seconds is not None else
                  item.error or item.message)
        lines.append(f"{item.id:>4}  {item.status:<9} p{item.priority:<3} {item.name}"
                     f"{f'  ({item.attempts} attempts)' if item.attempts > 1 else ''}"
                     f"  {detail}".rstrip())
    return "\n".join(lines)
