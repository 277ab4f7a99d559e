"""Rendering a timeline range to a file.

Stages run on their own threads joined by bounded queues, so decoding, effects and ffmpeg
encoding overlap and memory stays flat whatever the length:

    decode thread ──q──▶ job thread (faces + effects, batched) ──q──▶ encode thread ──▶ ffmpeg

A render is first *planned* (:func:`plan_render`): its range is cut into chunks of a few
seconds, each a file under a work folder that exists only once complete (the writer renames it
into place). Chunks are then encoded (:class:`ChunkEncoder`: here, one after the other; or on
other machines, see :mod:`deepstudio.farm`), and :func:`finish` joins them without
re-encoding, muxes the audio and signs the result, in one place whoever encoded the chunks. A
render that was killed resumes from its unfinished chunks when started again with the same
inputs and settings. The watermark's rhythm is timed from the render's first timeline frame, so
chunks encoded apart mark exactly as one encoder would. Every scratch file that ffmpeg writes
is unlinked before ffmpeg starts, so the ffmpeg of a killed run that is still finishing never
writes into the new run's file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import queue
import re
import shutil
import threading
import time
import uuid
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
from deepstudio.persistence.atomic import atomic_write_json
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
    chunks: int = 1
    reused_chunks: int = 0
    """Chunks found finished by an earlier, interrupted run of the same render."""

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        resumed = (f"; resumed with {self.reused_chunks} of {self.chunks} chunks already done"
                   if self.reused_chunks else "")
        return (f"{self.output}: {self.frames} frames in {self.seconds:.1f} s "
                f"({self.fps:.1f} fps){resumed}")


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


@dataclass(frozen=True)
class Chunk:
    """Timeline frames ``[start, end)`` encoded into ``path`` (an image sequence's folder for
    PNG, which is rendered as one chunk and not resumed)."""

    index: int
    start: int
    end: int
    path: Path

    def done(self) -> bool:
        return self.path.is_file()


@dataclass(frozen=True)
class RenderPlan:
    """One render cut into chunks: everything that the machines encoding its chunks and the one
    finishing it must agree on. ``render_id`` (the watermark payload) is kept in the work
    folder, so every chunk of a resumed or distributed render carries the same one."""

    inputs: RenderInputs
    output: Path
    settings: RenderSettings
    start: int
    end: int
    fps: Fraction
    size: tuple[int, int]
    job_dir: Path
    render_id: str
    consent_ids: tuple[str, ...]
    chunks: tuple[Chunk, ...]

    @property
    def image_sequence(self) -> bool:
        return self.settings.encode.codec == "png"

    def unfinished(self) -> list[Chunk]:
        return [c for c in self.chunks if not c.done()]

    def disclosure(self) -> Disclosure:
        return Disclosure(self.render_id, self.size, self.settings.label,
                          None if self.image_sequence else self.fps, self.start)


ChunkRunner = Callable[[RenderPlan, ProgressCallback], None]
"""Encodes every unfinished chunk of a plan (in this process, or on a farm)."""


def plan_render(inputs: RenderInputs, output: Path, settings: RenderSettings,
                work_dir: Path) -> RenderPlan:
    """Check the render can be made (range, output folder, consents) and cut it into chunks
    under a work folder named after its inputs, so that running it again resumes."""
    start = settings.start_frame
    end = inputs.project.duration_frames() if settings.end_frame is None else settings.end_frame
    if end <= start:
        raise MediaError(f"empty render range {start}..{end}", output)
    if settings.encode.codec != "png":
        check_writable(output)
    return plan_in_folder(inputs, output, settings,
                          work_dir / _render_key(inputs, settings, start, end))


def plan_in_folder(inputs: RenderInputs, output: Path, settings: RenderSettings,
                   job_dir: Path) -> RenderPlan:
    """:func:`plan_render` with the work folder given, for a plan read back from disk on a
    machine that encodes chunks (it does not check the output folder, which it never
    writes)."""
    project = inputs.project
    start = settings.start_frame
    end = project.duration_frames() if settings.end_frame is None else settings.end_frame
    consent_ids = required_consents(project)
    fps = project.timeline_fps()
    job_dir.mkdir(parents=True, exist_ok=True)
    if settings.encode.codec == "png":
        chunks: tuple[Chunk, ...] = (Chunk(0, start, end, output),)
    else:
        length = max(1, int(round(settings.chunk_seconds * fps)))
        suffix = output.suffix or ".mp4"
        chunks = tuple(Chunk(i, a, min(end, a + length), job_dir / f"chunk_{a:08d}{suffix}")
                       for i, a in enumerate(range(start, end, length)))
    return RenderPlan(inputs, output, settings, start, end, fps, output_size(project), job_dir,
                      _render_id(job_dir), consent_ids, chunks)


def _render_id(job_dir: Path) -> str:
    """The render id kept in the work folder (made on first use)."""
    state = job_dir / "render.json"
    if state.exists():
        return str(json.loads(state.read_text())["render_id"])
    render_id = f"render-{uuid.uuid4().hex[:16]}"
    atomic_write_json(state, {"render_id": render_id})
    return render_id


class ChunkEncoder:
    """Encodes chunks of one plan. The effect processors (and the models they load) are built
    once and kept between chunks; :meth:`close` releases them."""

    def __init__(self, plan: RenderPlan, times: StageTimes | None = None) -> None:
        self.plan = plan
        self.times = times or StageTimes()
        """Busy seconds per pipeline stage over the chunks encoded."""
        self._disclosure = plan.disclosure()
        context = EffectContext(plan.inputs.project, plan.inputs.project_folder,
                                plan.inputs.device, self.times)
        self._processors = build_processors(plan.inputs.project, context)

    def encode(self, chunk: Chunk, progress: ProgressCallback | None = None) -> Path:
        """Encode ``chunk`` (its file appears complete or not at all); returns its path."""
        plan = self.plan
        _encode_range(plan.inputs, self._processors, self._disclosure, chunk.start, chunk.end,
                      plan.fps, plan.settings.encode, chunk.path,
                      progress or (lambda p: None), plan.start, plan.end, self.times)
        return chunk.path

    def close(self) -> None:
        for processor in self._processors:
            processor.close()

    def __enter__(self) -> ChunkEncoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def encode_chunks(plan: RenderPlan, progress: ProgressCallback,
                  times: StageTimes | None = None) -> None:
    """The in-process :data:`ChunkRunner`: the unfinished chunks, one after the other."""
    todo = plan.unfinished()
    if todo:
        with ChunkEncoder(plan, times) as encoder:
            for chunk in todo:
                encoder.encode(chunk, progress)


def start_audio(plan: RenderPlan) -> _AudioTask:
    """Encode the range's audio on its own thread while the picture renders."""
    return _AudioTask(plan.inputs, plan.start, plan.end, plan.settings.encode, plan.job_dir,
                      plan.output if plan.image_sequence else plan.job_dir)


