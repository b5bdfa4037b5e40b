"""Closed-form PCA: the optimal rank-m linear reconstruction, the bound every AE is compared to.

Inputs held in memory are fitted in one piece. A memory-mapped split (see
`aelab.data.loaders.is_mapped`) is read in chunks of about `CHUNK_VALUES` values: the mean and the
second-moment matrix are summed in float64, chunk by chunk, so the split is never copied whole
(``chunk_rows`` forces this on any input).
"""

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from aelab.data.loaders import is_mapped

CHUNK_VALUES = 2**21  # values per chunk of a streamed input (16 MiB as float64)


def chunk_rows_for(x: Tensor, chunk_rows: int | None) -> int | None:
    """Rows per chunk: `chunk_rows` if given, else a chunk of `CHUNK_VALUES` for a mapped `x`,
    else None (in one piece)."""
    if chunk_rows is not None:
        return max(1, int(chunk_rows))
    if not is_mapped(x):
        return None
    return max(1, CHUNK_VALUES // max(1, x[0].numel() if len(x) else 1))


def chunks(x: Tensor, rows: int) -> Iterator[Tensor]:
    """`x` (N, ...) as float64 (rows, n) pieces, in order."""
    for start in range(0, len(x), rows):
        yield x[start : start + rows].flatten(1).double()


@dataclass
class PCA:
    mean: Tensor  # (n,) zero for the uncentred fit
    components: Tensor  # (m, n) orthonormal rows, by decreasing variance
    eigenvalues: Tensor  # (n,) all eigenvalues of the (second-)moment matrix, decreasing

    def encode(self, x: Tensor) -> Tensor:
        return (x.flatten(1).to(self.mean) - self.mean) @ self.components.T

    def decode(self, z: Tensor) -> Tensor:
        return z @ self.components + self.mean

    def reconstruction_sse(self, x: Tensor, chunk_rows: int | None = None) -> Tensor:
        """Per-sample summed squared error of the rank-m reconstruction, shape (N,).

        A memory-mapped `x` (or one given `chunk_rows`) is scored chunk by chunk.
        """
        rows = chunk_rows_for(x, chunk_rows)
        if rows is not None:
            parts = [self._sse(part) for part in chunks(x, rows)]
            return torch.cat(parts) if parts else torch.empty(0, dtype=self.mean.dtype)
        return self._sse(x)

    def _sse(self, x: Tensor) -> Tensor:
        flat = x.flatten(1).to(self.mean)
        return ((self.decode(self.encode(flat)) - flat) ** 2).sum(dim=1)


def fit_pca(x: Tensor, m: int, centred: bool = True, chunk_rows: int | None = None) -> PCA:
    """Fit PCA with m components to x (N, ...) in float64.

    ``centred=False`` gives the best rank-m subspace through the origin (no mean removed): the
    bound for a linear AE without biases on uncentred data. A memory-mapped `x` (or one given
    `chunk_rows`) is read in chunks, twice: its mean, then its centred second moment.
    """
    rows = chunk_rows_for(x, chunk_rows)
    if rows is not None:
        mean, moment = streamed_moments(x, rows, centred)
    else:
        flat = x.flatten(1).double()
        mean = flat.mean(dim=0) if centred else torch.zeros(flat.shape[1], dtype=flat.dtype)
        centred_x = flat - mean
        if len(flat) < flat.shape[1]:  # fewer samples than inputs: the SVD of the data is cheaper
            return _fit_by_svd(centred_x, mean, m)
        moment = centred_x.T @ centred_x / len(flat)
    eigenvalues, eigenvectors = torch.linalg.eigh(moment)
    eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.flip(1)
    m = min(m, moment.shape[0])
    return PCA(mean=mean, components=eigenvectors[:, :m].T.contiguous(), eigenvalues=eigenvalues)


def _fit_by_svd(centred_x: Tensor, mean: Tensor, m: int) -> PCA:
    """PCA of N < n samples from the SVD of the (N, n) data instead of the n x n moment matrix.

    The moment matrix has rank at most N: its other eigenvalues are zero and their directions
    arbitrary, so components beyond the N-th complete the basis (a QR against the identity).
    """
    n_samples, n = centred_x.shape
    _, singular, vh = torch.linalg.svd(centred_x, full_matrices=False)
    eigenvalues = torch.zeros(n, dtype=centred_x.dtype)
    eigenvalues[: len(singular)] = singular**2 / n_samples
    m = min(m, n)
    components = vh[:m]
    if m > len(vh):
        basis, _ = torch.linalg.qr(torch.cat([vh.T, torch.eye(n, dtype=vh.dtype)], dim=1))
        components = torch.cat([vh, basis[:, len(vh) : m].T])
    return PCA(mean=mean, components=components.contiguous(), eigenvalues=eigenvalues)


def streamed_moments(x: Tensor, rows: int, centred: bool) -> tuple[Tensor, Tensor]:
    """The mean (zero if not `centred`) and the (centred) second-moment matrix of `x` (N, ...),
    summed in float64 over chunks of `rows` rows."""
    n = x[0].numel() if len(x) else x.flatten(1).shape[1]
    mean = torch.zeros(n, dtype=torch.float64)
    if centred:
        for part in chunks(x, rows):
            mean += part.sum(dim=0)
        mean /= len(x)
    moment = torch.zeros(n, n, dtype=torch.float64)
    for part in chunks(x, rows):
        part = part - mean
        moment.addmm_(part.T, part)
    return mean, moment / len(x)


def principal_angles(a: Tensor, b: Tensor) -> Tensor:
    """Principal angles (radians, increasing) between the row spaces of a (m, n) and b (k, n)."""
    qa, _ = torch.linalg.qr(a.double().T)
    qb, _ = torch.linalg.qr(b.double().T)
    cosines = torch.linalg.svdvals(qa.T @ qb).clamp(-1.0, 1.0)
    return torch.arccos(cosines).sort().values
