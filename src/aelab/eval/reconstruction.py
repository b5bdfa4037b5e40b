"""Reconstruction: test error of the model and of closed-form PCA at the same m, per class.

Also the error in the data's physical units when they have some (terrain: metres), and a grid
of originals / model / PCA reconstructions with one example of each class first.
"""

from typing import Any

import torch
from matplotlib.figure import Figure
from omegaconf import DictConfig

from aelab.eval._outputs import Outputs
from aelab.metrics.pca import fit_pca
from aelab.runs.checkpoints import LoadedRun

NAME = "reconstruction"
ORDER = 10
NEEDS: tuple[str, ...] = ()

UNIT_WORDS = {"m": "metres"}  # the result key of the error in units: rmse_<word>


def available(run: LoadedRun, cfg: DictConfig) -> str | None:
    return None


def run(run: LoadedRun, cfg: DictConfig, out: Outputs) -> dict[str, Any]:
    """Test error of the model and of closed-form PCA at the same m, overall and per class."""
    settings = cfg[NAME]
    dm = run.datamodule
    test = dm.split("test")
    x, labels = test["x"], test["label"]
    x_hat = run.reconstruct(x)
    pca = fit_pca(dm.split("train")["x"], run.latent_dim)
    sse = ((x_hat - x) ** 2).flatten(1).sum(dim=1).double()
    pca_sse = pca.reconstruction_sse(x)
    n = dm.input_dim
    classes = torch.unique(labels).tolist()
    per_class = {
        dm.class_names[c]: {
            "count": int((labels == c).sum()),
            "mse": float(sse[labels == c].mean() / n),
            "pca_mse": float(pca_sse[labels == c].mean() / n),
        }
        for c in classes
    }
    result: dict[str, Any] = {
        "mse": float(sse.mean() / n),
        "sse": float(sse.mean()),
        "pca_mse": float(pca_sse.mean() / n),
        "mse_over_pca": float(sse.mean() / pca_sse.mean().clamp_min(1e-300)),
    }
    units = dm.units
    if units is not None:
        word = UNIT_WORDS.get(units.name, units.name)
        result[f"rmse_{word}"] = float((sse.mean() / n).sqrt() * units.scale)
    result["per_class"] = per_class
    # one example of each class first, so the grid shows the variety of the data
    firsts = [int((labels == c).nonzero()[0]) for c in classes]
    shown = (firsts + [i for i in range(len(x)) if i not in firsts])[: settings.grid_samples]
    pca_rows = pca.decode(pca.encode(x[shown])).float().view(-1, *x.shape[1:])
    result["figures"] = [
        out.grid(
            "reconstruction",
            [x[shown], x_hat[shown], pca_rows],
            dm,
            ["input", "model", f"PCA ({run.latent_dim} axes)"],
        ),
        out.figure("reconstruction_per_class", per_class_figure(per_class)),
    ]
    return result


def headline(result: dict[str, Any]) -> dict[str, float]:
    return {f"reconstruction/{k}": result[k] for k in ("mse", "pca_mse", "mse_over_pca")}


def per_class_figure(per_class: dict[str, dict[str, float]]) -> Figure:
    """Bars of the test MSE per class, model beside PCA (log scale)."""
    names = list(per_class)
    figure = Figure(figsize=(max(5, 0.6 * len(names)), 3.4), layout="constrained")
    ax = figure.subplots()
    positions = range(len(names))
    ax.bar([p - 0.2 for p in positions], [per_class[c]["mse"] for c in names], 0.4, label="model")
    ax.bar([p + 0.2 for p in positions], [per_class[c]["pca_mse"] for c in names], 0.4, label="PCA")
    ax.set_xticks(list(positions), names)
    ax.set_ylabel("test MSE per input")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    return figure
