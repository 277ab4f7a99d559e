"""Project folders on disk: ``Name.dstudio/project.json`` plus working subfolders.

- Writes are atomic; each save keeps the previous file as ``project.json.1`` (older ones
  shift up to ``.5``).
- ``project.json`` carries ``schema_version``; older files are upgraded step by step by the
  functions registered with :func:`migration`, newer ones are refused.
- A file that cannot be read (corrupt, newer schema) raises :class:`ProjectError` and is never
  overwritten: saving over it is refused too.
- Paths (media, models, consent evidence) are stored relative to the project folder when the
  file lies inside it or beside it (at most one ``..``), absolute otherwise, with ``/``
  separators. Projects in memory keep the stored form; resolve with :meth:`ProjectPaths.resolve`.
- Autosave goes to ``project.autosave.json``; it is offered for recovery while it is newer
  than ``project.json``.
- Each save also leaves a small manifest, ``Name.dstudio/Name.dstudio-project``: folders
  cannot carry a file type on Linux, so desktops recognise a project by that file
  (``application/x-deepstudio-project``) and opening it opens its folder.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from deepstudio.core.project import SCHEMA_VERSION, MediaItem, Project
from deepstudio.errors import ProjectError
from deepstudio.persistence.atomic import atomic_write_bytes, atomic_write_text, dumps_json

log = logging.getLogger(__name__)

PROJECT_SUFFIX = ".dstudio"
PROJECT_FILE = "project.json"
AUTOSAVE_FILE = "project.autosave.json"
MANIFEST_SUFFIX = ".dstudio-project"
MANIFEST_TEXT = dumps_json({
    "format": "deepstudio-project", "project_file": PROJECT_FILE,
    "about": "Opening this file with DeepStudio opens the project folder it lies in."})
BACKUP_COUNT = 5
SUBFOLDERS = ("cache", "facesets", "models", "jobs", "renders")
MAX_PROJECT_BYTES = 64 * 2**20
"""Far above any real project (thousands of clips and keyframes take a few MiB); a larger
file is refused before it is read, so a hostile one cannot make loading eat the memory."""
_HASH_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
"""What a content hash may look like: it becomes part of cache file names."""

__all__ = [
    "SCHEMA_VERSION", "ProjectPaths", "create_project", "discard_autosave", "load_project",
    "migration", "project_folder_for", "project_folder_of", "recoverable_autosave",
    "remove_leftovers", "resolve_media_path", "save_project", "save_project_as",
    "write_autosave",
]


@dataclass(frozen=True)
class ProjectPaths:
    """Where the parts of the project in ``folder`` live."""

    folder: Path

    def __init__(self, folder: str | Path) -> None:
        object.__setattr__(self, "folder", Path(os.path.abspath(folder)))

    @property
    def project_file(self) -> Path:
        return self.folder / PROJECT_FILE

    @property
    def autosave_file(self) -> Path:
        return self.folder / AUTOSAVE_FILE

    def backup(self, n: int) -> Path:
        """The n-th newest backup (1 = the file before the last save)."""
        return self.folder / f"{PROJECT_FILE}.{n}"

    @property
    def manifest_file(self) -> Path:
        """``Name.dstudio-project``, named after the folder (see the module docstring)."""
        return self.folder / (self.folder.name.removesuffix(PROJECT_SUFFIX) + MANIFEST_SUFFIX)

    @property
    def cache(self) -> Path:
        return self.folder / "cache"

    @property
    def facesets(self) -> Path:
        return self.folder / "facesets"

    @property
    def models(self) -> Path:
        return self.folder / "models"

    @property
    def jobs(self) -> Path:
        return self.folder / "jobs"

    @property
    def renders(self) -> Path:
        return self.folder / "renders"

    def ensure_folders(self) -> None:
        for name in SUBFOLDERS:
            (self.folder / name).mkdir(parents=True, exist_ok=True)

    def store_path(self, path: str | Path, base: Path | None = None) -> str:
        """The form of ``path`` to keep in the project: relative (``/``-separated) when it
        lies in or beside the project folder, else absolute. A relative ``path`` is taken
        relative to ``base`` (default: this folder)."""
        raw = Path(path)
        absolute = Path(os.path.normpath((base or self.folder) / raw))
        try:
            rel = Path(os.path.relpath(absolute, self.folder))
        except ValueError:  # another drive on Windows
            return str(absolute)
        if rel.parts.count("..") > 1:
            return str(absolute)
        return rel.as_posix()

    def resolve(self, stored: str) -> Path:
        """The absolute path of a stored (relative or absolute) path."""
        if Path(stored).is_absolute():
            return Path(stored)
        return Path(os.path.normpath(self.folder / PurePosixPath(stored)))


def project_folder_of(path: str | Path) -> Path:
    """The project folder a path names: the folder itself, or the folder holding a given
    manifest or ``project.json`` (what a desktop passes when one is double-clicked)."""
    path = Path(path)
    if path.name.endswith(MANIFEST_SUFFIX) or path.name == PROJECT_FILE:
        return path.parent
    return path


def resolve_media_path(paths: ProjectPaths, media: MediaItem) -> Path:
    return paths.resolve(media.path)


def project_folder_for(parent: str | Path, name: str) -> Path:
    """``parent/Name.dstudio`` with characters that file systems reject replaced by ``_``."""
    safe = re.sub(r'[<>:"/\\|?*\x00-\x1f]', "_", name).strip(" .") or "Untitled"
    return Path(parent) / f"{safe}{PROJECT_SUFFIX}"


# --- migrations ---------------------------------------------------------------------------

Migration = Callable[[dict[str, Any]], dict[str, Any]]
MIGRATIONS: dict[int, Migration] = {}
"""``from_version -> function`` turning a schema ``from_version`` dict into ``from_version+1``."""


def migration(from_version: int) -> Callable[[Migration], Migration]:
    """Register a function that upgrades a project dict from ``from_version`` by one step."""
    def register(fn: Migration) -> Migration:
        if from_version in MIGRATIONS:
            raise ValueError(f"a migration from schema {from_version} already exists")
        MIGRATIONS[from_version] = fn
        return fn
    return register


def _migrate(data: dict[str, Any], path: Path) -> dict[str, Any]:
    version = data["schema_version"]
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise ProjectError(f"schema {version} is too old to open (no upgrade known)", path)
        try:
            data = step(copy.deepcopy(data))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProjectError(f"cannot upgrade from schema {version}: {exc}", path) from None
        version += 1
        data["schema_version"] = version
    return data


# --- reading ------------------------------------------------------------------------------

def _read_document(path: Path) -> tuple[bytes, dict[str, Any]]:
    """Raw bytes and parsed top-level dict of a project file, with a known schema_version."""
    try:
        size = path.stat().st_size
        if size > MAX_PROJECT_BYTES:
            raise ProjectError(f"too large to be a project ({size / 2**20:.0f} MiB; a project "
                               f"file holds at most {MAX_PROJECT_BYTES // 2**20} MiB)", path)
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProjectError("not found", path) from None
    except OSError as exc:
        raise ProjectError(f"cannot read ({exc.strerror})", path) from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProjectError("corrupt (not UTF-8 text)", path) from None
    except json.JSONDecodeError as exc:
        raise ProjectError(f"corrupt ({exc.msg} at line {exc.lineno} column {exc.colno})",
                           path) from None
    except RecursionError:
        raise ProjectError("corrupt (nested too deeply)", path) from None
    if not isinstance(data, dict):
        raise ProjectError("corrupt (not a JSON object)", path)
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ProjectError(f"corrupt (schema_version is {version!r})", path)
    if version > SCHEMA_VERSION:
        raise ProjectError(f"written by a newer DeepStudio (schema {version}; this version "
                           f"reads up to {SCHEMA_VERSION})", path)
    return raw, data


def _decode(path: Path) -> Project:
    _, data = _read_document(path)
    data = _migrate(data, path)
    try:
        project = Project.from_dict(data)
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
        problem = f"missing field {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
        raise ProjectError(f"invalid project ({problem})", path) from None
    _check_untrusted_fields(project, path)
    return project


def _check_untrusted_fields(project: Project, path: Path) -> None:
    """Refuse what DeepStudio never writes and a hand-made file could use to reach outside
    the project: a content hash that could not be a file name (it names cache files), and a relative
    path that climbs more than one folder up (:meth:`ProjectPaths.store_path` keeps such
    paths absolute). Absolute paths stay allowed: footage elsewhere is stored that way, and
    it is only ever read."""
    for media in project.media.values():
        if not _HASH_RE.match(media.content_hash):
            raise ProjectError(f"invalid project (media {media.id}: content hash "
                               f"{media.content_hash[:80]!r} is not a hash)", path)
    stored = [("media", m.id, m.path) for m in project.media.values()]
    stored += [("model", m.id, m.path) for m in project.models.values()]
    for kind, item_id, stored_path in stored:
        if not Path(stored_path).is_absolute() and PurePosixPath(stored_path).parts.count(
                "..") > 1:
            raise ProjectError(f"invalid project ({kind} {item_id}: path {stored_path[:200]!r} "
                               "climbs out of the project's folder)", path)


def check_folders_inside(paths: ProjectPaths) -> None:
    """Refuse a project whose own file or folders are links leading out of it: saving,
    caching, training and rendering would write through them to wherever they point."""
    root = paths.folder.resolve()
    for name in (PROJECT_FILE, *SUBFOLDERS):
        entry = paths.folder / name
        if entry.is_symlink() and not entry.resolve().is_relative_to(root):
            raise ProjectError(f"{name} is a link to {entry.resolve()}, outside the project; "
                               "DeepStudio does not write through it", paths.folder)


def load_project(folder: str | Path) -> Project:
    """Read the project in ``folder`` (``Name.dstudio``), upgrading an older schema."""
    paths = ProjectPaths(folder)
    if not paths.project_file.is_file():
        raise ProjectError("not a DeepStudio project (no project.json)", paths.folder)
    check_folders_inside(paths)
    return _decode(paths.project_file)


# --- writing ------------------------------------------------------------------------------

def _rebased(project: Project, paths: ProjectPaths, from_folder: Path | None) -> dict[str, Any]:
    """``project.to_dict()`` with every path in stored form relative to ``paths``."""
    base = paths.folder if from_folder is None else Path(os.path.abspath(from_folder))
    return _with_paths(project, lambda p: paths.store_path(p, base)).to_dict()


def _with_paths(project: Project, store: Callable[[str], str]) -> Project:
    """A shallow copy of ``project`` with every stored path (media, models, consent
    evidence) replaced by ``store(path)``."""
    rebased = copy.copy(project)
    rebased.media = {k: replace(m, path=store(m.path)) for k, m in project.media.items()}
    rebased.models = {k: replace(m, path=store(m.path)) for k, m in project.models.items()}
    rebased.identities = {
        k: replace(i, consents=[
            c if c.evidence is None else replace(c, evidence=store(c.evidence))
            for c in i.consents])
        for k, i in project.identities.items()}
    return rebased


def _write(path: Path, text: str) -> None:
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise ProjectError(f"cannot write ({exc.strerror or exc})", path) from None


def _rotate_backups(paths: ProjectPaths, current: bytes) -> None:
    for n in range(BACKUP_COUNT - 1, 0, -1):
        if paths.backup(n).exists():
            os.replace(paths.backup(n), paths.backup(n + 1))
    atomic_write_bytes(paths.backup(1), current)


def save_project(project: Project, folder: str | Path, *,
                 from_folder: str | Path | None = None) -> None:
    """Write ``project`` to ``folder/project.json`` atomically, keeping backups.

    ``from_folder`` is where the project's relative paths point from when it differs from
    ``folder`` (Save As); reload the project from ``folder`` afterwards to get paths in the
    new folder's terms. Refuses (ProjectError) to overwrite a project.json it cannot read.
    """
    paths = ProjectPaths(folder)
    check_folders_inside(paths)
    text = dumps_json(_rebased(project, paths, None if from_folder is None else Path(from_folder)))
    current: bytes | None = None
    if paths.project_file.exists():
        try:
            current, _ = _read_document(paths.project_file)
        except ProjectError as exc:
            raise ProjectError(f"{exc.problem}; not overwriting it (move it away first)",
                               paths.project_file) from None
    try:
        paths.ensure_folders()
        if current != text.encode("utf-8"):
            if current is not None:
                _rotate_backups(paths, current)
            atomic_write_text(paths.project_file, text)
        _write_manifest(paths)
    except OSError as exc:
        raise ProjectError(f"cannot save ({exc.strerror or exc})", paths.project_file) from None
    discard_autosave(paths.folder)


def _write_manifest(paths: ProjectPaths) -> None:
    """Leave the manifest named after the folder; drop ones a renamed folder left behind."""
    for stale in paths.folder.glob(f"*{MANIFEST_SUFFIX}"):
        if stale != paths.manifest_file:
            stale.unlink()
    if not paths.manifest_file.is_file():
        atomic_write_text(paths.manifest_file, MANIFEST_TEXT)


COPIED_WITH_PROJECT = ("cache", "facesets", "models")
"""What Save As copies: face analyses and proxies, facesets and models (renders and the
chunks of unfinished renders stay with the original)."""


def save_project_as(project: Project, from_folder: str | Path, folder: str | Path,
                    name: str) -> Path:
    """Write ``project`` as a new project ``name`` in ``folder``, with copies of the
    analyses, proxies, facesets and models of ``from_folder``: paths into the old folder
    point at the copies, every other path at the same file as before. Returns the folder."""
    old, new = ProjectPaths(from_folder), ProjectPaths(folder)
    if new.folder == old.folder:
        raise ProjectError("is the project's own folder: choose another one", new.folder)
    if new.project_file.exists():
        raise ProjectError("already holds a project", new.folder)
    try:
        for part in COPIED_WITH_PROJECT:
            if (old.folder / part).is_dir():
                shutil.copytree(old.folder / part, new.folder / part, dirs_exist_ok=True)
    except OSError as exc:
        raise ProjectError(f"cannot copy the project here ({exc.strerror or exc})",
                           new.folder) from None

    def moved(stored: str) -> str:
        absolute = old.resolve(stored)
        inside = absolute.is_relative_to(old.folder)
        return new.store_path(new.folder / absolute.relative_to(old.folder) if inside
                              else absolute)

    renamed = _with_paths(project, moved)
    renamed.name = name
    save_project(renamed, new.folder)
    return new.folder


def create_project(folder: str | Path, name: str) -> Project:
    """Create an empty project in ``folder`` (made if needed) and return it."""
    paths = ProjectPaths(folder)
    if paths.project_file.exists():
        raise ProjectError("already holds a project", paths.folder)
    if paths.folder.exists() and not paths.folder.is_dir():
        raise ProjectError("is a file, not a folder", paths.folder)
    project = Project(name=name)
    try:
        paths.folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProjectError(f"cannot create ({exc.strerror or exc})", paths.folder) from None
    save_project(project, paths.folder)
    return project


# --- autosave -----------------------------------------------------------------------------

def write_autosave(project: Project, folder: str | Path, *,
                   from_folder: str | Path | None = None) -> None:
    """Write the unsaved state beside project.json (atomic; no backups)."""
    paths = ProjectPaths(folder)
    text = dumps_json(_rebased(project, paths, None if from_folder is None else Path(from_folder)))
    _write(paths.autosave_file, text)


def recoverable_autosave(folder: str | Path) -> Project | None:
    """The autosaved project when it is newer than project.json, else None (an unreadable
    autosave is logged and ignored: it cannot be recovered anyway)."""
    paths = ProjectPaths(folder)
    try:
        auto_mtime = paths.autosave_file.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    try:
        if auto_mtime <= paths.project_file.stat().st_mtime_ns:
            return None
    except FileNotFoundError:
        pass
    try:
        return _decode(paths.autosave_file)
    except ProjectError as exc:
        log.warning("ignoring autosave: %s", exc)
        return None


def discard_autosave(folder: str | Path) -> None:
    ProjectPaths(folder).autosave_file.unlink(missing_ok=True)


def remove_leftovers(folder: str | Path) -> int:
    """Delete the temporary files of saves that were killed midway (never under a final
    name); returns how many. Only call it holding the project's lock: another process's save
    in progress would lose its temporary file."""
    removed = 0
    for pattern in (f".{PROJECT_FILE}*.tmp", f".{AUTOSAVE_FILE}.*.tmp"):
        for leftover in ProjectPaths(folder).folder.glob(pattern):
            try:
                leftover.unlink()
                removed += 1
            except OSError:
                continue
    if removed:
        log.info("%s: removed %d temporary file(s) of interrupted saves", folder, removed)
    return removed


# The schema upgrades register themselves with `migration` when imported; importing them here
# means every reader of project files knows every step.
from deepstudio.persistence import migrations as _migrations  # noqa: E402, F401
