"""Convolutional autoencoder for image-shaped inputs (MNIST 1 x 28 x 28, terrain 1 x r x r).

encoder: stride-2 convolutions through ``channels`` -> flatten -> dense ``fc_sizes`` -> m
(latent activation); decoder: the mirror, ending on exactly the input size (output activation:
sigmoid for data in [0, 1], identity for standardised terrain). Image size and channel count come
from ``input_shape``, i.e. from the DataModule. With ``linear_path=True`` a linear encoder/decoder
pair started at closed-form PCA runs beside the network (`aelab.models.linear_path`).
"""

from torch import Tensor

from aelab.models import layers
from aelab.models.backbones import CONV, LINEAR_PATH, NETWORK, build_stacks, linear_path_output
from aelab.models.base import AutoencoderModule
from aelab.models.linear_path import zero_last_layer
from aelab.schema.keys import Target


class ConvAutoencoder(AutoencoderModule):
    SCHEMA = Target(
        keys=(*CONV, *NETWORK, LINEAR_PATH),
        rules=(linear_path_output,),
        size_keys=("channels", "fc_sizes"),
    )

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
        linear_path: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(input_shape, latent_dim, latent_activation=latent_activation, **kwargs)
        settings = {
            "channels": channels,
            "kernel_size": kernel_size,
            "fc_sizes": fc_sizes,
            "activation": activation,
            "output_activation": output_activation,
            "linear_path": linear_path,
        }
        ConvAutoencoder.SCHEMA.check_values("model", settings)
        stacks = build_stacks(
            "conv",
            self.input_shape,
            latent_dim,
            channels=channels,
            kernel_size=kernel_size,
            fc_sizes=fc_sizes,
            activation=activation,
        )
        self.encoder = stacks.encoder
        self.latent_activation = layers.activation(latent_activation, "latent_activation")
        self.decoder = stacks.decoder
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
