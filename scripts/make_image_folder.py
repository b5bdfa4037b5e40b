"""Write a folder of small PNG images of two kinds, one sub-folder per kind: a dataset to try
`data=images` on.

    python scripts/make_image_folder.py outputs/shapes --per-class 300

``discs/``: a bright disc of random radius and position on a dark, slightly noisy ground.
``stripes/``: parallel bars of random angle, width and phase on the same ground.
Seeded, so the same command writes the same images.
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image


def disc(rng: np.random.Generator, size: int) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] + 0.5
    cx, cy = rng.uniform(0.3 * size, 0.7 * size, 2)
    radius = rng.uniform(0.15 * size, 0.3 * size)
    return ((x - cx) ** 2 + (y - cy) ** 2 <= radius**2).astype(float)


def stripes(rng: np.random.Generator, size: int) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] + 0.5
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(0.2 * size, 0.4 * size)
    phase = rng.uniform(0, period)
    along = x * np.cos(angle) + y * np.sin(angle) + phase
    return ((along % period) < period / 2).astype(float)


KINDS = {"discs": disc, "stripes": stripes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--per-class", type=int, default=300)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    for kind, draw in KINDS.items():
        folder = args.folder / kind
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(args.per_class):
            shape = draw(rng, args.size)
            image = 0.1 + 0.8 * shape + rng.normal(0, 0.03, shape.shape)
            pixels = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
            Image.fromarray(pixels, mode="L").save(folder / f"{kind}_{i:04d}.png")
    print(f"wrote {args.per_class} images of each of {', '.join(KINDS)} under {args.folder}")


if __name__ == "__main__":
    main()
