"""One dataset's Markdown tables: rows = model/regularizer (and what else varied), columns = x,
cells = the mean of a metric over the jobs that succeeded; the PCA bounds as their own rows. An
ordered run is a row of its own: its prefix points fill the columns of their η, blank elsewhere."""

import math
from typing import Any

from aelab.compare.grouping import OVER, Stats, assign_labels, bound_mean, bounds, columns, stats
from aelab.compare.runs import Job

SHOWN_IF_PRESENT = ["test/max_principal_angle_deg"]  # linear models, pca_equivalence


def fmt(value: float) -> str:
    """A cell: 4 significant digits, empty for NaN."""
    return "" if value is None or math.isnan(value) else f"{value:.4g}"


def cell_text(cell: Stats) -> str:
    """A cell's text: the mean, its spread when several jobs share it (± sd, or [min–max] for
    two), their number, and the failed ones; ``failed`` when none finished."""
    if cell.n == 0:
        return "failed" if cell.failed else ""
    text = fmt(cell.mean)
    if cell.kind == "sd":
        text += f" ± {cell.high - cell.mean:.2g}"
    elif cell.kind == "range":
        text += f" [{fmt(cell.low)}–{fmt(cell.high)}]"
    notes = ([f"n={cell.n}"] if cell.n > 1 else []) + (
        [f"{cell.failed} failed"] if cell.failed else []
    )
    return text + (f" ({', '.join(notes)})" if notes else "")


def x_header(x_key: str, value: Any) -> str:
    """A column's heading, e.g. ``η=0.05`` or ``train_size=256``."""
    name = "η" if x_key == "eta" else x_key.split(".")[-1]
    return f"{name}={value:g}" if isinstance(value, int | float) else f"{name}={value}"


def metric_rows(jobs: list[Job], metric: str, columns: list[Any]) -> list[tuple[str, list[str]]]:
    """(label, cells) per row: the mean over ok jobs with its spread (`cell_text`), 'failed'
    where every job there failed."""
    rows = []
    for label in dict.fromkeys(job.label for job in jobs):
        cells = []
        for column in columns:
            here = [j for j in jobs if j.label == label and j.x == column]
            cells.append(cell_text(stats(here, metric)))
        rows.append((label, cells))
    return rows


def pca_rows(jobs: list[Job], columns: list[Any]) -> list[tuple[str, list[str]]]:
    """The closed-form bounds the jobs measured, one row per bound (and data setting); prefix
    points fill the columns where no whole run has the bound."""
    rows = []
    for metric, name in bounds(jobs).items():
        for group in dict.fromkeys(j.pca_group for j in jobs if j.ok):
            members = [j for j in jobs if j.pca_group == group]
            cells = [fmt(bound_mean([j for j in members if j.x == c], metric)) for c in columns]
            if any(cells):
                rows.append((" ".join(filter(None, [name, group])), cells))
    return rows


def markdown_table(header: list[str], rows: list[tuple[str, list[str]]]) -> str:
    """A Markdown table: the first column left-aligned, the others right-aligned."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" + "---:|" * (len(header) - 1),
    ]
    lines += ["| " + " | ".join([label, *cells]) + " |" for label, cells in rows]
    return "\n".join(lines)


def metric_tables(
    group: list[Job],
    metrics: list[str],
    x_key: str,
    extra: bool = True,
    over: tuple[str, ...] = OVER,
) -> tuple[list[tuple[str, str]], list[str]]:
    """One dataset's (metric, Markdown table) pairs, and the metrics no job recorded.

    The test/mse table gets the PCA bound rows; `extra` adds the metrics shown when present;
    jobs that differ only in the keys `over` share a cell.
    """
    assign_labels(group, x_key, over)
    xs = columns(group)
    header = ["model / regularizer", *(x_header(x_key, c) for c in xs)]
    recorded = [m for m in metrics if any(m in j.metrics for j in group)]
    shown = recorded + [
        m
        for m in (SHOWN_IF_PRESENT if extra else [])
        if m not in metrics and any(m in j.metrics for j in group)
    ]
    missing = [m for m in metrics if m not in recorded and any(j.ok for j in group)]
    tables = []
    for metric in shown:
        rows = metric_rows(group, metric, xs)
        if metric == "test/mse":
            rows += pca_rows(group, xs)
        tables.append((metric, markdown_table(header, rows)))
    return tables, missing
