"""Errors that are shown to people as one line (CLI exit code 2, GUI dialog).

Anything that is the user's input being wrong (a missing file, a file that is not media,
a project from a newer DeepStudio) raises a subclass of :class:`UserError`. Its ``str()``
is the whole message: it names the file and the problem, without a traceback.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
NO_SPACE_TEXT = "No space left on device"
"""What ffmpeg and the C library print for ENOSPC (ffmpeg has no other way to tell us)."""


class UserError(Exception):
    """A problem with the user's input, reported as one line."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.problem = message
        super().__init__(f"{path}: {message}" if path is not None else message)


class MediaError(UserError):
    """A media file is missing, unreadable, not media, or unsupported."""


class ProjectError(UserError):
    """A project file is corrupt, from a newer version, or cannot be written."""


class ConsentError(UserError):
    """An identity is altered without a valid recorded consent."""


class ModelFileError(UserError):
    """A model file is missing, corrupt, or of an unknown layout."""


class DiskFullError(UserError, OSError):
    """A write failed because the file system it went to is full (or over quota).

    It is also an :class:`OSError` (errno ENOSPC), so code that already turns failed writes
    into its own error or ignores them for best-effort files keeps doing so; its message names
    the file system, which a bare ENOSPC does not.
    """

    def __init__(self, path: str | Path) -> None:
        mount = file_system_of(Path(path))
        try:
            free = f"{shutil.disk_usage(mount).free / 1e6:.1f} MB free"
        except OSError:
            free = "free space unknown"
        super().__init__(f"no space left on the file system at {mount} ({free}); "
                         "free some space or choose another disk", path)
        self.errno = errno.ENOSPC
        self.strerror = self.problem
        self.filename = str(path)

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` is a write that failed for lack of space (or quota)."""
    return isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS


def file_system_of(path: Path) -> Path:
    """The mount point of the file system that holds ``path`` (or would hold it)."""
    current = Path(os.path.realpath(path))
    while not current.exists() and current != current.parent:
        current = current.parent
    while not os.path.ismount(current) and current != current.parent:
        current = current.parent
    return current


class Cancelled(Exception):
    """A job was cancelled by the user; not an error to report."""
