"""Project folders: round trip, relative paths, backups, refusal to overwrite what cannot be
read, migrations, crash safety and autosave recovery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deepstudio.core.commands import AddConsent, AddIdentity, AddMedia, AddTrack, RenameProject
from deepstudio.core.history import History
from deepstudio.core.project import SCHEMA_VERSION, ConsentRecord, Identity, MediaItem, Project
from deepstudio.core.project import Track as TimelineTrack
from deepstudio.errors import ProjectError
from deepstudio.persistence import project_store as store
from deepstudio.persistence.project_store import (
    ProjectPaths,
    create_project,
    discard_autosave,
    load_project,
    project_folder_for,
    recoverable_autosave,
    resolve_media_path,
    save_project,
    write_autosave,
)
from deepstudio.types import Id

REPO = Path(__file__).resolve().parents[2]


def media_item(mid: str, path: str | Path) -> MediaItem:
    return MediaItem(Id(mid), str(path), f"hash-{mid}", 2.0, 50, 25, 1, 64, 48, True, True)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = project_folder_for(tmp_path / "work", "Film: take/1")
    create_project(folder, "Film")
    return folder


def edited(project: Project, *media: MediaItem) -> Project:
    history = History(project)
    for item in media:
        history.do(AddMedia(item))
    history.do(AddTrack(TimelineTrack(Id("V1"), "video", "Video 1")))
    history.do(AddIdentity(Identity(Id("i1"), "Anna")))
    history.do(AddConsent(Id("i1"), ConsentRecord(Id("k1"), "Anna", "Me", "2024-01-01",
                                                  ["swap"], evidence="consent/anna.pdf")))
    return project


def test_create_makes_the_folder_layout(folder: Path) -> None:
    assert folder.name == "Film_ take_1.dstudio"
    for name in ("cache", "facesets", "models", "jobs", "renders"):
        assert (folder / name).is_dir()
    assert load_project(folder).name == "Film"
    with pytest.raises(ProjectError, match="already holds a project"):
        create_project(folder, "Again")


def test_round_trip(folder: Path) -> None:
    project = edited(load_project(folder), media_item("m1", "footage/a.mp4"))
    save_project(project, folder)
    assert load_project(folder) == project


def test_media_paths_relative_inside_and_beside_absolute_far(tmp_path: Path) -> None:
    folder = tmp_path / "work" / "Film.dstudio"
    create_project(folder, "Film")
    inside = folder / "imported" / "a.mp4"
    beside = tmp_path / "work" / "footage" / "b.mp4"
    far = tmp_path / "elsewhere" / "deep" / "c.mp4"
    project = edited(load_project(folder), media_item("m1", inside), media_item("m2", beside),
                     media_item("m3", far))
    save_project(project, folder)
    loaded = load_project(folder)
    assert [m.path for m in loaded.media.values()] == [
        "imported/a.mp4", "../footage/b.mp4", str(far)]
    paths = ProjectPaths(folder)
    assert [resolve_media_path(paths, m) for m in loaded.media.values()] == [inside, beside, far]
    assert loaded.identities[Id("i1")].consents[0].evidence == "consent/anna.pdf"


def test_save_as_rebases_relative_paths(tmp_path: Path, folder: Path) -> None:
    project = edited(load_project(folder), media_item("m1", "../footage/a.mp4"))
    original = ProjectPaths(folder).resolve("../footage/a.mp4")
    copy_folder = tmp_path / "other" / "place" / "Copy.dstudio"
    save_project(project, copy_folder, from_folder=folder)
    moved = load_project(copy_folder)
    assert resolve_media_path(ProjectPaths(copy_folder), moved.media[Id("m1")]) == original
    assert (copy_folder / "renders").is_dir()


def test_backups_rotate_and_keep_five(folder: Path) -> None:
    project = load_project(folder)
    for i in range(7):
        RenameProject(f"v{i}").apply(project)
        save_project(project, folder)
    paths = ProjectPaths(folder)
    names = [load_project_file(paths.backup(n)) for n in range(1, 6)]
    assert names == ["v5", "v4", "v3", "v2", "v1"]
    assert not paths.backup(6).exists()
    save_project(project, folder)  # nothing changed: no new backup
    assert load_project_file(paths.backup(1)) == "v5"


def load_project_file(path: Path) -> str:
    return Project.from_dict(json.loads(path.read_text())).name


@pytest.mark.parametrize(("content", "problem"), [
    (b'{"schema_version": 1, "name": ', "corrupt (Expecting value at line 1 column 31)"),
    (b"\xff\xfe\x00garbage", "corrupt (not UTF-8 text)"),
    (b"[1, 2]", "corrupt (not a JSON object)"),
    (b'{"name": "x"}', "corrupt (schema_version is None)"),
    (b'{"schema_version": 99, "name": "x"}', "written by a newer DeepStudio (schema 99"),
])
def test_unreadable_file_is_refused_and_never_overwritten(
        folder: Path, content: bytes, problem: str) -> None:
    project_file = folder / "project.json"
    project_file.write_bytes(content)
    with pytest.raises(ProjectError) as info:
        load_project(folder)
    message = str(info.value)
    assert message.startswith(f"{project_file}: {problem}") and "\n" not in message
    with pytest.raises(ProjectError, match="not overwriting it"):
        save_project(Project("Replacement"), folder)
    assert project_file.read_bytes() == content
    assert not ProjectPaths(folder).backup(1).exists()


def test_invalid_document_names_the_problem(folder: Path) -> None:
    (folder / "project.json").write_text('{"schema_version": 1, "tracks": []}')
    with pytest.raises(ProjectError, match="invalid project \\(missing field 'name'\\)"):
        load_project(folder)


def test_missing_project(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="not a DeepStudio project"):
        load_project(tmp_path)


def test_stepwise_migration_from_fake_v0(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "MIGRATIONS", dict(store.MIGRATIONS))
    (folder / "project.json").write_text(
        '{"schema_version": 0, "title": "Old film", "clips": []}')
    with pytest.raises(ProjectError, match="schema 0 is too old"):
        load_project(folder)

    @store.migration(0)
    def _v0_to_v1(data: dict) -> dict:  # v0 called the name "title" and had no tracks
        data["name"] = data.pop("title")
        data.pop("clips")
        data["tracks"] = []
        return data

    with pytest.raises(ValueError, match="already exists"):
        store.migration(0)(_v0_to_v1)
    project = load_project(folder)
    assert project.name == "Old film" and project.schema_version == SCHEMA_VERSION
    save_project(project, folder)
    assert f'"schema_version": {SCHEMA_VERSION}' in (folder / "project.json").read_text()
    assert '"schema_version": 0' in ProjectPaths(folder).backup(1).read_text()


def test_failed_serialisation_leaves_everything_as_it_was(folder: Path) -> None:
    project = edited(load_project(folder))
    save_project(project, folder)
    before = sorted(p.name for p in folder.iterdir())
    saved = (folder / "project.json").read_bytes()
    project.identities[Id("i1")].consents[0].evidence = object()  # type: ignore[assignment]
    with pytest.raises(TypeError):
        save_project(project, folder)
    assert (folder / "project.json").read_bytes() == saved
    assert sorted(p.name for p in folder.iterdir()) == before  # no temp file, no new backup


def test_failed_replace_leaves_old_file_and_no_temp(folder: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    saved = (folder / "project.json").read_bytes()

    def refuse(src: str, dst: str) -> None:
        if str(dst).endswith("project.json"):
            raise OSError(28, "No space left on device")
        os.rename(src, dst)

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ProjectError, match="cannot save \\(no space left on the file system at"):
        save_project(Project("New name"), folder)
    assert (folder / "project.json").read_bytes() == saved
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


KILL_LOOP = """
import sys
from deepstudio.core.project import Project, MediaItem
from deepstudio.persistence.project_store import save_project
project = Project("seed")
for i in range(200):
    project.media[f"m{i}"] = MediaItem(f"m{i}", f"f/{i}.mp4", "h" * 64, 1.0, 25, 25, 1, 8, 8,
                                       True, False)
