"""Linear probes: which intrinsic degrees of freedom can be read off the latent code linearly.

- ``ridge_r2``: ridge regression from z to each target column (terrain parameters and
  descriptors), fitted on one set and scored on a held-out one: R^2 = 1 - SS_res / SS_tot per
  target (1: captured linearly, about 0: absent; NaN for a target constant on the held-out set).
- ``ridge_accuracy``: a one-vs-rest ridge classifier from z to the class label (MNIST digit,
  terrain class): closed form, accuracy on the held-out set.
- ``per_class_r2``: the same R^2 with a probe fitted and scored within each class. Pooled over
  classes, a parameter that exists only for some classes (tilt of flat ground, building density,
  peak height) mixes "how much of it is coded" with "which class is it"; within a class it does
  not. Targets constant within a class (undefined there) are left out.
- ``order_summary``: mean R^2 of the descriptors by order (0: mean altitude, 1: slopes,
  2: curvatures), which degrees of freedom are captured order by order.

All are closed-form least squares in float64 on codes standardised with the fitting set's
statistics: deterministic, and instant next to an iterative logistic regression.
"""

import math
from typing import Any

import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from torch import Tensor

from aelab.errors import ConfigError
from aelab.metrics.pca import fit_pca

# Order of each terrain descriptor: 0 mean altitude, 1 slopes, 2 curvatures.
DESCRIPTOR_ORDERS = {
    "mean_altitude": 0,
    "slope_x": 1,
    "slope_y": 1,
    "curv_xx": 2,
    "curv_xy": 2,
    "curv_yy": 2,
}
MIN_CLASS_SAMPLES = 10  # a class is probed with at least this many fitting and held-out samples


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
    return torch.where(is_constant(y_eval), math.nan, r2)


def ridge_accuracy(
    z_fit: Tensor, labels_fit: Tensor, z_eval: Tensor, labels_eval: Tensor, alpha: float = 1e-3
) -> float:
    """Held-out accuracy of a one-vs-rest ridge classifier (regression onto one-hot labels)."""
    num_classes = int(max(labels_fit.max(), labels_eval.max())) + 1
    one_hot = torch.nn.functional.one_hot(labels_fit.long(), num_classes)
    predicted = ridge_predict(z_fit, one_hot, z_eval, alpha).argmax(dim=1)
    return float((predicted == labels_eval.long()).double().mean())


def is_constant(y: Tensor) -> Tensor:
    """Columns of y (N, targets) that do not vary (to float precision), shape (targets,)."""
    y = y.double().reshape(len(y), -1)
    return y.std(dim=0) <= 1e-9 * (1 + y.abs().max(dim=0).values)


def per_class_r2(
    fit: tuple[Tensor, Tensor, Tensor],
    held_out: tuple[Tensor, Tensor, Tensor],
    names: list[str],
    class_names: list[str],
    alpha: float = 1e-3,
) -> dict[str, dict[str, float]]:
    """{class: {target: held-out R^2}} of probes fitted within each class.

    ``fit`` and ``held_out`` are (codes, targets, labels). A class needs ``MIN_CLASS_SAMPLES``
    fitting and held-out samples; a target constant within a class (in either set) is left out.
    """
    z_fit, y_fit, labels_fit = fit
    z_eval, y_eval, labels_eval = held_out
    table = {}
    for label in torch.unique(labels_eval).tolist():
        in_fit, in_eval = labels_fit == label, labels_eval == label
        if min(int(in_fit.sum()), int(in_eval.sum())) < MIN_CLASS_SAMPLES:
            continue
        varies = ~(is_constant(y_fit[in_fit]) | is_constant(y_eval[in_eval]))
        if not varies.any():
            continue
        r2 = ridge_r2(
            z_fit[in_fit],
            y_fit[in_fit][:, varies],
            z_eval[in_eval],
            y_eval[in_eval][:, varies],
            alpha,
        )
        kept = [name for name, keep in zip(names, varies.tolist(), strict=True) if keep]
        name = class_names[label] if label < len(class_names) else str(label)
        table[name] = dict(zip(kept, r2.tolist(), strict=True))
    return table


def order_summary(r2: dict[str, float]) -> dict[str, float]:
    """Mean R^2 of the descriptors of each order present ("order_0", ...); below 0 counts as 0."""
    orders: dict[str, list[float]] = {}
    for name, order in DESCRIPTOR_ORDERS.items():
        if name in r2 and math.isfinite(r2[name]):
            orders.setdefault(f"order_{order}", []).append(max(r2[name], 0.0))
    return {order: sum(values) / len(values) for order, values in sorted(orders.items())}


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


