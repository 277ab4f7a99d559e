"""Model folders on disk: safetensors weights plus a JSON model card, saved atomically.

A model is a folder ``NAME.dsmodel/``::

    card.json               what the model is: architecture + constructor kwargs, identities,
                            consent record ids, training data summary, iterations, loss history,
                            dates, format version and the sha256 of every other file
    model.safetensors       the weights (``state_dict`` of the network)
    optimizer.safetensors   optional, for resuming training: the tensors of the optimizer state
    train_state.json        optional, the non-tensor rest of the optimizer state + trainer state
    previous/               the checkpoint before the last save (hard links, so it costs no copy)

``card.json`` is written last and lists the sha256 of the files it goes with, so a save cut
short by a crash, a kill or a full disk is detected on load, and :func:`load_model` and
:func:`resumable_dir` fall back to ``previous/``. A save only moves the current checkpoint to
``previous/`` when it is complete: after a cut-short save ``previous/`` keeps the last good one.
Nothing loaded here executes code: weights are safetensors, the rest is JSON, and the
architecture name must be one registered with :func:`register_architecture`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import safetensors.torch
import torch
from torch import nn

from deepstudio.errors import ModelFileError
from deepstudio.models.device import Compute, as_compute
from deepstudio.persistence.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MODEL_SUFFIX = ".dsmodel"
CARD = "card.json"
WEIGHTS = "model.safetensors"
OPTIMIZER = "optimizer.safetensors"
TRAIN_STATE = "train_state.json"
BACKUP_DIR = "previous"
MAX_PARAMETERS = 2_000_000_000
"""Parameters and buffers of the largest network a card may describe (8 GB of float32; the
published Wav2Lip has 36 million)."""
MAX_CARD_BYTES = 16 * 2**20
"""A card is a few KiB (a long loss history: some hundred); a larger file is not read."""

_ARCHITECTURES: dict[str, type[nn.Module]] = {}
_NAME_RE = re.compile(r"^([a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*$")

ModuleT = TypeVar("ModuleT", bound=type[nn.Module])


def register_architecture(name: str) -> Callable[[ModuleT], ModuleT]:
    """Class decorator naming a network for model cards, e.g. ``"faceswap.df"``.

    The part before the dot is the subpackage of ``deepstudio.models`` that defines it; it is
    imported on demand when a card names an architecture that is not registered yet.
    """
    if not _NAME_RE.match(name):
        raise ValueError(f"architecture name {name!r} must look like 'package.name'")

    def decorate(cls: ModuleT) -> ModuleT:
        _ARCHITECTURES[name] = cls
        return cls

    return decorate


def architecture_class(name: str, path: Path) -> type[nn.Module]:
    """The registered class for ``name``; ModelFileError (naming ``path``) when unknown."""
    if name not in _ARCHITECTURES:
        match = _NAME_RE.match(name)
        if match:
            with contextlib.suppress(ModuleNotFoundError):
                importlib.import_module(f"deepstudio.models.{match.group(1)}")
    if name not in _ARCHITECTURES:
        raise ModelFileError(f"unknown model architecture {name!r}", path)
    return _ARCHITECTURES[name]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class ModelCard:
    """Everything about a model except its tensors; stored as ``card.json``."""

    architecture: str
    kwargs: dict[str, Any]
    identities: list[str] = field(default_factory=list)
    consent_ids: list[str] = field(default_factory=list)
    training_data: dict[str, Any] = field(default_factory=dict)
    iterations: int = 0
    loss_history: list[dict[str, float]] = field(default_factory=list)
    created: str = field(default_factory=_now)
    updated: str = field(default_factory=_now)
    format_version: int = FORMAT_VERSION
    files: dict[str, str] = field(default_factory=dict)
    """sha256 of each file of the checkpoint, filled in by :func:`save_checkpoint`."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, path: Path) -> ModelCard:
        """Validate a parsed card; ModelFileError for anything missing, mistyped or too new."""
        if not isinstance(data, dict):
            raise ModelFileError("card is not a JSON object", path)
        version = data.get("format_version")
        if not isinstance(version, int):
            raise ModelFileError("card has no format_version", path)
        if version > FORMAT_VERSION:
            raise ModelFileError(
                f"made by a newer DeepStudio (format {version}, this one reads {FORMAT_VERSION})",
                path)
        expected = {"architecture": str, "kwargs": dict, "identities": list, "consent_ids": list,
                    "training_data": dict, "iterations": int, "loss_history": list,
                    "created": str, "updated": str, "files": dict}
        for name, kind in expected.items():
            if not isinstance(data.get(name), kind):
                raise ModelFileError(f"card field {name!r} is missing or not a {kind.__name__}",
                                     path)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def card_sha256(model_dir: str | Path) -> str:
    """sha256 of ``card.json``; since the card lists the hash of the weights, it names the model."""
    path = Path(model_dir) / CARD
    try:
        return _sha256(path)
    except OSError as exc:
        raise ModelFileError(f"cannot read ({exc.strerror or exc})", path) from exc


