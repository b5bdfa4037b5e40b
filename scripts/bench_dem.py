"""Cutting windows from a large elevation raster: windows per second, and the cached rerun.

A smooth random surface of ``--size`` x ``--size`` cells of 30 m is saved as an .npy; `data=dem`
then cuts every window of 1000 m at a 500 m stride, sampled at r = 10 (bilinear), with their
descriptors, validity and the cache written (cold, in a fresh cache folder), then does it again
from the cache (warm), and once more with a memory budget below the raster's size (read band by
band). Prints the windows, the seconds and windows per second of each, and the ratios against
the goals (>= 50,000 windows/s cold, <= 1 s warm), all measured in this one run.

    python scripts/bench_dem.py                 # 4000 x 4000 cells, 57,121 windows
    python scripts/bench_dem.py --size 1000 --json out.json
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

GOAL_WINDOWS_PER_S = 50_000
GOAL_CACHED_S = 1.0


def surface(size: int, seed: int = 0) -> np.ndarray:
    """A rough, smooth-at-large-scale surface in metres (a random walk summed twice)."""
    steps = np.random.default_rng(seed).normal(size=(size, size)).astype(np.float32)
    return steps.cumsum(0).cumsum(1) / size


def timed_windows(path: Path, cache: Path, **options) -> tuple[int, float]:
    """Windows cut (or read from the cache) and the seconds, DataModule construction included."""
    from aelab.data.dem import DemDataModule

    started = time.perf_counter()
    dm = DemDataModule(path=str(path), cell_size_m=[30, 30], cache_dir=str(cache), **options)
    windows = dm.grid_windows()
    return len(windows["valid"]), time.perf_counter() - started


def measure(size: int, resolution: int = 10) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "dem.npy"
        np.save(path, surface(size))
        options = {"resolution": resolution}
        count, cold = timed_windows(path, folder / "cache", **options)
        _, warm = timed_windows(path, folder / "cache", **options)
        budget = 4 * size * size // 4  # a quarter of the raster: read band by band
        _, banded = timed_windows(path, folder / "cache_banded", in_memory_limit=budget, **options)
    return {
        "size": size,
        "resolution": resolution,
        "windows": count,
        "cold_s": cold,
        "cold_windows_per_s": count / cold,
        "cached_s": warm,
        "banded_s": banded,
        "banded_windows_per_s": count / banded,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4000, help="cells per side (default 4000)")
    parser.add_argument("--resolution", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    figures = measure(args.size, args.resolution)
    print(
        f"{figures['windows']:,} windows of 1000 m from {args.size} x {args.size} cells "
        f"at r = {args.resolution}"
    )
    print(
        f"cold (cut, descriptors, cache written): {figures['cold_s']:.2f} s, "
        f"{figures['cold_windows_per_s']:,.0f} windows/s "
        f"({figures['cold_windows_per_s'] / GOAL_WINDOWS_PER_S:.2f}x the goal of "
        f"{GOAL_WINDOWS_PER_S:,}/s)"
    )
    print(
        f"cached rerun: {figures['cached_s']:.3f} s "
        f"({figures['cached_s'] / GOAL_CACHED_S:.3f} of the {GOAL_CACHED_S:g} s goal)"
    )
    print(
        f"band by band (budget a quarter of the raster): {figures['banded_s']:.2f} s, "
        f"{figures['banded_windows_per_s']:,.0f} windows/s "
        f"({figures['banded_s'] / figures['cold_s']:.2f}x the whole read)"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
