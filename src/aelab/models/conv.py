"""Convolutional autoencoder for image-shaped inputs (MNIST 1 x 28 x 28, terrain 1 x r x r).

encoder: stride-2 convolutions through ``channels`` -> flatten -> dense ``fc_sizes`` -> m
(latent activation); decoder: the mirror, ending on exactly the input size (output activation:
sigmoid for data in [0, 1], identity for standardised terrain). Image size and channel count come
from ``input_shape``, i.e. from the DataModule.
"""

from torch import Tensor, nn

from aelab.models.base import AutoencoderModule
from aelab.models.conv_blocks import ConvDecoder, ConvEncoder
from aelab.models.layers import check_sizes, mlp


class ConvAutoencoder(AutoencoderModule):
    def __init__(
        self,
        input_shape: list[int],
        latent_dim: int,
        channels: list[int] = (32, 64),
        kernel_size: int = 3,
        fc_sizes: list[int] = (),
        activation: str = "relu",
        latent_activation: str = "identity",
        output_activation: str = "identity",
        **kwargs,
    ) -> None:
        super().__init__(input_shape, latent_dim, latent_activation=latent_activation, **kwargs)
        channels = check_sizes(channels, "channels", allow_empty=False)
        fc = check_sizes(fc_sizes, "fc_sizes")
        conv_encoder = ConvEncoder(self.input_shape, channels, kernel_size, activation)
        sizes = [conv_encoder.out_features, *fc, latent_dim]
        self.encoder = nn.Sequential(
            conv_encoder, mlp(sizes, activation, latent_activation, "latent_activation")
        )
        self.decoder = nn.Sequential(
            mlp(sizes[::-1], activation, activation, "activation"),
            ConvDecoder(
                conv_encoder,
                self.input_shape[0],
                channels,
                kernel_size,
                activation,
                output_activation,
            ),
        )

    def _encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)