def finish(plan: RenderPlan, audio: _AudioTask | None = None,
           progress: ProgressCallback | None = None) -> Path:
    """Join the chunks, mux the audio and sign the output (or sign each frame of an image
    sequence): the one place a render is completed, wherever its chunks were encoded. Removes
    the work folder; returns the output."""
    report = progress or (lambda p: None)
    missing = [c.index for c in plan.chunks if not plan.image_sequence and not c.done()]
    if missing:
        raise MediaError(f"chunks {missing} of the render are not encoded yet", plan.output)
    audio = audio or start_audio(plan)
    provenance = plan.disclosure().provenance(
        plan.inputs.project, dict(plan.inputs.media_paths), dict(plan.inputs.model_paths),
        plan.consent_ids)
    try:
        if plan.image_sequence:
            audio.result()
            report(Progress(0.99, "signing frames"))
            for frame_file in sorted(plan.output.glob("frame_*.png")):
                sign_render(frame_file, frame_file, provenance)
        else:
            report(Progress(0.99, "joining chunks, muxing audio, signing"))
            joined = plan.job_dir / f"joined{plan.output.suffix or '.mp4'}"
            _join([c.path for c in plan.chunks], audio.result(), joined)
            sign_render(joined, plan.output, provenance)
    finally:
        audio.wait()
    shutil.rmtree(plan.job_dir, ignore_errors=True)
    report(Progress(1.0, "done"))
    return plan.output


