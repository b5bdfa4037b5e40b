"""Sparse latent codes: the original KL penalty, an L1 penalty, and TopK.

- ``SparseKL``: lam * sum_j KL(rho || rho_hat_j), rho_hat_j the batch-mean activation of latent
  j. It needs latents in (0, 1): a sigmoid latent activation (``conf/regularizer/sparse_kl.yaml``
  sets it); rho_hat is clamped into (eps, 1 - eps), so the penalty stays finite.
- ``SparseL1``: lam * mean |z|.
- ``TopK``: keeps the k largest activations of each sample and zeroes the rest; no penalty.

All three log, each training epoch, ``latent/mean_activation`` (mean of z), ``latent/l0`` (mean
number of active latents per sample, active: |z| > threshold) and ``latent/dead_frac``: the
fraction of latents that have not been active once over the last ``dead_window`` training samples.
"""

import torch
from torch import Tensor

from aelab.regularizers.base import LAM, Regularizer, Step
from aelab.schema.keys import Context, Key, Target
from aelab.schema.message import violation
from aelab.schema.types import Integer, Number


def kl_sparsity(rho: float, rho_hat: Tensor) -> Tensor:
    """sum_j KL(Bernoulli(rho) || Bernoulli(rho_hat_j))."""
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()


# --- the config schema: shared keys, rules ----------------------------------------------------
SPARSITY = (
    Key("threshold", Number(ge=0), 0.0, note="(|z| above it counts as active)"),
    Key("dead_window", Integer(ge=1), 10000, note="(training samples)"),
)


def _eps_below_rho(ctx: Context) -> None:
    rho, eps = ctx["regularizer.rho"], ctx["regularizer.eps"]
    bound = min(rho, 1 - rho)
    if eps >= bound:
        raise violation(
            "regularizer.eps", f"a number in (0, min(rho, 1 - rho)) = (0, {bound:g})", eps, 1e-6
        )


def _sigmoid_latent(ctx: Context) -> None:
    latent = ctx["model.latent_activation"]
    if latent != "sigmoid":
        raise violation(
            "model.latent_activation",
            "sigmoid with regularizer=sparse_kl (its penalty needs latents in (0, 1); or use "
            "regularizer=sparse_l1 / topk for unbounded latents)",
            repr(latent),
            "sigmoid",
        )


def _k_within_latent(ctx: Context) -> None:
    k, m = ctx["regularizer.k"], ctx.latent_dim
    if k > m:
        raise violation(
            "regularizer.k",
            f"at most the latent dimension m={m} (or raise compression.ratio)",
            k,
            min(4, m),
        )


