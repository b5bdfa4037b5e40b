"""Compression ratio eta = m / n: from a ratio (or an explicit m) to the latent size m."""

import os

from aelab.errors import ConfigError
from aelab.schema.compression import COMPRESSION

BYTES_PER_WEIGHT = 16  # float32 weight + gradient + two Adam moments


def available_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def latent_size(ratio: object, input_dim: int, latent_dim: object = None) -> int:
    """m = max(1, round(eta * n)), or `latent_dim` when given; checked to be sane and to fit."""
    if latent_dim is not None:
        COMPRESSION.by_name["latent_dim"].check("compression", latent_dim)
        m = latent_dim
    else:
        COMPRESSION.by_name["ratio"].check("compression", ratio)  # the schema's messages
        m = max(1, round(ratio * input_dim))
    needed = BYTES_PER_WEIGHT * 2 * m * input_dim  # the smallest model: one n x m layer each way
    if needed > available_memory() // 2:
        raise ConfigError(
            f"a latent of {m} units for {input_dim} inputs needs at least {needed / 2**30:.1f} GiB "
            f"to train, more than half of this machine's {available_memory() / 2**30:.1f} GiB; "
            "lower compression.ratio"
        )
    return m
