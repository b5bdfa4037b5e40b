"""Anomaly detection with an autoencoder: the samples it reconstructs badly are the odd ones.

- Scores: per-sample squared reconstruction error (``recon``), or for a VAE (``elbo``) an
  estimate of -log p(x) chosen by ``vae_score``: ``elbo`` = -(1/K) sum_k log p(x|z_k) + KL(q||p),
  ``iwae`` = -log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x), both with K = ``samples`` seeded draws
  z_k ~ q(z|x), or ``plugin`` = the training terms ``recon`` + ``kl`` with z at the posterior mean
  (not an ELBO estimate; for ``sigma: null`` its ``recon`` omits the constant (n/2) log pi).
  The baseline is the same error of closed-form PCA at the same latent size, fitted on the same
  training data.
- Threshold: PyOD's semantics: a ``contamination`` fraction c of the *training* scores lies above
  it, ``threshold = percentile(train_scores, 100 (1 - c))`` (linear interpolation), and a sample
  is flagged when its score is strictly greater.
- Metrics (torchmetrics functional API): AUROC, average precision, precision@n (n = the number
  of true anomalies, as PyOD's ``precision_n_scores``), and precision / recall / F1 of the
  thresholded decision.
"""

from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
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
from aelab.metrics.pca import fit_pca

SCORES = ("recon", "elbo")
VAE_SCORES = ("elbo", "iwae", "plugin")


# --- scores -------------------------------------------------------------------------------------
def reconstruction_scores(run, x: Tensor) -> Tensor:
    """Per-sample summed squared error of the model's reconstruction, shape (N,)."""
    x_hat = run.reconstruct(x)
    return ((x_hat - x) ** 2).flatten(1).sum(dim=1).double()


def check_score(settings) -> None:
    """Raise `ConfigError` for an unknown ``score`` or ``vae_score`` or a bad ``samples``."""
    if settings.score not in SCORES:
        raise ConfigError(f"unknown anomaly.score {settings.score!r}; choose {', '.join(SCORES)}")
    vae_score, samples = settings.get("vae_score", "elbo"), settings.get("samples", 16)
    if vae_score not in VAE_SCORES:
        raise ConfigError(
            f"unknown anomaly.vae_score {vae_score!r}; choose elbo (Monte-Carlo negative ELBO), "
            "iwae (importance-weighted bound) or plugin (posterior mean, the training terms)"
        )
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ConfigError(
            f"anomaly.samples must be a positive integer (posterior samples per input), got "
            f"{samples!r}; e.g. anomaly.samples=16"
        )


