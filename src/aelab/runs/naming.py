"""A run's name in TensorBoard: what varies in its sweep, or its model, data and η.

A sweep's jobs are named by the overrides that sweep (``model=conv,eta=0.1``): the sweep's
``multirun.yaml`` lists the command line as given, so each job reads which keys vary and takes its
own values from its overrides. A single run is named by its model, data and η. Names are stable
(the same config gives the same name, on a resume too) and safe as a folder name.
"""

import re
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

MAX_LENGTH = 120  # longer names keep their start and end a hash of the whole
UNSAFE = re.compile(r"[^\w.,=+@\[\]-]+")  # path separators, spaces, shell and Windows specials
COMPRESSION_KEYS = ("compression", "compression.ratio", "compression.latent_dim")


def sweep_overrides(sweep_dir: Path) -> tuple[list[str], dict[str, Any]]:
    """The command line's task overrides and the config's grid (``hydra.sweeper.params``)."""
    path = Path(sweep_dir) / "multirun.yaml"
    if not path.is_file():
        return [], {}
    saved = OmegaConf.load(path)
    task = list(OmegaConf.select(saved, "hydra.overrides.task", default=[]) or [])
    grid = OmegaConf.select(saved, "hydra.sweeper.params", default={}) or {}
    return [str(o) for o in task], dict(grid)


def varied_keys(task: list[str], grid: dict[str, Any]) -> list[str]:
    """The keys a sweep varies, in command-line order: comma lists, ranges, choices, the grid's."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(task)
    keys = [o.key_or_group for o in parsed if o.is_sweep_override()]
    return keys + [str(key) for key in grid if str(key) not in keys]


def label(key: str, value: Any, eta: float, m: int) -> str:
    """One ``key=value`` part: η and m for the compression keys, the last part of a dotted key."""
    if key in ("compression", "compression.ratio"):
        return f"eta={eta:.4g}"
    if key == "compression.latent_dim":
        return f"m={m}"
    return f"{key.split('.')[-1].split('/')[-1]}={value}"


def safe(name: str) -> str:
    """`name` as a folder name: unsafe characters become ``_``, at most `MAX_LENGTH` long."""
    import hashlib

    name = UNSAFE.sub("_", name).strip("._") or "run"
    if len(name) <= MAX_LENGTH:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_LENGTH - 9]}~{digest}"


def job_values(task: list[str]) -> dict[str, str]:
    """A job's own overrides, ``key -> value`` as written."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(task)
    return {o.key_or_group: o.get_value_element_as_str() for o in parsed if not o.is_delete()}


def run_name(choices: dict[str, Any], eta: float, m: int, varied: dict[str, str] | None) -> str:
    """The name: ``varied`` (key -> this job's value) when in a sweep, else model, data, η."""
    if varied:
        parts = [label(key, value, eta, m) for key, value in varied.items()]
        parts = list(dict.fromkeys(parts))  # compression and compression.ratio: one eta
    else:
        parts = [f"model={choices.get('model')}", f"data={choices.get('data')}", f"eta={eta:.4g}"]
    return safe(",".join(parts))


def current_varied() -> dict[str, str] | None:
    """Inside a running Hydra app: the keys its sweep varies and this job's values (None: no
    sweep)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra = HydraConfig.get()
    if hydra.mode != RunMode.MULTIRUN:
        return None
    task, grid = sweep_overrides(Path(hydra.sweep.dir))
    own = job_values(list(hydra.overrides.task))
    return {key: own.get(key, "") for key in varied_keys(task, grid)}
