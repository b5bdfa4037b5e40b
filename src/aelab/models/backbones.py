"""The encoder and decoder stacks of every variant, built in one place.

Two backbones, chosen by name:

- ``mlp``: flat input -> ``hidden_sizes`` -> out; the decoder mirrors it back to n inputs.
- ``conv``: stride-2 convolutions through ``channels`` -> flatten -> dense ``fc_sizes`` -> out;
  the decoder mirrors it, landing on exactly the input's size (`aelab.models.conv_blocks`).

``head="latent"`` ends the encoder on the m latent units with no activation (a plain
autoencoder; the variant applies its latent activation; the MLP stacks then work on flat
inputs, as the linear path beside them does); ``head="features"`` ends it on the last hidden
layer, activated, for a variant that puts its own heads on top (the VAE's mean and
log-variance), and both stacks then take and give input-shaped tensors. The decoder always
takes m latent units and gives the pre-activation output.
"""

import math
from dataclasses import dataclass

from torch import nn

from aelab.models.base import LINEAR_PATH_OUTPUTS
from aelab.models.conv_blocks import ConvDecoder, ConvEncoder
from aelab.models.layers import ACTIVATIONS, check_sizes, mlp
from aelab.schema.keys import Context, Key
from aelab.schema.message import violation
from aelab.schema.types import Choice, Flag, Integer, Sizes

BACKBONES = ("mlp", "conv")

# --- the config keys of the networks built here, for the variants' SCHEMA --------------------
NETWORK = (
    Key("activation", Choice(ACTIVATIONS), "relu"),
    Key("output_activation", Choice(ACTIVATIONS), "identity"),
)
CONV = (
    Key("channels", Sizes(allow_empty=False), [32, 64]),
    Key("kernel_size", Integer(ge=2), 3),
    Key("fc_sizes", Sizes(), [128]),
)
LINEAR_PATH = Key("linear_path", Flag(), True, note="(a linear path started at PCA)")


def linear_path_output(ctx: Context) -> None:
    """The rule of `LINEAR_PATH`: the output activation acts on the PCA reconstruction too, so
    it must leave it as it is."""
    output = ctx["model.output_activation"]
    if ctx["model.linear_path"] and output not in LINEAR_PATH_OUTPUTS:
        raise violation(
            "model.output_activation",
            f"one of {', '.join(LINEAR_PATH_OUTPUTS)} with model.linear_path=true (the output "
            "starts at the PCA reconstruction; or set model.linear_path=false)",
            repr(output),
            "unit_clip",
        )


@dataclass
class Stacks:
    encoder: nn.Module  # mlp: flat (N, n) inputs; conv: (N, C, H, W) images
    decoder: nn.Module  # (N, m) -> mlp: flat (N, n); conv: (N, C, H, W)
    features: int  # width of the encoder's output (m for head="latent")


def build_stacks(
    backbone: str,
    input_shape: tuple[int, ...],
    latent_dim: int,
    head: str = "latent",
    hidden_sizes: list[int] = (256, 64),
    channels: list[int] = (32, 64),
    kernel_size: int = 3,
    fc_sizes: list[int] = (),
    activation: str = "relu",
) -> Stacks:
    """Encoder and decoder of `backbone` for inputs of `input_shape` and an m-dim latent."""
    if backbone == "mlp":
        hidden = check_sizes(hidden_sizes, "hidden_sizes", allow_empty=head == "features")
        return _mlp_stacks(tuple(input_shape), hidden, latent_dim, head, activation)
    channels = check_sizes(channels, "channels", allow_empty=False)
    fc = check_sizes(fc_sizes, "fc_sizes")
    return _conv_stacks(tuple(input_shape), channels, kernel_size, fc, latent_dim, head, activation)


def _mlp_stacks(
    input_shape: tuple[int, ...], hidden: list[int], m: int, head: str, activation: str
) -> Stacks:
    # built encoder first, then decoder: the order the weights are drawn in, seed for seed
    n = math.prod(input_shape)
    if head == "latent":
        encoder = mlp([n, *hidden, m], activation, "identity", "latent_activation")
        decoder = mlp([m, *hidden[::-1], n], activation, "identity", "output_activation")
        return Stacks(encoder, decoder, m)
    encoder = nn.Sequential(nn.Flatten(1), mlp([n, *hidden], activation, activation, "activation"))
    decoder = nn.Sequential(
        mlp([m, *hidden[::-1], n], activation, "identity", "output_activation"),
        nn.Unflatten(1, input_shape),
    )
    return Stacks(encoder, decoder, hidden[-1] if hidden else n)


def _conv_stacks(
    input_shape: tuple[int, ...],
    channels: list[int],
    kernel_size: int,
    fc: list[int],
    m: int,
    head: str,
    activation: str,
) -> Stacks:
    conv_encoder = ConvEncoder(input_shape, channels, kernel_size, activation)
    sizes = [conv_encoder.out_features, *fc]
    if head == "latent":
        dense = mlp([*sizes, m], activation, "identity", "latent_activation")
        features = m
    else:
        dense = mlp(sizes, activation, activation, "activation")
        features = sizes[-1]
    decoder = nn.Sequential(
        mlp([m, *sizes[::-1]], activation, activation, "activation"),
        ConvDecoder(conv_encoder, input_shape[0], channels, kernel_size, activation, "identity"),
    )
    return Stacks(nn.Sequential(conv_encoder, dense), decoder, features)
