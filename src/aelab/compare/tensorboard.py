"""The comparison in TensorBoard, beside the sweep's own runs.

- ``comparison``: the report's figure and table;
- ``curve/<row>``: each row of the report (a model, one ordered run's prefixes, PCA) as native
  scalars whose step is the latent size m, so TensorBoard draws the metric against m, every row
  of a dataset on one chart (tag ``curve/<data>/<metric>``), with hover, zoom and log scale; a
  custom-scalars layout puts each dataset's chart on its own card.
"""

import math
from pathlib import Path
from typing import TYPE_CHECKING

from aelab.compare.figures import PCA_STYLES, TINY, _lines
from aelab.compare.grouping import assign_labels, bound_mean, by_dataset, columns, ok_mean
from aelab.compare.runs import Job
from aelab.runs.naming import safe

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CURVES = "curve"  # <out>/curve/<row>: one TensorBoard run per row


def _clear(log_dir: Path) -> None:
    for old in log_dir.glob("events.out.tfevents.*"):  # one comparison at a time
        old.unlink()


def curve_points(jobs: list[Job], metric: str, x_key: str) -> dict[str, dict[str, list]]:
    """Row -> chart tag -> [(m, value)]: the figure's lines with m as the step."""
    rows: dict[str, dict[str, list]] = {}
    for data, group in by_dataset(jobs).items():
        assign_labels(group, x_key)
        tag = f"{CURVES}/{data}/{metric}"
        for legend, line_metric, members, _ in _lines(group, metric):
            mean = bound_mean if line_metric in PCA_STYLES else ok_mean
            for x in columns(group):
                at = [j for j in members if j.x == x]
                ms = {j.m for j in at if j.m is not None}
                value = mean(at, line_metric)
                if len(ms) == 1 and math.isfinite(value) and value > TINY:
                    rows.setdefault(legend, {}).setdefault(tag, []).append((ms.pop(), value))
    return rows


def write_tensorboard(
    sweep_dir: Path, fig: "Figure", table: str, jobs: list[Job], metric: str, x_key: str
) -> Path:
    """The figure and table (run ``comparison``) and the curves (runs ``curve/<row>``)."""
    from torch.utils.tensorboard import SummaryWriter

    log_dir = sweep_dir / "comparison"
    _clear(log_dir)
    writer = SummaryWriter(log_dir=str(log_dir))
    writer.add_figure("comparison/compression_curve", fig, global_step=0, close=False)
    writer.add_text("comparison/table", table, global_step=0)
    rows = curve_points(jobs, metric, x_key)
    tags = sorted({tag for row in rows.values() for tag in row})
    charts = {tag.split("/")[1]: ["Multiline", [f"^{tag}$"]] for tag in tags}
    if charts:  # Custom Scalars: a dataset's rows and PCA on one chart, error against m
        writer.add_custom_scalars({f"{metric} against the latent size m": charts})
    writer.close()
    for old in (sweep_dir / CURVES).glob("*/events.out.tfevents.*"):
        old.unlink()
    for legend, charts_of_row in rows.items():
        row_writer = SummaryWriter(log_dir=str(sweep_dir / CURVES / safe(legend)))
        for tag, points in charts_of_row.items():
            for m, value in sorted(points):
                row_writer.add_scalar(tag, value, global_step=m)
        row_writer.close()
    return log_dir
