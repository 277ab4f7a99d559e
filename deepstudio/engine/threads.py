"""Keeping background threads out of the interface's way."""

from __future__ import annotations

import contextlib
import os
import threading

BACKGROUND_NICENESS = 10


def lower_thread_priority() -> None:
    """Make the calling thread (and the threads and processes it starts, which inherit it)
    yield the CPU to the UI thread: on a busy 2-core machine the editor stays fluid."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)
