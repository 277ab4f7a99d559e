"""Undo/redo stacks, the saved point behind the title's unsaved marker, and listeners."""

from __future__ import annotations

import pytest

from deepstudio.core.commands import ChangeSet, CommandError, MoveClip, RenameProject
from deepstudio.core.history import History
from deepstudio.core.project import Project
from deepstudio.types import Id


def test_undo_redo_and_texts(project: Project) -> None:
    history = History(project)
    assert not history.can_undo and not history.can_redo and history.undo_text == ""
    history.do(RenameProject("One"))
    history.do(MoveClip(Id("c2"), start=70))
    assert history.undo_text == "Move clip"
    history.undo()
    assert project.clip(Id("c2")).start == 60
    assert history.undo_text == "Rename project" and history.redo_text == "Move clip"
    history.redo()
    assert project.clip(Id("c2")).start == 70
    assert not history.can_redo
    with pytest.raises(IndexError):
        history.redo()


def test_new_command_drops_redo_branch(project: Project) -> None:
    history = History(project)
    history.do(RenameProject("One"))
    history.undo()
    history.do(RenameProject("Two"))
    assert not history.can_redo and project.name == "Two"


def test_refused_command_is_not_recorded(project: Project) -> None:
    history = History(project)
    with pytest.raises(CommandError):
        history.do(MoveClip(Id("c2"), start=45))
    assert not history.can_undo and history.clean


def test_clean_follows_the_saved_point(project: Project) -> None:
    history = History(project)
    assert history.clean
    history.do(RenameProject("One"))
    assert not history.clean
    history.mark_saved()
    assert history.clean
    history.do(RenameProject("Two"))
    history.undo()
    assert history.clean  # back at the saved state
    history.undo()
    assert not history.clean
    history.do(RenameProject("Three"))  # the saved state is now unreachable
    assert not history.clean
    history.undo()
    assert not history.clean


def test_limit_drops_oldest_steps(project: Project) -> None:
    history = History(project, limit=2)
    for name in ("A", "B", "C"):
        history.do(RenameProject(name))
    history.undo()
    history.undo()
    assert not history.can_undo and project.name == "A"
    assert not history.clean  # the original state fell off the stack


def test_listeners_receive_every_change_set(project: Project) -> None:
    history = History(project)
    seen: list[ChangeSet] = []
    history.add_listener(seen.append)
    history.do(MoveClip(Id("c1"), track_id=Id("V2")))
    history.undo()
    history.redo()
    assert len(seen) == 3
    assert all(cs.clips == {"c1"} and cs.tracks == {"V1", "V2"} for cs in seen)
    history.remove_listener(seen.append)
    history.undo()
    assert len(seen) == 3
