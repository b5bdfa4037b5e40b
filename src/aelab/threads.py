"""How many torch threads one job may use, so that parallel sweep jobs share the cores.

Under ``hydra/launcher=joblib`` with ``n_jobs = k`` on ``c`` cores, up to ``min(k, c)`` jobs run at
once; each gets ``c // min(k, c)`` threads, so jobs x threads <= cores (2 jobs on 2 cores: one
thread each). Any other launcher (basic, SLURM) keeps torch's own default, and an explicit
``torch_threads`` always wins.
"""

import logging
import os

log = logging.getLogger("aelab.threads")


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, else the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def parallel_jobs(n_jobs: int | None, cores: int) -> int:
    """Jobs joblib runs at once for `n_jobs` (joblib's meaning: -1 = all cores, -2 = all but one)."""
    if n_jobs is None or n_jobs == 0:
        return 1
    if n_jobs < 0:
        return max(1, cores + 1 + n_jobs)
    return n_jobs


def launcher_config() -> dict | None:
    """The `hydra.launcher` node of the running Hydra job, or None outside a Hydra job."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    return dict(HydraConfig.get().get("launcher") or {})


def job_threads(requested: int | None = None, cores: int | None = None) -> int | None:
    """Torch threads for this job, or None to keep torch's default.

    `requested` is the ``torch_threads`` config value; `cores` defaults to `available_cores()`.
    """
    cores = cores or available_cores()
    launcher = launcher_config() or {}
    is_joblib = "joblib" in str(launcher.get("_target_", "")).lower()
    jobs = parallel_jobs(launcher.get("n_jobs"), cores) if is_joblib else 1
    if requested:
        if int(requested) * min(jobs, cores) > cores:
            log.warning(
                "torch_threads=%s with %d parallel jobs oversubscribes %d cores",
                requested,
                jobs,
                cores,
            )
        return int(requested)
    if not is_joblib:
        return None
    if jobs > cores:
        log.warning(
            "hydra.launcher.n_jobs=%d runs more jobs than the %d cores; "
            "use hydra.launcher.n_jobs=%d (or -1 for one job per core)",
            jobs,
            cores,
            cores,
        )
    return max(1, cores // min(jobs, cores))
