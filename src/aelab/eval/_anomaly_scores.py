"""Anomaly scores of an autoencoder: the samples it reconstructs badly are the odd ones.

Per-sample squared reconstruction error (``anomaly.score=recon``), or for a VAE
(``anomaly.score=elbo``) an estimate of -log p(x) chosen by ``anomaly.vae_score``:
``elbo`` = -(1/K) sum_k log p(x|z_k) + KL(q||p), ``iwae`` = -log (1/K) sum_k p(x|z_k) p(z_k) /
q(z_k|x), both with K = ``anomaly.samples`` seeded draws z_k ~ q(z|x), or ``plugin`` = the
training terms ``recon`` + ``kl`` with z at the posterior mean (not an ELBO estimate; for
``sigma: null`` its ``recon`` omits the constant (n/2) log pi).
"""

import torch
from torch import Tensor

from aelab.errors import ConfigError

SCORES = ("recon", "elbo")
VAE_SCORES = ("elbo", "iwae", "plugin")


def reconstruction_scores(run, x: Tensor) -> Tensor:
    """Per-sample summed squared error of the model's reconstruction, shape (N,).

    Scored batch by batch, so a memory-mapped split is never reconstructed whole.
    """

    def sse(batch: Tensor) -> Tensor:
        return ((run.model.reconstruct(batch) - batch) ** 2).flatten(1).sum(dim=1).double()

    return run.apply(sse, x)


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
            f"anomaly.score=elbo needs a variational model; {type(run.trained).__name__} has no "
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
                    f"{type(run.trained).__name__} has {', '.join(terms)}; use anomaly.score=recon"
                )
            scores[i] = float(terms["recon"] + terms["kl"])
    return scores


def model_scores(run, train: dict[str, Tensor], test: dict[str, Tensor], settings, seed: int):
    """Training and test scores of the model as ``settings`` choose, and their description.

    Returns ``(train_scores, test_scores, label, vae_score, samples)``; ``vae_score`` and
    ``samples`` are None where they do not apply.
    """
    check_score(settings)
    if settings.score != "elbo":
        train_scores = reconstruction_scores(run, train["x"])
        return train_scores, reconstruction_scores(run, test["x"]), "recon", None, None
    vae_score = settings.get("vae_score", "elbo")
    if vae_score == "plugin":
        return plugin_scores(run, train), plugin_scores(run, test), "-ELBO plug-in", "plugin", None
    samples = settings.get("samples", 16)
    train_scores = vae_scores(run, train["x"], vae_score, samples, seed)
    test_scores = vae_scores(run, test["x"], vae_score, samples, seed)
    return train_scores, test_scores, f"-{vae_score.upper()}, K={samples}", vae_score, samples
