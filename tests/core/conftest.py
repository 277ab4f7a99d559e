"""A small but complete project to edit: every command in the tests has something to act on."""

from __future__ import annotations

from fractions import Fraction

import pytest

from deepstudio.core.project import (
    Clip,
    ConsentRecord,
    Effect,
    FaceTrackRef,
    Identity,
    MediaItem,
    ModelRef,
    Project,
    Track,
)
from deepstudio.types import Id


def _media(mid: str, *, frames: int = 100, fps: int = 25, video: bool = True,
          audio: bool = True) -> MediaItem:
    return MediaItem(id=Id(mid), path=f"footage/{mid}.mp4", content_hash=f"hash-{mid}",
                     duration_s=frames / fps, frame_count=frames if video else 0,
                     fps_num=fps, fps_den=1, width=64 if video else 0,
                     height=48 if video else 0, has_video=video, has_audio=audio)


@pytest.fixture
def make_media():
    """``make_media(id, frames=100, fps=25, video=True, audio=True)`` → a MediaItem."""
    return _media


@pytest.fixture
def project() -> Project:
    """A 25 fps timeline; video media ``mv`` (100 frames at 25 fps), audio-only ``ma``
    (4 s), unused ``mu``; track V1 with clips c1 [0,50) and c2 (source 10..40 at 60); empty
    video track V2; audio track A1 with c3; debug effect e1 on V1 aimed at face 0 of mv;
    identities Anna (face 0 of mv, consent k1 for train+swap) and Ben (face 3 of mu); model
    md1."""
    mv, ma = _media("mv"), _media("ma", video=False)
    mu = _media("mu", frames=30, fps=30, audio=False)
    return Project(
        name="Demo",
        fps=Fraction(25),
        media={mv.id: mv, ma.id: ma, mu.id: mu},
        tracks=[
            Track(Id("V1"), "video", "Video 1", [Clip(Id("c1"), mv.id, 0, 0, 50),
                                                  Clip(Id("c2"), mv.id, 60, 10, 40)]),
            Track(Id("V2"), "video", "Video 2"),
            Track(Id("A1"), "audio", "Audio 1", [Clip(Id("c3"), ma.id, 0, 0, 100)]),
        ],
        effects={Id("e1"): Effect(Id("e1"), "debug", Id("V1"), 0, mv.id, 10, 40,
                                  {"boxes": True, "landmarks": True, "ids": True,
                                   "line_width": 2})},
        identities={
            Id("i1"): Identity(Id("i1"), "Anna", [FaceTrackRef(mv.id, 0)],
                               [ConsentRecord(Id("k1"), "Anna", "Producer", "2024-01-01",
                                              ["train", "swap"], "2030-01-01")]),
            Id("i2"): Identity(Id("i2"), "Ben", [FaceTrackRef(mu.id, 3)]),
        },
        models={Id("md1"): ModelRef(Id("md1"), "Anna swap", "faceswap", "models/md1",
                                    "ab" * 32, [Id("i1")])},
    )
