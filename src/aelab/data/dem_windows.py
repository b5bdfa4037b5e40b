"""Square windows cut from an elevation raster: where they lie, which cells they use, their samples.

A window is ``patch_m`` metres on a side; its origin (x0, y0) is its corner nearest the raster's
first cell, in metres from that cell's outer corner (x along columns, y along rows). Its r x r
sample points are the cell centres of an r x r grid over the window, like the synthetic
terrain's, and are read from the raster by ``bilinear`` (default) or ``nearest`` interpolation.

The **support** of a window is every raster cell whose centre lies less than one cell from the
window: the cells a bilinear interpolation inside the window can use, whatever r. A window is valid when
its whole support is finite, so the same windows are kept at every resolution, and it belongs to
the blocks its support reaches (`aelab.data.dem_split`).

Descriptors (``DESCRIPTOR_NAMES``), in physical units and whatever r: a quadric
h = c + gx x + gy y + cxx x^2 + cxy xy + cyy y^2 fitted by least squares to the window sampled on
a ``FINE_GRID`` x ``FINE_GRID`` grid (x, y in km from the window's centre, y growing with the row),
as for the synthetic terrain: mean altitude (m), slopes gx, gy (m per m), curvatures 2 cxx, cxy,
2 cyy (m per km^2); then the relief (max - min, m) and the roughness (RMS of the fit's residual, m).
"""

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from aelab.data.dem_raster import Raster
from aelab.data.terrain_generator import DESCRIPTOR_NAMES as TERRAIN_DESCRIPTORS
from aelab.data.terrain_generator import FINE_GRID

log = logging.getLogger(__name__)

INTERPOLATIONS = ("bilinear", "nearest")
DESCRIPTOR_NAMES = [*TERRAIN_DESCRIPTORS, "relief", "roughness"]
PROGRESS_EVERY_S = 5.0
EDGE = 1e-6  # metres: a window may end this close beyond the raster and still fit


