"""What a Ray worker asks for: a GPU for model effects on a cluster with GPUs, a CPU slot
otherwise; and how many workers a cluster holds."""

from __future__ import annotations

import pytest

from deepstudio.core import effect_specs  # noqa: F401  (registers the built-in effect types)
from deepstudio.core.effects import default_params
from deepstudio.core.project import Effect, Project

ray_farm = pytest.importorskip("deepstudio.farm.ray_farm", reason="ray is in the farm extra")

GPU_NODES = {"CPU": 32.0, "GPU": 4.0}
CPU_NODES = {"CPU": 12.0}


def _project(*types: str) -> Project:
    project = Project("p")
    for n, kind in enumerate(types):
        project.effects[f"effect-{n}"] = Effect(f"effect-{n}", kind, "track-1", 0, "media-1",
                                                0, 10, default_params(kind))
    return project


@pytest.mark.parametrize(("types", "cluster", "asks", "workers"), [
    (("face_swap",), GPU_NODES, (1.0, 1.0), 4),          # a model: one GPU each
    (("debug", "lip_sync"), GPU_NODES, (1.0, 1.0), 4),
    (("debug",), GPU_NODES, (1.0, 0.0), 32),             # no model: CPU slots, GPUs left free
    (("face_swap",), CPU_NODES, (1.0, 0.0), 12),         # no GPU anywhere: the CPU does it
    ((), CPU_NODES, (1.0, 0.0), 12),
])
def test_workers_ask_for_a_gpu_only_for_models_on_gpu_clusters(types, cluster, asks, workers):
    resources = ray_farm.actor_resources(_project(*types), cluster, 1.0)
    assert resources == asks
    assert ray_farm.pool_size(resources, cluster, None) == workers
    assert ray_farm.pool_size(resources, cluster, 2) == 2  # --workers caps it
    assert ray_farm.pool_size((4.0, 0.0), {"CPU": 2.0}, None) == 1  # at least one waits
