"""Denoising: the encoder sees a corrupted training input, the loss is against the clean one.

Three kinds of corruption (one per run, ``regularizer.kind``):

- ``gaussian``: x + N(0, sigma^2), independently per pixel;
- ``masking``: a fraction ``p`` of the pixels set to 0 (each pixel independently);
- ``salt_and_pepper``: a fraction ``p`` of the pixels set to ``low`` or ``high`` (half each);
  the defaults 0 / 1 suit MNIST, give terrain its own range (e.g. regularizer.low=-3).

Only training inputs are corrupted: the base module calls ``corrupt`` in training steps alone,
so validation and test see clean inputs. Randomness comes from torch's global generator (seeded
by Lightning), or from ``generator`` for a reproducible probe (the denoising callback).
"""

import torch
from torch import Tensor

from aelab.regularizers.base import Regularizer
from aelab.schema.keys import Context, Key, Target
from aelab.schema.message import violation
from aelab.schema.types import Choice, Number

KINDS = ("gaussian", "masking", "salt_and_pepper")


def _low_below_high(ctx: Context) -> None:
    """A schema rule: salt and pepper's range is (low, high)."""
    low, high = ctx["regularizer.low"], ctx["regularizer.high"]
    if high < low:
        raise violation(
            "regularizer.high", ">= regularizer.low", f"low={low!r}, high={high!r}", max(low, 1.0)
        )


class Denoising(Regularizer):
    name = "denoising"
    SCHEMA = Target(
        keys=(
            Key("kind", Choice(KINDS), "gaussian"),
            Key("sigma", Number(ge=0), 0.3, note="(the Gaussian noise std)"),
            Key("p", Number(ge=0, le=1), 0.25, note="(fraction of pixels corrupted)"),
            Key("low", Number(), 0.0),
            Key("high", Number(), 1.0),
        ),
        rules=(_low_below_high,),
    )

    def __init__(
        self,
        kind: str = "gaussian",
        sigma: float = 0.3,
        p: float = 0.25,
        low: float = 0.0,
        high: float = 1.0,
    ) -> None:
        settings = {"kind": kind, "sigma": sigma, "p": p, "low": low, "high": high}
        Denoising.SCHEMA.check_values("regularizer", settings)
        _low_below_high(Context({"regularizer": settings}))
        self.kind = kind
        self.sigma = float(sigma)
        self.p = float(p)
        self.low = float(low)
        self.high = float(high)

    def corrupt(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The noisy copy of `x` (a new tensor; `x` is left untouched)."""

        def uniform() -> Tensor:
            return torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)

        if self.kind == "gaussian":
            noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            return x + self.sigma * noise
        if self.kind == "masking":
            return x.masked_fill(uniform() < self.p, 0.0)
        hit = uniform() < self.p  # salt_and_pepper
        salt = uniform() < 0.5
        x_tilde = x.masked_fill(hit & salt, self.high)
        return x_tilde.masked_fill(hit & ~salt, self.low)

    def __repr__(self) -> str:
        if self.kind == "gaussian":
            return f"Denoising(kind=gaussian, sigma={self.sigma})"
        return f"Denoising(kind={self.kind}, p={self.p})"
