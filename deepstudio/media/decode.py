"""Decoding video into RGB frames: fast sequential streaming and frame-accurate random access.

Frame ``k`` of a file is defined on a constant-rate timeline: for constant-frame-rate files it
is the k-th frame in presentation order; variable-frame-rate files are conformed to their
average rate (each output frame shows the source frame on screen at time k/fps), the way
editors conform phone footage. Rotation metadata is applied, so frames are upright.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np

from deepstudio.errors import MediaError
from deepstudio.media.probe import MediaInfo, open_container, probe

SEQUENTIAL_REUSE_FRAMES = 90
"""A read() up to this many frames ahead of the last one decodes forward instead of seeking."""

STREAM_DECODE_THREADS = max(1, (os.cpu_count() or 1) // 4)
"""Decoder threads for streaming reads. Streaming reads feed pipelines that keep every core
busy (FaceMesh, effects, x264), so decoding only needs to keep pace: frame threading costs
~40 % more CPU per frame than one thread (2.0 vs 2.7-3.7 ms on a 700x700 H.264 clip, 2 cores),
CPU that the encoder would otherwise use. Large machines still get a few threads for 4K."""


def frame_to_rgb(frame: av.VideoFrame, rotation: int) -> np.ndarray:
    """An upright RGB uint8 array from a decoded frame with the given display rotation."""
    rgb = frame.to_ndarray(format="rgb24")
    turns = (rotation // 90) % 4
    # Rows may be padded (e.g. 700 px wide): consumers such as mediapipe need C order.
    return np.ascontiguousarray(np.rot90(rgb, k=turns) if turns else rgb)


class DecodedFrame:
    """One decoded picture, converted only when asked: to RGB for effects, or handed on as
    its own 4:2:0 planes to an encoder that takes them (a frame no effect touches is then
    never converted at all).

    When the planes are available, RGB is made from them with OpenCV's BT.601 conversion
    (that of swscale's default, within one level), whose inverse
    :func:`rgb_to_i420` gives the planes back exactly: pixels an effect leaves alone survive
    the round trip bit for bit.
    """

    def __init__(self, frame: av.VideoFrame, rotation: int) -> None:
        self._frame = frame
        self._rotation = rotation
        turned = (rotation // 90) % 2
        self.width = frame.height if turned else frame.width
        self.height = frame.width if turned else frame.height

    def i420(self) -> np.ndarray | None:
        """The frame's Y, U and V planes stacked (``(h * 3 // 2, w)`` uint8) when it is
        limited-range 8-bit 4:2:0 of even size shown unrotated; else None."""
        frame = self._frame
        if (frame.format.name != "yuv420p" or frame.color_range == _FULL_RANGE
                or self._rotation % 360 or frame.width % 2 or frame.height % 2):
            return None
        return frame.to_ndarray()

    def rgb(self) -> np.ndarray:
        """A fresh upright RGB uint8 array (callers may draw on it) for a frame that goes back
        to 4:2:0: each chroma sample is repeated over its 2x2 pixels, which is what makes the
        round trip exact."""
        planes = self.i420()
        if planes is not None:
            return cv2.cvtColor(planes, cv2.COLOR_YUV2RGB_I420)
        return self.interpolated_rgb()

    def interpolated_rgb(self) -> np.ndarray:
        """A fresh upright RGB uint8 array with swscale's interpolated chroma (what
        :meth:`VideoReader.frames` gives): smoother for RGB outputs and for resizing."""
        return frame_to_rgb(self._frame, self._rotation)


_FULL_RANGE = 2
"""AVColorRange's JPEG (full) range: such planes would need rescaling to pass as yuv420p."""


