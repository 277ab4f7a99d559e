"""Preview playback: the playhead, the playback clock, J/K/L shuttle and frame requests.

Every position change asks the session's preview service for that frame; the service keeps
only the newest waiting request, so scrubbing never queues stale frames. Finished frames
come back on a worker thread and are marshalled to the main thread by the bridge; a frame
older than one already shown is dropped. During playback the clock (not the decoder) says
which frame is due, so slow frames are skipped rather than slowing time down.
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import Future
from fractions import Fraction

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage

from deepstudio.core import timebase
from deepstudio.engine.timeline import MUTE_DB
from deepstudio.errors import UserError
from deepstudio.qt.audio import AudioPlayer
from deepstudio.qt.bridge import MainThreadBridge
from deepstudio.qt.preview_view import PreviewView

MAX_SHUTTLE = 8


class PreviewController(QObject):
    playhead_changed = Signal(int)
    frame_shown = Signal(int)
    playing_changed = Signal(bool)

    def __init__(self, view: PreviewView, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.session = None
        self.playhead = 0
        self.rate = 0  # frames of timeline per frame of wall clock; 0: paused
        self.compare = "after"
        self.split = 0.5
        from deepstudio.engine.overlays import Overlays

        self.overlays = Overlays(boxes=False, landmarks=False, ids=False, masks=False)
        self.shown_frame: int | None = None
        self.shown_count = 0
        self.last_latency_ms = 0.0
        self._seq = 0
        self._shown_seq = 0
        self._sent: dict[int, float] = {}
        self._bridge = MainThreadBridge(self)
        self._audio = AudioPlayer(self)
        self._clock = QElapsedTimer()
        self._clock_origin = 0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(4)
        self._timer.timeout.connect(self._tick)
        view.split_changed.connect(self._split_dragged)

    # --- configuration ---------------------------------------------------------------------

    def set_session(self, session) -> None:
        self.pause()
        self.session = session
        self.playhead = 0
        self.shown_frame = None
        if session is None:
            self.view.show_message("No project open")
        else:
            self.refresh()

    @property
    def fps(self) -> Fraction:
        return self.session.project.timeline_fps() if self.session else Fraction(25)

    def last_frame(self) -> int:
        if self.session is None:
            return 0
        return max(0, self.session.project.duration_frames() - 1)

    def set_overlays(self, **flags: bool) -> None:
        from dataclasses import replace

        self.overlays = replace(self.overlays, **flags)
        self.refresh()

    def set_compare(self, compare: str) -> None:
        self.compare = compare
        self.view.set_split(self.split if compare == "split" else None)
        self.refresh()

    def _split_dragged(self, split: float) -> None:
        self.split = split
        self.refresh()

    # --- transport -------------------------------------------------------------------------

    def seek(self, frame: int) -> None:
        frame = min(max(0, int(frame)), self.last_frame())
        if self.rate:
            self._clock_origin = frame
            self._clock.restart()
            self._start_audio()
        self._move_to(frame)

    def step(self, frames: int) -> None:
        self.pause()
        self.seek(self.playhead + frames)

    def go_start(self) -> None:
        self.seek(0)

    def go_end(self) -> None:
        self.seek(self.last_frame())

    def refresh(self) -> None:
        """Show the current frame again (after an edit, or an overlay/compare change)."""
        if self.session is not None:
            self._request(self.playhead)

    def play(self, rate: int = 1) -> None:
        if self.session is None or self.session.project.duration_frames() == 0:
            return
        if rate > 0 and self.playhead >= self.last_frame():
            self._move_to(0)
        was_playing = bool(self.rate)
        self.rate = rate
        self._clock_origin = self.playhead
        self._clock.restart()
        self._timer.start()
        self._start_audio()
        if not was_playing:
            self.playing_changed.emit(True)

    def pause(self) -> None:
        if not self.rate:
            return
        self.rate = 0
        self._timer.stop()
        self._audio.stop()
        self.playing_changed.emit(False)

    def toggle(self) -> None:
        if self.rate:
            self.pause()
        else:
            self.play(1)

    def shuttle_forward(self) -> None:
        """L: play forward, faster with each press."""
        self.play(1 if self.rate <= 0 else min(self.rate * 2, MAX_SHUTTLE))

    def shuttle_back(self) -> None:
        """J: play backward, faster with each press."""
        self.play(-1 if self.rate >= 0 else max(self.rate * 2, -MAX_SHUTTLE))

    @property
    def playing(self) -> bool:
        return bool(self.rate)

    # --- internals -------------------------------------------------------------------------

    def _tick(self) -> None:
        elapsed = self._clock.nsecsElapsed() / 1e9
        target = self._clock_origin + int(self.rate * elapsed * float(self.fps) + 1e-6)
        last = self.last_frame()
        if target > last or target < 0:
            self._move_to(min(max(target, 0), last))
            self.pause()
            return
        if target != self.playhead:
            self._move_to(target)

    def _move_to(self, frame: int) -> None:
        changed = frame != self.playhead
        self.playhead = frame
        if changed:
            self.playhead_changed.emit(frame)
        self._request(frame)

    def _request(self, frame: int) -> None:
        future: Future = self.session.preview.request(frame, self.overlays, self.compare,
                                                      self.split)
        self._seq += 1
        seq = self._seq
        self._sent[seq] = time.perf_counter()
        view = self.view

        def prepare(done: Future) -> None:
            """On the preview thread: make the image to draw, off the interface thread."""
            image = None
            if not done.cancelled() and done.exception() is None:
                frame = done.result().image
                with contextlib.suppress(Exception):  # _arrived then draws it itself
                    image = (view.display_image(frame), (frame.shape[1], frame.shape[0]))
            self._bridge.call(self._arrived, done, seq, image)

        future.add_done_callback(prepare)

    def _arrived(self, future: Future, seq: int,
                 image: tuple[QImage, tuple[int, int]] | None) -> None:
        sent = self._sent.pop(seq, None)
        if future.cancelled() or seq < self._shown_seq:
            return
        error = future.exception()
        self._shown_seq = seq
        if error is not None:
            self.view.show_message(str(error) if isinstance(error, UserError)
                                   else f"Preview failed: {type(error).__name__}: {error}")
            return
        result = future.result()
        badges = tuple(f"{issue.name}: {issue.reason}" for issue in result.issues)
        if image is not None:
            self.view.show_image(*image, badges)
        else:
            self.view.show_frame(result.image, badges)
        self.shown_frame = result.frame_index
        self.shown_count += 1
        if sent is not None:
            self.last_latency_ms = (time.perf_counter() - sent) * 1000
        self.frame_shown.emit(result.frame_index)

    def _start_audio(self) -> None:
        """Start the sound under the playhead (forward at normal speed only)."""
        self._audio.stop()
        if self.rate != 1 or self.session is None:
            return
        found = audio_at(self.session, self.playhead)
        if found is not None:
            self._audio.play(*found)

    def close(self) -> None:
        self.pause()


def audio_at(session, frame: int):
    """(path, seconds) of the sound at timeline ``frame``: the first audible clip of the
    audio tracks (a video's sound is its linked audio clip); None when silent. Playback plays
    one source at a time; the render mixes them all."""
    project = session.project
    for track, clip in project.clips_at(frame, "audio"):
        if track.muted or clip.muted or clip.gain_db <= MUTE_DB:
            continue
        position = timebase.seconds(clip.position_at(frame), project.timeline_fps())
        return session.media_path(clip.media_id), position
    return None
