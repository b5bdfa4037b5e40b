"""``ordered=matryoshka``: the loss of every declared prefix at once (Kusupati et al., 2022).

loss = sum_k w_k * loss(x, decode(z truncated at k)) over the training prefixes, sum_k w_k = 1.

- ``samples``: ``all`` decodes every prefix of every sample: the K truncated codes go through
  the decoder as one (K * B)-row batch (one larger decoder call, not K calls); ``split`` gives
  each sample of the batch one prefix, in turn (each prefix about B / K samples a step), so a
  step costs one ordinary decoder call and estimates the same loss.

- ``train_sizes``: ``prefixes`` (the reported sizes, ``ordered.prefix_sizes``) or ``all``
  (1..m: every latent ordered; a linear autoencoder then finds PCA's axes in order);
- ``weights``: ``relative`` (w_k proportional to 1 / PCA's training error at k: every prefix
  counts by how far it is from the best linear code of its size) or ``uniform`` (w_k = 1/K: the
  large errors of short prefixes dominate, and the longest prefixes drift above PCA).
"""

import torch
from torch import Tensor

from aelab.metrics.pca import fit_pca
from aelab.ordered.base import (
    PREFIXES,
    Ordering,
    Reconstruct,
    prefix_codes,
    prefixes_within_latent,
    repeat_batch,
    some_prefixes,
)
from aelab.schema.keys import Key, Target
from aelab.schema.types import Choice

TRAIN_SIZES = ("prefixes", "all")
SAMPLES = ("all", "split")
WEIGHTS = ("relative", "uniform")
FLOOR = 1e-12  # relative weights: PCA errors below this (exact codes) count as this


class Matryoshka(Ordering):
    name = "matryoshka"
    SCHEMA = Target(
        keys=(
            Key("train_sizes", Choice(TRAIN_SIZES), "prefixes", note="(the prefixes trained)"),
            Key("weights", Choice(WEIGHTS), "relative", note="(of each prefix's loss)"),
            Key("samples", Choice(SAMPLES), "all", note="(decoded at every prefix, or one)"),
            *PREFIXES,
        ),
        rules=(prefixes_within_latent, some_prefixes),
    )

    def __init__(
        self,
        train_sizes: str = "prefixes",
        weights: str = "relative",
        samples: str = "all",
        prefix_sizes: list[int] | None = None,
        prefix_ratios: list[float] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5),
    ) -> None:
        super().__init__(prefix_sizes, prefix_ratios)
        self.train_sizes = train_sizes
        self.weights = weights
        self.samples = samples
        self.trained: list[int] = []
        self.weight: Tensor | None = None  # (K,) summing to 1

    @property
    def trains_prefixes(self) -> bool:
        return True

    def bind(self, latent_dim: int, input_dim: int) -> None:
        super().bind(latent_dim, input_dim)
        self.trained = list(range(1, latent_dim + 1)) if self.train_sizes == "all" else self.sizes
        self.weight = torch.full((len(self.trained),), 1 / len(self.trained))

    def start_from_data(self, x_train: Tensor) -> None:
        """Relative weights: 1 / PCA's training error at each trained k (the same on a resume)."""
        if self.weights != "relative":
            return
        pca = fit_pca(x_train, max(self.trained), centred=True)
        tail = pca.eigenvalues.clamp_min(0).flip(0).cumsum(0).flip(0)  # sum of eigenvalues >= j
        errors = torch.stack(
            [tail[k] if k < len(tail) else tail.new_zeros(()) for k in self.trained]
        )
        inverse = 1 / errors.clamp_min(FLOOR)
        self.weight = (inverse / inverse.sum()).float()

    def reconstruction(
        self, reconstruct: Reconstruct, z: Tensor, x: Tensor
    ) -> tuple[Tensor, Tensor]:
        if self.samples == "split":
            return self._split(reconstruct, z, x)
        nll, sse = reconstruct(prefix_codes(z, self.trained), repeat_batch(x, len(self.trained)))
        weight = self.weight.to(z.device, z.dtype)[:, None]
        size = (len(self.trained), len(z))
        return (nll.view(size) * weight).sum(0), (sse.view(size) * weight).sum(0)

    def _split(self, reconstruct: Reconstruct, z: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        """Sample i keeps the first ``trained[(i + offset) % K]`` latents, the offset drawn each
        step (so every prefix is trained when K > B); per-sample weights make the batch mean the
        weighted sum over the prefixes of each prefix's mean."""
        count = len(self.trained)
        offset = int(torch.randint(count, ()))
        group = (torch.arange(len(z), device=z.device) + offset) % count
        sizes = torch.tensor(self.trained, device=z.device)[group]
        mask = torch.arange(z.shape[1], device=z.device)[None, :] < sizes[:, None]
        nll, sse = reconstruct(z * mask.to(z.dtype), x)
        members = torch.bincount(group, minlength=count).clamp_min(1).to(z.dtype)
        weight = (self.weight.to(z.device, z.dtype) / members)[group] * len(z)
        return nll * weight, sse * weight

    def __repr__(self) -> str:
        return f"Matryoshka({self.train_sizes}, {self.weights}, {self.samples}, sizes={self.sizes})"
