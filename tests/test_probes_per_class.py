"""Per-class linear probes: R^2 within each terrain class, by descriptor order, AE beside PCA."""

import math
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from aelab.data.terrain import DESCRIPTOR_NAMES, PARAM_NAMES, TerrainDataModule
from aelab.eval import Outputs, _probes
from aelab.metrics import probes
from aelab.metrics.pca import fit_pca
from aelab.models.mlp import MLPAutoencoder
from aelab.runs.checkpoints import LoadedRun

TARGETS = DESCRIPTOR_NAMES + PARAM_NAMES


def test_a_parameter_of_one_class_is_captured_within_it_and_not_pooled():
    """Class 0 codes t in z; class 1 has t = 0 but a wide, unrelated z: pooled, t looks absent."""
    generator = torch.Generator().manual_seed(0)
    n = 400
    labels = torch.arange(n) % 2
    t = torch.randn(n, generator=generator) * (labels == 0)
    z = torch.where(labels == 0, t, 20 * torch.randn(n, generator=generator))[:, None]
    y = torch.stack([t, torch.randn(n, generator=generator)], dim=1)  # t and pure noise
    fit, held = slice(0, 300), slice(300, n)
    pooled = probes.ridge_r2(z[fit], y[fit], z[held], y[held])
    table = probes.per_class_r2(
        (z[fit], y[fit], labels[fit]), (z[held], y[held], labels[held]), ["t", "noise"], ["a", "b"]
    )
    assert pooled[0] < 0.1
    assert table["a"]["t"] > 0.99 and table["a"]["noise"] < 0.1
    assert "t" not in table["b"] and "noise" in table["b"]  # t is constant (0) in class b


def test_small_classes_are_not_probed():
    z, y = torch.randn(60, 2), torch.randn(60, 1)
    labels = torch.zeros(60, dtype=torch.long)
    labels[:8] = 1  # 4 fitting and 4 held-out samples of class 1
    table = probes.per_class_r2(
        (z[0::2], y[0::2], labels[0::2]), (z[1::2], y[1::2], labels[1::2]), ["y"], ["big", "small"]
    )
    assert list(table) == ["big"]


def test_order_summary_averages_each_order_and_counts_negative_as_zero():
    r2 = {"mean_altitude": 0.9, "slope_x": 0.8, "slope_y": 0.4, "curv_xx": -2.0, "curv_yy": 0.3}
    summary = probes.order_summary(r2 | {"roughness": 0.5, "curv_xy": math.nan})
    assert summary == pytest.approx({"order_0": 0.9, "order_1": 0.6, "order_2": 0.15})


@pytest.fixture(scope="module")
def terrain() -> TerrainDataModule:
    dm = TerrainDataModule(resolution=5, train_size=1500, val_size=10, test_size=600, seed=0)
    dm.setup()
    return dm


def test_full_rank_pca_reads_mean_altitude_within_every_class(terrain):
    pca = fit_pca(terrain.split("train")["x"], 25)  # n = 25: a rotation of the input
    train, test = terrain.split("train"), terrain.split("test")

    def sets(split):
        targets = torch.cat([split["descriptors"], split["params"]], dim=1)
        return pca.encode(split["x"]), targets, split["label"]

    table = probes.per_class_r2(sets(train), sets(test), TARGETS, terrain.class_names)
    assert set(table) == {"flat", "sea", "hills", "mountain", "urban"}
    for name in ("flat", "hills", "mountain", "urban"):
        assert table[name]["mean_altitude"] > 0.99, name
    assert "base_altitude" not in table["sea"]  # sea level everywhere
    assert "tilt_x" in table["flat"] and "tilt_x" not in table["mountain"]
    assert {n for n, t in table.items() if "peak_height" in t} == {"mountain"}
    assert {n for n, t in table.items() if "building_density" in t} == {"urban"}


def test_embedding_task_writes_per_class_probes_for_the_model_and_pca(terrain, tmp_path):
    torch.manual_seed(0)
    model = MLPAutoencoder([1, 5, 5], 3, hidden_sizes=[16], linear_path=False).eval()
    run = LoadedRun(model, terrain, {}, Path("x"), torch.device("cpu"))
    settings = OmegaConf.create({"fit_on": "auto", "max_fit": 10000, "ridge_alpha": 1e-3})
    out = Outputs(tmp_path)
    try:
        test = terrain.split("test")
        result = _probes.evaluate(run, settings, test, run.embed(test["x"]), out)
    finally:
        out.close()
    assert set(result["r2_per_class"]) == set(result["r2_by_order"]) == {"model", "pca_m3"}
    for latent in ("model", "pca_m3"):
        assert set(result["r2_per_class"][latent]) == set(terrain.class_names)
        orders = result["r2_by_order"][latent]
        assert list(orders) == ["pooled", *terrain.class_names]
        assert set(orders["pooled"]) == {"order_0", "order_1", "order_2"}
        assert all(0 <= v <= 1 for o in orders.values() for v in o.values())
    mountain = result["r2_per_class"]["pca_m3"]["mountain"]
    assert probes.order_summary(mountain) == result["r2_by_order"]["pca_m3"]["mountain"]
    assert "probe_r2_per_class.png" in result["figures"]
    assert (tmp_path / "probe_r2_per_class.png").stat().st_size > 1000
    table = (tmp_path / result["tables"][0]).read_text()
    assert "| mountain |" in table and "| peak_height |" in table and " / " in table
