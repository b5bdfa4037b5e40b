"""The figure: a metric against x, one line per row, the PCA bounds dashed, a panel per dataset.
An ordered run's prefix points are one line of their own (square markers), "(one run)". Where
several jobs share a point (seeds), it is their mean with an error bar: ± one standard deviation
for 3 or more, the minimum to the maximum for 2."""

import math
from typing import TYPE_CHECKING

from aelab.compare.grouping import (
    OVER,
    assign_labels,
    bound_mean,
    bounds,
    by_dataset,
    columns,
    stats,
)
from aelab.compare.runs import Job

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PCA_STYLES = {
    "test/pca_mse": {"color": "black", "linestyle": "--"},
    "test/pca_uncentred_mse": {"color": "0.55", "linestyle": ":"},
}
PCA_MARKERS = [".", "x", "^", "s"]  # one per data setting when a sweep varies the data
ONE_RUN_STYLE = {"marker": "s", "markersize": 4}  # the prefix points of one ordered run
TINY = 1e-12  # an exact bound (m >= n) is 0 up to rounding: not drawn on a log scale


def _lines(group: list[Job], metric: str) -> list[tuple[str, str, list[Job], dict]]:
    """(legend, metric, jobs, style) of each line in a dataset's panel."""
    lines = []
    for label in dict.fromkeys(j.label for j in group):
        members = [j for j in group if j.label == label]
        one_run = any(j.run is not None for j in members)
        lines.append((label, metric, members, ONE_RUN_STYLE if one_run else {"marker": "o"}))
    if metric == "test/mse":
        for pca_metric, name in bounds(group).items():
            for index, pca_group in enumerate(dict.fromkeys(j.pca_group for j in group if j.ok)):
                members = [j for j in group if j.pca_group == pca_group]
                legend = " ".join(filter(None, [name, pca_group]))
                style = {**PCA_STYLES[pca_metric], "marker": PCA_MARKERS[index % len(PCA_MARKERS)]}
                lines.append((legend, pca_metric, members, style))
    return lines


def curve_figure(
    jobs: list[Job], metric: str, x_key: str, over: tuple[str, ...] = OVER
) -> "Figure":
    """One panel per dataset: `metric` against x, one line per row (error bars where jobs
    differing only in `over` share a point), the PCA bounds dashed."""
    from matplotlib.figure import Figure

    datasets = by_dataset(jobs)
    fig = Figure(figsize=(6 * len(datasets), 5.5), layout="constrained")
    axes = fig.subplots(1, len(datasets), squeeze=False)[0]
    for ax, (data, group) in zip(axes, datasets.items(), strict=True):
        assign_labels(group, x_key, over)
        xs = [c for c in columns(group) if isinstance(c, int | float)]
        for legend, line_metric, members, style in _lines(group, metric):
            if line_metric in PCA_STYLES:
                points = [
                    (c, bound_mean([j for j in members if j.x == c], line_metric)) for c in xs
                ]
                points = [(c, v) for c, v in points if math.isfinite(v) and v > TINY]
                if points:
                    ax.plot(*zip(*points, strict=True), label=legend, **style)
                continue
            cells = [(c, stats([j for j in members if j.x == c], line_metric)) for c in xs]
            cells = [(c, s) for c, s in cells if math.isfinite(s.mean) and s.mean > TINY]
            if not cells:
                continue
            x = [c for c, _ in cells]
            y = [s.mean for _, s in cells]
            if any(s.kind for _, s in cells):
                below = [s.mean - max(s.low, TINY) for _, s in cells]  # log axes: stay above 0
                above = [s.high - s.mean for _, s in cells]
                ax.errorbar(x, y, yerr=[below, above], label=legend, capsize=3, **style)
            else:
                ax.plot(x, y, label=legend, **style)
        values = [y for line in ax.get_lines() for y in line.get_ydata()]
        if xs and min(xs) > 0 and (x_key == "eta" or max(xs) / min(xs) >= 10):
            ax.set_xscale("log")
            ax.minorticks_off()
        if xs:
            ax.set_xticks(xs, [f"{c:g}" for c in xs])
        if values and min(values) > 0:
            ax.set_yscale("log")
        ax.set_xlabel("η = m / n" if x_key == "eta" else x_key)
        ax.set_ylabel(metric)
        ax.set_title(data)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_lines():  # below the panel: long labels never hide the curves
            ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16))
    return fig
