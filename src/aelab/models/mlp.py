"""Non-linear MLP autoencoder: the original network generalised.

encoder: n -> hidden_sizes... -> m (latent activation); decoder mirrors it back to n (output
activation: sigmoid for data in [0, 1], identity for standardised terrain). With
``linear_path=True`` a linear encoder/decoder pair started at closed-form PCA runs beside the
MLP (`aelab.models.linear_path`), so training starts from the PCA reconstruction.
"""

from torch import Tensor

from aelab.models import layers
from aelab.models.backbones import LINEAR_PATH, NETWORK, build_stacks, linear_path_output
from aelab.models.base import AutoencoderModule
from aelab.models.linear_path import zero_last_layer
from aelab.schema.keys import Key, Target
from aelab.schema.types import Sizes


class MLPAutoencoder(AutoencoderModule):
    SCHEMA = Target(
        keys=(
            Key("hidden_sizes", Sizes(allow_empty=False), [128, 64]),
            *NETWORK,
            LINEAR_PATH,
        ),
        rules=(linear_path_output,),
        size_keys=("hidden_sizes",),
    )

    def __init__(
        self,
        input_shape: list[int],
        latent_dim: int,
        hidden_sizes: list[int] = (128, 64),
        activation: str = "relu",
        latent_activation: str = "identity",
        output_activation: str = "identity",
        linear_path: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(input_shape, latent_dim, latent_activation=latent_activation, **kwargs)
        settings = {
            "hidden_sizes": hidden_sizes,
            "activation": activation,
            "output_activation": output_activation,
            "linear_path": linear_path,
        }
        MLPAutoencoder.SCHEMA.check_values("model", settings)
        stacks = build_stacks(
            "mlp", self.input_shape, latent_dim, hidden_sizes=hidden_sizes, activation=activation
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
        flat = x.flatten(1)
        h = self.encoder(flat)
        if self.pca_path is not None:
            h = h + self.pca_path.encode(flat)
        return self.latent_activation(h)

    def decode(self, z: Tensor) -> Tensor:
        x_hat = self.decoder(z)
        if self.pca_path is not None:
            x_hat = x_hat + self.pca_path.decode(z)
        return self.output_activation(x_hat).view(-1, *self.input_shape)
