"""data=dem: windows of an elevation raster (GeoTIFF, .npy, .npz), split by spatial blocks.

Every raster is written here (tiny GeoTIFFs with rasterio, .npy grids): planes and quadrics
whose descriptors are known in closed form, a geographic CRS, holes, a raster read band by band,
a leak-free split on a real-sized grid (and the random split that leaks), the same windows at
every resolution, the cache, the summit and uniform windows of the sampling-bias protocol, one
trained run evaluated end to end, and one line for every bad input.
"""

import json
import logging
import math
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import Affine

from aelab.data import dem as dem_module
from aelab.data.dem import DemDataModule
from aelab.data.dem_raster import EARTH_RADIUS_M
from aelab.data.dem_split import SPLITS
from aelab.data.dem_windows import DESCRIPTOR_NAMES, FINE_GRID, Geometry
from aelab.data.terrain import grid_points
from aelab.errors import ConfigError
from tests.conftest import run_train_in_process
from tests.ordered_runs import eval_in_process, run_main

UTM = "EPSG:32616"  # a projected CRS in metres
ONE_LINE = re.compile(r"^[\w.]+ must be .+, got .+; e.g. [\w.]+=\S+$")  # as tests/test_schema.py
COLUMN = {name: i for i, name in enumerate(DESCRIPTOR_NAMES)}


# --- rasters -------------------------------------------------------------------------------------
def write_geotiff(
    path: Path,
    heights: np.ndarray,
    cell: tuple[float, float] = (10.0, 10.0),
    crs: str | None = UTM,
    nodata: float | None = None,
    corner: tuple[float, float] = (500_000.0, 4_000_000.0),
) -> Path:
    """A north-up single-band float32 GeoTIFF: row 0 at the top (`corner` is west, north)."""
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=heights.shape[0],
        width=heights.shape[1],
        count=1,
        dtype="float32",
        crs=crs,
        transform=Affine(cell[0], 0.0, corner[0], 0.0, -cell[1], corner[1]),
        nodata=nodata,
    ) as dataset:
        dataset.write(heights.astype(np.float32), 1)
    return path


def centres(shape: tuple[int, int], cell: float) -> tuple[np.ndarray, np.ndarray]:
    """x (along columns) and y (along rows) of every cell centre, in metres."""
    y, x = np.meshgrid(
        (np.arange(shape[0]) + 0.5) * cell, (np.arange(shape[1]) + 0.5) * cell, indexing="ij"
    )
    return x, y


def smooth_surface(size: int, seed: int, scale: float = 0.01) -> np.ndarray:
    """A smooth random surface (Gaussian-filtered noise), about 500 +- 200 m."""
    noise = np.random.default_rng(seed).normal(size=(size, size))
    k = np.fft.fftfreq(size)
    radius = np.hypot(*np.meshgrid(k, k, indexing="ij"))
    smooth = np.fft.ifft2(np.fft.fft2(noise) * np.exp(-((radius / scale) ** 2))).real
    return (500 + 200 * smooth / smooth.std()).astype(np.float32)


def fine_points(origins: np.ndarray, patch_m: float) -> tuple[np.ndarray, np.ndarray]:
    """x, y (N, F, F) in metres of the fine grid the descriptors are fitted on."""
    f = (np.arange(FINE_GRID) + 0.5) / FINE_GRID * patch_m
    x = origins[:, 0, None, None] + f[None, None, :]
    y = origins[:, 1, None, None] + f[None, :, None]
    return tuple(np.broadcast_arrays(x, y))


def module(path: Path, cache: Path, **settings) -> DemDataModule:
    return DemDataModule(path=str(path), cache_dir=str(cache), **settings)


# --- 1. planes and quadrics: descriptors in closed form ------------------------------------------
PATCH = 1000.0
CELL = 10.0
SHAPE = (400, 400)  # 4 km x 4 km of 10 m cells