def _split_tensors(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Nested state -> JSON tree with tensors replaced by ``{"__tensor__": key}``.

    Dicts whose keys are not all strings (optimizer state is keyed by parameter index) are
    stored as ``{"__items__": [[key, value], ...]}`` so the keys keep their type.
    """
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().to("cpu").contiguous()
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {k: _split_tensors(v, f"{prefix}.{k}", tensors) for k, v in obj.items()}
        return {"__items__": [[k, _split_tensors(v, f"{prefix}.{k}", tensors)]
                              for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_split_tensors(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {prefix} in a checkpoint")


def _join_tensors(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`_split_tensors`."""
    if isinstance(obj, dict):
        if set(obj) == {"__tensor__"}:
            return tensors[obj["__tensor__"]]
        if set(obj) == {"__items__"}:
            return {k: _join_tensors(v, tensors) for k, v in obj["__items__"]}
        return {k: _join_tensors(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join_tensors(v, tensors) for v in obj]
    return obj


def _backup_previous(model_dir: Path) -> None:
    """Hard-link the current checkpoint into ``previous/`` (copy where links are unsupported),
    unless it is incomplete (a save cut short): then ``previous/`` holds the last good one."""
    if not (model_dir / CARD).is_file():
        return
    try:
        verify_checkpoint(model_dir)
    except ModelFileError:
        log.warning("%s: the last save was cut short; keeping %s", model_dir, BACKUP_DIR)
        return
    backup = model_dir / BACKUP_DIR
    shutil.rmtree(backup, ignore_errors=True)
    backup.mkdir()
    for name in (WEIGHTS, OPTIMIZER, TRAIN_STATE, CARD):  # card last: it commits the backup
        src = model_dir / name
        if src.is_file():
            try:
                os.link(src, backup / name)
            except OSError:
                shutil.copy2(src, backup / name)


def save_checkpoint(model_dir: str | Path, model: nn.Module, card: ModelCard,
                    optimizer_state: dict[str, Any] | None = None,
                    train_state: dict[str, Any] | None = None) -> ModelCard:
    """Save ``model`` (and optionally resumable training state) into ``model_dir``.

    The previous checkpoint moves to ``previous/``; the card is written last with the hashes of
    the files, and ``card.updated``/``card.files`` are set on the returned card.
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    _backup_previous(model_dir)
    payloads: dict[str, bytes] = {
        WEIGHTS: safetensors.torch.save(
            {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()},
            metadata={"architecture": card.architecture}),
    }
    if optimizer_state is not None:
        tensors: dict[str, torch.Tensor] = {}
        tree = _split_tensors(optimizer_state, "optimizer", tensors)
        payloads[OPTIMIZER] = safetensors.torch.save(tensors)
        state = {"optimizer": tree, "trainer": train_state or {}}
        payloads[TRAIN_STATE] = json.dumps(state).encode()
    card.files = {}
    for name, data in payloads.items():
        atomic_write_bytes(model_dir / name, data)
        card.files[name] = hashlib.sha256(data).hexdigest()
    for stale in {OPTIMIZER, TRAIN_STATE} - payloads.keys():
        with contextlib.suppress(FileNotFoundError):
            (model_dir / stale).unlink()
    card.updated = _now()
    atomic_write_bytes(model_dir / CARD, json.dumps(card.to_json(), indent=2).encode())
    return card


def checkpoint_due(iteration: int, since_save_s: float, every_s: float, every_iters: int
                   ) -> bool:
    """Whether a checkpoint is due after ``iteration``: by time, or by iteration count."""
    return since_save_s >= every_s or (every_iters > 0 and iteration % every_iters == 0)


def load_card(model_dir: str | Path) -> ModelCard:
    """Read and validate ``card.json`` of a model folder."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelFileError("model folder not found", model_dir)
    path = model_dir / CARD
    try:
        if path.stat().st_size > MAX_CARD_BYTES:
            raise ModelFileError(f"model card is too large ({path.stat().st_size:,} bytes)", path)
        data = json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise ModelFileError("model card is missing", path) from exc
    except (OSError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"model card is unreadable or not JSON ({exc})", path) from exc
    return ModelCard.from_json(data, path)


def _read_verified(model_dir: Path, card: ModelCard, name: str) -> bytes:
    path = model_dir / name
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelFileError("file is missing", path) from exc
    except OSError as exc:
        raise ModelFileError(f"cannot read ({exc.strerror or exc})", path) from exc
    expected = card.files.get(name)
    if expected is None:
        raise ModelFileError(f"file is not listed in {CARD}", path)
    if hashlib.sha256(data).hexdigest() != expected:
        raise ModelFileError(
            f"file does not match {CARD} (truncated, corrupt or from an interrupted save)", path)
    return data


def _read_tensors(model_dir: Path, card: ModelCard, name: str) -> dict[str, torch.Tensor]:
    data = _read_verified(model_dir, card, name)
    try:
        return safetensors.torch.load(data)
    except Exception as exc:  # the safetensors error type is not part of its public API
        raise ModelFileError(f"not a valid safetensors file ({exc})", model_dir / name) from exc


def build_model(card: ModelCard, path: Path) -> nn.Module:
    """Construct the (untrained) network a card describes.

    The card comes from a file, so it is built on the meta device first (shapes, no memory)
    and refused beyond :data:`MAX_PARAMETERS`: absurd settings never allocate."""
    cls = architecture_class(card.architecture, path)
    try:
        with torch.device("meta"):
            shapes = cls(**card.kwargs)
        count = sum(t.numel() for t in (*shapes.parameters(), *shapes.buffers()))
        if count > MAX_PARAMETERS:
            raise ModelFileError(f"card describes a {card.architecture} network of {count:,} "
                                 f"values (at most {MAX_PARAMETERS:,} are loaded)", path)
        return cls(**card.kwargs)
    except (TypeError, ValueError, RuntimeError, OverflowError) as exc:
        raise ModelFileError(f"invalid settings for {card.architecture}: "
                             f"{str(exc).splitlines()[0][:200]}", path) from exc


def load_model(model_dir: str | Path, device: str | torch.device | Compute = "cpu"
               ) -> tuple[nn.Module, ModelCard]:
    """Build the network a folder describes and load its verified weights (eval mode) onto
    ``device``, whatever device saved them (weights are stored as CPU fp32 tensors).

    When the folder's last save was cut short, the checkpoint before it (``previous/``) is
    loaded instead; ModelFileError when neither is usable."""
    model_dir = Path(model_dir)
    try:
        return _load_model_from(model_dir, device)
    except ModelFileError as error:
        backup = model_dir / BACKUP_DIR
        if not (backup / CARD).is_file():
            raise
        try:
            loaded = _load_model_from(backup, device)
        except ModelFileError:
            raise error from None
        log.warning("%s: %s; loaded the checkpoint before it", model_dir, error.problem)
        return loaded


def _load_model_from(model_dir: Path, device: str | torch.device | Compute
                     ) -> tuple[nn.Module, ModelCard]:
    card = load_card(model_dir)
    model = build_model(card, model_dir / CARD)
    state = _read_tensors(model_dir, card, WEIGHTS)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ModelFileError(f"weights do not fit {card.architecture} ({first})",
                             model_dir / WEIGHTS) from exc
    return as_compute(device).module(model).eval(), card


def load_train_state(model_dir: str | Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(optimizer state dict, trainer state) of a resumable folder, or None if it has none."""
    model_dir = Path(model_dir)
    card = load_card(model_dir)
    if OPTIMIZER not in card.files:
        return None
    tensors = _read_tensors(model_dir, card, OPTIMIZER)
    raw = _read_verified(model_dir, card, TRAIN_STATE)
    try:
        state = json.loads(raw)
        optimizer = _join_tensors(state["optimizer"], tensors)
        return optimizer, dict(state["trainer"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"training state is invalid ({exc})",
                             model_dir / TRAIN_STATE) from exc


def verify_checkpoint(model_dir: str | Path) -> ModelCard:
    """Check the card and the hash of every file it lists; returns the card."""
    model_dir = Path(model_dir)
    card = load_card(model_dir)
    for name in (WEIGHTS, *card.files):
        _read_verified(model_dir, card, name)
    return card


def resumable_dir(model_dir: str | Path) -> Path | None:
    """The folder to resume from: ``model_dir``, else its backup when the last save was cut short.

    None when there is no checkpoint yet; ModelFileError when neither copy is usable.
    """
    model_dir = Path(model_dir)
    if not (model_dir / CARD).exists():
        return None
    try:
        verify_checkpoint(model_dir)
        return model_dir
    except ModelFileError as error:
        backup = model_dir / BACKUP_DIR
        try:
            verify_checkpoint(backup)
        except ModelFileError:
            raise error from None
        return backup
