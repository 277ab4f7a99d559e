"""Fuzzed media: mutate the real clips of ``../shared/testdata`` into hundreds of broken,
odd or hostile files, and run DeepStudio's file-taking commands on each.

    python tests/faults/fuzz_media.py                  # the full campaign: >= 300 files
    python tests/faults/fuzz_media.py --count 50 --commands probe,analyze --keep /tmp/fz

Every command must end with exit 0 (it worked) or 2 (a one-line error naming the file), never
a traceback, never past the per-command time limit, and with its peak memory (largest process
of its tree, from ``wait4``) under a bound. The files are made in a temporary folder, never
committed: first short stream copies of the real clips (the seeds, still real footage), then
mutants of them (see :data:`KINDS`).

Commands run in a fork of one warm interpreter that has imported the commands' modules
(``--fresh`` starts a new interpreter each time instead): the code path is the CLI's own
``main()``, without paying an interpreter start and the torch/mediapipe imports 1,800 times.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTDATA = (REPO / ".." / "shared" / "testdata").resolve()
sys.path[:0] = [str(REPO / "tests"), str(REPO)]

from synth import run_ffmpeg  # noqa: E402

VIDEOS = ["talk_a.mp4", "talk_b.mp4", "talk_c.mp4", "swap_a.mp4", "swap_b.mp4",
          "talk_long_a.mp4", "talk_long_b.mp4", "talk_portrait_a.mp4", "occlusion_a.mp4",
          "multi_a.mp4"]
STILLS = ["face_02.jpg", "face_06.jpg", "group_01.jpg"]
SOUNDS = ["speech_a.wav"]
SEED_SECONDS = 1.2
PER_SEED = 31
"""Mutants made of each seed clip (byte damage and re-encodes)."""
COMMANDS = ("probe", "analyze", "render", "faceset", "lipsync", "verify")
SPEAKER = "Speaker"
KINDS = {
    "truncated": "cut at 2-97 % of its length, or inside the movie header",
    "bitflip-header": "1-9 random bits flipped inside the moov box",
    "bitflip-payload": "1-101 random bits flipped inside the mdat box",
    "zeroed-moov": "the movie header zeroed",
    "zeroed-stbl": "the sample tables zeroed",
    "huge-dimensions": "65535x65535, 60000x2 or 0x0 in tkhd/avc1; a real 8192x8192 frame",
    "ten-hour-header": "movie and media durations of 10 hours in a 1.2 s clip",
    "rotation": "a 90/180/270 display matrix (ffmpeg), or a 33-degree one (patched)",
    "wrong-extension": "an MP4 named .wav, .jpg or with no extension",
    "empty": "0 bytes",
    "garbage": "random bytes, text, a lone ftyp, a box whose size lies",
    "audio-only": "AAC or WAV, also named .mp4",
    "image-only": "JPEG photos, also named .mp4",
    "one-frame": "a single frame",
    "odd-size": "odd widths and heights, down to 15x11",
    "vfr": "variable frame rate (alternating frame intervals)",
    "moov-at-end": "the index after the media data",
    "other-container": "Matroska",
}


# -- MP4 boxes -------------------------------------------------------------------------------

CONTAINER_BOXES = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"udta", b"dinf"}


@dataclass(frozen=True)
class Box:
    kind: bytes
    start: int
    """Offset of the box's size field."""
    size: int

    @property
    def body(self) -> int:
        return self.start + 8


def boxes(data: bytes | bytearray, start: int = 0, end: int | None = None) -> Iterator[Box]:
    """Every box of an ISO-BMFF file, depth first (sample entries of stsd included)."""
    end = len(data) if end is None else end
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        if size == 1 and at + 16 <= end:
            size = struct.unpack(">Q", data[at + 8:at + 16])[0]
        elif size == 0:
            size = end - at
        if size < 8 or at + size > end:
            return
        box = Box(kind, at, size)
        yield box
        if kind in CONTAINER_BOXES:
            yield from boxes(data, at + 8, at + size)
        elif kind == b"stsd":
            yield from boxes(data, at + 16, at + size)  # version/flags + entry count
        at += size