def rgb_to_i420(rgb: np.ndarray) -> np.ndarray:
    """BT.601 limited-range 4:2:0 planes of an even-sized RGB frame (see DecodedFrame)."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)


class VideoReader:
    """Reads frames of one video file. Use from one thread at a time."""

    def __init__(self, source: str | Path | MediaInfo) -> None:
        # A MediaInfo probed without require_video lets still images be read as one frame.
        self.info = source if isinstance(source, MediaInfo) else probe(source, require_video=True)
        if not self.info.has_video:
            raise MediaError("has no video stream", self.info.path)
        self._random: av.container.InputContainer | None = None
        self._random_iter: Iterator[tuple[int, av.VideoFrame]] | None = None
        self._last: tuple[int, np.ndarray] | None = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._random_iter = None
        if self._random is not None:
            self._random.close()
            self._random = None

    @property
    def frame_count(self) -> int:
        return self.info.frame_count

    def source_index(self, index: int) -> int:
        """Which source frame (presentation order) is shown at timeline frame ``index``."""
        info = self.info
        if not info.is_vfr:
            return index
        t = info.frame_pts[0] + index / (info.fps * info.time_base)
        return int(max(0, np.searchsorted(info.frame_pts, float(t) + 0.5, side="right") - 1))

    def frames(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """RGB frames ``start``..``end`` (exclusive) in order, decoded in a streaming fashion.

        A source frame shown at several timeline frames (variable frame rate) is converted
        once and yielded as the same array each time.
        """
        last: tuple[DecodedFrame, np.ndarray] | None = None
        for index, decoded in self.decoded_frames(start, end):
            if last is None or last[0] is not decoded:
                last = (decoded, decoded.interpolated_rgb())
            yield index, last[1]

    def decoded_frames(self, start: int = 0, end: int | None = None
                       ) -> Iterator[tuple[int, DecodedFrame]]:
        """Like :meth:`frames`, but yields unconverted :class:`DecodedFrame` objects."""
        end = self.frame_count if end is None else min(end, self.frame_count)
        if start >= end:
            return
        wanted = np.array([self.source_index(k) for k in range(start, end)])
        container = open_container(self.info.path)
        container.streams.video[0].thread_type = "AUTO"
        container.streams.video[0].thread_count = STREAM_DECODE_THREADS
        try:
            out = start
            for src, frame in self._decode_from(container, int(wanted[0])):
                if src < wanted[out - start]:
                    continue
                decoded = DecodedFrame(frame, self.info.rotation)
                while out < end and wanted[out - start] <= src:
                    yield out, decoded
                    out += 1
                if out >= end:
                    return
            if out < end:
                # The stream ended early (a truncated tail): repeat nothing, report it.
                raise MediaError(f"video ends at frame {out} of {end} (truncated?)",
                                 self.info.path)
        finally:
            container.close()

    def read(self, index: int) -> np.ndarray:
        """Exactly frame ``index`` (0-based), decoding forward when it is just ahead.

        The array is read-only: the reader keeps it for a repeated read of the same frame.
        """
        if not 0 <= index < self.frame_count:
            raise IndexError(f"frame {index} outside 0..{self.frame_count - 1}")
        src = self.source_index(index)
        if self._last is not None and self._last[0] == src:
            return self._last[1]
        last_src = self._last[0] if self._last is not None else None
        if (self._random_iter is None or last_src is None or src < last_src
                or src - last_src > SEQUENTIAL_REUSE_FRAMES):
            if self._random is None or src == 0:
                # From the start, a fresh container needs no seek (still images cannot seek).
                if self._random is not None:
                    self._random.close()
                self._random = open_container(self.info.path)
            self._random_iter = self._decode_from(self._random, src)
        for got, frame in self._random_iter:
            if got >= src:
                rgb = frame_to_rgb(frame, self.info.rotation)
                rgb.setflags(write=False)  # cached for repeated reads: callers copy to draw
                self._last = (got, rgb)
                return rgb
        raise MediaError(f"frame {index} cannot be decoded (truncated?)", self.info.path)

    def _decode_from(self, container: av.container.InputContainer,
                     src_index: int) -> Iterator[tuple[int, av.VideoFrame]]:
        """Decoded frames from source frame ``src_index`` on, with their source indices.

        ``container`` must be freshly opened when ``src_index`` is 0 (nothing is sought).
        """
        pts = self.info.frame_pts
        stream = container.streams.video[0]
        target = int(pts[src_index])
        try:
            if src_index > 0:
                container.seek(target, stream=stream, backward=True, any_frame=False)
            counter = -1
            for frame in self._decoded_after_skipping(container, stream, target):
                counter += 1
                if frame.pts is None:
                    yield counter, frame
                    continue
                if frame.pts < target:
                    continue
                index = int(np.searchsorted(pts, frame.pts))
                yield min(index, pts.size - 1), frame
        except av.error.FFmpegError as exc:
            raise MediaError(f"decoding failed ({exc.strerror or exc})", self.info.path) from None

    @staticmethod
    def _decoded_after_skipping(container: av.container.InputContainer,
                                stream: av.video.stream.VideoStream,
                                target: int) -> Iterator[av.VideoFrame]:
        """The stream's frames from the current position, where the decoder skips the
        frames nothing refers to (most B-frames) while their packets show before ``target``:
        reaching a frame far from a keyframe then decodes ~40 % less (a worker starting
        mid-GOP, a seek in a file with sparse keyframes). A frame shown before ``target``
        is discarded anyway, and skipping a frame no other frame predicts from changes
        nothing that follows."""
        context = stream.codec_context
        skipping = None
        for packet in container.demux(stream):
            skip = packet.pts is not None and packet.pts < target
            if skip != skipping:
                context.skip_frame = "NONREF" if skip else "DEFAULT"
                skipping = skip
            yield from packet.decode()
