"""Running a ``deepstudio`` command and killing it with SIGKILL at a chosen moment.

The command's stdout and stderr go to a pseudo-terminal, so its progress bar redraws on every
update ("frame 40 of 122", "iteration 7/12") and the runner knows how far the work had got
when it killed it. Only the command's own process is killed (as the kernel's OOM killer or a
crash would): its ffmpeg and helper children are left to notice on their own, so a rerun
started at once meets them still finishing, which is part of what is tested. Each run gets its
own process group, and :func:`reap` kills what is left of the groups afterwards.
"""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TRACEBACK = "Traceback (most recent call last)"
PERCENT = re.compile(r"(\d+)%")


@dataclass
class Seen:
    """What the runner has read from a running command so far."""

    started: float = field(default_factory=time.monotonic)
    first_output: float | None = None
    lines: list[tuple[float, str]] = field(default_factory=list)
    """Progress redraws and printed lines, with the time each arrived."""

    def last_number(self, pattern: re.Pattern[str]) -> int | None:
        """The first group of the last line matching ``pattern`` (e.g. an iteration)."""
        for _, line in reversed(self.lines):
            match = pattern.search(line)
            if match:
                return int(match.group(1))
        return None

    def first_number(self, pattern: re.Pattern[str]) -> int | None:
        for _, line in self.lines:
            match = pattern.search(line)
            if match:
                return int(match.group(1))
        return None

    def last_percent(self) -> int | None:
        return self.last_number(PERCENT)

    def number_times(self, pattern: re.Pattern[str]) -> list[tuple[float, int]]:
        """(time, value) of every line matching ``pattern``, value changes only."""
        out: list[tuple[float, int]] = []
        for when, line in self.lines:
            match = pattern.search(line)
            if match and (not out or out[-1][1] != int(match.group(1))):
                out.append((when, int(match.group(1))))
        return out


@dataclass
class Outcome:
    """How one run ended."""

    killed: bool
    returncode: int | None
    text: str
    seen: Seen
    pgid: int

    @property
    def tracebacks(self) -> int:
        return self.text.count(TRACEBACK)


KillWhen = Callable[[Seen, float], bool]
"""``(seen, now) -> True`` once the command should be killed (polled every 20 ms)."""


def run(argv: list[str], env: dict[str, str], kill_when: KillWhen | None = None,
        timeout_s: float = 900.0, cwd: Path | None = None) -> Outcome:
    """Run ``argv``; SIGKILL it as soon as ``kill_when`` says so (never when None)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                            env=env, cwd=cwd, start_new_session=True)
    os.close(slave)
    seen = Seen()
    chunks: list[str] = []
    reader = threading.Thread(target=_read, args=(master, seen, chunks), daemon=True)
    reader.start()
    killed = False
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None:
        now = time.monotonic()
        if kill_when is not None and kill_when(seen, now):
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            break
        if now > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise TimeoutError(f"{' '.join(argv[:4])}... ran longer than {timeout_s:.0f} s")
        time.sleep(0.02)
    code = proc.wait()
    reader.join(timeout=2.0)  # children that kept the terminal open are not waited for
    with _guard:
        text = "".join(chunks)
    return Outcome(killed, None if killed else code, text, seen, proc.pid)


_guard = threading.Lock()


def _read(fd: int, seen: Seen, chunks: list[str]) -> None:
    pending = ""
    try:
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: every writer closed the terminal
                return
            if not data:
                return
            text = data.decode("utf-8", "replace")
            now = time.monotonic()
            with _guard:
                chunks.append(text)
                if seen.first_output is None:
                    seen.first_output = now
                pending += text
                *complete, pending = re.split(r"[\r\n]", pending)
                seen.lines.extend((now, line) for line in complete if line.strip())
    finally:
        os.close(fd)


def reap(pgids: list[int]) -> int:
    """Kill what is left of the process groups of killed runs; how many groups had some."""
    alive = 0
    for pgid in pgids:
        try:
            os.killpg(pgid, signal.SIGKILL)
            alive += 1
        except ProcessLookupError:
            continue
    return alive


def deepstudio(*args: str) -> list[str]:
    """The command line of ``deepstudio ARGS`` with this interpreter."""
    return [sys.executable, "-m", "deepstudio", *args]
