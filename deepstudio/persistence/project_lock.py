"""One editor per project: ``Name.dstudio/project.lock``.

Whoever opens a project to change it (the editor, or a command such as ``deepstudio import``)
holds its lock until it closes the project; a second open for editing, in another process or
in the same one, is refused with :class:`ProjectLockedError`, which says who holds it. The
editor then offers to open the project read-only; a command fails with that one line.

The lock is two things at once:

- an OS lock on the file (``flock``; ``msvcrt.locking`` on Windows) that the kernel drops when
  its process ends, however it ends (``kill -9`` included), and that excludes racing openers;
- the file's content, naming the holder (pid, host name, the process's start time, program,
  user, since when) for the message, and for the case the OS lock cannot settle: a file whose
  OS lock is free is still honoured while it names a live process on this host (a file system
  without working locks), and one from another host is reported (delete it when that DeepStudio
  is gone). It is stale, and taken over, when it names this host and its pid is gone or now
  belongs to a process started at another time (the pid was reused).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from deepstudio.errors import ProjectError

log = logging.getLogger(__name__)

LOCK_FILE = "project.lock"
EDITOR = "the DeepStudio editor"
"""The ``program`` of an editor's lock: commands wait for other commands' locks (they end by
themselves), never for an editor's."""
POLL_S = 0.1

_held: set[Path] = set()
"""Lock files held by this process (a second open in the same process is refused too)."""
_held_guard = threading.Lock()


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or held) a project's lock."""

    pid: int
    host: str
    process_start: str | None
    """The holder's start time as the OS counts it (Linux: clock ticks after boot), to tell
    a reused pid from the holder; None where it cannot be read."""
    program: str
    user: str
    since: str

    def describe(self) -> str:
        where = "this computer" if self.host == socket.gethostname() else f"host {self.host}"
        return f"{self.program} (pid {self.pid} on {where}, user {self.user}, since {self.since})"

    def is_stale(self) -> bool:
        """Whether the holder is known to be gone (only knowable on this host)."""
        if self.host != socket.gethostname():
            return False
        if not _pid_alive(self.pid):
            return True
        return self.process_start is not None and _process_start(self.pid) != self.process_start

    @classmethod
    def of_this_process(cls, program: str) -> LockHolder:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no user name (some containers)
            user = str(os.getuid()) if hasattr(os, "getuid") else "?"
        return cls(os.getpid(), socket.gethostname(), _process_start(os.getpid()), program,
                   user, datetime.now().isoformat(sep=" ", timespec="seconds"))

    @classmethod
    def parse(cls, raw: bytes) -> LockHolder | None:
        """The holder a lock file names; None for an empty or unreadable one."""
        try:
            data = json.loads(raw.decode("utf-8"))
            return cls(int(data["pid"]), str(data["host"]),
                       None if data.get("process_start") is None else str(data["process_start"]),
                       str(data.get("program", "DeepStudio")), str(data.get("user", "?")),
                       str(data.get("since", "?")))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


class ProjectLockedError(ProjectError):
    """The project is open for editing elsewhere; ``holder`` says where (None: unknown)."""

    def __init__(self, folder: Path, holder: LockHolder | None, lock_file: Path) -> None:
        self.holder = holder
        self.who = ("another DeepStudio (its lock file names no one yet)" if holder is None
                    else holder.describe())
        self.remedy = "close it there first"
        if holder is not None and holder.host != socket.gethostname():
            self.remedy += f", or delete {lock_file} if DeepStudio no longer runs there"
        super().__init__(f"is already open in {self.who}; {self.remedy}", folder)


class ProjectLock:
    """A held project lock; :meth:`release` it when the project closes."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, folder: str | Path, program: str = EDITOR,
                wait_s: float = 0.0) -> ProjectLock:
        """Lock the project in ``folder`` for ``program``, or raise ProjectLockedError.

        A lock held by another command (not an editor) is waited for up to ``wait_s``.
        """
        folder = Path(os.path.abspath(folder))
        path = folder / LOCK_FILE
        deadline = time.monotonic() + wait_s
        while True:
            lock, holder = cls._try(path, program)
            if lock is not None:
                return lock
            if (holder is not None and holder.program == EDITOR) or time.monotonic() > deadline:
                raise ProjectLockedError(folder, holder, path)
            time.sleep(POLL_S)

    @classmethod
    def _try(cls, path: Path, program: str) -> tuple[ProjectLock | None, LockHolder | None]:
        """One attempt: the lock, or None and the holder (None when it names no one)."""
        with _held_guard:
            if path in _held:
                return None, _read_holder(path)
            while True:
                fd = _open_lock_file(path)
                try:
                    if not _os_lock(fd):
                        holder = _read_fd(fd)
                        os.close(fd)
                        return None, holder
                    if not _same_file(fd, path):  # released (deleted) since we opened it
                        os.close(fd)
                        continue
                    holder = _read_fd(fd)
                    if holder is not None and holder.pid != os.getpid() \
                            and not holder.is_stale():
                        os.close(fd)
                        return None, holder
                    if holder is not None:
                        log.info("%s: taking over the stale lock of %s", path,
                                 holder.describe())
                    _write_fd(fd, LockHolder.of_this_process(program))
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.close(fd)
                    raise
                _held.add(path)
                return cls(path, fd), None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Remove the lock file (while still holding it, so no one locks a dead file)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with _held_guard:
            try:
                if _same_file(fd, self.path):
                    self.path.unlink(missing_ok=True)
            except OSError:
                pass  # a read-only or vanished folder: the kernel still drops the OS lock
            finally:
                os.close(fd)
                _held.discard(self.path)

    def __enter__(self) -> ProjectLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def read_holder(folder: str | Path) -> LockHolder | None:
    """Who the lock file of the project in ``folder`` names (None: no lock file, or it names
    no one). Says nothing about whether that holder is still alive."""
    return _read_holder(Path(os.path.abspath(folder)) / LOCK_FILE)


def _read_holder(path: Path) -> LockHolder | None:
    try:
        return LockHolder.parse(path.read_bytes())
    except OSError:
        return None


def _open_lock_file(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:
        raise ProjectError("not found", path.parent) from None
    except OSError as exc:
        raise ProjectError(f"cannot lock ({exc.strerror or exc})", path) from None


def _read_fd(fd: int) -> LockHolder | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return LockHolder.parse(os.read(fd, 4096))
    except OSError:
        return None


def _write_fd(fd: int, holder: LockHolder) -> None:
    """Name this process in the lock file. Best effort: on a full disk the OS lock still
    excludes other openers, who are then told that the holder is unknown."""
    data = json.dumps(asdict(holder)).encode("utf-8")
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, data)
        os.fsync(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        mine, now = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino)


def _os_lock(fd: int) -> bool:
    """Take the OS lock on ``fd`` without waiting; False when another holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # a file system without flock: the file's content decides
        return True
    return True


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":
        import ctypes

        synchronize, wait_timeout = 0x00100000, 0x102
        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(synchronize, False, pid)
        if not handle:
            return False
        try:
            return kernel32.WaitForSingleObject(handle, 0) == wait_timeout
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks after boot (Linux), None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ")"
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None
