"""Closed-form PCA: the optimal rank-m linear reconstruction, the bound every AE is compared to."""

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class PCA:
    mean: Tensor  # (n,) zero for the uncentred fit
    components: Tensor  # (m, n) orthonormal rows, by decreasing variance
    eigenvalues: Tensor  # (n,) all eigenvalues of the (second-)moment matrix, decreasing

    def encode(self, x: Tensor) -> Tensor:
        return (x.flatten(1).to(self.mean) - self.mean) @ self.components.T

    def decode(self, z: Tensor) -> Tensor:
        return z @ self.components + self.mean

    def reconstruction_sse(self, x: Tensor) -> Tensor:
        """Per-sample summed squared error of the rank-m reconstruction, shape (N,)."""
        flat = x.flatten(1).to(self.mean)
        return ((self.decode(self.encode(flat)) - flat) ** 2).sum(dim=1)


def fit_pca(x: Tensor, m: int, centred: bool = True) -> PCA:
    """Fit PCA with m components to x (N, ...) in float64.

    ``centred=False`` gives the best rank-m subspace through the origin (no mean removed): the
    bound for a linear AE without biases on uncentred data.
    """
    flat = x.flatten(1).double()
    mean = flat.mean(dim=0) if centred else torch.zeros(flat.shape[1], dtype=flat.dtype)
    centred_x = flat - mean
    moment = centred_x.T @ centred_x / len(flat)
    eigenvalues, eigenvectors = torch.linalg.eigh(moment)
    eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.flip(1)
    m = min(m, flat.shape[1])
    return PCA(mean=mean, components=eigenvectors[:, :m].T.contiguous(), eigenvalues=eigenvalues)


def principal_angles(a: Tensor, b: Tensor) -> Tensor:
    """Principal angles (radians, increasing) between the row spaces of a (m, n) and b (k, n)."""
    qa, _ = torch.linalg.qr(a.double().T)
    qb, _ = torch.linalg.qr(b.double().T)
    cosines = torch.linalg.svdvals(qa.T @ qb).clamp(-1.0, 1.0)
    return torch.arccos(cosines).sort().values
