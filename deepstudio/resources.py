"""The one way to find the files DeepStudio ships that are not Python: icons, the Qt theme,
the desktop metadata and the demo recipe, all kept in the top-level ``resources/`` folder.

Where that folder is depends on how DeepStudio was installed, and only this module knows:

- a source checkout or an editable install (``pip install -e .``): ``resources/`` beside the
  ``deepstudio`` package;
- a wheel: a copy at ``deepstudio/_resources``, which ``setup.py``'s build step makes;
- the frozen build (``packaging/``): the same ``deepstudio/_resources`` inside the bundle.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

APP_ID = "org.deepstudio.DeepStudio"
"""Reverse-DNS application id: names the desktop entry, metainfo, MIME package and icon."""

PROJECT_MIME_TYPE = "application/x-deepstudio-project"

_IDENTITY_FILE = f"linux/{APP_ID}.metainfo.xml"
"""A file only DeepStudio's resources hold, so that an unrelated ``resources`` folder beside
an installed package is never taken for ours."""


@cache
def resources_root() -> Path:
    """The folder holding DeepStudio's resources (raises FileNotFoundError on a broken install)."""
    package = Path(__file__).resolve().parent
    candidates = (package / "_resources", package.parent / "resources")
    for candidate in candidates:
        if (candidate / _IDENTITY_FILE).is_file():
            return candidate
    raise FileNotFoundError("DeepStudio's resources are missing (looked in "
                            + " and ".join(str(c) for c in candidates) + "); reinstall it")


def resource(relative: str) -> Path:
    """The path of one shipped file, e.g. ``resource("theme/dark.qss")``."""
    path = resources_root() / relative
    if not path.exists():
        raise FileNotFoundError(f"{path}: a DeepStudio resource is missing; reinstall it")
    return path
