"""Small building blocks shared by the variants: activations by name, MLP stacks."""

from collections.abc import Callable

from torch import nn

from aelab.errors import ConfigError

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "identity": nn.Identity,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
    "unit_clip": lambda: nn.Hardtanh(0.0, 1.0),  # clamp to [0, 1]: exact zeros, no squashing
}


def activation(name: str, role: str = "activation") -> nn.Module:
    """An activation module by name; `role` names the config key in the error."""
    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown model.{role} {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def check_sizes(sizes: list[int], key: str, allow_empty: bool = True) -> list[int]:
    sizes = list(sizes)
    if (not sizes and not allow_empty) or any(not isinstance(s, int) or s <= 0 for s in sizes):
        raise ConfigError(
            f"model.{key} must be a list of positive integers, got {sizes!r}; "
            f"e.g. model.{key}=[256,64]"
        )
    return sizes


def mlp(
    sizes: list[int], hidden_activation: str, final_activation: str, final_role: str
) -> nn.Sequential:
    """Linear layers through `sizes`, `hidden_activation` between them, `final_activation` last."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(fan_in, fan_out))
        last = i == len(sizes) - 2
        layers.append(
            activation(final_activation, final_role) if last else activation(hidden_activation)
        )
    return nn.Sequential(*layers)