def test_a_plane_has_its_exact_descriptors(tmp_path):
    a, b, c = 300.0, 0.02, -0.035  # h = a + b x + c y, x along columns, y along rows (m)
    x, y = centres(SHAPE, CELL)
    path = write_geotiff(tmp_path / "plane.tif", a + b * x + c * y)
    dm = module(path, tmp_path / "cache", patch_m=PATCH, stride_m=250, block_m=2000)
    assert dm.raster.cell_m == (CELL, CELL)
    windows = dm.grid_windows()
    origins, desc = windows["origin"].numpy(), windows["descriptors"].numpy()
    assert windows["valid"].all() and len(origins) == 13 * 13
    inner = ((origins >= CELL) & (origins + PATCH <= 4000 - CELL)).all(axis=1)
    assert inner.sum() == 11 * 11
    origins, desc = origins[inner], desc[inner]
    centre = origins + PATCH / 2
    # float32 heights: ~1e-5 m on 300 m; slopes and curvatures then exact to float precision
    np.testing.assert_allclose(
        desc[:, COLUMN["mean_altitude"]], a + b * centre[:, 0] + c * centre[:, 1], atol=1e-4
    )
    np.testing.assert_allclose(desc[:, COLUMN["slope_x"]], b, atol=1e-7)
    np.testing.assert_allclose(desc[:, COLUMN["slope_y"]], c, atol=1e-7)
    for name in ("curv_xx", "curv_xy", "curv_yy"):
        np.testing.assert_allclose(desc[:, COLUMN[name]], 0.0, atol=1e-3)  # m/km^2
    side = PATCH * (FINE_GRID - 1) / FINE_GRID  # between the fine grid's outer points
    np.testing.assert_allclose(desc[:, COLUMN["relief"]], (abs(b) + abs(c)) * side, atol=1e-3)
    assert desc[:, COLUMN["roughness"]].max() < 1e-4  # m

    # the r x r heights, rows = y and columns = x, and back to metres through the standardisation
    dm.setup()
    r = dm.resolution
    test = dm.split("test")
    grid = (np.arange(r) + 0.5) / r * PATCH
    o = dm.origins["test"]
    expected = (
        a
        + b * (o[:, 0, None, None] + grid[None, None, :])
        + c * (o[:, 1, None, None] + grid[None, :, None])
    )
    np.testing.assert_allclose(dm.to_metres(test["x"])[:, 0].numpy(), expected, atol=1e-3)
    units = dm.units
    assert units.name == "m" and units.scale == pytest.approx(dm.altitude_std)


def test_a_quadric_has_its_curvatures(tmp_path):
    """h = plane + kxx (x-X)^2 + kxy (x-X)(y-Y) + kyy (y-Y)^2 in metres; in km from a window's
    centre the quadric terms are 1e6 k, so curv_xx = 2e6 kxx, curv_xy = 1e6 kxy, curv_yy = 2e6
    kyy (m/km^2). Bilinear interpolation of a quadric on 10 m cells is off by at most k d^2 / 4
    (2.5 mm here): mean altitude within 5 mm, curvatures within 1e-4 relative."""
    kxx, kxy, kyy, peak = 4e-5, -3e-5, 2e-5, np.array([2000.0, 2000.0])

    def height(x, y):
        u, v = x - peak[0], y - peak[1]
        return 300 + 0.02 * x - 0.035 * y + kxx * u * u + kxy * u * v + kyy * v * v

    path = write_geotiff(tmp_path / "quadric.tif", height(*centres(SHAPE, CELL)))
    dm = module(path, tmp_path / "cache", patch_m=PATCH, stride_m=250, block_m=2000)
    windows = dm.grid_windows()
    origins, desc = windows["origin"].numpy(), windows["descriptors"].numpy()
    inner = ((origins >= CELL) & (origins + PATCH <= 4000 - CELL)).all(axis=1)
    origins, desc = origins[inner], desc[inner]
    u, v = (origins + PATCH / 2 - peak).T
    fine = height(*fine_points(origins, PATCH))
    np.testing.assert_allclose(desc[:, COLUMN["mean_altitude"]], fine.mean(axis=(1, 2)), atol=5e-3)
    np.testing.assert_allclose(desc[:, COLUMN["slope_x"]], 0.02 + 2 * kxx * u + kxy * v, atol=1e-6)
    np.testing.assert_allclose(
        desc[:, COLUMN["slope_y"]], -0.035 + kxy * u + 2 * kyy * v, atol=1e-6
    )
    np.testing.assert_allclose(desc[:, COLUMN["curv_xx"]], 2e6 * kxx, rtol=1e-4)
    np.testing.assert_allclose(desc[:, COLUMN["curv_xy"]], 1e6 * kxy, rtol=1e-4)
    np.testing.assert_allclose(desc[:, COLUMN["curv_yy"]], 2e6 * kyy, rtol=1e-4)
    relief = fine.max(axis=(1, 2)) - fine.min(axis=(1, 2))
    np.testing.assert_allclose(desc[:, COLUMN["relief"]], relief, atol=5e-3)
    assert desc[:, COLUMN["roughness"]].max() < 1e-3  # m, against reliefs of 20 to 200 m
    assert relief.min() > 20


