"""The keys at the top of aelab-train's config (no group, no class): the seed and the run's
own settings."""

from aelab.schema.keys import Key, Target
from aelab.schema.types import Flag, Integer, Text

RUN_KEYS = Target(
    keys=(
        Key("seed", Integer(ge=0), 42, note="(model initialisation and training order)"),
        Key("objective", Text(), "val/mse"),
        Key("torch_threads", Integer(ge=1), 2, nullable=True),
        Key("compile", Flag(), False),
    )
)


def check_run_keys(values: dict) -> None:
    """Each declared top-level key present in `values` against its type (one line if not)."""
    for name, key in RUN_KEYS.by_name.items():
        if name in values:
            key.check_top_level(values[name])
