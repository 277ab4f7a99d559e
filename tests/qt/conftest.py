"""GUI test fixtures: a generated 720p clip of scikit-image's astronaut (with a tone) and a
saved project that uses it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synth import run_ffmpeg

SPEECHLIKE_TONE = ("aevalsrc=0.7*sin(2*PI*220*t)*abs(sin(2*PI*0.8*t))"
                   "*(0.55+0.45*sin(2*PI*3.3*t)):s=44100")
"""A tone whose loudness swells like phrases of speech (so waveforms show some shape)."""


def astronaut_frames(count: int, size: tuple[int, int] = (1280, 720)) -> np.ndarray:
    """``count`` RGB frames: the astronaut drifting slowly over a dark gradient."""
    import cv2
    from skimage import data

    width, height = size
    portrait = data.astronaut()[0:320, 90:410]  # head and shoulders: a face FaceMesh finds
    face = cv2.resize(portrait, (height - 80, height - 80), interpolation=cv2.INTER_AREA)
    ramp = np.linspace(30, 70, width, dtype=np.float32)
    background = np.stack([ramp * 0.6, ramp * 0.7, ramp], axis=-1)[None].repeat(height, 0)
    frames = np.empty((count, height, width, 3), np.uint8)
    for k in range(count):
        frame = background.astype(np.uint8)
        x = int(width / 2 - face.shape[1] / 2 + 120 * np.sin(k / 20))
        frame[40:40 + face.shape[0], x:x + face.shape[1]] = face
        frames[k] = frame
    return frames


def make_astronaut_video(path: Path, frames: int = 75, fps: int = 25,
                         size: tuple[int, int] = (1280, 720)) -> Path:
    raw = astronaut_frames(frames, size).tobytes()
    run_ffmpeg("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size[0]}x{size[1]}",
               "-r", str(fps), "-i", "pipe:0",
               "-f", "lavfi", "-i", SPEECHLIKE_TONE, "-shortest",
               "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p",
               "-c:a", "aac", str(path), stdin=raw)
    return path


@pytest.fixture(scope="session")
def astronaut_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_astronaut_video(tmp_path_factory.mktemp("gui-media") / "astronaut.mp4")


@pytest.fixture
def astronaut_project(tmp_path: Path, astronaut_video: Path) -> Path:
    """A saved project with the astronaut clip on V1 (and its sound)."""
    from deepstudio.session import Session

    session = Session.create(tmp_path / "Demo.dstudio", "Demo")
    media_id = session.import_media(astronaut_video)
    session.add_clip_for_media(media_id)
    session.save()
    session.close()
    return session.folder


@pytest.fixture
def window(qtbot):
    """The main window, shown, with dialogs answered by the test (see helpers.answer)."""
    from helpers import answer

    from deepstudio.qt.mainwindow import MainWindow

    w = MainWindow()
    answer(w)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    return w
