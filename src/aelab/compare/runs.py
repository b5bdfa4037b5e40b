"""Reading a sweep: every job's result.json, flattened into a `Job`."""

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Job:
    """One job's result.json, flattened."""

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

    @property
    def ok(self) -> bool:
        return self.status == "ok"


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


def load_jobs(sweep_dir: Path, x_key: str) -> tuple[list[Job], list[str]]:
    """Every readable result.json under `sweep_dir`, and the paths that could not be read."""
    jobs, unreadable = [], []
    paths = sorted(sweep_dir.rglob("result.json"), key=lambda p: _job_sort_key(p.parent))
    for path in paths:
        try:
            result = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            unreadable.append(f"{path}: {error}")
            continue
        if not isinstance(result, dict):
            unreadable.append(f"{path}: not a JSON object")
            continue
        jobs.append(_to_job(result, str(path.parent.relative_to(sweep_dir)), x_key))
    return jobs, unreadable


def jobs_from_results(results: list[dict], x_key: str = "eta") -> list[Job]:
    """Jobs from result.json dicts already read (each may carry its `job_dir`)."""
    return [
        _to_job(r, Path(r.get("job_dir") or r.get("output_dir") or str(i)).name, x_key)
        for i, r in enumerate(results)
    ]


def _to_job(result: dict, name: str, x_key: str) -> Job:
    config = result.get("config") or {}
    compression = config.get("compression") or {}
    fixed_m = compression.get("latent_dim") is not None
    eta = _number(result.get("compression_ratio") if fixed_m else compression.get("ratio"))
    if math.isnan(eta):
        eta = _number(result.get("compression_ratio"))
    metrics = {k: _number(v) for k, v in (result.get("metrics") or {}).items()}
    if "test/mse" in metrics and metrics.get("test/pca_uncentred_mse", 0) > 0:
        # against the best subspace through the origin: the seed's linear AE reaches 1 here
        metrics["test/mse_over_pca_uncentred"] = (
            metrics["test/mse"] / metrics["test/pca_uncentred_mse"]
        )
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
    )
