"""The built-in effect types (importing :mod:`deepstudio.core` registers them)."""

from __future__ import annotations

from deepstudio.core.effects import EffectSpec, ParamSpec, register_effect

DEBUG = register_effect(EffectSpec(
    type_id="debug",
    label="Debug overlay",
    description="Draws face boxes, landmarks and face-track ids over the picture.",
    params=(
        ParamSpec("boxes", "Boxes", "bool", True),
        ParamSpec("landmarks", "Landmarks", "bool", True),
        ParamSpec("ids", "Track ids", "bool", True),
        ParamSpec("line_width", "Line width", "int", 2, minimum=1, maximum=16),
    ),
))
