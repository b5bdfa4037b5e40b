"""The interpolation task: traversals around the mean test code, paths between test pairs."""

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from aelab.errors import ConfigError
from aelab.eval import interpolation
from aelab.models.conv import ConvAutoencoder
from aelab.models.linear import LinearAutoencoder
from aelab.models.mlp import MLPAutoencoder
from aelab.models.vae import VariationalAutoencoder
from aelab.runs.checkpoints import LoadedRun
from tests.conftest import RecordingOutputs

SETTINGS = {
    "pairs": 3,
    "steps": 5,
    "traversal_steps": 7,
    "traversal_radius": 2.0,
    "max_dims": 2,
    "max_samples": 40,
}
VARIANTS = {
    "linear": lambda: LinearAutoencoder([1, 6, 6], 3),
    "mlp": lambda: MLPAutoencoder([1, 6, 6], 3, hidden_sizes=[16], linear_path=False),
    "conv": lambda: ConvAutoencoder([1, 6, 6], 3, channels=[4], linear_path=False),
    "vae": lambda: VariationalAutoencoder([1, 6, 6], 3, hidden_sizes=[16]),
}


class FakeData:
    render = "gray"
    value_range = (0.0, 1.0)

    def split(self, name):
        x = torch.rand(50, 1, 6, 6, generator=torch.Generator().manual_seed(0))
        return {"x": x, "label": torch.arange(50) % 3}


def evaluate(model, **changes) -> tuple[dict, RecordingOutputs, LoadedRun]:
    torch.manual_seed(0)
    run = LoadedRun(model.eval(), FakeData(), {}, Path("x"), torch.device("cpu"), batch_size=16)
    cfg = OmegaConf.create({"seed": 0, "interpolation": SETTINGS | changes})
    assert interpolation.available(run, cfg) is None
    out = RecordingOutputs()
    return interpolation.run(run, cfg, out), out, run


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_gets_traversals_pairs_and_distances(variant):
    result, out, run = evaluate(VARIANTS[variant]())
    x = FakeData().split("test")["x"][:40]
    traversals = out.grids["interpolation_traversals"]
    assert len(traversals) == 2 and all(row.shape == (7, 1, 6, 6) for row in traversals)
    z = run.embed(x)
    spread = z.std(dim=0)
    assert result["traversal"]["dims"] == spread.argsort(descending=True)[:2].tolist()
    # the middle of each sweep is the mean test code, decoded
    centre = run.apply(run.model.decode, z.mean(dim=0, keepdim=True))[0]
    torch.testing.assert_close(traversals[0][3], centre, rtol=1e-4, atol=1e-5)

    rows = out.grids["interpolation_pairs"]
    assert len(rows) == len(result["pairs"]) == 3 and all(r.shape == (7, 1, 6, 6) for r in rows)
    for row, (i, j) in zip(rows, result["pairs"], strict=True):
        torch.testing.assert_close(row[0], x[i])  # input, 5 decoded codes, input
        torch.testing.assert_close(row[-1], x[j])
        torch.testing.assert_close(row[1], run.reconstruct(x[i : i + 1])[0], rtol=1e-4, atol=1e-5)
    distances = result["nearest_test_rms"]
    assert all(value > 0 for value in distances.values())
    assert result["path_over_endpoints"] == pytest.approx(
        distances["path"] / distances["endpoints"]
    )
    assert set(interpolation.headline(result)) == {
        "interpolation/path_over_endpoints",
        "interpolation/path_over_blend",
    }
    assert list(out.figures) == ["interpolation_distance"]


def test_a_linear_decoder_path_is_the_blend_of_its_reconstructions():
    result, _, _ = evaluate(LinearAutoencoder([1, 6, 6], 3))
    assert result["path_over_blend"] == pytest.approx(1.0, abs=1e-6)


def test_pairs_and_traversal_are_seeded_and_bounded_by_the_data():
    first, _, _ = evaluate(MLPAutoencoder([1, 6, 6], 2, hidden_sizes=[8]), pairs=100, max_dims=16)
    again, _, _ = evaluate(MLPAutoencoder([1, 6, 6], 2, hidden_sizes=[8]), pairs=100, max_dims=16)
    assert first["pairs"] == again["pairs"] and len(first["pairs"]) == 20  # 40 codes: 20 pairs
    assert len({i for pair in first["pairs"] for i in pair}) == 40
    assert len(first["traversal"]["dims"]) == 2  # m = 2 < max_dims


@pytest.mark.parametrize(
    ("key", "value"),
    [("steps", 2), ("pairs", 0), ("traversal_radius", -1.0), ("max_dims", "all")],
)
def test_bad_settings_are_one_line_config_errors(key, value):
    run = LoadedRun(MLPAutoencoder([1, 6, 6], 2, hidden_sizes=[8]), FakeData(), {}, Path("x"), None)
    cfg = OmegaConf.create({"seed": 0, "interpolation": SETTINGS | {key: value}})
    with pytest.raises(ConfigError, match=f"interpolation.{key}") as refused:
        interpolation.available(run, cfg)
    assert "\n" not in str(refused.value)
