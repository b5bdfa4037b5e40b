"""Sampling the same ground on other points: the generator's `points`, and the shift measures."""

from pathlib import Path

import numpy as np
import pytest
import torch

from aelab.data.terrain import TerrainDataModule, TerrainGenerator, grid_points
from aelab.metrics import resampling
from aelab.metrics.resampling import GRID, Resampling
from aelab.models.mlp import MLPAutoencoder
from aelab.runs.checkpoints import LoadedRun

# generate(300, seed=[7, 2]) as it was before sampling on other points existed: sums of heights,
# of squared heights, of descriptors and of parameters, the first labels and one height.
PINNED = {
    (5, "summit"): (
        3906634.9681129884,
        6646077614.229928,
        -99497.75323881324,
        171674.7809305346,
        2228.626064832726,
    ),
    (10, "uniform"): (
        11659058.340376018,
        12802226017.4596,
        96008.26788508128,
        171664.51848239722,
        1571.5754053002606,
    ),
}


@pytest.mark.parametrize(("resolution", "offset"), list(PINNED))
def test_generate_output_is_pinned(resolution, offset):
    patches = TerrainGenerator(resolution, mountain_offset=offset).generate(300, seed=[7, 2])
    got = (
        patches.heights.sum(),
        (patches.heights**2).sum(),
        patches.descriptors.sum(),
        patches.params.sum(),
        patches.heights[3, 1, 2],
    )
    assert got == pytest.approx(PINNED[resolution, offset], rel=1e-10)
    assert patches.labels[:8].tolist() == [1, 2, 4, 3, 1, 1, 0, 2]


# --- sampling the same ground on other points -----------------------------------------------------
@pytest.mark.parametrize("resolution", [7, 10])
def test_points_on_the_grid_give_todays_output(resolution):
    generator = TerrainGenerator(resolution)
    grid = generator.generate(400, seed=3)
    points = np.stack(grid_points(resolution), axis=1)
    again = generator.generate(400, seed=3, points=points)
    np.testing.assert_allclose(again.heights, grid.heights, rtol=0, atol=1e-9)
    assert (again.labels == grid.labels).all() and (again.params == grid.params).all()
    assert (again.descriptors == grid.descriptors).all()


def test_points_shifted_by_one_cell_read_the_neighbouring_cells():
    r = 8
    generator = TerrainGenerator(r)
    grid = generator.generate(200, seed=5).heights
    x, y = grid_points(r)
    right = generator.generate(200, seed=5, points=np.stack([x + 1 / r, y], axis=1)).heights
    up = generator.generate(200, seed=5, points=np.stack([x, y + 1 / r], axis=1)).heights
    np.testing.assert_allclose(right[:, :, :-1], grid[:, :, 1:], atol=1e-9)  # columns are x
    np.testing.assert_allclose(up[:, :-1, :], grid[:, 1:, :], atol=1e-9)  # rows are y
    assert not np.allclose(right, grid)


def test_points_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match=r"\(25, 2\)"):
        TerrainGenerator(5).generate(3, seed=0, points=np.zeros((24, 2)))


def test_datamodule_resamples_a_split_with_training_statistics(tiny_run):
    dm = tiny_run.datamodule
    x = dm.resample("test", GRID.points(dm.resolution))
    assert torch.equal(x, dm.split("test")["x"])
    moved = dm.resample("test", Resampling("j", jitter=1.0).points(dm.resolution))
    assert moved.shape == x.shape and not torch.equal(moved, x)


# --- the measure ----------------------------------------------------------------------------------
def test_resampled_points_stay_in_their_cells():
    r = 10
    grid = np.stack(grid_points(r), axis=1)
    assert np.array_equal(GRID.points(r), grid)
    np.testing.assert_allclose(Resampling("s", shift=0.5).points(r) - grid, 0.05)
    moved = Resampling("j", jitter=0.5).points(r, seed=1) - grid
    assert np.abs(moved).max() <= 0.025 and np.abs(moved).max() > 0.02
    assert not np.array_equal(moved, Resampling("j", jitter=0.5).points(r, seed=2) - grid)