def find(data: bytes | bytearray, kind: bytes) -> list[Box]:
    return [b for b in boxes(data) if b.kind == kind]


def _set_duration(data: bytearray, box: Box, seconds: float, timescale_at: int) -> None:
    """Rewrite a version 0/1 mvhd or mdhd duration to ``seconds`` in its own timescale."""
    version = data[box.body]
    if version == 0:
        timescale = struct.unpack(">I", data[box.body + timescale_at:][:4])[0]
        struct.pack_into(">I", data, box.body + timescale_at + 4,
                         min(int(seconds * timescale), 0xFFFFFFFF))
    else:
        timescale = struct.unpack(">I", data[box.body + timescale_at + 8:][:4])[0]
        struct.pack_into(">Q", data, box.body + timescale_at + 12, int(seconds * timescale))


def ten_hour_header(data: bytes) -> bytes:
    """Movie and track durations of 10 hours in a short clip."""
    out = bytearray(data)
    for box in find(out, b"mvhd"):
        _set_duration(out, box, 36_000, 12)
    for box in find(out, b"mdhd"):
        _set_duration(out, box, 36_000, 12)
    return bytes(out)


def huge_dimensions(data: bytes, width: int, height: int) -> bytes:
    """Track header and sample entry claim ``width`` x ``height`` (the bitstream is unchanged)."""
    out = bytearray(data)
    for box in find(out, b"tkhd"):
        at = box.body + (84 if out[box.body] == 1 else 72) + 4  # after the matrix
        struct.pack_into(">II", out, at, width << 16 & 0xFFFFFFFF, height << 16 & 0xFFFFFFFF)
    for kind in (b"avc1", b"hvc1", b"mp4v"):
        for box in find(out, kind):
            struct.pack_into(">HH", out, box.body + 24, width & 0xFFFF, height & 0xFFFF)
    return bytes(out)


def rotation_matrix(data: bytes, degrees: int) -> bytes:
    """A display matrix of ``degrees`` (any value, 90 multiples or not) in the video track."""
    import math

    out = bytearray(data)
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    fixed = [round(cos * 65536), round(sin * 65536), 0, round(-sin * 65536), round(cos * 65536),
             0, 0, 0, 0x40000000]
    for box in find(out, b"tkhd"):
        at = box.body + (44 if out[box.body] == 1 else 32) + 4  # version 1: 64-bit times
        if out[at + 36:at + 44] != b"\0" * 8:  # a video track: it has a width and height
            struct.pack_into(">9i", out, at, *fixed)
    return bytes(out)


def zeroed(data: bytes, kind: bytes) -> bytes:
    out = bytearray(data)
    for box in find(out, kind)[:1]:
        out[box.body:box.start + box.size] = bytes(box.size - 8)
    return bytes(out)


def flip_bits(data: bytes, rng: random.Random, start: int, end: int, flips: int) -> bytes:
    out = bytearray(data)
    for _ in range(flips):
        at = rng.randrange(start, max(start + 1, end))
        out[at] ^= 1 << rng.randrange(8)
    return bytes(out)


# -- the files ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mutant:
    path: Path
    kind: str
    source: str


def make_seeds(testdata: Path, folder: Path, names: list[str]) -> list[Path]:
    """The real clips cut to their first seconds by stream copy (still the original encode)."""
    folder.mkdir(parents=True, exist_ok=True)
    seeds = []
    for name in names:
        out = folder / name
        run_ffmpeg("-i", str(testdata / name), "-t", str(SEED_SECONDS), "-c", "copy",
                   "-movflags", "+faststart", str(out))
        seeds.append(out)
    return seeds


