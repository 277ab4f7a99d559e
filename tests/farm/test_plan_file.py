"""Render plans on disk: chunks encoded by separate processes and finished elsewhere make the
same file as one render; a plan that cannot be used says why in one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from deepstudio.cli.main import main
from deepstudio.cli.render import session_for_video
from deepstudio.engine.render import RenderSettings, plan_render
from deepstudio.engine.verify import verify_file
from deepstudio.farm.plan_file import PlanError, read_plan, write_plan
from deepstudio.media.audio import read_audio
from deepstudio.media.decode import VideoReader


def test_a_one_shot_render_finds_its_chunks_when_run_again(index_video, tmp_path):
    """Each run of a one-shot command builds its project with fresh ids: the work folder must
    not depend on them, or a killed render could never resume."""
    folders = set()
    for _ in range(2):
        session = session_for_video(index_video, "debug")
        plan = plan_render(session.render_inputs(), tmp_path / "o.mp4", RenderSettings(),
                           tmp_path / "work")
        folders.add(plan.job_dir)
        session.close()
    assert len(folders) == 1


@pytest.fixture
def written_plan(testdata, tmp_path) -> Path:
    session = session_for_video(testdata / "talk_b.mp4", "none")
    plan = plan_render(session.render_inputs(), tmp_path / "out.mp4",
                       RenderSettings(0, 100, chunk_seconds=1), tmp_path / "work")
    session.close()
    return write_plan(plan)


def test_chunks_encoded_by_separate_commands_join_into_one_render(written_plan, tmp_path,
                                                                  capsys):
    plan = read_plan(written_plan)
    assert [(c.start, c.end) for c in plan.chunks] == [(0, 25), (25, 50), (50, 75), (75, 100)]
    # as the tasks of a farm job would: chunks in any order, some twice, then the finish step
    assert main(["farm", "chunk", str(written_plan), "--index", "3", "1", "-q"]) == 0
    assert main(["farm", "status", str(written_plan.parent)]) == 0
    assert "2 of 4 chunks encoded" in capsys.readouterr().out
    assert main(["farm", "finish", str(written_plan), "-q"]) == 2  # chunks are missing
    assert "chunks [0, 2] of the render are not encoded yet" in capsys.readouterr().err
    assert main(["farm", "chunk", str(written_plan), "--index", "0", "2", "3", "-q"]) == 0
    assert main(["farm", "finish", str(written_plan)]) == 0
    out = tmp_path / "out.mp4"
    with VideoReader(out) as reader:
        assert reader.frame_count == 100
    assert abs(len(read_audio(out)) / 16000 - 4.0) < 0.05
    report = verify_file(out)
    assert report.payload_matches
    assert report.credentials.claim["deepstudio"]["render_id"] == plan.render_id
    assert not written_plan.parent.exists()  # the work folder goes once the render is done


def test_unusable_plans_are_refused_in_one_line(written_plan, tmp_path, capsys):
    with pytest.raises(PlanError, match="no render plan"):
        read_plan(tmp_path / "elsewhere" / "plan.json")
    data = json.loads(written_plan.read_text())
    for change, message in ((("deepstudio", "0.0.1"), "install the same version"),
                            (("format", "x"), "is not a DeepStudio render plan")):
        broken = tmp_path / f"{change[0]}.json"
        broken.write_text(json.dumps({**data, change[0]: change[1]}))
        with pytest.raises(PlanError, match=message):
            read_plan(broken)
    moved = tmp_path / "moved"
    shutil.copytree(written_plan.parent, moved)
    data["media_paths"] = {k: str(tmp_path / "not-mounted.mp4") for k in data["media_paths"]}
    (moved / "plan.json").write_text(json.dumps(data))
    assert main(["farm", "chunk", str(moved), "--index", "0"]) == 2
    error = capsys.readouterr().err.strip()
    assert "not-mounted.mp4: is not reachable" in error and "same path on every machine" in error
    assert "\n" not in error
