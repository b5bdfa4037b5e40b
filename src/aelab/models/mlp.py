"""Non-linear MLP autoencoder: the seed's network generalised.

encoder: n -> hidden_sizes... -> m (latent activation); decoder mirrors it back to n (output
activation: sigmoid for data in [0, 1], identity for standardised terrain).
"""

from torch import Tensor

from aelab.models.base import AutoencoderModule
from aelab.models.layers import check_sizes, mlp


class MLPAutoencoder(AutoencoderModule):
    def __init__(
        self,
        input_shape: list[int],
        latent_dim: int,
        hidden_sizes: list[int] = (256, 64),
        activation: str = "relu",
        latent_activation: str = "identity",
        output_activation: str = "identity",
        **kwargs,
    ) -> None:
        super().__init__(input_shape, latent_dim, latent_activation=latent_activation, **kwargs)
        hidden = check_sizes(hidden_sizes, "hidden_sizes", allow_empty=False)
        sizes = [self.input_dim, *hidden, latent_dim]
        self.encoder = mlp(sizes, activation, latent_activation, "latent_activation")
        self.decoder = mlp(sizes[::-1], activation, output_activation, "output_activation")

    def _encode(self, x: Tensor) -> Tensor:
        return self.encoder(x.flatten(1))

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z).view(-1, *self.input_shape)
