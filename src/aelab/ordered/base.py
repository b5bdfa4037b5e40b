"""The ordering interface, the prefix maths, and ``ordered=none``.

A prefix of k latents is the code with every latent from the k-th on set to zero: the decoder
sees the same m inputs, the tail at zero. An ordering is a small object handed to the model by
Hydra, like a regularizer; the model calls it once per training step:

- ``bind(latent_dim, input_dim)``: the model's sizes, known once the data are; resolves the
  prefix sizes at which metrics are reported (``sizes``);
- ``reconstruction(reconstruct, z, x)``: the per-sample training loss and squared error, given
  the model's ``reconstruct(z, x) -> (nll, sse)``; orderings decode truncated codes here;
- ``start_from_data(x_train)``: what it needs of the training split (the matryoshka's weights).

The base class is ``ordered=none``: training decodes the whole code. It reports prefix metrics
only when ``ordered.prefix_sizes`` is given (an unordered code's prefixes show what ordering
buys).
"""

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from aelab.compression import latent_size
from aelab.schema.keys import Context, Key, Target
from aelab.schema.message import violation
from aelab.schema.types import Number, Numbers, Sizes

Reconstruct = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]  # (z, x) -> (nll, sse), (B,)


# --- prefix maths ---------------------------------------------------------------------------
def prefix_mask(sizes: Sequence[int], m: int, device: torch.device | None = None) -> Tensor:
    """(K, m) float mask: row i keeps the first ``sizes[i]`` latents."""
    k = torch.as_tensor(list(sizes), device=device)
    return (torch.arange(m, device=device)[None, :] < k[:, None]).float()


def truncate(z: Tensor, k: int) -> Tensor:
    """The code `z` (B, m) with latents k.. set to zero."""
    kept = z.clone()
    kept[:, k:] = 0
    return kept


def pad_code(z: Tensor, m: int) -> Tensor:
    """A prefix code (B, k) as the full code (B, m) the decoder takes: zeros after the k-th."""
    if z.shape[-1] > m:
        raise ValueError(f"a code of {z.shape[-1]} latents is longer than the model's m={m}")
    return torch.nn.functional.pad(z, (0, m - z.shape[-1]))


def prefix_codes(z: Tensor, sizes: Sequence[int]) -> Tensor:
    """The codes of every prefix, stacked: (K * B, m), block i truncated at ``sizes[i]``."""
    mask = prefix_mask(sizes, z.shape[1], z.device).to(z.dtype)
    return (z[None] * mask[:, None, :]).flatten(0, 1)


def repeat_batch(x: Tensor, times: int) -> Tensor:
    """`x` (B, ...) repeated as (times * B, ...), block by block (as `prefix_codes` stacks)."""
    return x.expand(times, *x.shape).flatten(0, 1)


def prefix_sse(reconstruct: Reconstruct, z: Tensor, x: Tensor, sizes: Sequence[int]) -> Tensor:
    """(K, B) squared error of each prefix, the K truncated codes decoded as one batch."""
    _, sse = reconstruct(prefix_codes(z, sizes), repeat_batch(x, len(sizes)))
    return sse.view(len(sizes), len(z))


def resolve_sizes(
    prefix_sizes: Sequence[int] | None, prefix_ratios: Sequence[float], m: int, n: int
) -> list[int]:
    """The prefix sizes reported: `prefix_sizes` when given, else k = max(1, round(eta * n))
    for each eta of `prefix_ratios` with k < m, and m itself (none without ratios)."""
    if prefix_sizes is not None:
        return [int(k) for k in prefix_sizes]
    if not prefix_ratios:
        return []
    below = {latent_size(eta, n) for eta in prefix_ratios}
    return sorted({k for k in below if k < m} | {m})


# --- the config schema ------------------------------------------------------------------------
def prefixes_within_latent(ctx: Context) -> None:
    """A schema rule: prefix sizes increase and stay within the latent dimension m."""
    sizes, m = ctx["ordered.prefix_sizes"], ctx.latent_dim
    if sizes is None:
        return
    increasing = all(a < b for a, b in zip(sizes, sizes[1:], strict=False))
    if not increasing or (sizes and sizes[-1] > m):
        good = [k for k in (1, 2, 5, 10, 20, 50) if k < m] + [m]
        raise violation(
            "ordered.prefix_sizes",
            f"increasing latent counts between 1 and the latent dimension m={m}",
            sizes,
            good,
        )


def some_prefixes(ctx: Context) -> None:
    """A schema rule of the orderings that train prefixes: at least one prefix is reported (the
    checkpoint criterion is computed over them)."""
    if ctx["ordered.prefix_sizes"] is None and not ctx["ordered.prefix_ratios"]:
        raise violation(
            "ordered.prefix_ratios",
            "a non-empty list of compression ratios (or give ordered.prefix_sizes)",
            "[]",
            [0.01, 0.02, 0.05, 0.1, 0.2, 0.5],
        )


PREFIXES = (
    Key(
        "prefix_sizes",
        Sizes(),
        [1, 2, 5],
        nullable=True,
        note="(latent counts k reported; null: from ordered.prefix_ratios)",
    ),
    Key(
        "prefix_ratios",
        Numbers(Number(gt=0), "a list of positive numbers"),
        [0.01, 0.02, 0.05, 0.1, 0.2, 0.5],
        note="(compression ratios whose k = round(eta * n) < m are reported, with m)",
    ),
)


class Ordering:
    """No ordering: the whole code is decoded in training. Prefix metrics at `prefix_sizes`."""

    name = "none"
    SCHEMA = Target(keys=PREFIXES, rules=(prefixes_within_latent,))

    def __init__(
        self, prefix_sizes: list[int] | None = None, prefix_ratios: list[float] = ()
    ) -> None:
        self.prefix_sizes = None if prefix_sizes is None else [int(k) for k in prefix_sizes]
        self.prefix_ratios = [float(eta) for eta in prefix_ratios]
        self.sizes: list[int] = []  # resolved by `bind`
        self.latent_dim = 0

    @property
    def trains_prefixes(self) -> bool:
        """Whether training asks prefixes to be codes (the model's checkpoint criterion)."""
        return False

    def bind(self, latent_dim: int, input_dim: int) -> None:
        self.latent_dim = latent_dim
        self.sizes = resolve_sizes(self.prefix_sizes, self.prefix_ratios, latent_dim, input_dim)

    def start_from_data(self, x_train: Tensor) -> None:
        """Before training: what the ordering needs of the training split (nothing here)."""

    def reconstruction(
        self, reconstruct: Reconstruct, z: Tensor, x: Tensor
    ) -> tuple[Tensor, Tensor]:
        return reconstruct(z, x)

    def describe(self) -> dict[str, Any]:
        """What result.json says of the ordering."""
        return {"name": self.name, "prefix_sizes": list(self.sizes)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sizes={self.sizes})"
