"""VAE anomaly scores: the likelihood's normalisation, the K-sample ELBO, the IWAE bound, plug-in."""

import math
from pathlib import Path

import pytest
import torch
from torch.distributions import Bernoulli, Normal

from aelab.errors import ConfigError
from aelab.eval import Outputs, anomaly
from aelab.eval._anomaly_scores import plugin_scores, vae_scores
from aelab.models.vae import VariationalAutoencoder
from aelab.runs.checkpoints import LoadedRun
from tests.conftest import compose_config


def tiny_vae(likelihood: str = "bernoulli", sigma: float | None = None, m: int = 2):
    torch.manual_seed(0)
    output = "sigmoid" if likelihood == "bernoulli" else "identity"
    model = VariationalAutoencoder(
        [1, 4, 4], m, likelihood=likelihood, sigma=sigma, hidden_sizes=[8], output_activation=output
    )
    return model.eval()


def tiny_x(n: int = 6) -> torch.Tensor:
    return (torch.rand(n, 1, 4, 4, generator=torch.Generator().manual_seed(1)) > 0.5).float()


def _run(model, datamodule=None, batch_size: int = 64) -> LoadedRun:
    return LoadedRun(model.eval(), datamodule, {}, Path("x"), torch.device("cpu"), batch_size)


# --- the likelihood -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("likelihood", "sigma"), [("bernoulli", None), ("gaussian", 0.3), ("gaussian", None)]
)
def test_log_likelihood_is_the_normalised_density(likelihood, sigma):
    model, x = tiny_vae(likelihood, sigma), tiny_x()
    z = torch.randn(len(x), 2)
    with torch.no_grad():
        output = model.decoder(z)
        found = model.log_likelihood(x, z)
    if likelihood == "bernoulli":
        expected = Bernoulli(logits=output).log_prob(x).flatten(1).sum(1)
    else:  # sigma=null trains on the plain squared error: the Gaussian with sigma^2 = 1/2
        expected = Normal(output, sigma or math.sqrt(0.5)).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(found, expected)
    if sigma is None and likelihood == "gaussian":
        sse = ((output - x) ** 2).flatten(1).sum(1)
        torch.testing.assert_close(-found, sse + 16 / 2 * math.log(math.pi))


def test_log_likelihood_takes_a_batch_of_samples_per_input():
    model, x = tiny_vae(), tiny_x()
    z = torch.randn(5, len(x), 2)
    with torch.no_grad():
        batched = model.log_likelihood(x, z)
        one_by_one = torch.stack([model.log_likelihood(x, z[k]) for k in range(5)])
    assert batched.shape == (5, len(x))
    torch.testing.assert_close(batched, one_by_one)


# --- the bounds ---------------------------------------------------------------------------------
def exact_log_evidence(model, x: torch.Tensor) -> torch.Tensor:
    """log p(x) of a 1-d latent by quadrature on a fine grid."""
    grid = torch.linspace(-10, 10, 4001)
    z = grid[:, None, None].expand(-1, len(x), 1)
    with torch.no_grad():
        joint = model.log_likelihood(x, z) + Normal(0.0, 1.0).log_prob(grid)[:, None]
    return torch.logsumexp(joint, dim=0) + math.log(float(grid[1] - grid[0]))


def test_iwae_with_one_sample_is_the_one_sample_elbo_in_expectation():
    model, x = tiny_vae(), tiny_x()
    repeats = 4000
    x_rep = x.repeat(repeats, 1, 1, 1)
    with torch.no_grad():
        assert model.iwae_bound(x, 1).shape == (len(x),)
        iwae = model.iwae_bound(x_rep, 1, torch.Generator().manual_seed(0))
        elbo = model.elbo_terms(x_rep, 1, torch.Generator().manual_seed(0))["elbo"]
    # same draws; the difference log p(z) - log q(z|x) + KL has mean zero
    difference = (iwae - elbo).view(repeats, len(x))
    standard_error = difference.std(dim=0) / math.sqrt(repeats)
    assert difference.std() > 0.01  # a Monte-Carlo KL against the closed form: not identical
    assert (difference.mean(dim=0).abs() < 4 * standard_error + 1e-4).all()


