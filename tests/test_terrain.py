import hashlib

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


# --- pinned output --------------------------------------------------------------------------------
# What the generator and the DataModule give today: documented figures depend on them, so any
# change to the random stream (draws added, removed or reordered) must show here. Labels are
# pinned exactly; floats by a fingerprint (sum |a|, sum a^2, sum w a with fixed weights w) to
# 1e-10, since BLAS may sum in another order on another CPU or thread count (last bits only).
MIX = {"flat": 1.0, "sea": 0.5, "hills": 2.0, "mountain": 1.5, "urban": 1.0}
GENERATED = {  # name: (generator settings, n, sampled at other points)
    "default_r10": ({"resolution": 10}, 300, False),
    "mix_r5_two_chunks": (
        {"resolution": 5, "class_weights": MIX, "roughness_scale": 0.7},
        2100,
        False,
    ),
    "mix_r40": ({"resolution": 40, "class_weights": MIX}, 60, False),
    "summit": ({"class_weights": {"mountain": 1.0}, "mountain_offset": "summit"}, 100, False),
    "wall": ({"class_weights": {"mountain": 1.0}, "mountain_offset": "wall"}, 100, False),
    "uniform": ({"class_weights": {"mountain": 1.0, "hills": 1.0}}, 100, False),
    "points_r10": ({"resolution": 10}, 300, True),
}
# name: (labels digest, fingerprints of heights, params, descriptors)
PINNED_GENERATED = {
    "default_r10": (
        "30e6feb46ead41c4",
        (11660173.797928642, 12802226017.4596, 11650062.500565689),
        (171760.02764612972, 188503294.93714136, 170259.87431541938),
        (240329.36066156765, 240246941.32436824, 101150.04441884739),
    ),
    "mix_r5_two_chunks": (
        "9869a00326a6555e",
        (29983483.134258397, 37832166795.8909, 30011156.00395012),
        (1735581.7454811959, 2054994384.654085, 1742404.4936513668),
        (2425240.2885885728, 2766815811.623503, 1013114.9564643363),
    ),
    "mix_r40": (
        "a5a75d80de3fab8f",
        (45327056.69832654, 45657426253.84159, 45295853.13804041),
        (37168.1980339546, 35332550.127889805, 39913.82575288565),
        (61750.073900483745, 93859674.88700508, 21996.863797396698),
    ),
    "summit": (
        "6495228b280df3c6",
        (19648071.11721216, 42311454440.55147, 19659573.119315043),
        (220128.76204572243, 287417822.0954143, 223662.83525187286),
        (604600.7308962883, 1588779670.4305809, -197679.15379739157),
    ),
    "wall": (
        "6495228b280df3c6",
        (12714514.360952329, 18798079089.174686, 12710859.695332916),
        (220274.86274465232, 287417986.8362669, 223642.57820315135),
        (298260.54530829587, 360579796.69774884, 134679.90873974923),
    ),
    "uniform": (
        "c304b50cb25d5217",
        (7513964.62446182, 8580076453.66082, 7513335.525900897),
        (117541.34320480416, 131383305.83306974, 119011.3976652813),
        (171539.57784636598, 164288350.50625205, 82146.7411015804),
    ),
    "points_r10": (
        "30e6feb46ead41c4",
        (11637296.6688633, 12753052414.725685, 11627841.6602196),
        (171760.02764612972, 188503294.93714136, 170259.87431541938),
        (240329.36066156765, 240246941.32436824, 101150.04441884739),
    ),
}
DATAMODULES = {  # name: TerrainDataModule settings besides the sizes
    "default": {},
    "other_test_split": {
        "resolution": 8,
        "test_classes": {"mountain": 1.0},
        "test_mountain_offset": "wall",
    },
}
# name: (altitude_mean, altitude_std, {split: (labels digest, fingerprints of x, params,
#   descriptors)})
PINNED_DATAMODULES = {
    "default": (
        479.4044461763146,
        612.2873721869576,
        {
            "train": (
                "5c72689aa97816c3",
                (22781.83022370484, 30000.000036086443, 57.90714396976557),
                (211976.90772397214, 246329603.67950433, 211099.0789789379),
                (300031.07267534535, 302246801.41967297, 131168.41117356753),
            ),
            "val": (
                "ab7cea45f395b464",
                (3221.8078090070467, 3638.0465671529473, -1282.5482741086078),
                (20362.719200837077, 16983847.748778675, 22325.41850490596),
                (33193.38280729923, 30432530.909896344, 7796.254597708386),
            ),
            "test": (
                "1654f0babb4d7041",
                (4678.318878930528, 6287.7331673611725, 63.022551831070814),
                (40519.974283533506, 47478656.81459999, 40886.972262724485),
                (60569.206771764046, 71497118.96997827, 26521.511367634073),
            ),
        },
    ),
    "other_test_split": (
        479.35921677883596,
        612.0935451569336,
        {
            "train": (
                "5c72689aa97816c3",
                (14578.348468289216, 19200.0000040734, -60.591260309412746),
                (211976.90772397214, 246329603.67950433, 211099.0789789379),
                (300031.07267534535, 302246801.41967297, 131168.41117356753),
            ),
            "val": (
                "ab7cea45f395b464",
                (2062.2255790163763, 2328.362817334951, -828.0636398501246),
                (20362.719200837077, 16983847.748778675, 22325.41850490596),
                (33193.38280729923, 30432530.909896344, 7796.254597708386),
            ),
            "test": (
                "7b89594040f3b955",
                (5995.383873230428, 12656.145242928018, 5936.982867380334),
                (144791.49937945325, 211171455.2752429, 148375.79944656137),
                (188526.74448129133, 253272919.6525877, 76679.30106918058),
            ),
        },
    ),
}


