"""Training a lip-sync model on a speaker's own footage: build the data set, then train.

The data set lives in memory: for every frame where the speaker's face is tracked, an aligned
face crop (``size`` px, ~12 KB at 64 px, so ten minutes at 25 fps is ~180 MB) and the mel window
of that frame's time. Faces come from the cached face analysis (the speaker is the chosen track,
by default the one seen in most frames); audio is read resampled to 16 kHz mono.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepstudio.engine.av_sync import AVSync, measure_av_sync, speech_energy_of
from deepstudio.engine.progress import split_progress
from deepstudio.errors import MediaError
from deepstudio.media.audio import read_audio
from deepstudio.media.decode import VideoReader
from deepstudio.models.checkpoint import ModelCard
from deepstudio.models.device import pick_device
from deepstudio.models.lipsync.dataset import LipSyncData
from deepstudio.models.lipsync.mel import MEL_WINDOW, N_MELS, log_mel_spectrogram, mel_windows
from deepstudio.models.lipsync.trainer import LipSyncTrainConfig, LipSyncTrainer
from deepstudio.types import Progress, ProgressCallback
from deepstudio.vision.align import align_face
from deepstudio.vision.analysis import FaceAnalysis, FaceTrack, analyze_video
from deepstudio.vision.measures import mouth_openings

DATA_SHARE = 0.1
"""Share of the progress bar given to building the data set."""


@dataclass(frozen=True)
class SpeakerFootage:
    """Frames ``start``..``end`` (exclusive) of a video in which ``track_id`` speaks."""

    path: Path
    track_id: int | None = None
    """None: the face track present in most frames."""
    start: int = 0
    end: int | None = None
    sound_delay: int = 0
    """Frames by which this footage's sound comes after its picture (out-of-sync footage):
    each frame is trained with the audio that many frames later, so the model does not learn
    the offset. ``deepstudio evaluate lipsync`` on the footage measures it (its
    ``av_offset_frames`` is minus this)."""


def _speaker_track(analysis: FaceAnalysis, footage: SpeakerFootage) -> FaceTrack:
    if not analysis.tracks:
        raise MediaError("no face was found in this video", footage.path)
    if footage.track_id is None:
        return max(analysis.tracks.values(), key=lambda t: len(t.frames))
    if footage.track_id not in analysis.tracks:
        raise MediaError(f"has no face track {footage.track_id}", footage.path)
    return analysis.tracks[footage.track_id]


def _runs(frames: np.ndarray, cuts: Iterable[int]) -> np.ndarray:
    """Run number of each frame: a new run starts after a gap or at a shot cut."""
    cut_set = set(cuts)
    breaks = (np.diff(frames) != 1) | np.isin(frames[1:], list(cut_set))
    return np.concatenate([[0], np.cumsum(breaks)]).astype(np.int64)


def footage_data(footage: SpeakerFootage, size: int, cache_dir: Path | None = None,
                 progress: ProgressCallback | None = None) -> tuple[LipSyncData, dict[str, Any]]:
    """Aligned crops and mel windows of one piece of footage, and a summary of it."""
    analysis = analyze_video(footage.path, progress=progress, cache_dir=cache_dir)
    track = _speaker_track(analysis, footage)
    end = analysis.frame_count if footage.end is None else min(footage.end, analysis.frame_count)
    keep = (track.frames >= footage.start) & (track.frames < end)
    frames, landmarks = track.frames[keep], track.smoothed[keep]
    audio = read_audio(footage.path)
    mel = log_mel_spectrogram(audio, source=footage.path)
    faces = np.empty((len(frames), size, size, 3), dtype=np.uint8)
    if len(frames):
        row = 0
        with VideoReader(footage.path) as reader:
            fps = reader.info.fps
            for index, frame in reader.frames(int(frames[0]), int(frames[-1]) + 1):
                if row < len(frames) and index == frames[row]:
                    faces[row] = align_face(frame, landmarks[row], size).image
                    row += 1
        mels = mel_windows(mel, frames + footage.sound_delay, fps)
    else:
        mels = np.zeros((0, N_MELS, MEL_WINDOW), dtype=np.float32)
    opening = mouth_openings(landmarks)
    data = LipSyncData(faces, mels, _runs(frames, analysis.cuts), opening)
    summary = {"path": str(footage.path), "content_hash": analysis.content_hash,
               "track_id": track.track_id, "frames": len(frames),
               "seconds": round(len(frames) / analysis.fps, 2),
               "sound_delay_frames": footage.sound_delay,
               "av_sync": _footage_sync(audio, analysis, frames, opening).to_dict()}
    return data, summary


def _footage_sync(audio: np.ndarray, analysis: FaceAnalysis, frames: np.ndarray,
                  opening: np.ndarray) -> AVSync:
    """How the speaker's mouth follows the footage's speech, as recorded (before any
    ``sound_delay``): kept in the model card, so an offset in the footage can be found."""
    mouth = np.full(analysis.frame_count, np.nan)
    mouth[frames] = opening
    return measure_av_sync(mouth, speech_energy_of(audio, analysis.fps, analysis.frame_count))


def build_lipsync_data(footage: Sequence[SpeakerFootage], size: int,
                       cache_dir: Path | None = None,
                       progress: ProgressCallback | None = None,
                       ) -> tuple[LipSyncData, list[dict[str, Any]]]:
    """One data set from several pieces of footage (their runs never join)."""
    parts, summaries = [], []
    offset = 0
    for number, item in enumerate(footage):
        def report(p: Progress, number: int = number, name: str = item.path.name) -> None:
            if progress is not None:
                progress(Progress((number + p.fraction) / len(footage), f"{name}: {p.message}"))
        data, summary = footage_data(item, size, cache_dir, report)
        parts.append(LipSyncData(data.faces, data.mels, data.segments + offset, data.mouth_open))
        offset += int(data.segments.max()) + 1 if len(data.segments) else 0
        summaries.append(summary)
    if not parts:
        raise ValueError("no footage given")
    return LipSyncData(np.concatenate([p.faces for p in parts]),
                       np.concatenate([p.mels for p in parts]),
                       np.concatenate([p.segments for p in parts]),
                       np.concatenate([p.mouth_open for p in parts])), summaries


def train_lipsync(videos: Sequence[SpeakerFootage | Path | str], out_model: str | Path,
                  config: LipSyncTrainConfig | None = None, iters: int = 10_000,
                  device: str = "auto", progress: ProgressCallback | None = None,
                  train_fraction: float = 0.9, cache_dir: Path | None = None,
                  consent_ids: Sequence[str] = ()) -> ModelCard:
    """Train (or resume training of) the lip-sync model folder ``out_model`` on ``videos``.

    Returns the final model card. Raising :class:`~deepstudio.errors.Cancelled` from
    ``progress`` stops after saving a checkpoint.
    """
    footage = [v if isinstance(v, SpeakerFootage) else SpeakerFootage(Path(v)) for v in videos]
    torch_device = pick_device(device)
    config = config or LipSyncTrainConfig.for_device(torch_device)
    data_progress, train_progress = split_progress(progress, DATA_SHARE)
    trainer = LipSyncTrainer(out_model, config, torch_device, consent_ids=consent_ids)
    data, summaries = build_lipsync_data(footage, trainer.model.arch.size, cache_dir,
                                         data_progress)
    trainer.training_data["footage"] = summaries
    return trainer.train(data, iters, train_progress, train_fraction)
