"""Linear probes: which intrinsic degrees of freedom can be read off the latent code linearly.

- ``ridge_r2``: ridge regression from z to each target column (terrain parameters and
  descriptors), fitted on one set and scored on a held-out one: R^2 = 1 - SS_res / SS_tot per
  target (1: captured linearly, about 0: absent; NaN for a target constant on the held-out set).
- ``ridge_accuracy``: a one-vs-rest ridge classifier from z to the class label (MNIST digit,
  terrain class): closed form, accuracy on the held-out set.

Both are closed-form least squares in float64 on codes standardised with the fitting set's
statistics: deterministic, and instant next to an iterative logistic regression.
"""

import math
from typing import Any

import torch
from matplotlib.figure import Figure
from torch import Tensor

from aelab.analysis.pca import fit_pca
from aelab.errors import ConfigError


def ridge_predict(z_fit: Tensor, y_fit: Tensor, z_eval: Tensor, alpha: float = 1e-3) -> Tensor:
    """Fit ridge regression z -> y (columns) on one set, predict on another, in float64.

    Codes are standardised with the fitting set's statistics; ``alpha`` is the penalty per
    sample on the standardised codes; the intercept is not penalised.
    """
    z_fit, z_eval = z_fit.flatten(1).double(), z_eval.flatten(1).double()
    mean, std = z_fit.mean(dim=0), z_fit.std(dim=0).clamp_min(1e-12)
    z_fit, z_eval = (z_fit - mean) / std, (z_eval - mean) / std
    y_fit = y_fit.double().reshape(len(y_fit), -1)
    y_mean = y_fit.mean(dim=0)
    gram = z_fit.T @ z_fit + alpha * len(z_fit) * torch.eye(z_fit.shape[1], dtype=z_fit.dtype)
    weights = torch.linalg.solve(gram, z_fit.T @ (y_fit - y_mean))
    return z_eval @ weights + y_mean


def ridge_r2(
    z_fit: Tensor, y_fit: Tensor, z_eval: Tensor, y_eval: Tensor, alpha: float = 1e-3
) -> Tensor:
    """Held-out R^2 of a ridge regression z -> y for every column of y, shape (targets,)."""
    predicted = ridge_predict(z_fit, y_fit, z_eval, alpha)
    y_eval = y_eval.double().reshape(len(y_eval), -1)
    residual = ((y_eval - predicted) ** 2).sum(dim=0)
    total = ((y_eval - y_eval.mean(dim=0)) ** 2).sum(dim=0)
    r2 = 1 - residual / total.clamp_min(1e-300)
    constant = y_eval.std(dim=0) <= 1e-9 * (1 + y_eval.abs().max(dim=0).values)
    return torch.where(constant, math.nan, r2)


def ridge_accuracy(
    z_fit: Tensor, labels_fit: Tensor, z_eval: Tensor, labels_eval: Tensor, alpha: float = 1e-3
) -> float:
    """Held-out accuracy of a one-vs-rest ridge classifier (regression onto one-hot labels)."""
    num_classes = int(max(labels_fit.max(), labels_eval.max())) + 1
    one_hot = torch.nn.functional.one_hot(labels_fit.long(), num_classes)
    predicted = ridge_predict(z_fit, one_hot, z_eval, alpha).argmax(dim=1)
    return float((predicted == labels_eval.long()).double().mean())


def majority_rate(labels: Tensor) -> float:
    """Accuracy of always answering the most frequent label (the chance level of a probe)."""
    return float(torch.bincount(labels.long()).max() / len(labels))


