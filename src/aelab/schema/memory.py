"""Whether the data splits and the model fit in memory, known before either is allocated.

Data: samples per split x bytes per sample (float32 inputs plus labels), from the declared
sizes. Model: the parameter count of the model built on PyTorch's ``meta`` device (shapes, no
storage), times `BYTES_PER_WEIGHT` (weight, gradient and two Adam moments). Both are compared
with the memory available now: psutil's figure when installed, else ``MemAvailable`` of
/proc/meminfo, else the machine's physical memory.
"""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aelab.compression import BYTES_PER_WEIGHT
from aelab.schema.keys import Target
from aelab.schema.message import violation


def available_memory() -> int:
    """Bytes of memory available to a new allocation now."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def gib(size: float) -> str:
    return f"{size / 2**30:.1f} GiB"


def data_bytes(target: Target, values: dict[str, Any], input_dim: int) -> int:
    """Bytes of all splits of a declared data target; 0 when it declares no sizes."""
    if target.split_sizes is None or target.sample_bytes is None:
        return 0
    return sum(target.split_sizes(values).values()) * target.sample_bytes(input_dim)


def check_data_memory(
    target: Target, values: dict[str, Any], input_dim: int, available: int
) -> int:
    """The splits' bytes; a `ConfigError` naming the largest split when they do not fit."""
    needed = data_bytes(target, values, input_dim)
    if needed <= available:
        return needed
    sizes = target.split_sizes(values)
    largest = max(sizes, key=sizes.get)
    raise violation(
        f"data.{largest}",
        f"small enough for the splits to fit in memory ({sum(sizes.values()):,} samples of "
        f"{input_dim} inputs need about {gib(needed)}; {gib(available)} available)",
        repr(values[largest]),
        target.by_name[largest].example,
    )


def check_model_memory(
    build: Callable[[dict[str, Any]], Any],
    target: Target,
    values: dict[str, Any],
    compression: dict[str, Any],
    available: int,
) -> None:
    """A `ConfigError` when the model built by ``build(overrides)`` does not fit in `available`.

    The key named is the size key whose example value shrinks the model most; if none does,
    the latent size (compression.latent_dim or compression.ratio) is.
    """
    needed = parameter_count(build({})) * BYTES_PER_WEIGHT
    if needed <= available:
        return
    must = (
        f"small enough for the model to fit in memory ({needed // BYTES_PER_WEIGHT:,} parameters "
        f"need {gib(needed)} to train: weights, gradients and two Adam moments; "
        f"{gib(available)} available)"
    )
    smaller = {k: parameter_count(build({k: target.by_name[k].example})) for k in target.size_keys}
    best = min(smaller, key=smaller.get, default=None)
    if best is None or smaller[best] * BYTES_PER_WEIGHT >= needed:
        key = "latent_dim" if compression.get("latent_dim") is not None else "ratio"
        example = {"latent_dim": 5, "ratio": 0.05}[key]
        raise violation(f"compression.{key}", must, repr(compression.get(key)), example)
    raise violation(f"model.{best}", must, repr(values[best]), target.by_name[best].example)


def parameter_count(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())
