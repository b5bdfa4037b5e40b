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

A patch is a plane (base altitude and tilt), plus fractal noise, plus its class's relief (peak,
ripples or buildings). Every sample carries its intrinsic parameters (``PARAM_NAMES``) and
low-order descriptors fitted by least squares to the continuous surface on a fine grid
(``DESCRIPTOR_NAMES``): mean altitude (order 0), slope (order 1, metres per metre) and curvatures
(order 2, second derivatives in metres per km^2).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import cached_property, partial

import numpy as np

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


# --- grids and the Fourier basis of the fractal noise ---------------------------------------------
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


# --- the random draws -----------------------------------------------------------------------------
@dataclass
class Draws:
    """Every random number behind a chunk of patches, one row per sample.

    All are drawn for every sample whatever its class, so the stream does not depend on the mix.
    """

    base: dict[str, np.ndarray]  # base altitude (m) of each class but sea
    tilt: np.ndarray  # (n, 2) standard normal, scaled by the class's tilt
    roughness: dict[str, np.ndarray]  # fractal roughness (m) of hills and mountains
    coeffs: np.ndarray  # (n, 2K) standard normal coefficients of the fractal noise
    peak_height: np.ndarray  # m
    peak_width: np.ndarray  # km
    peak_offset: np.ndarray  # (n, 2) km, the summit from the window centre
    wave_freq: np.ndarray  # cycles per km
    wave_angle: np.ndarray  # direction of travel
    wave_phase: np.ndarray
    wave_height: np.ndarray  # m
    density: np.ndarray  # share of the MAX_BUILDINGS building slots that hold one
    buildings: (
        np.ndarray
    )  # (n, MAX_BUILDINGS, 6) uniform: presence, centre x, y, half sizes, height

    def __len__(self) -> int:
        return len(self.tilt)

    def rows(self, mask: np.ndarray) -> "Draws":
        """The draws of the samples selected by `mask`."""

        def take(value):
            return (
                {k: v[mask] for k, v in value.items()} if isinstance(value, dict) else value[mask]
            )

        return Draws(**{f.name: take(getattr(self, f.name)) for f in fields(self)})


def draw(n: int, rng: np.random.Generator, mountain_offset: str) -> Draws:
    """The draws of n samples, always in this order: changing it changes every patch."""
    base = {
        "flat": rng.uniform(0, 400, n),
        "hills": rng.uniform(100, 800, n),
        "mountain": rng.uniform(200, 1500, n),
        "urban": rng.uniform(0, 300, n),
    }
    tilt = rng.normal(size=(n, 2))
    roughness = {"hills": rng.uniform(10, 60, n), "mountain": rng.uniform(15, 80, n)}
    coeffs = rng.normal(size=(n, 2 * len(WAVES)))
    peak_height = rng.uniform(400, 2500, n)
    peak_width = rng.uniform(0.4, 1.2, n)
    peak_offset = _mountain_offsets(n, peak_width, mountain_offset, rng)
    wave_freq = rng.uniform(20, 40, n)
    wave_angle = rng.uniform(0, 2 * np.pi, n)
    wave_phase = rng.uniform(0, 2 * np.pi, n)
    wave_height = rng.uniform(0.1, 0.5, n)
    density = rng.uniform(0.2, 1.0, n)
    buildings = rng.uniform(size=(n, MAX_BUILDINGS, 6))
    return Draws(
        base,
        tilt,
        roughness,
        coeffs,
        peak_height,
        peak_width,
        peak_offset,
        wave_freq,
        wave_angle,
        wave_phase,
        wave_height,
        density,
        buildings,
    )


def _mountain_offsets(
    n: int, width: np.ndarray, mountain_offset: str, rng: np.random.Generator
) -> np.ndarray:
    """Offset (km) of the summit from the window centre; every option's draws are made."""
    jitter = rng.normal(0, 0.05, size=(n, 2))
    radius = rng.uniform(1.0, 2.0, n) * width
    angle = rng.uniform(0, 2 * np.pi, n)
    uniform = rng.uniform(-1.5, 1.5, size=(n, 2))
    if mountain_offset == "summit":
        return jitter
    if mountain_offset == "wall":
        return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return uniform