def test_iwae_tightens_with_k_towards_the_exact_log_evidence():
    model, x = tiny_vae(m=1), tiny_x(4)
    with torch.no_grad():  # a sharp decoder and a posterior far wider than the true one
        for p in model.decoder.parameters():
            p.mul_(4)
        model.logvar_head.weight.zero_()
        model.logvar_head.bias.fill_(1.0)
    log_px = exact_log_evidence(model, x)
    repeats = 500
    x_rep = x.repeat(repeats, 1, 1, 1)
    bounds = {}
    with torch.no_grad():
        elbo = model.elbo_terms(x_rep, 1, torch.Generator().manual_seed(0))["elbo"]
        for k in (1, 8, 64):
            draws = model.iwae_bound(x_rep, k, torch.Generator().manual_seed(k))
            bounds[k] = draws.view(repeats, len(x)).mean(dim=0)
    elbo = elbo.view(repeats, len(x)).mean(dim=0)
    # as lower bounds on log p(x): ELBO ~ IWAE(1) < IWAE(8) < IWAE(64) <= log p(x)
    assert (bounds[1] < bounds[8]).all() and (bounds[8] < bounds[64]).all()
    assert (bounds[64] <= log_px + 0.05).all() and (elbo < log_px).all()
    assert (bounds[8] > elbo).all()
    assert ((log_px - bounds[64]) < 0.5 * (log_px - bounds[1])).all()  # the gap closes


# --- the aelab-eval scores ----------------------------------------------------------------------
def test_scores_are_seeded_chunked_and_distinct_from_the_plug_in():
    model, x = tiny_vae(), tiny_x(10)
    run = _run(model, batch_size=8)  # K = 4: chunks of 2 inputs
    elbo = vae_scores(run, x, "elbo", 4, seed=0)
    iwae = vae_scores(run, x, "iwae", 4, seed=0)
    plugin = plugin_scores(run, {"x": x, "label": torch.zeros(10, dtype=torch.long)})
    assert elbo.shape == iwae.shape == plugin.shape == (10,) and elbo.dtype == torch.float64
    torch.testing.assert_close(vae_scores(run, x, "elbo", 4, seed=0), elbo)
    assert not torch.allclose(vae_scores(run, x, "elbo", 4, seed=1), elbo)
    # on the same draws, -IWAE <= -(ELBO with the Monte-Carlo KL); here the closed-form KL
    assert iwae.mean() < elbo.mean()
    assert (plugin - elbo).abs().min() > 1e-3 and (plugin - iwae).abs().min() > 1e-3
    with torch.no_grad():  # plug-in: the training terms at the posterior mean
        mu, logvar = model.posterior(x)
        expected = -model.log_likelihood(x, mu) + (0.5 * (mu**2 + logvar.exp() - 1 - logvar)).sum(1)
    torch.testing.assert_close(plugin, expected.double(), rtol=1e-5, atol=1e-4)


def test_elbo_scores_need_a_variational_model():
    from aelab.models.mlp import MLPAutoencoder

    run = _run(MLPAutoencoder([1, 4, 4], 2, hidden_sizes=[8]))
    with pytest.raises(ConfigError, match="anomaly.score=recon"):
        vae_scores(run, tiny_x(), "elbo", 4)


@pytest.fixture
def mnist_run(one_class_mnist) -> LoadedRun:
    datamodule = one_class_mnist
    torch.manual_seed(0)
    model = VariationalAutoencoder(
        [1, 28, 28], 4, likelihood="bernoulli", hidden_sizes=[32], output_activation="sigmoid"
    )
    return _run(model, datamodule, batch_size=256)


@pytest.mark.parametrize("vae_score", ["elbo", "plugin"])
def test_eval_records_the_vae_score(mnist_run, tmp_path, vae_score):
    overrides = ["ckpt_path=x", "anomaly.score=elbo", f"anomaly.vae_score={vae_score}"]
    cfg = compose_config(*overrides, "anomaly.samples=4", config_name="eval")
    out = Outputs(tmp_path)
    try:
        found = anomaly.run(mnist_run, cfg, out)
    finally:
        out.close()
    assert found["score"] == "elbo" and found["vae_score"] == vae_score
    assert found["samples"] == (None if vae_score == "plugin" else 4)
    assert 0 <= found["model"]["auroc"] <= 1


@pytest.mark.parametrize(
    ("override", "key"),
    [("anomaly.vae_score=elbow", "anomaly.vae_score"), ("anomaly.samples=0", "anomaly.samples")],
)
def test_a_bad_score_setting_is_one_clear_line(mnist_run, tmp_path, override, key):
    cfg = compose_config("ckpt_path=x", "anomaly.score=elbo", override, config_name="eval")
    with pytest.raises(ConfigError, match=key) as refused:
        anomaly.available(mnist_run, cfg)  # refused before any task runs
    assert "\n" not in str(refused.value)
    with pytest.raises(ConfigError, match=key):
        anomaly.run(mnist_run, cfg, None)
