"""How far the subspace a linear AE learned is from PCA's: its largest principal angle.

A tied linear AE at its optimum spans the top-m principal subspace (the rows of A, not the
individual eigenvectors). The largest principal angle between the row space of A and the top-m
PCA components is 0 degrees when the subspace is recovered exactly and 90 when some learned
direction is orthogonal to it. The ``pca`` variant is compared with centred PCA; the ``seed``
variant (no centring) with uncentred PCA, the best rank-m subspace through the origin.

Near-equal eigenvalues (lambda_m close to lambda_{m+1}) make the subspace ill-defined: the angle
can then be large while the reconstruction error still equals the PCA bound.
"""

import math

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
