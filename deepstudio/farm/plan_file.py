"""A render plan written into its work folder, so that other processes and machines (Ray
workers, the tasks of a studio farm job) can encode its chunks and finish it.

The work folder then holds everything a render needs besides the media and model files:
``plan.json`` (the project, the paths, the settings, the render id) and ``analysis/`` (the face
tracks the effects use). Media, models and the work folder itself must be reachable at the same
paths on every machine: a shared file system, mounted alike everywhere.
"""

from __future__ import annotations

import json
import socket
from dataclasses import asdict
from pathlib import Path
from typing import Any

from deepstudio import __version__
from deepstudio.core.project import Project
from deepstudio.engine.disclosure import LabelSettings
from deepstudio.engine.render import RenderInputs, RenderPlan, RenderSettings, plan_in_folder
from deepstudio.errors import UserError
from deepstudio.media.encode import EncodeSettings
from deepstudio.persistence.atomic import atomic_write_json
from deepstudio.vision.analysis import FaceAnalysis

PLAN_FILE = "plan.json"
FORMAT = "deepstudio-render-plan"
SHARED_PATHS = ("media, models and the work folder must be at the same path on every machine "
                "(a shared file system)")


class PlanError(UserError):
    """A plan file that cannot be used here (missing, damaged, another version, unreachable
    media)."""


def write_plan(plan: RenderPlan) -> Path:
    """Write ``plan`` (and the face analyses it uses) into its work folder; returns the plan
    file. Written atomically, so a reader sees the whole plan or none."""
    inputs = plan.inputs
    analyses = {}
    for media_id, analysis in inputs.analyses.items():
        relative = f"analysis/{media_id}.npz"
        target = plan.job_dir / relative
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            analysis.save(target)
        analyses[media_id] = relative
    document = {
        "format": FORMAT, "deepstudio": __version__, "render_id": plan.render_id,
        "project": inputs.project.to_dict(),
        "media_paths": {k: str(v) for k, v in inputs.media_paths.items()},
        "model_paths": {k: str(v) for k, v in inputs.model_paths.items()},
        "project_folder": str(inputs.project_folder) if inputs.project_folder else None,
        "device": inputs.device, "analyses": analyses, "output": str(plan.output),
        "settings": {**asdict(plan.settings), "start_frame": plan.start, "end_frame": plan.end},
    }
    path = plan.job_dir / PLAN_FILE
    atomic_write_json(path, document)
    return path


def read_plan(path: str | Path) -> RenderPlan:
    """The plan in a work folder (or its plan file); PlanError naming the file when it cannot
    be used on this machine."""
    path = Path(path)
    if path.is_dir():
        path = path / PLAN_FILE
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise PlanError(f"no render plan on {socket.gethostname()} ({SHARED_PATHS})",
                        path) from None
    except (OSError, ValueError) as exc:
        raise PlanError(f"not a readable render plan ({exc})", path) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise PlanError("is not a DeepStudio render plan", path)
    if data.get("deepstudio") != __version__:
        raise PlanError(f"was written by DeepStudio {data.get('deepstudio')}, this is "
                        f"{__version__}: install the same version on every machine", path)
    try:
        inputs = _inputs(data, path.parent)
        plan = plan_in_folder(inputs, Path(data["output"]), _settings(data["settings"]),
                              path.parent)
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanError(f"is damaged ({type(exc).__name__}: {exc})", path) from None
    if plan.render_id != data["render_id"]:
        raise PlanError("does not belong to its work folder (render ids differ)", path)
    return plan


def _inputs(data: dict[str, Any], job_dir: Path) -> RenderInputs:
    media = {k: Path(v) for k, v in data["media_paths"].items()}
    models = {k: Path(v) for k, v in data["model_paths"].items()}
    project = Project.from_dict(data["project"])
    used = {c.media_id for _, c in project.clips()}
    for path in [media[m] for m in sorted(used)] + list(models.values()):
        if not path.exists():
            raise PlanError(f"is not reachable from {socket.gethostname()} ({SHARED_PATHS})",
                            path)
    analyses = {k: FaceAnalysis.load(job_dir / v) for k, v in data["analyses"].items()}
    folder = data["project_folder"]
    return RenderInputs(project, media, models, analyses, Path(folder) if folder else None,
                        str(data["device"]))


def _settings(data: dict[str, Any]) -> RenderSettings:
    label = data.get("label")
    return RenderSettings(int(data["start_frame"]), int(data["end_frame"]),
                          EncodeSettings(**data["encode"]),
                          LabelSettings(**label) if label else None, float(data["chunk_seconds"]))
