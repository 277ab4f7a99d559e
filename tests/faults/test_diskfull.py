"""Disk full: saves, renders, checkpoints and caches on a small tmpfs that fills up midway.

Each must fail with one line that names the full file system (CLI exit code 2), leave nothing
half-written under a final name, and leave the previous project, model or faceset intact.
The tests mount their own tmpfs (root); where mounting is not permitted they are skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from deepstudio.cli.main import main
from deepstudio.core.commands import AddIdentity
from deepstudio.core.project import Identity
from deepstudio.errors import DiskFullError, ProjectError
from deepstudio.persistence.project_store import load_project
from deepstudio.session import Session
from deepstudio.types import new_id

CLIP = "talk_b.mp4"


@pytest.fixture
def small_disk(tmp_path: Path):
    """A function mounting a tmpfs of ``size_mb`` under tmp_path (unmounted afterwards)."""
    mounted: list[Path] = []

    def mount(size_mb: int) -> Path:
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs",
                               str(point)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'not root'})")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` with a file until only about ``leave`` bytes are free."""
    filler = disk / "filler.bin"
    block = b"\0" * (1 << 20)
    with filler.open("ab") as out:
        while (free := shutil.disk_usage(disk).free) > leave:
            out.write(block[:min(len(block), free - leave)])
            out.flush()
    return filler


def one_line_naming(err: str, disk: Path) -> None:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"no space left on the file system at {disk}" in err, err


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".tmp" in p.name or "partial" in p.name)


def test_save_and_autosave_on_a_full_disk(small_disk, capsys):
    disk = small_disk(4)
    folder = disk / "Big.dstudio"
    session = Session.create(folder, "Big")
    for k in range(1500):  # a project file of ~250 KB
        session.do(AddIdentity(Identity(new_id("identity"), f"Person {k}")))
    session.save()
    session.close()
    before = (folder / "project.json").read_bytes()
    fill(disk, 64 * 1024)

    assert main(["identity", "add", str(folder), "Latecomer"]) == 2
    one_line_naming(capsys.readouterr().err, disk)
    assert (folder / "project.json").read_bytes() == before
    assert len(load_project(folder).identities) == 1500

    session = Session.open(folder)
    try:
        session.do(AddIdentity(Identity(new_id("identity"), "Unsaved")))
        with pytest.raises(ProjectError, match=f"no space left on the file system at {disk}"):
            session.write_autosave()
        assert not (folder / "project.autosave.json").exists()
    finally:
        session.close()
    assert (folder / "project.json").read_bytes() == before
    assert leftovers(folder) == []


def test_render_on_a_full_disk_fails_cleanly_then_resumes(small_disk, testdata, capsys):
    disk = small_disk(20)
    project = disk / "Film.dstudio"
    Session.create(project, "Film").close()
    assert main(["import", str(project), str(testdata / CLIP), "--no-analyse", "-q"]) == 0
    output = disk / "film.mp4"
    args = ["render", str(project), "-o", str(output), "--chunk-seconds", "1", "-q"]
    assert main(args) == 0
    size = output.stat().st_size
    output.unlink()
    filler = fill(disk, size // 2)  # chunks, joined file and output need ~3x that

    assert main(args) == 2
    one_line_naming(capsys.readouterr().err, disk)
    assert not output.exists()
    assert leftovers(disk) == []
    assert list((project / "jobs").glob("render-*/chunk_*.mp4"))  # finished chunks kept

    filler.unlink()
    assert main(args) == 0
    from deepstudio.media.probe import probe

    info = probe(output)
    assert info.frame_count == 122 and info.has_audio


def _identities(rng: np.random.Generator, size: int = 32):
    from deepstudio.models.faceswap.trainer import IdentityData

    data = []
    for name in ("A", "B"):
        faces = rng.integers(0, 255, (6, size, size, 3), dtype=np.uint8)
        masks = np.ones((6, size, size), np.float32)
        data.append(IdentityData(name, faces, masks, masks.copy()))
    return data


def test_checkpoint_on_a_full_disk_keeps_the_previous_model(small_disk):
    from deepstudio.models import checkpoint
    from deepstudio.models.faceswap.trainer import FaceSwapTrainer, TrainConfig

    disk = small_disk(24)  # a checkpoint here: 2.6 MB of weights, 7.2 MB of optimizer state
    model = disk / "m.dsmodel"
    config = TrainConfig(resolution=32, dims={"e_ch": 8, "ae_dims": 32, "d_ch": 8},
                         batch_size=2, seed=0)
    data = _identities(np.random.default_rng(0))
    FaceSwapTrainer(model, data, config, device="cpu").train(2)
    weights = (model / checkpoint.WEIGHTS).stat().st_size
    fill(disk, weights + weights // 2)  # the new weights fit, the optimizer state does not

    trainer = FaceSwapTrainer(model, data, config, device="cpu")
    with pytest.raises(DiskFullError, match=f"no space left on the file system at {disk}"):
        trainer.train(4)
    _, card = checkpoint.load_model(model)
    assert card.iterations == 2
    assert checkpoint.resumable_dir(model) == model / checkpoint.BACKUP_DIR
    assert leftovers(model) == []


def test_caches_on_a_full_disk(small_disk, testdata, capsys, monkeypatch):
    disk = small_disk(4)
    project = disk / "Cached.dstudio"  # its cache/ holds the proxies
    Session.create(project, "Cached").close()
    assert main(["import", str(project), str(testdata / CLIP), "--no-analyse", "-q"]) == 0
    monkeypatch.setenv("DEEPSTUDIO_CACHE_DIR", str(disk / "user-cache"))
    fill(disk, 16 * 1024)

    assert main(["analyze", str(testdata / CLIP), "-q"]) == 2  # the face analysis cache
    one_line_naming(capsys.readouterr().err, disk)
    assert main(["proxy", str(project), "-q"]) == 2
    one_line_naming(capsys.readouterr().err, disk)
    assert not list(disk.rglob("*.npz")) and not list(disk.rglob("*proxy*"))
    assert leftovers(disk) == []


def test_faceset_extraction_on_a_full_disk_keeps_the_previous_faceset(small_disk, testdata,
                                                                     capsys, monkeypatch,
                                                                     tmp_path):
    from deepstudio.engine.faceset import load_faceset

    monkeypatch.setenv("DEEPSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    disk = small_disk(6)
    out = disk / "Tess"
    args = ["faceset", "extract", str(testdata / CLIP), "--identity", "Tess", "-o", str(out),
            "-q", "--max-faces", "8"]
    assert main(args) == 0
    before = len(load_faceset(out).faces)
    fill(disk, 64 * 1024)
    assert main([*args[:-1], "60"]) == 2
    one_line_naming(capsys.readouterr().err, disk)
    assert len(load_faceset(out).faces) == before
    assert sorted(p.name for p in disk.iterdir()) == ["Tess", "filler.bin"]