# --- 2. a geographic CRS -------------------------------------------------------------------------
def test_degrees_become_metres_at_the_central_latitude(tmp_path):
    dx, dy, north, rows = 0.0004, 0.0003, 46.0, 40
    path = write_geotiff(
        tmp_path / "wgs84.tif",
        np.full((rows, 60), 200.0),
        cell=(dx, dy),
        crs="EPSG:4326",
        corner=(-90.0, north),
    )
    dm = module(path, tmp_path / "cache")
    latitude = north - dy * rows / 2
    metres = math.pi / 180 * 6371008.8
    assert EARTH_RADIUS_M == 6371008.8
    assert dm.raster.cell_m == pytest.approx(
        (dx * metres * math.cos(math.radians(latitude)), dy * metres), rel=1e-12
    )
    assert dm.raster.cell_m[0] == pytest.approx(30.90, abs=0.01)  # 44.5 m at the equator
    assert f"latitude {latitude:.2f}" in dm.raster.origin


def test_a_projected_crs_in_feet_gives_metres(tmp_path):
    path = write_geotiff(
        tmp_path / "feet.tif", np.zeros((10, 10)), cell=(100.0, 50.0), crs="EPSG:2227"
    )
    foot = 1200 / 3937  # the US survey foot
    assert module(path, tmp_path / "cache", patch_m=100).raster.cell_m == pytest.approx(
        (100 * foot, 50 * foot), rel=1e-12
    )


# --- 3. holes ------------------------------------------------------------------------------------
HOLE_SHAPE = (200, 200)


def hole_raster(tmp_path: Path, kind: str, holes: list[tuple[int, int]]) -> tuple[Path, dict]:
    """A 2 km x 2 km raster of 10 m cells with missing cells at `holes` (row, column)."""
    heights = smooth_surface(HOLE_SHAPE[0], seed=3, scale=0.05)
    missing = -9999.0 if kind == "tif" else np.nan
    for row, col in holes:
        heights[row, col] = missing
    name = f"holes_{len(holes)}_{holes[0][1] if holes else 0}"
    if kind == "tif":
        return write_geotiff(tmp_path / f"{name}.tif", heights, nodata=-9999.0), {}
    np.save(tmp_path / f"{name}.npy", heights)
    return tmp_path / f"{name}.npy", {"cell_size_m": [CELL, CELL]}


