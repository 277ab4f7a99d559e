"""Audio playback beside the picture, with QtMultimedia (imported only when first used, so
start-up stays fast and a machine without an audio backend still plays the picture)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QUrl


class AudioPlayer(QObject):
    """Plays one media file's audio from a position; the playback clock stays the video's."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._player = None
        self._output = None
        self._source: Path | None = None
        self.available = True

    def _ensure(self) -> bool:
        if self._player is None and self.available:
            try:
                from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer
            except ImportError:
                self.available = False
                return False
            self._player = QMediaPlayer(self)
            self._output = QAudioOutput(self)
            self._player.setAudioOutput(self._output)
        return self._player is not None

    def play(self, path: Path, seconds: float, rate: float = 1.0) -> None:
        if not self._ensure():
            return
        if self._source != path:
            self._player.setSource(QUrl.fromLocalFile(str(path)))
            self._source = path
        self._player.setPlaybackRate(rate)
        self._player.setPosition(int(seconds * 1000))
        self._player.play()

    def stop(self) -> None:
        if self._player is not None:
            self._player.pause()

    def set_volume(self, volume: float) -> None:
        if self._ensure():
            self._output.setVolume(volume)
