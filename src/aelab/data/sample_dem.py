"""A real elevation model that every installation has: matplotlib's Jacksboro fault DEM.

matplotlib ships it as sample data (``mpl-data/sample_data/jacksboro_fault_dem.npz``, under
matplotlib's licence; matplotlib records no other source for it): 344 x 403 cells of 3
arc-seconds (about 74 m x 93 m) over 30 km x 32 km around the Jacksboro fault, Tennessee,
heights 236 ... 1076 m, with its corner and cell size in degrees. `write_sample_dem` saves it as a GeoTIFF in geographic coordinates (EPSG:4326),
the form a national survey's DEM comes in, so `data=dem` reads it as it would read one:

    python scripts/make_sample_dem.py data/jacksboro.tif
    aelab-train data=dem data.path=data/jacksboro.tif
"""

from pathlib import Path

import numpy as np

from aelab.runs.atomic import atomic_open

NAME = "jacksboro_fault_dem.npz"


def sample_dem() -> dict[str, np.ndarray]:
    """The grid (float32 metres, row 0 north) and its corner and cell size in degrees."""
    from matplotlib import cbook

    with np.load(cbook.get_sample_data(NAME, asfileobj=False)) as archive:
        # the file's "ymin" is the northern edge: row 0 is north, as matplotlib's gallery shows it
        return {
            "elevation": archive["elevation"].astype(np.float32),
            "west": float(archive["xmin"]),
            "north": float(archive["ymin"]),
            "dx": float(archive["dx"]),
            "dy": float(archive["dy"]),
        }


def write_sample_dem(path: str | Path) -> Path:
    """Write the sample DEM as a GeoTIFF (EPSG:4326) at `path`, atomically; returns the path."""
    from aelab.data.dem_raster import _rasterio

    rasterio = _rasterio()
    dem = sample_dem()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    transform = rasterio.transform.from_origin(dem["west"], dem["north"], dem["dx"], dem["dy"])
    heights = dem["elevation"]
    profile = {
        "driver": "GTiff",
        "height": heights.shape[0],
        "width": heights.shape[1],
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": transform,
    }
    with atomic_open(path, "wb") as handle, rasterio.open(handle, "w", **profile) as dataset:
        dataset.write(heights, 1)
    return path