i = 1
project.name = "save 1"
save_project(project, sys.argv[1])
print("ready", flush=True)  # one save done: the kill below lands in a later one
while True:
    i += 1
    project.name = f"save {i}"
    save_project(project, sys.argv[1])
"""


def test_killed_while_saving_leaves_a_loadable_project(folder: Path) -> None:
    """SIGKILL a process that saves in a loop; the project must always load."""
    for attempt in range(3):
        child = subprocess.Popen([sys.executable, "-c", KILL_LOOP, str(folder)], cwd=REPO,
                                 stdout=subprocess.PIPE)
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        time.sleep(0.15 + 0.1 * attempt)
        child.send_signal(signal.SIGKILL)
        child.wait()
        project = load_project(folder)
        assert project.name.startswith("save ") and len(project.media) == 200
        for n in range(1, 6):
            backup = ProjectPaths(folder).backup(n)
            if backup.exists():
                load_project_file(backup)


def test_autosave_recovery(folder: Path) -> None:
    assert recoverable_autosave(folder) is None
    project = edited(load_project(folder), media_item("m1", "footage/a.mp4"))
    write_autosave(project, folder)
    paths = ProjectPaths(folder)
    later = paths.project_file.stat().st_mtime_ns + 1_000_000_000
    os.utime(paths.autosave_file, ns=(later, later))
    assert recoverable_autosave(folder) == project
    save_project(project, folder)  # a real save makes the autosave obsolete
    assert not paths.autosave_file.exists() and recoverable_autosave(folder) is None


def test_older_autosave_is_not_offered(folder: Path) -> None:
    write_autosave(Project("Old"), folder)
    paths = ProjectPaths(folder)
    earlier = paths.project_file.stat().st_mtime_ns - 1_000_000_000
    os.utime(paths.autosave_file, ns=(earlier, earlier))
    assert recoverable_autosave(folder) is None
    discard_autosave(folder)
    assert not paths.autosave_file.exists()
    discard_autosave(folder)  # discarding twice is fine


def test_corrupt_autosave_is_ignored(folder: Path) -> None:
    paths = ProjectPaths(folder)
    paths.autosave_file.write_text("{broken")
    later = paths.project_file.stat().st_mtime_ns + 1_000_000_000
    os.utime(paths.autosave_file, ns=(later, later))
    assert recoverable_autosave(folder) is None


def test_schema_1_projects_gain_stored_rate_time_positions_and_linked_sound(
        folder: Path) -> None:
    """A schema-1 file: a 25 fps clip with sound, then a 30 fps clip (stretched in schema 1:
    one media frame per timeline frame), an audio track with a dialogue clip."""
    def media(mid: str, fps: int, frames: int, audio: bool = True, video: bool = True) -> dict:
        return {"id": mid, "path": f"{mid}.mp4", "content_hash": mid, "duration_s": frames / fps,
                "frame_count": frames if video else 0, "fps_num": fps, "fps_den": 1,
                "width": 64, "height": 64, "has_video": video, "has_audio": audio}

    v1 = {"schema_version": 1, "name": "Old", "media": [
        media("m25", 25, 100), media("m30", 30, 184), media("wav", 25, 100, video=False)],
        "tracks": [
            {"id": "V1", "kind": "video", "name": "V1", "clips": [
                {"id": "a", "media_id": "m25", "start": 0, "in_frame": 0, "out_frame": 100,
                 "gain_db": -3.0},
                {"id": "b", "media_id": "m30", "start": 100, "in_frame": 30, "out_frame": 184}]},
            {"id": "A1", "kind": "audio", "name": "A1", "clips": [
                {"id": "d", "media_id": "wav", "start": 50, "in_frame": 0, "out_frame": 80}]}],
        "effects": [], "identities": [], "models": []}
    (folder / "project.json").write_text(json.dumps(v1))
    project = load_project(folder)
    assert project.fps == 25
    a, b = project.clip("a"), project.clip("b")
    assert (b.start, b.in_frame, b.out_frame) == (100, 25, 25 + 128)  # 1 s in, 154 frames max
    assert a.gain_db == 0.0 and a.link is not None and b.link is not None
    [(track_a, sound_a)] = project.linked(a)
    [(track_b, sound_b)] = project.linked(b)
    assert sound_a.gain_db == -3.0 and (sound_a.start, sound_a.in_frame) == (0, 0)
    assert (sound_b.start, sound_b.in_frame, sound_b.out_frame) == (100, 25, 153)
    # the dialogue on A1 overlaps both, so the linked sound goes to a new audio track
    assert track_a.id == track_b.id != "A1" and track_a.kind == "audio"


def test_a_saved_project_carries_a_manifest_named_after_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "My Film.dstudio"
    create_project(folder, "My Film")
    manifest = folder / "My Film.dstudio-project"
    assert ProjectPaths(folder).manifest_file == manifest
    assert json.loads(manifest.read_text("utf-8"))["format"] == "deepstudio-project"
    renamed = folder.rename(tmp_path / "Final Cut.dstudio")
    save_project(load_project(renamed), renamed)
    assert [p.name for p in renamed.glob("*.dstudio-project")] == ["Final Cut.dstudio-project"]


def test_a_manifest_or_project_file_names_its_project_folder(folder: Path) -> None:
    paths = ProjectPaths(folder)
    assert store.project_folder_of(paths.manifest_file) == paths.folder
    assert store.project_folder_of(paths.project_file) == paths.folder
    assert store.project_folder_of(folder) == folder
