"""``deepstudio bench --gpu``: the GPU figures of issue 22 in one command.

The model-level figures come from :mod:`deepstudio.models.gpu_check` (device and versions,
training it/s end to end and step only, CPU↔device parity); this adds end-to-end renders of a
generated 1080p clip with the face-swap effect and with the lip-sync effect, each with the
busy seconds of every stage (decode, analysis, model, compositing, watermark, encode). The
models are untrained (one step on noise): they run exactly as fast as trained ones.

Without CUDA it says so in one line and measures the CPU at reduced sizes (a 2 s clip instead
of 10 s, 64-px models), which takes a few minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

GPU_CLIP_SECONDS = 10.0
CPU_CLIP_SECONDS = 2.0
CLIP_SIZE = (1920, 1080)
CLIP_NAME = "clip1080p.mp4"
CLIP_CRF = 23
"""The generated source is encoded at CRF 23 (not 18) so 10 s of 1080p stay small enough to
carry to a GPU machine with its analysis."""
PERSON = "bench person"


@dataclass(frozen=True)
class EffectSetup:
    """One model-based effect to render: its type, parameters and the consent it needs."""

    effect_type: str
    params: dict[str, object]
    scope: str
    rendered_person: str | None = None
    """Identity a swap model renders into the shot (needs its own consent)."""


def run(args) -> int:
    """Device, renders (the floors' figures first), then the model figures; each line is
    printed as soon as it is measured."""
    from deepstudio.models.gpu_check import device_figures, model_figures

    started = time.perf_counter()
    figures: dict[str, object] = device_figures(args.device)
    cuda = figures["environment"]["device"] != "cpu"
    seconds = args.clip_seconds or (GPU_CLIP_SECONDS if cuda else CPU_CLIP_SECONDS)
    with tempfile.TemporaryDirectory(prefix="deepstudio-bench-gpu-") as tmp:
        clip_dir = args.clip_dir or Path(tmp) / "clip"
        figures.update(render_figures(prepared_clip(clip_dir, seconds, print), Path(tmp),
                                      args.device, print, args.crf, args.preset))
    figures.update(model_figures(args.device))
    figures["bench_seconds"] = round(time.perf_counter() - started, 1)
    print(f"{'bench_seconds':34s} {figures['bench_seconds']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


@dataclass(frozen=True)
class PreparedClip:
    """A generated clip with its face analysis in ``cache`` (so a machine without the
    analysis libraries can still render it) and how long that analysis took where it ran."""

    clip: Path
    cache: Path
    analysis_s: float
    analysed_on: str


def prepared_clip(folder: Path, seconds: float, report=print) -> PreparedClip:
    """The clip in ``folder``, generated and analysed first if it is not there yet."""
    from deepstudio.cli.bench import machine_description
    from deepstudio.engine.analyse import analyse_media
    from deepstudio.engine.demo_media import write_demo_clip

    notes = folder / "prepared.json"
    if not notes.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        write_demo_clip(folder / CLIP_NAME, seconds=seconds, size=CLIP_SIZE, preset="ultrafast",
                        crf=CLIP_CRF)
        generated_s = time.perf_counter() - t
        t = time.perf_counter()
        analyse_media(folder / CLIP_NAME, folder / "cache")
        notes.write_text(json.dumps({"seconds": seconds, "generated_s": generated_s,
                                     "analysis_s": time.perf_counter() - t,
                                     "machine": machine_description()}))
    info = json.loads(notes.read_text())
    prepared = PreparedClip(folder / CLIP_NAME, folder / "cache", info["analysis_s"],
                            info["machine"])
    report(f"{'render_clip':34s} {CLIP_SIZE[0]}x{CLIP_SIZE[1]} 25 fps, {info['seconds']:g} s, "
           f"analysed in {prepared.analysis_s:.1f} s on {prepared.analysed_on}")
    return prepared


def render_figures(prepared: PreparedClip, work: Path, device: str, report, crf: int = 18,
                   preset: str = "medium") -> dict[str, object]:
    """Render the prepared 1080p clip with each model effect; fps and busy seconds per stage
    (analysis: the prepared clip's, which may come from another machine)."""
    from deepstudio.engine.demo_media import write_tone
    from deepstudio.media.probe import probe
    from deepstudio.models.faceswap.bench import untrained_model
    from deepstudio.models.gpu_check import untrained_lipsync_model

    figures: dict[str, object] = {"render_clip_analysed_on": prepared.analysed_on}
    swap_model = work / "swap.dsmodel"
    shown = untrained_model(str(swap_model), None, device)[0]
    lipsync_model = untrained_lipsync_model(work / "lipsync.dsmodel", device)
    dialogue = write_tone(work / "dialogue.wav", probe(prepared.clip).duration_s)
    setups = {
        "render_swap": (swap_model, "faceswap", EffectSetup(
            "face_swap", {"identity": shown}, "swap", shown)),
        "render_lipsync": (lipsync_model, "lipsync", EffectSetup(
            "lip_sync", {"when_audio_ends": "silence"}, "lipsync")),
    }
    for key, (model, kind, setup) in setups.items():
        result, _ = render_with_effect(prepared.clip, work, model, kind, setup, device, crf,
                                       preset, dialogue if kind == "lipsync" else None,
                                       prepared.cache)
        figures[key] = {"fps": round(result.frames / result.seconds, 2),
                        "frames": result.frames,
                        "stages_s": stage_breakdown(result.stage_seconds, prepared.analysis_s)}
        report(f"{key:34s} {json.dumps(figures[key])}")
    return figures


def stage_breakdown(stage_seconds: dict[str, float], analysis_s: float) -> dict[str, float]:
    """A render's busy seconds per stage, with the model's share taken out of the effects:
    what is left of them (alignment, masks, colour matching, pasting) is compositing."""
    effects = stage_seconds.get("effects", 0.0)
    model = stage_seconds.get("model", 0.0)
    stages = {"decode": stage_seconds.get("decode", 0.0), "analysis": analysis_s,
              "model": model, "compositing": effects - model,
              "watermark": stage_seconds.get("watermark", 0.0),
              "encode": stage_seconds.get("encode", 0.0)}
    return {name: round(seconds, 2) for name, seconds in stages.items()}


def render_with_effect(clip: Path, work: Path, model: Path, kind: str, setup: EffectSetup,
                       device: str, crf: int, preset: str, dialogue: Path | None = None,
                       cache: Path | None = None):
    """Render ``clip`` with one model effect on its longest face track (see
    :func:`add_bench_effect`).

    Returns the RenderResult and the seconds the face analysis took (~0 when ``cache``, default
    ``work/cache``, holds it)."""
    from deepstudio.cli.render import session_for_video
    from deepstudio.engine.render import RenderSettings
    from deepstudio.media.encode import EncodeSettings

    session = session_for_video(clip, "none")
    try:
        session.cache_dir = cache or work / "cache"
        session.device = device
        analysis_s = add_bench_effect(session, model, kind, setup, dialogue)
        result = session.render_now(work / f"{setup.effect_type}.mp4", RenderSettings(
            0, None, EncodeSettings(quality=crf, preset=preset)))
    finally:
        session.close()
    return result, analysis_s


def add_bench_effect(session, model: Path, kind: str, setup: EffectSetup,
                     dialogue: Path | None = None) -> float:
    """Put ``setup``'s effect with ``model`` over the clips of the first video track, on the
    longest face track of the session's first media; the benchmark records its own consent for
    the generated person (the output is deleted with the work folder). Returns the seconds the
    face analysis took."""
    from deepstudio.cli.ledger import pick_track
    from deepstudio.core.commands import AddConsent, AddEffect, AddIdentity, AddModel
    from deepstudio.core.effects import default_params
    from deepstudio.core.project import ConsentRecord, Effect, FaceTrackRef, Identity, ModelRef
    from deepstudio.types import new_id

    media_id = next(iter(session.project.media))
    t = time.perf_counter()
    track = pick_track(session.analyze_now(media_id), None, session.media_path(media_id))
    analysis_s = time.perf_counter() - t
    people = [(PERSON, [FaceTrackRef(media_id, track)])]
    if setup.rendered_person is not None:
        people.append((setup.rendered_person, []))
    for name, faces in people:
        identity = new_id("identity")
        session.do(AddIdentity(Identity(identity, name, faces)))
        session.do(AddConsent(identity, ConsentRecord(
            new_id("consent"), name, "deepstudio bench (output discarded)",
            time.strftime("%Y-%m-%d"), [setup.scope])))
    session.do(AddModel(ModelRef("model-bench", "bench", kind, str(model), "")))
    video = session.project.tracks[0]
    params = {**default_params(setup.effect_type), **setup.params, "model": "model-bench"}
    if dialogue is not None:
        audio = session.import_media(dialogue)
        params["audio"] = session.add_clip_for_media(audio, start=video.clips[0].start)
    session.do(AddEffect(Effect(new_id("effect"), setup.effect_type, video.id, track, media_id,
                                video.clips[0].start, video.clips[-1].end, params)))
    return analysis_s


def main() -> None:
    """``python -m deepstudio.cli.bench_gpu --prepare DIR``: generate and analyse the render
    clip into DIR, for ``deepstudio bench --gpu --clip-dir DIR`` on a machine that cannot
    analyse (the GPU image has no mediapipe, dlib or their models)."""
    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("--prepare", type=Path, required=True, metavar="DIR")
    parser.add_argument("--seconds", type=float, default=GPU_CLIP_SECONDS)
    args = parser.parse_args()
    prepared_clip(args.prepare, args.seconds)


if __name__ == "__main__":
    main()
