"""Pure domain model: project, timeline, effects registry, commands, undo history."""

from deepstudio.core import effect_specs as _effect_specs  # noqa: F401  (registers built-ins)