def labels_digest(labels) -> str:
    return hashlib.sha256(np.asarray(labels, dtype=np.int64).tobytes()).hexdigest()[:16]


def fingerprint(a) -> tuple[float, float, float]:
    a = np.asarray(a, dtype=np.float64).ravel()
    w = np.random.default_rng(0).uniform(0.5, 1.5, a.size)
    return float(np.abs(a).sum()), float((a * a).sum()), float((w * a).sum())


def assert_fingerprint(a, pinned: tuple[float, float, float]) -> None:
    np.testing.assert_allclose(fingerprint(a), pinned, rtol=1e-10, atol=1e-10 * pinned[0])


@pytest.mark.parametrize("name", list(GENERATED))
def test_generated_patches_are_pinned(name):
    settings, n, elsewhere = GENERATED[name]
    r = settings.get("resolution", 10)
    points = np.random.default_rng(0).uniform(-0.5, 0.5, size=(r * r, 2)) if elsewhere else None
    patches = TerrainGenerator(**settings).generate(n, seed=[7, 2], points=points)
    labels, *floats = PINNED_GENERATED[name]
    assert labels_digest(patches.labels) == labels
    for array, pinned in zip(
        (patches.heights, patches.params, patches.descriptors), floats, strict=True
    ):
        assert_fingerprint(array, pinned)


@pytest.mark.parametrize("name", list(DATAMODULES))
def test_datamodule_splits_are_pinned(name):
    dm = TerrainDataModule(train_size=300, val_size=50, test_size=60, seed=3, **DATAMODULES[name])
    dm.setup()
    mean, std, splits = PINNED_DATAMODULES[name]
    assert (dm.altitude_mean, dm.altitude_std) == pytest.approx((mean, std), rel=1e-12)
    for split, (labels, *floats) in splits.items():
        batch = dm.split(split)
        assert labels_digest(batch["label"]) == labels
        for key, pinned in zip(("x", "params", "descriptors"), floats, strict=True):
            assert_fingerprint(batch[key].numpy(), pinned)
