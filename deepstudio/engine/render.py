"""Rendering a timeline range to a file.

Stages run on their own threads joined by bounded queues, so decoding, effects and ffmpeg
encoding overlap and memory stays flat whatever the length:

    decode thread ──q──▶ job thread (faces + effects, batched) ──q──▶ encode thread ──▶ ffmpeg

The picture is encoded in chunks of ``chunk_seconds`` under a work folder; a chunk file exists
only once complete (the writer renames it into place), so a render that was killed resumes from
the first missing chunk when started again with the same inputs and settings: it redoes at most
the chunk it was writing. The finished chunks are then joined without re-encoding and muxed with
the audio into the output. Every scratch file that ffmpeg writes is unlinked before ffmpeg
starts, so the ffmpeg of a killed run that is still finishing never writes into the new run's
file.
"""

from __future__ import annotations

import hashlib
import json
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from deepstudio.core.project import Project
from deepstudio.engine.disclosure import Disclosure, LabelSettings, required_consents
from deepstudio.engine.effects import (
    EffectContext,
    EffectProcessor,
    Face,
    FrameItem,
    build_processors,
)
from deepstudio.engine.problems import require_exportable
from deepstudio.engine.retime import clip_frames
from deepstudio.engine.stage_times import StageTimes
from deepstudio.engine.timeline import Segment, audio_parts, video_segments
from deepstudio.errors import MediaError
from deepstudio.media.decode import DecodedFrame, VideoReader
from deepstudio.media.encode import (
    AudioSource,
    EncodeSettings,
    VideoWriter,
    check_writable,
    takes_i420,
)
from deepstudio.media.ffmpeg import LOCAL_PROTOCOLS, run_ffmpeg
from deepstudio.media.probe import MediaInfo, probe
from deepstudio.provenance.credentials import sign_render
from deepstudio.types import BBox, Progress, ProgressCallback

BATCH_FRAMES = 8
QUEUE_FRAMES = 16
CHUNK_SECONDS = 30.0
"""A killed render loses at most this much work; longer chunks drain the encoder less often."""


@dataclass(frozen=True)
class RenderSettings:
    """What to render: timeline frames ``[start_frame, end_frame)`` and how to encode them."""

    start_frame: int = 0
    end_frame: int | None = None
    encode: EncodeSettings = field(default_factory=EncodeSettings)
    label: LabelSettings | None = None
    """An optional visible "AI-modified" label; watermark and credentials are always added."""
    chunk_seconds: float = CHUNK_SECONDS
    """Length of the resumable chunks (the most a killed render has to redo)."""


@dataclass(frozen=True)
class RenderResult:
    output: Path
    frames: int
    seconds: float
    render_id: str
    stage_seconds: dict[str, float] = field(default_factory=dict)
    """Busy seconds per pipeline stage (see :mod:`deepstudio.engine.stage_times`)."""

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return f"{self.output}: {self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps)"


@dataclass(frozen=True)
class RenderInputs:
    """Everything a render reads: the project and where its media and analyses are."""

    project: Project
    media_paths: Mapping[str, Path]
    model_paths: Mapping[str, Path] = field(default_factory=dict)
    analyses: Mapping[str, object] = field(default_factory=dict)
    """FaceAnalysis per media id, for frames that effects need faces on."""
    project_folder: Path | None = None
    device: str = "auto"
    probed: dict[str, MediaInfo] = field(default_factory=dict, compare=False, repr=False)
    """Media probed during this render (each file is demuxed once, not once per chunk)."""

    def media_info(self, media_id: str) -> MediaInfo:
        if media_id not in self.probed:
            self.probed[media_id] = probe(self.media_paths[media_id], require_video=True)
        return self.probed[media_id]


def output_size(project: Project) -> tuple[int, int]:
    """The render size: that of the first video media (even sizes are not required)."""
    for media in project.media.values():
        if media.has_video:
            return media.width, media.height
    raise MediaError("the timeline holds no video to render")


