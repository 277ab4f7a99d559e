"""Hostile files: model folders and projects made to run code, exhaust memory or write outside
the project. Each is refused with a one-line error naming the file; nothing runs, nothing is
written outside the project."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import struct
import zipfile
from pathlib import Path

import pytest
import torch

from deepstudio.cli.main import main
from deepstudio.core.project import Project
from deepstudio.errors import ModelFileError, ProjectError
from deepstudio.models import checkpoint
from deepstudio.models.lipsync.inference import LipSyncer
from deepstudio.models.lipsync.networks import LipSyncModel
from deepstudio.models.lipsync.original_checkpoints import read_original_state_dict
from deepstudio.persistence.project_store import create_project, load_project, save_project
from deepstudio.session import Session


class Payload:
    """Unpickling this calls ``os.system``: it touches the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "pwned"
    path.parent.mkdir()
    return path


def _evil_pth(folder: Path, marker: Path, zipped: bool) -> Path:
    """A .pth whose pickle runs a shell command when loaded without weights_only."""
    path = folder / ("zip.pth" if zipped else "legacy.pth")
    state = {"state_dict": {"face_decoder_blocks.0.weight": torch.zeros(2)},
             "optimizer": Payload(marker)}
    torch.save(state, path, _use_new_zipfile_serialization=zipped)
    return path


@pytest.mark.parametrize("zipped", [True, False])
def test_a_pickle_bearing_pth_never_runs_its_payload(tmp_path: Path, marker: Path,
                                                     zipped: bool) -> None:
    evil = _evil_pth(tmp_path, marker, zipped)
    if zipped:
        assert zipfile.is_zipfile(evil)
    # the payload is real: a plain unpickler runs it
    torch.load(evil, weights_only=False)
    assert marker.exists()
    marker.unlink()

    with pytest.raises(ModelFileError, match=rf"{evil.name}: not a loadable PyTorch weights"):
        read_original_state_dict(evil)
    with pytest.raises(ModelFileError, match=evil.name):
        LipSyncer(evil, device="cpu")
    assert not marker.exists()


def test_a_model_folder_holding_only_a_pickle_is_refused(tmp_path: Path, marker: Path) -> None:
    folder = tmp_path / "evil.dsmodel"
    folder.mkdir()
    with (folder / "model.pth").open("wb") as fh:
        pickle.dump(Payload(marker), fh)
    with pytest.raises(ModelFileError, match=r"card\.json: model card is missing"):
        checkpoint.load_model(folder)
    # a card that lists the pickle does not make it read: weights come from safetensors only
    card = checkpoint.ModelCard("lipsync.wav2lip", {"size": 64, "width": 0.125},
                                files={"model.pth": _sha256((folder / "model.pth").read_bytes())})
    (folder / "card.json").write_text(json.dumps(card.to_json()))
    with pytest.raises(ModelFileError, match=r"model.safetensors: file is missing"):
        checkpoint.load_model(folder)
    assert not marker.exists()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _model_folder(folder: Path, weights: bytes, kwargs: dict | None = None) -> Path:
    """A model folder whose card matches ``weights`` byte for byte (an attacker writes both)."""
    folder.mkdir()
    (folder / checkpoint.WEIGHTS).write_bytes(weights)
    card = checkpoint.ModelCard("lipsync.wav2lip",
                                kwargs or {"size": 64, "width": 0.125, "channel_order": "rgb"},
                                files={checkpoint.WEIGHTS: _sha256(weights)})
    (folder / checkpoint.CARD).write_text(json.dumps(card.to_json()))
    return folder


def _safetensors(header: dict, data: bytes, length: int | None = None) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


@pytest.mark.parametrize("name,weights", [
    # a tensor said to be 4 TB, backed by 16 bytes
    ("huge-shape", _safetensors({"generator.x": {"dtype": "F32", "shape": [2**20, 2**20],
                                                 "data_offsets": [0, 2**42]}}, bytes(16))),
    # offsets past the end of the file
    ("offsets-past-end", _safetensors({"generator.x": {"dtype": "F32", "shape": [4],
                                                       "data_offsets": [0, 16]}}, bytes(4))),
    # shape and byte span disagree
    ("shape-vs-span", _safetensors({"generator.x": {"dtype": "F32", "shape": [1000],
                                                    "data_offsets": [0, 16]}}, bytes(16))),
    # a header length of 2**62 bytes
    ("header-length", _safetensors({}, bytes(16), length=2**62)),
])
def test_a_safetensors_header_that_lies_about_sizes_is_refused(tmp_path: Path, name: str,
                                                               weights: bytes) -> None:
    folder = _model_folder(tmp_path / f"{name}.dsmodel", weights)
    with pytest.raises(ModelFileError, match=r"model.safetensors: not a valid safetensors"):
        checkpoint.load_model(folder)


