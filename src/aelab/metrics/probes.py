"""Linear probes: which intrinsic degrees of freedom can be read off a code linearly.

- ``ridge_r2``: ridge regression from z to each target column (terrain parameters and
  descriptors), fitted on one set and scored on a held-out one: R^2 = 1 - SS_res / SS_tot per
  target (1: captured linearly, about 0: absent; NaN for a target constant on the held-out set).
- ``ridge_accuracy``: a one-vs-rest ridge classifier from z to the class label (MNIST digit,
  terrain class): closed form, accuracy on the held-out set.
- ``per_class_r2``: the same R^2 with a probe fitted and scored within each class. Pooled over
  classes, a parameter that exists only for some classes (tilt of flat ground, building density,
  peak height) mixes "how much of it is coded" with "which class is it"; within a class it does
  not. Targets constant within a class (undefined there) are left out.
- ``order_summary``: mean R^2 of the descriptors by order (0: mean altitude, 1: slopes,
  2: curvatures), which degrees of freedom are captured order by order.

All are closed-form least squares in float64 on codes standardised with the fitting set's
statistics: deterministic, and instant next to an iterative logistic regression. Their figures
and Markdown tables are in `aelab.metrics.probe_tables`.
"""

import math

import torch
from torch import Tensor

# Order of each terrain descriptor: 0 mean altitude, 1 slopes, 2 curvatures.
DESCRIPTOR_ORDERS = {
    "mean_altitude": 0,
    "slope_x": 1,
    "slope_y": 1,
    "curv_xx": 2,
    "curv_xy": 2,
    "curv_yy": 2,
}
MIN_CLASS_SAMPLES = 10  # a class is probed with at least this many fitting and held-out samples


def ridge_predict(z_fit: Tensor, y_fit: Tensor, z_eval: Tensor, alpha: float = 1e-3) -> Tensor:
    """Fit ridge regression z -> y (columns) on one set, predict on another, in float64.

    Codes are standardised with the fitting set's statistics; ``alpha`` is the penalty per
    sample on the standardised codes; the intercept is not penalised.
    """
    z_fit, z_eval = z_fit.flatten(1).double(), z_eval.flatten(1).double()
    mean, std = z_fit.mean(dim=0), z_fit.std(dim=0).clamp_min(1e-12)
    z_fit, z_eval = (z_fit - mean) / std, (z_eval - mean) / std
    y_fit = y_fit.double().reshape(len(y_fit), -1)
    y_mean = y_fit.mean(dim=0)
    gram = z_fit.T @ z_fit + alpha * len(z_fit) * torch.eye(z_fit.shape[1], dtype=z_fit.dtype)
    weights = torch.linalg.solve(gram, z_fit.T @ (y_fit - y_mean))
    return z_eval @ weights + y_mean


def ridge_r2(
    z_fit: Tensor, y_fit: Tensor, z_eval: Tensor, y_eval: Tensor, alpha: float = 1e-3
) -> Tensor:
    """Held-out R^2 of a ridge regression z -> y for every column of y, shape (targets,)."""
    predicted = ridge_predict(z_fit, y_fit, z_eval, alpha)
    y_eval = y_eval.double().reshape(len(y_eval), -1)
    residual = ((y_eval - predicted) ** 2).sum(dim=0)
    total = ((y_eval - y_eval.mean(dim=0)) ** 2).sum(dim=0)
    r2 = 1 - residual / total.clamp_min(1e-300)
    return torch.where(is_constant(y_eval), math.nan, r2)


def ridge_accuracy(
    z_fit: Tensor, labels_fit: Tensor, z_eval: Tensor, labels_eval: Tensor, alpha: float = 1e-3
) -> float:
    """Held-out accuracy of a one-vs-rest ridge classifier (regression onto one-hot labels)."""
    num_classes = int(max(labels_fit.max(), labels_eval.max())) + 1
    one_hot = torch.nn.functional.one_hot(labels_fit.long(), num_classes)
    predicted = ridge_predict(z_fit, one_hot, z_eval, alpha).argmax(dim=1)
    return float((predicted == labels_eval.long()).double().mean())


def is_constant(y: Tensor) -> Tensor:
    """Columns of y (N, targets) that do not vary (to float precision), shape (targets,)."""
    y = y.double().reshape(len(y), -1)
    return y.std(dim=0) <= 1e-9 * (1 + y.abs().max(dim=0).values)


def per_class_r2(
    fit: tuple[Tensor, Tensor, Tensor],
    held_out: tuple[Tensor, Tensor, Tensor],
    names: list[str],
    class_names: list[str],
    alpha: float = 1e-3,
) -> dict[str, dict[str, float]]:
    """{class: {target: held-out R^2}} of probes fitted within each class.

    ``fit`` and ``held_out`` are (codes, targets, labels). A class needs ``MIN_CLASS_SAMPLES``
    fitting and held-out samples; a target constant within a class (in either set) is left out.
    """
    z_fit, y_fit, labels_fit = fit
    z_eval, y_eval, labels_eval = held_out
    table = {}
    for label in torch.unique(labels_eval).tolist():
        in_fit, in_eval = labels_fit == label, labels_eval == label
        if min(int(in_fit.sum()), int(in_eval.sum())) < MIN_CLASS_SAMPLES:
            continue
        varies = ~(is_constant(y_fit[in_fit]) | is_constant(y_eval[in_eval]))
        if not varies.any():
            continue
        r2 = ridge_r2(
            z_fit[in_fit],
            y_fit[in_fit][:, varies],
            z_eval[in_eval],
            y_eval[in_eval][:, varies],
            alpha,
        )
        kept = [name for name, keep in zip(names, varies.tolist(), strict=True) if keep]
        name = class_names[label] if label < len(class_names) else str(label)
        table[name] = dict(zip(kept, r2.tolist(), strict=True))
    return table


def order_summary(r2: dict[str, float]) -> dict[str, float]:
    """Mean R^2 of the descriptors of each order present ("order_0", ...); below 0 counts as 0."""
    orders: dict[str, list[float]] = {}
    for name, order in DESCRIPTOR_ORDERS.items():
        if name in r2 and math.isfinite(r2[name]):
            orders.setdefault(f"order_{order}", []).append(max(r2[name], 0.0))
    return {order: sum(values) / len(values) for order, values in sorted(orders.items())}


def majority_rate(labels: Tensor) -> float:
    """Accuracy of always answering the most frequent label (the chance level of a probe)."""
    return float(torch.bincount(labels.long()).max() / len(labels))
