"""How far a linear AE is from PCA: the largest principal angle of its subspace, and the angle of
each of its axes (for an ordered one, whose j-th latent should be the j-th principal axis).

A tied linear AE at its optimum spans the top-m principal subspace (the rows of A, not the
individual eigenvectors). The largest principal angle between the row space of A and the top-m
PCA components is 0 degrees when the subspace is recovered exactly and 90 when some learned
direction is orthogonal to it. The ``pca`` variant is compared with centred PCA; the ``seed``
variant (no centring) with uncentred PCA, the best rank-m subspace through the origin.

Near-equal eigenvalues (lambda_m close to lambda_{m+1}) make the subspace ill-defined: the angle
can then be large while the reconstruction error still equals the PCA bound. The same holds
axis by axis: the j-th axis is defined only as well as lambda_j stands apart from its neighbours
(`eigengaps`), so an axis's angle is read where its gap is at least `RESOLVED_GAP`.
"""

import math

import torch
from torch import Tensor

from aelab.metrics.pca import fit_pca, principal_angles


def max_principal_angle_deg(model, x_train: Tensor, centred: bool | None = None) -> float:
    """Largest principal angle (degrees) between `model`'s encoder rows and PCA's top-m subspace.

    `model` is a `LinearAutoencoder`; `x_train` the training inputs (N, ...). `centred` defaults
    to the model's variant (``pca``: centred PCA, ``seed``: uncentred).
    """
    if centred is None:
        centred = getattr(model, "variant", "pca") == "pca"
    weight = model.encoder.weight.detach().cpu()  # (m, n): z = A x
    pca = fit_pca(x_train.detach().cpu(), weight.shape[0], centred=centred)
    angles = principal_angles(weight, pca.components)
    return math.degrees(float(angles.max()))


RESOLVED_GAP = 0.05  # an axis is identifiable when its eigenvalue is 5 % from its neighbours'


def eigengaps(eigenvalues: Tensor, m: int) -> Tensor:
    """(m,) relative gap of each of the top m eigenvalues to its nearest neighbour:
    min(lambda_{j-1} - lambda_j, lambda_j - lambda_{j+1}) / lambda_j (inf for a zero one)."""
    values = eigenvalues.double().clamp_min(0)
    gaps = []
    for j in range(m):
        near = [values[j - 1] - values[j]] if j > 0 else []
        near += [values[j] - values[j + 1]] if j + 1 < len(values) else []
        gap = min(near) if near else values.new_tensor(math.inf)
        gaps.append(gap / values[j] if values[j] > 0 else values.new_tensor(math.inf))
    return torch.stack(gaps) if gaps else values.new_zeros(0)


def axis_angles_deg(weight: Tensor, components: Tensor) -> Tensor:
    """(k,) angle in degrees between the j-th row of `weight` (m, n) and the j-th principal
    axis (row j of `components`), whatever the sign, for j < k = min(m, len(components))."""
    k = min(len(weight), len(components))
    rows = weight[:k].double()
    axes = components[:k].double().to(rows.device)
    cosines = (rows * axes).sum(dim=1).abs() / rows.norm(dim=1).clamp_min(1e-30)
    return torch.rad2deg(torch.arccos(cosines.clamp(-1.0, 1.0)))


def axis_report(model, pca) -> list[dict[str, float]]:
    """Per latent j of a linear AE: the angle of its encoder direction to PCA's j-th axis and
    that axis's eigen-gap; ``resolved`` when the gap is at least `RESOLVED_GAP` (only then is
    the j-th axis defined well enough for its angle to mean something)."""
    weight = model.encoder.weight.detach().cpu()
    angles = axis_angles_deg(weight, pca.components)
    gaps = eigengaps(pca.eigenvalues, len(angles))
    return [
        {
            "axis": j + 1,
            "angle_deg": float(angle),
            "eigengap": float(gap),
            "resolved": bool(gap >= RESOLVED_GAP),
        }
        for j, (angle, gap) in enumerate(zip(angles, gaps, strict=True))
    ]
