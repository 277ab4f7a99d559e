"""Errors that are shown to people as one line (CLI exit code 2, GUI dialog).

Anything that is the user's input being wrong (a missing file, a file that is not media,
a project from a newer DeepStudio) raises a subclass of :class:`UserError`. Its ``str()``
is the whole message: it names the file and the problem, without a traceback.
"""

from __future__ import annotations

from pathlib import Path


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


class Cancelled(Exception):
    """A job was cancelled by the user; not an error to report."""
