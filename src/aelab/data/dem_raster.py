"""An elevation raster, opened for `aelab.data.dem`: a GeoTIFF (rasterio) or an .npy/.npz grid.

`open_raster` reads the header only: the grid's shape, its cell size in metres and where that
size came from. Heights are read later, a band of rows at a time (`Raster.rows`), as float32
metres with every missing cell (the raster's nodata value, ``nodata``, NaN or infinity) as NaN.
A raster that fits the memory budget is read once and kept; a larger one is read band by band
(rasterio windows, or a memory-mapped .npy), so cutting windows never holds more than a band.

Cell sizes: a GeoTIFF's from its affine transform; in a geographic CRS (degrees) they are
converted to metres at the raster's central latitude on a sphere of the Earth's mean radius
(the log says so); ``cell_size_m`` overrides both and is required for .npy/.npz grids.
"""

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aelab.errors import ConfigError
from aelab.schema.message import violation

log = logging.getLogger(__name__)

GEOTIFF = (".tif", ".tiff")
GRIDS = (".npy", ".npz")
EXTENSIONS = GEOTIFF + GRIDS
EXAMPLE_PATH = "data/dem.tif"
EARTH_RADIUS_M = 6_371_008.8  # mean radius: metres per radian of latitude
GRID_KEYS = ("elevation", "heights", "dem", "z")  # an .npz's grid, when it holds several arrays


@dataclass
class Raster:
    """A grid of heights: ``shape`` (rows, columns), cells of ``cell_m`` = (dx, dy) metres.

    Row 0 is the raster's first row (north in a north-up GeoTIFF); x grows with the column, y
    with the row.
    """

    path: Path
    shape: tuple[int, int]
    cell_m: tuple[float, float]
    origin: str  # where the cell size came from, for the log
    _read: Any = field(repr=False)  # (row0, row1) -> float array with NaN where missing
    _kept: np.ndarray | None = field(default=None, repr=False)

    @property
    def bytes(self) -> int:
        """Memory of the whole grid as float32."""
        return 4 * self.shape[0] * self.shape[1]

    @property
    def size_m(self) -> tuple[float, float]:
        """Extent (width, height) in metres."""
        return self.shape[1] * self.cell_m[0], self.shape[0] * self.cell_m[1]

    @property
    def in_memory(self) -> bool:
        return self._kept is not None

    def keep_in_memory(self) -> None:
        """Read the whole grid once; later `rows` calls slice it."""
        if self._kept is None:
            self._kept = self._read(0, self.shape[0])

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) as float32 metres, NaN where missing."""
        start, stop = max(start, 0), min(stop, self.shape[0])
        if self._kept is not None:
            return self._kept[start:stop]
        return self._read(start, stop)


def raster_path(path: Any) -> Path:
    """``data.path`` as an existing GeoTIFF, .npy or .npz file."""
    if path is None or str(path).strip() == "":
        raise violation(
            "data.path", "set to a GeoTIFF, .npy or .npz file", repr(path), EXAMPLE_PATH
        )
    resolved = Path(str(path)).expanduser().resolve()
    if resolved.suffix.lower() not in EXTENSIONS:
        got = f"{str(path)!r} (extension {resolved.suffix or 'none'!r})"
        raise violation("data.path", "a GeoTIFF (.tif), .npy or .npz file", got, EXAMPLE_PATH)
    if not resolved.is_file():
        where = "a folder" if resolved.is_dir() else "not found"
        raise violation("data.path", "an existing file", f"{str(path)!r} ({where})", EXAMPLE_PATH)
    return resolved


def open_raster(path: Any, cell_size_m: list[float] | None, nodata: float | None) -> Raster:
    """The raster's header (shape and cell size); heights are read by `Raster.rows`."""
    resolved = raster_path(path)
    if resolved.suffix.lower() in GEOTIFF:
        raster = _open_geotiff(resolved, cell_size_m, nodata)
    else:
        raster = _open_grid(resolved, cell_size_m, nodata)
    if min(raster.shape) < 2:
        raise ConfigError(
            f"data.path={resolved}: a grid of {raster.shape[0]} x {raster.shape[1]} cells has no "
            "windows; give an elevation grid of at least 2 x 2 cells"
        )
    return raster


def _missing(values: np.ndarray, nodata: float | None) -> np.ndarray:
    """float32 copy with NaN for the nodata value and every non-finite cell."""
    heights = np.array(values, dtype=np.float32)
    if nodata is not None and math.isfinite(nodata):
        heights[heights == np.float32(nodata)] = np.nan
    heights[~np.isfinite(heights)] = np.nan
    return heights


def _declared_cell(cell_size_m: list[float]) -> tuple[float, float]:
    return float(cell_size_m[0]), float(cell_size_m[1])


