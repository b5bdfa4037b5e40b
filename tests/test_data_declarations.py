"""What DataModules declare for evaluation: trained classes, units, intrinsics, other test splits."""

import pytest
import torch

from aelab.data.base import Units
from aelab.data.mnist import MNISTDataModule
from aelab.data.terrain import (
    CLASS_NAMES,
    DESCRIPTOR_NAMES,
    PARAM_NAMES,
    TerrainDataModule,
    TerrainGenerator,
)
from aelab.errors import ConfigError

SPLIT_KEYS = ("x", "label", "params", "descriptors")


def _terrain(**kwargs) -> TerrainDataModule:
    return TerrainDataModule(train_size=200, val_size=20, test_size=20, seed=5, **kwargs)


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert set(a) == set(b)
    for key in a:
        assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key


# --- terrain --------------------------------------------------------------------------------------
def test_terrain_trained_classes_are_those_with_weight():
    assert _terrain().trained_classes == list(range(len(CLASS_NAMES)))
    dm = _terrain(classes={"hills": 1.0, "flat": 2.0, "sea": 0.0}, test_classes={"urban": 1.0})
    assert dm.trained_classes == [CLASS_NAMES.index("flat"), CLASS_NAMES.index("hills")]


def test_terrain_units_are_metres_of_the_training_statistics():
    dm = _terrain()
    units = dm.units  # sets the data up itself
    assert units == Units("m", dm.altitude_std, dm.altitude_mean)
    assert units.scale > 1 and units.offset > 0
    x = dm.split("val")["x"][:4]
    torch.testing.assert_close(units.offset + units.scale * x, dm.to_metres(x))


def test_terrain_intrinsics_name_the_columns_of_split_keys():
    dm = _terrain()
    assert dm.intrinsics == {"params": PARAM_NAMES, "descriptors": DESCRIPTOR_NAMES}
    for key, names in dm.intrinsics.items():
        assert dm.split("test")[key].shape == (20, len(names))


def test_unchanged_alternative_test_split_draws_the_training_distribution():
    dm = _terrain(mountain_offset="wall", roughness_scale=0.5, test_classes={"sea": 1.0})
    dm.setup()
    # the training split's own seed, no changes: the training split itself
    _assert_same(dm.alternative_test_split(200, seed=[dm.seed, 0]), dm.split("train"))


@pytest.mark.parametrize("offsets", [("summit", "wall"), ("uniform", "summit")])
def test_alternative_test_split_reproduces_the_sampling_bias_halves(offsets):
    from aelab.eval.anomaly import sampling_bias_test_set

    dm = _terrain(roughness_scale=0.8)
    dm.setup()
    size = 30
    halves = []
    for index, offset in enumerate(offsets):
        seed = [dm.seed, 100 + index]
        split = dm.alternative_test_split(
            size // 2, seed=seed, classes={"mountain": 1.0}, mountain_offset=offset
        )
        patches = TerrainGenerator(
            dm.resolution, {"mountain": 1.0}, offset, dm.generator.roughness_scale
        ).generate(size // 2, seed=seed)
        x = (patches.heights - dm.altitude_mean) / dm.altitude_std
        direct = {
            "x": torch.as_tensor(x, dtype=torch.float32).unsqueeze(1),
            "label": torch.as_tensor(patches.labels, dtype=torch.int64),
            "params": torch.as_tensor(patches.params, dtype=torch.float32),
            "descriptors": torch.as_tensor(patches.descriptors, dtype=torch.float32),
        }
        _assert_same(split, direct)
        halves.append(split)
    built = sampling_bias_test_set(dm, size, *offsets)
    for key in SPLIT_KEYS:
        assert torch.equal(built[key], torch.cat([h[key] for h in halves])), key


def test_alternative_test_split_changes_what_it_is_asked_to():
    dm = _terrain()
    split = dm.alternative_test_split(40, seed=1, classes={"sea": 1.0}, roughness_scale=0.0)
    assert set(split) == set(SPLIT_KEYS) and split["x"].shape == (40, 1, 10, 10)
    assert (split["label"] == CLASS_NAMES.index("sea")).all()
    metres = dm.to_metres(split["x"])
    assert metres.abs().max() < 1.0  # tiny waves around sea level


def test_alternative_test_split_rejects_bad_changes():
    dm = _terrain()
    with pytest.raises(ConfigError, match="classes, mountain_offset, roughness_scale"):
        dm.alternative_test_split(10, seed=0, resolution=20)
    with pytest.raises(ConfigError, match="mountain_offset"):
        dm.alternative_test_split(10, seed=0, mountain_offset="valley")
    with pytest.raises(ConfigError, match="size"):
        dm.alternative_test_split(-1, seed=0)


# --- MNIST ----------------------------------------------------------------------------------------
def _mnist(folder, **kwargs) -> MNISTDataModule:
    return MNISTDataModule(
        data_dir=str(folder), split="t10k", download=False, val_size=50, test_size=50, **kwargs
    )


def test_mnist_declarations(mnist_dir):
    dm = _mnist(mnist_dir)
    assert dm.trained_classes == list(range(10))
    assert dm.units is None and dm.intrinsics == {}
    with pytest.raises(ConfigError, match="cannot draw a test split"):
        dm.alternative_test_split(10, seed=0, classes=[1])


def test_mnist_trained_classes_follow_digits(mnist_dir):
    dm = _mnist(mnist_dir, classes=[7, 3, 7])
    assert dm.trained_classes == [3, 7]
    dm.setup()
    assert set(dm.split("train")["label"].unique().tolist()) == set(dm.trained_classes)