def render(inputs: RenderInputs, output: Path, settings: RenderSettings, work_dir: Path,
           progress: ProgressCallback | None = None) -> RenderResult:
    """Render ``settings``' range of the timeline into ``output``; resumable through work_dir."""
    project = inputs.project
    start = settings.start_frame
    end = project.duration_frames() if settings.end_frame is None else settings.end_frame
    if end <= start:
        raise MediaError(f"empty render range {start}..{end}", output)
    if settings.encode.codec != "png":
        check_writable(output)
    consent_ids = required_consents(project)
    started = time.monotonic()
    report = progress or (lambda p: None)
    fps = project.timeline_fps()
    width, height = output_size(project)
    job_dir = work_dir / _render_key(inputs, settings, start, end)
    job_dir.mkdir(parents=True, exist_ok=True)
    disclosure = Disclosure(job_dir, (width, height), settings.label,
                            None if settings.encode.codec == "png" else fps, start)
    times = StageTimes()
    context = EffectContext(project, inputs.project_folder, inputs.device, times)
    processors = build_processors(project, context)
    encode = settings.encode
    provenance = disclosure.provenance(project, dict(inputs.media_paths),
                                       dict(inputs.model_paths), consent_ids)
    audio = _AudioTask(inputs, start, end, encode, job_dir,
                       output if encode.codec == "png" else job_dir)
    try:
        if encode.codec == "png":
            _encode_range(inputs, processors, disclosure, start, end, fps, encode, output,
                          report, start, end, times)
            audio.result()
            report(Progress(0.99, "signing frames"))
            for frame_file in sorted(output.glob("frame_*.png")):
                sign_render(frame_file, frame_file, provenance)
        else:
            chunk_paths = []
            chunk = max(1, int(round(settings.chunk_seconds * fps)))
            for a in range(start, end, chunk):
                b = min(end, a + chunk)
                path = job_dir / f"chunk_{a:08d}{output.suffix or '.mp4'}"
                if not path.exists():
                    _encode_range(inputs, processors, disclosure, a, b, fps, encode, path,
                                  report, start, end, times)
                chunk_paths.append(path)
            report(Progress(0.99, "joining chunks, muxing audio, signing"))
            joined = job_dir / f"joined{output.suffix or '.mp4'}"
            _join(chunk_paths, audio.result(), joined)
            sign_render(joined, output, provenance)
    finally:
        audio.wait()
        for processor in processors:
            processor.close()
    shutil.rmtree(job_dir, ignore_errors=True)
    report(Progress(1.0, "done"))
    return RenderResult(output, end - start, time.monotonic() - started, disclosure.render_id,
                        times.totals())


def render_with_analysis(inputs: RenderInputs, cache_dir: Path, output: Path,
                         settings: RenderSettings, work_dir: Path,
                         progress: ProgressCallback | None = None) -> RenderResult:
    """Load (or make) the face analyses the effects need, then :func:`render`."""
    from deepstudio.engine.analyse import analyse_media, known_analysis
    from deepstudio.engine.progress import split_progress

    project = inputs.project
    # every effect can run and has its consent: say so before minutes of analysis
    require_exportable(project, EffectContext(project, inputs.project_folder).resolve)
    first, second = split_progress(progress, 0.3 if project.effects else 0.0)
    analyses = {}
    if project.effects:
        for media_id in {c.media_id for _, c in project.clips()}:
            if project.media[media_id].has_video:
                path = inputs.media_paths[media_id]
                analyses[media_id] = (known_analysis(project.media[media_id].content_hash,
                                                     cache_dir)
                                      or analyse_media(path, cache_dir, first))
    return render(replace(inputs, analyses=analyses), output, settings, work_dir, second)


def _render_key(inputs: RenderInputs, settings: RenderSettings, start: int, end: int) -> str:
    """A name for the work folder that changes whenever the render's result would."""
    data = {"project": inputs.project.to_dict(), "settings": asdict(settings),
            "range": [start, end], "media": {k: str(v) for k, v in inputs.media_paths.items()}}
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return "render-" + hashlib.blake2b(blob, digest_size=10).hexdigest()


_END = object()


