"""Face swap from the command line: ``faceset extract``, ``train`` and ``swap``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from deepstudio.cli.ledger import add_ledger_options, bind_face, ledger_identity, pick_track
from deepstudio.cli.main import add_quiet
from deepstudio.cli.progress import ProgressBar
from deepstudio.cli.render import add_encode_options, range_settings
from deepstudio.errors import UserError


def register(subparsers) -> None:
    faceset = subparsers.add_parser("faceset", help="extract aligned faces for training")
    fsub = faceset.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = fsub.add_parser("extract", help="extract one person's faces from a video")
    p.add_argument("input", type=Path, help="video of the person")
    p.add_argument("--identity", required=True, help="the person's name")
    p.add_argument("-o", "--output", type=Path, required=True, help="faceset folder")
    p.add_argument("--track", type=int, help="face track (default: the longest)")
    p.add_argument("--max-faces", type=int, help="keep at most this many faces")
    add_quiet(p)
    p.set_defaults(run=extract)

    p = subparsers.add_parser("train", help="train a face-swap model on two facesets")
    p.add_argument("--src", type=Path, required=True, help="faceset of the person to show")
    p.add_argument("--dst", type=Path, required=True, help="faceset of the person replaced")
    p.add_argument("-o", "--output", type=Path, required=True, help="model folder (.dsmodel)")
    p.add_argument("--res", type=int, help="resolution (default: 64 on CPU, 128 on CUDA)")
    p.add_argument("--iters", type=int, default=100_000, help="total iterations")
    p.add_argument("--minutes", type=float, help="stop (and save) after this many minutes")
    p.add_argument("--arch", choices=["df", "liae"], default="df")
    p.add_argument("--gan", type=float, default=0.1, help="adversarial loss weight")
    p.add_argument("--lr", type=float, default=5e-5,
                   help="learning rate (higher converges faster in short runs)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--project", type=Path, required=True,
                   help="project holding both people's 'train' consent")
    add_checkpoint_options(p)
    add_quiet(p)
    p.set_defaults(run=train)

    p = subparsers.add_parser("swap", help="render a video with a trained face-swap model")
    p.add_argument("input", type=Path, help="video whose face is replaced")
    p.add_argument("--model", type=Path, required=True, help="model folder (.dsmodel)")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--track", type=int, help="face track to replace (default: the longest)")
    p.add_argument("--strength", type=float, default=1.0)
    p.add_argument("--colour", choices=["reinhard", "histogram", "none"], default="reinhard")
    p.add_argument("--blend", choices=["feather", "poisson"], default="feather")
    p.add_argument("--start", type=float, default=0.0, metavar="S")
    p.add_argument("--end", type=float, default=None, metavar="S")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    add_ledger_options(p, "the person in INPUT (default: the model's target person)")
    add_encode_options(p)
    add_quiet(p)
    p.set_defaults(run=swap, prepare=prepare_swap)


def extract(args: argparse.Namespace) -> int:
    from deepstudio.engine.analyse import analyse_media
    from deepstudio.engine.faceset import FaceFilters, extract_faceset
    from deepstudio.engine.progress import split_progress
    from deepstudio.media.probe import probe
    from deepstudio.persistence.settings import user_cache_dir

    probe(args.input, require_video=True)
    bar = ProgressBar(f"Extracting {args.identity}", args.quiet)
    analysing, extracting = split_progress(bar, 0.5)
    # the analysis cache of 'deepstudio analyze': a second extraction (or one rerun after a
    # kill) does not track the faces again
    analysis = analyse_media(args.input, user_cache_dir() / "analysis", analysing)
    info = extract_faceset(args.input, args.output, args.identity, args.track,
                           analysis=analysis, progress=extracting,
                           filters=FaceFilters(max_faces=args.max_faces))
    bar.done()
    print(f"{info.path}: {info.faces} faces of {info.identity} from track #{info.track_id} "
          f"({info.frames_seen} frames seen; dropped {json.dumps(info.rejected)})")
    print("pose range (degrees): " + ", ".join(
        f"{k} {v[0]:.0f}..{v[1]:.0f}" for k, v in info.pose_range.items()))
    return 0


def train(args: argparse.Namespace) -> int:
    from deepstudio.engine.faceset import faceset_identity
    from deepstudio.engine.train_faceswap import train_faceswap
    from deepstudio.models.faceswap.trainer import TrainConfig

    consent_ids = [ledger_identity(args.project, faceset_identity(f), "train")[1].id
                   for f in (args.src, args.dst)]
    bar = ProgressBar(f"Training {args.output.name}", args.quiet)
    progress = deadline(bar, args.minutes)
    config = TrainConfig(architecture=args.arch, gan_weight=args.gan, learning_rate=args.lr,
                         **checkpoint_settings(args))
    result = train_faceswap(args.src, args.dst, args.output, res=args.res, iters=args.iters,
                            device=args.device, progress=progress, consent_ids=consent_ids,
                            config=config)
    bar.done()
    state = "stopped" if result.cancelled else "finished"
    print(f"{result.model_dir}: {state} at iteration {result.iterations} "
          f"(losses {', '.join(f'{k} {v:.4f}' for k, v in result.losses.items())})")
    return 0


def add_checkpoint_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint-every", type=float, default=300.0, metavar="S",
                   help="save a checkpoint every S seconds (default 300): training that is "
                        "killed resumes from the last one when run again")
    p.add_argument("--checkpoint-iters", type=int, default=0, metavar="N",
                   help="also save a checkpoint every N iterations")


def checkpoint_settings(args: argparse.Namespace) -> dict[str, float | int]:
    """The trainer config fields of :func:`add_checkpoint_options`."""
    if args.checkpoint_every <= 0 or args.checkpoint_iters < 0:
        raise UserError("--checkpoint-every must be positive and --checkpoint-iters at least 0")
    return {"checkpoint_every_s": args.checkpoint_every,
            "checkpoint_every_iters": args.checkpoint_iters}


def deadline(bar: ProgressBar, minutes: float | None):
    """A progress callback that also stops the work (it saves) after ``minutes``."""
    import time

    from deepstudio.errors import Cancelled

    if minutes is None:
        return bar
    stop_at = time.monotonic() + minutes * 60

    def report(progress) -> None:
        bar(progress)
        if time.monotonic() > stop_at:
            raise Cancelled()

    return report


def swap(args: argparse.Namespace) -> int:
    from deepstudio.cli.farm import deliver

    bar = ProgressBar(f"Swapping {args.input.name}", args.quiet)
    return deliver(args, prepare_swap(args, bar), bar)


def prepare_swap(args: argparse.Namespace, report=None):
    """The session of a one-shot swap: the input's face analysed and bound to its consenting
    person, the model and the effect placed (see :func:`deepstudio.cli.farm.deliver`)."""
    from deepstudio.cli.farm import PreparedRender
    from deepstudio.cli.render import session_for_video
    from deepstudio.core.commands import AddEffect, AddIdentity, AddModel
    from deepstudio.core.effects import default_params
    from deepstudio.core.project import Effect, ModelRef
    from deepstudio.errors import ModelFileError
    from deepstudio.models.checkpoint import load_card
    from deepstudio.types import new_id

    card = load_card(args.model)
    if len(card.identities) < 2:
        raise ModelFileError("is not a face-swap model (it knows fewer than two people)",
                             args.model)
    shown, replaced = card.identities[0], card.identities[1]
    target, _ = ledger_identity(args.project, args.identity or replaced, "swap")
    source, _ = ledger_identity(args.project, shown, "swap")
    session = session_for_video(args.input, "none")
    try:
        media_id = next(iter(session.project.media))
        track = pick_track(session.analyze_now(media_id, report), args.track, args.input)
        bind_face(session, media_id, track, target)
        if source.id != target.id:
            session.do(AddIdentity(source))
        model_id = new_id("model")
        session.do(AddModel(ModelRef(model_id, args.model.stem, "faceswap",
                                     str(args.model.resolve()), "")))
        clip = session.project.tracks[0].clips[0]
        params = {**default_params("face_swap"), "model": model_id, "identity": shown,
                  "strength": args.strength, "colour": args.colour, "blend": args.blend}
        session.do(AddEffect(Effect(new_id("effect"), "face_swap", session.project.tracks[0].id,
                                    track, media_id, clip.start, clip.end, params)))
        session.device = args.device
        return PreparedRender(session, args.output, range_settings(session, args),
                              f"; {shown} shown in place of {target.name}")
    except BaseException:
        session.close()
        raise