# --- the classes ----------------------------------------------------------------------------------
Relief = Callable[[np.ndarray], np.ndarray]  # cell centres (r,) -> heights (n, r, r), rows y
ReliefAt = Callable[[np.ndarray, np.ndarray], np.ndarray]  # points x, y (P,) -> heights (n, P)


@dataclass
class Ground:
    """What a class makes of its samples' draws: a plane, fractal noise and maybe a relief."""

    base_altitude: np.ndarray  # (n,) m
    tilt_std: float  # standard deviation of the tilt along x and y, metres per metre
    roughness: np.ndarray  # (n,) m, of the fractal noise, before the generator's roughness_scale
    beta: float  # spectral exponent of the fractal noise
    own: dict[str, np.ndarray] = field(default_factory=dict)  # the class's other PARAM_NAMES
    relief: Relief | None = None  # the part not linear in the parameters, on a grid
    relief_at: ReliefAt | None = None  # the same at any points


def flat(d: Draws) -> Ground:
    """Crop fields: level ground with a tiny tilt and tiny roughness."""
    return Ground(d.base["flat"], 0.005, np.full(len(d), 0.3), beta=3.0)


def sea(d: Draws) -> Ground:
    """Zero height with tiny waves."""
    zeros = np.zeros(len(d))
    return Ground(
        zeros, 0.0, zeros, beta=3.0, relief=partial(_ripples, d), relief_at=partial(_ripples_at, d)
    )


def hills(d: Draws) -> Ground:
    """Fractal noise over a tilt."""
    return Ground(d.base["hills"], 0.02, d.roughness["hills"], beta=3.0)


def mountain(d: Draws) -> Ground:
    """A Gaussian peak plus rougher fractal noise, the window placed by the offset draw."""
    peak = {
        "peak_height": d.peak_height,
        "peak_offset_x": d.peak_offset[:, 0],
        "peak_offset_y": d.peak_offset[:, 1],
        "peak_width": d.peak_width,
    }
    return Ground(
        d.base["mountain"],
        0.0,
        d.roughness["mountain"],
        beta=2.5,
        own=peak,
        relief=partial(_peak, d),
        relief_at=partial(_peak_at, d),
    )


def urban(d: Draws) -> Ground:
    """Level ground with rectangular buildings."""
    return Ground(
        d.base["urban"],
        0.003,
        np.zeros(len(d)),
        beta=3.0,
        own={"building_density": d.density},
        relief=partial(_roofs, d),
        relief_at=partial(_roofs_at, d),
    )


CLASSES: dict[str, Callable[[Draws], Ground]] = {
    "flat": flat,
    "sea": sea,
    "hills": hills,
    "mountain": mountain,
    "urban": urban,
}


# --- reliefs: on a grid from (n, r) factors along x and along y, or at points one by one ---------
def _peak(d: Draws, centres: np.ndarray) -> np.ndarray:
    c = centres[None]
    spread = 2 * d.peak_width[:, None] ** 2
    along_x = np.exp(-((c - d.peak_offset[:, 0, None]) ** 2) / spread)
    along_y = np.exp(-((c - d.peak_offset[:, 1, None]) ** 2) / spread)
    return d.peak_height[:, None, None] * along_y[:, :, None] * along_x[:, None, :]


