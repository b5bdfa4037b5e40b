"""Run one job of a Hydra app: record its outcome in `result.json`, never lose a sweep to it.

A job that fails (bad config, missing data, NaN loss, any exception) is written down as
``failed`` with its reason. In a multirun the job returns ``inf`` so the sweep goes on; in a
single run the reason is printed as one line and the process exits non-zero.
"""

import logging
import math
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from aelab.errors import ConfigError, NonFiniteLossError
from aelab.runs.atomic import write_json

log = logging.getLogger("aelab")

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1


def user_error(error: BaseException) -> BaseException | None:
    """The `ConfigError` or `NonFiniteLossError` behind an exception (Hydra wraps them)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, ConfigError | NonFiniteLossError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _job_info(cfg: DictConfig) -> dict[str, Any]:
    hydra_cfg = HydraConfig.get()
    choices = hydra_cfg.runtime.choices
    return {
        "task": hydra_cfg.job.name,
        "model": choices.get("model"),
        "regularizer": choices.get("regularizer"),
        "ordered": choices.get("ordered"),
        "data": choices.get("data"),
        "compression": choices.get("compression"),
        "accelerator": choices.get("accelerator"),
        "experiment": choices.get("experiment"),
        "overrides": list(hydra_cfg.overrides.task),
        "seed": cfg.get("seed"),
    }


def run_task(
    cfg: DictConfig,
    task: Callable[[DictConfig], dict[str, Any]],
    on_success: Callable[[dict[str, Any], Path], None] | None = None,
) -> float:
    hydra_cfg = HydraConfig.get()
    output_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    objective = cfg.get("objective", "val/mse")
    result: dict[str, Any] = {"status": "running", **_job_info(cfg)}
    started = time.time()
    try:
        result.update(task(cfg))
        result["status"] = "ok"
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # noqa: BLE001 - every failure is recorded, then reported
        cause = user_error(error)
        result["status"] = "failed"
        result["reason"] = str(cause or f"{type(error).__name__}: {error}")
        result["error_type"] = type(cause or error).__name__
        result["wall_seconds"] = time.time() - started
        result["config"] = OmegaConf.to_container(cfg, resolve=False)
        write_json(output_dir / "result.json", result)
        if cause is None:
            log.error("job failed:\n%s", traceback.format_exc())
        if multirun:
            log.error("job %s failed: %s", output_dir, result["reason"])
            return math.inf
        if cause is None:
            raise
        print(f"aelab: error: {result['reason']}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT if isinstance(cause, ConfigError) else EXIT_FAILED)
    result["wall_seconds"] = time.time() - started
    result["output_dir"] = str(output_dir)
    result["config"] = OmegaConf.to_container(cfg, resolve=True)
    write_json(output_dir / "result.json", result)
    if on_success is not None:
        on_success(result, output_dir)
    return objective_value(result, objective)


def objective_value(result: dict[str, Any], objective: str) -> float:
    """What a sweeper gets: `objective` of the tested (best) checkpoint, else of the flat
    metrics (e.g. ``train/*``, last epoch); ``inf`` when absent or not finite."""
    best = (result.get("best") or {}).get("metrics") or {}
    value = best.get(objective, result.get("metrics", {}).get(objective, math.inf))
    return value if math.isfinite(value) else math.inf
