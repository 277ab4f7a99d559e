"""Verifying a file: its content credentials and the invisible watermark in its frames."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from deepstudio.errors import MediaError
from deepstudio.media.decode import VideoReader
from deepstudio.media.probe import probe
from deepstudio.provenance.credentials import read_credentials
from deepstudio.provenance.report import VerifyReport
from deepstudio.provenance.wm_detect import TimedFrame, detect_in_clip
from deepstudio.provenance.wm_pattern import MODULATION_PERIOD_S

log = logging.getLogger(__name__)


def verify_file(path: str | Path) -> VerifyReport:
    """Check any media file (ours or not); raises MediaError only when it cannot be read."""
    info = probe(path)
    credentials = read_credentials(info.path)
    watermark = None
    if info.has_video:
        with VideoReader(info) as reader:
            watermark = detect_in_clip(lambda count: _spread_frames(reader, count))
    return VerifyReport(info.path, credentials, watermark)


def _spread_frames(reader: VideoReader, count: int) -> Iterator[TimedFrame]:
    """Up to ``count`` frames with their times: the first ones of a short clip; of a long one,
    runs of one watermark modulation period spread evenly over its length (so a re-edited file
    whose start was cut is still checked across its length, and each run holds a whole period
    of the mark's rhythm for the detector to demodulate). A damaged stretch that stops the
    decoder ends its run: the mark is read from the frames that do decode."""
    total = reader.frame_count
    fps = float(reader.info.fps)
    if total <= count * 2:
        yield from _decodable(reader, 0, min(total, count), fps)
        return
    run = max(1, min(count, round(MODULATION_PERIOD_S * fps)))
    runs = count // run
    step = total // runs
    for start in range(0, step * runs, step):
        yield from _decodable(reader, start, start + run, fps)


def _decodable(reader: VideoReader, start: int, end: int, fps: float) -> Iterator[TimedFrame]:
    try:
        for index, frame in reader.frames(start, end):
            yield index / fps, frame
    except MediaError as exc:
        log.warning("%s", exc)
