import numpy as np
import pytest
import torch

from aelab.data.terrain import (
    CLASS_NAMES,
    DESCRIPTOR_NAMES,
    PARAM_NAMES,
    TerrainDataModule,
    TerrainGenerator,
)
from aelab.errors import ConfigError


def test_shapes_and_contents():
    patches = TerrainGenerator(resolution=10).generate(500, seed=0)
    assert patches.heights.shape == (500, 10, 10)
    assert patches.params.shape == (500, len(PARAM_NAMES))
    assert patches.descriptors.shape == (500, len(DESCRIPTOR_NAMES))
    assert set(np.unique(patches.labels)) == set(range(len(CLASS_NAMES)))
    assert np.isfinite(patches.heights).all()
    sea = patches.labels == CLASS_NAMES.index("sea")
    assert np.abs(patches.heights[sea]).max() < 1.0  # tiny waves around zero
    mountain = patches.labels == CLASS_NAMES.index("mountain")
    assert (patches.params[mountain, PARAM_NAMES.index("peak_height")] > 0).all()
    assert (patches.params[~mountain, PARAM_NAMES.index("peak_height")] == 0).all()


def test_determinism_by_seed():
    generator = TerrainGenerator()
    a, b, c = (generator.generate(300, seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.heights, b.heights)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.allclose(a.heights, c.heights)


def test_class_mix_follows_weights():
    weights = {"flat": 1.0, "sea": 0.0, "hills": 3.0, "mountain": 0.0, "urban": 0.0}
    labels = TerrainGenerator(class_weights=weights).generate(8000, seed=0).labels
    counts = np.bincount(labels, minlength=len(CLASS_NAMES)) / len(labels)
    assert counts[CLASS_NAMES.index("sea")] == 0
    assert counts[CLASS_NAMES.index("hills")] == pytest.approx(0.75, abs=0.02)
    assert counts[CLASS_NAMES.index("flat")] == pytest.approx(0.25, abs=0.02)


def test_tilted_plane_recovers_its_slope():
    generator = TerrainGenerator(class_weights={"flat": 1.0}, roughness_scale=0.0)
    patches = generator.generate(50, seed=3)
    params, desc = patches.params, patches.descriptors
    for axis in "xy":
        tilt = params[:, PARAM_NAMES.index(f"tilt_{axis}")]
        slope = desc[:, DESCRIPTOR_NAMES.index(f"slope_{axis}")]
        assert np.abs(tilt).max() > 1e-3  # the test would be vacuous on level ground
        np.testing.assert_allclose(slope, tilt, atol=1e-9)
    np.testing.assert_allclose(desc[:, DESCRIPTOR_NAMES.index("curv_xx")], 0, atol=1e-6)
    np.testing.assert_allclose(
        desc[:, DESCRIPTOR_NAMES.index("mean_altitude")],
        params[:, PARAM_NAMES.index("base_altitude")],
        atol=1e-6,
    )
    # the patch itself is that plane: heights at the grid points match
    x = (np.arange(10) + 0.5) / 10 - 0.5
    expected = params[0, 0] + 1000 * (params[0, 1] * x[None, :] + params[0, 2] * x[:, None])
    np.testing.assert_allclose(patches.heights[0], expected, atol=1e-6)


def test_resolution_change_keeps_the_same_ground():
    weights = {"flat": 1.0, "hills": 1.0, "mountain": 1.0}
    coarse = TerrainGenerator(resolution=10, class_weights=weights).generate(200, seed=5)
    fine = TerrainGenerator(resolution=20, class_weights=weights).generate(200, seed=5)
    np.testing.assert_array_equal(coarse.labels, fine.labels)
    np.testing.assert_allclose(coarse.params, fine.params)
    np.testing.assert_allclose(coarse.descriptors, fine.descriptors)
    # 2 x 2 block means of the fine grid approximate the coarse grid (smooth classes)
    blocks = fine.heights.reshape(200, 10, 2, 10, 2).mean(axis=(2, 4))
    relief = coarse.heights.max(axis=(1, 2)) - coarse.heights.min(axis=(1, 2)) + 1.0
    error = np.abs(blocks - coarse.heights).max(axis=(1, 2)) / relief
    assert np.median(error) < 0.05


@pytest.mark.parametrize(
    "kwargs",
    [
        {"resolution": 1},
        {"class_weights": {"flat": 0.0, "sea": 0.0}},
        {"class_weights": {"flat": -1.0, "sea": 2.0}},
        {"class_weights": {"volcano": 1.0}},
        {"mountain_offset": "valley"},
    ],
)
def test_bad_generator_settings(kwargs):
    with pytest.raises(ConfigError):
        TerrainGenerator(**kwargs)


def test_datamodule_standardises_with_training_statistics():
    dm = TerrainDataModule(train_size=400, val_size=50, test_size=60, batch_size=32, seed=0)
    dm.setup()
    train, test = dm.split("train"), dm.split("test")
    assert train["x"].shape == (400, 1, 10, 10) and test["x"].shape == (60, 1, 10, 10)
    assert train["x"].mean().abs() < 1e-4 and (train["x"].std() - 1).abs() < 1e-2
    assert dm.input_dim == 100
    metres = dm.to_metres(train["x"][:5])
    assert torch.isfinite(metres).all() and metres.abs().max() > 10
    batches = list(dm.train_dataloader())
    assert len(batches) == 13 and set(batches[0]) == {"x", "label", "params", "descriptors"}


def test_datamodule_rejects_bad_sizes():
    with pytest.raises(ConfigError, match="batch_size"):
        TerrainDataModule(batch_size=0)
    with pytest.raises(ConfigError, match="val_size"):
        TerrainDataModule(val_size=-3)
