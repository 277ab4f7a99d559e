"""Verifying a file: its content credentials and the invisible watermark in its frames."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from deepstudio.media.decode import VideoReader
from deepstudio.media.probe import probe
from deepstudio.provenance.credentials import read_credentials
from deepstudio.provenance.report import VerifyReport
from deepstudio.provenance.wm_detect import detect_in_clip


def verify_file(path: str | Path) -> VerifyReport:
    """Check any media file (ours or not); raises MediaError only when it cannot be read."""
    info = probe(path)
    credentials = read_credentials(info.path)
    watermark = None
    if info.has_video:
        with VideoReader(info) as reader:
            watermark = detect_in_clip(lambda count: _spread_frames(reader, count),
                                       reader.frame_count)
    return VerifyReport(info.path, credentials, watermark)


def _spread_frames(reader: VideoReader, count: int) -> Iterator[np.ndarray]:
    """Up to ``count`` frames: the first ones of a short clip, evenly spread over a long one
    (so a re-edited file whose start was cut is still checked across its length)."""
    total = reader.frame_count
    if total <= count * 2:
        for _, frame in reader.frames(0, min(total, count)):
            yield frame
        return
    step = total // count
    for index in range(0, step * count, step):
        yield reader.read(index)
