"""A digital elevation model as a DataModule: windows of real ground, split by place.

``data=dem data.path=<GeoTIFF, .npy or .npz>`` cuts square windows of ``patch_m`` metres every
``stride_m`` metres from the raster (`aelab.data.dem_raster` reads it, `aelab.data.dem_windows`
cuts and describes the windows), each sampled on an r x r grid (``resolution``) like the synthetic
terrain. A window touching a missing cell is dropped. Splits are by spatial blocks, so no test
window shares ground with a training window (`aelab.data.dem_split`), or ``random`` to compare.

Batches hold ``x`` (heights standardised with the training windows' mean and std; `to_metres`
maps back), ``label`` (relief class: the training windows' relief quantiles, ``relief_classes``
of them) and ``descriptors`` (``DESCRIPTOR_NAMES``, in physical units). The windows, cut once, are
cached in ``cache_dir`` per file and options; a raster larger than ``in_memory_limit`` is read
band by band. `resample` reads the same test windows at other points (the resampling metrics),
`offset_windows` draws windows centred on local summits or anywhere in the test blocks (the
sampling-bias protocol of ``aelab-eval task=anomaly``).
"""

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aelab.data.array import (
    DEFAULT_MEMORY_FRACTION,
    MemorySize,
    chosen_classes,
    memory_limit,
    size_text,
)
from aelab.data.base import HeightsInMetres, NameList, Split, loader_keys
from aelab.data.cache import cache_path, cache_stem, file_stat, fingerprint, load_cache, save_cache
from aelab.data.dem_raster import EXAMPLE_PATH, Raster, open_raster
from aelab.data.dem_split import (
    DROPPED,
    SPLITS,
    STRATEGIES,
    assign_blocks,
    assign_random,
    block_grid,
    draw_blocks,
)
from aelab.data.dem_windows import DESCRIPTOR_NAMES, INTERPOLATIONS, Geometry, cut, sample_points
from aelab.data.images import plain
from aelab.errors import ConfigError
from aelab.schema.keys import Context, Key, Target
from aelab.schema.memory import available_memory
from aelab.schema.message import violation
from aelab.schema.types import Choice, Integer, Number, Text, ValueType, is_number

log = logging.getLogger(__name__)

CACHE_VERSION = 1  # bump when cutting changes: older caches are then ignored
OFFSETS = ("summit", "uniform")  # windows of `offset_windows`
CANDIDATES = 20  # uniform windows drawn per window wanted (most fall outside the test blocks)
RELIEF = DESCRIPTOR_NAMES.index("relief")
BLOCK_SIDES = 4  # block_m=null: blocks of 4 windows' sides (a window and its neighbours inside)


class CellSize(ValueType):
    phrase = "a list [dx, dy] of two positive numbers (metres)"

    def fits(self, value: Any) -> bool:
        return (
            isinstance(value, list | tuple)
            and len(value) == 2
            and all(is_number(v) and v > 0 for v in value)
        )


def relief_class_names(count: int) -> list[str]:
    """Names of `count` relief classes, lowest relief first."""
    if count == 1:
        return ["all"]
    if count == 3:
        return ["low_relief", "mid_relief", "high_relief"]
    return [f"relief_q{i + 1}" for i in range(count)]


def _dem_fits(ctx: Context) -> None:
    """With ``data.path`` set: the raster opens, and its windows and blocks fit."""
    values = ctx.groups.get("data", {})
    if values.get("path") is not None:
        DemDataModule(**values)


FRACTION = Number(gt=0, lt=1)


