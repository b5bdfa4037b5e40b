"""Train / val / test splits of raster windows: by spatial blocks (no shared ground), or at random.

``blocks``: the raster is tiled into squares of ``block_m`` metres, each assigned to a split by
a seeded draw (``val_size`` and ``test_size`` are fractions of the blocks, at least one each). A
raster cell belongs to the block holding its centre; a window is kept when every cell of its
support (`aelab.data.dem_windows`) lies in blocks of one split, and goes to that split. So no
cell any test window reads is read by a training window: the splits share no ground. Windows
whose support straddles blocks of two splits are dropped (counted in the log).

``random``: the windows are shuffled and split by the same fractions. Overlapping windows then
fall into different splits: test windows share ground with training windows (leakage), which
is what the option is for (comparison).
"""

import math

import numpy as np

from aelab.data.dem_windows import Geometry
from aelab.errors import ConfigError

SPLITS = ("train", "val", "test")
STRATEGIES = ("blocks", "random")
DROPPED = -1  # the split id of a window in no split


def _counts(total: int, val: float, test: float, what: str, fix: str) -> tuple[int, int]:
    """Held-out counts (at least one each) leaving at least one to train."""
    n_val, n_test = max(1, round(val * total)), max(1, round(test * total))
    if n_val + n_test >= total:
        raise ConfigError(
            f"{total} {what} cannot be split into train, val and test "
            f"({n_val} val + {n_test} test leave none to train); {fix}"
        )
    return n_val, n_test


def block_grid(geometry: Geometry, block_m: float) -> tuple[int, int]:
    """Blocks along y and x that tile the raster."""
    width = geometry.shape[1] * geometry.cell_m[0]
    height = geometry.shape[0] * geometry.cell_m[1]
    return math.ceil(height / block_m - 1e-9), math.ceil(width / block_m - 1e-9)


def draw_blocks(
    geometry: Geometry, block_m: float, val: float, test: float, seed: int
) -> np.ndarray:
    """(blocks y, blocks x) split ids (0 train, 1 val, 2 test) drawn with `seed`."""
    rows, cols = block_grid(geometry, block_m)
    total = rows * cols
    n_val, n_test = _counts(
        total,
        val,
        test,
        f"blocks of data.block_m={block_m:g} m",
        "lower data.block_m (blocks at least one window wide) or data.val_size / data.test_size",
    )
    order = np.random.default_rng([seed, 7]).permutation(total)
    ids = np.zeros(total, dtype=np.int64)
    ids[order[:n_val]] = 1
    ids[order[n_val : n_val + n_test]] = 2
    return ids.reshape(rows, cols)


def window_blocks(
    geometry: Geometry, origins: np.ndarray, block_m: float
) -> tuple[np.ndarray, ...]:
    """First and last block (inclusive) along y and x that each window's support reaches."""
    spans = []
    for axis in (1, 0):  # y, then x
        first, last = geometry.support_extent(origins[:, axis], axis)
        spans += [
            np.floor(first / block_m).astype(np.int64),
            np.floor(last / block_m).astype(np.int64),
        ]
    return tuple(spans)


def assign_blocks(
    geometry: Geometry, origins: np.ndarray, block_m: float, blocks: np.ndarray
) -> np.ndarray:
    """Each window's split id, or DROPPED when its support reaches blocks of two splits."""
    y0, y1, x0, x1 = window_blocks(geometry, origins, block_m)
    y1, x1 = np.minimum(y1, blocks.shape[0] - 1), np.minimum(x1, blocks.shape[1] - 1)
    area = (y1 - y0 + 1) * (x1 - x0 + 1)
    ids = np.full(len(origins), DROPPED, dtype=np.int64)
    for split in range(len(SPLITS)):
        table = np.zeros((blocks.shape[0] + 1, blocks.shape[1] + 1), dtype=np.int64)
        table[1:, 1:] = (blocks == split).cumsum(0).cumsum(1)
        inside = table[y1 + 1, x1 + 1] - table[y0, x1 + 1] - table[y1 + 1, x0] + table[y0, x0]
        ids[inside == area] = split
    return ids


def assign_random(count: int, val: float, test: float, seed: int) -> np.ndarray:
    """Split ids of `count` windows shuffled with `seed`."""
    n_val, n_test = _counts(
        count, val, test, "windows", "lower data.val_size / data.test_size or data.stride_m"
    )
    order = np.random.default_rng([seed, 7]).permutation(count)
    ids = np.zeros(count, dtype=np.int64)
    ids[order[:n_val]] = 1
    ids[order[n_val : n_val + n_test]] = 2
    return ids
