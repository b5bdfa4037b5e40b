"""The facts a provenance line records: the commit, and the machine the jobs ran on."""

import platform
import subprocess
from pathlib import Path


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def commit(root: Path) -> str:
    """Short hash of HEAD, with "+dirty" when the tree has uncommitted changes."""
    head = _git(root, "rev-parse", "--short", "HEAD")
    if head is None:
        return "unknown"
    dirty = _git(root, "status", "--porcelain")
    return head + ("+dirty" if dirty else "")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def gpu_name() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def machine(threads: set[int], cores: int | None = None) -> str:
    """E.g. "AMD EPYC 7B13 (2 cores), 1 torch thread per job" or the GPU's name."""
    import os

    gpu = gpu_name()
    where = gpu if gpu else f"{cpu_model()} ({cores or os.cpu_count()} cores)"
    if not threads:
        return where
    counts = "/".join(str(t) for t in sorted(threads))
    return f"{where}, {counts} torch thread{'s' if max(threads) > 1 else ''} per job"
