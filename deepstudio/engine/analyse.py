"""Face analysis of media, cached per content hash (the engine's entry to vision)."""

from __future__ import annotations

from pathlib import Path

from deepstudio.errors import MediaError
from deepstudio.types import ProgressCallback
from deepstudio.vision.analysis import FaceAnalysis, analyze_video, cache_path


def analyse_media(path: Path, cache_dir: Path, progress: ProgressCallback | None = None
                  ) -> FaceAnalysis:
    """Track every face of the video at ``path``; reuses the cache when the file is known."""
    return analyze_video(path, progress=progress, cache_dir=cache_dir)


def known_analysis(content_hash: str, cache_dir: Path) -> FaceAnalysis | None:
    """The cached analysis of the file with this content hash, if one exists (no probing:
    the preview asks for every frame it shows)."""
    cached = cache_path(cache_dir, content_hash)
    if not cached.is_file():
        return None
    try:
        return FaceAnalysis.load(cached)
    except MediaError:  # a damaged cache file: analysing again replaces it
        return None
