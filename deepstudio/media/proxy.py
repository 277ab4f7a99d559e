"""Proxy media: a copy of a video that seeks fast, read by the preview only.

Cameras and x264 put a keyframe every few seconds, and showing frame N means decoding from the
keyframe before it: up to 250 frames with x264's default, ~350 ms for one 720p frame on two
cores. Editors scrub a proxy instead (Resolve's "optimized media"). DeepStudio writes one when
a file's keyframes are more than ``SLOW_SEEK_GAP`` frames apart: the frames exactly as
:class:`VideoReader` returns them (variable frame rate conformed, rotation applied), re-encoded
with a keyframe every ``PROXY_GOP`` frames, so frame N of the proxy is frame N of the source.
Renders and analysis always read the original.
"""

from __future__ import annotations

from pathlib import Path

from deepstudio.media.decode import VideoReader
from deepstudio.media.encode import EncodeSettings, VideoWriter
from deepstudio.media.probe import MediaInfo, probe
from deepstudio.types import Progress, ProgressCallback

PROXY_GOP = 8
"""Keyframe interval of proxies: a seek decodes at most this many frames (~15 ms at 720p)."""
SLOW_SEEK_GAP = 15
"""Files with more frames than this between keyframes get a proxy. On the 2-core reference
machine a 720p seek-and-show takes ~38 ms median from a proxy, ~85-100 ms with a keyframe
every second (many cameras), ~350 ms with x264's default of one in 250 frames."""
PROXY_VERSION = 1
PROXY_SETTINGS = EncodeSettings(codec="h264", quality=20, preset="ultrafast", audio="none",
                                keyframe_interval=PROXY_GOP)


def proxy_path(cache_dir: Path, content_hash: str) -> Path:
    """Where the proxy of the file with this content hash lives (whether or not it exists)."""
    return Path(cache_dir) / f"{content_hash}-proxy-v{PROXY_VERSION}.mp4"


def needs_proxy(info: MediaInfo) -> bool:
    """Whether seeking in this file is slow enough for a proxy to help."""
    return info.has_video and info.frame_count > 1 and info.max_keyframe_gap > SLOW_SEEK_GAP


def write_proxy(source: Path, cache_dir: Path,
                progress: ProgressCallback | None = None) -> Path | None:
    """Write the proxy of ``source`` into ``cache_dir`` (atomically: a cancelled or killed job
    leaves no proxy behind); returns its path, or None when the file seeks fast already."""
    info = probe(source, require_video=True)
    if not needs_proxy(info):
        return None
    target = proxy_path(cache_dir, info.content_hash)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda p: None)
    total = info.frame_count
    with VideoReader(info) as reader, \
            VideoWriter(target, info.width, info.height, info.fps, PROXY_SETTINGS) as writer:
        for index, frame in reader.frames():
            writer.write(frame)
            if index % 25 == 0:
                report(Progress(index / total, f"proxy: frame {index} of {total}"))
    report(Progress(1.0, "proxy done"))
    return target
