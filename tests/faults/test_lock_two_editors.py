"""Two editors on one project: the second is told, and no command's update is lost.

The GUI side (the dialog, read-only mode) is in tests/qt/test_two_editors.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from dataclasses import asdict
from pathlib import Path

import pytest

from deepstudio.cli.main import main
from deepstudio.errors import ProjectError
from deepstudio.persistence.project_lock import (
    LOCK_FILE,
    LockHolder,
    ProjectLock,
    ProjectLockedError,
    read_holder,
)
from deepstudio.persistence.project_store import load_project
from deepstudio.session import Session

REPO = Path(__file__).resolve().parents[2]

HOLDER = textwrap.dedent("""
    import sys, time
    from deepstudio.session import Session
    session = Session.open(sys.argv[1])
    print("holding", flush=True)
    time.sleep(600)
""")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "Shared.dstudio"
    Session.create(folder, "Shared").close()
    return folder


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _hold_in_another_process(project: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(project)], env=_env(),
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def _deepstudio(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deepstudio", *args], env=_env(),
                          capture_output=True, text=True, timeout=300)


def test_second_open_in_the_same_process_is_refused_read_only_allowed(project):
    first = Session.open(project)
    try:
        with pytest.raises(ProjectLockedError) as caught:
            Session.open(project)
        holder = caught.value.holder
        assert holder is not None and holder.pid == os.getpid()
        assert "is already open in the DeepStudio editor" in str(caught.value)
        viewer = Session.open(project, read_only=True)
        try:
            assert viewer.read_only and viewer.lock is None
            viewer.write_autosave()  # a no-op, never an error
            with pytest.raises(ProjectError, match="read-only"):
                viewer.save()
        finally:
            viewer.close()
        assert read_holder(project).pid == os.getpid()  # the viewer left the lock alone
    finally:
        first.close()
    assert not (project / LOCK_FILE).exists()
    Session.open(project).close()  # free again


def test_cli_edit_of_a_project_open_in_another_process_fails_in_one_line(project):
    holder = _hold_in_another_process(project)
    try:
        done = _deepstudio("consent", "add", str(project), "--identity", "Ada",
                           "--recorded-by", "Me", "--scope", "train")
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert f"pid {holder.pid}" in done.stderr and "already open" in done.stderr
        assert not load_project(project).identities
    finally:
        holder.kill()
        holder.wait()
    # Killed with SIGKILL, the holder could not remove its lock: it is stale now.
    assert read_holder(project).pid == holder.pid
    done = _deepstudio("consent", "add", str(project), "--identity", "Ada",
                       "--recorded-by", "Me", "--scope", "train")
    assert done.returncode == 0, done.stderr
    assert [i.name for i in load_project(project).identities.values()] == ["Ada"]


def test_stale_lock_of_a_gone_or_reused_pid_is_taken_over(project):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    mine = LockHolder.of_this_process("x")
    for pid, start in ((gone.pid, None), (os.getppid(), "1")):  # dead; alive, wrong start
        stale = LockHolder(pid, socket.gethostname(), start, "the DeepStudio editor", "u",
                           "2026-01-01 00:00:00")
        (project / LOCK_FILE).write_text(json.dumps(asdict(stale)))
        assert stale.is_stale()
        with ProjectLock.acquire(project):
            assert read_holder(project).pid == mine.pid


def test_lock_from_another_host_is_reported_with_how_to_clear_it(project):
    remote = LockHolder(4242, "render-node-7", "99", "the DeepStudio editor", "ana",
                        "2026-01-01 09:00:00")
    (project / LOCK_FILE).write_text(json.dumps(asdict(remote)))
    with pytest.raises(ProjectLockedError) as caught:
        Session.open(project)
    message = str(caught.value)
    assert "host render-node-7" in message and "user ana" in message
    assert f"delete {project / LOCK_FILE}" in message
    (project / LOCK_FILE).unlink()
    Session.open(project).close()


def test_concurrent_cli_commands_lose_no_update(project):
    """Six commands changing one project at once: each waits for the lock in turn."""
    names = [f"Person {k}" for k in range(6)]
    procs = [subprocess.Popen([sys.executable, "-m", "deepstudio", "consent", "add",
                               str(project), "--identity", name, "--recorded-by", "Me",
                               "--scope", "train"],
                              env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for name in names]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    saved = sorted(i.name for i in load_project(project).identities.values())
    assert saved == names


def test_a_command_does_not_wait_for_an_editor(project, capsys):
    editor = Session.open(project)
    try:
        assert main(["identity", "add", str(project), "Ada"]) == 2
        err = capsys.readouterr().err
        assert "the DeepStudio editor" in err and err.count("\n") == 1
    finally:
        editor.close()


def test_reading_commands_work_while_the_editor_holds_the_lock(project, capsys):
    editor = Session.open(project)
    try:
        assert main(["consent", "list", str(project)]) == 0
        assert "no consent records" in capsys.readouterr().out
    finally:
        editor.close()
