"""The regularizer interface: a small object the model calls at three points of its step.

- ``corrupt(x)``: the training input the encoder sees (denoising overrides it); the loss is
  always against the clean ``x``.
- ``sparsify(z)``: a transform of the latent code on every pass (TopK overrides it).
- ``penalty(step)``: extra loss terms, named, added to the reconstruction loss. The `Step` holds
  the latent code, the clean and the encoder's input, the model and the batch, so a penalty on
  the encoder's Jacobian or on the weights is one new regularizer, not an edit to the models.

Training state a regularizer keeps between steps (sparsity's dead-latent counters) goes into
checkpoints through ``state_dict`` / ``load_state_dict``, so a resumed run continues it.

The base class is the ``none`` regularizer.
"""

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from aelab.schema.keys import Key, Target
from aelab.schema.types import Number

#: the weight of a penalty, a config key of the regularizers that add one
LAM = Key("lam", Number(ge=0), 0.1, note="(penalty weight)")


@dataclass
class Step:
    """What a penalty may look at in one step; the model's step builds it."""

    z: Tensor  # the latent code (after sparsify; the posterior mean's code for a VAE)
    x: Tensor | None = None  # the clean input
    x_in: Tensor | None = None  # what the encoder saw (corrupted in training)
    model: Any = None  # the autoencoder: encode, decode, parameters
    batch: dict[str, Tensor] = field(default_factory=dict)
    train: bool = True


class Regularizer:
    """No regularization: identity corruption, identity latent, no penalty."""

    name = "none"
    SCHEMA = Target(keys=())  # a subclass's SCHEMA declares its own keys

    def check(self, latent_dim: int, latent_activation: str) -> None:
        """Raise `ConfigError` if this regularizer cannot work with the model's latent."""

    def corrupt(self, x: Tensor) -> Tensor:
        return x

    def sparsify(self, z: Tensor) -> Tensor:
        return z

    def penalty(self, step: Step) -> dict[str, Tensor]:
        return {}

    def statistics(self, z: Tensor) -> dict[str, Tensor]:
        """Latent statistics logged under ``latent/`` each training epoch (sparsity ones)."""
        return {}

    @property
    def tracks_sparsity(self) -> bool:
        """Whether the model should log latent sparsity statistics."""
        return False

    def state_dict(self) -> dict[str, Any]:
        """Training state to checkpoint (tensors and primitives only: loads weights-only)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""