def _ffmpeg_variants(seed: Path, folder: Path, rng: random.Random) -> Iterator[Mutant]:
    """Real re-encodes of a seed: audio only, one frame, odd sizes, rotation, VFR, moov at the
    end, other containers."""
    name, stem = seed.name, seed.stem
    made: list[tuple[str, str, list[str]]] = [
        ("audio-only", f"{stem}-audio.m4a", ["-vn", "-c:a", "copy"]),
        ("audio-only", f"{stem}-audio-as.mp4", ["-vn", "-c:a", "copy"]),
        ("one-frame", f"{stem}-1frame.mp4", ["-frames:v", "1", "-c:v", "libx264", "-an"]),
        ("odd-size", f"{stem}-odd.mp4",
         ["-vf", f"scale={rng.randrange(33, 401) | 1}:{rng.randrange(33, 301) | 1}",
          "-c:v", "libx264", "-pix_fmt", "yuv444p", "-c:a", "copy"]),
        ("odd-size", f"{stem}-tiny.mp4", ["-vf", "scale=15:11", "-c:v", "libx264",
                                          "-pix_fmt", "yuv444p", "-an"]),
        ("vfr", f"{stem}-vfr.mp4",
         ["-vf", "setpts='if(lt(mod(N,10),5),N,N+0.6*mod(N,10))/(25*TB)'",
          "-fps_mode", "passthrough", "-c:v", "libx264", "-c:a", "copy"]),
        ("moov-at-end", f"{stem}-moovlast.mp4", ["-c", "copy"]),
        ("other-container", f"{stem}.mkv", ["-c", "copy"]),
    ]
    for kind, out_name, args in made:
        out = folder / out_name
        try:
            run_ffmpeg("-i", str(seed), *args, str(out))
        except subprocess.CalledProcessError:
            continue  # a seed without audio has no audio-only variant
        yield Mutant(out, kind, name)
    rotated = folder / f"{stem}-rot{(deg := rng.choice([90, 180, 270]))}.mp4"
    run_ffmpeg("-display_rotation", str(deg), "-i", str(seed), "-c", "copy", str(rotated))
    yield Mutant(rotated, "rotation", name)


