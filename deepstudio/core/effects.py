"""Effect registry: what effect types exist and which parameters each takes.

Effect types register an :class:`EffectSpec` (see :mod:`deepstudio.core.effect_specs` for the
built-ins). The engine looks up the implementation by ``type_id`` separately; this module only
knows the data model, so the GUI can build parameter editors and the commands can validate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from deepstudio.core import keyframes
from deepstudio.errors import UserError

ParamKind = Literal["float", "int", "bool", "choice", "str", "model", "audio"]
"""``model``: a model id of the project (or None); ``audio``: a media id with audio (or None)."""


class UnknownEffectError(UserError, KeyError):
    """An effect type that no code registered (e.g. a project from a build with a plugin)."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class ParamSpec:
    name: str
    label: str
    kind: ParamKind
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    keyframable: bool = False

    def check(self, value: Any, effect: str) -> None:
        """Raise ValueError with a clear message unless ``value`` suits this parameter."""
        where = f"effect {effect!r} parameter {self.name!r}"
        if keyframes.is_animated(value):
            if not self.keyframable:
                raise ValueError(f"{where} cannot be keyframed")
            try:
                keyframes.check(value)
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
            for _, key_value in keyframes.keys(value):
                self.check(key_value, effect)
            return
        if self.kind in ("float", "int"):
            number_ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not number_ok or (self.kind == "int" and not isinstance(value, int)):
                raise ValueError(f"{where} must be a{'n int' if self.kind == 'int' else ' number'}"
                                 f", got {value!r}")
            if self.minimum is not None and value < self.minimum:
                raise ValueError(f"{where} must be >= {self.minimum}, got {value}")
            if self.maximum is not None and value > self.maximum:
                raise ValueError(f"{where} must be <= {self.maximum}, got {value}")
        elif self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{where} must be true or false, got {value!r}")
        elif self.kind == "choice":
            if value not in self.choices:
                raise ValueError(f"{where} must be one of {list(self.choices)}, got {value!r}")
        elif self.kind == "str":
            if not isinstance(value, str):
                raise ValueError(f"{where} must be text, got {value!r}")
        elif value is not None and not isinstance(value, str):  # model / audio ids
            raise ValueError(f"{where} must be an id or null, got {value!r}")


@dataclass(frozen=True)
class EffectSpec:
    type_id: str
    label: str
    description: str
    params: tuple[ParamSpec, ...] = field(default_factory=tuple)
    needs_face_track: bool = False
    consent_scope: str | None = None
    """The consent scope ("swap", "lipsync") the person in the bound face track must have
    given, for effects that make a person appear to be or say something; None for others."""

    @property
    def alters_identity(self) -> bool:
        return self.consent_scope is not None

    def param(self, name: str) -> ParamSpec:
        for spec in self.params:
            if spec.name == name:
                return spec
        raise KeyError(f"effect {self.type_id!r} has no parameter {name!r}")


_REGISTRY: dict[str, EffectSpec] = {}


def register_effect(spec: EffectSpec) -> EffectSpec:
    """Add an effect type; registering a different spec under a taken id is an error."""
    existing = _REGISTRY.get(spec.type_id)
    if existing is not None and existing != spec:
        raise ValueError(f"effect type {spec.type_id!r} is already registered")
    names = [p.name for p in spec.params]
    if len(set(names)) != len(names):
        raise ValueError(f"effect type {spec.type_id!r} repeats a parameter name")
    for p in spec.params:
        p.check(p.default, spec.type_id)
    _REGISTRY[spec.type_id] = spec
    return spec


def effect_spec(type_id: str) -> EffectSpec:
    try:
        return _REGISTRY[type_id]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise UnknownEffectError(
            f"unknown effect type {type_id!r} (known: {known})") from None


def effect_specs() -> list[EffectSpec]:
    """All registered effect types, sorted by label (for menus)."""
    return sorted(_REGISTRY.values(), key=lambda s: s.label)


def default_params(type_id: str) -> dict[str, Any]:
    return {p.name: p.default for p in effect_spec(type_id).params}


def validate_params(type_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """Complete ``params`` with defaults and check every value; return the full dict.

    Raises ValueError naming the effect and parameter on an unknown name or a bad value."""
    spec = effect_spec(type_id)
    known = {p.name for p in spec.params}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"effect {type_id!r} has no parameter {unknown[0]!r} "
                         f"(known: {', '.join(sorted(known)) or 'none'})")
    full = default_params(type_id)
    full.update(params)
    for p in spec.params:
        p.check(full[p.name], type_id)
    return full