@pytest.mark.parametrize("kind", ["tif", "npy"])
def test_windows_touching_a_hole_are_dropped(kind, tmp_path):
    holes = [(80, 59), (150, 20)]
    path, extra = hole_raster(tmp_path, kind, holes)
    (tmp_path / "whole").mkdir()
    whole, _ = hole_raster(tmp_path / "whole", kind, [])
    options = dict(patch_m=500, stride_m=100, block_m=1000, **extra)
    dm = module(path, tmp_path / "cache", **options)
    reference = module(whole, tmp_path / "cache_whole", **options).grid_windows()
    windows = dm.grid_windows()
    origins, valid = windows["origin"].numpy(), windows["valid"].numpy()
    assert reference["valid"].all()
    geometry = dm.geometry
    c0, c1 = geometry.support(origins[:, 0], 0)
    r0, r1 = geometry.support(origins[:, 1], 1)
    touches = np.zeros(len(origins), dtype=bool)
    for row, col in holes:
        touches |= (r0 <= row) & (row <= r1) & (c0 <= col) & (col <= c1)
    np.testing.assert_array_equal(valid, ~touches)
    assert 0 < touches.sum() < len(origins) / 2
    # by hand: cell 59's centre (595 m) is 5 m from the window at x0 = 600 m, so it is in its support
    at = {tuple(o): i for i, o in enumerate(origins)}
    assert not valid[at[(600.0, 600.0)]] and not valid[at[(500.0, 600.0)]]
    assert valid[at[(700.0, 600.0)]]  # 105 m away
    # the others are exactly the windows of the same raster without holes
    for key in ("heights", "descriptors"):
        assert torch.equal(windows[key][valid], reference[key][valid])
        assert torch.isnan(windows[key][~valid]).all()
    dm.setup()
    kept = {tuple(o) for name in SPLITS for o in dm.origins[name]}
    assert not kept & {tuple(o) for o in origins[~valid]}


def test_holes_next_to_a_window_keep_it(tmp_path):
    """Cell 58 (centre 585 m) is 15 m from the window at x0 = 600 m: outside its support."""
    path, extra = hole_raster(tmp_path, "npy", [(80, 58)])
    windows = module(path, tmp_path / "cache", patch_m=500, stride_m=100, **extra).grid_windows()
    at = {tuple(o): i for i, o in enumerate(windows["origin"].numpy())}
    assert windows["valid"][at[(600.0, 600.0)]] and not windows["valid"][at[(500.0, 600.0)]]


def test_a_raster_without_heights_is_one_line(tmp_path):
    np.save(tmp_path / "empty.npy", np.full((50, 50), np.nan, dtype=np.float32))
    dm = module(tmp_path / "empty.npy", tmp_path / "cache", cell_size_m=[30, 30], block_m=1000)
    with pytest.raises(ConfigError) as raised:
        dm.setup()
    message = str(raised.value)
    assert "\n" not in message and "touches a missing cell" in message
    assert "data.path=" in message and "data.nodata" in message


# --- 4. band by band -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["tif", "npy"])
def test_a_raster_over_the_memory_budget_gives_the_same_windows(kind, tmp_path, caplog):
    path, extra = hole_raster(tmp_path, kind, [(120, 30)])
    options = dict(patch_m=500, stride_m=100, block_m=1000, **extra)
    whole = module(path, tmp_path / "whole", **options)
    banded = module(path, tmp_path / "banded", in_memory_limit=1000, **options)
    with caplog.at_level(logging.INFO, logger="aelab.data.dem"):
        expected, got = whole.grid_windows(), banded.grid_windows()
    assert whole.raster._kept is not None and banded.raster._kept is None
    assert "reading it band by band" in caplog.text
    assert torch.equal(got["origin"], expected["origin"])
    assert torch.equal(got["valid"], expected["valid"]) and not got["valid"].all()
    for key in ("heights", "descriptors"):
        assert torch.equal(got[key].nan_to_num(-1.0), expected[key].nan_to_num(-1.0))


# --- 5. a leak-free split on a real-sized grid ---------------------------------------------------
@pytest.fixture(scope="module")
def big_grid(tmp_path_factory) -> dict:
    """1000 x 1000 cells of 30 m (30 km on a side), a smooth random surface, as .npy."""
    root = tmp_path_factory.mktemp("big")
    np.save(root / "big.npy", smooth_surface(1000, seed=0))
    options = {"path": str(root / "big.npy"), "cell_size_m": [30, 30]}
    blocks = DemDataModule(cache_dir=str(root / "cache"), **options)
    blocks.setup()
    return {"root": root, "options": options, "blocks": blocks}


def overlapping_pairs(a: np.ndarray, b: np.ndarray, patch: float) -> int:
    """Pairs of windows whose extents [x0, x0 + patch] x [y0, y0 + patch] share an area."""
    apart = np.abs(a[:, None, :] - b[None, :, :])
    return int(((apart[..., 0] < patch) & (apart[..., 1] < patch)).sum())


