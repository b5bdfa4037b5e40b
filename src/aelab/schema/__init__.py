"""The declared config schema of aelab-train: types, ranges and choices of every key.

`validate_train_config(cfg)` checks a composed config before anything is built, so a wrong
type, an out-of-range value, an unknown choice or key, or a size that cannot fit in memory ends
in one line, ``<key> must be ..., got ...; e.g. <key>=<good value>`` (a `ConfigError`, which
the task runner prints as ``aelab: error: ...`` with exit code 2). `trainer_error` turns what
Lightning rejects when the Trainer is built into the same line.

Why a validation module and not Hydra structured configs in the ConfigStore: structured configs
would change the composed configs (their defaults and types become part of them, and composed
configs are hashed against the documentation), and their errors are OmegaConf's multi-line
messages rather than one line naming the key and the fix.

Each ``_target_`` class declares its keys where it is defined, as a class attribute
``SCHEMA = Target(...)`` (e.g. `aelab.models.mlp.MLPAutoencoder.SCHEMA`); a subclass declares
only the keys it adds, and a class that declares nothing is checked by its constructor's type
annotations.

Layout: `types` (value types), `keys` (`Key`, `Target`), `targets` (a class's effective
schema), `compression` (the keys of ``compression``, which has no class), `signatures` (which
keys a class takes), `annotations` (types from annotations), `trainer` (lightning.Trainer's
options), `memory` (sizes), `message` (the one line), `validate` (the order of the checks).
"""

from aelab.schema.trainer import trainer_error
from aelab.schema.validate import validate_train_config

__all__ = ["trainer_error", "validate_train_config"]
