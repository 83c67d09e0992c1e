from pathlib import Path

import pytest

from meshtalk.train.config import load_experiment

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_example_configs_load(path):
    cfg = load_experiment(path)
    assert cfg.train.epochs > 0 and cfg.model.k_eig > 0
