"""Generation with a model that can sample (a VAE): samples, interpolations, latent traversals.

- sample grid: ``model.sample(n)`` drawn from the prior and decoded;
- interpolation strip: two test inputs and the decodings of the segment between their codes;
- traversals: one row per latent dimension, that coordinate swept over [-r, r] (prior standard
  deviations) around the code of a test input, the others held.

The ``interpolation`` task does the same for every model, in units of the test codes' spread.
"""

from typing import Any

import torch
from omegaconf import DictConfig
from torch import Tensor

from aelab.eval._outputs import Outputs
from aelab.runs.checkpoints import LoadedRun

NAME = "generation"
ORDER = 50
NEEDS = ("sampler",)


def available(run: LoadedRun, cfg: DictConfig) -> str | None:
    if callable(getattr(run.model, "sample", None)):
        return None
    return (
        f"needs a model that can sample (model=vae); this checkpoint holds a "
        f"{type(run.trained).__name__}, which cannot; drop generation from task="
    )


def run(run: LoadedRun, cfg: DictConfig, out: Outputs) -> dict[str, Any]:
    """Sample grid, interpolation strip and latent traversals."""
    settings = cfg[NAME]
    model, dm = run.model, run.datamodule
    test = dm.split("test")
    i, j = pick_pair(test["label"])
    samples = sample_rows(model, settings.num_samples, settings.per_row, cfg.seed)
    x0, x1 = test["x"][i], test["x"][j]
    strip = interpolation_row(model, x0, x1, settings.interpolation_steps, run.device)
    traversals = traversal_rows(
        model,
        x0,
        settings.traversal_steps,
        settings.traversal_radius,
        settings.max_dims,
        run.device,
    )
    return {
        "num_samples": sum(len(r) for r in samples),
        "interpolation_between": [i, j],
        "traversal_dims": len(traversals),
        "traversal_radius": settings.traversal_radius,
        "figures": [
            out.grid("generation_samples", samples, dm, ["prior samples"] * len(samples)),
            out.grid("generation_interpolation", [strip], dm, ["x₀ … x₁"]),
            out.grid(
                "generation_traversals",
                traversals,
                dm,
                [f"z{d + 1} ± {settings.traversal_radius:g}" for d in range(len(traversals))],
            ),
        ],
    }


def headline(result: dict[str, Any]) -> dict[str, float]:
    return {}


# --- the pictures -------------------------------------------------------------------------------
@torch.no_grad()
def sample_rows(model, num_samples: int, per_row: int, seed: int = 0) -> list[Tensor]:
    """`num_samples` prior samples, decoded, as rows of `per_row`."""
    torch.manual_seed(seed)
    samples = model.sample(num_samples).cpu()
    return [samples[i : i + per_row] for i in range(0, len(samples) - per_row + 1, per_row)]


@torch.no_grad()
def interpolation_row(model, x0: Tensor, x1: Tensor, steps: int, device) -> Tensor:
    """x0, the decodings of `steps` codes on the segment between theirs, x1."""
    path = model.interpolate(x0.to(device), x1.to(device), steps).cpu()
    return torch.cat([x0[None], path, x1[None]])


@torch.no_grad()
def traversal_rows(
    model, x: Tensor, steps: int, radius: float, max_dims: int, device
) -> list[Tensor]:
    """One row per latent dimension (at most `max_dims`): that coordinate swept over ±radius."""
    z = model.embed(x[None].to(device))[0]
    values = torch.linspace(-radius, radius, steps, device=z.device)
    rows = []
    for dim in range(min(len(z), max_dims)):
        codes = z.repeat(steps, 1)
        codes[:, dim] = values
        rows.append(model.decode(codes).cpu())
    return rows


def pick_pair(labels: Tensor) -> tuple[int, int]:
    """Indices of two test examples, of different classes when there are two."""
    first = 0
    others = (labels != labels[first]).nonzero().flatten()
    return first, int(others[0]) if len(others) else min(1, len(labels) - 1)