def support_cells(geometry: Geometry, origins: np.ndarray) -> np.ndarray:
    """A mask of the raster's cells in the support of any window at `origins`."""
    mask = np.zeros(geometry.shape, dtype=bool)
    c0, c1 = geometry.support(origins[:, 0], 0)
    r0, r1 = geometry.support(origins[:, 1], 1)
    for a, b, c, d in zip(r0, r1, c0, c1, strict=True):
        mask[a : b + 1, c : d + 1] = True
    return mask


def test_blocks_share_no_ground_between_splits(big_grid):
    dm = big_grid["blocks"]
    patch = dm.geometry.patch_m
    origins = dm.origins
    assert dm.geometry.shape == (1000, 1000) and dm.block_m == 4 * patch
    assert len(origins["train"]) > 1000 and min(len(origins["val"]), len(origins["test"])) > 100
    cells = {name: support_cells(dm.geometry, origins[name]) for name in SPLITS}
    for held_out in ("val", "test"):
        assert overlapping_pairs(origins[held_out], origins["train"], patch) == 0
        assert not (cells[held_out] & cells["train"]).any()
    assert overlapping_pairs(origins["val"], origins["test"], patch) == 0
    assert not (cells["val"] & cells["test"]).any()


def test_a_random_split_overlaps_and_says_so(big_grid, caplog):
    with caplog.at_level(logging.WARNING, logger="aelab.data.dem"):
        dm = DemDataModule(
            split="random", cache_dir=str(big_grid["root"] / "cache"), **big_grid["options"]
        )
        dm.setup()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("windows overlap" in m and "leakage" in m for m in warnings), warnings
    origins, patch = dm.origins, dm.geometry.patch_m
    assert overlapping_pairs(origins["test"], origins["train"], patch) > 100  # the check can fail
    shared = support_cells(dm.geometry, origins["test"]) & support_cells(
        dm.geometry, origins["train"]
    )
    assert shared.sum() > 1000


def test_relief_classes_and_the_classes_filter(big_grid):
    everything = big_grid["blocks"]
    assert everything.class_names == ["low_relief", "mid_relief", "high_relief"]
    train = everything.split("train")
    counts = torch.bincount(train["label"], minlength=3)
    assert (counts > len(train["label"]) / 3 - 5).all()  # tertiles of the training relief
    relief = train["descriptors"][:, COLUMN["relief"]].numpy()
    assert relief[train["label"].numpy() == 0].max() <= everything.thresholds[0] + 1e-3
    low = DemDataModule(
        classes=["low_relief"], cache_dir=str(big_grid["root"] / "cache"), **big_grid["options"]
    )
    low.setup()
    assert low.trained_classes == [0]
    assert (low.split("train")["label"] == 0).all() and (low.split("val")["label"] == 0).all()
    assert set(low.split("test")["label"].tolist()) == {0, 1, 2}  # the test split keeps all
    np.testing.assert_array_equal(low.origins["test"], everything.origins["test"])


# --- 6. the same windows at every resolution -----------------------------------------------------
@pytest.mark.parametrize("resolution", [5, 20])
def test_the_same_windows_at_every_resolution(resolution, big_grid):
    dm = DemDataModule(
        resolution=resolution, cache_dir=str(big_grid["root"] / "cache"), **big_grid["options"]
    )
    dm.setup()
    assert dm.input_shape == (1, resolution, resolution)
    for name in SPLITS:
        np.testing.assert_array_equal(dm.origins[name], big_grid["blocks"].origins[name])
    points = np.stack(grid_points(resolution), axis=1)
    x = dm.split("test")["x"]
    again = dm.resample("test", points)
    assert again.shape == x.shape == (len(dm.origins["test"]), 1, resolution, resolution)
    torch.testing.assert_close(again, x, atol=1e-5, rtol=0)
    moved = dm.resample("test", points + 0.25 / resolution)  # a quarter cell: other heights
    assert (moved - x).abs().max() > 1e-3


