"""The files of a comparison: ``comparison.md`` (tables per dataset, failed jobs),
``comparison.csv`` (one row per job; an ordered run's row per prefix point) and
``comparison_cells.csv`` (one row per table cell: its jobs' mean, spread, count and failures)."""

import csv
import io
import statistics
from collections import Counter
from pathlib import Path

from aelab.compare.grouping import OVER, assign_labels, by_dataset, columns, stats
from aelab.compare.runs import Job, whole_runs
from aelab.compare.tables import metric_tables, x_header


def report_markdown(
    sweep_dir: str | list[str],
    jobs: list[Job],
    metrics: list[str],
    x_key: str,
    unreadable: list[str],
    over: tuple[str, ...] = OVER,
) -> str:
    """The tables; `sweep_dir` (one dir or several) is shown as the user gave it (no
    machine-specific prefix)."""
    dirs = [sweep_dir] if isinstance(sweep_dir, str) else sweep_dir
    runs = whole_runs(jobs)
    failed = [j for j in jobs if not j.ok]
    x_name = "η = m / n" if x_key == "eta" else x_key
    parts = [
        f"# Comparison: {', '.join(Path(d).name for d in dirs)}",
        "",
        f"{len(runs)} jobs ({len(runs) - len(failed)} ok, {len(failed)} failed) in "
        f"{', '.join(f'`{d}`' for d in dirs)}. "
        f"Columns: {x_name}. Cells: the test split's per-pixel MSE (mean over jobs), and the "
        "other metrics listed; the PCA rows are the closed-form optimum of a rank-m linear map.",
    ]
    if shares_cells(jobs, x_key, over):
        parts[-1] += (
            f" Jobs that differ only in {', '.join(over)} share a cell: their mean ± standard "
            "deviation (3 or more jobs) or [minimum–maximum] (2 jobs), with n the number of "
            "finished jobs and the failed ones counted."
        )
    if any(j.run is not None for j in jobs):
        parts[-1] += (
            " A row marked (one run) is one ordered model: at η = k / n, its first k latents "
            "(`test/mse@k`; its PCA bound `test/pca_mse@k` joins the PCA row where no job ran "
            "at that η)."
        )
    for data, group in by_dataset(jobs).items():
        sizes = sorted({j.n for j in group if j.n})
        parts += ["", f"## {data} (n = {', '.join(map(str, sizes)) or '?'})"]
        tables, missing = metric_tables(group, metrics, x_key, over=over)
        if missing:
            parts += ["", f"Not recorded by these jobs: {', '.join(missing)}."]
        for metric, table in tables:
            parts += ["", f"### {metric}", "", table]
    if failed:
        parts += ["", "## Failed jobs", ""]
        parts += [
            f"- `{j.name}` ({j.label}, {x_header(x_key, j.x)}): {j.reason or j.status}"
            for j in failed
        ]
    if unreadable:
        parts += ["", "## Unreadable results", ""] + [f"- {u}" for u in unreadable]
    return "\n".join(parts) + "\n"


def shares_cells(jobs: list[Job], x_key: str, over: tuple[str, ...] = OVER) -> bool:
    """Whether some cell holds several jobs (repeated seeds): the tables then show spreads."""
    for group in by_dataset(jobs).values():
        assign_labels(group, x_key, over)
        cells = Counter((j.label, j.x) for j in group)
        if any(count > 1 for count in cells.values()):
            return True
    return False


def report_csv(jobs: list[Job], x_key: str) -> str:
    """One row per job: its settings, every test metric, val/mse, wall time, label, reason; an
    ordered run's row per prefix point (m = k, its ``X@k`` metrics as ``X``, label "(one run)")."""
    metric_keys = sorted({k for j in jobs for k in j.metrics if k.startswith("test/")})
    columns = ["job", "status", "model", "regularizer", "data", "eta", "m", "n"]
    columns += ([] if x_key == "eta" else [x_key]) + metric_keys
    columns += ["val/mse", "wall_seconds", "label", "overrides", "reason"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for j in jobs:
        row = {
            "job": j.name,
            "status": j.status,
            "model": j.model,
            "regularizer": j.regularizer,
            "data": j.data,
            "eta": j.eta,
            "m": j.m,
            "n": j.n,
            "val/mse": j.metrics.get("val/mse"),
            "wall_seconds": j.wall_seconds,
            "label": j.label,
            "overrides": " ".join(f"{k}={v}" for k, v in j.overrides.items()),
            "reason": j.reason,
        }
        row.update({k: j.metrics.get(k) for k in metric_keys})
        if x_key != "eta":
            row[x_key] = j.x
        writer.writerow(row)
    return out.getvalue()


def cells_csv(jobs: list[Job], metrics: list[str], x_key: str, over: tuple[str, ...] = OVER) -> str:
    """One row per (dataset, row, x, metric): n finished jobs, failed jobs, mean, standard
    deviation (n >= 2), minimum and maximum; the spread shown in the tables is named."""
    out = io.StringIO()
    fields = ["data", "row", x_key, "metric", "n", "failed", "mean", "sd", "min", "max", "shown"]
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for data, group in by_dataset(jobs).items():
        assign_labels(group, x_key, over)
        for label in dict.fromkeys(j.label for j in group):
            for x in columns(group):
                here = [j for j in group if j.label == label and j.x == x]
                if not here:
                    continue
                for metric in metrics:
                    values = [j.metrics.get(metric) for j in here if j.ok]
                    values = [v for v in values if v is not None and v == v]
                    cell = stats(here, metric)
                    writer.writerow(
                        {
                            "data": data,
                            "row": label,
                            x_key: x,
                            "metric": metric,
                            "n": cell.n,
                            "failed": cell.failed,
                            "mean": cell.mean if cell.n else "",
                            "sd": statistics.stdev(values) if len(values) > 1 else "",
                            "min": min(values) if values else "",
                            "max": max(values) if values else "",
                            "shown": {"sd": "mean ± sd", "range": "min–max"}.get(
                                cell.kind, "value"
                            ),
                        }
                    )
    return out.getvalue()
