"""Convolutional encoder and decoder stacks for image-shaped inputs of any size.

The encoder halves the image with stride-2 convolutions (padding ``kernel_size // 2``) once per
entry of ``channels`` and records the size after each stage: 28 -> 14 -> 7, 10 -> 5 -> 3,
5 -> 3 -> 2. The decoder mirrors it with stride-2 transposed convolutions whose
``output_padding`` is chosen from those recorded sizes, so it lands on exactly the input size,
odd sizes included. Nothing depends on 28 x 28 or on the number of input channels.
"""

import math

from torch import Tensor, nn

from aelab.errors import ConfigError
from aelab.models.layers import activation, check_sizes

STRIDE = 2


def check_kernel_size(kernel_size: int) -> int:
    if not isinstance(kernel_size, int) or isinstance(kernel_size, bool) or kernel_size < 2:
        raise ConfigError(
            f"model.kernel_size must be an integer >= 2, got {kernel_size!r}; e.g. model.kernel_size=3"
        )
    return kernel_size


def downsampled_sizes(size: tuple[int, int], depth: int, kernel_size: int) -> list[tuple[int, int]]:
    """Spatial sizes (h, w) before the first and after each of `depth` stride-2 convolutions."""
    padding = kernel_size // 2
    sizes = [tuple(size)]
    for _ in range(depth):
        sizes.append(tuple((s + 2 * padding - kernel_size) // STRIDE + 1 for s in sizes[-1]))
    return sizes


class ConvEncoder(nn.Module):
    """(N, C, H, W) -> (N, channels[-1] * h * w) features after ``len(channels)`` halvings."""

    def __init__(
        self,
        input_shape: list[int],
        channels: list[int],
        kernel_size: int = 3,
        hidden_activation: str = "relu",
    ) -> None:
        super().__init__()
        channels = check_sizes(channels, "channels", allow_empty=False)
        kernel_size = check_kernel_size(kernel_size)
        in_channels, height, width = input_shape
        self.sizes = downsampled_sizes((height, width), len(channels), kernel_size)
        self.feature_shape = (channels[-1], *self.sizes[-1])
        self.out_features = math.prod(self.feature_shape)
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip([in_channels, *channels[:-1]], channels, strict=True):
            layers.append(nn.Conv2d(fan_in, fan_out, kernel_size, STRIDE, kernel_size // 2))
            layers.append(activation(hidden_activation))
        layers.append(nn.Flatten(1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """(N, channels[-1] * h * w) features -> (N, C, H, W), the mirror of a `ConvEncoder`."""

    def __init__(
        self,
        encoder: ConvEncoder,
        out_channels: int,
        channels: list[int],
        kernel_size: int = 3,
        hidden_activation: str = "relu",
        output_activation: str = "identity",
    ) -> None:
        super().__init__()
        padding = kernel_size // 2
        stages = list(zip(channels[::-1], [*channels[::-1][1:], out_channels], strict=True))
        targets = encoder.sizes[::-1]  # e.g. [(7, 7), (14, 14), (28, 28)]
        layers: list[nn.Module] = [nn.Unflatten(1, encoder.feature_shape)]
        for i, (fan_in, fan_out) in enumerate(stages):
            (h_in, w_in), (h_out, w_out) = targets[i], targets[i + 1]
            # a transposed conv gives (in - 1) * stride - 2 * padding + kernel + output_padding
            base_h = (h_in - 1) * STRIDE - 2 * padding + kernel_size
            base_w = (w_in - 1) * STRIDE - 2 * padding + kernel_size
            output_padding = (h_out - base_h, w_out - base_w)
            assert all(0 <= p < STRIDE for p in output_padding), (targets, kernel_size)
            layers.append(
                nn.ConvTranspose2d(
                    fan_in, fan_out, kernel_size, STRIDE, padding, output_padding=output_padding
                )
            )
            last = i == len(stages) - 1
            layers.append(
                activation(output_activation, "output_activation")
                if last
                else activation(hidden_activation)
            )
        self.net = nn.Sequential(*layers)

    def forward(self, features: Tensor) -> Tensor:
        return self.net(features)