def vae_scores(run, x: Tensor, kind: str, samples: int, seed: int = 0) -> Tensor:
    """Per-sample -ELBO estimate (``elbo``) or -IWAE bound (``iwae``), K = `samples`, shape (N,).

    The K draws of a chunk of inputs are one decoder batch of about ``run.batch_size``, on the
    model's device, from a generator seeded with `seed` (same seed, batch size, device: same
    scores).
    """
    model = run.model
    if not callable(getattr(model, "iwae_bound", None)):
        raise ConfigError(
            f"anomaly.score=elbo needs a variational model; {type(model).__name__} has no "
            "posterior to sample; use anomaly.score=recon"
        )
    generator = torch.Generator(device=run.device).manual_seed(seed)
    chunk = max(1, run.batch_size // samples)
    parts = []
    with torch.no_grad():
        for i in range(0, len(x), chunk):
            xb = x[i : i + chunk].to(run.device)
            if kind == "iwae":
                bound = model.iwae_bound(xb, samples, generator)
            else:
                bound = model.elbo_terms(xb, samples, generator)["elbo"]
            parts.append(-bound.double().cpu())
    return torch.cat(parts)


def plugin_scores(run, split: dict[str, Tensor]) -> Tensor:
    """Per-sample ``recon`` + ``kl`` terms of ``loss_terms`` (z = posterior mean), shape (N,).

    A VAE averages its terms over the batch, so each sample is passed alone: exact for any
    likelihood (``recon`` is the negative log-likelihood, e.g. the BCE of a Bernoulli decoder),
    about a millisecond per sample.
    """
    model = run.model
    scores = torch.empty(len(split["x"]), dtype=torch.float64)
    with torch.no_grad():
        for i in range(len(scores)):
            sample = {k: v[i : i + 1].to(run.device) for k, v in split.items()}
            terms, _, _ = model.loss_terms(sample, train=False)
            if "kl" not in terms:
                raise ConfigError(
                    f"anomaly.score=elbo needs a variational model whose loss has a kl term; "
                    f"{type(model).__name__} has {', '.join(terms)}; use anomaly.score=recon"
                )
            scores[i] = float(terms["recon"] + terms["kl"])
    return scores


# --- threshold and metrics ----------------------------------------------------------------------
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
    threshold = contamination_threshold(train_scores, contamination)
    metrics = detection_metrics(test_scores, is_anomaly, threshold)
    metrics["threshold"] = threshold
    metrics["train_flagged_fraction"] = float((train_scores > threshold).double().mean())
    return metrics


# --- which test samples are anomalies -----------------------------------------------------------
def training_classes(datamodule) -> list[int]:
    """Class ids the model learned from: MNIST ``digits``, terrain classes of weight > 0."""
    digits = getattr(datamodule, "digits", None)
    if digits:
        return sorted(int(d) for d in digits)
    generator = getattr(datamodule, "generator", None)
    if generator is not None:
        return [i for i, p in enumerate(generator.probabilities) if p > 0]
    return list(range(len(datamodule.class_names)))


def class_ids(names: list[Any], class_names: list[str]) -> list[int]:
    """Class ids from names or ids (``anomaly.normal_classes``)."""
    ids = []
    for name in names:
        if str(name) in class_names:
            ids.append(class_names.index(str(name)))
        elif isinstance(name, int) and 0 <= name < len(class_names):
            ids.append(name)
        else:
            raise ConfigError(
                f"unknown class {name!r} in anomaly.normal_classes; known: {', '.join(class_names)}"
            )
    return ids


def sampling_bias_test_set(
    datamodule, size: int, normal_offset: str, anomalous_offset: str
) -> dict[str, Tensor]:
    """Mountain windows, half at `normal_offset`, half at `anomalous_offset` (the anomalies).

    Generated with the checkpoint's generator settings and seed, standardised with its training
    statistics, so the normal half is drawn from the training distribution.
    """
    from aelab.data.terrain import TerrainGenerator

    generator = getattr(datamodule, "generator", None)
    if generator is None:
        raise ConfigError(
            "anomaly.protocol=sampling_bias needs a terrain checkpoint (mountain windows); "
            "this one was trained on other data; use anomaly=classes"
        )
    parts = []
    for index, offset in enumerate((normal_offset, anomalous_offset)):
        patches = TerrainGenerator(
            datamodule.resolution, {"mountain": 1.0}, offset, generator.roughness_scale
        ).generate(size // 2, seed=[datamodule.seed, 100 + index])
        x = (patches.heights - datamodule.altitude_mean) / datamodule.altitude_std
        parts.append(
            {
                "x": torch.as_tensor(x, dtype=torch.float32).unsqueeze(1),
                "label": torch.as_tensor(patches.labels, dtype=torch.int64),
                "params": torch.as_tensor(patches.params, dtype=torch.float32),
                "descriptors": torch.as_tensor(patches.descriptors, dtype=torch.float32),
                "is_anomaly": torch.full((len(x),), index, dtype=torch.int64),
            }
        )
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


# --- figure -------------------------------------------------------------------------------------
def score_histogram(
    scores: dict[str, Tensor], is_anomaly: Tensor, thresholds: dict[str, float], title: str
) -> Figure:
    """Histograms of normal vs anomalous scores, one panel per detector, threshold marked."""
    figure = Figure(figsize=(5 * len(scores), 3.6), layout="constrained")
    axes = figure.subplots(1, len(scores), squeeze=False)[0]
    anomalous = is_anomaly.bool()
    for ax, (name, s) in zip(axes, scores.items(), strict=True):
        s = s.double().clamp_min(1e-12).log10().numpy()
        bins = np.histogram_bin_edges(s, bins=50)  # shared, so the two histograms compare
        ax.hist(s[~anomalous.numpy()], bins=bins, alpha=0.6, density=True, label="normal")
        ax.hist(s[anomalous.numpy()], bins=bins, alpha=0.6, density=True, label="anomalous")
        ax.axvline(
            torch.tensor(thresholds[name]).clamp_min(1e-12).log10().item(),
            color="k",
            linestyle="--",
            label="threshold",
        )
        ax.set_xlabel(f"log10 score ({name})")
        ax.set_ylabel("density")
        ax.legend(fontsize=8)
    figure.suptitle(title)
    return figure


# --- the aelab-eval task ------------------------------------------------------------------------
def anomaly_test_set(run, settings) -> tuple[dict[str, Tensor], Tensor, str]:
    """The protocol's test set, which of its samples are anomalies, and a description."""
    dm = run.datamodule
    if settings.protocol == "sampling_bias":
        test = sampling_bias_test_set(
            dm, settings.test_size, settings.normal_offset, settings.anomalous_offset
        )
        description = f"mountain windows, {settings.anomalous_offset} vs {settings.normal_offset}"
        return test, test.pop("is_anomaly").bool(), description
    if settings.protocol != "classes":
        raise ConfigError(
            f"unknown anomaly.protocol {settings.protocol!r}; choose classes or sampling_bias"
        )
    test = dm.split("test")
    names = settings.get("normal_classes")
    normal = class_ids(list(names), dm.class_names) if names else training_classes(dm)
    is_anomaly = ~torch.isin(test["label"], torch.tensor(normal))
    description = "normal: " + ",".join(dm.class_names[c] for c in normal)
    return test, is_anomaly, description


def has_anomalies(run, settings) -> bool:
    """Whether the protocol's test set holds both normal and anomalous samples.

    Raises `ConfigError` for a protocol this run cannot follow (e.g. sampling bias on MNIST)
    and for bad score settings, before any task runs.
    """
    check_score(settings)
    _, is_anomaly, _ = anomaly_test_set(run, settings)
    return bool(is_anomaly.any()) and not bool(is_anomaly.all())


def check_protocol(run, settings) -> None:
    """Raise `ConfigError` unless the protocol gives both normal and anomalous test samples."""
    if not has_anomalies(run, settings):
        raise ConfigError(
            f"task=anomaly: anomaly.protocol={settings.protocol} finds no anomalies in this test "
            "split (the model was trained on every class in it); train one-class "
            "(data.digits=[d]) or without a class (then anomaly=terrain_novelty), or use "
            "anomaly=terrain_sampling_bias on a terrain model"
        )


def evaluate_run(run, settings, out, seed: int = 0) -> dict[str, Any]:
    """Scores, contamination threshold and detection metrics of the model and of PCA(m)."""
    check_score(settings)
    test, is_anomaly, description = anomaly_test_set(run, settings)
    train = run.datamodule.split("train")
    vae_score = samples = None
    if settings.score == "elbo":
        vae_score = settings.get("vae_score", "elbo")
        if vae_score == "plugin":
            train_scores, test_scores = plugin_scores(run, train), plugin_scores(run, test)
            label = "-ELBO plug-in"
        else:
            samples = settings.get("samples", 16)
            train_scores = vae_scores(run, train["x"], vae_score, samples, seed)
            test_scores = vae_scores(run, test["x"], vae_score, samples, seed)
            label = f"-{vae_score.upper()}, K={samples}"
    else:
        train_scores = reconstruction_scores(run, train["x"])
        test_scores = reconstruction_scores(run, test["x"])
        label = "recon"
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
