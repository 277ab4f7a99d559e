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


def setup_gaps(project: Project, effect: Effect, resolve: Resolve) -> list[str]:
    """What the effect lacks to run at all, each in a few words ("no model chosen", "no
    dialogue clip chosen"); empty when it has everything its parameters ask for."""
    try:
        spec = effect_spec(effect.type)
    except UserError:
        return ["unknown effect type"]
    gaps = []
    for param in spec.params:
        value = effect.params.get(param.name, param.default)
        if param.kind == "model":
            ref = project.models.get(value) if value else None
            if not value:
                gaps.append("no model chosen")
            elif not resolve(ref.path if ref is not None else value).exists():
                gaps.append("model file missing")
        elif param.kind == "audio":
            if not value:
                gaps.append("no dialogue clip chosen")
            elif not any(c.id == value for _, c in project.clips()):
                gaps.append("dialogue clip deleted")
    return gaps


def setup_badge(project: Project, effect: Effect, resolve: Resolve) -> str | None:
    """The first thing the effect lacks to run (None: it has everything)."""
    return next(iter(setup_gaps(project, effect, resolve)), None)


def setup_problems(project: Project, resolve: Resolve) -> list[Problem]:
    """A problem for every model or dialogue clip an effect lacks."""
    return [Problem(effect.id, gap, f"{effect_name(project, effect)} "
                    f"({effect_span(project, effect)})", f"{gap}; choose it in the inspector.")
            for effect in project.effects.values()
            for gap in setup_gaps(project, effect, resolve)]


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