def test_spread_and_shift_maths():
    z = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 3.0], [0.0, -3.0]])
    assert resampling.spread(z) == pytest.approx(np.sqrt(5.0))
    other = z + torch.tensor([0.0, 2.0])
    assert resampling.squared_shift(z, other, 2.0).tolist() == [1.0] * 4
    labels = torch.tensor([0, 0, 2, 2])
    rms = resampling.class_rms(torch.tensor([1.0, 9.0, 4.0, 4.0]), labels, ["a", "b", "c"])
    assert rms == pytest.approx({"all": np.sqrt(4.5), "a": np.sqrt(5.0), "c": 2.0})


def test_whitened_codes_have_unit_covariance_and_ignore_the_scale_of_each_axis():
    generator = torch.Generator().manual_seed(0)
    mixing = torch.tensor([[1.0, 0.5, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.01]])
    z = torch.randn(500, 3, generator=generator) @ mixing
    white = z.double() @ resampling.whitener(z)
    centred = white - white.mean(dim=0)
    assert torch.allclose(centred.T @ centred / 500, torch.eye(3, dtype=torch.double), atol=1e-9)

    def shift(a: torch.Tensor, b: torch.Tensor, whiten: bool) -> float:
        if whiten:
            w = resampling.whitener(a)
            a, b = a.double() @ w, b.double() @ w
        return float(resampling.squared_shift(a, b, resampling.spread(a)).mean())

    moved = z + 0.1 * torch.randn(500, 3, generator=generator) * torch.tensor([0.0, 1.0, 1.0])
    stretch = torch.tensor([100.0, 1.0, 1.0])  # a wide axis that does not move hides the others
    assert shift(z * stretch, moved * stretch, False) < 0.1 * shift(z, moved, False)
    assert shift(z * stretch, moved * stretch, True) == pytest.approx(shift(z, moved, True))


@pytest.fixture(scope="module")
def tiny_run() -> LoadedRun:
    """An untrained MLP AE on a small r = 5 terrain set (flat, hills and summit mountains)."""
    dm = TerrainDataModule(
        resolution=5,
        classes={"flat": 1, "sea": 0, "hills": 1, "mountain": 1, "urban": 0},
        mountain_offset="summit",
        train_size=300,
        val_size=10,
        test_size=300,
        seed=0,
    )
    dm.setup()
    torch.manual_seed(0)
    model = MLPAutoencoder([1, 5, 5], 3, hidden_sizes=[16], linear_path=False).eval()
    return LoadedRun(model, dm, {}, Path("x"), torch.device("cpu"))


def test_zero_jitter_gives_zero_shift_and_shift_grows_with_jitter(tiny_run):
    jitters = [Resampling(f"j{j}", jitter=j) for j in (0.25, 0.5, 1.0)]
    rows = resampling.measure(tiny_run, (GRID, *jitters), draws=2)
    keyed = {(row["resampling"], row["class"]): row for row in rows}
    assert {c for _, c in keyed} == {"all", "flat", "hills", "mountain"}
    measures = [k for k in rows[0] if k not in ("resampling", "class")]
    assert {"model_probe_order_2", "pca_code", "model_code_whitened"} <= set(measures)
    for name in ("all", "flat", "mountain"):
        assert all(keyed["grid", name][k] == 0 for k in measures)
    for measure in ("input", "model_code", "pca_code", "pca_code_whitened", "model_probe_order_1"):
        shifts = [keyed[j.name, "mountain"][measure] for j in jitters]
        assert 0 < shifts[0] < shifts[1] < shifts[2], (measure, shifts)
    # level fields barely move where mountains do
    assert keyed["j1.0", "flat"]["input"] < 0.1 * keyed["j1.0", "mountain"]["input"]


def _rows(flat: float, mountain: float) -> list[dict]:
    return [
        {"resampling": "jitter 1 cell", "class": name, "model_code_whitened": value}
        for name, value in (("flat", flat), ("mountain", mountain))
    ]


def test_the_verdict_follows_the_numbers():
    from aelab.experiments.terrain_resampling import verdict

    holds = verdict({5: _rows(0.001, 0.3), 10: _rows(0.001, 0.1), 40: _rows(0.002, 0.01)})
    assert "the claim holds for this model" in holds and "below 5% from r = 40 on" in holds
    part = verdict({5: _rows(0.001, 0.3), 40: _rows(0.002, 0.2)})
    assert "holds in part" in part and "Does not hold: more points" in part
    fails = verdict({5: _rows(0.2, 0.01), 40: _rows(0.2, 0.02)})
    assert "does not hold for this model" in fails and "Holds" not in fails