# --- 7. the cache --------------------------------------------------------------------------------
def test_the_cache_is_read_then_rebuilt_when_the_file_changes(tmp_path, monkeypatch):
    path = tmp_path / "grid.npy"
    np.save(path, smooth_surface(200, seed=1, scale=0.05))
    cache = tmp_path / "cache"
    options = dict(cell_size_m=[CELL, CELL], patch_m=500, stride_m=250, block_m=1000)
    calls = []
    real_cut = dem_module.cut

    def counted(*args, **kwargs):
        calls.append(len(args[1]))
        return real_cut(*args, **kwargs)

    monkeypatch.setattr(dem_module, "cut", counted)
    first = module(path, cache, **options)
    first.setup()
    assert len(calls) == 1
    files = list(cache.glob("dem-grid-*.pt"))
    assert len(files) == 1

    second = module(path, cache, **options)
    second.setup()  # from the cache: no cutting
    assert len(calls) == 1
    assert torch.equal(second.split("train")["x"], first.split("train")["x"])

    np.save(path, smooth_surface(200, seed=2, scale=0.05))  # new content, same size
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    third = module(path, cache, **options)
    third.setup()
    assert len(calls) == 2  # cut again
    assert not torch.equal(third.split("train")["x"], first.split("train")["x"])
    now = list(cache.glob("dem-grid-*.pt"))
    assert len(now) == 1 and now != files  # the new cache replaced the old one of its stem

    module(path, cache, **{**options, "stride_m": 125}).setup()  # other options: another stem
    assert len(calls) == 3 and len(list(cache.glob("dem-grid-*.pt"))) == 2


# --- 8. windows at an offset: summits and uniform ------------------------------------------------
@pytest.fixture(scope="module")
def bumps(tmp_path_factory):
    """8 km x 8 km of 20 m cells: a gentle plane and a Gaussian bump at each 2 km block's centre
    cell (its summit), blocks of 2 km."""
    root = tmp_path_factory.mktemp("bumps")
    x, y = centres((400, 400), 20.0)
    heights = 0.001 * x
    peaks = np.array(
        [(b + 1010.0, c + 1010.0) for c in range(0, 8000, 2000) for b in range(0, 8000, 2000)]
    )
    for px, py in peaks:
        heights = heights + 100 * np.exp(-((x - px) ** 2 + (y - py) ** 2) / (2 * 200.0**2))
    path = write_geotiff(root / "bumps.tif", heights, cell=(20.0, 20.0))
    dm = module(path, root / "cache", resolution=11, stride_m=250, block_m=2000)
    dm.setup()
    return dm, peaks


def recorded_cuts(monkeypatch) -> list:
    """(origins, windows) of every `cut` the DataModule makes from now on."""
    seen = []
    real_cut = dem_module.cut

    def recording(raster, origins, *args, **kwargs):
        windows = real_cut(raster, origins, *args, **kwargs)
        seen.append((origins, windows))
        return windows

    monkeypatch.setattr(dem_module, "cut", recording)
    return seen


def block_of(points_m: np.ndarray, block_m: float) -> np.ndarray:
    return np.floor(points_m / block_m).astype(np.int64)


def test_summit_windows_are_centred_on_their_summit(bumps, monkeypatch):
    dm, peaks = bumps
    seen = recorded_cuts(monkeypatch)
    windows = dm.offset_windows(10, seed=0, offset="summit")
    held_out = dm.blocks[block_of(peaks[:, 1], 2000), block_of(peaks[:, 0], 2000)] > 0
    assert held_out.sum() == 4  # val 2 and test 2 of the 16 blocks: one summit each
    ((origins, cut),) = seen
    centres_m = origins + dm.geometry.patch_m / 2
    assert sorted(map(tuple, centres_m)) == sorted(map(tuple, peaks[held_out]))
    heights = dm.to_metres(windows["x"])[:, 0].numpy()  # r = 11: the centre is a sample point
    assert len(heights) == 4
    centre = heights[:, 5, 5]
    np.testing.assert_allclose(centre, heights.reshape(4, -1).max(axis=1))
    np.testing.assert_allclose(
        np.sort(centre), np.sort(100 + 0.001 * peaks[held_out, 0]), atol=1e-3
    )


