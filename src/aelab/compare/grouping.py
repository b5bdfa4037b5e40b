"""What tables and figure share: the rows (model/regularizer plus whatever else the sweep
varied), the columns (the x values), a cell's value, and the PCA bounds worth showing."""

import math
import statistics
from typing import Any

from aelab.compare.runs import Job

PCA_ROWS = {  # metric in result.json -> row name, in the test/mse table and the figure
    # (the uncentred bound only in panels with a linear AE: the seed variant's optimum)
    "test/pca_mse": "PCA bound (closed form)",
    "test/pca_uncentred_mse": "PCA bound, uncentred",
}
LABEL_KEYS = ("model", "regularizer", "data", "compression", "experiment")  # shown otherwise


def _short(key: str) -> str:
    head, _, rest = key.partition(".")
    return rest if head in ("model", "data", "regularizer") and rest else key


def _is_model_key(key: str) -> bool:
    return key.split(".")[0] in ("model", "regularizer", "seed", "trainer", "accelerator")


def assign_labels(jobs: list[Job], x_key: str) -> None:
    """Row label of each job: ``model/regularizer`` and the other overrides that vary."""
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
        and not k.startswith("hydra")
        and len({job.overrides.get(k) for job in jobs}) > 1
    ]
    for job in jobs:
        extra = [f"{_short(k)}={job.overrides[k]}" for k in varying if k in job.overrides]
        job.label = " ".join([f"{job.model}/{job.regularizer}", *extra])
        data_side = [e for k, e in zip(varying, extra, strict=False) if not _is_model_key(k)]
        job.pca_group = " ".join(data_side)


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


def bounds(jobs: list[Job]) -> dict[str, str]:
    """The PCA bounds worth a row: the uncentred one only where a linear AE may reach it."""
    has_linear = any(j.model == "linear" for j in jobs)
    return {k: v for k, v in PCA_ROWS.items() if has_linear or k == "test/pca_mse"}
