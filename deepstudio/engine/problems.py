"""Everything that stands between the timeline and an export, found as effects are placed:
effects missing what they need to run (a model, a dialogue clip) and effects on people
without the consent they need (the rule of :func:`~deepstudio.engine.disclosure.
consent_problems`).

The timeline marks the effects' bars with these, the inspector offers their fixes, the
preview names them on the picture and the export dialog lists them all before a job starts.
Nothing here loads a model: the checks read the project and look at files.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from deepstudio.core.effects import effect_spec
from deepstudio.core.names import effect_name, effect_span
from deepstudio.core.project import Effect, Project
from deepstudio.engine.disclosure import Problem, consent_problems
from deepstudio.errors import ConsentError, UserError

Resolve = Callable[[str], Path]
"""A project-relative path (as a ModelRef stores it) -> a path on disk."""


def setup_badge(project: Project, effect: Effect, resolve: Resolve) -> str | None:
    """What the effect lacks to run at all ("no model chosen"), in a few words; None when
    it has everything its parameters ask for."""
    try:
        spec = effect_spec(effect.type)
    except UserError:
        return "unknown effect type"
    for param in spec.params:
        value = effect.params.get(param.name, param.default)
        if param.kind == "model":
            if not value:
                return "no model chosen"
            ref = project.models.get(value)
            if not resolve(ref.path if ref is not None else value).exists():
                return "model file missing"
        elif param.kind == "audio":
            if not value:
                return "no dialogue clip chosen"
            if not any(c.id == value for _, c in project.clips()):
                return "dialogue clip deleted"
    return None


def setup_problems(project: Project, resolve: Resolve) -> list[Problem]:
    """A problem for every effect that lacks a model or a dialogue clip."""
    problems = []
    for effect in project.effects.values():
        badge = setup_badge(project, effect, resolve)
        if badge is not None:
            problems.append(Problem(effect.id, badge, f"{effect_name(project, effect)} "
                                    f"({effect_span(project, effect)})",
                                    f"{badge}; choose it in the inspector."))
    return problems


def export_problems(project: Project, resolve: Resolve, on: date | None = None
                    ) -> list[Problem]:
    """All problems of the timeline, in timeline order (each effect's setup first)."""
    problems = setup_problems(project, resolve) + consent_problems(project, on)
    order = {e.id: (e.start, e.end, i) for i, e in enumerate(project.effects.values())}
    return sorted(problems, key=lambda p: order.get(p.effect_id, (0, 0, 0)))


def require_exportable(project: Project, resolve: Resolve, on: date | None = None) -> None:
    """Raise the first problem of the timeline, and how many more there are, as one line: a
    ConsentError when it is about consent, else a UserError."""
    problems = export_problems(project, resolve, on)
    if problems:
        first, more = problems[0], len(problems) - 1
        error = ConsentError if first in consent_problems(project, on) else UserError
        raise error(first.text + (f" (and {more} more problem{'s' * (more > 1)})"
                                  if more else ""))


def problems_by_effect(problems: list[Problem]) -> dict[str, list[Problem]]:
    grouped: dict[str, list[Problem]] = {}
    for problem in problems:
        grouped.setdefault(problem.effect_id, []).append(problem)
    return grouped