def test_uniform_windows_lie_in_held_out_blocks(bumps, monkeypatch):
    dm, _ = bumps
    seen = recorded_cuts(monkeypatch)
    windows = dm.offset_windows(20, seed=[1, 2], offset="uniform")
    assert len(windows["x"]) == 20
    ((origins, cut),) = seen
    # each returned window is one of the candidates cut, at an arbitrary (off-grid) place
    metres = dm.to_metres(windows["x"])[:, 0].numpy().reshape(20, -1)
    cut_heights = cut.heights.reshape(len(origins), -1)
    match = [int(np.nanargmin(np.abs(cut_heights - row).max(axis=1))) for row in metres]
    chosen = origins[match]
    np.testing.assert_allclose(cut_heights[match], metres, atol=1e-3)
    assert len(np.unique(chosen, axis=0)) == 20 and (chosen % 250 != 0).any()
    # every cell of every window's support lies in a val or test block, never in a train block
    geometry = dm.geometry
    c0, c1 = geometry.support(chosen[:, 0], 0)
    r0, r1 = geometry.support(chosen[:, 1], 1)
    for a, b, c, d in zip(r0, r1, c0, c1, strict=True):
        rows = block_of((np.arange(a, b + 1) + 0.5) * 20.0, 2000)
        cols = block_of((np.arange(c, d + 1) + 0.5) * 20.0, 2000)
        assert (dm.blocks[np.ix_(rows, cols)] > 0).all()
    assert not (
        support_cells(geometry, chosen) & support_cells(geometry, dm.origins["train"])
    ).any()


def test_an_unknown_offset_is_one_line(bumps):
    dm, _ = bumps
    with pytest.raises(ConfigError, match="summit or uniform.*'valley'"):
        dm.offset_windows(5, seed=0, offset="valley")


# --- 10. bad input: one line through the command line -------------------------------------------
@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad")
    heights = smooth_surface(100, seed=4, scale=0.05)
    files = {
        "good": write_geotiff(root / "good.tif", heights, cell=(30.0, 30.0)),
        "no_crs": write_geotiff(root / "no_crs.tif", heights, crs=None),
        "corrupt": root / "corrupt.tif",
        "text": root / "heights.txt",
        "npy": root / "grid.npy",
        "empty": root / "empty.npy",
    }
    files["corrupt"].write_bytes(np.random.default_rng(0).bytes(4096))
    np.savetxt(files["text"], heights)
    np.save(files["npy"], heights)
    np.save(files["empty"], np.full((100, 100), -9999.0, dtype=np.float32))
    return files


BAD = {  # file, overrides, what the one line says (key and fix)
    "geotiff without crs": (
        "no_crs",
        [],
        [
            "data.cell_size_m must be set for no_crs.tif, a GeoTIFF without a CRS",
            "e.g. data.cell_size_m=[30,30]",
        ],
    ),
    "npy without cell size": (
        "npy",
        [],
        ["data.cell_size_m must be set for an .npy grid", "e.g. data.cell_size_m=[30,30]"],
    ),
    "all nodata": (
        "empty",
        ["data.cell_size_m=[30,30]", "data.nodata=-9999", "data.block_m=1000"],
        ["data.path=", "touches a missing cell", "check data.nodata"],
    ),
    "window larger than the raster": (
        "good",
        ["data.patch_m=5000"],
        [
            "data.patch_m must be at most the raster's extent (3000 m x 3000 m)",
            "e.g. data.patch_m=3000",
        ],
    ),
    "stride zero": ("good", ["data.stride_m=0"], ["data.stride_m must be", "e.g. data.stride_m="]),
    "blocks smaller than a window": (
        "good",
        ["data.block_m=500"],
        ["data.block_m must be at least a window's side", "e.g. data.block_m=2000"],
    ),
    "unsupported extension": (
        "text",
        [],
        ["data.path must be a GeoTIFF (.tif), .npy or .npz file", "extension '.txt'"],
    ),
    "corrupt geotiff": ("corrupt", [], ["data.path=", "not a readable GeoTIFF"]),
}


