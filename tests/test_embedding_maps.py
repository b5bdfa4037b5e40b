"""The embedding task's maps beyond PCA: t-SNE and UMAP (the extra aelab[analysis]).

With the packages present: each map is a PNG and a TensorBoard figure, seeded, capped at
``embedding.max_points``, and keeps separated classes apart. Without them: one line naming the
extra, exit code 2, before any work.
"""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from aelab import evaluate
from aelab.data.base import InMemoryDataModule
from aelab.errors import ConfigError
from aelab.eval import Outputs, embedding
from aelab.models.mlp import MLPAutoencoder
from aelab.runs.checkpoints import LoadedRun
from tests.conftest import compose_config

UMAP_MISSING = "embedding.umap=true needs umap-learn: pip install 'aelab[analysis]'"
TSNE_MISSING = "embedding.tsne=true needs scikit-learn: pip install 'aelab[analysis]'"


class Blobs(InMemoryDataModule):
    """Three well separated classes of 8-value vectors (N, 1, 1, 8)."""

    def __init__(self) -> None:
        super().__init__(batch_size=32, seed=0)

    input_shape = (1, 1, 8)
    class_names = ["cat", "dog", "bird"]
    value_range = (-3.0, 5.0)

    def build_splits(self) -> dict[str, dict[str, torch.Tensor]]:
        generator = torch.Generator().manual_seed(0)
        centres = 4 * torch.randn(3, 1, 1, 8, generator=generator)
        splits = {}
        for name, size in (("train", 90), ("val", 9), ("test", 90)):
            labels = torch.arange(size) % 3
            x = centres[labels] + 0.3 * torch.randn(size, 1, 1, 8, generator=generator)
            splits[name] = {"x": x, "label": labels}
        return splits


@pytest.fixture(scope="module")
def run() -> LoadedRun:
    torch.manual_seed(0)
    dm = Blobs()
    dm.setup()
    model = MLPAutoencoder([1, 1, 8], 4, hidden_sizes=[16], linear_path=False).eval()
    return LoadedRun(model, dm, {"model": {}, "data": {}}, Path("x"), torch.device("cpu"))


def settings(**maps: bool):
    return OmegaConf.merge(
        compose_config("ckpt_path=x", config_name="eval"),
        {"embedding": {"max_points": 60, "projector_points": 30, **maps}},
    )


def neighbour_agreement(coords: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of points whose nearest other point in the map has their class."""
    distances = torch.cdist(coords.double(), coords.double()).fill_diagonal_(float("inf"))
    return float((labels[distances.argmin(dim=1)] == labels).double().mean())


# --- without the packages -------------------------------------------------------------------------
def test_the_maps_are_off_by_default_and_need_no_package(run, monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    cfg = compose_config("ckpt_path=x", config_name="eval")
    assert cfg.embedding.tsne is False and cfg.embedding.umap is False
    assert embedding.available(run, cfg) is None


def test_missing_umap_learn_is_one_line_naming_the_extra(run, monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)  # as if not installed
    with pytest.raises(ConfigError) as error:
        embedding.available(run, settings(umap=True))
    assert str(error.value) == UMAP_MISSING


def test_missing_scikit_learn_is_one_line_naming_the_extra(run, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.delitem(sys.modules, "sklearn", raising=False)
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else find_spec(name)
    )
    with pytest.raises(ConfigError) as error:
        embedding.available(run, settings(tsne=True))
    assert str(error.value) == TSNE_MISSING


def test_a_map_setting_must_be_a_boolean(run):
    with pytest.raises(ConfigError, match="embedding.umap must be true or false"):
        embedding.available(run, settings(umap="yes"))


def test_aelab_eval_refuses_a_missing_map_package_before_any_work(
    run, monkeypatch, capsys, tmp_path
):
    monkeypatch.setitem(sys.modules, "umap", None)
    monkeypatch.setattr(evaluate, "load_run", lambda *a, **k: run)
    monkeypatch.chdir(tmp_path)
    argv = ["aelab-eval", "ckpt_path=x", "hydra.run.dir=eval", "embedding.umap=true"]
    monkeypatch.setattr(sys, "argv", argv)
    try:
        with pytest.raises(SystemExit) as exited:
            evaluate.main()
    finally:
        GlobalHydra.instance().clear()
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert [line for line in err.splitlines() if line.startswith("aelab:")] == [
        f"aelab: error: {UMAP_MISSING}"
    ]
    assert "Traceback" not in err
    assert not list((tmp_path / "eval").glob("*.png"))


# --- with the packages --------------------------------------------------------------------------
def test_tsne_and_umap_maps_are_written_seeded_and_capped(run, tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("umap")
    cfg = settings(tsne=True, umap=True)
    out = Outputs(tmp_path)
    try:
        result = embedding.run(run, cfg, out)
    finally:
        out.close()
    maps = result["maps"]
    assert set(maps) == {"tsne", "umap"}
    for key in ("tsne", "umap"):
        assert maps[key]["points"] == 60  # embedding.max_points of the 90 test codes
        assert maps[key]["figure"] == f"embedding_{key}.png"
        assert maps[key]["figure"] in result["figures"]
        assert (tmp_path / f"embedding_{key}.png").stat().st_size > 1000
    assert maps["umap"]["n_neighbors"] == 15 and 2 <= maps["tsne"]["perplexity"] <= 30

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert {"embedding_map", "embedding_tsne", "embedding_umap"} <= set(events.Tags()["images"])

    test = run.datamodule.split("test")
    z, labels = run.embed(test["x"])[:60], test["label"][:60]
    for draw in (embedding.tsne_map, embedding.umap_map):
        coords, _ = draw(z, 0)
        again, _ = draw(z, 0)
        assert coords.shape == (60, 2)
        torch.testing.assert_close(coords, again)  # same seed, same map
        assert neighbour_agreement(coords, labels) > 0.9, draw.__name__


def test_nearest_neighbours_are_exact_and_start_with_the_point_itself():
    x = torch.randn(50, 3, generator=torch.Generator().manual_seed(0)).double()
    distances, indices = embedding.nearest_neighbours(x, 4, values=7 * 50)  # blocks of 7 rows
    full = torch.cdist(x, x).topk(4, largest=False)
    torch.testing.assert_close(distances, full.values)
    assert torch.equal(indices[:, 0], torch.arange(50))
