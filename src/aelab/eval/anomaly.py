"""Anomaly detection: does the model's score tell the odd test samples from the normal ones?

The protocol (``anomaly`` config group) says which test samples are anomalies:

- ``classes``: the test split, anomalies = classes other than ``normal_classes`` (default: the
  classes the model was trained on, ``datamodule.trained_classes``): MNIST one-class, terrain
  novelty;
- ``sampling_bias``: windows drawn again at an offset from a summit (``datamodule.offset_windows``:
  mountain windows of the synthetic terrain, local summits or anywhere on an elevation model),
  half at ``normal_offset``, half at ``anomalous_offset`` (the anomalies).

Scores: `aelab.eval._anomaly_scores` (reconstruction error, or a VAE's -ELBO / -IWAE / plug-in).
The baseline is the reconstruction error of closed-form PCA at the same latent size, fitted on
the same training data. Threshold (PyOD's contamination) and metrics (AUROC, AP, precision@n,
F1): `aelab.metrics.detection`.
"""

from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from omegaconf import DictConfig
from torch import Tensor

from aelab.errors import ConfigError
from aelab.eval._anomaly_scores import check_score, model_scores
from aelab.eval._outputs import Outputs
from aelab.metrics.detection import evaluate_detector
from aelab.metrics.pca import fit_pca
from aelab.runs.checkpoints import LoadedRun

NAME = "anomaly"
ORDER = 20
NEEDS = ("anomalies",)

PROTOCOLS = ("classes", "sampling_bias")


# --- which test samples are anomalies -----------------------------------------------------------
def class_ids(names: list[Any], class_names: list[str]) -> list[int]:
    """Class ids from names or ids (``anomaly.normal_classes``): a name first, else an id."""
    ids = []
    for name in names:
        if not isinstance(name, bool) and str(name) in class_names:
            ids.append(class_names.index(str(name)))
        elif isinstance(name, int) and not isinstance(name, bool) and 0 <= name < len(class_names):
            ids.append(name)
        else:
            raise ConfigError(
                f"unknown class {name!r} in anomaly.normal_classes; known: {', '.join(class_names)}"
                f" (or ids 0..{len(class_names) - 1}), e.g. anomaly.normal_classes=[{class_names[0]}]"
            )
    return ids


