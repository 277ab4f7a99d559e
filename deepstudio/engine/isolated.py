"""Running a job's work in a child process.

Analysis and rendering spend most of their time in Python, MediaPipe and NumPy calls that hold
the interpreter lock; on the editor's threads they would make the interface stutter. In a
child process (started fresh, "spawn") they cannot: the job thread in the editor only relays
progress and cancellation. ``work(*args, report)`` must be a module-level function and its
arguments and result picklable.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable
from typing import Any

from deepstudio.errors import Cancelled
from deepstudio.types import Progress, ProgressCallback

POLL_S = 0.1
STOP_GRACE_S = 5.0


def run_isolated(work: Callable[..., Any], args: tuple, report: ProgressCallback) -> Any:
    """``work(*args, child_report)`` in a child process; progress is passed on to ``report``,
    and a Cancelled raised by ``report`` stops the child at its next progress step."""
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    cancel = context.Event()
    child = context.Process(target=_child, args=(work, args, messages, cancel),
                            name="deepstudio-worker", daemon=True)
    child.start()
    last = Progress(0.0, "starting")
    try:
        while True:
            try:
                kind, payload = messages.get(timeout=POLL_S)
            except queue.Empty:
                if not child.is_alive():
                    raise RuntimeError(f"the worker process stopped (exit code "
                                       f"{child.exitcode})") from None
                _relay(report, last, cancel)
                continue
            if kind == "progress":
                last = payload
                _relay(report, payload, cancel)
            elif kind == "error":
                raise payload
            else:
                return payload
    finally:
        child.join(STOP_GRACE_S)
        if child.is_alive():
            child.terminate()
            child.join()


def _relay(report: ProgressCallback, progress: Progress, cancel) -> None:
    try:
        report(progress)
    except Cancelled:
        cancel.set()
        raise


def _child(work: Callable[..., Any], args: tuple, messages, cancel) -> None:
    def report(progress: Progress) -> None:
        if cancel.is_set():
            raise Cancelled()
        messages.put(("progress", Progress(progress.fraction, progress.message,
                                           progress.eta_s, progress.preview)))

    try:
        messages.put(("done", work(*args, report)))
    except BaseException as exc:  # handed to the parent, raised there
        messages.put(("error", exc))
