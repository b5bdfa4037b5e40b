"""lightning.Trainer's options: which keys exist (its signature), what each takes (its type
annotations, with ranges declared here for the common ones), and `trainer_error`, which turns
what Lightning itself rejects when the Trainer is built into the same one-line message.
"""

import functools
import inspect
import re
import typing
from typing import Any

from omegaconf import OmegaConf

from aelab.errors import ConfigError
from aelab.schema.annotations import FromAnnotation
from aelab.schema.keys import Key
from aelab.schema.message import one_line, unknown_key, violation
from aelab.schema.types import AnyOf, Choice, Flag, Integer, Number

OWNER = "lightning.Trainer"

#: examples for arguments whose default (None) says nothing
EXAMPLES: dict[str, Any] = {
    "precision": "32-true",
    "devices": 1,
    "max_time": "00:12:00:00",
    "val_check_interval": 1.0,
    "enable_checkpointing": True,
    "enable_progress_bar": True,
    "enable_model_summary": False,
    "deterministic": True,
    "benchmark": False,
    "profiler": "simple",
    "default_root_dir": "outputs",
}


def _batches(name: str) -> Key:
    count_or_fraction = AnyOf(
        Integer(ge=0),
        Number(ge=0, le=1),
        phrase="a number of batches >= 0, a fraction in [0, 1]",
    )
    return Key(name, count_or_fraction, 1.0, nullable=True)


def _declared() -> dict[str, Key]:
    """Ranges and choices Lightning checks late (or not at all) for a bad value."""
    from lightning.pytorch.accelerators import AcceleratorRegistry
    from lightning.pytorch.strategies import StrategyRegistry

    accelerators = ["auto", "gpu", *sorted(AcceleratorRegistry.available_accelerators())]
    keys = [
        Key("accelerator", Choice(accelerators), "cpu"),
        Key("strategy", Choice(["auto", *StrategyRegistry.available_strategies()]), "auto"),
        Key("num_nodes", Integer(ge=1), 1),
        Key("max_epochs", Integer(ge=-1), 20, nullable=True, note="(-1: no limit)"),
        Key("min_epochs", Integer(ge=0), 1, nullable=True),
        Key("max_steps", Integer(ge=-1), 3000, note="(-1: no limit)"),
        Key("min_steps", Integer(ge=0), 100, nullable=True),
        Key("check_val_every_n_epoch", Integer(ge=1), 1, nullable=True),
        Key("log_every_n_steps", Integer(ge=0), 50, nullable=True),
        Key("num_sanity_val_steps", Integer(ge=-1), 2, nullable=True, note="(-1: all)"),
        Key("accumulate_grad_batches", Integer(ge=1), 1),
        Key("gradient_clip_val", Number(ge=0), 1.0, nullable=True),
        Key("gradient_clip_algorithm", Choice(["norm", "value"]), "norm", nullable=True),
        Key(
            "fast_dev_run",
            AnyOf(Flag(), Integer(ge=0), phrase="true, false or a number of batches >= 0"),
            True,
        ),
        Key("reload_dataloaders_every_n_epochs", Integer(ge=0), 0),
        _batches("limit_train_batches"),
        _batches("limit_val_batches"),
        _batches("limit_test_batches"),
        _batches("limit_predict_batches"),
        Key("overfit_batches", _batches("overfit_batches").type, 0.0),
    ]
    return {key.name: key for key in keys}


@functools.cache
def trainer_keys() -> dict[str, Key]:
    """Every argument of lightning.Trainer as a `Key`: declared, else from its annotation."""
    import lightning

    init = lightning.Trainer.__init__
    hints = typing.get_type_hints(init)
    declared = _declared()
    keys = {}
    for name, parameter in list(inspect.signature(init).parameters.items())[1:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if name in declared:
            keys[name] = declared[name]
            continue
        default = parameter.default if parameter.default is not parameter.empty else None
        example = EXAMPLES.get(name, default)
        keys[name] = Key(name, FromAnnotation(hints.get(name, Any)), example)
    return keys


def check_trainer(values: dict[str, Any]) -> None:
    """Raise `ConfigError` for the first unknown trainer key or value of the wrong type/range."""
    keys = trainer_keys()
    for name, value in values.items():
        if name not in keys:
            raise unknown_key("trainer", name, value, keys, OWNER, "max_epochs")
        if isinstance(value, dict) and "_target_" in value:
            continue  # an object Hydra builds (a plugin, a profiler): Lightning checks it
        keys[name].check("trainer", value)
    unbounded = (None, -1)  # the budget: trainer.max_steps, capped by trainer.max_epochs
    if values.get("max_steps", -1) in unbounded and values.get("max_epochs") == -1:
        raise violation(
            "trainer.max_steps",
            "a number of steps > 0 when trainer.max_epochs=-1 (else training never ends)",
            values.get("max_steps"),
            3000,
        )


_UNEXPECTED = re.compile(r"unexpected keyword argument '(\w+)'")
_ALIASES = {"duration": "max_time"}  # Timer(duration=...) is trainer.max_time


def _named_key(message: str) -> str | None:
    """The Trainer argument a Lightning message is about: the first one it names."""
    names = [*trainer_keys(), *_ALIASES]
    found = []
    for name in names:
        match = re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", message, re.IGNORECASE)
        if match:
            found.append((match.start(), -len(name), name))
    if not found:
        return None
    name = min(found)[2]
    return _ALIASES.get(name, name)


def _causes(error: BaseException) -> list[BaseException]:
    chain, seen = [], set()
    while error is not None and id(error) not in seen:
        chain.append(error)
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return chain


def _given(trainer_cfg: Any, name: str) -> tuple[bool, Any]:
    """Whether `trainer_cfg` gives `name` a value (that resolves here), and the plain value."""
    try:
        value = trainer_cfg[name]
    except Exception:  # noqa: BLE001 - absent, or an interpolation that does not resolve here
        return False, None
    return True, OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


def trainer_error(error: Exception, trainer_cfg: Any = None) -> ConfigError | None:
    """The one-line `ConfigError` for an exception raised while building the Trainer.

    `error` may be Hydra's InstantiationException: its cause is Lightning's
    MisconfigurationException, ValueError or TypeError. The key is the Trainer argument the
    message names; `trainer_cfg` (the ``trainer`` config) supplies the value given. Returns None
    for an exception that is not about a Trainer argument (a bug to see with its traceback).
    """
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    for cause in _causes(error):
        if isinstance(cause, ConfigError):
            return cause
        if not isinstance(cause, MisconfigurationException | ValueError | TypeError):
            continue
        message = one_line(cause).rstrip(".")
        unexpected = _UNEXPECTED.search(message)
        if unexpected:
            name = unexpected.group(1)
            value = _given(trainer_cfg, name)[1]
            return unknown_key("trainer", name, value, trainer_keys(), OWNER, "max_epochs")
        name = _named_key(message)
        if name is not None:
            given, value = _given(trainer_cfg, name)
            return violation(
                f"trainer.{name}",
                f"a value {OWNER} accepts ({message})",
                repr(value) if given else "a value it rejects",
                trainer_keys()[name].example,
            )
        if isinstance(cause, MisconfigurationException):
            return violation(
                "trainer", f"a configuration {OWNER} accepts", message, 20, "trainer.max_epochs"
            )
    return None