def _peak_at(d: Draws, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    spread = 2 * d.peak_width[:, None] ** 2
    dx, dy = x - d.peak_offset[:, 0, None], y - d.peak_offset[:, 1, None]
    return d.peak_height[:, None] * np.exp(-(dx**2 + dy**2) / spread)


def _ripples(d: Draws, centres: np.ndarray) -> np.ndarray:
    c = centres[None]
    freq, angle, phase = d.wave_freq[:, None], d.wave_angle[:, None], d.wave_phase[:, None]
    # sin(u + v) = sin u cos v + cos u sin v, with u along x and v along y
    u = 2 * np.pi * freq * np.cos(angle) * c + phase
    v = 2 * np.pi * freq * np.sin(angle) * c
    ripples = np.cos(v)[:, :, None] * np.sin(u)[:, None, :]
    ripples += np.sin(v)[:, :, None] * np.cos(u)[:, None, :]
    return d.wave_height[:, None, None] * ripples


def _ripples_at(d: Draws, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    freq, angle, phase = d.wave_freq[:, None], d.wave_angle[:, None], d.wave_phase[:, None]
    along = np.cos(angle) * x + np.sin(angle) * y
    return d.wave_height[:, None] * np.sin(2 * np.pi * freq * along + phase)


def _rectangles(d: Draws) -> tuple[np.ndarray, ...]:
    """Centres, half sizes (km) and roof heights (m, 0 if absent) of the building slots."""
    draws = d.buildings
    present = draws[:, :, 0] < d.density[:, None]  # expected count = density * MAX_BUILDINGS
    cx, cy = draws[:, :, 1:2] - 0.5, draws[:, :, 2:3] - 0.5
    half_w, half_h = 0.03 + 0.09 * draws[:, :, 3:4], 0.03 + 0.09 * draws[:, :, 4:5]
    height = np.where(present, 6 + 54 * draws[:, :, 5], 0.0)
    return cx, cy, half_w, half_h, height


def _roofs(d: Draws, centres: np.ndarray) -> np.ndarray:
    cx, cy, half_w, half_h, height = _rectangles(d)
    in_x = np.abs(centres - cx) <= half_w  # (n, buildings, r)
    in_y = np.abs(centres - cy) <= half_h
    roofs = np.zeros((len(d), len(centres), len(centres)))  # rows y, columns x
    for b in range(MAX_BUILDINGS):  # running max: one (n, r, r) temporary at a time
        inside = in_y[:, b, :, None] & in_x[:, b, None, :]
        np.maximum(roofs, inside * height[:, b, None, None], out=roofs)
    return roofs


def _roofs_at(d: Draws, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    cx, cy, half_w, half_h, height = _rectangles(d)
    roofs = np.zeros((len(d), len(x)))
    for b in range(MAX_BUILDINGS):
        inside = (np.abs(x - cx[:, b]) <= half_w[:, b]) & (np.abs(y - cy[:, b]) <= half_h[:, b])
        np.maximum(roofs, inside * height[:, b, None], out=roofs)
    return roofs


# --- the generator --------------------------------------------------------------------------------
ClassSamples = list[tuple[np.ndarray, Ground]]  # per class: its samples' mask, and their ground


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
        fine_x, fine_y = grid_points(FINE_GRID)
        fine_basis = _fourier_basis(fine_x, fine_y)
        design = np.stack(
            [np.ones_like(fine_x), fine_x, fine_y, fine_x**2, fine_x * fine_y, fine_y**2], 1
        )
        fit = np.linalg.pinv(design)  # (6, P_fine): least-squares quadratic fit
        mean = np.full((1, len(fine_x)), 1 / len(fine_x))
        self._fine_stats = np.concatenate([fit, mean]).T  # (P_fine, 7): quadratic fit and mean
        self._fourier_stats = fine_basis @ self._fine_stats  # (2K, 7)

    @cached_property
    def _grid(self) -> np.ndarray:
        """The Fourier basis at the r x r cell centres, built on first use: constructing a
        generator allocates nothing that grows with r, so the memory check comes first."""
        return _fourier_basis(*grid_points(self.resolution))

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
            empty = np.zeros((0, r, r))
            return Patches(
                empty, labels, np.zeros((0, len(PARAM_NAMES))), np.zeros((0, len(DESCRIPTOR_NAMES)))
            )
        heights, params, descriptors = (np.concatenate(part) for part in zip(*chunks, strict=True))
        return Patches(heights, labels, params, descriptors)

    def _generate_chunk(
        self, labels: np.ndarray, rng: np.random.Generator, points: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Heights, parameters and descriptors of the samples of one chunk."""
        n = len(labels)
        draws = draw(n, rng, self.mountain_offset)
        samples = []
        for i, name in enumerate(CLASS_NAMES):
            mask = labels == i
            samples.append((mask, CLASSES[name](draws.rows(mask))))
        p = self._params(n, draws, samples)
        amplitude = self._amplitudes(n, p["roughness"], samples)
        amplitude *= draws.coeffs
        # the plane (tilts in metres per metre, coordinates in km) and the fractal noise are
        # linear in their parameters; the relief (peak, ripples, buildings) is not
        tilt_km = 1000 * np.stack([p["tilt_x"], p["tilt_y"]], axis=1)
        if points is None:
            x, y = grid_points(self.resolution)
            fourier, relief = self._grid, _relief(n, samples, self.resolution)
        else:
            x, y = points[:, 0], points[:, 1]
            fourier, relief = _fourier_basis(x, y), _relief_at(n, samples, x, y)
        plane = p["base_altitude"][:, None] + tilt_km[:, :1] * x[None] + tilt_km[:, 1:] * y[None]
        heights = plane + amplitude @ fourier + relief
        r = self.resolution
        heights = heights.reshape(n, r, r)
        descriptors = self._descriptors(n, samples, amplitude, p["base_altitude"], tilt_km)
        params = np.stack([p[name] for name in PARAM_NAMES], axis=1)
        return heights, params, descriptors

    def _params(self, n: int, draws: Draws, samples: ClassSamples) -> dict[str, np.ndarray]:
        """Every sample's PARAM_NAMES (0 where its class has none)."""
        p = {name: np.zeros(n) for name in PARAM_NAMES}
        for mask, ground in samples:
            p["base_altitude"][mask] = ground.base_altitude
            p["tilt_x"][mask] = ground.tilt_std * draws.tilt[mask, 0]
            p["tilt_y"][mask] = ground.tilt_std * draws.tilt[mask, 1]
            p["roughness"][mask] = self.roughness_scale * ground.roughness
            for name, values in ground.own.items():
                p[name][mask] = values
        return p

    @staticmethod
    def _amplitudes(n: int, roughness: np.ndarray, samples: ClassSamples) -> np.ndarray:
        """(n, 2K) standard deviations of the fractal noise's coefficients."""
        amplitude = np.zeros((n, 2 * len(WAVES)))
        for mask, ground in samples:
            w = np.tile(_fractal_weights(ground.beta), 2)
            amplitude[mask] = w[None] * roughness[mask, None]
        return amplitude

    def _descriptors(
        self,
        n: int,
        samples: ClassSamples,
        amplitude: np.ndarray,
        base: np.ndarray,
        tilt_km: np.ndarray,
    ) -> np.ndarray:
        """(n, len(DESCRIPTOR_NAMES)), fitted on the fine grid.

        The plane and the fractal noise have their statistics from precomputed matrices: a
        plane's least-squares slope is its own tilt, its mean its base altitude.
        """
        # columns c, gx, gy, cxx, cxy, cyy (x, y in km), mean
        stats = _relief(n, samples, FINE_GRID) @ self._fine_stats + amplitude @ self._fourier_stats
        stats[:, 0] += base
        stats[:, 6] += base
        stats[:, 1:3] += tilt_km
        return np.stack(
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


def _relief(n: int, samples: ClassSamples, resolution: int) -> np.ndarray:
    """(n, r * r) relief of every sample on the r x r grid (0 for classes without one)."""
    centres = cell_centres(resolution)
    h = np.zeros((n, resolution, resolution))  # rows y, columns x; classes are disjoint
    for mask, ground in samples:
        if ground.relief is not None:
            h[mask] = ground.relief(centres)
    return h.reshape(n, -1)


def _relief_at(n: int, samples: ClassSamples, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(n, len(x)) relief of every sample at the points (km)."""
    h = np.zeros((n, len(x)))
    for mask, ground in samples:
        if ground.relief_at is not None:
            h[mask] = ground.relief_at(x, y)
    return h
