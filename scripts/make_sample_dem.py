"""Write matplotlib's Jacksboro fault DEM as a GeoTIFF: a real elevation model to try `data=dem` on.

    python scripts/make_sample_dem.py data/jacksboro.tif

344 x 403 cells of 3 arc-seconds (about 74 m x 93 m), 30 km x 32 km, EPSG:4326; see
`aelab.data.sample_dem` for its source and licence.
"""

import argparse

from aelab.data.sample_dem import write_sample_dem

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="where to write the GeoTIFF, e.g. data/jacksboro.tif")
    print(write_sample_dem(parser.parse_args().path))
