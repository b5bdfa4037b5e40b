"""What tables and figure share: the rows (model/regularizer plus whatever else the sweep
varied; an ordered run's prefix points as a row of their own, "(one run)"), the columns (the x
values), a cell's value, and the PCA bounds worth showing."""

import math
import statistics
from dataclasses import dataclass
from typing import Any

from aelab.compare.runs import Job

PCA_ROWS = {  # metric in result.json -> row name, in the test/mse table and the figure
    # (the uncentred bound only in panels with a linear AE: the seed variant's optimum)
    "test/pca_mse": "PCA bound (closed form)",
    "test/pca_uncentred_mse": "PCA bound, uncentred",
}
# shown otherwise (ordered: in the label of ordered models only)
LABEL_KEYS = ("model", "regularizer", "data", "compression", "experiment", "ordered")
MODEL_KEYS = ("model", "regularizer", "ordered", "seed", "trainer", "accelerator")  # not data
OVER = ("seed",)  # jobs that differ only in these keys are one row: their mean and spread


def _short(key: str) -> str:
    head, _, rest = key.partition(".")
    return rest if head in ("model", "data", "regularizer") and rest else key


def _is_model_key(key: str) -> bool:
    return key.split(".")[0] in MODEL_KEYS


def assign_labels(jobs: list[Job], x_key: str, over: tuple[str, ...] = OVER) -> None:
    """Row label of each job: ``model/regularizer``, ``ordered=...`` for an ordered model, and
    the other overrides that vary, except the keys aggregated `over` (the seeds: their jobs
    share a row); prefix points end in ``(one run)`` (`_one_run_labels`)."""
    x_keys = (
        {"compression", "compression.ratio", "compression.latent_dim"} if x_key == "eta" else set()
    )
    x_keys.add(x_key)
    keys = sorted({k for job in jobs for k in job.overrides})
    varying = [
        k
        for k in keys
        if k not in LABEL_KEYS
        and k not in x_keys
        and k not in over
        and not k.startswith("hydra")
        and len({job.overrides.get(k) for job in jobs}) > 1
    ]
    for job in jobs:
        extra = [f"{_short(k)}={job.overrides[k]}" for k in varying if k in job.overrides]
        is_ordered = job.ordered != "none" or job.run is not None
        ordered = [f"ordered={job.ordered}"] if is_ordered else []
        job.label = " ".join([f"{job.model}/{job.regularizer}", *ordered, *extra])
        data_side = [e for k, e in zip(varying, extra, strict=False) if not _is_model_key(k)]
        job.pca_group = " ".join(data_side)
    _one_run_labels(jobs)


def _one_run_labels(jobs: list[Job]) -> None:
    """Prefix points: ``(one run)``; where several runs share a label, their m (or their name)."""
    points = [j for j in jobs if j.run is not None]
    runs: dict[str, dict[int, Job]] = {}
    for point in points:
        runs.setdefault(point.label, {})[id(point.run)] = point.run
    for point in points:
        run, others = point.run, runs[point.label].values()
        if len(others) == 1:
            tag = "one run"
        elif sum(r.m == run.m for r in others) == 1:
            tag = f"one run, m={run.m}"
        else:
            tag = f"one run: {run.name}"
        point.label = f"{point.label} ({tag})"


def by_dataset(jobs: list[Job]) -> dict[str, list[Job]]:
    """The jobs of each dataset, in order of first appearance."""
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.data, []).append(job)
    return groups


def columns(jobs: list[Job]) -> list[Any]:
    """The x values present, sorted (as text when they do not compare)."""
    values = {job.x for job in jobs if job.x is not None}
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.fmean(finite) if finite else math.nan


def ok_mean(jobs: list[Job], metric: str) -> float:
    """The mean of `metric` over the jobs that succeeded (NaN if none)."""
    return _mean([j.metrics.get(metric, math.nan) for j in jobs if j.ok])


@dataclass(frozen=True)
class Stats:
    """A cell: its jobs' values of one metric, and how many of its jobs failed."""

    n: int  # finished jobs with a value
    failed: int  # jobs that failed
    mean: float
    low: float  # mean - standard deviation (n >= 3), the minimum (n = 2), the mean (n <= 1)
    high: float  # mean + standard deviation, the maximum, the mean
    kind: str  # the spread: "sd" (n >= 3), "range" (n = 2), "" (one value or none)


def stats(jobs: list[Job], metric: str) -> Stats:
    """The mean and spread of `metric` over the finished jobs; failures counted."""
    values = [j.metrics.get(metric, math.nan) for j in jobs if j.ok]
    values = [v for v in values if not math.isnan(v)]
    failed = sum(not j.ok for j in jobs)
    if not values:
        return Stats(0, failed, math.nan, math.nan, math.nan, "")
    mean = statistics.fmean(values)
    if len(values) >= 3:
        sd = statistics.stdev(values)
        return Stats(len(values), failed, mean, mean - sd, mean + sd, "sd")
    if len(values) == 2:
        return Stats(2, failed, mean, min(values), max(values), "range")
    return Stats(1, failed, mean, mean, mean, "")


def bound_mean(jobs: list[Job], metric: str) -> float:
    """A PCA bound at one x: the whole runs' mean, else the prefix points' (the same closed form
    of the same data, so one PCA row and line gets both)."""
    whole = ok_mean([j for j in jobs if j.run is None], metric)
    return whole if not math.isnan(whole) else ok_mean(jobs, metric)


def bounds(jobs: list[Job]) -> dict[str, str]:
    """The PCA bounds worth a row: the uncentred one only where a linear AE may reach it."""
    has_linear = any(j.model == "linear" for j in jobs)
    return {k: v for k, v in PCA_ROWS.items() if has_linear or k == "test/pca_mse"}
