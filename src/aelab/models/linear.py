"""Linear tied-weight autoencoder: z = A x, x_hat = A^T z.

Two variants:

- ``pca`` (default): the input is centred with the training mean (a buffer saved in checkpoints),
  z = A (x - mu), x_hat = A^T z + mu. Its optimum is closed-form PCA: A^T A becomes the projector
  onto the top-m principal subspace (the subspace is recovered, not the eigenvectors).
- ``uncentred``: the original code exactly: an ``nn.Linear`` encoder with bias, a decoder A^T z with no
  bias, no centring. It can only reach the uncentred rank-m error, between PCA(m) and PCA(m-1).
"""

import torch
from torch import Tensor, nn

from aelab.errors import ConfigError
from aelab.models.base import AutoencoderModule
from aelab.models.layers import activation
from aelab.schema.keys import Key, Target
from aelab.schema.types import Choice

VARIANTS = ("pca", "uncentred")
RENAMED = {"seed": "uncentred"}  # older names, refused with the new one


class LinearAutoencoder(AutoencoderModule):
    SCHEMA = Target(keys=(Key("variant", Choice(VARIANTS), "pca"),))

    def __init__(
        self,
        input_shape: list[int],
        latent_dim: int,
        variant: str = "pca",
        latent_activation: str = "identity",
        lr: float = 0.02,
        **kwargs,
    ) -> None:
        super().__init__(
            input_shape, latent_dim, latent_activation=latent_activation, lr=lr, **kwargs
        )
        if isinstance(variant, str) and variant in RENAMED:
            raise ConfigError(
                f"model.variant={variant} is now called {RENAMED[variant]}; "
                f"e.g. model.variant={RENAMED[variant]}"
            )
        LinearAutoencoder.SCHEMA.by_name["variant"].check("model", variant)
        self.variant = variant
        n = self.input_dim
        self.encoder = nn.Linear(n, latent_dim, bias=variant == "uncentred")
        if variant == "pca":
            # random orthonormal rows: a well-conditioned start (not the PCA solution)
            nn.init.orthogonal_(self.encoder.weight)
        self.register_buffer("data_mean", torch.zeros(n))
        # identity keeps the model linear; a bounded activation only for sparse_kl experiments
        self.latent_activation = activation(latent_activation, "latent_activation")

    def start_from_data(self, x_train: Tensor, value_range: tuple[float, float]) -> None:
        """The ``pca`` variant centres with the training mean (saved with the weights)."""
        if self.variant == "pca":
            self.data_mean.copy_(x_train.flatten(1).mean(dim=0))

    def _encode(self, x: Tensor) -> Tensor:
        return self.latent_activation(self.encoder(x.flatten(1) - self.data_mean))

    def decode(self, z: Tensor) -> Tensor:
        x_hat = z @ self.encoder.weight + self.data_mean
        return x_hat.view(-1, *self.input_shape)
