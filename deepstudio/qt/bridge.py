"""Marshalling engine callbacks onto the Qt main thread.

The engine calls back on its worker threads (job progress, finished preview futures); Qt
widgets may only be touched on the main thread. :class:`MainThreadBridge` owns a queued
signal: emitting it from any thread schedules the callable on the thread the bridge lives
on (the main thread), in order, without blocking the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot


class MainThreadBridge(QObject):
    """Runs callables on the main thread; safe to call :meth:`call` from any thread."""

    _invoke = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        app = QCoreApplication.instance()
        if app is not None and self.thread() is not app.thread():
            self.moveToThread(app.thread())
        self._invoke.connect(self._run, Qt.ConnectionType.QueuedConnection)

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Schedule ``fn(*args)`` on the main thread (always queued, never re-entrant)."""
        self._invoke.emit((fn, args))

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., None]:
        """A callable that, called from any thread, runs ``fn`` on the main thread."""
        return lambda *args: self.call(fn, *args)

    def on_done(self, future: Future, fn: Callable[[Future], Any]) -> None:
        """Call ``fn(future)`` on the main thread once ``future`` has finished or been
        cancelled."""
        future.add_done_callback(lambda f: self.call(fn, f))

    @Slot(object)
    def _run(self, payload: tuple[Callable[..., Any], tuple[Any, ...]]) -> None:
        fn, args = payload
        fn(*args)


def on_main_thread() -> bool:
    app = QCoreApplication.instance()
    return app is not None and QThread.currentThread() is app.thread()
