"""Flatness of the second kind: does a code move when the same ground is sampled elsewhere?

Two kinds of "flat" data: (1) every patch shares one basic structure; (2) the observed values
approximate the intrinsic ones so closely that sampling the same ground on another set of points
barely changes the representation. Flat plains should have both, summit-centred mountain patches
only the first, and more sample points (a larger grid) should restore the second.

This module measures (2) for a trained terrain run. Its test patches are sampled on the regular
grid and on other point sets of the same size (``Resampling``: the grid shifted by a fraction of a
cell, or each point jittered inside its cell), encoded, and compared sample by sample:

- ``input``: RMS change of the inputs, relative to the spread of the grid inputs;
- ``code``: RMS distance between the codes of the two samplings, relative to the spread of the
  grid codes (RMS distance to their mean), for the model and for PCA at the same m; dominated by
  the widest direction of the codes (mostly altitude);
- ``code_whitened``: the same with the codes whitened by the grid codes' covariance: every
  direction of the code counts in units of its own spread;
- ``probe``: RMS change of linear read-outs of the descriptors (ridge probes fitted on the
  training codes), per descriptor order, relative to each descriptor's standard deviation.

0 means the representation does not depend on where the ground was sampled; two unrelated
patches are about sqrt(2) apart on the code scale.
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from aelab.data.terrain import DESCRIPTOR_NAMES, grid_points
from aelab.metrics.pca import fit_pca
from aelab.metrics.probes import DESCRIPTOR_ORDERS, ridge_predict


@dataclass(frozen=True)
class Resampling:
    """Other sample points of the same size as the r x r grid (fractions of a cell)."""

    name: str
    shift: float = 0.0  # every point moved by this much along x and along y
    jitter: float = 0.0  # each point moved independently, uniformly within +-jitter/2 per axis

    def points(self, resolution: int, seed: int = 0) -> np.ndarray:
        """(r * r, 2) points (x, y) in km, row-major like ``grid_points``."""
        x, y = grid_points(resolution)
        cell = 1.0 / resolution
        moved = np.stack([x, y], axis=1) + self.shift * cell
        if self.jitter:
            rng = np.random.default_rng(seed)
            moved += rng.uniform(-self.jitter / 2, self.jitter / 2, moved.shape) * cell
        return moved


GRID = Resampling("grid")
RESAMPLINGS = (
    Resampling("shift 1/4 cell", shift=0.25),
    Resampling("shift 1/2 cell", shift=0.5),
    Resampling("jitter 1/2 cell", jitter=0.5),
    Resampling("jitter 1 cell", jitter=1.0),
)


def spread(x: Tensor) -> float:
    """RMS distance of the samples (rows, flattened) to their mean."""
    x = x.flatten(1).double()
    return float(((x - x.mean(dim=0)) ** 2).sum(dim=1).mean().sqrt())


def squared_shift(reference: Tensor, other: Tensor, scale: float) -> Tensor:
    """Squared distance of each sample to its reference, in units of ``scale``: (N,)."""
    difference = (other.flatten(1).double() - reference.flatten(1).double()) / scale
    return (difference**2).sum(dim=1)


def class_rms(squared: Tensor, labels: Tensor, class_names: list[str]) -> dict[str, float]:
    """Root mean of per-sample squared values, over all samples and within each class present."""
    result = {"all": float(squared.mean().sqrt())}
    for label in torch.unique(labels).tolist():
        result[class_names[label]] = float(squared[labels == label].mean().sqrt())
    return result


def whitener(z: Tensor) -> Tensor:
    """(m, k) matrix W such that z @ W has identity covariance (k: directions with variance)."""
    z = z.flatten(1).double()
    centred = z - z.mean(dim=0)
    eigenvalues, eigenvectors = torch.linalg.eigh(centred.T @ centred / len(z))
    keep = eigenvalues > 1e-10 * eigenvalues.max().clamp_min(1e-300)
    return eigenvectors[:, keep] / eigenvalues[keep].sqrt()


def measure(
    run,
    resamplings: tuple[Resampling, ...] = RESAMPLINGS,
    draws: int = 3,
    max_fit: int = 10000,
    alpha: float = 1e-3,
) -> list[dict]:
    """One row per resampling and class ("all" first): input, code and probe shifts.

    Columns: ``input``; ``<model|pca>_code`` (distance / spread of the codes);
    ``<model|pca>_code_whitened`` (the same after whitening the codes with the grid codes'
    covariance, so that every direction counts in units of its own spread, not only the
    widest one); ``<model|pca>_probe_order_<k>``.

    ``run`` is a loaded terrain run (``aelab.runs.checkpoints.LoadedRun``). Jittered point sets are
    drawn ``draws`` times (seeds 0, 1, ...) and their squared shifts averaged.
    """
    dm = run.datamodule
    train, test = dm.split("train"), dm.split("test")
    pca = fit_pca(train["x"], run.latent_dim)
    encoders = {"model": run.embed, "pca": pca.encode}
    white = {name: whitener(encode(test["x"])) for name, encode in encoders.items()}

    def represent(x: Tensor) -> dict[str, Tensor]:
        codes = {name: encode(x).double() for name, encode in encoders.items()}
        return (
            {"input": x}
            | {f"{name}_code": z for name, z in codes.items()}
            | {f"{name}_code_whitened": z @ white[name] for name, z in codes.items()}
        )

    reference = represent(test["x"])
    scales = {key: spread(value) for key, value in reference.items()}

    x_fit, y_fit = train["x"][:max_fit], train["descriptors"][:max_fit]
    y_scale = test["descriptors"].double().std(dim=0).clamp_min(1e-12)
    fitted = {name: encode(x_fit) for name, encode in encoders.items()}
    orders = sorted(set(DESCRIPTOR_ORDERS.values()))
    columns = {
        o: [DESCRIPTOR_NAMES.index(n) for n, k in DESCRIPTOR_ORDERS.items() if k == o]
        for o in orders
    }

    def read(name: str, codes: Tensor) -> Tensor:
        """The descriptors the probe fitted on ``name``'s training codes reads, in std units."""
        return ridge_predict(fitted[name], y_fit, codes, alpha) / y_scale

    read_reference = {name: read(name, reference[f"{name}_code"]) for name in encoders}
    classes = [dm.class_names[c] for c in torch.unique(test["label"]).tolist()]
    rows = []
    for resampling in resamplings:
        seeds = range(draws if resampling.jitter else 1)
        sums: dict[str, Tensor] = {}
        for seed in seeds:
            other = represent(dm.resample("test", resampling.points(dm.resolution, seed)))
            for key, value in other.items():
                sums[key] = sums.get(key, 0) + squared_shift(reference[key], value, scales[key])
            for name in encoders:
                moved = (read(name, other[f"{name}_code"]) - read_reference[name]) ** 2
                for o, cols in columns.items():
                    key = f"{name}_probe_order_{o}"
                    sums[key] = sums.get(key, 0) + moved[:, cols].mean(dim=1)
        per_class = {
            key: class_rms(total / len(seeds), test["label"], dm.class_names)
            for key, total in sums.items()
        }
        for name in ("all", *classes):
            row = {"resampling": resampling.name, "class": name}
            rows.append(row | {key: values[name] for key, values in per_class.items()})
    return rows
