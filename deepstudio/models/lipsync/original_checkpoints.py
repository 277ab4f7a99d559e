"""Loading the published Wav2Lip / SyncNet / quality-discriminator ``.pth`` files.

Those releases are PyTorch pickles holding ``{"state_dict": ..., "optimizer": ..., ...}`` (or a
bare state dict), with ``module.`` prefixes when they were saved from ``DataParallel``. They are
read with ``torch.load(weights_only=True)``, which only rebuilds tensors and plain containers and
never runs code from the file. Our networks at :data:`WAV2LIP_ARCH` use the published module names
and shapes, so after stripping prefixes the keys map one to one; any mismatch is reported as a
:class:`ModelFileError` naming the file.

The original models were trained on OpenCV images, i.e. **BGR** channel order; callers feed them
BGR faces (see :data:`ORIGINAL_CHANNEL_ORDER`).
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from deepstudio.errors import ModelFileError
from deepstudio.models.lipsync.networks import (
    WAV2LIP_ARCH,
    LipSyncGenerator,
    QualityDiscriminator,
    SyncExpert,
)

OriginalKind = Literal["generator", "sync_expert", "discriminator"]
ORIGINAL_CHANNEL_ORDER = "bgr"
_PREFIXES = ("module.", "_orig_mod.")


def read_original_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of an original checkpoint with wrapper prefixes removed (never executes code)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError("no such checkpoint file", path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile,
            ValueError, TypeError, AttributeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"not a loadable PyTorch weights file ({first_line[:200]})",
                             path) from exc
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not data:
        raise ModelFileError("holds no state dict of tensors", path)
    state: dict[str, torch.Tensor] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ModelFileError(f"unexpected entry {key!r} in the state dict", path)
        for prefix in _PREFIXES:
            while key.startswith(prefix):
                key = key[len(prefix):]
        state[key] = value
    return state


def detect_kind(state: dict[str, torch.Tensor], path: str | Path) -> OriginalKind:
    """Which published network a state dict belongs to, from its top-level module names."""
    tops = {key.split(".", 1)[0] for key in state}
    if "face_decoder_blocks" in tops:
        return "generator"
    if "binary_pred" in tops:
        return "discriminator"
    if {"face_encoder", "audio_encoder"} <= tops:
        return "sync_expert"
    raise ModelFileError("is not a Wav2Lip, SyncNet or quality-discriminator checkpoint "
                         f"(top-level modules: {', '.join(sorted(tops))[:200]})", path)


_BUILDERS = {"generator": LipSyncGenerator, "sync_expert": SyncExpert,
             "discriminator": QualityDiscriminator}


def load_into(module: nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> None:
    """Copy ``state`` into ``module``, reporting missing, unexpected or mis-shaped tensors."""
    own = module.state_dict()
    # BatchNorm counters are absent from files saved by old PyTorch versions; they do not
    # affect inference, so keep ours.
    state = {**{k: v for k, v in own.items() if k.endswith("num_batches_tracked")}, **state}
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = [k for k in own if k in state and state[k].shape != own[k].shape]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing tensors, e.g. {missing[0]}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensors, e.g. {unexpected[0]}")
    if mismatched:
        k = mismatched[0]
        problems.append(f"{len(mismatched)} tensors of the wrong shape, e.g. {k} "
                        f"{tuple(state[k].shape)} instead of {tuple(own[k].shape)}")
    if problems:
        raise ModelFileError("does not match the published layout: " + "; ".join(problems), path)
    module.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})


def load_original(path: str | Path,
                  expect: OriginalKind | None = None) -> tuple[OriginalKind, nn.Module]:
    """Build the matching network at 96 px from an original release file, in eval mode."""
    state = read_original_state_dict(path)
    kind = detect_kind(state, path)
    if expect is not None and kind != expect:
        raise ModelFileError(f"holds a {kind.replace('_', ' ')}, "
                             f"not a {expect.replace('_', ' ')}", path)
    module = _BUILDERS[kind](WAV2LIP_ARCH)
    load_into(module, state, path)
    return kind, module.eval()
