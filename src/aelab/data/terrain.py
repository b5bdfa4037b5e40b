"""Synthetic terrain patches: 1 km x 1 km of ground sampled on an r x r grid.

Each patch is a continuous surface h(x, y) in metres over x, y in [-0.5, 0.5] km, evaluated at
the r x r cell centres. Its parameters are drawn independently of r, so the same seed gives the
same ground at every resolution. Classes:

- ``flat``: crop fields, level ground with a tiny tilt and tiny roughness;
- ``sea``: zero height with tiny waves;
- ``hills``: fractal (1/f^beta spectral) noise over a tilt;
- ``mountain``: a Gaussian peak plus fractal noise; the window's offset from the summit follows
  ``mountain_offset``: ``summit`` (centred), ``wall`` (on the flank), ``uniform``;
- ``urban``: level ground with rectangular buildings.

Every sample carries its intrinsic parameters (``PARAM_NAMES``) and low-order descriptors fitted
by least squares to the continuous surface on a fine grid (``DESCRIPTOR_NAMES``): mean altitude
(order 0), slope (order 1, metres per metre) and curvatures (order 2, second derivatives in metres
per km^2).
"""

import math
from dataclasses import dataclass

import numpy as np
import torch

from aelab.data.base import InMemoryDataModule, Split
from aelab.errors import ConfigError

CLASS_NAMES = ["flat", "sea", "hills", "mountain", "urban"]
OFFSETS = ["summit", "wall", "uniform"]
PARAM_NAMES = [
    "base_altitude",
    "tilt_x",
    "tilt_y",
    "peak_height",
    "peak_offset_x",
    "peak_offset_y",
    "peak_width",
    "roughness",
    "building_density",
]
DESCRIPTOR_NAMES = ["mean_altitude", "slope_x", "slope_y", "curv_xx", "curv_xy", "curv_yy"]

MAX_WAVENUMBER = 8  # fractal noise: wave vectors on the integer lattice up to 8 cycles per km
MAX_BUILDINGS = 16
FINE_GRID = 24  # descriptors are fitted on this grid, whatever the patch resolution
CHUNK = 2048  # samples generated at once (bounds the memory of the building masks)


def cell_centres(resolution: int) -> np.ndarray:
    """Coordinates (km) of the r cell centres along one side, in [-0.5, 0.5]."""
    return (np.arange(resolution) + 0.5) / resolution - 0.5