def per_class_figure(
    pooled: dict[str, dict[str, float]], per_class: dict[str, dict[str, dict[str, float]]]
) -> Figure:
    """Heat maps, one per latent: held-out R^2 of every target, pooled and within each class."""
    latents = list(pooled)
    names = list(pooled[latents[0]])
    rows = ["pooled"] + list(dict.fromkeys(c for t in per_class.values() for c in t))
    figure = Figure(
        figsize=(2.0 + 0.62 * len(names), 0.9 + 0.45 * len(rows) * len(latents)),
        layout="constrained",
    )
    axes = figure.subplots(len(latents), 1, squeeze=False)[:, 0]
    cmap = colormaps["viridis"].with_extremes(bad="0.85")
    for ax, latent in zip(axes, latents, strict=True):
        tables = [pooled[latent]] + [per_class[latent].get(c, {}) for c in rows[1:]]
        values = torch.tensor([[t.get(n, math.nan) for n in names] for t in tables])
        image = ax.imshow(values.clamp(0, 1).numpy(), vmin=0, vmax=1, cmap=cmap, aspect="auto")
        for i, row in enumerate(values.tolist()):
            for j, value in enumerate(row):
                if math.isfinite(value):
                    colour = "k" if value > 0.6 else "w"
                    ax.text(
                        j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color=colour
                    )
        ax.set_yticks(range(len(rows)), rows)
        ax.set_xticks(range(len(names)), names if ax is axes[-1] else [], rotation=45, ha="right")
        ax.set_title(f"{latent}: held-out R$^2$ (grey: constant within the class)", fontsize=9)
    figure.colorbar(image, ax=list(axes), shrink=0.8)
    return figure


def _cell(values: list[float | None]) -> str:
    return " / ".join("–" if v is None or not math.isfinite(v) else f"{v:.3f}" for v in values)


def _rows(
    pooled: dict[str, dict[str, float]], per_class: dict[str, dict[str, dict[str, float]]]
) -> dict[str, dict[str, dict[str, float]]]:
    """{"pooled" or class: {latent: {target: R^2}}}."""
    classes = dict.fromkeys(c for table in per_class.values() for c in table)
    return {"pooled": pooled} | {
        c: {latent: per_class[latent].get(c, {}) for latent in pooled} for c in classes
    }


def order_table(
    pooled: dict[str, dict[str, float]], per_class: dict[str, dict[str, dict[str, float]]]
) -> str:
    """Markdown: R^2 by descriptor order, pooled and per class; cells one value per latent."""
    latents = list(pooled)
    orders = ["order_0", "order_1", "order_2"]
    lines = [
        f"| class (cells {' / '.join(latents)}) | order 0: mean altitude | order 1: slopes "
        "| order 2: curvatures |",
        "|---|---:|---:|---:|",
    ]
    for name, tables in _rows(pooled, per_class).items():
        summaries = [order_summary(tables[latent]) for latent in latents]
        cells = [_cell([s.get(o) for s in summaries]) for o in orders]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def target_table(
    pooled: dict[str, dict[str, float]], per_class: dict[str, dict[str, dict[str, float]]]
) -> str:
    """Markdown: R^2 of every target (rows), pooled and per class (columns)."""
    latents = list(pooled)
    rows = _rows(pooled, per_class)
    lines = [
        f"| target (cells {' / '.join(latents)}) | {' | '.join(rows)} |",
        "|---" + "|---:" * len(rows) + "|",
    ]
    for target in pooled[latents[0]]:
        cells = [_cell([t[latent].get(target) for latent in latents]) for t in rows.values()]
        lines.append(f"| {target} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def per_class_markdown(
    pooled: dict[str, dict[str, float]], per_class: dict[str, dict[str, dict[str, float]]]
) -> str:
    """Both tables with their legends."""
    return (
        "Held-out R² of linear probes by descriptor order (mean over the order's descriptors, "
        "below 0 counted as 0):\n\n"
        + order_table(pooled, per_class)
        + "\nHeld-out R² per target (–: constant within the class, not probed):\n\n"
        + target_table(pooled, per_class)
    )


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

        names = DESCRIPTOR_NAMES + PARAM_NAMES
        classes = run.datamodule.class_names
        per_class = {
            name: per_class_r2(
                (a, targets(fit), fit["label"]),
                (b, targets(held_out), held_out["label"]),
                names,
                classes,
                settings.ridge_alpha,
            )
            for name, (a, b) in latents.items()
        }
        result["r2_per_class"] = per_class
        result["r2_by_order"] = {
            name: {"pooled": order_summary(table[name])}
            | {c: order_summary(r2) for c, r2 in per_class[name].items()}
            for name in latents
        }
        figure = per_class_figure(table, per_class)
        result["figures"].append(out.figure("probe_r2_per_class", figure))
        markdown = per_class_markdown(table, per_class)
        (out.dir / "probe_r2_per_class.md").write_text(markdown)
        result["tables"] = ["probe_r2_per_class.md"]
    return result
