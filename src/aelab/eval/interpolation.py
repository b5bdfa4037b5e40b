"""Interpolation: what the decoder makes of codes between and around those of the test split.

For every model (the ``generation`` task does the same for VAEs in prior units):

- traversals: one row per latent dimension (the ``max_dims`` of widest spread), the mean test
  code with that coordinate swept over ±``traversal_radius`` standard deviations of its test
  values, decoded;
- pairs: ``pairs`` random test pairs (seeded), each row the first input, the decodings of
  ``steps`` codes on the segment between their codes (``model.interpolate``, both ends
  included), and the second input.

How far the path strays from the data: for each decoded point, the RMS distance (per input, data
units) to its nearest test input other than the pair's two, averaged over the points between the
ends and over the pairs. ``path_over_endpoints`` compares it with the same distance of the two
ends (the reconstructions of the pair): above 1, the decoder's outputs between codes are further
from any test input than its reconstructions are. Squared distances favour blur (a blurred
average lies nearer to many inputs), so the baseline is the input-space blend of the same two
reconstructions, ``(1 - t) x_hat0 + t x_hat1``: ``path_over_blend`` below 1 means the latent path
keeps nearer to the data than a cross-fade; it is exactly 1 for a linear decoder.
"""

from typing import Any

import torch
from matplotlib.figure import Figure
from omegaconf import DictConfig
from torch import Tensor

from aelab.errors import ConfigError
from aelab.eval._outputs import Outputs
from aelab.runs.checkpoints import LoadedRun

NAME = "interpolation"
ORDER = 60
NEEDS: tuple[str, ...] = ()

POSITIVE = ("pairs", "traversal_steps", "max_dims", "max_samples")


def check_settings(settings) -> None:
    """Raise `ConfigError` for settings out of range."""
    for key in POSITIVE:
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(
                f"interpolation.{key} must be a positive integer, got {value!r}; "
                f"e.g. interpolation.{key}=8"
            )
    if (
        isinstance(settings.steps, bool)
        or not isinstance(settings.steps, int)
        or settings.steps < 3
    ):
        raise ConfigError(
            f"interpolation.steps must be an integer >= 3 (both ends and a point between), got "
            f"{settings.steps!r}; e.g. interpolation.steps=8"
        )
    radius = settings.traversal_radius
    if isinstance(radius, bool) or not isinstance(radius, int | float) or not radius > 0:
        raise ConfigError(
            f"interpolation.traversal_radius must be a positive number (test standard "
            f"deviations), got {radius!r}; e.g. interpolation.traversal_radius=2"
        )


def available(run: LoadedRun, cfg: DictConfig) -> str | None:
    settings = cfg[NAME]
    check_settings(settings)
    if min(len(run.datamodule.split("test")["x"]), settings.max_samples) < 4:
        return (
            "needs at least 4 test samples (a pair and others to compare its path with); "
            "raise data.test_size or interpolation.max_samples"
        )
    return None


