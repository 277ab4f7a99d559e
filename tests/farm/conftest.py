"""Fixtures of the farm tests: a loopback Ray cluster and a tiny trained face-swap model with
the consent project that allows rendering it."""

from __future__ import annotations

from pathlib import Path

import pytest
from loopback import LoopbackCluster, cluster_unavailable

from deepstudio.cli.main import main


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """A head node and one worker node on 127.0.0.1, one CPU slot each."""
    reason = cluster_unavailable()
    if reason is not None:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("cluster")
    with LoopbackCluster(root, [("head", 1, None), ("worker", 1, None)]) as running:
        yield running


@pytest.fixture(scope="module")
def swap_model(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(model, consent project): alice shown in place of bea, trained for a few steps (the
    farm tests need a real model effect, not a good one)."""
    from engine.test_train_faceswap import extract_facesets

    from deepstudio.engine.train_faceswap import train_faceswap
    from deepstudio.models.faceswap.trainer import TrainConfig

    root = tmp_path_factory.mktemp("swap-model")
    facesets = extract_facesets(testdata, root / "facesets")
    ledger = root / "Ledger.dstudio"
    assert main(["new", str(ledger)]) == 0
    for person in ("alice", "bea"):
        assert main(["consent", "add", str(ledger), "--identity", person, "--recorded-by",
                     "farm tests", "--scope", "train", "--scope", "swap"]) == 0
    model = root / "alice_on_bea.dsmodel"
    config = TrainConfig(dims={"e_ch": 16, "ae_dims": 64, "d_ch": 8}, batch_size=4, seed=0,
                         preview_every_s=1e9)
    train_faceswap(*facesets, model, res=32, iters=3, device="cpu", config=config,
                   consent_ids=["farm-tests"])
    return model, ledger
