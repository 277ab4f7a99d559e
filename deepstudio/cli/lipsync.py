"""Lip-sync from the command line: ``train-lipsync`` and ``lipsync``."""

from __future__ import annotations

import argparse
from pathlib import Path

from deepstudio.cli.faceswap import add_checkpoint_options, checkpoint_settings, deadline
from deepstudio.cli.ledger import bind_face, ledger_identity, pick_track
from deepstudio.cli.main import add_quiet
from deepstudio.cli.progress import ProgressBar
from deepstudio.cli.render import add_encode_options, range_settings


def register(subparsers) -> None:
    p = subparsers.add_parser("train-lipsync",
                              help="train a lip-sync model on a speaker's own footage")
    p.add_argument("inputs", type=Path, nargs="+", help="videos of the speaker with their audio")
    p.add_argument("-o", "--output", type=Path, required=True, help="model folder (.dsmodel)")
    p.add_argument("--iters", type=int, default=20_000)
    p.add_argument("--minutes", type=float, help="stop (and save) after this many minutes")
    p.add_argument("--until", type=float, metavar="S",
                   help="train only on each video's first S seconds (keep the rest for tests)")
    p.add_argument("--lr", type=float,
                   help="learning rate (default 1e-4; higher converges faster in short runs)")
    p.add_argument("--sound-delay", type=int, default=0, metavar="FRAMES",
                   help="the footage's sound comes this many frames after its picture "
                        "(negative: before); training corrects it")
    p.add_argument("--init", type=Path, help="original Wav2Lip generator .pth to fine-tune")
    p.add_argument("--init-expert", type=Path, help="original SyncNet expert .pth")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--project", type=Path, required=True,
                   help="project holding the speaker's 'train' consent")
    p.add_argument("--identity", required=True, help="the speaker's identity name")
    add_checkpoint_options(p)
    add_quiet(p)
    p.set_defaults(run=train)

    p = subparsers.add_parser("lipsync", help="make a face's mouth follow new dialogue")
    p.add_argument("input", type=Path, help="video of the speaker")
    p.add_argument("--audio", type=Path, required=True, help="the new dialogue (any audio file)")
    p.add_argument("--model", type=Path, required=True,
                   help="lip-sync model folder (.dsmodel) or an original Wav2Lip .pth")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--track", type=int, help="the speaker's face track (default: the longest)")
    p.add_argument("--when-audio-ends", choices=["silence", "cut", "loop", "hold"],
                   default="silence", help="what the mouth does after the dialogue ends")
    p.add_argument("--original-audio-db", type=float, default=None, metavar="DB",
                   help="keep the original soundtrack under the dialogue at this gain "
                        "(default: replace it)")
    p.add_argument("--start", type=float, default=0.0, metavar="S")
    p.add_argument("--end", type=float, default=None, metavar="S")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--project", type=Path, required=True,
                   help="project holding the speaker's 'lipsync' consent")
    p.add_argument("--identity", required=True, help="the speaker's identity name")
    add_encode_options(p)
    add_quiet(p)
    p.set_defaults(run=lipsync, prepare=prepare_lipsync)


def train(args: argparse.Namespace) -> int:
    from deepstudio.engine.av_sync import sync_advice
    from deepstudio.engine.train_lipsync import SpeakerFootage, train_lipsync
    from deepstudio.errors import Cancelled
    from deepstudio.media.probe import probe
    from deepstudio.models.checkpoint import load_card
    from deepstudio.models.device import pick_device
    from deepstudio.models.lipsync.trainer import LipSyncTrainConfig
    from deepstudio.persistence.settings import user_cache_dir

    _, record = ledger_identity(args.project, args.identity, "train")
    footage = []
    for path in args.inputs:
        info = probe(path, require_video=True)
        end = round(args.until * info.fps) if args.until is not None else None
        footage.append(SpeakerFootage(path, end=end, sound_delay=args.sound_delay))
    overrides: dict[str, object] = dict(checkpoint_settings(args))
    if args.lr is not None:
        overrides["lr"] = args.lr
    if args.init is not None:
        overrides["init_generator"] = str(args.init)
    if args.init_expert is not None:
        overrides["init_expert"] = str(args.init_expert)
    config = LipSyncTrainConfig.for_device(pick_device(args.device), **overrides)
    bar = ProgressBar(f"Training {args.output.name}", args.quiet)
    try:
        card = train_lipsync(footage, args.output, config, args.iters, args.device,
                             deadline(bar, args.minutes),
                             cache_dir=user_cache_dir() / "analysis", consent_ids=[record.id])
        state = "finished"
    except Cancelled:  # --minutes ran out: the trainer saved a checkpoint first
        card, state = load_card(args.output), "stopped"
    bar.done()
    print(f"{args.output}: {state} at iteration {card.iterations}")
    for item in card.training_data.get("footage", []):
        if advice := sync_advice(item):
            print(f"{advice.text}: train again with --sound-delay {advice.sound_delay}")
    return 0


def lipsync(args: argparse.Namespace) -> int:
    from deepstudio.cli.farm import deliver

    bar = ProgressBar(f"Lip-syncing {args.input.name}", args.quiet)
    return deliver(args, prepare_lipsync(args, bar), bar)


def prepare_lipsync(args: argparse.Namespace, report=None):
    """The session of a one-shot dub: the speaker's face analysed and bound, the dialogue on
    an audio track, the model and the effect placed (see :func:`deepstudio.cli.farm.deliver`)."""
    from deepstudio.cli.farm import PreparedRender
    from deepstudio.cli.render import session_for_video
    from deepstudio.core.commands import AddEffect, AddModel, SetClipGain, SetClipMuted
    from deepstudio.core.effects import default_params
    from deepstudio.core.project import Effect, ModelRef
    from deepstudio.media.probe import probe
    from deepstudio.types import new_id

    identity, _ = ledger_identity(args.project, args.identity, "lipsync")
    if not probe(args.audio).has_audio:
        from deepstudio.errors import MediaError

        raise MediaError("has no audio stream", args.audio)
    session = session_for_video(args.input, "none")
    try:
        project = session.project
        video_media = next(iter(project.media))
        track = pick_track(session.analyze_now(video_media, report), args.track, args.input)
        bind_face(session, video_media, track, identity)
        video_clip = project.tracks[0].clips[0]
        for _, original_sound in project.linked(video_clip):
            if args.original_audio_db is None:
                session.do(SetClipMuted(original_sound.id, True))
            else:
                session.do(SetClipGain(original_sound.id, args.original_audio_db))
        audio_media = session.import_media(args.audio)
        dialogue = session.add_clip_for_media(audio_media, start=video_clip.start)
        model_id = new_id("model")
        session.do(AddModel(ModelRef(model_id, args.model.stem, "lipsync",
                                     str(args.model.resolve()), "")))
        params = {**default_params("lip_sync"), "model": model_id, "audio": dialogue,
                  "when_audio_ends": args.when_audio_ends}
        session.do(AddEffect(Effect(new_id("effect"), "lip_sync", project.tracks[0].id, track,
                                    video_media, video_clip.start, video_clip.end, params)))
        session.device = args.device
        return PreparedRender(session, args.output, range_settings(session, args))
    except BaseException:
        session.close()
        raise