def _byte_mutants(seed: Path, folder: Path, rng: random.Random) -> Iterator[Mutant]:
    """Byte-level damage to a seed: truncation, bit flips, zeroed and lying headers."""
    data = seed.read_bytes()
    name, stem = seed.name, seed.stem
    moov = find(data, b"moov")[0]
    mdat = find(data, b"mdat")[0]

    def put(kind: str, suffix: str, content: bytes, ext: str = ".mp4") -> Mutant:
        out = folder / f"{stem}-{suffix}{ext}"
        out.write_bytes(content)
        return Mutant(out, kind, name)

    for fraction in (0.02, 0.3, 0.7, 0.97, rng.random()):
        yield put("truncated", f"cut{int(fraction * 100)}", data[:int(len(data) * fraction)])
    yield put("truncated", "cut-in-moov", data[:moov.start + moov.size // 2])
    for i in range(3):
        yield put("bitflip-header", f"hdrflip{i}",
                  flip_bits(data, rng, moov.body, moov.start + moov.size, 1 + 4 * i))
    for i in range(3):
        yield put("bitflip-payload", f"dataflip{i}",
                  flip_bits(data, rng, mdat.body, mdat.start + mdat.size, 1 + 50 * i))
    yield put("zeroed-moov", "nomoov", zeroed(data, b"moov"))
    yield put("zeroed-stbl", "nostbl", zeroed(data, b"stbl"))
    yield put("huge-dimensions", "huge", huge_dimensions(data, 65535, 65535))
    yield put("huge-dimensions", "wide", huge_dimensions(data, 60000, 2))
    yield put("huge-dimensions", "zero-size", huge_dimensions(data, 0, 0))
    yield put("ten-hour-header", "10h", ten_hour_header(data))
    yield put("rotation", "rot33", rotation_matrix(data, 33))
    yield put("wrong-extension", "as", data, ".wav")
    yield put("wrong-extension", "as", data, ".jpg")
    yield put("wrong-extension", "as", data, "")


def _other_files(testdata: Path, folder: Path, rng: random.Random) -> Iterator[Mutant]:
    """Files that are not videos at all, or barely."""
    def put(kind: str, name: str, content: bytes, source: str = "-") -> Mutant:
        out = folder / name
        out.write_bytes(content)
        return Mutant(out, kind, source)

    yield put("empty", "empty.mp4", b"")
    yield put("empty", "empty.wav", b"")
    yield put("garbage", "random.mp4", rng.randbytes(200_000))
    yield put("garbage", "text.mp4", b"not a video\n" * 500)
    yield put("garbage", "ftyp-only.mp4", struct.pack(">I4s4sI4s", 20, b"ftyp", b"isom", 0,
                                                      b"isom"))
    yield put("garbage", "box-size-lies.mp4", struct.pack(">I4s", 0xFFFFFF00, b"moov")
              + bytes(64))
    for still in STILLS:
        data = (testdata / still).read_bytes()
        yield put("image-only", still, data, still)
        yield put("image-only", f"{Path(still).stem}-as.mp4", data, still)
        yield put("truncated", f"{Path(still).stem}-cut.jpg", data[:len(data) // 3], still)
    for sound in SOUNDS:
        data = (testdata / sound).read_bytes()
        yield put("audio-only", sound, data, sound)
        yield put("audio-only", f"{Path(sound).stem}-as.mp4", data, sound)
        yield put("truncated", f"{Path(sound).stem}-cut.wav", data[:100], sound)
    huge = folder / "huge-8k.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=8192x8192:d=0.04", "-frames:v", "1",
               "-c:v", "libx264", "-preset", "ultrafast", str(huge))
    yield Mutant(huge, "huge-dimensions", "generated 8192x8192")


def generate(testdata: Path, folder: Path, count: int, seed: int = 0) -> list[Mutant]:
    """Up to ``count`` mutants of as many seed clips as that needs (about 30 per clip),
    ordered so that every kind of damage comes early (see :func:`spread_by_kind`)."""
    rng = random.Random(seed)
    clips = VIDEOS[:min(len(VIDEOS), max(1, math.ceil(count / PER_SEED)))]
    folder.mkdir(parents=True, exist_ok=True)
    made: list[Mutant] = list(_other_files(testdata, folder, rng))
    for source in make_seeds(testdata, folder / "seeds", clips):
        made += _byte_mutants(source, folder, rng)
        made += _ffmpeg_variants(source, folder, rng)
    return spread_by_kind(made)[:count]


def spread_by_kind(mutants: list[Mutant]) -> list[Mutant]:
    """Round-robin over the kinds, so any prefix of the list covers every kind it can."""
    by_kind: dict[str, list[Mutant]] = {}
    for m in mutants:
        by_kind.setdefault(m.kind, []).append(m)
    ordered = []
    while any(by_kind.values()):
        for items in by_kind.values():
            if items:
                ordered.append(items.pop(0))
    return ordered


# -- running the commands --------------------------------------------------------------------

@dataclass
class Outcome:
    file: str
    kind: str
    command: str
    code: int | None
    """Exit code; None when killed at the time limit."""
    seconds: float
    peak_rss_mb: float
    stderr_tail: str

    @property
    def ok(self) -> bool:
        return not self.problems()

    def problems(self) -> list[str]:
        found = []
        if self.code is None:
            found.append("hang")
        elif self.code not in (0, 2):
            found.append(f"exit {self.code}")
        if "Traceback" in self.stderr_tail:
            found.append("traceback")
        if self.code == 2:
            lines = [line for line in self.stderr_tail.splitlines() if line.strip()]
            errors = [line for line in lines if line.startswith("deepstudio: error:")]
            if len(errors) != 1:
                found.append("not one error line")
            elif Path(self.file).name not in errors[0]:
                found.append("error does not name the file")
        return found


@dataclass(frozen=True)
class Fixtures:
    """What the commands need besides the fuzzed file: a consent ledger and a tiny model."""

    ledger: Path | None = None
    model: Path | None = None
    speech: Path | None = None


def make_fixtures(folder: Path, testdata: Path, env: dict[str, str]) -> Fixtures:
    """A project recording the speaker's lip-sync consent, and a lip-sync model trained for two
    iterations on one second of talk_b (in fresh interpreters: the campaign forks later)."""
    ledger = folder / "Ledger.dstudio"
    model = folder / "speaker.dsmodel"

    def cli(*args: str) -> None:
        subprocess.run([sys.executable, "-m", "deepstudio", *args], env=env, check=True,
                       stdout=subprocess.DEVNULL)

    cli("new", str(ledger))
    cli("consent", "add", str(ledger), "--identity", SPEAKER, "--recorded-by", "QA",
        "--scope", "train", "--scope", "lipsync")
    cli("train-lipsync", str(testdata / "talk_b.mp4"), "-o", str(model), "--iters", "2",
        "--until", "1", "--device", "cpu", "--project", str(ledger), "--identity", SPEAKER,
        "-q")
    return Fixtures(ledger, model, testdata / "speech_a.wav")


def command_line(command: str, path: Path, out: Path, fx: Fixtures) -> list[str]:
    """The ``deepstudio`` arguments that run ``command`` on the fuzzed file ``path``."""
    return {
        "probe": ["probe", str(path)],
        "analyze": ["analyze", str(path), "-q"],
        "render": ["render", str(path), "-o", str(out / "render.mp4"), "--preset",
                   "ultrafast", "-q"],
        "faceset": ["faceset", "extract", str(path), "--identity", SPEAKER, "-o",
                    str(out / "faceset"), "--max-faces", "8", "-q"],
        "lipsync": ["lipsync", str(path), "--audio", str(fx.speech), "--model", str(fx.model),
                    "-o", str(out / "lipsync.mp4"), "--end", "0.5", "--project", str(fx.ledger),
                    "--identity", SPEAKER, "--device", "cpu", "--preset", "ultrafast", "-q"],
        "verify": ["verify", str(path)],
    }[command]


WARM_MODULES = ["deepstudio.cli.main", "deepstudio.media.probe", "deepstudio.media.decode",
                "deepstudio.media.encode", "deepstudio.vision.analysis", "deepstudio.session",
                "deepstudio.engine.render", "deepstudio.engine.faceset",
                "deepstudio.engine.verify", "deepstudio.engine.lipsync_effect",
                "deepstudio.models.lipsync.inference"]


def warm_up() -> None:
    """Import what the commands import, before forking (no threads are started by imports)."""
    import importlib

    for name in WARM_MODULES:
        importlib.import_module(name)


def _forked(argv: list[str], log: Path) -> int:
    """Fork; the child runs the CLI's main() with stdout/stderr to ``log``, exits with its
    code (an uncaught exception prints its traceback, as Python would, and exits 1)."""
    pid = os.fork()
    if pid:
        return pid
    try:
        os.setpgid(0, 0)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        from deepstudio.cli.main import main

        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _spawned(argv: list[str], log: Path, env: dict[str, str]) -> int:
    with log.open("wb") as sink:
        child = subprocess.Popen([sys.executable, "-m", "deepstudio", *argv], stdout=sink,
                                 stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return child.pid


def run_one(argv: list[str], workdir: Path, limit_s: float, fresh: bool,
            env: dict[str, str]) -> tuple[int | None, float, float, str]:
    """Run one command; (exit code or None on a hang, seconds, peak RSS in MB, output)."""
    log = workdir / "output.txt"
    started = time.monotonic()
    pid = _spawned(argv, log, env) if fresh else _forked(argv, log)
    code: int | None = None
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() - started > limit_s:
            with _quiet():
                os.killpg(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            break
        time.sleep(0.02)
    with _quiet():
        os.killpg(pid, signal.SIGKILL)  # ffmpeg or workers it left behind
    seconds = time.monotonic() - started
    text = log.read_text(errors="replace")
    return code, seconds, usage.ru_maxrss / 1024, text[-4000:]


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, value, tb) -> bool:
        return kind is ProcessLookupError or kind is PermissionError


def campaign(mutants: list[Mutant], commands: list[str], fx: Fixtures, folder: Path,
             limit_s: float, fresh: bool, env: dict[str, str],
             report: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Every command on every mutant; each run gets an empty output folder."""
    outcomes = []
    for number, mutant in enumerate(mutants):
        for command in commands:
            workdir = folder / "runs" / f"{number}-{command}"
            workdir.mkdir(parents=True)
            argv = command_line(command, mutant.path, workdir, fx)
            code, seconds, rss, text = run_one(argv, workdir, limit_s, fresh, env)
            outcome = Outcome(str(mutant.path), mutant.kind, command, code, seconds, rss, text)
            outcomes.append(outcome)
            if report is not None:
                report(outcome)
            shutil.rmtree(workdir, ignore_errors=True)
    return outcomes


def isolated_env(folder: Path) -> dict[str, str]:
    """The environment of the commands: their own settings, caches and signing key."""
    return {**os.environ, "PYTHONPATH": str(REPO), "DEEPSTUDIO_CONFIG_DIR": str(folder / "cfg"),
            "DEEPSTUDIO_CACHE_DIR": str(folder / "cache"), "OMP_NUM_THREADS": "1"}


def summary(outcomes: list[Outcome]) -> dict:
    bad = [o for o in outcomes if not o.ok]
    return {
        "files": len({o.file for o in outcomes}),
        "runs": len(outcomes),
        "kinds": dict(Counter(o.kind for o in outcomes if o.command == outcomes[0].command)),
        "exit_codes": dict(Counter(str(o.code) for o in outcomes)),
        "tracebacks": sum("Traceback" in o.stderr_tail for o in outcomes),
        "hangs": sum(o.code is None for o in outcomes),
        "problems": len(bad),
        "peak_rss_mb": round(max((o.peak_rss_mb for o in outcomes), default=0)),
        "slowest_s": round(max((o.seconds for o in outcomes), default=0), 1),
        "per_command_s": {c: round(sum(o.seconds for o in outcomes if o.command == c), 1)
                          for c in dict.fromkeys(o.command for o in outcomes)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=330, help="fuzzed files (default 330)")
    parser.add_argument("--commands", default=",".join(COMMANDS))
    parser.add_argument("--limit", type=float, default=180, help="seconds per command")
    parser.add_argument("--max-rss-mb", type=float, default=4096)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fresh", action="store_true",
                        help="a new interpreter per command instead of a fork")
    parser.add_argument("--keep", type=Path, help="work here and keep the files")
    parser.add_argument("--jsonl", type=Path, help="write every outcome here")
    args = parser.parse_args(argv)
    commands = args.commands.split(",")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="deepstudio-fuzz-"))
    folder.mkdir(parents=True, exist_ok=True)
    env = isolated_env(folder)
    os.environ.update({k: env[k] for k in ("DEEPSTUDIO_CONFIG_DIR", "DEEPSTUDIO_CACHE_DIR")})
    try:
        mutants = generate(TESTDATA, folder / "files", args.count, args.seed)
        fx = make_fixtures(folder, TESTDATA, env) if "lipsync" in commands else Fixtures()
        if not args.fresh:
            warm_up()
        log = args.jsonl.open("w") if args.jsonl else None

        def report(o: Outcome) -> None:
            flag = "ok " if o.ok and o.peak_rss_mb <= args.max_rss_mb else "BAD"
            print(f"{flag} {o.command:8} {o.code!s:4} {o.seconds:6.1f}s {o.peak_rss_mb:6.0f}MB "
                  f"{o.kind:16} {Path(o.file).name} {' '.join(o.problems())}", flush=True)
            if log:
                log.write(json.dumps(asdict(o)) + "\n")
                log.flush()

        outcomes = campaign(mutants, commands, fx, folder, args.limit, args.fresh, env, report)
        result = summary(outcomes)
        print(json.dumps(result, indent=1))
        over = result["peak_rss_mb"] > args.max_rss_mb
        return 1 if result["problems"] or over else 0
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
