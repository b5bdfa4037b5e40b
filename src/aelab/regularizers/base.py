"""The regularizer interface: a small object the model calls at three points of its step.

- ``corrupt(x)``: the training input the encoder sees (denoising overrides it); the loss is
  always against the clean ``x``.
- ``sparsify(z)``: a transform of the latent code on every pass (TopK overrides it).
- ``penalty(z, batch)``: extra loss terms, named, added to the reconstruction loss.

The base class is the ``none`` regularizer.
"""

from torch import Tensor


class Regularizer:
    """No regularization: identity corruption, identity latent, no penalty."""

    name = "none"

    def check(self, latent_dim: int, latent_activation: str) -> None:
        """Raise `ConfigError` if this regularizer cannot work with the model's latent."""

    def corrupt(self, x: Tensor) -> Tensor:
        return x

    def sparsify(self, z: Tensor) -> Tensor:
        return z

    def penalty(self, z: Tensor, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return {}

    def statistics(self, z: Tensor) -> dict[str, Tensor]:
        """Latent statistics logged under ``latent/`` each training epoch (sparsity ones)."""
        return {}

    @property
    def tracks_sparsity(self) -> bool:
        """Whether the model should log latent sparsity statistics."""
        return False
