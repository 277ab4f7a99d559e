"""The effect registry: lookups, defaults, validation, registration conflicts."""

from __future__ import annotations

import pytest

from deepstudio.core.effects import (
    EffectSpec,
    ParamSpec,
    UnknownEffectError,
    default_params,
    effect_spec,
    effect_specs,
    register_effect,
    validate_params,
)
from deepstudio.errors import UserError


def test_builtin_debug_effect_is_registered() -> None:
    spec = effect_spec("debug")
    assert {p.name for p in spec.params} == {"boxes", "landmarks", "ids", "line_width"}
    assert not spec.alters_identity
    assert spec in effect_specs()
    assert default_params("debug") == {"boxes": True, "landmarks": True, "ids": True,
                                       "line_width": 2}


def test_unknown_type_is_a_clear_key_error() -> None:
    with pytest.raises(UnknownEffectError) as info:
        effect_spec("nope")
    assert isinstance(info.value, KeyError) and isinstance(info.value, UserError)
    assert str(info.value).startswith("unknown effect type 'nope' (known: ")


@pytest.mark.parametrize(("params", "message"), [
    ({"boxes": 1}, "'boxes' must be true or false"),
    ({"line_width": True}, "'line_width' must be an int"),
    ({"line_width": 2.5}, "'line_width' must be an int"),
    ({"line_width": 0}, "must be >= 1"),
    ({"colour": "red"}, "has no parameter 'colour'"),
])
def test_validate_params_refuses_bad_values(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_params("debug", params)


def test_choice_and_id_kinds() -> None:
    spec = register_effect(EffectSpec(
        "test_kinds_fx", "Test kinds", "Choice, text, model and audio parameters (tests only).",
        (ParamSpec("mode", "Mode", "choice", "soft", choices=("soft", "hard")),
         ParamSpec("note", "Note", "str", ""),
         ParamSpec("model", "Model", "model", None),
         ParamSpec("audio", "Audio", "audio", None))))
    assert validate_params(spec.type_id, {"mode": "hard", "model": "md1", "audio": "m1"})
    with pytest.raises(ValueError, match=r"must be one of \['soft', 'hard'\]"):
        validate_params(spec.type_id, {"mode": "medium"})
    with pytest.raises(ValueError, match="must be an id or null"):
        validate_params(spec.type_id, {"model": 3})


def test_registering_a_different_spec_under_a_taken_id_fails() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_effect(EffectSpec("debug", "Other", "Clash."))
    register_effect(effect_spec("debug"))  # the same spec again is harmless


def test_spec_with_invalid_default_is_refused() -> None:
    with pytest.raises(ValueError, match="must be <= 1"):
        register_effect(EffectSpec("test_bad_default", "Bad", "Bad default.",
                                   (ParamSpec("x", "X", "float", 2.0, maximum=1.0),)))
