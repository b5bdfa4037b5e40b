"""`validate_train_config`: aelab-train's composed config against the declared schema.

Checked in order, the first violation raising `ConfigError` with one line: the keys of each
group (unknown ones, injected ones, types, ranges, choices), the trainer's options, the latent
size (`aelab.compression.latent_size`, with its own messages), the rules between keys, and
whether the data splits and the model fit in memory. Nothing is generated or allocated: the
DataModule is only constructed, the model is built on the ``meta`` device.

A group's keys, rules and sizes are those of its ``_target_`` class (`class_schema`: the
``SCHEMA`` it and its bases declare, type annotations for the rest).
"""

from typing import Any

from omegaconf import DictConfig, OmegaConf

from aelab.schema.compression import COMPRESSION
from aelab.schema.keys import Context, Target
from aelab.schema.message import unknown_key, violation
from aelab.schema.run_keys import RUN_KEYS, check_run_keys
from aelab.schema.signatures import INJECTED, config_keys, defaults, target_class
from aelab.schema.targets import class_schema

GROUPS = ("data", "model", "regularizer", "ordered")  # groups whose config is a `_target_` class
UNRESOLVED = object()  # an interpolation that does not resolve here (e.g. ${hydra:...} in tests)


def is_hydra_key(name: str) -> bool:
    """``_target_``, ``_convert_``, ``_recursive_``...: instructions to Hydra, not arguments."""
    return name.startswith("_") and name.endswith("_")


def plain_values(cfg: DictConfig, group: str, examples: Target | None = None) -> dict[str, Any]:
    """The group's keys with their resolved plain values (`UNRESOLVED` where they do not).

    A mandatory value left unset (``???``) raises `ConfigError`.
    """
    node = cfg.get(group)
    if node is None:
        return {}
    values = {}
    for name in node:
        if OmegaConf.is_missing(node, name):
            key = examples.by_name.get(name) if examples is not None else None
            raise violation(f"{group}.{name}", "set", "???", getattr(key, "example", "..."))
        try:
            value = node[name]
        except Exception:  # noqa: BLE001 - an interpolation only the running app resolves
            values[name] = UNRESOLVED
            continue
        values[name] = (
            OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
        )
    return values


def arguments(values: dict[str, Any]) -> dict[str, Any]:
    """The values a constructor receives: without Hydra's keys and unresolved interpolations."""
    return {k: v for k, v in values.items() if not is_hydra_key(k) and v is not UNRESOLVED}


def check_keys(group: str, values: dict[str, Any], target: Target, keys: dict, owner: str) -> None:
    """Unknown and injected keys, then each known key's type, range or choices."""
    injected = INJECTED.get(group, {})
    for name, value in values.items():
        if is_hydra_key(name):
            continue
        if name in injected:
            source, example_key, example = injected[name]
            raise violation(
                f"{group}.{name}",
                f"left out (aelab-train passes it, from {source})",
                repr(value),
                example,
                example_key=example_key,
            )
        if name not in keys:
            known = {k: target.by_name.get(k) for k in keys}
            raise unknown_key(group, name, value, known, owner)
        if value is not UNRESOLVED and name in target.by_name:
            target.by_name[name].check(group, value)


def validate_train_config(cfg: DictConfig) -> None:
    """Raise `ConfigError` (one line) for the first thing in `cfg` that aelab-train cannot run."""
    import torch
    from hydra.utils import instantiate

    from aelab.compression import latent_size
    from aelab.schema.memory import available_memory, check_data_memory, check_model_memory
    from aelab.schema.trainer import check_trainer

    check_run_keys({k: cfg.get(k) for k in RUN_KEYS.by_name if k in cfg})
    compression = plain_values(cfg, "compression", COMPRESSION)
    check_keys("compression", compression, COMPRESSION, COMPRESSION.by_name, "compression")
    targets: dict[str, Target] = {}
    filled: dict[str, dict[str, Any]] = {"compression": compression}
    for group in GROUPS:
        values = plain_values(cfg, group)
        cls = target_class(group, values.get("_target_"))
        target = class_schema(group, cls)
        keys = config_keys(group, cls)
        check_keys(group, values, target, keys, cls.__name__)
        targets[group] = target
        filled[group] = {**defaults(keys), **arguments(values)}
    check_trainer(arguments(plain_values(cfg, "trainer")))

    # as aelab.runs.build builds the run; the DataModule reads or generates nothing yet
    datamodule = instantiate(cfg.data, _convert_="all")
    n = datamodule.input_dim
    m = latent_size(compression.get("ratio"), n, compression.get("latent_dim"))
    context = Context(filled, input_dim=n, latent_dim=m)
    for group in GROUPS:
        for rule in targets[group].rules:
            rule(context)

    available = available_memory()
    available -= check_data_memory(targets["data"], filled["data"], n, available)
    regularizer = instantiate(cfg.regularizer, _convert_="all")
    ordering = instantiate(cfg.ordered, _convert_="all")

    def build(overrides: dict[str, Any]) -> Any:
        with torch.device("meta"):
            return instantiate(
                cfg.model,
                input_shape=list(datamodule.input_shape),
                latent_dim=m,
                regularizer=regularizer,
                ordering=ordering,
                _convert_="all",
                **overrides,
            )

    check_model_memory(build, targets["model"], filled["model"], compression, available)
