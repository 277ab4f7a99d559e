"""Per-user settings (recent projects, preferences) and the user cache folder.

Settings live in ``settings.json`` under platformdirs' ``user_config_dir("DeepStudio")``, or
under ``$DEEPSTUDIO_CONFIG_DIR`` when set (tests set it). Settings are a convenience, so a
broken file never stops the program: a corrupt one is moved aside to ``settings.json.bad``
and defaults are used; one from a newer DeepStudio is read as far as understood and never
overwritten (``save_settings`` then writes nothing and returns False).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from deepstudio.persistence.atomic import atomic_write_json

log = logging.getLogger(__name__)

APP_NAME = "DeepStudio"
SETTINGS_FILE = "settings.json"
SETTINGS_SCHEMA_VERSION = 1
MAX_RECENT = 10

DEFAULT_PREFERENCES: dict[str, Any] = {
    "default_codec": "libx264",
    "crf": 18,
    "autosave_minutes": 1,
    "theme": "system",
    "auto_proxies": True,
    "last_media_folder": "",
}


def user_config_dir() -> Path:
    override = os.environ.get("DEEPSTUDIO_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME))


def user_cache_dir() -> Path:
    override = os.environ.get("DEEPSTUDIO_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir(APP_NAME))


def settings_path() -> Path:
    return user_config_dir() / SETTINGS_FILE


@dataclass
class Settings:
    recent_projects: list[str] = field(default_factory=list)
    preferences: dict[str, Any] = field(default_factory=dict)
    """Only values the user changed; :meth:`pref` falls back to DEFAULT_PREFERENCES."""
    read_only: bool = False
    """True for a file from a newer DeepStudio: it is not overwritten."""

    def pref(self, name: str) -> Any:
        if name in self.preferences:
            return self.preferences[name]
        return DEFAULT_PREFERENCES[name]

    def add_recent(self, project_folder: str | Path) -> None:
        """Put a project first in the recent list (no duplicates, at most MAX_RECENT)."""
        entry = os.path.abspath(project_folder)
        self.recent_projects = [entry, *(p for p in self.recent_projects if p != entry)]
        del self.recent_projects[MAX_RECENT:]

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SETTINGS_SCHEMA_VERSION,
                "recent_projects": list(self.recent_projects),
                "preferences": dict(self.preferences)}


def _parse(data: Any) -> Settings:
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    version = data.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"schema_version is {version!r}")
    recent = data.get("recent_projects", [])
    prefs = data.get("preferences", {})
    if not isinstance(recent, list) or not isinstance(prefs, dict):
        raise ValueError("recent_projects must be a list and preferences an object")
    return Settings(recent_projects=[str(p) for p in recent][:MAX_RECENT],
                    preferences=dict(prefs), read_only=version > SETTINGS_SCHEMA_VERSION)


def load_settings() -> Settings:
    path = settings_path()
    try:
        return _parse(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        bad = path.with_name(SETTINGS_FILE + ".bad")
        log.warning("%s: unreadable settings (%s); moved to %s, using defaults", path, exc, bad)
        try:
            os.replace(path, bad)
        except OSError:
            return Settings(read_only=True)
        return Settings()


def save_settings(settings: Settings) -> bool:
    """Write the settings atomically; False (nothing written) when they are read-only."""
    if settings.read_only:
        return False
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, settings.to_dict())
    return True