def complete(plan: RenderPlan, progress: ProgressCallback | None = None,
             runner: ChunkRunner | None = None, times: StageTimes | None = None) -> None:
    """Encode the plan's unfinished chunks with ``runner`` (default: here, one after the
    other, timing its stages into ``times``) while its audio is encoded, then :func:`finish`
    it."""
    report = progress or (lambda p: None)
    audio = start_audio(plan)
    try:
        (runner or functools.partial(encode_chunks, times=times))(plan, report)
        finish(plan, audio, report)
    finally:
        audio.wait()


def render(inputs: RenderInputs, output: Path, settings: RenderSettings, work_dir: Path,
           progress: ProgressCallback | None = None,
           runner: ChunkRunner | None = None) -> RenderResult:
    """Render ``settings``' range of the timeline into ``output``; resumable through work_dir.
    ``runner`` encodes the chunks (default: :func:`encode_chunks`, in this process)."""
    started = time.monotonic()
    plan = plan_render(inputs, output, settings, work_dir)
    reused = len(plan.chunks) - len(plan.unfinished())
    times = StageTimes()  # filled by the in-process runner (a farm's workers keep theirs)
    complete(plan, progress, runner, times)
    return RenderResult(output, plan.end - plan.start, time.monotonic() - started,
                        plan.render_id, times.totals(), len(plan.chunks), reused)


def render_with_analysis(inputs: RenderInputs, cache_dir: Path, output: Path,
                         settings: RenderSettings, work_dir: Path,
                         progress: ProgressCallback | None = None,
                         runner: ChunkRunner | None = None) -> RenderResult:
    """Load (or make) the face analyses the effects need, then :func:`render`."""
    from deepstudio.engine.progress import split_progress

    first, second = split_progress(progress, 0.3 if inputs.project.effects else 0.0)
    return render(with_analyses(inputs, cache_dir, first), output, settings, work_dir, second,
                  runner)


def with_analyses(inputs: RenderInputs, cache_dir: Path,
                  progress: ProgressCallback | None = None) -> RenderInputs:
    """``inputs`` with the face analyses its effects need, loaded from the cache or made."""
    from deepstudio.engine.analyse import analyse_media, known_analysis

    project = inputs.project
    # every effect can run and has its consent: say so before minutes of analysis
    require_exportable(project, EffectContext(project, inputs.project_folder).resolve)
    analyses = {}
    if project.effects:
        for media_id in {c.media_id for _, c in project.clips()}:
            if project.media[media_id].has_video:
                path = inputs.media_paths[media_id]
                analyses[media_id] = (known_analysis(project.media[media_id].content_hash,
                                                     cache_dir)
                                      or analyse_media(path, cache_dir, progress))
    return replace(inputs, analyses=analyses)


def _render_key(inputs: RenderInputs, settings: RenderSettings, start: int, end: int) -> str:
    """A name for the work folder that changes whenever the render's result would. Ids are
    numbered in the order the project holds them: a one-shot command builds the same project
    with fresh ids each time it runs, and must still find its chunks when run again."""
    project = json.dumps(inputs.project.to_dict(), default=str)
    ids = {found: f"id-{n}" for n, found in enumerate(dict.fromkeys(_ID.findall(project)))}
    data = {"project": json.loads(_ID.sub(lambda m: ids[m.group(0)], project)),
            "settings": asdict(settings), "range": [start, end],
            "media": {ids.get(k, k): str(v) for k, v in inputs.media_paths.items()}}
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return "render-" + hashlib.blake2b(blob, digest_size=10).hexdigest()


_ID = re.compile(r"\b[a-z]+-[0-9a-f]{12}\b")
"""What :func:`deepstudio.types.new_id` makes."""


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
    disclosure.begin_range()
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