def train_error(args: list[str], tmp_path, monkeypatch, capsys) -> str:
    """aelab-train with these arguments: exit code 2 and its one `aelab: error:` line."""
    code, err = run_train_in_process(
        ["data=dem", "~logger", "torch_threads=1", "trainer.max_steps=2", *args],
        tmp_path,
        monkeypatch,
        capsys,
    )
    lines = [line for line in err.splitlines() if line.startswith("aelab: error:")]
    assert code == 2, err[-3000:]
    assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
    return lines[0].removeprefix("aelab: error: ")


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_is_one_line(case, bad_files, tmp_path, monkeypatch, capsys):
    name, overrides, expected = BAD[case]
    args = [f"data.path={bad_files[name]}", f"data.cache_dir={tmp_path / 'cache'}", *overrides]
    line = train_error(args, tmp_path, monkeypatch, capsys)
    for part in expected:
        assert part in line, line
    if " must be " in line:
        assert ONE_LINE.match(line), line


def test_a_missing_rasterio_names_the_extra(bad_files, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "rasterio", None)  # `import rasterio` raises ImportError
    line = train_error([f"data.path={bad_files['good']}"], tmp_path, monkeypatch, capsys)
    assert "rasterio" in line and "pip install 'aelab[geo]'" in line
    assert "data.cell_size_m" in line  # the other way: an .npy grid


# --- 9. end to end: aelab-train, then aelab-eval -------------------------------------------------
@pytest.fixture(scope="module")
def trained_dem_run(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny MLP trained for 20 steps on 8 km x 8 km of 20 m cells (one run for every check)."""
    from aelab.train import main

    root = tmp_path_factory.mktemp("dem_run")
    path = write_geotiff(
        root / "e2e.tif", smooth_surface(400, seed=5, scale=0.02), cell=(20.0, 20.0)
    )
    args = [
        "data=dem",
        f"data.path={path}",
        f"data.cache_dir={root / 'cache'}",
        "data.stride_m=200",
        "data.block_m=2000",
        "model=mlp",
        "trainer.max_steps=20",
        "~logger",
        "torch_threads=1",
        f"hydra.run.dir={root / 'run'}",
    ]
    assert run_main(main, ["aelab-train", *args], root) == 0
    return root, root / "run"


def test_train_on_an_elevation_model(trained_dem_run):
    _, run = trained_dem_run
    result = json.loads((run / "result.json").read_text())
    assert result["status"] == "ok" and result["input_dim"] == 100
    assert math.isfinite(result["metrics"]["test/mse"]) and result["metrics"]["test/pca_mse"] > 0


def test_eval_reconstruction_and_probes(trained_dem_run, tmp_path):
    _, run = trained_dem_run
    code = eval_in_process(
        f"ckpt_path={run}", "task=[reconstruction,embedding]", "torch_threads=1", cwd=tmp_path
    )
    assert code == 0
    report = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert json.loads((tmp_path / "eval" / "result.json").read_text())["status"] == "ok"
    assert report["tasks"]["reconstruction"]["mse"] > 0
    r2 = report["tasks"]["embedding"]["r2"]["model"]
    assert set(DESCRIPTOR_NAMES) <= set(r2)
    assert r2["mean_altitude"] > 0.5  # the altitude is what a 5-latent code keeps first


def test_eval_sampling_bias(trained_dem_run, tmp_path):
    _, run = trained_dem_run
    args = ["task=[anomaly]", "anomaly=dem_sampling_bias", "anomaly.test_size=100"]
    assert eval_in_process(f"ckpt_path={run}", *args, "torch_threads=1", cwd=tmp_path) == 0
    assert json.loads((tmp_path / "eval" / "result.json").read_text())["status"] == "ok"
    found = json.loads((tmp_path / "eval" / "eval.json").read_text())["tasks"]["anomaly"]
    assert found["protocol"] == "sampling_bias"
    assert 0 < found["num_anomalies"] < found["num_test"]
    assert 0 <= found["model"]["auroc"] <= 1 and 0 <= found["pca"]["auroc"] <= 1