class DemDataModule(HeightsInMetres):
    """Windows of an elevation raster as (1, r, r) samples, split by spatial blocks."""

    SCHEMA = Target(
        keys=(
            Key("path", Text(), EXAMPLE_PATH, nullable=True, note="(a GeoTIFF, .npy or .npz)"),
            Key("cell_size_m", CellSize(), [30, 30], nullable=True),
            Key("nodata", Number(), -9999, nullable=True, note="(a height that marks no data)"),
            Key("patch_m", Number(gt=0), 1000, note="(window side in metres)"),
            Key("resolution", Integer(ge=2), 10, note="(grid points per side)"),
            Key("stride_m", Number(gt=0), 500, nullable=True, note="(null: patch_m / 2)"),
            Key("interpolation", Choice(INTERPOLATIONS), "bilinear"),
            Key("split", Choice(STRATEGIES), "blocks"),
            Key("block_m", Number(gt=0), 4000, nullable=True, note="(null: 4 * patch_m)"),
            Key("val_size", FRACTION, 0.15, note="(a fraction of the blocks, or windows)"),
            Key("test_size", FRACTION, 0.15, note="(a fraction of the blocks, or windows)"),
            Key("relief_classes", Integer(ge=1), 3),
            Key(
                "classes",
                NameList("a non-empty list of class names or ids"),
                ["low_relief"],
                nullable=True,
            ),
            Key("in_memory_limit", MemorySize(), "2GiB", nullable=True),
            Key("cache_dir", Text(), "data/cache"),
            *loader_keys(128),
        ),
        rules=(_dem_fits,),
    )

    def __init__(
        self,
        path: str | None = None,
        cell_size_m: list[float] | None = None,
        nodata: float | None = None,
        patch_m: float = 1000,
        resolution: int = 10,
        stride_m: float | None = None,
        interpolation: str = "bilinear",
        split: str = "blocks",
        block_m: float | None = None,
        val_size: float = 0.15,
        test_size: float = 0.15,
        relief_classes: int = 3,
        classes: list[str] | None = None,
        in_memory_limit: int | float | str | None = None,
        cache_dir: str = "data/cache",
        batch_size: int = 128,
        eval_batch_size: int | None = None,
        seed: int = 1234,
    ) -> None:
        super().__init__(batch_size=batch_size, seed=seed, eval_batch_size=eval_batch_size)
        cell_size_m, classes = plain(cell_size_m), plain(classes)
        settings = {k: v for k, v in locals().items() if k in self.SCHEMA.by_name}
        self.SCHEMA.check_values("data", settings)
        self.settings = settings
        self.raster: Raster = open_raster(path, cell_size_m, nodata)
        self.geometry = Geometry(self.raster.shape, self.raster.cell_m, float(patch_m))
        width, height = self.raster.size_m
        if not self.geometry.fits():
            raise violation(
                "data.patch_m",
                f"at most the raster's extent ({width:.0f} m x {height:.0f} m)",
                repr(patch_m),
                math.floor(min(width, height)),
            )
        self.resolution = resolution
        self.stride_m = float(stride_m) if stride_m is not None else float(patch_m) / 2
        self.block_m = float(block_m) if block_m is not None else BLOCK_SIDES * float(patch_m)
        if split == "blocks" and self.block_m < patch_m:
            raise violation(
                "data.block_m",
                f"at least a window's side (data.patch_m={patch_m:g})",
                repr(block_m),
                2 * patch_m,
            )
        self.interpolation = interpolation
        self.strategy = split
        self.fractions = (val_size, test_size)
        self._class_names = relief_class_names(relief_classes)
        self.classes = None if classes is None else chosen_classes(classes, self._class_names)
        self.cache_dir = cache_dir
        self.origins: dict[str, np.ndarray] = {}  # metres, per split
        self.blocks: np.ndarray | None = None  # split id per block (split=blocks)
        self.thresholds = np.zeros(0)  # relief (m) between classes

    # --- declarations -------------------------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (1, self.resolution, self.resolution)

    @property
    def class_names(self) -> list[str]:
        return self._class_names

    @property
    def trained_classes(self) -> list[int]:
        return self.classes if self.classes is not None else list(range(len(self._class_names)))

    @property
    def intrinsics(self) -> dict[str, list[str]]:
        return {"descriptors": list(DESCRIPTOR_NAMES)}

    # --- the windows ----------------------------------------------------------------------------
    def memory_budget(self) -> int:
        kind, value = memory_limit(self.settings["in_memory_limit"]) or (
            "fraction",
            DEFAULT_MEMORY_FRACTION,
        )
        return int(value * available_memory()) if kind == "fraction" else int(value)

    def _read_whole_if_it_fits(self) -> None:
        budget, needed = self.memory_budget(), self.raster.bytes
        if self.raster.in_memory:
            return
        if needed <= budget:
            log.info(
                "data: the raster needs %s as float32 (data.in_memory_limit %s): reading it whole",
                size_text(needed),
                size_text(budget),
            )
            self.raster.keep_in_memory()
        else:
            log.info(
                "data: the raster needs %s as float32, more than data.in_memory_limit (%s): "
                "reading it band by band",
                size_text(needed),
                size_text(budget),
            )

    def _cache_key(self) -> tuple[str, str]:
        options = {
            "version": CACHE_VERSION,
            "cell_m": list(self.raster.cell_m),
            "nodata": self.settings["nodata"],
            "patch_m": self.geometry.patch_m,
            "stride_m": self.stride_m,
            "resolution": self.resolution,
            "interpolation": self.interpolation,
        }
        path = self.raster.path
        stem = cache_stem("dem", path.stem, path, *options.values())
        return stem, fingerprint({"file": file_stat(path), **options})

    def grid_windows(self) -> dict[str, torch.Tensor]:
        """Every window at the stride: ``origin`` (m), ``heights`` (m), ``descriptors``, ``valid``."""
        stem, key = self._cache_key()
        path = cache_path(self._cache_folder(), stem, key)
        cached = load_cache(path, key, "elevation window")
        if cached is not None:
            log.info("data: windows of %s read from the cache %s", self.raster.path.name, path)
            return cached
        origins = self.geometry.grid_origins(self.stride_m)
        log.info(
            "data: cutting %d windows of %g m (stride %g m, r = %d, %s) from %s",
            len(origins),
            self.geometry.patch_m,
            self.stride_m,
            self.resolution,
            self.interpolation,
            self.raster.path.name,
        )
        self._read_whole_if_it_fits()
        windows = cut(self.raster, origins, self.geometry, self.resolution, self.interpolation)
        tensors = {
            "origin": torch.from_numpy(origins),
            "heights": torch.from_numpy(windows.heights),
            "descriptors": torch.from_numpy(windows.descriptors),
            "valid": torch.from_numpy(windows.valid),
        }
        save_cache(path, key, tensors, "elevation window")
        return tensors

    def _cache_folder(self) -> Path:
        return Path(str(self.cache_dir)).expanduser().resolve()

    def assign(self, origins: np.ndarray) -> np.ndarray:
        """Split id of windows at `origins` (blocks), DROPPED across split borders."""
        if self.blocks is None:
            self.blocks = draw_blocks(self.geometry, self.block_m, *self.fractions, self.seed)
        return assign_blocks(self.geometry, origins, self.block_m, self.blocks)

    # --- the splits -----------------------------------------------------------------------------
    def build_splits(self) -> dict[str, Split]:
        windows = self.grid_windows()
        valid = windows["valid"].numpy()
        width, height = self.raster.size_m
        log.info(
            "data: %s: %d x %d cells of %.1f m x %.1f m (cell size from %s), %.1f km x %.1f km",
            self.raster.path.name,
            *self.raster.shape,
            *self.raster.cell_m,
            self.raster.origin,
            width / 1000,
            height / 1000,
        )
        if not valid.any():
            raise ConfigError(
                f"data.path={self.raster.path}: every one of the {len(valid)} windows of "
                f"{self.geometry.patch_m:g} m touches a missing cell (nodata, NaN); lower "
                "data.patch_m, fill the holes, or check data.nodata"
            )
        if (~valid).any():
            log.info(
                "data: %d of %d windows dropped: they touch missing cells",
                (~valid).sum(),
                len(valid),
            )
        kept = np.flatnonzero(valid)
        origins = windows["origin"].numpy()[kept]
        if self.strategy == "blocks":
            ids = self.assign(origins)
            rows, cols = block_grid(self.geometry, self.block_m)
            counts = np.bincount(self.blocks.ravel(), minlength=3)
            log.info(
                "data: spatial split: %d x %d blocks of %g m (train %d, val %d, test %d); %d "
                "windows dropped across split borders",
                rows,
                cols,
                self.block_m,
                *counts,
                (ids == DROPPED).sum(),
            )
        else:
            ids = assign_random(len(kept), *self.fractions, self.seed)
            log.warning(
                "data: data.split=random: windows overlap, so test windows share ground with "
                "training windows (leakage); data.split=blocks keeps them apart"
            )
        parts = {name: kept[ids == i] for i, name in enumerate(SPLITS)}
        for name, rows_of in parts.items():
            if not len(rows_of):
                raise ConfigError(
                    f"no {name} windows are left in {self.raster.path.name} after the split; "
                    "lower data.block_m or data.stride_m, or use a larger raster"
                )
        heights, desc = windows["heights"].numpy(), windows["descriptors"].numpy()
        train_heights = heights[parts["train"]]
        self.altitude_mean = float(train_heights.mean())
        self.altitude_std = float(train_heights.std()) or 1.0
        count = len(self._class_names)
        self.thresholds = np.quantile(desc[parts["train"], RELIEF], np.arange(1, count) / count)
        splits = {}
        for name, index in parts.items():
            labels = self.relief_class(desc[index])
            if self.classes is not None and name != "test":
                index = index[np.isin(labels, self.classes)]
                labels = self.relief_class(desc[index])
                if not len(index):
                    raise ConfigError(
                        f"no {name} windows of data.classes={self.settings['classes']}; choose "
                        "other relief classes"
                    )
            self.origins[name] = windows["origin"].numpy()[index]
            splits[name] = self._to_split(heights[index], desc[index], labels)
        log.info(
            "data: windows train %d, val %d, test %d",
            *(len(splits[n]["x"]) for n in SPLITS),
        )
        return splits

    def relief_class(self, desc: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.thresholds, desc[:, RELIEF], side="right").astype(np.int64)

    def _to_split(self, heights: np.ndarray, desc: np.ndarray, labels: np.ndarray) -> Split:
        x = (heights - self.altitude_mean) / self.altitude_std
        return {
            "x": torch.as_tensor(x, dtype=torch.float32).unsqueeze(1),
            "label": torch.as_tensor(labels, dtype=torch.int64),
            "descriptors": torch.as_tensor(desc, dtype=torch.float32),
        }

    # --- the same ground, sampled otherwise -------------------------------------------------------
    def resample(self, name: str, points: np.ndarray) -> torch.Tensor:
        """A split's windows read at other points ((r * r, 2) (x, y) in [-0.5, 0.5] of the window,
        as the synthetic terrain's km), standardised like the split."""
        self.setup()
        self._read_whole_if_it_fits()
        heights = sample_points(
            self.raster,
            self.origins[name],
            self.geometry,
            np.asarray(points) + 0.5,
            self.interpolation,
        )
        x = (heights - self.altitude_mean) / self.altitude_std
        side = int(round(math.sqrt(len(points))))
        return torch.as_tensor(x, dtype=torch.float32).reshape(len(x), 1, side, -1)

    def offset_windows(self, size: int, seed: int | list[int], offset: str) -> Split:
        """`size` windows of held-out ground (val and test blocks): centred on local summits (``summit``: the highest cell within
        half a window around it) or anywhere (``uniform``); standardised like the splits."""
        if offset not in OFFSETS:
            raise ConfigError(
                f"elevation windows can be centred on a summit or anywhere; choose "
                f"{' or '.join(OFFSETS)} for the offset, got {offset!r}"
            )
        self.setup()
        rng = np.random.default_rng(seed)
        patch = self.geometry.patch_m
        width, height = self.raster.size_m
        if offset == "summit":
            candidates = self._summit_origins()
        else:
            count = CANDIDATES * size
            candidates = np.stack(
                [rng.uniform(0, width - patch, count), rng.uniform(0, height - patch, count)],
                axis=1,
            )
        if self.strategy == "blocks":  # held-out ground: the val and test blocks
            candidates = candidates[self.assign(candidates) > SPLITS.index("train")]
        windows = cut(self.raster, candidates, self.geometry, self.resolution, self.interpolation)
        index = np.flatnonzero(windows.valid)
        if len(index) < size:
            log.info(
                "data: %d %s windows found in the test region (%d asked)", len(index), offset, size
            )
        index = rng.permutation(index)[:size]
        desc = windows.descriptors[index]
        return self._to_split(windows.heights[index], desc, self.relief_class(desc))

    def _summit_origins(self) -> np.ndarray:
        """Origins of windows centred on cells that are the highest within half a window."""
        if self.raster.bytes > self.memory_budget():
            raise ConfigError(
                f"finding summits reads the whole raster ({size_text(self.raster.bytes)}), more than "
                "data.in_memory_limit; raise it (e.g. data.in_memory_limit=0.5)"
            )
        self.raster.keep_in_memory()
        grid = self.raster.rows(0, self.raster.shape[0])
        heights = np.where(np.isfinite(grid), grid, -np.inf)
        dx, dy = self.raster.cell_m
        half = self.geometry.patch_m / 2
        peak = _sliding_max(_sliding_max(heights, round(half / dy), 0), round(half / dx), 1)
        rows, cols = np.nonzero((heights == peak) & np.isfinite(grid))
        centres = np.stack([(cols + 0.5) * dx, (rows + 0.5) * dy], axis=1)
        origins = centres - half
        width, height = self.raster.size_m
        inside = (
            (origins >= 0).all(axis=1)
            & (origins[:, 0] <= width - 2 * half)
            & (origins[:, 1] <= height - 2 * half)
        )
        return origins[inside]


def _sliding_max(values: np.ndarray, half: int, axis: int) -> np.ndarray:
    """The maximum within `half` cells along `axis` (edges padded with -inf)."""
    if half <= 0:
        return values
    pad = [(0, 0), (0, 0)]
    pad[axis] = (half, half)
    padded = np.pad(values, pad, constant_values=-np.inf)
    view = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1, axis=axis)
    return view.max(axis=-1)
