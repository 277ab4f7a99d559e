"""Probing media files: what is in them, exactly, before anything is decoded in bulk.

Frame counts and timestamps come from demuxing the packets of the video stream (cheap: nothing
is decoded but the first frame), so the count is exact even where the container's header is
missing or wrong, and variable frame rate is detected from the real timestamps.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from deepstudio.errors import MediaError
from deepstudio.media.hashing import content_hash

IMAGE_CODECS = {"mjpeg", "png", "bmp", "tiff", "webp", "gif", "jpegls", "jpeg2000"}
IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "tiff_pipe", "webp_pipe"}
VFR_TOLERANCE = 0.2
"""Relative deviation of a frame interval from the median interval that marks a file as VFR."""


@dataclass(frozen=True)
class AudioStreamInfo:
    index: int
    codec: str
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds. Sizes are the display size, after rotation."""

    path: Path
    container: str
    duration_s: float
    has_video: bool
    frame_count: int = 0
    fps: Fraction = Fraction(0)
    is_vfr: bool = False
    rotation: int = 0
    width: int = 0
    height: int = 0
    pix_fmt: str = ""
    codec: str = ""
    audio: list[AudioStreamInfo] = field(default_factory=list)
    content_hash: str = ""
    frame_pts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    """Presentation timestamps of the source frames (stream time base), sorted."""
    time_base: Fraction = Fraction(1)
    max_keyframe_gap: int = 0
    """Most frames from one keyframe to the next (or to the end): a seek decodes up to this
    many frames. 0 when unknown (still images, audio)."""
    keyframes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    """Source frame indices (into ``frame_pts``) of the keyframes, where a seek lands."""

    @property
    def has_audio(self) -> bool:
        return bool(self.audio)

    def keyframe_indices(self) -> np.ndarray:
        """Timeline frames at which a keyframe is shown (where decoding can start without
        decoding earlier frames first)."""
        if not self.is_vfr or self.frame_pts.size == 0:
            return self.keyframes
        seconds = (self.frame_pts[self.keyframes] - self.frame_pts[0]) * float(self.time_base)
        return np.ceil(seconds * float(self.fps) - 1e-6).astype(np.int64)

    def frame_time(self, index: int) -> float:
        """Time in seconds of frame ``index`` on the (constant-rate) timeline of this file."""
        return float(index / self.fps) if self.fps else 0.0


def check_readable_file(path: str | Path) -> Path:
    """The path as a local, existing, non-empty regular file, or a MediaError saying why not."""
    path = Path(path)
    if not path.exists():
        raise MediaError("file not found", path)
    if not path.is_file():
        raise MediaError("not a regular file", path)
    if not os.access(path, os.R_OK):
        raise MediaError("file is not readable (permission denied)", path)
    if path.stat().st_size == 0:
        raise MediaError("file is empty (0 bytes)", path)
    return path


def open_container(path: Path) -> av.container.InputContainer:
    """Open a local media file with PyAV, local-file protocol only."""
    try:
        return av.open(str(path), options={"protocol_whitelist": "file"})
    except av.error.InvalidDataError:
        raise MediaError("not a media file (or the file is truncated/corrupt)", path) from None
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(f"cannot open media: {exc}", path) from None


def probe(path: str | Path, *, require_video: bool = False) -> MediaInfo:
    """Describe a media file; raises MediaError with a one-line reason for bad input."""
    path = check_readable_file(path)
    with open_container(path) as container:
        audio = [
            AudioStreamInfo(s.index, _codec(s, path).name, _codec(s, path).sample_rate or 0,
                            _codec(s, path).channels or 0)
            for s in container.streams.audio
        ]
        duration = container.duration / av.time_base if container.duration else 0.0
        fmt = container.format.name
        if not container.streams.video:
            if require_video:
                raise MediaError("has no video stream (audio-only file?)", path)
            if not audio:
                raise MediaError("holds neither video nor audio", path)
            return MediaInfo(path, fmt, duration, False, audio=audio,
                             content_hash=content_hash(path))
        stream = container.streams.video[0]
        _codec(stream, path)
        if require_video and (fmt in IMAGE_FORMATS or (stream.codec_context.name in IMAGE_CODECS
                              and (stream.frames or 0) <= 1)):
            raise MediaError("is a still image, not a video", path)
        # Read every stream attribute while the container is open: PyAV streams dangle after.
        nominal_rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        time_base = stream.time_base or Fraction(1, 90000)
        codec = stream.codec_context.name
        pix_fmt = stream.codec_context.format.name if stream.codec_context.format else ""
        pts, key_pts = _demux_timestamps(container, stream, path)
        if pts.size == 0:
            raise MediaError("video stream holds no frames", path)
    with open_container(path) as container:
        first, rotation = _first_frame(container, path)
    keyframes = np.searchsorted(pts, key_pts).astype(np.int64)
    fps, is_vfr = _frame_rate(pts, time_base, nominal_rate)
    if is_vfr:
        span = float((pts[-1] - pts[0]) * time_base) + float(1 / fps)
        frame_count = max(1, round(span * fps))
    else:
        frame_count = int(pts.size)
    height, width = first.shape[:2]
    if not duration:
        duration = frame_count / float(fps)
    return MediaInfo(
        path=path, container=fmt, duration_s=float(duration), has_video=True,
        frame_count=frame_count, fps=fps, is_vfr=is_vfr, rotation=rotation, width=width,
        height=height, pix_fmt=pix_fmt, codec=codec, audio=audio, content_hash=content_hash(path),
        frame_pts=pts, time_base=time_base, max_keyframe_gap=_max_keyframe_gap(pts, keyframes),
        keyframes=keyframes,
    )