def sampling_bias_test_set(
    datamodule, size: int, normal_offset: str, anomalous_offset: str
) -> dict[str, Tensor]:
    """Windows half at `normal_offset`, half at `anomalous_offset` (the anomalies).

    Drawn with the checkpoint's data settings and seed, standardised with its training
    statistics, so the normal half comes from the training distribution; ``is_anomaly`` marks
    the second half.
    """
    parts = []
    for index, offset in enumerate((normal_offset, anomalous_offset)):
        part = dict(datamodule.offset_windows(size // 2, [datamodule.seed, 100 + index], offset))
        part["is_anomaly"] = torch.full((len(part["x"]),), index, dtype=torch.int64)
        parts.append(part)
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def anomaly_test_set(run: LoadedRun, settings) -> tuple[dict[str, Tensor], Tensor, str]:
    """The protocol's test set, which of its samples are anomalies, and a description."""
    dm = run.datamodule
    if settings.protocol == "sampling_bias":
        test = sampling_bias_test_set(
            dm, settings.test_size, settings.normal_offset, settings.anomalous_offset
        )
        description = f"windows at {settings.anomalous_offset} vs {settings.normal_offset}"
        return test, test.pop("is_anomaly").bool(), description
    if settings.protocol != "classes":
        raise ConfigError(
            f"unknown anomaly.protocol {settings.protocol!r}; choose {' or '.join(PROTOCOLS)}"
        )
    test = dm.split("test")
    names = settings.get("normal_classes")
    normal = class_ids(list(names), dm.class_names) if names else list(dm.trained_classes)
    is_anomaly = ~torch.isin(test["label"], torch.tensor(normal))
    description = "normal: " + ",".join(dm.class_names[c] for c in normal)
    return test, is_anomaly, description


# --- the task -----------------------------------------------------------------------------------
def available(run: LoadedRun, cfg: DictConfig) -> str | None:
    """None when the protocol's test set holds both normal and anomalous samples.

    Bad score settings and a protocol this run cannot follow (e.g. sampling bias on MNIST) raise
    `ConfigError`.
    """
    settings = cfg[NAME]
    check_score(settings)
    _, is_anomaly, description = anomaly_test_set(run, settings)
    if bool(is_anomaly.any()) and not bool(is_anomaly.all()):
        return None
    example = run.datamodule.class_names[0]
    if bool(is_anomaly.all()):
        return (
            f"anomaly.protocol={settings.protocol} finds no normal samples in this test split "
            f"({description}); name classes it holds, e.g. anomaly.normal_classes=[{example}]"
        )
    return (
        f"anomaly.protocol={settings.protocol} finds no anomalies in this test split, all of "
        f"its classes are normal ({description}); name fewer normal classes, e.g. "
        f"anomaly.normal_classes=[{example}], or evaluate a model trained on fewer classes "
        "(one-class; on terrain anomaly=terrain_novelty, or anomaly=terrain_sampling_bias)"
    )


def run(run: LoadedRun, cfg: DictConfig, out: Outputs) -> dict[str, Any]:
    """Scores, contamination threshold and detection metrics of the model and of PCA(m)."""
    settings = cfg[NAME]
    check_score(settings)
    test, is_anomaly, description = anomaly_test_set(run, settings)
    train = run.datamodule.split("train")
    train_scores, test_scores, label, vae_score, samples = model_scores(
        run, train, test, settings, cfg.seed
    )
    m = run.latent_dim
    baseline = fit_pca(train["x"], m, centred=True)  # the PCA detector, same data, same m
    pca_test = baseline.reconstruction_sse(test["x"])
    pca_train = baseline.reconstruction_sse(train["x"])
    model = evaluate_detector(train_scores, test_scores, is_anomaly, settings.contamination)
    pca = evaluate_detector(pca_train, pca_test, is_anomaly, settings.contamination)
    names = (f"model ({label})", f"PCA m={m}")
    figure = score_histogram(
        dict(zip(names, (test_scores, pca_test), strict=True)),
        is_anomaly,
        dict(zip(names, (model["threshold"], pca["threshold"]), strict=True)),
        f"{description}: AUROC model {model['auroc']:.3f}, PCA {pca['auroc']:.3f}",
    )
    return {
        "protocol": settings.protocol,
        "description": description,
        "score": settings.score,
        "vae_score": vae_score,  # elbo | iwae | plugin with score=elbo, else null
        "samples": samples,  # posterior samples K of elbo / iwae
        "contamination": settings.contamination,
        "num_test": len(is_anomaly),
        "num_anomalies": int(is_anomaly.sum()),
        "model": model,
        "pca": pca,
        "figures": [out.figure("anomaly_scores", figure)],
    }


def headline(result: dict[str, Any]) -> dict[str, float]:
    metrics = {}
    for key in ("auroc", "average_precision", "precision_at_n", "f1"):
        metrics[f"anomaly/{key}"] = result["model"][key]
        metrics[f"anomaly/pca_{key}"] = result["pca"][key]
    return metrics


# --- figure -------------------------------------------------------------------------------------
def score_histogram(
    scores: dict[str, Tensor], is_anomaly: Tensor, thresholds: dict[str, float], title: str
) -> Figure:
    """Histograms of normal vs anomalous scores, one panel per detector, threshold marked.

    Positive scores (squared errors) are shown on a log10 axis; scores that can be negative
    (a VAE's -ELBO under a continuous likelihood) as they are.
    """
    figure = Figure(figsize=(5 * len(scores), 3.6), layout="constrained")
    axes = figure.subplots(1, len(scores), squeeze=False)[0]
    anomalous = is_anomaly.bool()
    for ax, (name, s) in zip(axes, scores.items(), strict=True):
        s, threshold = s.double(), torch.tensor(thresholds[name], dtype=torch.float64)
        logarithmic = bool((s > 0).all())
        if logarithmic:
            s, threshold = s.clamp_min(1e-12).log10(), threshold.clamp_min(1e-12).log10()
        s = s.numpy()
        bins = np.histogram_bin_edges(s, bins=50)  # shared, so the two histograms compare
        ax.hist(s[~anomalous.numpy()], bins=bins, alpha=0.6, density=True, label="normal")
        ax.hist(s[anomalous.numpy()], bins=bins, alpha=0.6, density=True, label="anomalous")
        ax.axvline(threshold.item(), color="k", linestyle="--", label="threshold")
        ax.set_xlabel(f"{'log10 ' if logarithmic else ''}score ({name})")
        ax.set_ylabel("density")
        ax.legend(fontsize=8)
    figure.suptitle(title)
    return figure
