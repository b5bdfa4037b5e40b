"""The comparison in TensorBoard, beside the sweep's own runs.

- ``comparison``: the report's figure and table;
- ``curve/<row>``: each row of the report (a model, one ordered run's prefixes, PCA) as native
  scalars whose step is the latent size m, so TensorBoard draws the metric against m, every row
  of a dataset on one chart (tag ``curve/<data>/<metric>``), with hover, zoom and log scale; a
  custom-scalars layout puts each dataset's chart on its own card. Where jobs differing only in
  seed share a point, ``.../low`` and ``.../high`` hold the spread (± sd, or min and max) and a
  second card draws it as a band around each row.
"""

import math
from pathlib import Path
from typing import TYPE_CHECKING

from aelab.compare.figures import PCA_STYLES, TINY, _lines
from aelab.compare.grouping import OVER, assign_labels, bound_mean, by_dataset, columns, stats
from aelab.compare.runs import Job
from aelab.runs.naming import safe

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CURVES = "curve"  # <out>/curve/<row>: one TensorBoard run per row


def _clear(log_dir: Path) -> None:
    for old in log_dir.glob("events.out.tfevents.*"):  # one comparison at a time
        old.unlink()


def curve_points(
    jobs: list[Job], metric: str, x_key: str, over: tuple[str, ...] = OVER
) -> dict[str, dict[str, list]]:
    """Row -> chart tag -> [(m, value)]: the figure's lines with m as the step; a row whose
    points have a spread also gets the tags ``<tag>/low`` and ``<tag>/high``."""
    rows: dict[str, dict[str, list]] = {}
    for data, group in by_dataset(jobs).items():
        assign_labels(group, x_key, over)
        tag = f"{CURVES}/{data}/{metric}"
        for legend, line_metric, members, _ in _lines(group, metric):
            points: dict[str, list] = {}
            for x in columns(group):
                at = [j for j in members if j.x == x]
                ms = {j.m for j in at if j.m is not None}
                if len(ms) != 1:
                    continue
                m = ms.pop()
                if line_metric in PCA_STYLES:
                    value = bound_mean(at, line_metric)
                    if math.isfinite(value) and value > TINY:
                        points.setdefault(tag, []).append((m, value))
                    continue
                cell = stats(at, line_metric)
                if math.isfinite(cell.mean) and cell.mean > TINY:
                    points.setdefault(tag, []).append((m, cell.mean))
                    points.setdefault(f"{tag}/low", []).append((m, cell.low))
                    points.setdefault(f"{tag}/high", []).append((m, cell.high))
            if not any(
                low != high
                for low, high in zip(
                    points.get(f"{tag}/low", []), points.get(f"{tag}/high", []), strict=True
                )
            ):
                points.pop(f"{tag}/low", None)  # one job per point: no band
                points.pop(f"{tag}/high", None)
            if points:
                rows[legend] = points
    return rows


def write_tensorboard(
    sweep_dir: Path,
    fig: "Figure",
    table: str,
    jobs: list[Job],
    metric: str,
    x_key: str,
    over: tuple[str, ...] = OVER,
) -> Path:
    """The figure and table (run ``comparison``) and the curves (runs ``curve/<row>``)."""
    from torch.utils.tensorboard import SummaryWriter

    log_dir = sweep_dir / "comparison"
    _clear(log_dir)
    writer = SummaryWriter(log_dir=str(log_dir))
    writer.add_figure("comparison/compression_curve", fig, global_step=0, close=False)
    writer.add_text("comparison/table", table, global_step=0)
    rows = curve_points(jobs, metric, x_key, over)
    tags = sorted({tag for row in rows.values() for tag in row})
    curves = [t for t in tags if not t.endswith(("/low", "/high"))]
    charts = {tag.split("/")[1]: ["Multiline", [f"^{tag}$"]] for tag in curves}
    layout = {f"{metric} against the latent size m": charts} if charts else {}
    bands = {
        f"{tag.split('/')[1]} (mean and spread)": ["Margin", [tag, f"{tag}/low", f"{tag}/high"]]
        for tag in curves
        if f"{tag}/low" in tags
    }
    if bands:
        layout[f"{metric} over the seeds: ± sd, or min to max for two"] = bands
    if layout:  # Custom Scalars: a dataset's rows and PCA on one chart, error against m
        writer.add_custom_scalars(layout)
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
