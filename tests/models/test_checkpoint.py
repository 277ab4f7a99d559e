"""Model folders: round trip, backups, and clear refusals of broken or foreign files."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch

from deepstudio.errors import ModelFileError
from deepstudio.models import checkpoint
from deepstudio.models.faceswap.networks import DFNet


def _card(**changes) -> checkpoint.ModelCard:
    kwargs = {"resolution": 32, "identities": 2, "e_ch": 8, "ae_dims": 16, "d_ch": 8}
    return checkpoint.ModelCard("faceswap.df", kwargs, identities=["a", "b"],
                                consent_ids=["c-1"], **changes)


def _saved(tmp_path: Path, with_optimizer: bool = True) -> tuple[Path, DFNet]:
    net = DFNet(**_card().kwargs)
    opt = torch.optim.Adam(net.parameters())
    net(torch.rand(2, 3, 32, 32), 0)[0].mean().backward()
    opt.step()
    folder = tmp_path / "m.dsmodel"
    checkpoint.save_checkpoint(folder, net, _card(iterations=1),
                               opt.state_dict() if with_optimizer else None,
                               {"batch_size": 4} if with_optimizer else None)
    return folder, net


def test_round_trip_restores_weights_card_and_optimizer(tmp_path: Path) -> None:
    folder, net = _saved(tmp_path)
    loaded, card = checkpoint.load_model(folder)
    assert isinstance(loaded, DFNet)
    for (name, a), (_, b) in zip(net.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    assert (card.identities, card.consent_ids, card.iterations) == (["a", "b"], ["c-1"], 1)
    assert set(card.files) == {"model.safetensors", "optimizer.safetensors",
                               "train_state.json"}
    optimizer, trainer = checkpoint.load_train_state(folder)
    assert trainer == {"batch_size": 4}
    assert optimizer["state"] and all(isinstance(k, int) for k in optimizer["state"])
    restored = torch.optim.Adam(loaded.parameters())
    restored.load_state_dict(optimizer)
    assert float(restored.state_dict()["state"][0]["step"]) == 1.0


def test_save_keeps_previous_checkpoint_and_card_hash_tracks_changes(tmp_path: Path) -> None:
    folder, net = _saved(tmp_path)
    first_hash = checkpoint.card_sha256(folder)
    checkpoint.save_checkpoint(folder, net, _card(iterations=7))
    assert checkpoint.load_card(folder / "previous").iterations == 1
    assert checkpoint.load_card(folder).iterations == 7
    assert checkpoint.card_sha256(folder) != first_hash
    assert checkpoint.load_train_state(folder) is None  # weights-only save drops stale state
    assert not (folder / "optimizer.safetensors").exists()


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_damaged_weights_are_refused_naming_the_file(tmp_path: Path, damage: str) -> None:
    folder, _ = _saved(tmp_path)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    if damage == "truncate":
        weights.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        weights.write_bytes(data[:-10] + bytes(b ^ 0xFF for b in data[-10:]))
    else:
        weights.unlink()
    with pytest.raises(ModelFileError) as info:
        checkpoint.load_model(folder)
    assert str(info.value).startswith(f"{weights}: ")


def test_safetensors_garbage_listed_in_card_is_refused(tmp_path: Path) -> None:
    folder, _ = _saved(tmp_path)
    garbage = b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all"
    (folder / "model.safetensors").write_bytes(garbage)
    card = json.loads((folder / "card.json").read_text())
    card["files"]["model.safetensors"] = hashlib.sha256(garbage).hexdigest()
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="not a valid safetensors file"):
        checkpoint.load_model(folder)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda c: c.update(architecture="faceswap.nope"), "unknown model architecture"),
    (lambda c: c.update(architecture="os.system"), "unknown model architecture"),
    (lambda c: c.update(format_version=99), "newer DeepStudio"),
    (lambda c: c.pop("kwargs"), "'kwargs' is missing"),
    (lambda c: c["kwargs"].update(resolution=33), "invalid settings"),
])
def test_bad_cards_are_refused(tmp_path: Path, edit, message: str) -> None:
    folder, _ = _saved(tmp_path)
    card = json.loads((folder / "card.json").read_text())
    edit(card)
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match=message):
        checkpoint.load_model(folder)


def test_unreadable_card_and_missing_folder(tmp_path: Path) -> None:
    folder, _ = _saved(tmp_path)
    (folder / "card.json").write_text("{trunc")
    with pytest.raises(ModelFileError, match="not JSON"):
        checkpoint.load_card(folder)
    with pytest.raises(ModelFileError, match="model folder not found"):
        checkpoint.load_model(tmp_path / "absent.dsmodel")


def test_interrupted_save_resumes_from_previous(tmp_path: Path) -> None:
    folder, net = _saved(tmp_path)
    checkpoint.save_checkpoint(folder, net, _card(iterations=2),
                               torch.optim.Adam(net.parameters()).state_dict(), {})
    # A kill after the new weights landed but before the new card: weights and card disagree.
    with torch.no_grad():
        next(net.parameters()).add_(1.0)
    shutil.copy(folder / "card.json", tmp_path / "card.keep")
    checkpoint.save_checkpoint(folder, net, _card(iterations=3))
    shutil.copy(tmp_path / "card.keep", folder / "card.json")
    with pytest.raises(ModelFileError, match=r"does not match card\.json"):
        checkpoint.verify_checkpoint(folder)
    _, card = checkpoint.load_model(folder)  # the model still loads: the checkpoint before
    assert card.iterations == 2
    assert checkpoint.resumable_dir(folder) == folder / "previous"
    assert checkpoint.resumable_dir(tmp_path / "new.dsmodel") is None
    # A second save cut short the same way must not replace the good backup with the bad one.
    checkpoint.save_checkpoint(folder, net, _card(iterations=4))
    shutil.copy(tmp_path / "card.keep", folder / "card.json")
    assert checkpoint.verify_checkpoint(folder / "previous").iterations == 2
    assert checkpoint.load_model(folder)[1].iterations == 2
