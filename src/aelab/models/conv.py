"""Convolutional autoencoder for image-shaped inputs (MNIST 1 x 28 x 28, terrain 1 x r x r).

encoder: stride-2 convolutions through ``channels`` -> flatten -> dense ``fc_sizes`` -> m
(latent activation); decoder: the mirror, ending on exactly the input size (output activation:
sigmoid for data in [0, 1], identity for standardised terrain). Image size and channel count come
from ``input_shape``, i.e. from the DataModule. With ``linear_path=True`` a linear encoder/decoder
pair started at closed-form PCA runs beside the network (`aelab.models.linear_path`).
"""

from torch import Tensor, nn

from aelab.models import layers
from aelab.models.base import AutoencoderModule
from aelab.models.conv_blocks import ConvDecoder, ConvEncoder
from aelab.models.layers import check_sizes, mlp
from aelab.models.linear_path import zero_last_layer


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
        linear_path: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(input_shape, latent_dim, latent_activation=latent_activation, **kwargs)
        channels = check_sizes(channels, "channels", allow_empty=False)
        fc = check_sizes(fc_sizes, "fc_sizes")
        conv_encoder = ConvEncoder(self.input_shape, channels, kernel_size, activation)
        sizes = [conv_encoder.out_features, *fc, latent_dim]
        self.encoder = nn.Sequential(
            conv_encoder, mlp(sizes, activation, "identity", "latent_activation")
        )
        self.latent_activation = layers.activation(latent_activation, "latent_activation")
        self.decoder = nn.Sequential(
            mlp(sizes[::-1], activation, activation, "activation"),
            ConvDecoder(
                conv_encoder,
                self.input_shape[0],
                channels,
                kernel_size,
                activation,
                "identity",
            ),
        )
        self.output_activation = layers.activation(output_activation, "output_activation")
        self.pca_path = self.start_linear_path(linear_path, output_activation)
        if self.pca_path is not None:
            zero_last_layer(self.encoder)
            zero_last_layer(self.decoder)

    def _encode(self, x: Tensor) -> Tensor:
        h = self.encoder(x)
        if self.pca_path is not None:
            h = h + self.pca_path.encode(x.flatten(1))
        return self.latent_activation(h)

    def decode(self, z: Tensor) -> Tensor:
        x_hat = self.decoder(z)
        if self.pca_path is not None:
            x_hat = x_hat + self.pca_path.decode(z).view(-1, *self.input_shape)
        return self.output_activation(x_hat)