def run(run: LoadedRun, cfg: DictConfig, out: Outputs) -> dict[str, Any]:
    """Traversal and pair grids, and the distance of decoded paths to the test inputs."""
    settings = cfg[NAME]
    dm = run.datamodule
    x = dm.split("test")["x"][: settings.max_samples]
    z = run.embed(x).flatten(1)
    centre, spread = z.mean(dim=0), z.std(dim=0)
    dims = spread.argsort(descending=True)[: settings.max_dims].tolist()
    traversals = traversal_rows(
        run, centre, spread, dims, settings.traversal_steps, settings.traversal_radius
    )
    change = [rms(row[-1] - row[0]) for row in traversals]

    generator = torch.Generator().manual_seed(int(cfg.seed))
    count = min(settings.pairs, len(x) // 2)
    pairs = torch.randperm(len(x), generator=generator)[: 2 * count].view(count, 2).tolist()
    rows, distances = [], {"path": [], "blend": []}
    for i, j in pairs:
        path = pair_path(run, x[i], x[j], settings.steps)
        t = torch.linspace(0, 1, settings.steps).view(-1, *[1] * (x.dim() - 1))
        blend = (1 - t) * path[0] + t * path[-1]
        others = torch.ones(len(x), dtype=torch.bool)
        others[[i, j]] = False
        distances["path"].append(nearest_rms(path, x[others]))
        distances["blend"].append(nearest_rms(blend, x[others]))
        rows.append(torch.cat([x[i][None], path, x[j][None]]))
    path_d, blend_d = torch.stack(distances["path"]), torch.stack(distances["blend"])
    ends = float(path_d[:, [0, -1]].mean())  # the decoded ends: the two reconstructions
    interior_path, interior_blend = float(path_d[:, 1:-1].mean()), float(blend_d[:, 1:-1].mean())
    return {
        "num_codes": len(x),
        "traversal": {
            "dims": dims,
            "radius": settings.traversal_radius,
            "steps": settings.traversal_steps,
            "spread": [float(spread[d]) for d in dims],
            "change_rms": change,  # RMS change of the decoding from one end to the other
        },
        "pairs": pairs,
        "steps": settings.steps,
        "nearest_test_rms": {"endpoints": ends, "path": interior_path, "blend": interior_blend},
        "path_over_endpoints": interior_path / max(ends, 1e-300),
        "path_over_blend": interior_path / max(interior_blend, 1e-300),
        "figures": [
            out.grid("interpolation_traversals", traversals, dm, [f"z{d + 1}" for d in dims]),
            out.grid("interpolation_pairs", rows, dm, [f"test {i} … {j}" for i, j in pairs]),
            out.figure("interpolation_distance", distance_figure(path_d, blend_d)),
        ],
    }


def headline(result: dict[str, Any]) -> dict[str, float]:
    return {
        "interpolation/path_over_endpoints": result["path_over_endpoints"],
        "interpolation/path_over_blend": result["path_over_blend"],
    }


# --- decoding and distances ---------------------------------------------------------------------
def traversal_rows(
    run: LoadedRun, centre: Tensor, spread: Tensor, dims: list[int], steps: int, radius: float
) -> list[Tensor]:
    """One decoded row per dimension in `dims`: `centre` with it swept over ±radius spreads."""
    offsets = torch.linspace(-radius, radius, steps)
    rows = []
    for dim in dims:
        codes = centre.repeat(steps, 1)
        codes[:, dim] += offsets * spread[dim]
        rows.append(run.apply(run.model.decode, codes))
    return rows


def pair_path(run: LoadedRun, x0: Tensor, x1: Tensor, steps: int) -> Tensor:
    """The decodings of `steps` codes on the segment between those of x0 and x1, ends included."""
    with torch.no_grad():
        return run.model.interpolate(x0.to(run.device), x1.to(run.device), steps).cpu()


def rms(difference: Tensor) -> float:
    """Root mean square of a difference over all its inputs."""
    return float(difference.double().pow(2).mean().sqrt())


def nearest_rms(points: Tensor, reference: Tensor) -> Tensor:
    """For each point, the RMS distance per input to its nearest reference sample, shape (P,)."""
    a, b = points.flatten(1).double(), reference.flatten(1).double()
    return torch.cdist(a, b).min(dim=1).values / a.shape[1] ** 0.5


def distance_figure(path: Tensor, blend: Tensor) -> Figure:
    """Distance to the nearest test input along the path (mean over pairs), decoded vs blended."""
    t = torch.linspace(0, 1, path.shape[1]).numpy()
    figure = Figure(figsize=(5.2, 3.4), layout="constrained")
    ax = figure.subplots()
    ax.plot(t, path.mean(dim=0).numpy(), "o-", label="decoded latent path")
    ax.plot(t, blend.mean(dim=0).numpy(), "o-", label="blend of the two reconstructions")
    ax.set_xlabel("position on the path (0, 1: the reconstructed pair)")
    ax.set_ylabel("RMS distance to nearest test input")
    ax.set_title(f"interpolation between {path.shape[0]} test pairs")
    ax.legend(fontsize=8)
    return figure