@pytest.mark.parametrize("architecture,kwargs,words", [
    ("lipsync.wav2lip", {"size": 2**20, "width": 1.0}, "face size"),
    ("lipsync.wav2lip", {"size": 96, "width": 1e9}, "width"),
    ("lipsync.wav2lip", {"size": -96, "width": 1.0}, "face size"),
    ("lipsync.wav2lip", {"size": "96", "width": 1.0}, "invalid settings"),
    ("faceswap.df", {"resolution": 64, "e_ch": 8, "ae_dims": 20_000, "d_ch": 8}, "values"),
    ("faceswap.df", {"resolution": 64, "e_ch": 8, "ae_dims": 10**9, "d_ch": 8},
     "invalid settings"),
    ("faceswap.df", {"resolution": 64, "e_ch": -8, "ae_dims": 32, "d_ch": 8},
     "invalid settings"),
    ("faceswap.liae", {"resolution": 2**30}, "resolution"),
])
def test_a_model_card_with_absurd_shapes_is_refused_before_allocating(
        tmp_path: Path, architecture: str, kwargs: dict, words: str) -> None:
    import resource

    folder = _model_folder(tmp_path / "absurd.dsmodel", b"", kwargs)
    card = json.loads((folder / "card.json").read_text())
    card["architecture"] = architecture
    (folder / "card.json").write_text(json.dumps(card))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ModelFileError, match=rf"card.json: .*{words}"):
        checkpoint.load_model(folder)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 512 * 1024  # KiB


def test_a_sound_model_card_still_loads(tmp_path: Path) -> None:
    model = LipSyncModel(64, 0.125)
    checkpoint.save_checkpoint(tmp_path / "ok.dsmodel", model,
                               checkpoint.ModelCard("lipsync.wav2lip", model.card_kwargs()))
    loaded, _ = checkpoint.load_model(tmp_path / "ok.dsmodel")
    assert isinstance(loaded, LipSyncModel)


# -- projects --------------------------------------------------------------------------------

@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "work" / "Film.dstudio"
    create_project(folder, "Film")
    return folder


def _media(path: str, content_hash: str = "0" * 32) -> dict:
    return {"id": "m1", "path": path, "content_hash": content_hash, "duration_s": 1.0,
            "frame_count": 25, "fps_num": 25, "fps_den": 1, "width": 64, "height": 48,
            "has_video": True, "has_audio": False}


def _edit(project: Path, *media: dict) -> None:
    data = json.loads((project / "project.json").read_text())
    data["media"] = list(media)
    (project / "project.json").write_text(json.dumps(data))


def _listing(root: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*")}


def test_media_paths_climbing_out_of_the_project_are_refused(project: Path,
                                                             capsys) -> None:
    _edit(project, _media("../../../../etc/passwd"))
    with pytest.raises(ProjectError, match=r"project.json: invalid project \(media m1: path "
                                           r"'../../../../etc/passwd' climbs out"):
        load_project(project)
    assert main(["render", str(project), "-o", str(project.parent / "out.mp4"), "-q"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert str(project / "project.json") in line and "Traceback" not in line


def test_a_content_hash_that_is_a_path_is_refused(project: Path) -> None:
    """The hash names the media's cache and proxy files: as a path it would write elsewhere."""
    _edit(project, _media("footage.mp4", content_hash="../../../../tmp/escape"))
    with pytest.raises(ProjectError, match=r"content hash '../../../../tmp/escape' is not a"):
        Session.open(project)


def test_absolute_media_outside_is_only_read(project: Path, tmp_path: Path) -> None:
    """Footage elsewhere is stored with an absolute path (the normal case); a project that
    points at a non-video file or a folder outside gets a clear error when it is used, and
    opening, saving and autosaving write nothing outside the project."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "notes.txt").write_text("not a video\n")
    _edit(project, _media(str(outside / "notes.txt")), {**_media(str(outside)), "id": "m2"})
    before = _listing(outside)
    session = Session.open(project)
    try:
        assert session.media_path("m1") == outside / "notes.txt"
        from deepstudio.errors import MediaError
        from deepstudio.media.probe import probe

        with pytest.raises(MediaError, match=r"notes.txt: not a media file"):
            probe(session.media_path("m1"))
        with pytest.raises(MediaError, match=r"outside: not a regular file"):
            probe(session.media_path("m2"))
        session.save()
        session.write_autosave()
    finally:
        session.close()
    assert _listing(outside) == before
    assert load_project(project).media["m1"].path == str(outside / "notes.txt")


def test_a_200_mb_project_file_is_refused_without_reading_it(project: Path) -> None:
    import resource

    with (project / "project.json").open("r+b") as fh:
        fh.truncate(200 * 2**20)  # sparse: 200 MB that cost no disk
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ProjectError, match=r"project.json: too large to be a project \(200 MiB"):
        load_project(project)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # KiB
    with pytest.raises(ProjectError, match=r"too large .* not overwriting it"):
        save_project(Project("x"), project)


def test_a_deeply_nested_project_file_is_refused(project: Path) -> None:
    (project / "project.json").write_text('{"schema_version": 1, "x": ' + "[" * 100_000
                                          + "]" * 100_000 + "}")
    with pytest.raises(ProjectError, match=r"nested too deeply"):
        load_project(project)


@pytest.mark.parametrize("entry", ["models", "cache", "renders", "project.json"])
def test_links_out_of_the_project_are_refused(project: Path, tmp_path: Path,
                                              entry: str) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    target = project / entry
    if entry == "project.json":
        (outside / "project.json").write_bytes(target.read_bytes())
        target.unlink()
        target.symlink_to(outside / "project.json")
    else:
        target.rmdir()
        target.symlink_to(outside, target_is_directory=True)
    before = _listing(outside)
    with pytest.raises(ProjectError, match=rf"Film.dstudio: {entry} is a link to .*elsewhere"):
        load_project(project)
    with pytest.raises(ProjectError, match=r"outside the project"):
        save_project(Project("x"), project)
    assert _listing(outside) == before


def test_links_inside_the_project_are_fine(project: Path) -> None:
    (project / "renders").rmdir()
    (project / "exports").mkdir()
    (project / "renders").symlink_to(project / "exports", target_is_directory=True)
    assert load_project(project).name == "Film"
