"""What is killed, and what must hold after each kill: one class per kind of work.

Every scenario runs a real ``deepstudio`` command (or, for saving, a worker that saves and
autosaves through a Session in a loop) on a real clip from ``../shared/testdata``. A sequence
of runs is killed several times, each rerun continuing the work, and then let finish. After
every kill the files the work writes must load (project, model, faceset, analysis cache,
proxy, render chunks); after the finish the result must be complete and right. Each scenario
also measures the work the kill cost: frames, iterations or the share of a run that had to
be done again.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import kill_runner as runner
from kill_runner import KillWhen, Outcome, Seen

TESTDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata"
REPO = Path(__file__).resolve().parents[2]
CLIP = "talk_b.mp4"
"""4.9 s, 524x524, 25 fps, AAC: 122 frames, one face."""
SWAP_CLIP = "swap_a.mp4"
CLIP_FRAMES = 122
FRAME = re.compile(r"frame (\d+) of")
ITERATION = re.compile(r"iteration (\d+)/")
SAVED = re.compile(r"^saved (\d+)")


@dataclass
class Tally:
    """The figures of one kind of kill."""

    kind: str
    unit: str
    bound: str
    kills: int = 0
    sequences: int = 0
    corrupted: int = 0
    tracebacks: int = 0
    redone: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """One line per kill: where it landed and what it cost."""
    orphans: int = 0
    seconds: float = 0.0

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def row(self) -> dict[str, object]:
        redone = self.redone or [0.0]
        return {"kind": self.kind, "kills": self.kills, "sequences": self.sequences,
                "corrupted": self.corrupted, "problems": len(self.problems),
                "tracebacks": self.tracebacks, "redone_mean": sum(redone) / len(redone),
                "redone_max": max(redone), "unit": self.unit, "bound": self.bound,
                "orphans": self.orphans, "seconds": round(self.seconds, 1)}


class Bench:
    """The shared folder of a campaign: user dirs, a consent project, facesets."""

    def __init__(self, root: Path) -> None:
        import os

        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "PYTHONPATH": str(REPO),
                    "DEEPSTUDIO_CONFIG_DIR": str(root / "config"),
                    "DEEPSTUDIO_CACHE_DIR": str(root / "cache")}
        self.clip = (TESTDATA / CLIP).resolve()
        self._consent: Path | None = None
        self._facesets: tuple[Path, Path] | None = None

    def cli(self, *args: str) -> str:
        """Run a setup command to completion; its output."""
        outcome = runner.run(runner.deepstudio(*args), self.env)
        if outcome.returncode != 0:
            raise RuntimeError(f"setup failed: deepstudio {' '.join(args)}\n{outcome.text}")
        return outcome.text

    def project(self, name: str) -> Path:
        """A new project holding the clip on its timeline (not analysed)."""
        folder = self.root / f"{name}.dstudio"
        if not folder.exists():
            self.cli("new", str(folder))
            self.cli("import", str(folder), str(self.clip), "--no-analyse", "-q")
        return folder

    @property
    def consent_project(self) -> Path:
        """A project recording Kai's and Tess's consent to training."""
        if self._consent is None:
            folder = self.project("Consent")
            for person in ("Kai", "Tess"):
                self.cli("consent", "add", str(folder), "--identity", person,
                         "--recorded-by", "fault campaign", "--scope", "train")
            self._consent = folder
        return self._consent

    @property
    def facesets(self) -> tuple[Path, Path]:
        """Small facesets of Kai (swap_a) and Tess (the clip)."""
        if self._facesets is None:
            made = []
            for person, clip in (("Kai", TESTDATA / SWAP_CLIP), ("Tess", self.clip)):
                out = self.root / f"faceset-{person}"
                if not out.exists():
                    self.cli("faceset", "extract", str(clip), "--identity", person, "-o",
                             str(out), "--max-faces", "16", "-q")
                made.append(out)
            self._facesets = (made[0], made[1])
        return self._facesets


def after_first_output(rng: random.Random, window_s: float) -> KillWhen:
    """Kill a uniformly random time (0..window_s) after the command first printed."""
    delay = rng.uniform(0.0, window_s)

    def due(seen: Seen, now: float) -> bool:
        return seen.first_output is not None and now - seen.first_output >= delay

    return due


def during_iterations(rng: random.Random, resumed: int, interval: int) -> KillWhen:
    """Kill at a random moment of a training run: a quarter of the time while it starts up
    and loads, else somewhere in the 1-2 checkpoint intervals after it resumed (saves
    included), at a random point within an iteration."""
    if rng.random() < 0.25:
        return after_first_output(rng, 3.0)
    target = resumed + rng.randint(1, 2 * interval)
    fraction = rng.random()

    def due(seen: Seen, now: float) -> bool:
        times = seen.number_times(ITERATION)
        if not times or times[-1][1] < target:
            return False
        step = times[-1][0] - times[-2][0] if len(times) > 1 else 1.0
        return now - times[-1][0] >= fraction * step

    return due


class Scenario:
    """One kind of work: how to run it, when to kill it, what must hold afterwards."""

    kind = ""
    unit = ""
    bound = ""

    def __init__(self, bench: Bench, rng: random.Random, tally: Tally) -> None:
        self.bench = bench
        self.rng = rng
        self.tally = tally
        self.folder = bench.root / self.kind
        self.folder.mkdir(parents=True, exist_ok=True)
        self.env = {**bench.env, "DEEPSTUDIO_CACHE_DIR": str(self.folder / "cache")}

    def prepare(self) -> None:
        """Once, before the first sequence (reference runs, inputs)."""

    def start_sequence(self) -> None:
        """Before each sequence of killed runs and the final one."""

    def argv(self) -> list[str]:
        raise NotImplementedError

    def kill_when(self) -> KillWhen:
        raise NotImplementedError

    def after_kill(self, outcome: Outcome) -> float:
        """Check the files after a kill (problems go to the tally); the work it cost."""
        raise NotImplementedError

    def after_finish(self, outcome: Outcome) -> None:
        """Check the finished result."""
        raise NotImplementedError

    def finished(self) -> bool:
        """Whether the killed run had finished its work all the same (killed on its way
        out): the sequence then ends as if it had exited."""
        return False

    def corrupt(self, text: str) -> None:
        self.tally.corrupted += 1
        self.tally.problem(text)


class WindowedScenario(Scenario):
    """Work that is not resumable mid-way (analysis, extraction, proxy): killed at random in
    the span a full run takes; the work redone is the share of a run done before the kill."""

    unit = "% of a run"
    bound = "one run"
    window_s = 5.0

    def measure_window(self, outcome: Outcome) -> None:
        """The span of a reference run, from its first output to its end."""
        if outcome.seen.first_output is not None and outcome.seen.lines:
            self.window_s = max(0.5, outcome.seen.lines[-1][0] - outcome.seen.first_output)

    def kill_when(self) -> KillWhen:
        return after_first_output(self.rng, self.window_s * 1.1)

    def after_kill(self, outcome: Outcome) -> float:
        self.last = outcome
        self.check_files()
        return 0.0 if self.finished() else float(outcome.seen.last_percent() or 0)

    def after_finish(self, outcome: Outcome) -> None:
        self.check_files()
        self.check_result()

    def check_files(self) -> None:
        raise NotImplementedError

    def check_result(self) -> None:
        raise NotImplementedError


# --- saving ---------------------------------------------------------------------------------

class SaveScenario(Scenario):
    """A worker edits, saves and autosaves a project in a loop (as the editor does)."""

    kind = "save"
    unit = "acknowledged saves lost"
    bound = "0"

    def prepare(self) -> None:
        self.project = self.bench.project("Saved")
        self.acked = 0

    def argv(self) -> list[str]:
        return [sys.executable, str(Path(__file__).with_name("kill_save_worker.py")),
                str(self.project), "--saves", "3"]

    def kill_when(self) -> KillWhen:
        delay = self.rng.uniform(0.0, 1.5)

        def due(seen: Seen, now: float) -> bool:
            first = next((t for t, line in seen.lines if SAVED.search(line)), None)
            return first is not None and now - first >= delay

        return due

    def after_kill(self, outcome: Outcome) -> float:
        acked = outcome.seen.last_number(SAVED) or 0
        return float(self._check(acked))

    def after_finish(self, outcome: Outcome) -> None:
        self._check(outcome.seen.last_number(SAVED) or 0)

    def _check(self, acked: int) -> int:
        """Check the project files; how many acknowledged saves were lost."""
        from deepstudio.core.project import Project
        from deepstudio.errors import ProjectError
        from deepstudio.persistence.project_store import load_project

        try:
            project = load_project(self.project)
        except ProjectError as exc:
            self.corrupt(f"project.json: {exc}")
            return 0
        names = {i.name for i in project.identities.values()}
        lost = sum(f"edit {n}" not in names for n in range(1, acked + 1))
        if lost:
            self.tally.problem(f"{lost} acknowledged save(s) lost")
        for extra in (self.project / "project.autosave.json",
                      *sorted(self.project.glob("project.json.[0-9]"))):
            if extra.exists():
                try:
                    Project.from_dict(json.loads(extra.read_text("utf-8")))
                except (ValueError, KeyError, TypeError) as exc:
                    self.corrupt(f"{extra.name}: {exc}")
        return lost


# --- rendering ------------------------------------------------------------------------------

class RenderScenario(Scenario):
    """``deepstudio render PROJECT`` in chunks of one second (25 frames)."""

    kind = "render"
    unit = "frames"
    chunk_frames = 25
    bound = f"{chunk_frames} (one chunk)"

    def prepare(self) -> None:
        self.project = self.bench.project("Render")
        self.output = self.folder / "out.mp4"
        self.done_until: int | None = None
        reference = runner.run(self.argv(), self.env)
        first = reference.seen.first_output or reference.seen.started
        self.window_s = max(1.0, reference.seen.lines[-1][0] - first)

    def start_sequence(self) -> None:
        self.output.unlink(missing_ok=True)

    def argv(self) -> list[str]:
        return runner.deepstudio("render", str(self.project), "-o", str(self.output),
                                 "--chunk-seconds", "1", "--preset", "ultrafast")

    def kill_when(self) -> KillWhen:
        return after_first_output(self.rng, self.window_s)

    def _chunks(self) -> list[Path]:
        return sorted((self.project / "jobs").glob("render-*/chunk_*.mp4"))

    def _check_resumed(self, outcome: Outcome) -> None:
        """The run after a kill must start at the first chunk the kill left unfinished."""
        first = outcome.seen.first_number(FRAME)
        if self.done_until is not None and first is not None and first <= self.done_until:
            self.tally.problem(f"rerun started at frame {first}, although frames "
                               f"0-{self.done_until} were in finished chunks")

    def finished(self) -> bool:
        return self.output.exists()

    def after_kill(self, outcome: Outcome) -> float:
        self._check_resumed(outcome)
        if self.output.exists():  # only a complete, signed file may appear
            self._check_output()
            self.done_until = None
            return 0.0
        done = 0
        for chunk in self._chunks():
            start = int(chunk.stem.split("_")[1])
            expected = min(self.chunk_frames, CLIP_FRAMES - start)
            frames, _ = media_facts(chunk)
            if frames != expected:
                self.corrupt(f"{chunk.name}: {frames} frames, not {expected}")
            elif start == done:
                done += expected
        self.done_until = done
        seen = outcome.seen.last_number(FRAME) or 0
        self.tally.notes.append(f"killed after frame {seen}; chunks hold frames 0-{done}")
        return float(max(0, seen - done))

    def after_finish(self, outcome: Outcome) -> None:
        self._check_resumed(outcome)
        self.done_until = None
        self._check_output()
        if not outcome.killed and self._chunks():
            self.tally.problem("the render's work folder was left behind")
        report = self.folder / "verify.json"
        runner_out = runner.run(runner.deepstudio("verify", str(self.output), "--json",
                                                  str(report)), self.env)
        self.tally.tracebacks += runner_out.tracebacks
        data = json.loads(report.read_text())
        if not (data["credentials"]["valid"] and data["watermark"]["detected"]
                and data["payload_matches"]):
            self.tally.problem(f"verify: {data['verdict']}")

    def _check_output(self) -> None:
        frames, audio_s = media_facts(self.output)
        if frames != CLIP_FRAMES:
            self.corrupt(f"{self.output.name}: {frames} frames, not {CLIP_FRAMES}")
        if abs(audio_s - CLIP_FRAMES / 25) > 0.1:
            self.corrupt(f"{self.output.name}: {audio_s:.2f} s of audio, not "
                         f"{CLIP_FRAMES / 25:.2f}")


def media_facts(path: Path) -> tuple[int, float]:
    """Frames that decode, and seconds of audio that decode (0, 0 for a broken file)."""
    import av

    try:
        with av.open(str(path)) as container:
            frames = sum(1 for _ in container.decode(video=0))
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return frames, 0.0
            stream = container.streams.audio[0]
            samples = sum(f.samples for f in container.decode(audio=0))
            return frames, samples / stream.rate
    except (av.error.FFmpegError, OSError, ValueError):
        return 0, 0.0


# --- training -------------------------------------------------------------------------------

class TrainScenario(Scenario):
    """Training from the command line, checkpointing every ``interval`` iterations."""

    unit = "iterations"
    interval = 2
    total = 8

    @property
    def bound(self) -> str:  # type: ignore[override]
        return f"{self.interval} (one checkpoint interval)"

    def prepare(self) -> None:
        self.model = self.folder / "model.dsmodel"
        self.resumed: int | None = None

    def start_sequence(self) -> None:
        shutil.rmtree(self.model, ignore_errors=True)
        self.resumed = None

    def kill_when(self) -> KillWhen:
        return during_iterations(self.rng, self.resumed or 0, self.interval)

    def _check_resumed(self, outcome: Outcome) -> None:
        first = outcome.seen.first_number(ITERATION)
        # a run resumed at the last iteration trains nothing and only reports it once more
        if (self.resumed is not None and first is not None and first <= self.resumed
                and self.resumed < self.total):
            self.tally.problem(f"resumed at iteration {first}, although a checkpoint at "
                               f"{self.resumed} was complete")

    def after_kill(self, outcome: Outcome) -> float:
        from deepstudio.errors import ModelFileError
        from deepstudio.models import checkpoint

        self._check_resumed(outcome)
        seen = outcome.seen.last_number(ITERATION) or 0
        if not (self.model / checkpoint.CARD).exists():
            self.resumed = 0
            self.tally.notes.append(f"killed after iteration {seen}; no checkpoint yet")
            return float(seen)
        try:
            checkpoint.load_model(self.model)
            resumable = checkpoint.resumable_dir(self.model)
            assert resumable is not None
            self.resumed = checkpoint.load_card(resumable).iterations
        except ModelFileError as exc:
            self.corrupt(f"model: {exc}")
            self.resumed = None
            return float(seen)
        self.tally.notes.append(f"killed after iteration {seen}; resumes from {self.resumed}"
                                f"{' (previous/)' if resumable != self.model else ''}")
        return float(max(0, seen - self.resumed))

    def after_finish(self, outcome: Outcome) -> None:
        from deepstudio.errors import ModelFileError
        from deepstudio.models import checkpoint

        self._check_resumed(outcome)
        try:
            card = checkpoint.verify_checkpoint(self.model)
            checkpoint.load_model(self.model)
        except ModelFileError as exc:
            self.corrupt(f"finished model: {exc}")
            return
        if card.iterations != self.total:
            self.tally.problem(f"finished at iteration {card.iterations}, not {self.total}")


class FaceSwapTrainScenario(TrainScenario):
    kind = "train-faceswap"

    def argv(self) -> list[str]:
        src, dst = self.bench.facesets
        return runner.deepstudio(
            "train", "--src", str(src), "--dst", str(dst), "-o", str(self.model), "--res", "32",
            "--iters", str(self.total), "--checkpoint-iters", str(self.interval),
            "--project", str(self.bench.consent_project))


class LipSyncTrainScenario(TrainScenario):
    kind = "train-lipsync"
    total = 6

    def argv(self) -> list[str]:
        return runner.deepstudio(
            "train-lipsync", str(self.bench.clip), "-o", str(self.model), "--iters",
            str(self.total), "--checkpoint-iters", str(self.interval), "--project",
            str(self.bench.consent_project), "--identity", "Tess")


# --- analysis, faceset extraction, proxies -----------------------------------------------

class AnalysisScenario(WindowedScenario):
    """``deepstudio analyze CLIP --json`` with its cache (cleared after each sequence)."""

    kind = "analysis"

    def prepare(self) -> None:
        self.json = self.folder / "analysis.json"
        self.cache = self.folder / "cache" / "analysis"
        outcome = runner.run(self.argv(), self.env)
        self.measure_window(outcome)
        self.reference = self._summary()

    def start_sequence(self) -> None:
        shutil.rmtree(self.cache, ignore_errors=True)
        self.json.unlink(missing_ok=True)

    def argv(self) -> list[str]:
        return runner.deepstudio("analyze", str(self.bench.clip), "--json", str(self.json))

    def _summary(self) -> tuple[int, int]:
        data = json.loads(self.json.read_text())
        return len(data["tracks"]), int(data["frame_count"])

    def check_files(self) -> None:
        from deepstudio.errors import MediaError
        from deepstudio.vision.analysis import FaceAnalysis

        for cached in self.cache.glob("*.npz"):
            try:
                FaceAnalysis.load(cached)
            except MediaError as exc:
                self.corrupt(f"analysis cache: {exc}")
        if self.json.exists():
            try:
                self._summary()
            except (ValueError, KeyError) as exc:
                self.corrupt(f"{self.json.name}: {exc}")

    def finished(self) -> bool:
        return self.json.exists()

    def after_kill(self, outcome: Outcome) -> float:
        redone = super().after_kill(outcome)
        return 0.0 if any(self.cache.glob("*.npz")) else redone  # a rerun loads the cache

    def check_result(self) -> None:
        if self._summary() != self.reference:
            self.tally.problem(f"analysis {self._summary()} differs from {self.reference}")


class FacesetScenario(WindowedScenario):
    """``deepstudio faceset extract`` over the faceset of the previous sequence."""

    kind = "faceset"

    def prepare(self) -> None:
        self.out = self.folder / "Tess"
        runner.run(self.argv(), self.env)  # analyses the clip into the cache
        self.measure_window(runner.run(self.argv(), self.env))  # as the reruns will go
        self.reference = self._faces()

    def argv(self) -> list[str]:
        return runner.deepstudio("faceset", "extract", str(self.bench.clip), "--identity",
                                 "Tess", "-o", str(self.out), "--max-faces", "40")

    def _faces(self) -> int:
        from deepstudio.engine.faceset import load_faceset

        return len(load_faceset(self.out).faces)

    def check_files(self) -> None:
        from deepstudio.errors import ProjectError

        if not self.out.exists():
            self.corrupt("the faceset vanished")
            return
        try:
            faces = self._faces()
        except ProjectError as exc:
            self.corrupt(f"faceset: {exc}")
            return
        if faces != self.reference:
            self.corrupt(f"faceset holds {faces} faces, not {self.reference}")

    def finished(self) -> bool:
        return any("faces kept" in line for _, line in self.last.seen.lines)

    def check_result(self) -> None:
        """The faceset was checked by check_files."""


class ProxyScenario(WindowedScenario):
    """``deepstudio proxy PROJECT`` (the proxy is deleted after each sequence)."""

    kind = "proxy"

    def prepare(self) -> None:
        from deepstudio.media.proxy import proxy_path
        from deepstudio.persistence.project_store import load_project

        self.project = self.bench.project("Proxy")
        media = next(iter(load_project(self.project).media.values()))
        self.proxy = proxy_path(self.project / "cache", media.content_hash)
        outcome = runner.run(self.argv(), self.env)
        self.measure_window(outcome)

    def start_sequence(self) -> None:
        self.proxy.unlink(missing_ok=True)

    def argv(self) -> list[str]:
        return runner.deepstudio("proxy", str(self.project))

    def finished(self) -> bool:
        return self.proxy.exists()

    def check_files(self) -> None:
        if self.proxy.exists():
            self.check_result()

    def check_result(self) -> None:
        frames, _ = media_facts(self.proxy)
        if frames != CLIP_FRAMES:
            self.corrupt(f"proxy: {frames} frames, not {CLIP_FRAMES}")


SCENARIOS: dict[str, type[Scenario]] = {s.kind: s for s in (
    SaveScenario, RenderScenario, FaceSwapTrainScenario, LipSyncTrainScenario,
    AnalysisScenario, FacesetScenario, ProxyScenario)}