def grid_points(resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre coordinates (km) of an r x r grid, flattened row-major (row = y, col = x)."""
    centres = cell_centres(resolution)
    y, x = np.meshgrid(centres, centres, indexing="ij")
    return x.ravel(), y.ravel()


def _wave_vectors() -> np.ndarray:
    k = np.arange(-MAX_WAVENUMBER, MAX_WAVENUMBER + 1)
    kx, ky = np.meshgrid(k, k, indexing="ij")
    kx, ky = kx.ravel(), ky.ravel()
    norm = np.hypot(kx, ky)
    half_plane = (kx > 0) | ((kx == 0) & (ky > 0))
    keep = half_plane & (norm <= MAX_WAVENUMBER)
    return np.stack([kx[keep], ky[keep]], axis=1).astype(np.float64)


WAVES = _wave_vectors()  # (K, 2)


def _fractal_weights(beta: float) -> np.ndarray:
    """Amplitude per wave vector for a 1/f^beta power spectrum, normalised to unit variance."""
    w = np.hypot(WAVES[:, 0], WAVES[:, 1]) ** (-beta / 2)
    return w / np.sqrt(np.sum(w**2))


def _fourier_basis(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(2K, P) cos/sin basis of the wave vectors at the given points."""
    phase = 2 * np.pi * (WAVES[:, :1] * x[None] + WAVES[:, 1:] * y[None])
    return np.concatenate([np.cos(phase), np.sin(phase)], axis=0)


@dataclass
class Patches:
    """A generated set of patches (heights in metres) with what the generator knows of each."""

    heights: np.ndarray  # (N, r, r)
    labels: np.ndarray  # (N,) index into CLASS_NAMES
    params: np.ndarray  # (N, len(PARAM_NAMES))
    descriptors: np.ndarray  # (N, len(DESCRIPTOR_NAMES))


class TerrainGenerator:
    """Seeded, vectorised generator of terrain patches."""

    def __init__(
        self,
        resolution: int = 10,
        class_weights: dict[str, float] | None = None,
        mountain_offset: str = "uniform",
        roughness_scale: float = 1.0,
    ) -> None:
        if not isinstance(resolution, int) or resolution < 2:
            raise ConfigError(
                f"data.resolution must be an integer >= 2 (grid points per side), got "
                f"{resolution!r}; e.g. data.resolution=10"
            )
        weights = dict(class_weights or dict.fromkeys(CLASS_NAMES, 1.0))
        unknown = sorted(set(weights) - set(CLASS_NAMES))
        if unknown:
            raise ConfigError(
                f"unknown terrain class {unknown[0]!r} in data.classes; known classes: "
                f"{', '.join(CLASS_NAMES)}"
            )
        values = [float(weights.get(name, 0.0)) for name in CLASS_NAMES]
        if any(not math.isfinite(v) or v < 0 for v in values) or sum(values) <= 0:
            raise ConfigError(
                f"data.classes weights must be >= 0 with a positive sum, got {weights}; "
                "e.g. data.classes={flat:1,sea:1,hills:1,mountain:1,urban:1}"
            )
        if mountain_offset not in OFFSETS:
            raise ConfigError(
                f"data.mountain_offset must be one of {', '.join(OFFSETS)}, got {mountain_offset!r}"
            )
        if not math.isfinite(roughness_scale) or roughness_scale < 0:
            raise ConfigError(f"data.roughness_scale must be >= 0, got {roughness_scale!r}")
        self.resolution = resolution
        self.probabilities = np.array(values) / sum(values)
        self.mountain_offset = mountain_offset
        self.roughness_scale = roughness_scale
        self._grid = _fourier_basis(*grid_points(resolution))
        fine_x, fine_y = grid_points(FINE_GRID)
        fine_basis = _fourier_basis(fine_x, fine_y)
        design = np.stack(
            [np.ones_like(fine_x), fine_x, fine_y, fine_x**2, fine_x * fine_y, fine_y**2], 1
        )
        fit = np.linalg.pinv(design)  # (6, P_fine): least-squares quadratic fit
        mean = np.full((1, len(fine_x)), 1 / len(fine_x))
        self._fine_stats = np.concatenate([fit, mean]).T  # (P_fine, 7): quadratic fit and mean
        self._fourier_stats = fine_basis @ self._fine_stats  # (2K, 7)

    def generate(self, n: int, seed: int | list[int], points: np.ndarray | None = None) -> Patches:
        """Draw n patches; the same seed gives the same ground at any resolution.

        ``points`` (r * r, 2), (x, y) in km in the row-major order of ``grid_points``, samples
        every patch at those points instead of the cell centres: the same ground (same seed),
        observed elsewhere. Descriptors and parameters do not depend on it.
        """
        r = self.resolution
        if points is not None:
            points = np.asarray(points, dtype=np.float64)
            if points.shape != (r * r, 2):
                raise ValueError(f"points must have shape ({r * r}, 2), got {points.shape}")
        rng = np.random.default_rng(seed)
        labels = rng.choice(len(CLASS_NAMES), size=n, p=self.probabilities)
        chunks = [
            self._generate_chunk(labels[i : i + CHUNK], rng, points) for i in range(0, n, CHUNK)
        ]
        if not chunks:
            return Patches(np.zeros((0, r, r)), labels, np.zeros((0, 9)), np.zeros((0, 6)))
        heights, params, descriptors = (np.concatenate(part) for part in zip(*chunks, strict=True))
        return Patches(heights, labels, params, descriptors)

    def _generate_chunk(
        self, labels: np.ndarray, rng: np.random.Generator, points: np.ndarray | None = None
    ):
        n = len(labels)
        p = {name: np.zeros(n) for name in PARAM_NAMES}
        is_ = {name: labels == i for i, name in enumerate(CLASS_NAMES)}
        # Every draw is made for every sample, so the stream does not depend on the class mix.
        base = {
            "flat": rng.uniform(0, 400, n),
            "sea": np.zeros(n),
            "hills": rng.uniform(100, 800, n),
            "mountain": rng.uniform(200, 1500, n),
            "urban": rng.uniform(0, 300, n),
        }
        tilt_std = {"flat": 0.005, "sea": 0.0, "hills": 0.02, "mountain": 0.0, "urban": 0.003}
        tilt = rng.normal(size=(n, 2))
        rough = {
            "flat": np.full(n, 0.3),
            "sea": np.zeros(n),
            "hills": rng.uniform(10, 60, n),
            "mountain": rng.uniform(15, 80, n),
            "urban": np.zeros(n),
        }
        beta = {"flat": 3.0, "sea": 3.0, "hills": 3.0, "mountain": 2.5, "urban": 3.0}
        coeffs = rng.normal(size=(n, 2 * len(WAVES)))
        peak_height = rng.uniform(400, 2500, n)
        peak_width = rng.uniform(0.4, 1.2, n)
        offset = self._mountain_offsets(n, peak_width, rng)
        waves = (rng.uniform(20, 40, n), rng.uniform(0, 2 * np.pi, n), rng.uniform(0, 2 * np.pi, n))
        wave_height = rng.uniform(0.1, 0.5, n)
        density = rng.uniform(0.2, 1.0, n)
        buildings = rng.uniform(size=(n, MAX_BUILDINGS, 6))

        for name in CLASS_NAMES:
            m = is_[name]
            p["base_altitude"][m] = base[name][m]
            p["tilt_x"][m] = tilt_std[name] * tilt[m, 0]
            p["tilt_y"][m] = tilt_std[name] * tilt[m, 1]
            p["roughness"][m] = self.roughness_scale * rough[name][m]
        mountain = is_["mountain"]
        p["peak_height"][mountain] = peak_height[mountain]
        p["peak_width"][mountain] = peak_width[mountain]
        p["peak_offset_x"][mountain] = offset[mountain, 0]
        p["peak_offset_y"][mountain] = offset[mountain, 1]
        p["building_density"][is_["urban"]] = density[is_["urban"]]

        amplitude = np.zeros((n, 2 * len(WAVES)))
        for name in CLASS_NAMES:
            w = np.tile(_fractal_weights(beta[name]), 2)
            amplitude[is_[name]] = w[None] * p["roughness"][is_[name], None]
        amplitude *= coeffs

        def relief(resolution: int) -> np.ndarray:
            """The parts not linear in the parameters (peak, ripples, buildings): (n, r * r).

            Each is built from (n, r) factors along x and along y, not point by point.
            """
            c = cell_centres(resolution)[None]
            h = np.zeros((n, resolution, resolution))  # rows y, columns x; classes are disjoint
            m = mountain
            spread = 2 * p["peak_width"][m, None] ** 2
            along_x = np.exp(-((c - p["peak_offset_x"][m, None]) ** 2) / spread)
            along_y = np.exp(-((c - p["peak_offset_y"][m, None]) ** 2) / spread)
            h[m] = p["peak_height"][m, None, None] * along_y[:, :, None] * along_x[:, None, :]
            sea = is_["sea"]
            freq, angle, phase = (w[sea, None] for w in waves)
            # sin(u + v) = sin u cos v + cos u sin v, with u along x and v along y
            u = 2 * np.pi * freq * np.cos(angle) * c + phase
            v = 2 * np.pi * freq * np.sin(angle) * c
            ripples = np.cos(v)[:, :, None] * np.sin(u)[:, None, :]
            ripples += np.sin(v)[:, :, None] * np.cos(u)[:, None, :]
            h[sea] = wave_height[sea, None, None] * ripples
            urban = is_["urban"]
            h[urban] = self._buildings(density[urban], buildings[urban], c[0])
            return h.reshape(n, -1)

        def relief_at(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            """The same relief at any points (km), point by point: (n, len(x))."""
            h = np.zeros((n, len(x)))
            m = mountain
            spread = 2 * p["peak_width"][m, None] ** 2
            dx, dy = x - p["peak_offset_x"][m, None], y - p["peak_offset_y"][m, None]
            h[m] = p["peak_height"][m, None] * np.exp(-(dx**2 + dy**2) / spread)
            sea = is_["sea"]
            freq, angle, phase = (w[sea, None] for w in waves)
            along = np.cos(angle) * x + np.sin(angle) * y
            h[sea] = wave_height[sea, None] * np.sin(2 * np.pi * freq * along + phase)
            urban = is_["urban"]
            h[urban] = self._buildings_at(density[urban], buildings[urban], x, y)
            return h

        # plane (tilts in metres per metre, coordinates in km) and fractal noise are linear in
        # their parameters: on the fine grid their statistics come from precomputed matrices
        tilt_km = 1000 * np.stack([p["tilt_x"], p["tilt_y"]], axis=1)
        if points is None:
            x, y = grid_points(self.resolution)
            fourier, rest = self._grid, relief(self.resolution)
        else:
            x, y = points[:, 0], points[:, 1]
            fourier, rest = _fourier_basis(x, y), relief_at(x, y)
        plane = p["base_altitude"][:, None] + tilt_km[:, :1] * x[None] + tilt_km[:, 1:] * y[None]
        heights = plane + amplitude @ fourier + rest
        r = self.resolution
        heights = heights.reshape(n, r, r)

        # fine-grid statistics: columns c, gx, gy, cxx, cxy, cyy (x, y in km), mean
        stats = relief(FINE_GRID) @ self._fine_stats + amplitude @ self._fourier_stats
        stats[:, 0] += p["base_altitude"]
        stats[:, 6] += p["base_altitude"]
        stats[:, 1:3] += tilt_km  # a plane's least-squares slope is its own, its mean its base
        descriptors = np.stack(
            [
                stats[:, 6],
                stats[:, 1] / 1000,  # slope in metres per metre
                stats[:, 2] / 1000,
                2 * stats[:, 3],  # d2h/dx2 in metres per km^2
                stats[:, 4],
                2 * stats[:, 5],
            ],
            axis=1,
        )
        params = np.stack([p[name] for name in PARAM_NAMES], axis=1)
        return heights, params, descriptors

    def _mountain_offsets(self, n: int, width: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Offset (km) of the summit from the window centre."""
        jitter = rng.normal(0, 0.05, size=(n, 2))
        radius = rng.uniform(1.0, 2.0, n) * width
        angle = rng.uniform(0, 2 * np.pi, n)
        uniform = rng.uniform(-1.5, 1.5, size=(n, 2))
        if self.mountain_offset == "summit":
            return jitter
        if self.mountain_offset == "wall":
            return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
        return uniform

    @staticmethod
    def _buildings(density: np.ndarray, draws: np.ndarray, centres: np.ndarray) -> np.ndarray:
        """Roof heights (n, r, r) of up to MAX_BUILDINGS rectangles per urban patch."""
        present = draws[:, :, 0] < density[:, None]  # expected count = density * MAX_BUILDINGS
        cx, cy = draws[:, :, 1:2] - 0.5, draws[:, :, 2:3] - 0.5
        half_w, half_h = 0.03 + 0.09 * draws[:, :, 3:4], 0.03 + 0.09 * draws[:, :, 4:5]
        height = np.where(present, 6 + 54 * draws[:, :, 5], 0.0)
        in_x = np.abs(centres - cx) <= half_w  # (n, buildings, r)
        in_y = np.abs(centres - cy) <= half_h
        roofs = np.zeros((len(draws), len(centres), len(centres)))  # rows y, columns x
        for b in range(MAX_BUILDINGS):  # running max: one (n, r, r) temporary at a time
            inside = in_y[:, b, :, None] & in_x[:, b, None, :]
            np.maximum(roofs, inside * height[:, b, None, None], out=roofs)
        return roofs

    @staticmethod
    def _buildings_at(
        density: np.ndarray, draws: np.ndarray, x: np.ndarray, y: np.ndarray
    ) -> np.ndarray:
        """Roof heights (n, P) of the same rectangles as ``_buildings``, at points (km)."""
        present = draws[:, :, 0] < density[:, None]
        cx, cy = draws[:, :, 1:2] - 0.5, draws[:, :, 2:3] - 0.5
        half_w, half_h = 0.03 + 0.09 * draws[:, :, 3:4], 0.03 + 0.09 * draws[:, :, 4:5]
        height = np.where(present, 6 + 54 * draws[:, :, 5], 0.0)
        roofs = np.zeros((len(draws), len(x)))
        for b in range(MAX_BUILDINGS):
            inside = (np.abs(x - cx[:, b]) <= half_w[:, b]) & (np.abs(y - cy[:, b]) <= half_h[:, b])
            np.maximum(roofs, inside * height[:, b, None], out=roofs)
        return roofs


class TerrainDataModule(InMemoryDataModule):
    """Terrain patches as a (1, r, r) image per sample, standardised with training statistics.

    Batches are dicts: ``x`` (standardised heights), ``label`` (class id), ``params`` and
    ``descriptors`` (in physical units, columns as ``PARAM_NAMES`` / ``DESCRIPTOR_NAMES``).
    ``altitude_mean`` and ``altitude_std`` map ``x`` back to metres.
    """

    render = "heightmap"

    def __init__(
        self,
        resolution: int = 10,
        classes: dict[str, float] | None = None,
        mountain_offset: str = "uniform",
        roughness_scale: float = 1.0,
        train_size: int = 20000,
        val_size: int = 2000,
        test_size: int = 2000,
        batch_size: int = 256,
        eval_batch_size: int | None = None,
        seed: int = 1234,
        test_mountain_offset: str | None = None,
        test_classes: dict[str, float] | None = None,
    ) -> None:
        super().__init__(batch_size=batch_size, seed=seed, eval_batch_size=eval_batch_size)
        for name, size in (
            ("train_size", train_size),
            ("val_size", val_size),
            ("test_size", test_size),
        ):
            if not isinstance(size, int) or size <= 0:
                raise ConfigError(f"data.{name} must be a positive integer, got {size!r}")
        self.generator = TerrainGenerator(resolution, classes, mountain_offset, roughness_scale)
        # The test split may come from another distribution (anomaly protocols).
        self.test_generator = TerrainGenerator(
            resolution,
            classes if test_classes is None else test_classes,
            test_mountain_offset or mountain_offset,
            roughness_scale,
        )
        self.resolution = resolution
        self.sizes = {"train": train_size, "val": val_size, "test": test_size}
        self.altitude_mean = 0.0
        self.altitude_std = 1.0

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (1, self.resolution, self.resolution)

    @property
    def class_names(self) -> list[str]:
        return CLASS_NAMES

    @property
    def value_range(self) -> tuple[float, float]:
        x = self.split("train")["x"]
        return float(x.min()), float(x.max())

    def build_splits(self) -> dict[str, Split]:
        generated = {name: self._generate(name) for name in self.sizes}
        train_heights = generated["train"].heights
        self.altitude_mean = float(train_heights.mean())
        self.altitude_std = float(train_heights.std()) or 1.0
        return {name: self._to_split(patches) for name, patches in generated.items()}

    def _generate(self, name: str, points: np.ndarray | None = None) -> Patches:
        generator = self.test_generator if name == "test" else self.generator
        index = list(self.sizes).index(name)
        return generator.generate(self.sizes[name], seed=[self.seed, index], points=points)

    def resample(self, name: str, points: np.ndarray) -> torch.Tensor:
        """A split's inputs ``x``, the same ground sampled at other points (km, (r * r, 2)).

        Standardised with the training statistics, like the split itself.
        """
        self.setup()
        heights = self._generate(name, points).heights
        x = (heights - self.altitude_mean) / self.altitude_std
        return torch.as_tensor(x, dtype=torch.float32).unsqueeze(1)

    def _to_split(self, patches: Patches) -> Split:
        x = (patches.heights - self.altitude_mean) / self.altitude_std
        return {
            "x": torch.as_tensor(x, dtype=torch.float32).unsqueeze(1),
            "label": torch.as_tensor(patches.labels, dtype=torch.int64),
            "params": torch.as_tensor(patches.params, dtype=torch.float32),
            "descriptors": torch.as_tensor(patches.descriptors, dtype=torch.float32),
        }

    def to_metres(self, x: torch.Tensor) -> torch.Tensor:
        """Map standardised inputs or reconstructions back to metres."""
        return x * self.altitude_std + self.altitude_mean
