"""A trained autoencoder restricted to its first k latents, with the model's API.

`aelab.runs.checkpoints.LoadedRun.restrict(k)` (``aelab-eval prefix=k``, ``aelab.load(...,
prefix=k)``) puts one of these in place of the model, so every evaluation task sees k-dimensional
codes: codes are the first k latents, decoding pads them with zeros to the m latents the decoder
takes (as ``model.reconstruct(x, k)`` does), and a VAE's posterior, prior and scores are those of
its first k dimensions.
"""

from typing import Any

import torch
from torch import Tensor

from aelab.ordered.base import pad_code


class PrefixView:
    """A trained autoencoder restricted to its first `k` latents, with the model's API.

    Codes have k latents (``latent_dim`` is k, ``m`` the model's); decoding pads them with
    zeros to the m latents the decoder takes, as ``model.reconstruct(x, k)`` does. Methods
    written in terms of ``embed`` and ``decode`` are the model's own, run on this view.
    """

    def __init__(self, model: Any, k: int) -> None:
        self.model, self.k = model, k

    @property
    def latent_dim(self) -> int:
        return self.k

    @property
    def m(self) -> int:
        return int(self.model.latent_dim)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.model.input_shape)

    @property
    def input_dim(self) -> int:
        return int(self.model.input_dim)

    @property
    def device(self) -> torch.device:
        return self.model.device

    def _within(self, k: int | None) -> int:
        if k is not None and not 1 <= k <= self.k:
            raise ValueError(f"a prefix of {k} latents does not fit this view of {self.k}")
        return self.k if k is None else k

    def encode(self, x: Tensor) -> Tensor:
        return self.model.encode(x)[:, : self.k]

    def embed(self, x: Tensor, k: int | None = None) -> Tensor:
        return self.model.embed(x, self._within(k))

    def decode(self, z: Tensor) -> Tensor:
        """Decode codes (B, j <= k), the latents after the j-th at zero."""
        self._within(z.shape[-1])
        return self.model.decode(pad_code(z, self.m))

    decode_prefix = decode

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    __call__ = forward

    def reconstruct(self, x: Tensor, k: int | None = None) -> Tensor:
        return self.model.reconstruct(x, self._within(k))

    def interpolate(self, x0: Tensor, x1: Tensor, steps: int = 8) -> Tensor:
        return type(self.model).interpolate(self, x0, x1, steps)

    def loss_terms(
        self, batch: dict[str, Tensor], train: bool = False
    ) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """The evaluation terms of the truncated code: ``recon`` (the model's reconstruction
        loss) and ``loss``; the per-sample squared error; the code. No regularizer penalties."""
        x = batch["x"]
        code = self.embed(x)
        nll, sse = self.model.reconstruction(pad_code(code, self.m), x)
        terms = {"recon": nll.mean(), **self._posterior_terms(x)}
        terms["loss"] = sum(terms.values())
        return terms, sse, code

    def _posterior_terms(self, x: Tensor) -> dict[str, Tensor]:
        return {}

    def __repr__(self) -> str:
        return f"PrefixView({type(self.model).__name__}, k={self.k} of m={self.m})"


class VariationalPrefixView(PrefixView):
    """A VAE restricted to its first `k` latents: q(z|x) is the posterior's first k dimensions,
    the prior N(0, I_k), and the decoder sees the Gaussian latents after the k-th at the prior
    mean 0. ``elbo_terms`` and ``iwae_bound`` are the VAE's own, run on this view."""

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.model.posterior(x)
        return mu[:, : self.k], logvar[:, : self.k]

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x|z) for Gaussian latents z (..., B, k), the tail at the prior mean."""
        return self.model.log_likelihood(x, pad_code(z, self.m))

    def _draw(self, x: Tensor, samples: int, generator: torch.Generator | None):
        return type(self.model)._draw(self, x, samples, generator)

    def elbo_terms(
        self, x: Tensor, samples: int = 1, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """The VAE's per-sample ELBO terms of this view; the KL is over the first k dims."""
        return type(self.model).elbo_terms(self, x, samples, generator)

    def iwae_bound(
        self, x: Tensor, samples: int, generator: torch.Generator | None = None
    ) -> Tensor:
        """The VAE's importance-weighted bound of this view."""
        return type(self.model).iwae_bound(self, x, samples, generator)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """`n` decodings of prior draws of the first k latents, the rest at the prior mean 0."""
        z = pad_code(torch.randn(n, self.k, generator=generator), self.m).to(self.device)
        model = self.model
        return model.decode(model.regularizer.sparsify(model.latent_activation(z)))

    def _posterior_terms(self, x: Tensor) -> dict[str, Tensor]:
        from aelab.models.vae import gaussian_kl

        return {"kl": gaussian_kl(*self.posterior(x)).sum(dim=1).mean()}


def prefix_view(model: Any, k: int) -> PrefixView:
    """The view of `model` restricted to its first `k` latents (a VAE's keeps its scores)."""
    variational = callable(getattr(model, "posterior", None)) and callable(
        getattr(model, "iwae_bound", None)
    )
    return (VariationalPrefixView if variational else PrefixView)(model, k)
