"""Figures and Markdown tables of linear-probe R^2 (`aelab.metrics.probes`): AE beside PCA.

Tables are ``{latent: {target: R^2}}`` (pooled) and ``{latent: {class: {target: R^2}}}`` (per
class), as the embedding task of aelab-eval writes them to eval.json.
"""

import math

import torch
from matplotlib import colormaps
from matplotlib.figure import Figure

from aelab.metrics.probes import order_summary


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
