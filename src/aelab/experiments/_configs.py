"""The configs behind an experiment: its jobs expanded into single runs, composed and hashed.

An experiment's `Job`s are Hydra override lists where comma lists sweep, exactly as on the
command line; an `experiment=` config may add its own grid (`hydra.sweeper.params`). `expand`
turns one `Job` into its single runs in the order Hydra numbers them. `config_hash` composes every
run with Hydra's compose API (nothing is run), drops the keys that cannot change a result (paths,
logging, threads, the checkpoint to resume, the settings of evaluation tasks a job does not run,
an evaluation's data keys left null, which keep the checkpoint's value, and its prefix left
null: the whole code) and hashes what is left:
a changed default changes it.
"""

import copy
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import OverrideType
from omegaconf import OmegaConf

from aelab.config import CONFIG_DIR

CONFIG_NAMES = {"train": "train", "eval": "eval"}

# Keys (dotted) that cannot change a result: where things are written, how progress is shown,
# how many threads compute it, where the data files and caches are, the checkpoint a run resumes
# from.
IGNORED_KEYS = (
    "hydra",
    "paths",
    "logger",
    "objective",
    "torch_threads",
    "callbacks.progress_bar",
    "callbacks.startup_timer",
    "callbacks.model_checkpoint.dirpath",
    "trainer.default_root_dir",
    "trainer.enable_progress_bar",
    "data.data_dir",
    "data.cache_dir",
    "data.download",
)
# The checkpoint: a training run resumes from it; an evaluation is *of* it, so it tells evaluation
# runs apart when resuming a sweep, but is a machine's path and stays out of the hash (the
# training runs that made it are hashed themselves).
CHECKPOINT_KEY = "ckpt_path"


def _parser() -> OverridesParser:
    return OverridesParser.create()


def _fixed(overrides: Sequence[str]) -> list[str]:
    """The overrides that do not sweep."""
    parsed = _parser().parse_overrides(list(overrides))
    return [text for text, o in zip(overrides, parsed, strict=True) if not o.is_sweep_override()]


def _sweeper_params(app: str, overrides: Sequence[str]) -> list[str]:
    """The grid an `experiment=` config declares (`hydra.sweeper.params`), as overrides."""
    cfg = compose(CONFIG_NAMES[app], overrides=_fixed(overrides), return_hydra_config=True)
    params = OmegaConf.select(cfg, "hydra.sweeper.params") or {}
    return [f"{key}={value}" for key, value in params.items()]


def _expand(app: str, overrides: Sequence[str]) -> list[list[str]]:
    """Inside an initialised Hydra: Hydra's own BasicSweeper split, so the order is its job order."""
    arguments = _sweeper_params(app, overrides) + list(overrides)
    return BasicSweeper.split_arguments(_parser().parse_overrides(arguments), None)[0]


def expand(app: str, overrides: Sequence[str]) -> list[list[str]]:
    """The single runs of one sweep, each a list of overrides, in Hydra's job order."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return _expand(app, overrides)


def identity(app: str, overrides: Iterable[str], hashing: bool = False) -> str:
    """A canonical key for one run's overrides (ignoring those that cannot change a result).

    An evaluation's checkpoint is part of it, unless `hashing` (then only the configs count).
    """
    ignored = IGNORED_KEYS + ((CHECKPOINT_KEY,) if app == "train" or hashing else ())
    items = {}
    for override in _parser().parse_overrides(list(overrides)):
        key = override.key_or_group
        if any(key == k or key.startswith(k + ".") or key.startswith(k + "/") for k in ignored):
            continue
        items[key] = None if override.is_delete() else override.value()
    return json.dumps(items, sort_keys=True, default=str)


def _drop(container: dict[str, Any], dotted: str) -> None:
    *parents, last = dotted.split(".")
    node: Any = container
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(last, None)


def composed(app: str, overrides: Sequence[str]) -> dict[str, Any]:
    """One run's config as the app would see it, less the keys that cannot change a result.

    Call inside an initialised Hydra (`expand` and `config_hash` do).
    """
    return _resolved(_unresolved(app, overrides))


def _resolved(container: dict[str, Any]) -> dict[str, Any]:
    return OmegaConf.to_container(OmegaConf.create(container), resolve=True)


def _unresolved(app: str, overrides: Sequence[str]) -> dict[str, Any]:
    cfg = compose(CONFIG_NAMES[app], overrides=list(overrides))
    container = OmegaConf.to_container(cfg, resolve=False)
    for key in (
        *IGNORED_KEYS,
        CHECKPOINT_KEY,
        *(_unused_task_settings(container) if app == "eval" else ()),
        *(_kept_data_keys(container) if app == "eval" else ()),
        *(["prefix"] if app == "eval" and container.get("prefix") is None else ()),
    ):
        _drop(container, key)
    return container


def _kept_data_keys(container: dict[str, Any]) -> list[str]:
    """An evaluation's ``data.<key>: null`` keeps the checkpoint's value: no override at all."""
    data = container.get("data") or {}
    return [f"data.{key}" for key, value in data.items() if value is None]


def _unused_task_settings(container: dict[str, Any]) -> list[str]:
    """The eval config blocks of the tasks an evaluation does not run (``task=all``: those run
    on request only)."""
    from aelab import eval as tasks

    requested = container.get("task")
    if requested in (None, "all", ["all"]):  # every task but those run on request only
        run = {name for name, task in tasks.TASKS.items() if not getattr(task, "ON_REQUEST", 0)}
    else:
        run = {requested} if isinstance(requested, str) else set(requested)
    used = {block for name in run if name in tasks.TASKS for block in tasks.settings(name)}
    every = {block for name in tasks.TASKS for block in tasks.settings(name)}
    return sorted(every - used)


def _split_seed(overrides: Sequence[str]) -> tuple[list[str], int | None]:
    """The overrides less a plain `seed=<int>`, and that seed (None if there is none)."""
    rest, seed = [], None
    for text, override in zip(overrides, _parser().parse_overrides(list(overrides)), strict=True):
        value = override.value() if override.key_or_group == "seed" else None
        if override.type == OverrideType.CHANGE and override.package is None and type(value) is int:
            seed = value
        else:
            rest.append(text)
    return rest, seed


def job_configs(jobs: Iterable[tuple[str, Sequence[str]]]) -> list[dict[str, Any]]:
    """Every single run of the (app, overrides) sweeps, composed, in order.

    Runs that differ only in `seed` are composed once and given their seed before the
    interpolations are resolved: the same configs as composing each, a third of the time for
    three seeds.
    """
    cache: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
    configs = []
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        for app, overrides in jobs:
            for run in _expand(app, overrides):
                rest, seed = _split_seed(run)
                key = (app, tuple(rest))
                if key not in cache:
                    cache[key] = _unresolved(app, rest)
                container = copy.deepcopy(cache[key])
                if seed is not None:
                    container["seed"] = seed
                configs.append({"app": app, "config": _resolved(container)})
    return configs


def config_hash(jobs: Iterable[tuple[str, Sequence[str]]]) -> str:
    """sha256 (12 hex digits) of the composed configs of every run of the sweeps."""
    configs = job_configs(jobs)
    text = json.dumps(configs, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]
