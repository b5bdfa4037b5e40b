"""The files of a comparison: ``comparison.md`` (tables per dataset, failed jobs) and
``comparison.csv`` (one row per job)."""

import csv
import io
from pathlib import Path

from aelab.compare.grouping import by_dataset
from aelab.compare.runs import Job
from aelab.compare.tables import metric_tables, x_header


def report_markdown(
    sweep_dir: str, jobs: list[Job], metrics: list[str], x_key: str, unreadable: list[str]
) -> str:
    """The tables; `sweep_dir` is shown as the user gave it (no machine-specific prefix)."""
    failed = [j for j in jobs if not j.ok]
    x_name = "η = m / n" if x_key == "eta" else x_key
    parts = [
        f"# Comparison: {Path(sweep_dir).name}",
        "",
        f"{len(jobs)} jobs ({len(jobs) - len(failed)} ok, {len(failed)} failed) in `{sweep_dir}`. "
        f"Columns: {x_name}. Cells: the test split's per-pixel MSE (mean over jobs), and the "
        "other metrics listed; the PCA rows are the closed-form optimum of a rank-m linear map.",
    ]
    for data, group in by_dataset(jobs).items():
        sizes = sorted({j.n for j in group if j.n})
        parts += ["", f"## {data} (n = {', '.join(map(str, sizes)) or '?'})"]
        tables, missing = metric_tables(group, metrics, x_key)
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


def report_csv(jobs: list[Job], x_key: str) -> str:
    """One row per job: its settings, every test metric, val/mse, wall time, label, reason."""
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
