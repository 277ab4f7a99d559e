"""Keyframed values: interpolation, hold, editing, validation through the effect registry."""

from __future__ import annotations

import pytest

from deepstudio.core import keyframes as kf
from deepstudio.core.effects import EffectSpec, ParamSpec, register_effect, validate_params
from deepstudio.core.project import Effect
from deepstudio.types import Id

ANIMATED_FX = register_effect(EffectSpec(
    "test_animated_fx", "Test animated effect", "Keyframable parameters (tests only).",
    (ParamSpec("amount", "Amount", "float", 0.5, minimum=0.0, maximum=1.0, keyframable=True),
     ParamSpec("steps", "Steps", "int", 1, minimum=0, keyframable=True),
     ParamSpec("on", "On", "bool", True))))


def test_plain_value_is_constant() -> None:
    assert kf.value_at(0.3, 1000) == 0.3


def test_linear_between_keys_and_hold_outside() -> None:
    value = {"keyframes": [[10, 0.0], [20, 1.0]]}
    assert kf.value_at(value, 0) == 0.0
    assert kf.value_at(value, 15) == pytest.approx(0.5)
    assert kf.value_at(value, 12.5) == pytest.approx(0.25)
    assert kf.value_at(value, 99) == 1.0


def test_ints_round_and_non_numbers_step() -> None:
    assert kf.value_at({"keyframes": [[0, 0], [3, 1]]}, 2) == 1
    assert kf.value_at({"keyframes": [[0, False], [10, True]]}, 9) is False
    assert kf.value_at({"keyframes": [[0, False], [10, True]]}, 10) is True


def test_set_and_remove_keys_are_pure() -> None:
    plain = 0.2
    one = kf.set_key(plain, 5, 0.4)
    two = kf.set_key(one, 0, 0.0)
    replaced = kf.set_key(two, 5, 1.0)
    assert one == {"keyframes": [[5, 0.4]]}
    assert two == {"keyframes": [[0, 0.0], [5, 0.4]]}
    assert replaced == {"keyframes": [[0, 0.0], [5, 1.0]]}
    assert kf.remove_key(two, 0) == 0.4  # the last key left becomes a plain value
    with pytest.raises(KeyError):
        kf.remove_key(two, 7)


def test_effect_keyframes_count_from_effect_start() -> None:
    effect = Effect(Id("e"), ANIMATED_FX.type_id, Id("V1"), None, None, 100, 200,
                    {"amount": {"keyframes": [[0, 0.0], [10, 1.0]]}})
    assert effect.param_at("amount", 105) == pytest.approx(0.5)


@pytest.mark.parametrize(("params", "message"), [
    ({"on": {"keyframes": [[0, True]]}}, "cannot be keyframed"),
    ({"amount": {"keyframes": [[0, 0.0], [5, 2.0]]}}, "must be <= 1.0"),
    ({"amount": {"keyframes": [[5, 0.0], [5, 1.0]]}}, "must increase"),
    ({"amount": {"keyframes": []}}, "non-empty"),
    ({"steps": {"keyframes": [[0, 1.5]]}}, "must be an int"),
])
def test_bad_keyframes_are_refused(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_params(ANIMATED_FX.type_id, params)


def test_good_keyframes_pass() -> None:
    params = validate_params(ANIMATED_FX.type_id, {"amount": {"keyframes": [[0, 0.0], [9, 1]]}})
    assert params["steps"] == 1 and params["on"] is True
