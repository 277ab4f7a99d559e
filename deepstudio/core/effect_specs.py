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

FACE_SWAP = register_effect(EffectSpec(
    type_id="face_swap",
    label="Face swap",
    description="Replaces the face of the bound face track with a person a swap model was "
                "trained on.",
    params=(
        ParamSpec("model", "Model", "model", None),
        ParamSpec("identity", "Render as (identity in the model)", "str", ""),
        ParamSpec("strength", "Strength", "float", 1.0, minimum=0.0, maximum=1.0,
                  keyframable=True),
        ParamSpec("mask_erode", "Mask erode (px)", "int", 2, minimum=-40, maximum=40),
        ParamSpec("mask_blur", "Mask blur (px)", "int", 8, minimum=0, maximum=60),
        ParamSpec("colour", "Colour transfer", "choice", "reinhard",
                  choices=("none", "reinhard", "histogram")),
        ParamSpec("blend", "Blend", "choice", "feather", choices=("feather", "poisson")),
        ParamSpec("face_scale", "Face scale", "float", 1.0, minimum=0.8, maximum=1.25,
                  keyframable=True),
        ParamSpec("offset_x", "Offset X (face widths)", "float", 0.0, minimum=-0.2,
                  maximum=0.2, keyframable=True),
        ParamSpec("offset_y", "Offset Y (face heights)", "float", 0.0, minimum=-0.2,
                  maximum=0.2, keyframable=True),
        ParamSpec("occlusion", "Keep occluders in front", "bool", True),
    ),
    needs_face_track=True,
    consent_scope="swap",
))

LIP_SYNC = register_effect(EffectSpec(
    type_id="lip_sync",
    label="Lip-sync",
    description="Regenerates the mouth of the bound face track to follow a dialogue clip on "
                "an audio track.",
    params=(
        ParamSpec("model", "Model", "model", None),
        ParamSpec("audio", "Dialogue clip", "audio", None),
        ParamSpec("when_audio_ends", "When the audio ends", "choice", "silence",
                  choices=("silence", "cut", "loop", "hold")),
        ParamSpec("strength", "Strength", "float", 1.0, minimum=0.0, maximum=1.0,
                  keyframable=True),
        ParamSpec("mask_blur", "Mask blur (px)", "int", 6, minimum=0, maximum=40),
        ParamSpec("colour", "Colour transfer", "choice", "reinhard",
                  choices=("none", "reinhard", "histogram")),
    ),
    needs_face_track=True,
    consent_scope="lipsync",
))
