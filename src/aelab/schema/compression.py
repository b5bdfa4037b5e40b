"""The keys of ``compression``, which has no ``_target_`` class: `aelab.compression.latent_size`
reads them."""

from aelab.schema.keys import Key, Target
from aelab.schema.types import Integer, Number

COMPRESSION = Target(
    keys=(
        Key(
            "ratio",
            Number(
                gt=0,
                phrase="> 0 (eta = latent dim / input dim)",
                type_phrase="a finite number",
            ),
            0.05,
        ),
        Key("latent_dim", Integer(ge=1), 5, nullable=True, note="(null: from the ratio)"),
    )
)
