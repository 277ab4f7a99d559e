"""Locating and running the ffmpeg binary.

The binary comes from imageio-ffmpeg (which ships one with libx264/x265/ProRes/PNG/AAC) unless
the environment variable ``DEEPSTUDIO_FFMPEG`` names another. Every invocation restricts
inputs to local files and pipes, so a crafted playlist cannot make ffmpeg reach the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from deepstudio.errors import NO_SPACE_TEXT, DiskFullError, MediaError

LOCAL_PROTOCOLS = ["-protocol_whitelist", "file,pipe"]


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary to use."""
    override = os.environ.get("DEEPSTUDIO_FFMPEG")
    if override:
        found = shutil.which(override) or (override if Path(override).is_file() else None)
        if not found:
            raise MediaError("DEEPSTUDIO_FFMPEG does not name an ffmpeg binary", override)
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def base_command() -> list[str]:
    """ffmpeg with quiet logging, no stdin interaction and local-only input protocols."""
    return [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]


def run_ffmpeg(args: list[str], what: str | Path) -> bytes:
    """Run ffmpeg to completion and return stdout; a failure raises MediaError naming ``what``,
    or DiskFullError naming the output file (ffmpeg's last argument) when its disk is full."""
    proc = subprocess.run([*base_command(), *args], capture_output=True, check=False)
    if proc.returncode != 0:
        if NO_SPACE_TEXT.encode() in proc.stderr:
            raise DiskFullError(args[-1])
        raise MediaError(f"ffmpeg failed: {last_line(proc.stderr)}", what)
    return proc.stdout


def last_line(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode(errors="replace").splitlines() if ln.strip()]
    return lines[-1] if lines else "unknown error"
