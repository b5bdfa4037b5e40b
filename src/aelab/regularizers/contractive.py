"""Contractive autoencoder (Rifai et al., 2011): lam * ||dz/dx||_F^2, averaged over the batch.

z is the latent code and x the encoder's input (``step.x_in``). The penalty encodes x again with
gradients on, through ``step.model.encode``, so it works with every variant (the VAE's code is its
posterior mean), and differentiates the code with respect to its input:

- exact, when the latent size m <= ``exact_max_dim``: one vector-Jacobian product per latent,
  e_j^T J being row j of the Jacobian, their squares summed;
- estimated above it: ||J||_F^2 = E_v ||J^T v||^2 for v ~ N(0, I_m) in latent space (unbiased),
  averaged over ``projections`` draws per sample. Training draws from torch's global generator
  (seeded and checkpointed); validation and test from a generator seeded with 0, so the logged
  value is comparable from epoch to epoch.

In training the products keep their graph, so the penalty's gradient reaches the encoder's
weights (a second-order backward pass). Validation and test run under Lightning's inference mode,
which this penalty leaves for its own computation.
"""

import torch
from torch import Tensor

from aelab.regularizers.base import LAM, Regularizer, Step
from aelab.schema.keys import Key, Target
from aelab.schema.types import Integer


def jacobian_sq_norm(
    encode,
    x: Tensor,
    exact: bool,
    projections: int = 1,
    generator: torch.Generator | None = None,
    create_graph: bool = False,
) -> Tensor:
    """Per-sample ||d encode(x) / dx||_F^2, shape (B,): exact, or the random-projection estimate.

    Samples are encoded independently, so one product over the batch gives every sample's own.
    """
    x = x.detach().clone().requires_grad_(True)
    z = encode(x).flatten(1)
    total = torch.zeros(len(x), device=x.device, dtype=x.dtype)
    if not z.requires_grad:  # a code that does not depend on its input
        return total
    if exact:
        directions = torch.eye(z.shape[1], device=z.device, dtype=z.dtype)[:, None, :]
        directions = directions.expand(-1, len(z), -1)
    else:
        shape = (projections, *z.shape)
        directions = torch.randn(shape, generator=generator, device=z.device, dtype=z.dtype)
    for v in directions:
        (row,) = torch.autograd.grad(
            z, x, grad_outputs=v, create_graph=create_graph, retain_graph=True, allow_unused=True
        )
        if row is not None:
            total = total + row.pow(2).flatten(1).sum(dim=1)
    return total if exact else total / projections


class Contractive(Regularizer):
    name = "contractive"
    SCHEMA = Target(
        keys=(
            LAM,
            Key("exact_max_dim", Integer(ge=0), 16, note="(largest latent size computed exactly)"),
            Key("projections", Integer(ge=1), 4, note="(random projections per sample)"),
        )
    )

    def __init__(self, lam: float = 0.1, exact_max_dim: int = 16, projections: int = 4) -> None:
        settings = {"lam": lam, "exact_max_dim": exact_max_dim, "projections": projections}
        Contractive.SCHEMA.check_values("regularizer", settings)
        self.lam = float(lam)
        self.exact_max_dim = exact_max_dim
        self.projections = projections

    def penalty(self, step: Step) -> dict[str, Tensor]:
        if step.model is None or step.x_in is None:
            raise ValueError("the contractive penalty needs the step's model and encoder input")
        exact = step.z.flatten(1).shape[1] <= self.exact_max_dim
        generator = None
        if not (exact or step.train):
            generator = torch.Generator(device=step.x_in.device).manual_seed(0)
        with torch.inference_mode(False), torch.enable_grad():
            norms = jacobian_sq_norm(
                step.model.encode,
                step.x_in,
                exact,
                self.projections,
                generator,
                create_graph=step.train,
            )
        value = self.lam * norms.mean()
        return {"contractive": value if step.train else value.detach()}

    def __repr__(self) -> str:
        return (
            f"Contractive(lam={self.lam}, exact_max_dim={self.exact_max_dim}, "
            f"projections={self.projections})"
        )