def r2_figure(table: dict[str, dict[str, float]], title: str) -> Figure:
    """Bar chart: held-out R^2 per target, one bar per latent (model, PCA baseline, ...)."""
    names = list(next(iter(table.values())))
    fig_width = min(12.0, 2.0 + 0.3 * len(names) * len(table))
    figure = Figure(figsize=(fig_width, 3.8), layout="constrained")
    ax = figure.subplots()
    width = 0.8 / len(table)
    for i, (latent, values) in enumerate(table.items()):
        heights = [max(values[n], -0.1) if math.isfinite(values[n]) else 0.0 for n in names]
        positions = [j + (i - (len(table) - 1) / 2) * width for j in range(len(names))]
        ax.bar(positions, heights, width=width, label=latent)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_ylim(-0.1, 1.05)
    ax.axhline(0, color="k", linewidth=0.5)
    ax.set_ylabel("held-out R$^2$ (linear probe)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return figure


# --- the aelab-eval task (part of the embedding task) -------------------------------------------
def probe_sets(run, settings, test: dict[str, Tensor], z_test: Tensor) -> tuple[dict, dict, str]:
    """Fitting and held-out sets (codes, inputs, targets), and where the fit comes from.

    ``train``: the training split's codes (held out: the test split). ``test_half``: even test
    samples fit, odd ones are held out, for models whose training split lacks classes of the
    test split (one-class and novelty runs). ``auto`` picks ``train`` when it can.
    """
    train = run.datamodule.split("train")
    fit_on = settings.fit_on
    if fit_on not in ("auto", "train", "test_half"):
        raise ConfigError(f"unknown probe.fit_on {fit_on!r}; choose auto, train or test_half")
    if fit_on == "auto":
        unseen = ~torch.isin(test["label"], torch.unique(train["label"]))
        fit_on = "test_half" if unseen.any() else "train"
    keys = [k for k in ("x", "label", "params", "descriptors") if k in test]
    limit = settings.max_fit
    if fit_on == "train":
        fit = {k: train[k][:limit] for k in keys}
        fit["z"] = run.embed(fit["x"])
        held_out = {k: test[k] for k in keys} | {"z": z_test}
    else:
        both = {k: test[k] for k in keys} | {"z": z_test}
        fit = {k: v[0::2][:limit] for k, v in both.items()}
        held_out = {k: v[1::2] for k, v in both.items()}
    return fit, held_out, fit_on


def evaluate_run(run, settings, test: dict[str, Tensor], z_test: Tensor, out) -> dict[str, Any]:
    """Label accuracy and R^2 of the parameters and descriptors, for z and for PCA(m) codes."""
    fit, held_out, fit_on = probe_sets(run, settings, test, z_test)
    m = run.latent_dim
    pca = fit_pca(run.datamodule.split("train")["x"], m)
    latents = {
        "model": (fit["z"], held_out["z"]),
        f"pca_m{m}": (pca.encode(fit["x"]), pca.encode(held_out["x"])),
    }
    result: dict[str, Any] = {
        "probe_fit_on": fit_on,
        "probe_num_fit": len(fit["z"]),
        "probe_num_held_out": len(held_out["z"]),
        "figures": [],
    }
    if len(torch.unique(fit["label"])) > 1:
        accuracy = {
            name: ridge_accuracy(a, fit["label"], b, held_out["label"], settings.ridge_alpha)
            for name, (a, b) in latents.items()
        }
        result["label_accuracy"] = accuracy | {"majority": majority_rate(held_out["label"])}
    if "params" in test:
        from aelab.data.terrain import DESCRIPTOR_NAMES, PARAM_NAMES

        def targets(split: dict[str, Tensor]) -> Tensor:
            return torch.cat([split["descriptors"], split["params"]], dim=1)

        table = {}
        for name, (a, b) in latents.items():
            r2 = ridge_r2(a, targets(fit), b, targets(held_out), alpha=settings.ridge_alpha)
            table[name] = dict(zip(DESCRIPTOR_NAMES + PARAM_NAMES, r2.tolist(), strict=True))
        result["r2"] = table
        figure = r2_figure(table, f"held-out R$^2$ of linear probes from the codes (m={m})")
        result["figures"].append(out.figure("probe_r2", figure))
    return result