class SparsityRegularizer(Regularizer):
    """Shared sparsity statistics, with a per-latent count of samples since it last fired.

    The count is plain tensor state (not a module buffer: it is training telemetry, not part of
    the model), updated by ``statistics``, which the base module calls in training steps only.
    """

    SCHEMA = Target(keys=SPARSITY)

    def __init__(self, threshold: float, dead_window: int) -> None:
        settings = {"threshold": threshold, "dead_window": dead_window}
        SparsityRegularizer.SCHEMA.check_values("regularizer", settings)
        self.threshold = float(threshold)
        self.dead_window = dead_window
        self.samples_since_fired: Tensor | None = None

    @property
    def tracks_sparsity(self) -> bool:
        return True

    def active(self, z: Tensor) -> Tensor:
        return z.abs() > self.threshold

    def statistics(self, z: Tensor) -> dict[str, Tensor]:
        active = self.active(z.detach().flatten(1))
        since = self.samples_since_fired
        if since is None or since.shape != active.shape[1:]:
            since = torch.zeros(active.shape[1], dtype=torch.long, device=active.device)
        since = since.to(active.device)  # a restored count arrives on the CPU
        since = torch.where(active.any(dim=0), 0, since + len(active))
        self.samples_since_fired = since
        return {
            "mean_activation": z.detach().mean(),
            "l0": active.sum(dim=1).float().mean(),
            "dead_frac": (since >= self.dead_window).float().mean(),
        }

    def state_dict(self) -> dict[str, Tensor]:
        since = self.samples_since_fired
        return {} if since is None else {"samples_since_fired": since.detach().cpu()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        since = state.get("samples_since_fired")
        self.samples_since_fired = None if since is None else since.clone()


class SparseKL(SparsityRegularizer):
    name = "sparse_kl"
    SCHEMA = Target(
        keys=(
            Key("rho", Number(gt=0, lt=1), 0.05, note="(the target mean activation)"),
            LAM,
            Key("eps", Number(gt=0, lt=0.5), 1e-6),
        ),
        rules=(_eps_below_rho, _sigmoid_latent),
    )

    def __init__(
        self,
        rho: float = 0.05,
        lam: float = 0.1,
        eps: float = 1e-6,
        threshold: float = 0.5,
        dead_window: int = 10000,
    ) -> None:
        super().__init__(threshold, dead_window)
        settings = {"rho": rho, "lam": lam, "eps": eps}
        SparseKL.SCHEMA.check_values("regularizer", settings)
        _eps_below_rho(Context({"regularizer": settings}))
        self.rho = float(rho)
        self.lam = float(lam)
        self.eps = float(eps)

    def check(self, latent_dim: int, latent_activation: str) -> None:
        _sigmoid_latent(Context({"model": {"latent_activation": latent_activation}}))

    def rho_hat(self, z: Tensor) -> Tensor:
        """Batch-mean activation of each latent, clamped into (eps, 1 - eps)."""
        return z.flatten(1).mean(dim=0).clamp(self.eps, 1 - self.eps)

    def penalty(self, step: Step) -> dict[str, Tensor]:
        return {"sparse_kl": self.lam * kl_sparsity(self.rho, self.rho_hat(step.z))}

    def statistics(self, z: Tensor) -> dict[str, Tensor]:
        """Also the mean |rho_hat_j - rho|: how far each latent is from the target."""
        stats = super().statistics(z)
        stats["rho_abs_error"] = (self.rho_hat(z.detach()) - self.rho).abs().mean()
        return stats

    def __repr__(self) -> str:
        return f"SparseKL(rho={self.rho}, lam={self.lam})"


class SparseL1(SparsityRegularizer):
    name = "sparse_l1"
    SCHEMA = Target(keys=(LAM,))

    def __init__(self, lam: float = 1e-3, threshold: float = 1e-3, dead_window: int = 10000):
        super().__init__(threshold, dead_window)
        SparseL1.SCHEMA.by_name["lam"].check("regularizer", lam)
        self.lam = float(lam)

    def penalty(self, step: Step) -> dict[str, Tensor]:
        return {"sparse_l1": self.lam * step.z.abs().mean()}

    def __repr__(self) -> str:
        return f"SparseL1(lam={self.lam})"


class TopK(SparsityRegularizer):
    """Keep the k largest activations per sample (a ReLU/identity latent; the kept ones may be
    negative with an identity activation). Active: a non-zero kept value (threshold 0)."""

    name = "topk"
    SCHEMA = Target(
        keys=(Key("k", Integer(ge=1), 4, note="(latents kept per sample)"),),
        rules=(_k_within_latent,),
    )

    def __init__(self, k: int = 4, threshold: float = 0.0, dead_window: int = 10000) -> None:
        super().__init__(threshold, dead_window)
        TopK.SCHEMA.by_name["k"].check("regularizer", k)
        self.k = k

    def check(self, latent_dim: int, latent_activation: str) -> None:
        _k_within_latent(Context({"regularizer": {"k": self.k}}, latent_dim=latent_dim))

    def sparsify(self, z: Tensor) -> Tensor:
        flat = z.flatten(1)
        values, indices = flat.topk(self.k, dim=1)
        return torch.zeros_like(flat).scatter(1, indices, values).view_as(z)

    def __repr__(self) -> str:
        return f"TopK(k={self.k})"
