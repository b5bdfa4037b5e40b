"""Compression ratio eta = m / n: from a ratio (or an explicit m) to the latent size m."""

import math
import os

from aelab.errors import ConfigError

BYTES_PER_WEIGHT = 16  # float32 weight + gradient + two Adam moments


def available_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def latent_size(ratio: object, input_dim: int, latent_dim: object = None) -> int:
    """m = max(1, round(eta * n)), or `latent_dim` when given; checked to be sane and to fit."""
    if latent_dim is not None:
        if not isinstance(latent_dim, int) or isinstance(latent_dim, bool) or latent_dim <= 0:
            raise ConfigError(
                f"compression.latent_dim must be a positive integer or null, got {latent_dim!r}"
            )
        m = latent_dim
    else:
        if (
            isinstance(ratio, bool)
            or not isinstance(ratio, int | float)
            or not math.isfinite(ratio)
        ):
            raise ConfigError(
                f"compression.ratio must be a finite number, got {ratio!r}; "
                "e.g. compression.ratio=0.05"
            )
        if ratio <= 0:
            raise ConfigError(
                f"compression.ratio must be > 0 (eta = latent dim / input dim), got {ratio}; "
                "e.g. compression.ratio=0.05, or compression.ratio=2 for an overcomplete latent"
            )
        m = max(1, round(ratio * input_dim))
    needed = BYTES_PER_WEIGHT * 2 * m * input_dim  # the smallest model: one n x m layer each way
    if needed > available_memory() // 2:
        raise ConfigError(
            f"a latent of {m} units for {input_dim} inputs needs at least {needed / 2**30:.1f} GiB "
            f"to train, more than half of this machine's {available_memory() / 2**30:.1f} GiB; "
            "lower compression.ratio"
        )
    return m