class _Stage(threading.Thread):
    """A pipeline thread that records its exception instead of dying silently."""

    def __init__(self, target: Callable[[], None], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as exc:  # re-raised on the job thread
            self.error = exc


def _put(q: queue.Queue, item: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _encode_range(inputs: RenderInputs, processors: list[EffectProcessor],
                  disclosure: Disclosure, a: int, b: int, fps: Fraction, encode: EncodeSettings,
                  path: Path, report: ProgressCallback, total_start: int, total_end: int,
                  times: StageTimes) -> None:
    """Decode, process, mark and encode timeline frames ``[a, b)`` into ``path`` (video only);
    each stage's busy time goes into ``times``."""
    size = output_size(inputs.project)
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(QUEUE_FRAMES)
    processed: queue.Queue = queue.Queue(QUEUE_FRAMES)
    i420 = takes_i420(encode, *size)
    writer = VideoWriter(path, size[0], size[1], fps, encode, i420=i420)
    mark = disclosure.mark_i420 if i420 else disclosure.mark

    def decode() -> None:
        for item in times.timed(_frames(inputs, a, b, size, i420), "decode"):
            if not _put(decoded, item, stop):
                return
        _put(decoded, _END, stop)

    def encode_frames() -> None:
        while True:
            item = processed.get()
            if item is _END or stop.is_set():
                return
            with times.measure("watermark"):
                marked = mark(item)
            with times.measure("encode"):
                writer.write(marked)

    stages = [_Stage(decode, "render-decode"), _Stage(encode_frames, "render-encode")]
    for stage in stages:
        stage.start()
    total = total_end - total_start
    try:
        done = False
        while not done:
            batch: list[FrameItem] = []
            while len(batch) < BATCH_FRAMES:
                item = _get(decoded, stages)
                if item is _END:
                    done = True
                    break
                batch.append(item)
            with times.measure("effects"):
                for processor in processors:
                    processor.process(batch)
            for item in batch:
                _put(processed, item, stop)
                _raise_stage_errors(stages)
            if batch:
                index = batch[-1].index + 1 - total_start
                report(Progress(index / total, f"frame {index} of {total}"))
        _put(processed, _END, stop)
        stages[1].join()
        _raise_stage_errors(stages)
        with times.measure("encode"):
            writer.close()
    except BaseException:
        stop.set()
        writer.abort()
        raise
    finally:
        stop.set()
        for stage in stages:
            stage.join(timeout=5)


def _get(q: queue.Queue, stages: list[_Stage]) -> object:
    while True:
        try:
            return q.get(timeout=0.2)
        except queue.Empty:
            _raise_stage_errors(stages)


def _raise_stage_errors(stages: list[_Stage]) -> None:
    for stage in stages:
        if stage.error is not None:
            raise stage.error


def _frames(inputs: RenderInputs, a: int, b: int, size: tuple[int, int],
            i420: bool) -> Iterator[FrameItem]:
    """Timeline frames ``[a, b)`` at the output size, with the faces of their source frames.
    ``i420``: the writer takes 4:2:0 planes, so frames of the output size stay unconverted."""
    width, height = size
    for segment in video_segments(inputs.project, a, b):
        if segment.clip is None:
            black = np.zeros((height, width, 3), np.uint8)
            for k in range(segment.start, segment.start + segment.length):
                yield FrameItem(k, black.copy())
            continue
        yield from _segment_frames(inputs, segment, size, i420)


def _segment_frames(inputs: RenderInputs, segment: Segment, size: tuple[int, int],
                    i420: bool) -> Iterator[FrameItem]:
    clip = segment.clip
    assert clip is not None
    analysis = inputs.analyses.get(clip.media_id)
    with VideoReader(inputs.media_info(clip.media_id)) as reader:
        for frame, source, decoded in clip_frames(reader, inputs.project, clip, segment.start,
                                                  segment.start + segment.length):
            picture: np.ndarray | DecodedFrame = decoded
            scale, offset = 1.0, (0.0, 0.0)
            if isinstance(decoded, np.ndarray):
                picture, scale, offset = fit_frame(decoded, size)
            elif not i420 or (decoded.width, decoded.height) != size:
                picture, scale, offset = fit_frame(decoded.interpolated_rgb(), size)
            faces = faces_on_frame(analysis, source, scale, offset)
            yield FrameItem(frame, picture, clip, source, faces)


def fit_frame(image: np.ndarray, size: tuple[int, int]
              ) -> tuple[np.ndarray, float, tuple[float, float]]:
    """``image`` letterboxed into ``size``; returns it with the scale and offset applied."""
    width, height = size
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image.copy() if not image.flags.writeable else image, 1.0, (0.0, 0.0)
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    out = np.zeros((height, width, 3), np.uint8)
    x, y = (width - nw) // 2, (height - nh) // 2
    out[y:y + nh, x:x + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return out, scale, (float(x), float(y))


def faces_on_frame(analysis: object, source_frame: int, scale: float = 1.0,
                   offset: tuple[float, float] = (0.0, 0.0)) -> list[Face]:
    """The tracked faces of a source frame, mapped into output-frame coordinates."""
    if analysis is None:
        return []
    faces = []
    for tracked in analysis.faces_at(source_frame):
        landmarks = tracked.landmarks.copy()
        landmarks[:, :2] = landmarks[:, :2] * scale + offset
        faces.append(Face(tracked.track_id, landmarks, BBox.from_points(landmarks)))
    return faces


def _audio_source(inputs: RenderInputs, start: int, end: int, job_dir: Path
                  ) -> AudioSource | None:
    """The audio of the range: the source file itself when one clip plays as is, else a mix."""
    parts = audio_parts(inputs.project, start, end)
    if not parts:
        return None
    duration = float((end - start) / inputs.project.timeline_fps())
    if len(parts) == 1 and parts[0].offset_s == 0 and parts[0].gain_db == 0:
        part = parts[0]
        return AudioSource(inputs.media_paths[part.media_id], part.in_s, part.duration_s)
    mix = job_dir / "mix.wav"
    if not mix.exists():
        _mix_audio(inputs, parts, duration, mix)
    return AudioSource(mix, 0.0, duration)


def _mix_audio(inputs: RenderInputs, parts: list, duration: float, out: Path) -> None:
    """Mix the parts into one WAV with ffmpeg (it streams: memory stays flat)."""
    args: list[str] = [*LOCAL_PROTOCOLS]
    chains = []
    for i, part in enumerate(parts):
        args += ["-ss", f"{part.in_s:.6f}", "-t", f"{part.duration_s:.6f}",
                 "-i", str(inputs.media_paths[part.media_id])]
        delay = round(part.offset_s * 1000)
        chains.append(f"[{i}:a:0]aresample=48000,aformat=channel_layouts=stereo,"
                      f"adelay={delay}:all=1,volume={part.gain_db}dB[a{i}]")
    labels = "".join(f"[a{i}]" for i in range(len(parts)))
    graph = ";".join(chains) + f";{labels}amix=inputs={len(parts)}:normalize=0,apad," \
                               f"atrim=0:{duration:.6f}[mix]"
    temp = out.with_name("mix.partial.wav")
    temp.unlink(missing_ok=True)
    run_ffmpeg([*args, "-filter_complex", graph, "-map", "[mix]", "-c:a", "pcm_s16le",
                str(temp)], out)
    temp.replace(out)


class _AudioTask:
    """Encodes the range's audio on its own ffmpeg process while the picture renders, so the
    final join only copies streams. The file lands in ``folder`` (the work folder, or the
    image sequence's folder as ``audio.wav``)."""

    def __init__(self, inputs: RenderInputs, start: int, end: int, encode: EncodeSettings,
                 job_dir: Path, folder: Path) -> None:
        self._error: BaseException | None = None
        self.path: Path | None = None
        if encode.audio == "none":
            self._thread = None
            return
        suffix = {"png": ".wav", "prores": ".wav"}.get(encode.codec, ".m4a")
        if encode.audio == "copy":
            suffix = ".mka"  # Matroska holds any codec the source has
        target = folder / f"audio{suffix}"
        self._thread = threading.Thread(
            target=self._run, args=(inputs, start, end, encode, job_dir, target),
            name="render-audio", daemon=True)
        self._thread.start()

    def _run(self, inputs: RenderInputs, start: int, end: int, encode: EncodeSettings,
             job_dir: Path, target: Path) -> None:
        try:
            source = _audio_source(inputs, start, end, job_dir)
            if source is None:
                return
            if not target.exists():
                args = [*LOCAL_PROTOCOLS]
                if source.start_s > 0:
                    args += ["-ss", f"{source.start_s:.6f}"]
                if source.duration_s is not None:
                    args += ["-t", f"{source.duration_s:.6f}"]
                args += ["-i", str(source.path), "-map", "0:a:0", "-vn"]
                if target.suffix == ".wav":
                    args += ["-c:a", "pcm_s16le"]
                elif target.suffix == ".mka" and source.path.name != "mix.wav":
                    args += ["-c:a", "copy"]
                else:
                    args += ["-c:a", "aac", "-b:a", encode.audio_bitrate]
                partial = target.with_name(f"partial.{target.name}")
                partial.unlink(missing_ok=True)
                run_ffmpeg([*args, str(partial)], source.path)
                partial.replace(target)
            self.path = target
        except BaseException as exc:  # raised on the render thread by result()
            self._error = exc

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def result(self) -> Path | None:
        """The encoded audio file (None: the range is silent or audio was turned off)."""
        self.wait()
        if self._error is not None:
            raise self._error
        return self.path


def _join(chunks: list[Path], audio: Path | None, output: Path) -> None:
    """Concatenate chunk files and mux the encoded audio into ``output`` (a scratch file in
    the work folder: the user's file only appears once signed), copying both streams."""
    listing = output.with_name("chunks.txt")
    listing.write_text("".join(f"file '{c.name}'\n" for c in chunks))
    args = [*LOCAL_PROTOCOLS, "-f", "concat", "-safe", "0", "-i", str(listing)]
    if audio is not None:
        args += ["-i", str(audio), "-map", "0:v:0", "-map", "1:a:0"]
    else:
        args += ["-map", "0:v:0"]
    args += ["-c", "copy"]
    if output.suffix.lower() in (".mp4", ".mov", ".m4v"):
        args += ["-movflags", "+faststart"]
    output.unlink(missing_ok=True)
    run_ffmpeg([*args, str(output)], output)
