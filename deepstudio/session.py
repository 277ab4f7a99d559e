"""The headless facade the GUI and the CLI share: a project, its history and the engine.

Everything a person does to a project goes through a Session: commands (undoable), saving,
importing media, analysing, rendering. Long work returns a :class:`~deepstudio.engine.jobs.Job`
at once; nothing here blocks on it or knows about Qt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from deepstudio.core import effect_specs  # noqa: F401  (registers the built-in effect types)
from deepstudio.core.commands import (
    AddClip,
    AddMedia,
    AddModel,
    AddTrack,
    ChangeSet,
    Command,
    Macro,
)
from deepstudio.core.history import History
from deepstudio.core.project import Clip, MediaItem, Project, Track
from deepstudio.engine.analyse import analyse_media, known_analysis
from deepstudio.engine.jobs import Job, JobManager
from deepstudio.engine.render import RenderInputs, RenderSettings, render_with_analysis
from deepstudio.errors import ConsentError, MediaError, ProjectError
from deepstudio.media.probe import probe
from deepstudio.media.proxy import needs_proxy, proxy_path, write_proxy
from deepstudio.persistence.project_lock import EDITOR, ProjectLock
from deepstudio.persistence.project_store import (
    ProjectPaths,
    create_project,
    discard_autosave,
    load_project,
    recoverable_autosave,
    remove_leftovers,
    save_project,
    save_project_as,
    write_autosave,
)
from deepstudio.types import Id, TrainResult, new_id


class Session:
    """One open project. Create with :meth:`create`, :meth:`open` or :meth:`in_memory`.

    A session that may save holds the project's lock (see
    :mod:`deepstudio.persistence.project_lock`) until :meth:`close`; a read-only one does not,
    cannot save, and leaves the job list on disk to the editor that holds the lock.
    """

    def __init__(self, project: Project, folder: Path | None, cache_dir: Path,
                 jobs_dir: Path | None, lock: ProjectLock | None = None,
                 read_only: bool = False) -> None:
        self.project = project
        self.folder = folder
        self.lock = lock
        self.read_only = read_only
        self.paths = ProjectPaths(folder) if folder is not None else None
        self.cache_dir = cache_dir
        self.history = History(project)
        self.jobs = JobManager(jobs_dir)
        self._analyses: dict[Id, object] = {}
        self._proxy_advised: set[Id] = set()
        self._lock = threading.Lock()
        self._preview = None
        self._dirty_after_recovery = False
        self.device = "auto"
        """Where models run: "auto" (CUDA when present), "cpu" or "cuda"."""

    # --- opening ----------------------------------------------------------------------------

    @classmethod
    def create(cls, folder: str | Path, name: str, program: str = EDITOR) -> Session:
        folder = Path(folder)
        project = create_project(folder, name)
        paths = ProjectPaths(folder)
        lock = ProjectLock.acquire(paths.folder, program)
        return cls(project, paths.folder, paths.cache, paths.jobs, lock)

    @classmethod
    def open(cls, folder: str | Path, read_only: bool = False, program: str = EDITOR,
             wait_s: float = 0.0) -> Session:
        """Open the project in ``folder``: for editing (locked for ``program``; a lock held by
        another command is waited for up to ``wait_s``), or ``read_only``.

        ProjectLockedError when another editor or command has it open for editing.
        """
        paths = ProjectPaths(folder)
        if read_only:
            return cls(load_project(paths.folder), paths.folder, paths.cache, None,
                       read_only=True)
        if not paths.project_file.is_file():
            load_project(paths.folder)  # the clear error, before a lock file is made
        lock = ProjectLock.acquire(paths.folder, program, wait_s)
        try:
            remove_leftovers(paths.folder)
            project = load_project(paths.folder)
            return cls(project, paths.folder, paths.cache, paths.jobs, lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def in_memory(cls, name: str = "Untitled", cache_dir: Path | None = None) -> Session:
        """A project that lives only in memory (the CLI's one-shot commands)."""
        from deepstudio.persistence.settings import user_cache_dir

        return cls(Project(name=name), None, cache_dir or user_cache_dir() / "analysis", None)

    @staticmethod
    def recoverable(folder: str | Path) -> bool:
        return recoverable_autosave(folder) is not None

    def recover(self) -> None:
        """Replace the project with its autosave (an undoable state is not kept)."""
        assert self.folder is not None
        recovered = recoverable_autosave(self.folder)
        if recovered is None:
            return
        self.project = recovered
        self.history = History(recovered)
        self.history.mark_saved()
        self._dirty_after_recovery = True

    # --- editing ----------------------------------------------------------------------------

    def do(self, command: Command) -> ChangeSet:
        return self.history.do(command)

    def undo(self) -> ChangeSet:
        return self.history.undo()

    def redo(self) -> ChangeSet:
        return self.history.redo()

    def subscribe(self, listener: Callable[[ChangeSet], None]) -> None:
        self.history.add_listener(listener)

    @property
    def dirty(self) -> bool:
        return not self.history.clean or self._dirty_after_recovery

    def save(self) -> None:
        assert self.folder is not None, "an in-memory project cannot be saved"
        if self.read_only:
            raise ProjectError("was opened read-only (another DeepStudio has it open for "
                               "editing): it cannot be saved here", self.folder)
        save_project(self.project, self.folder)
        self.history.mark_saved()
        self._dirty_after_recovery = False

    def save_as(self, folder: str | Path, name: str) -> Path:
        """Write the project as a new project folder with copies of its analyses, facesets
        and models; returns it. This session stays on the old folder (unsaved changes go
        only to the copy): open the new one to go on there."""
        assert self.folder is not None, "an in-memory project cannot be saved"
        return save_project_as(self.project, self.folder, folder, name)

    def write_autosave(self) -> None:
        if self.folder is not None and self.dirty and not self.read_only:
            write_autosave(self.project, self.folder)

    def discard_autosave(self) -> None:
        if self.folder is not None and not self.read_only:
            discard_autosave(self.folder)

    # --- media ------------------------------------------------------------------------------

    def media_path(self, media_id: Id) -> Path:
        stored = self.project.media[media_id].path
        return self.paths.resolve(stored) if self.paths is not None else Path(stored)

    def model_path(self, model_id: Id) -> Path:
        stored = self.project.models[model_id].path
        return self.paths.resolve(stored) if self.paths is not None else Path(stored)

    def model_people(self, model_id: Id | None) -> list[str]:
        """The people a model was trained on (from its card; no model is loaded)."""
        import json

        if not model_id or model_id not in self.project.models:
            return []
        try:
            card = json.loads((self.model_path(model_id) / "card.json").read_text())
        except (OSError, ValueError):
            return []
        return [str(p) for p in card.get("identities", [])]

    def import_media(self, path: str | Path) -> Id:
        """Probe ``path`` and add it to the media bin; returns its media id."""
        info = probe(path)
        for media in self.project.media.values():
            if media.content_hash == info.content_hash:
                return media.id
        stored = self.paths.store_path(Path(path).resolve()) if self.paths else str(
            Path(path).resolve())
        item = MediaItem(
            id=new_id("media"), path=stored, content_hash=info.content_hash,
            duration_s=info.duration_s, frame_count=info.frame_count,
            fps_num=info.fps.numerator or 25, fps_den=info.fps.denominator or 1,
            width=info.width, height=info.height, has_video=info.has_video,
            has_audio=info.has_audio)
        self.do(AddMedia(item))
        if needs_proxy(info):
            self._proxy_advised.add(item.id)
        return item.id

    def add_clip_for_media(self, media_id: Id, track_id: Id | None = None,
                           start: int | None = None) -> Id:
        """Place the whole media on a track of its kind (made if needed), by default after
        that track's clips; returns the clip's id. A video with sound also gets its sound as
        a linked clip on an audio track with room at the same frames (one undo step)."""
        media = self.project.media[media_id]
        kind = "video" if media.has_video else "audio"
        length = self.project.media_length(media_id)
        if length <= 0:
            raise MediaError("has no frames to place", self.media_path(media_id))
        track = self._track_for(kind, track_id, start, length)
        begin = start if start is not None else max((c.end for c in track.clips), default=0)
        clip = Clip(id=new_id("clip"), media_id=media_id, start=begin, in_frame=0,
                    out_frame=length)
        commands: list[Command] = [AddClip(track.id, clip)]
        if media.has_video and media.has_audio:
            clip.link = new_id("link")
            sound_track = self._track_for("audio", None, begin, length)
            sound = Clip(id=new_id("clip"), media_id=media_id, start=begin, in_frame=0,
                         out_frame=length, link=clip.link)
            commands.append(AddClip(sound_track.id, sound))
        self.do(commands[0] if len(commands) == 1 else Macro("Add clip", commands))
        return clip.id

    def _track_for(self, kind: str, track_id: Id | None, start: int | None,
                   length: int) -> Track:
        """The track named, else the first track of ``kind`` (with room at ``start`` when a
        start is given), else a new one."""
        if track_id is not None:
            return self.project.track(track_id)
        for track in self.project.tracks:
            if track.kind == kind and (start is None or all(
                    c.end <= start or c.start >= start + length for c in track.clips)):
                return track
        count = sum(t.kind == kind for t in self.project.tracks) + 1
        track = Track(id=new_id("track"), kind=kind, name=f"{kind[0].upper()}{count}")
        self.do(AddTrack(track))
        return track

    # --- analysis ---------------------------------------------------------------------------

    def analysis(self, media_id: Id):
        """The face analysis of a media file if it was analysed (cached), else None."""
        with self._lock:
            if media_id in self._analyses:
                return self._analyses[media_id]
        found = known_analysis(self.project.media[media_id].content_hash, self.cache_dir)
        if found is not None:
            with self._lock:
                self._analyses[media_id] = found
        return found

    def analyze_now(self, media_id: Id, report=None):
        """Analyse on the calling thread (the CLI, or inside a job); returns the analysis."""
        result = analyse_media(self.media_path(media_id), self.cache_dir, report)
        with self._lock:
            self._analyses[media_id] = result
        return result

    def analyze(self, media_id: Id) -> Job:
        """Analyse as a background job, in a child process (the editor stays fluid)."""
        from deepstudio.engine.isolated import run_isolated

        path = self.media_path(media_id)

        def work(report):
            run_isolated(analyse_media, (path, self.cache_dir), report)
            result = known_analysis(self.project.media[media_id].content_hash, self.cache_dir)
            with self._lock:
                self._analyses[media_id] = result
            return result

        return self.jobs.submit("analyse", f"Analyse {path.name}", work)

    # --- proxies ----------------------------------------------------------------------------

    def proxy_advised(self, media_id: Id) -> bool:
        """Whether media imported in this session seeks slowly enough to want a proxy."""
        return media_id in self._proxy_advised and not self.has_proxy(media_id)

    def has_proxy(self, media_id: Id) -> bool:
        return self._proxy_file(media_id).is_file()

    def preview_path(self, media_id: Id) -> Path:
        """The file the preview reads: the media's proxy when one was made, else the media."""
        proxy = self._proxy_file(media_id)
        return proxy if proxy.is_file() else self.media_path(media_id)

    def _proxy_file(self, media_id: Id) -> Path:
        return proxy_path(self.cache_dir, self.project.media[media_id].content_hash)

    def make_proxy(self, media_id: Id) -> Job:
        """Write the media's proxy as a background job in a child process; its result is the
        proxy's path, or None when the file seeks fast already."""
        from deepstudio.engine.isolated import run_isolated

        path = self.media_path(media_id)
        return self.jobs.submit("proxy", f"Proxy {path.name}",
                                lambda report: run_isolated(write_proxy, (path, self.cache_dir),
                                                            report))

    # --- identities, facesets and models --------------------------------------------------

    def identity_named(self, name: str):
        """The project identity called ``name`` (None when there is none)."""
        return next((i for i in self.project.identities.values() if i.name == name), None)

    def extract_faceset(self, media_id: Id, track_id: int, identity_id: Id) -> Job:
        """Extract the aligned faces of a face track into ``facesets/`` as a job."""
        from deepstudio.engine.faceset import extract_faceset

        identity = self.project.identities[identity_id]
        path = self.media_path(media_id)
        assert self.paths is not None
        out = self.paths.facesets / f"{slug(identity.name)}-{slug(path.stem)}-t{track_id}"

        def work(report):
            analysis = self.analysis(media_id) or self.analyze_now(media_id)
            return extract_faceset(path, out, identity.name, track_id, analysis=analysis,
                                   progress=report)

        return self.jobs.submit("extract", f"Extract faces of {identity.name}", work)

    def train_faceswap(self, src_faceset: Path, dst_faceset: Path, name: str,
                       iterations: int, resolution: int | None = None,
                       device: str = "auto") -> Job:
        """Train (or resume) a swap model from two facesets of consenting identities.

        The model folder is added to the project at once, so its checkpoints can be tried in
        the preview while it trains. Raises ConsentError before anything starts.
        """
        from deepstudio.core.consent import require_consent
        from deepstudio.core.project import ModelRef
        from deepstudio.engine.faceset import faceset_identity

        records = []
        for folder in (src_faceset, dst_faceset):
            person = faceset_identity(folder)
            identity = self.identity_named(person)
            if identity is None:
                raise ConsentError(f"faceset {Path(folder).name} shows {person!r}, who is not "
                                   "an identity of this project: add them and their consent")
            records.append(require_consent(identity, "train"))
        assert self.paths is not None
        model_dir = self.paths.models / f"{slug(name)}.dsmodel"
        if not any(self.paths.resolve(m.path) == model_dir
                   for m in self.project.models.values()):
            ids = [self.identity_named(faceset_identity(f)).id
                   for f in (src_faceset, dst_faceset)]
            self.do(AddModel(ModelRef(new_id("model"), name, "faceswap",
                                      self.paths.store_path(model_dir), "", ids)))

        def work(report):
            from deepstudio.engine.train_faceswap import train_faceswap

            return train_faceswap(src_faceset, dst_faceset, model_dir, res=resolution,
                                  iters=iterations, device=device, progress=report,
                                  consent_ids=[r.id for r in records])

        return self.jobs.submit("train", f"Train {name}", work)

    def train_lipsync(self, media_id: Id, track_id: int, identity_id: Id, name: str,
                      iterations: int, device: str = "auto", sound_delay: int = 0) -> Job:
        """Train (or resume) a lip-sync model on one speaker's footage: a face track of a
        video with its sound, of an identity whose consent allows training.

        The model folder is added to the project at once. Raises ConsentError before
        anything starts. Stopping the job saves a checkpoint (its result says
        ``cancelled``), and training the same name again resumes from it. ``sound_delay``:
        frames by which the footage's sound comes after its picture (see SpeakerFootage).
        """
        from deepstudio.core.consent import require_consent
        from deepstudio.core.project import ModelRef

        identity = self.project.identities[identity_id]
        record = require_consent(identity, "train")
        footage = self.media_path(media_id)
        assert self.paths is not None
        model_dir = self.paths.models / f"{slug(name)}.dsmodel"
        if not any(self.paths.resolve(m.path) == model_dir
                   for m in self.project.models.values()):
            self.do(AddModel(ModelRef(new_id("model"), name, "lipsync",
                                      self.paths.store_path(model_dir), "", [identity.id])))

        def work(report):
            from deepstudio.engine.train_lipsync import SpeakerFootage, train_lipsync
            from deepstudio.errors import Cancelled
            from deepstudio.models.checkpoint import load_card

            try:
                card = train_lipsync([SpeakerFootage(footage, track_id,
                                                     sound_delay=sound_delay)], model_dir,
                                     iters=iterations, device=device, progress=report,
                                     cache_dir=self.cache_dir, consent_ids=[record.id])
                cancelled = False
            except Cancelled:  # the trainer saved a checkpoint first
                card, cancelled = load_card(model_dir), True
            last = card.loss_history[-1] if card.loss_history else {}
            return TrainResult(model_dir, card.iterations, cancelled, 0,
                               {k: v for k, v in last.items() if k != "iteration"})

        return self.jobs.submit("train", f"Train {name}", work)

    def import_model(self, path: str | Path, kind: str, name: str | None = None) -> Id:
        """Add a model the user already has: a ``.dsmodel`` folder of ``kind`` ("faceswap",
        "lipsync") or, for lip-sync, an original Wav2Lip ``.pth`` file (undoable; a model
        already in the project is not added twice). ModelFileError when it is neither."""
        import json

        from deepstudio.core.project import ModelRef
        from deepstudio.errors import ModelFileError
        from deepstudio.provenance.credentials import sha256_file

        path = Path(path).resolve()
        people: list[Id] = []
        if path.is_dir():
            card = path / "card.json"
            try:
                meta = json.loads(card.read_text("utf-8"))
                architecture = str(meta["architecture"])
            except (OSError, ValueError, KeyError, TypeError):
                raise ModelFileError("not a DeepStudio model folder (no readable card.json)",
                                     path) from None
            if architecture.split(".")[0] != kind:
                raise ModelFileError(f"is a {architecture} model, not a {kind} model", path)
            digest = sha256_file(card)
            people = [i.id for n in meta.get("identities", [])
                      if (i := self.identity_named(str(n))) is not None]
        elif kind == "lipsync" and path.suffix.lower() == ".pth" and path.is_file():
            digest = sha256_file(path)
        else:
            wanted = "a .dsmodel folder" + (" or a Wav2Lip .pth file" if kind == "lipsync"
                                            else "")
            raise ModelFileError(f"is not {wanted}", path)
        stored = self.paths.store_path(path) if self.paths is not None else str(path)
        for model in self.project.models.values():
            if model.path == stored and model.kind == kind:
                return model.id
        ref = ModelRef(new_id("model"), name or path.stem, kind, stored, digest, people)
        self.do(AddModel(ref))
        return ref.id

    # --- rendering --------------------------------------------------------------------------

    def render_inputs(self) -> RenderInputs:
        return RenderInputs(
            project=self.project,
            media_paths={m: self.media_path(m) for m in self.project.media},
            model_paths={m: self.model_path(m) for m in self.project.models},
            project_folder=self.folder, device=self.device)

    def render_now(self, output: str | Path, settings: RenderSettings, report=None,
                   runner=None, work_dir: Path | None = None):
        """Render on the calling thread (the CLI); returns the RenderResult. ``runner``
        encodes the chunks elsewhere (a farm, :mod:`deepstudio.farm`); ``work_dir`` holds
        them (default: the project's ``jobs/``, or the user cache)."""
        return render_with_analysis(self.render_inputs(), self.cache_dir, Path(output),
                                    settings, work_dir or self._render_dir(), report, runner)

    def plan_render(self, output: str | Path, settings: RenderSettings, report=None,
                    work_dir: Path | None = None):
        """Analyse what the effects need and plan the render without encoding anything (a
        farm job encodes and finishes it later); returns the RenderPlan."""
        from deepstudio.engine.render import plan_render, with_analyses

        inputs = with_analyses(self.render_inputs(), self.cache_dir, report)
        return plan_render(inputs, Path(output), settings, work_dir or self._render_dir())

    def render(self, output: str | Path, settings: RenderSettings) -> Job:
        """Render as a background job; analysis and frames are made in a child process."""
        from deepstudio.engine.isolated import run_isolated

        args = (self.render_inputs(), self.cache_dir, Path(output), settings,
                self._render_dir())
        return self.jobs.submit("render", f"Render {Path(output).name}",
                                lambda report: run_isolated(render_with_analysis, args, report))

    def problems(self) -> list:
        """What keeps the timeline's effects from exporting as placed (missing models or
        dialogue, missing consent), in the user's words; see engine.problems."""
        from deepstudio.engine.problems import export_problems

        resolve = self.paths.resolve if self.paths is not None else Path
        return export_problems(self.project, resolve)

    def _render_dir(self) -> Path:
        """Where renders keep their resumable chunks."""
        return self.paths.jobs if self.paths else self.cache_dir.parent / "renders"

    # --- preview ----------------------------------------------------------------------------

    @property
    def preview(self):
        """The preview service (made on first use: it owns a decoder per media file)."""
        if self._preview is None:
            from deepstudio.engine.preview import PreviewService

            self._preview = PreviewService(self)
        return self._preview

    def close(self) -> None:
        if self._preview is not None:
            self._preview.close()
        self.jobs.shutdown()
        if self.lock is not None:
            self.lock.release()


def slug(text: str) -> str:
    """A file-name-safe form of a name ("Anna Lee" -> "Anna_Lee")."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in text.strip())
    return cleaned.strip("._") or "untitled"
