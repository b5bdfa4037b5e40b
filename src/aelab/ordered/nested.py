"""``ordered=nested``: nested dropout (Rippel, Gelbart & Adams, ICML 2014).

Each training sample keeps its first b latents and zeroes the rest, b drawn afresh per sample
and step, so latent j is trained only together with latents 1..j-1: the first latents must
carry the most. For a linear autoencoder the optimum is PCA with its axes in order. One
decoder call per step, as without ordering.

``distribution`` draws b:

- ``uniform``: every b in 1..m alike (each prefix size weighs the same in the expected loss);
- ``geometric``: P(b) = p (1 - p)^(b - 1), the tail folded onto b = m (the paper's choice;
  latent j is trained with probability (1 - p)^(j - 1), so large m needs a small p);
- ``prefixes``: b uniform over the reported prefix sizes (``ordered.prefix_sizes``): the
  Matryoshka loss of those sizes, one prefix per sample instead of all of them.
"""

import math

import torch
from torch import Tensor

from aelab.ordered.base import (
    PREFIXES,
    Ordering,
    Reconstruct,
    prefixes_within_latent,
    some_prefixes,
)
from aelab.schema.keys import Key, Target
from aelab.schema.types import Choice, Number

DISTRIBUTIONS = ("uniform", "geometric", "prefixes")


class NestedDropout(Ordering):
    name = "nested"
    SCHEMA = Target(
        keys=(
            Key("distribution", Choice(DISTRIBUTIONS), "uniform", note="(of the kept latents)"),
            Key("p", Number(gt=0, le=1), 0.1, note="(geometric: P(b = 1))"),
            *PREFIXES,
        ),
        rules=(prefixes_within_latent, some_prefixes),
    )

    def __init__(
        self,
        distribution: str = "uniform",
        p: float = 0.1,
        prefix_sizes: list[int] | None = None,
        prefix_ratios: list[float] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5),
    ) -> None:
        super().__init__(prefix_sizes, prefix_ratios)
        self.distribution = distribution
        self.p = float(p)

    @property
    def trains_prefixes(self) -> bool:
        return True

    def draw(self, count: int, device: torch.device) -> Tensor:
        """(count,) kept latent counts b in 1..m, from torch's global generator."""
        m = self.latent_dim
        if self.distribution == "uniform":
            return torch.randint(1, m + 1, (count,), device=device)
        if self.distribution == "prefixes":
            sizes = torch.tensor(self.sizes, device=device)
            return sizes[torch.randint(len(sizes), (count,), device=device)]
        if self.p >= 1:
            return torch.ones(count, dtype=torch.long, device=device)
        u = torch.rand(count, device=device).clamp_min(1e-12)
        b = 1 + torch.floor(torch.log(u) / math.log1p(-self.p))
        return b.clamp(max=m).long()

    def reconstruction(
        self, reconstruct: Reconstruct, z: Tensor, x: Tensor
    ) -> tuple[Tensor, Tensor]:
        kept = self.draw(len(z), z.device)
        mask = torch.arange(z.shape[1], device=z.device)[None, :] < kept[:, None]
        return reconstruct(z * mask.to(z.dtype), x)

    def __repr__(self) -> str:
        return f"NestedDropout({self.distribution}, p={self.p}, sizes={self.sizes})"