# --- .npy and .npz grids -------------------------------------------------------------------------
def _grid_entry(path: Path) -> np.ndarray:
    """The 2-D grid of an .npy (memory-mapped) or .npz (read whole)."""
    try:
        if path.suffix.lower() == ".npy":
            grid = np.load(path, mmap_mode="r", allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as archive:
                names = [n for n in archive.files if archive[n].ndim == 2]
                named = [n for n in GRID_KEYS if n in names]
                if not names:
                    raise ConfigError(
                        f"data.path={path}: no 2-D array in this .npz (entries: "
                        f"{', '.join(archive.files) or 'none'}); save the grid as its 'elevation' entry"
                    )
                grid = archive[(named or names)[0]]
    except ConfigError:
        raise
    except Exception as error:  # noqa: BLE001 - any unreadable file gets one line
        raise ConfigError(
            f"data.path={path}: not a readable {path.suffix} file "
            f"({str(error).splitlines()[0] if str(error) else type(error).__name__}); "
            "save the grid with np.save (an (H, W) float array)"
        ) from None
    if grid.ndim != 2 or grid.dtype.kind not in "fiu":
        raise ConfigError(
            f"data.path={path}: a grid must be a 2-D array of numbers, got shape {grid.shape} "
            f"of {grid.dtype}; save the heights as an (H, W) float array"
        )
    return grid


def _open_grid(path: Path, cell_size_m: list[float] | None, nodata: float | None) -> Raster:
    if cell_size_m is None:
        raise violation(
            "data.cell_size_m",
            f"set for an {path.suffix} grid, which carries no cell size: [dx, dy] in metres",
            "null",
            [30, 30],
        )
    grid = _grid_entry(path)
    return Raster(
        path=path,
        shape=(int(grid.shape[0]), int(grid.shape[1])),
        cell_m=_declared_cell(cell_size_m),
        origin="data.cell_size_m",
        _read=lambda start, stop: _missing(grid[start:stop], nodata),
    )


# --- GeoTIFF -------------------------------------------------------------------------------------
def _rasterio():
    try:
        import rasterio
    except ImportError:
        raise ConfigError(
            "reading a GeoTIFF needs rasterio, which is not installed; install the extra: "
            "pip install 'aelab[geo]' (or save the grid as .npy and set data.cell_size_m)"
        ) from None
    return rasterio


def _open_geotiff(path: Path, cell_size_m: list[float] | None, nodata: float | None) -> Raster:
    rasterio = _rasterio()
    try:
        with rasterio.open(path) as dataset:
            shape = (dataset.height, dataset.width)
            transform, crs = dataset.transform, dataset.crs
            file_nodata = dataset.nodata
            bands = dataset.count
    except rasterio.errors.RasterioError as error:
        raise ConfigError(
            f"data.path={path}: not a readable GeoTIFF ({str(error).splitlines()[0]}); "
            "check the file (gdalinfo) or export the grid again"
        ) from None
    if bands < 1:
        raise ConfigError(f"data.path={path}: the GeoTIFF has no band; export the elevation again")
    if transform.b != 0 or transform.d != 0:
        raise ConfigError(
            f"data.path={path}: the raster is rotated (transform {tuple(transform)[:6]}); "
            "warp it to a north-up grid first (gdalwarp)"
        )
    missing = nodata if nodata is not None else file_nodata
    if cell_size_m is not None:
        cell, origin = _declared_cell(cell_size_m), "data.cell_size_m"
    elif crs is None:
        raise violation(
            "data.cell_size_m",
            f"set for {path.name}, a GeoTIFF without a CRS (its cell size has no unit): "
            "[dx, dy] in metres",
            "null",
            [30, 30],
        )
    else:
        cell, origin = _cell_in_metres(abs(transform.a), abs(transform.e), transform, shape, crs)

    def read(start: int, stop: int) -> np.ndarray:
        window = rasterio.windows.Window(0, start, shape[1], stop - start)
        try:
            with rasterio.open(path) as dataset:
                values = dataset.read(1, window=window)
        except rasterio.errors.RasterioError as error:
            raise ConfigError(
                f"data.path={path}: rows {start}..{stop} cannot be read "
                f"({str(error).splitlines()[0]}); the file may be truncated: export it again"
            ) from None
        return _missing(values, missing)

    return Raster(path=path, shape=shape, cell_m=cell, origin=origin, _read=read)


def _cell_in_metres(dx: float, dy: float, transform, shape, crs) -> tuple[tuple[float, float], str]:
    """Cell size in metres: as given by a projected CRS, or degrees at the central latitude."""
    if not crs.is_geographic:
        factor = crs.linear_units_factor[1] if crs.linear_units_factor else 1.0
        return (dx * factor, dy * factor), f"the transform ({crs.to_string()})"
    latitude = transform.f + transform.e * shape[0] / 2
    metres_per_degree = EARTH_RADIUS_M * math.pi / 180
    cell = (dx * metres_per_degree * math.cos(math.radians(latitude)), dy * metres_per_degree)
    origin = (
        f"{crs.to_string()} is geographic: cells of {dx:.6g} x {dy:.6g} degrees are "
        f"{cell[0]:.1f} m x {cell[1]:.1f} m at latitude {latitude:.2f}"
    )
    return cell, origin