@dataclass(frozen=True)
class Geometry:
    """Windows of ``patch_m`` metres on a raster of ``shape`` cells of ``cell_m`` metres."""

    shape: tuple[int, int]
    cell_m: tuple[float, float]
    patch_m: float

    def grid_origins(self, stride_m: float) -> np.ndarray:
        """(N, 2) origins (x0, y0) of every window at `stride_m` that fits, row by row."""
        width, height = self.shape[1] * self.cell_m[0], self.shape[0] * self.cell_m[1]
        xs = np.arange(0.0, width - self.patch_m + EDGE, stride_m)
        ys = np.arange(0.0, height - self.patch_m + EDGE, stride_m)
        y, x = np.meshgrid(ys, xs, indexing="ij")
        return np.stack([x.ravel(), y.ravel()], axis=1)

    def support(self, start_m: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
        """First and last cell (inclusive) of the support along `axis` (0: x/columns, 1: y/rows)."""
        cell, cells = self.cell_m[axis], self.shape[1 - axis]
        first = np.floor(start_m / cell - 1.5 + EDGE).astype(np.int64) + 1
        last = np.ceil((start_m + self.patch_m) / cell + 0.5 - EDGE).astype(np.int64) - 1
        return np.clip(first, 0, cells - 1), np.clip(last, 0, cells - 1)

    def support_extent(self, start_m: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
        """Metres spanned by the centres of the support's cells along `axis` (first, last)."""
        first, last = self.support(start_m, axis)
        cell = self.cell_m[axis]
        return (first + 0.5) * cell, (last + 0.5) * cell

    def fits(self) -> bool:
        width, height = self.shape[1] * self.cell_m[0], self.shape[0] * self.cell_m[1]
        return self.patch_m <= min(width, height) + EDGE


def fractions(points: int) -> np.ndarray:
    """Cell centres of `points` cells along a side, as fractions of the side."""
    return (np.arange(points) + 0.5) / points


def _weights(position: np.ndarray, cells: int, interpolation: str):
    """Neighbouring cells and the weight of the second, for fractional cell indices."""
    position = np.clip(position, 0.0, cells - 1.0)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, cells - 1)
    weight = position - low
    if interpolation == "nearest":
        weight = (weight >= 0.5).astype(position.dtype)
    return low, high, weight


# --- quadric fits on the fine grid ---------------------------------------------------------------
def _quadric_solver(patch_m: float) -> tuple[np.ndarray, np.ndarray]:
    """The fine grid's design matrix (F*F, 6) and its pseudo-inverse transposed (F*F, 6), x, y
    in km (contiguous: a transposed view makes the product 25x slower)."""
    side_km = (fractions(FINE_GRID) - 0.5) * patch_m / 1000
    y, x = np.meshgrid(side_km, side_km, indexing="ij")
    x, y = x.ravel(), y.ravel()
    design = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
    return design, np.ascontiguousarray(np.linalg.pinv(design).T)


def descriptors(fine: np.ndarray, solver: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(N, len(DESCRIPTOR_NAMES)) from heights on the fine grid (N, F, F) in metres."""
    design, inverse_t = solver
    h = fine.reshape(len(fine), -1).astype(np.float64)
    mean = h.mean(axis=1)
    centred = h - mean[:, None]  # the residual's sum of squares loses no digits to the altitude
    coef = centred @ inverse_t
    explained = np.einsum("ni,ij,nj->n", coef, design.T @ design, coef)
    residual = np.maximum((centred**2).sum(axis=1) - explained, 0.0) / h.shape[1]
    return np.stack(
        [
            mean,
            coef[:, 1] / 1000,  # metres per metre
            coef[:, 2] / 1000,
            2 * coef[:, 3],  # d2h/dx2 in metres per km^2
            coef[:, 4],
            2 * coef[:, 5],
            h.max(axis=1) - h.min(axis=1),
            np.sqrt(residual),
        ],
        axis=1,
    )


# --- cutting -------------------------------------------------------------------------------------
@dataclass
class Cut:
    """Windows cut from a raster: heights (N, r, r) and descriptors in metres, and validity."""

    heights: np.ndarray
    descriptors: np.ndarray
    valid: np.ndarray


def _rows_of(origins: np.ndarray) -> Iterator[np.ndarray]:
    """Indices of the windows sharing each y0, in order (one raster band each)."""
    order = np.argsort(origins[:, 1], kind="stable")
    starts = np.flatnonzero(np.diff(origins[order, 1], prepend=np.nan) != 0)
    yield from np.split(order, starts[1:])


def cut(
    raster: Raster,
    origins: np.ndarray,
    geometry: Geometry,
    resolution: int,
    interpolation: str = "bilinear",
    with_descriptors: bool = True,
) -> Cut:
    """Heights on the r x r grid of every window (NaN where invalid), descriptors, validity.

    Windows sharing a y0 are cut from one band of rows: the band is interpolated along y once
    for all of them, then along x per window (the grid is separable).
    """
    n = len(origins)
    heights = np.full((n, resolution, resolution), np.nan, dtype=np.float32)
    desc = np.full((n, len(DESCRIPTOR_NAMES)), np.nan, dtype=np.float64)
    valid = np.zeros(n, dtype=bool)
    solver = _quadric_solver(geometry.patch_m)
    grids = [fractions(resolution)] + ([fractions(FINE_GRID)] if with_descriptors else [])
    groups = list(_rows_of(origins))
    started = last_said = time.monotonic()
    for done, index in enumerate(groups, start=1):
        y0 = origins[index[0], 1]
        first_row, last_row = geometry.support(np.array([y0]), axis=1)
        band = raster.rows(int(first_row[0]), int(last_row[0]) + 1)
        first_col, last_col = geometry.support(origins[index, 0], axis=0)
        bad = np.concatenate([[0], np.cumsum(~np.isfinite(band).all(axis=0))])
        ok = bad[last_col + 1] - bad[first_col] == 0
        valid[index] = ok
        index = index[ok]
        if len(index):
            sampled = [
                _sample_band(
                    band,
                    int(first_row[0]),
                    y0,
                    origins[index, 0],
                    f,
                    geometry,
                    raster,
                    interpolation,
                )
                for f in grids
            ]
            heights[index] = sampled[0]
            if with_descriptors:
                desc[index] = descriptors(sampled[1], solver)
        now = time.monotonic()
        if now - last_said >= PROGRESS_EVERY_S:
            last_said = now
            log.info(
                "data: cutting windows, %d of %d rows of windows (%.0f s)",
                done,
                len(groups),
                now - started,
            )
    return Cut(heights, desc, valid)


def _sample_band(
    band: np.ndarray,
    band_row: int,
    y0: float,
    x0: np.ndarray,
    grid: np.ndarray,
    geometry: Geometry,
    raster: Raster,
    interpolation: str,
) -> np.ndarray:
    """(len(x0), k, k) heights at the k x k grid `grid` (fractions) of windows at y0, x0."""
    (dx, dy), (rows, cols) = geometry.cell_m, raster.shape
    low, high, w = _weights((y0 + grid * geometry.patch_m) / dy - 0.5, rows, interpolation)
    w = w.astype(np.float32)[:, None]
    along_y = band[low - band_row] * (1 - w) + band[high - band_row] * w
    u = (x0[:, None] + grid[None, :] * geometry.patch_m) / dx - 0.5
    low, high, w = _weights(u, cols, interpolation)
    w = w.astype(np.float32)
    values = along_y[:, low] * (1 - w) + along_y[:, high] * w  # (k, N, k)
    return values.transpose(1, 0, 2)


def sample_points(
    raster: Raster,
    origins: np.ndarray,
    geometry: Geometry,
    points: np.ndarray,
    interpolation: str = "bilinear",
) -> np.ndarray:
    """(N, P) heights of every window at `points` (P, 2): (x, y) as fractions of the window.

    Points are clipped to the window, so they stay on its support.
    """
    (dx, dy), (rows, cols) = geometry.cell_m, raster.shape
    fx = np.clip(points[:, 0], 0.0, 1.0) * geometry.patch_m
    fy = np.clip(points[:, 1], 0.0, 1.0) * geometry.patch_m
    out = np.empty((len(origins), len(points)), dtype=np.float32)
    for index in _rows_of(origins):
        y0 = origins[index[0], 1]
        first_row, last_row = geometry.support(np.array([y0]), axis=1)
        band = raster.rows(int(first_row[0]), int(last_row[0]) + 1).astype(np.float64)
        r_low, r_high, wy = _weights((y0 + fy) / dy - 0.5, rows, interpolation)
        c_low, c_high, wx = _weights(
            (origins[index, 0, None] + fx[None]) / dx - 0.5, cols, interpolation
        )
        r_low, r_high = r_low - int(first_row[0]), r_high - int(first_row[0])
        top = band[r_low, c_low] * (1 - wx) + band[r_low, c_high] * wx
        bottom = band[r_high, c_low] * (1 - wx) + band[r_high, c_high] * wx
        out[index] = top * (1 - wy) + bottom * wy
    return out