def _codec(stream, path: Path):
    """The stream's codec context; MediaError when the header describes no codec at all."""
    if stream.codec_context is None:
        raise MediaError(f"{stream.type} stream #{stream.index} has no codec parameters "
                         "(corrupt header)", path)
    return stream.codec_context


def _demux_timestamps(container, stream, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Sorted presentation timestamps of all video packets, and of the keyframes."""
    pts: list[int] = []
    key_pts: list[int] = []
    try:
        for packet in container.demux(stream):
            if packet.pts is not None and packet.size:
                pts.append(packet.pts)
                if packet.is_keyframe:
                    key_pts.append(packet.pts)
    except av.error.FFmpegError as exc:
        raise MediaError(f"file is truncated or corrupt ({exc.strerror or exc})", path) from None
    return np.unique(np.asarray(pts, dtype=np.int64)), np.unique(np.asarray(key_pts, np.int64))


def _max_keyframe_gap(pts: np.ndarray, keyframes: np.ndarray) -> int:
    """Most frames between consecutive keyframes, the last one to the end included."""
    if keyframes.size == 0:
        return int(pts.size)
    return int(np.diff(np.append(keyframes, pts.size)).max())


def _first_frame(container, path: Path) -> tuple[np.ndarray, int]:
    from deepstudio.media.decode import frame_to_rgb

    try:
        for frame in container.decode(video=0):
            rotation = round(getattr(frame, "rotation", 0) or 0) % 360
            return frame_to_rgb(frame, rotation), rotation
    except av.error.FFmpegError as exc:
        raise MediaError(f"video cannot be decoded ({exc.strerror or exc})", path) from None
    raise MediaError("video stream holds no decodable frame", path)


def _frame_rate(pts: np.ndarray, time_base: Fraction,
                nominal: Fraction | None) -> tuple[Fraction, bool]:
    """The constant frame rate of the file, and whether the real timestamps vary."""
    if pts.size < 3:
        return (Fraction(nominal) if nominal else Fraction(25)), False
    intervals = np.diff(pts).astype(np.float64)
    median = float(np.median(intervals))
    deviating = np.abs(intervals - median) > VFR_TOLERANCE * median
    # A handful of odd intervals (an edit point, a dropped frame, the last frame of a clip
    # trimmed by stream copy) does not make a file VFR, not even a short one.
    is_vfr = bool(deviating.sum() > 1 and deviating.mean() > 0.02)
    if is_vfr:
        mean_interval_s = float((pts[-1] - pts[0]) * time_base) / (pts.size - 1)
        return _snap_rate(1.0 / mean_interval_s), True
    rate = Fraction(1) / (Fraction(round(median)) * time_base)
    return _snap_rate(float(rate)) if abs(float(rate) - float(_snap_rate(float(rate)))) < 0.01 \
        else rate.limit_denominator(1001), False


def _snap_rate(rate: float) -> Fraction:
    """Snap a measured rate to the nearest common rate (23.976, 29.97...) or to 1/1000 fps."""
    for common in (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001),
                   Fraction(24), Fraction(25), Fraction(30), Fraction(50), Fraction(60),
                   Fraction(15), Fraction(12), Fraction(120)):
        if abs(rate - float(common)) < 0.005 * float(common):
            return common
    return Fraction(round(rate * 1000), 1000)
