"""Scoring an anomaly detector: PyOD's contamination threshold and the detection metrics.

- Threshold: a ``contamination`` fraction c of the *training* scores lies above it,
  ``threshold = percentile(train_scores, 100 (1 - c))`` (linear interpolation), and a sample is
  flagged when its score is strictly greater.
- Metrics (torchmetrics functional API): AUROC, average precision, precision@n (n = the number
  of true anomalies, as PyOD's ``precision_n_scores``), and precision / recall / F1 of the
  thresholded decision.
"""

import torch
from torch import Tensor
from torchmetrics.functional.classification import (
    binary_auroc,
    binary_average_precision,
    binary_f1_score,
    binary_precision,
    binary_recall,
)
from torchmetrics.functional.retrieval import retrieval_precision

from aelab.errors import ConfigError


def contamination_threshold(train_scores: Tensor, contamination: float) -> float:
    """PyOD's threshold: the 100 (1 - c) percentile of the training scores."""
    if not (isinstance(contamination, int | float) and 0 < contamination <= 0.5):
        raise ConfigError(
            f"anomaly.contamination must be a fraction in (0, 0.5] (the share of training "
            f"samples taken as outliers, as in PyOD), got {contamination!r}; e.g. 0.1"
        )
    return float(torch.quantile(train_scores.double(), 1 - contamination))


def detection_metrics(scores: Tensor, is_anomaly: Tensor, threshold: float) -> dict[str, float]:
    """Ranking and thresholded metrics of anomaly `scores` (higher = more anomalous)."""
    target = is_anomaly.long()
    positives = int(target.sum())
    if positives == 0 or positives == len(target):
        raise ConfigError(
            "the test set needs both normal and anomalous samples to score a detector; "
            f"it has {positives} anomalies out of {len(target)}"
        )
    scores = scores.double()
    # torchmetrics squashes scores outside [0, 1] through a sigmoid, which would tie large
    # errors; an increasing map into [0, 1] keeps the ranking exactly.
    unit = (scores - scores.min()) / (scores.max() - scores.min()).clamp_min(1e-300)
    flagged = (scores > threshold).long()
    return {
        "auroc": float(binary_auroc(unit, target)),
        "average_precision": float(binary_average_precision(unit, target)),
        "precision_at_n": float(retrieval_precision(unit, target.bool(), top_k=positives)),
        "f1": float(binary_f1_score(flagged, target)),
        "precision": float(binary_precision(flagged, target)),
        "recall": float(binary_recall(flagged, target)),
        "flagged_fraction": float(flagged.double().mean()),
    }


def evaluate_detector(
    train_scores: Tensor, test_scores: Tensor, is_anomaly: Tensor, contamination: float
) -> dict[str, float]:
    """Threshold from the training scores, then the metrics of the test scores under it."""
    threshold = contamination_threshold(train_scores, contamination)
    metrics = detection_metrics(test_scores, is_anomaly, threshold)
    metrics["threshold"] = threshold
    metrics["train_flagged_fraction"] = float((train_scores > threshold).double().mean())
    return metrics
