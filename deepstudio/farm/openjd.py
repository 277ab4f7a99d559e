"""Open Job Description job bundles: a render, or a whole batch, as a job a studio farm runs.

Each render becomes two steps: ``render-N-chunks`` with one task per chunk (``deepstudio farm
chunk PLAN --index K``), and ``render-N-finish``, which depends on it and joins, muxes the
audio and signs (``deepstudio farm finish PLAN``). The plans were written beforehand into work
folders on shared storage (see :mod:`deepstudio.farm.plan_file`); the tasks only read them.
The bundle is a folder holding ``template.json`` (specification ``jobtemplate-2023-09``), which
AWS Deadline Cloud submits as it is (``deadline bundle submit BUNDLE``) and ``openjd run``
executes locally.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deepstudio.persistence.atomic import atomic_write_json

SPECIFICATION = "jobtemplate-2023-09"
COMMAND_PARAMETER = "DeepStudio"
NAME_LIMIT = 64


def job_template(renders: list[tuple[str, Path, int]], name: str | None = None
                 ) -> dict[str, Any]:
    """The template running ``renders``: (title, plan file, chunk count) each."""
    steps: list[dict[str, Any]] = []
    for number, (_title, plan_file, chunks) in enumerate(renders, start=1):
        chunk_step = f"render-{number}-chunks"
        steps.append({
            "name": chunk_step,
            "parameterSpace": {"taskParameterDefinitions": [
                {"name": "Chunk", "type": "INT", "range": f"0-{chunks - 1}"}]},
            "script": _run("farm", "chunk", str(plan_file), "--index", "{{Task.Param.Chunk}}"),
        })
        steps.append({
            "name": f"render-{number}-finish",
            "dependencies": [{"dependsOn": chunk_step}],
            "script": _run("farm", "finish", str(plan_file)),
        })
    title = name or (renders[0][0] if len(renders) == 1 else f"batch of {len(renders)} renders")
    return {
        "specificationVersion": SPECIFICATION,
        "name": f"DeepStudio: {title}"[:NAME_LIMIT],
        "parameterDefinitions": [{
            "name": COMMAND_PARAMETER, "type": "STRING", "default": "deepstudio",
            "description": "The deepstudio command on the workers (the same version that "
                           "planned the job)"}],
        "steps": steps,
    }


def _run(*args: str) -> dict[str, Any]:
    return {"actions": {"onRun": {"command": f"{{{{Param.{COMMAND_PARAMETER}}}}}",
                                  "args": [*args, "--quiet"]}}}


def write_bundle(folder: Path, renders: list[tuple[str, Path, int]],
                 name: str | None = None) -> Path:
    """Write the job bundle folder (``template.json``); returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / "template.json", job_template(renders, name))
    return folder
