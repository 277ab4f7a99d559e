"""Encoding: frames are streamed into ffmpeg through a pipe (never through temporary images).

The output is written to a temporary name beside the target and renamed when ffmpeg has
finished, so a crash or a cancelled render never leaves a half-written file under the
user's chosen name. A temporary file left by a killed run is unlinked before a new ffmpeg
starts: the killed run's ffmpeg may still be finishing it (its input pipe just closed), and
writing into the same file would mix the two.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from deepstudio.errors import NO_SPACE_TEXT, DiskFullError, MediaError
from deepstudio.media.ffmpeg import LOCAL_PROTOCOLS, base_command

CODECS = ("h264", "h265", "prores", "png")
EXTENSIONS = {"h264": ".mp4", "h265": ".mp4", "prores": ".mov", "png": ""}


@dataclass(frozen=True)
class EncodeSettings:
    """What the output file is made of. ``quality`` is the CRF for H.264/H.265."""

    codec: str = "h264"
    quality: int = 18
    preset: str = "medium"
    audio: str = "aac"
    """"aac" re-encodes the audio, "copy" copies the source stream, "none" drops it."""
    audio_bitrate: str = "192k"
    keyframe_interval: int | None = None
    """H.264/H.265: at most this many frames between keyframes (None: the encoder's default,
    250). Short intervals seek fast and cost size."""
    threads: int | None = None
    """Encoder threads (None: ffmpeg's choice, every core). A farm worker given one core sets
    1; the picture differs slightly between thread counts, never in quality."""

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise MediaError(f"unknown codec '{self.codec}' (choose from {', '.join(CODECS)})")
        if self.audio not in ("aac", "copy", "none"):
            raise MediaError(f"unknown audio mode '{self.audio}' (aac, copy or none)")


@dataclass(frozen=True)
class AudioSource:
    """Audio to put beside the video: ``duration_s`` seconds of ``path`` from ``start_s``."""

    path: Path
    start_s: float = 0.0
    duration_s: float | None = None


def video_codec_args(settings: EncodeSettings) -> list[str]:
    """ffmpeg output arguments for the video stream of ``settings``."""
    gop = ["-g", str(settings.keyframe_interval)] if settings.keyframe_interval else []
    gop += ["-threads", str(settings.threads)] if settings.threads else []
    if settings.codec == "h264":
        return ["-c:v", "libx264", "-preset", settings.preset, "-crf", str(settings.quality),
                *gop, "-pix_fmt", "yuv420p", "-movflags", "+faststart"]
    if settings.codec == "h265":
        return ["-c:v", "libx265", "-preset", settings.preset, "-crf", str(settings.quality),
                *gop, "-pix_fmt", "yuv420p", "-tag:v", "hvc1", "-x265-params", "log-level=error",
                "-movflags", "+faststart"]
    if settings.codec == "prores":
        return ["-c:v", "prores_ks", "-profile:v", "2", "-pix_fmt", "yuv422p10le"]
    return ["-c:v", "png"]


def check_writable(path: Path) -> None:
    """Raise a MediaError naming ``path`` unless a file can be created there.

    Permission bits say little for root or on special file systems, so this really creates
    (and removes) a small file beside the target.
    """
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise MediaError("output path is a directory", path)
    if not parent.is_dir():
        raise MediaError(f"output folder {parent} does not exist", path)
    if path.exists() and not os.access(path, os.W_OK):
        raise MediaError("output file exists and is not writable", path)
    probe_file = parent / f".{path.name}.{os.getpid()}.probe"
    try:
        probe_file.touch()
        probe_file.unlink()
    except OSError as exc:
        raise MediaError(f"output folder {parent} is not writable ({exc.strerror})",
                         path) from None


def takes_i420(settings: EncodeSettings, width: int, height: int) -> bool:
    """Whether a writer for ``settings`` can take 4:2:0 planes (:class:`VideoWriter`'s
    ``i420``): H.264 and H.265 encode 4:2:0 anyway, so planes save ffmpeg's RGB conversion and
    half the pipe; ProRes (4:2:2) and PNG (RGB) would lose colour resolution."""
    return settings.codec in ("h264", "h265") and width % 2 == 0 and height % 2 == 0


class VideoWriter:
    """Streams frames into ffmpeg, with optional audio from another file.

    Frames are RGB ``(h, w, 3)`` uint8, or with ``i420`` (see :func:`takes_i420`) BT.601
    limited-range Y, U and V planes stacked as ``(h * 3 // 2, w)`` uint8.
    For the "png" codec ``path`` is a folder that receives ``frame_000000.png``... and, when
    there is audio, ``audio.wav``.
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: Fraction,
                 settings: EncodeSettings | None = None,
                 audio_source: AudioSource | None = None, i420: bool = False) -> None:
        self.path = Path(path)
        self.settings = settings or EncodeSettings()
        if i420 and not takes_i420(self.settings, width, height):
            raise ValueError(f"{self.settings.codec} at {width}x{height} cannot take 4:2:0 planes")
        self.width, self.height = width, height
        self._frame_shape = (height * 3 // 2, width) if i420 else (height, width, 3)
        self._pix_fmt = "yuv420p" if i420 else "rgb24"
        self.frames_written = 0
        if self.settings.codec == "png":
            self.path.mkdir(parents=True, exist_ok=True)
            self._target = self.path / "frame_%06d.png"
            self._temp = self._target
        else:
            check_writable(self.path)
            self._target = self.path
            # Unique per writer: a chunk retried on another machine while the ffmpeg of a
            # killed worker still finishes must not write into the same file.
            self._temp = self.path.with_name(
                f".{self.path.stem}.{uuid.uuid4().hex[:8]}.partial{self.path.suffix}")
        cmd = self._command(fps, audio_source)
        if self._temp != self._target:
            self._temp.unlink(missing_ok=True)
        self._stderr: deque[str] = deque(maxlen=20)
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE)
        except OSError as exc:
            raise MediaError(f"cannot start ffmpeg: {exc}", self.path) from None
        self._stderr_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_thread.start()

    def _command(self, fps: Fraction, audio: AudioSource | None) -> list[str]:
        pad = self.settings.codec != "png" and (self.width % 2 or self.height % 2)
        cmd = [*base_command(), *LOCAL_PROTOCOLS, "-f", "rawvideo", "-pix_fmt", self._pix_fmt,
               "-s", f"{self.width}x{self.height}", "-r", f"{fps.numerator}/{fps.denominator}",
               "-i", "pipe:0"]
        use_audio = audio is not None and self.settings.audio != "none"
        if use_audio:
            if audio.start_s > 0:
                cmd += ["-ss", f"{audio.start_s:.6f}"]
            if audio.duration_s is not None:
                cmd += ["-t", f"{audio.duration_s:.6f}"]
            cmd += ["-i", str(audio.path)]
        cmd += ["-map", "0:v:0"]
        if pad:
            # 4:2:0 and 4:2:2 need even sizes: add one black row/column rather than lose one.
            cmd += ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]
        cmd += video_codec_args(self.settings)
        if self.settings.codec == "png":
            cmd += ["-start_number", "0", str(self._target)]
            if use_audio:
                cmd += ["-map", "1:a:0", "-c:a", "pcm_s16le", str(self.path / "audio.wav")]
            return cmd
        if use_audio:
            cmd += ["-map", "1:a:0?"]
            if self.settings.audio == "copy":
                cmd += ["-c:a", "copy"]
            elif self.settings.codec == "prores":
                cmd += ["-c:a", "pcm_s16le"]
            else:
                cmd += ["-c:a", "aac", "-b:a", self.settings.audio_bitrate]
        cmd += [str(self._temp)]
        return cmd

    def _drain_stderr(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            self._stderr.append(line.decode(errors="replace").strip())

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != self._frame_shape or frame.dtype != np.uint8:
            raise ValueError(f"frame {frame.shape} {frame.dtype} is not "
                             f"{self._frame_shape} uint8")
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).data)
        except (BrokenPipeError, OSError):
            self._fail()
        self.frames_written += 1

    def close(self) -> Path:
        """Finish the file and move it to its final name; returns that path."""
        assert self._proc.stdin is not None
        with contextlib.suppress(BrokenPipeError, OSError):
            self._proc.stdin.close()
        code = self._proc.wait()
        self._stderr_thread.join(timeout=5)
        if code != 0:
            self._fail()
        if self._temp != self._target:
            os.replace(self._temp, self._target)
        return self.path

    def abort(self) -> None:
        """Stop ffmpeg and remove the partial output."""
        self._proc.kill()
        self._proc.wait()
        if self._temp != self._target:
            self._temp.unlink(missing_ok=True)

    def _fail(self) -> None:
        self._proc.kill()
        self._proc.wait()
        self._stderr_thread.join(timeout=5)
        if self._temp != self._target:
            self._temp.unlink(missing_ok=True)
        if any(NO_SPACE_TEXT in line for line in self._stderr):
            raise DiskFullError(self.path)
        detail = self._stderr[-1] if self._stderr else "ffmpeg stopped"
        raise MediaError(f"encoding failed: {detail}", self.path)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
