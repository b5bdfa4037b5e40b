"""Reading runs: every job's result.json, flattened into a `Job`.

An ordered run (one whose ``prefix_sizes`` is not empty: its first k latents are a k-dimensional
code for every k) becomes one `Job` per prefix size k, its "prefix points": m = k, η = k / n (the
requested ratio that gives k, as a sweep's columns), and the metrics ``X@k`` as ``X``. Each point
keeps the whole run in `Job.run`; together they draw that one run's curve.
"""

import json
import math
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any


@dataclass
class Job:
    """One job's result.json, flattened (or one prefix point of an ordered run)."""

    name: str  # path of the job dir relative to the sweep dir
    status: str
    reason: str
    model: str
    regularizer: str
    data: str
    eta: float  # requested compression ratio (actual m / n when latent_dim is fixed)
    m: int | None
    n: int | None
    x: Any  # the value on the x axis (eta unless --x)
    overrides: dict[str, str]
    metrics: dict[str, float]
    wall_seconds: float | None
    label: str = ""
    pca_group: str = ""
    ordered: str = "none"  # the ordered= option of the run
    run: "Job | None" = None  # a prefix point: the whole ordered run it was cut from

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def whole_runs(jobs: list[Job]) -> list[Job]:
    """The runs behind `jobs`: each job, or for prefix points the run they came from, once."""
    runs = {id(j.run or j): j.run or j for j in jobs}
    return list(runs.values())


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _lookup(config: dict, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _parse_overrides(overrides: list[str]) -> dict[str, str]:
    parsed = {}
    for item in overrides or []:
        key, _, value = item.partition("=")
        parsed[key.lstrip("+~")] = value
    return parsed


def _job_sort_key(path: Path) -> list:
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in path.parts]


def load_jobs(
    sweep_dir: Path, x_key: str, shown: str | None = None, seen: set[Path] | None = None
) -> tuple[list[Job], list[str]]:
    """Every readable result.json under `sweep_dir`, and the paths that could not be read.

    A job's name is its dir relative to `sweep_dir` (the dir's own name for a run dir), put under
    `shown` when given (several dirs compared); result files already in `seen` are skipped.
    """
    jobs, unreadable = [], []
    paths = sorted(sweep_dir.rglob("result.json"), key=lambda p: _job_sort_key(p.parent))
    for path in paths:
        if seen is not None:
            if path in seen:
                continue
            seen.add(path)
        try:
            result = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            unreadable.append(f"{path}: {error}")
            continue
        if not isinstance(result, dict):
            unreadable.append(f"{path}: not a JSON object")
            continue
        name = str(path.parent.relative_to(sweep_dir))
        if shown is not None:
            name = PurePath(shown, name).as_posix()
        elif name == ".":
            name = sweep_dir.name
        jobs += _to_jobs(result, name, x_key)
    return jobs, unreadable


def jobs_from_results(results: list[dict], x_key: str = "eta") -> list[Job]:
    """Jobs from result.json dicts already read (each may carry its `job_dir`)."""
    return [
        job
        for i, r in enumerate(results)
        for job in _to_jobs(r, Path(r.get("job_dir") or r.get("output_dir") or str(i)).name, x_key)
    ]


def _to_jobs(result: dict, name: str, x_key: str) -> list[Job]:
    """The job, or the prefix points of a finished ordered run (on the η axis only)."""
    job = _to_job(result, name, x_key)
    sizes = result.get("prefix_sizes")
    if x_key != "eta" or not job.ok or not isinstance(sizes, list) or not sizes:
        return [job]
    ordered = (result.get("config") or {}).get("ordered") or {}
    ratios = ordered.get("prefix_ratios") if isinstance(ordered, dict) else None
    return [_prefix_point(job, int(k), ratios or []) for k in sizes]


def _to_job(result: dict, name: str, x_key: str) -> Job:
    config = result.get("config") or {}
    compression = config.get("compression") or {}
    fixed_m = compression.get("latent_dim") is not None
    eta = _number(result.get("compression_ratio") if fixed_m else compression.get("ratio"))
    if math.isnan(eta):
        eta = _number(result.get("compression_ratio"))
    metrics = {k: _number(v) for k, v in (result.get("metrics") or {}).items()}
    _add_uncentred_ratio(metrics)
    return Job(
        name=name,
        status=str(result.get("status", "unknown")),
        reason=str(result.get("reason", "")),
        model=str(result.get("model")),
        regularizer=str(result.get("regularizer")),
        data=str(result.get("data")),
        eta=eta,
        m=result.get("latent_dim"),
        n=result.get("input_dim"),
        x=eta if x_key == "eta" else _lookup(config, x_key),
        overrides=_parse_overrides(result.get("overrides", [])),
        metrics=metrics,
        wall_seconds=result.get("wall_seconds"),
        ordered=str(result.get("ordered") or "none"),
    )


def _add_uncentred_ratio(metrics: dict[str, float]) -> None:
    if "test/mse" in metrics and metrics.get("test/pca_uncentred_mse", 0) > 0:
        # against the best subspace through the origin: the seed's linear AE reaches 1 here
        metrics["test/mse_over_pca_uncentred"] = (
            metrics["test/mse"] / metrics["test/pca_uncentred_mse"]
        )


def _prefix_eta(run: Job, k: int, ratios: list) -> float:
    """η of the first k latents: the run's own η at k = m, else the first requested ratio that
    gives k (k = max(1, round(η n)), as ``aelab.compression.latent_size``), else k / n."""
    if k == run.m:
        return run.eta
    if not run.n:
        return math.nan
    for ratio in ratios:
        if isinstance(ratio, int | float) and max(1, round(ratio * run.n)) == k:
            return float(ratio)
    return k / run.n


def _prefix_point(run: Job, k: int, ratios: list) -> Job:
    """The first k latents of an ordered run as a job of its own: m = k, metrics ``X@k`` as ``X``
    (at k = m the run's other metrics too: they are the whole model's)."""
    suffix = f"@{k}"
    metrics = {m: v for m, v in run.metrics.items() if "@" not in m} if k == run.m else {}
    metrics.update({m[: -len(suffix)]: v for m, v in run.metrics.items() if m.endswith(suffix)})
    metrics.pop("test/mse_over_pca_uncentred", None)
    _add_uncentred_ratio(metrics)
    eta = _prefix_eta(run, k, ratios)
    return Job(
        name=run.name,
        status=run.status,
        reason=run.reason,
        model=run.model,
        regularizer=run.regularizer,
        data=run.data,
        eta=eta,
        m=k,
        n=run.n,
        x=eta,
        overrides=run.overrides,
        metrics=metrics,
        wall_seconds=run.wall_seconds,
        ordered=run.ordered,
        run=run,
    )
