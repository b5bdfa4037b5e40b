"""Evaluation maths on small cases with known answers: detection metrics with ties, the linear
probes' fit on the training split, and the anomaly scores of a real (tiny) VAE."""

import math
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from aelab.data.terrain import DESCRIPTOR_NAMES, PARAM_NAMES
from aelab.eval._anomaly_scores import plugin_scores, vae_scores
from aelab.eval._probes import evaluate as evaluate_probes
from aelab.metrics.detection import detection_metrics, evaluate_detector
from aelab.models.vae import VariationalAutoencoder
from aelab.runs.checkpoints import LoadedRun


# --- detection metrics --------------------------------------------------------------------------
def test_detection_metrics_with_ties_by_hand():
    # normal scores 1, 2, 3, 3; anomalous 3, 4
    scores = torch.tensor([1.0, 2.0, 3.0, 3.0, 3.0, 4.0])
    is_anomaly = torch.tensor([0, 0, 0, 0, 1, 1]).bool()
    # training scores 0..4, contamination 0.5: threshold = their median, 2.0; strictly above it
    # are 3 and 4: 2 of 5 flagged
    metrics = evaluate_detector(torch.tensor([0.0, 1, 2, 3, 4]), scores, is_anomaly, 0.5)
    assert metrics["threshold"] == 2.0
    assert metrics["train_flagged_fraction"] == pytest.approx(0.4)
    # AUROC = P(anomalous > normal) + P(tie) / 2 over the 2 x 4 pairs:
    # anomaly 3 beats 1 and 2 and ties two 3s (2 + 2/2), anomaly 4 beats all four: 7 / 8
    assert metrics["auroc"] == pytest.approx(0.875)
    # AP, tied scores one threshold: >= 4: precision 1, recall 1/2; >= 3: precision 2/4, recall 1
    # AP = 1/2 * 1 + 1/2 * 1/2
    assert metrics["average_precision"] == pytest.approx(0.75)
    # flagged (> 2): 3, 3, 3, 4: 2 true of 4, both anomalies found
    assert metrics["precision"] == pytest.approx(0.5)
    assert metrics["recall"] == pytest.approx(1.0)
    assert metrics["f1"] == pytest.approx(2 / 3)  # 2 P R / (P + R) = 1 / 1.5
    assert metrics["flagged_fraction"] == pytest.approx(4 / 6)


def test_detection_metrics_of_a_poor_ranking_by_hand():
    # ranked: 0.9 normal, 0.8 anomalous, 0.3 normal, 0.1 anomalous
    scores = torch.tensor([0.1, 0.9, 0.8, 0.3])
    is_anomaly = torch.tensor([1, 0, 1, 0]).bool()
    metrics = detection_metrics(scores, is_anomaly, threshold=0.5)
    assert metrics["auroc"] == pytest.approx(0.25)  # of 4 pairs only 0.8 > 0.3 is right
    # AP: at 0.8 precision 1/2, recall 1/2; at 0.1 precision 2/4, recall 1: 1/2 * 1/2 * 2
    assert metrics["average_precision"] == pytest.approx(0.5)
    assert metrics["precision_at_n"] == pytest.approx(0.5)  # top 2: 0.9 (normal), 0.8
    assert metrics["precision"] == pytest.approx(0.5)  # flagged 0.9 and 0.8
    assert metrics["recall"] == pytest.approx(0.5)


def test_the_threshold_interpolates_the_training_percentile():
    # 90th percentile of 0, 1, 2, 3, 10: position 0.9 * 4 = 3.6, so 3 + 0.6 * (10 - 3) = 7.2
    train = torch.tensor([0.0, 1, 2, 3, 10])
    metrics = evaluate_detector(train, torch.tensor([1.0, 8.0]), torch.tensor([0, 1]).bool(), 0.1)
    assert metrics["threshold"] == pytest.approx(7.2)
    assert metrics["train_flagged_fraction"] == pytest.approx(0.2)


# --- linear probes: fitted on the training split, scored on the test split ---------------------
TARGETS = len(DESCRIPTOR_NAMES) + len(PARAM_NAMES)


class Intrinsic:
    """Data whose every intrinsic column is a linear function of the 6 inputs."""

    class_names = ["a", "b"]
    intrinsics = {"descriptors": list(DESCRIPTOR_NAMES), "params": list(PARAM_NAMES)}

    def __init__(self, splits: dict[str, dict[str, torch.Tensor]]) -> None:
        self.splits = splits

    def split(self, name: str) -> dict[str, torch.Tensor]:
        return self.splits[name]


def intrinsic_split(x: torch.Tensor, mixing: torch.Tensor) -> dict[str, torch.Tensor]:
    y = x.flatten(1) @ mixing + 5.0
    return {
        "x": x,
        "label": torch.arange(len(x)) % 2,
        "descriptors": y[:, : len(DESCRIPTOR_NAMES)],
        "params": y[:, len(DESCRIPTOR_NAMES) :],
    }


class CodeIsInput:
    """A run whose code is its input (m = 6): every target is linear in the code."""

    latent_dim = 6

    def __init__(self, datamodule: Intrinsic) -> None:
        self.datamodule = datamodule

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


class Figures:
    """Stands in for the evaluation outputs: figures named, not drawn to files."""

    def __init__(self, folder: Path) -> None:
        self.dir = folder

    def figure(self, name: str, figure) -> str:
        return f"{name}.png"


def probe(test_sign: float, tmp_path: Path, fit_on: str = "train") -> dict:
    """Held-out R^2 of every target, model and PCA codes, with the test relation times sign."""
    generator = torch.Generator().manual_seed(0)
    mixing = torch.randn(6, TARGETS, generator=generator, dtype=torch.float64)
    x_train = torch.randn(200, 1, 2, 3, generator=generator, dtype=torch.float64) + 1.0
    x_test = torch.randn(100, 1, 2, 3, generator=generator, dtype=torch.float64)
    x_test -= x_test.mean(dim=0)  # centred: the R^2 below is exact
    test = intrinsic_split(x_test, test_sign * mixing)
    run = CodeIsInput(Intrinsic({"train": intrinsic_split(x_train, mixing), "test": test}))
    settings = OmegaConf.create({"fit_on": fit_on, "max_fit": 10000, "ridge_alpha": 1e-12})
    return evaluate_probes(run, settings, test, run.embed(test["x"]), Figures(tmp_path))


def test_probes_fit_on_the_training_split_and_score_the_test_split(tmp_path):
    same = probe(1.0, tmp_path)
    assert same["probe_fit_on"] == "train"
    assert (same["probe_num_fit"], same["probe_num_held_out"]) == (200, 100)
    for latent in ("model", "pca_m6"):
        r2 = torch.tensor(list(same["r2"][latent].values()), dtype=torch.float64)
        assert len(r2) == TARGETS and (r2 > 1 - 1e-9).all(), latent
    # the test split's relation is the opposite one: y = -x M + c. Fitted on train, the
    # prediction x M + c misses by 2 x M, so R^2 = 1 - 4 sum (x M)^2 / sum (x M)^2 = -3 (x
    # centred); a probe fitted on test data would find R^2 = 1
    flipped = probe(-1.0, tmp_path)
    for latent in ("model", "pca_m6"):
        r2 = torch.tensor(list(flipped["r2"][latent].values()), dtype=torch.float64)
        torch.testing.assert_close(r2, torch.full_like(r2, -3.0), atol=1e-6, rtol=0)
    halves = probe(-1.0, tmp_path, fit_on="test_half")
    assert halves["probe_fit_on"] == "test_half" and halves["probe_num_fit"] == 50
    assert min(halves["r2"]["model"].values()) > 1 - 1e-9


def test_auto_fits_on_train_when_the_training_split_holds_every_test_class(tmp_path):
    assert probe(-1.0, tmp_path, fit_on="auto")["probe_fit_on"] == "train"


# --- anomaly scores of a real VAE ---------------------------------------------------------------
def tiny_vae(sigma: float | None = None, seed: int = 0) -> VariationalAutoencoder:
    torch.manual_seed(seed)
    model = VariationalAutoencoder(
        [1, 4, 4], 3, likelihood="gaussian", sigma=sigma, hidden_sizes=[8]
    )
    return model.eval()


def tiny_x(n: int = 6) -> torch.Tensor:
    return torch.randn(n, 1, 4, 4, generator=torch.Generator().manual_seed(1))


def run_of(model, batch_size: int) -> LoadedRun:
    return LoadedRun(model, None, {}, Path("x"), torch.device("cpu"), batch_size)


def test_every_vae_score_is_finite_per_sample_and_seeded():
    x = tiny_x(10)
    run = run_of(tiny_vae(), batch_size=16)  # K = 4: chunks of 4 inputs
    for kind in ("elbo", "iwae"):
        scores = vae_scores(run, x, kind, 4, seed=0)
        assert scores.shape == (10,) and scores.dtype == torch.float64
        assert torch.isfinite(scores).all(), kind
        assert torch.equal(vae_scores(run, x, kind, 4, seed=0), scores), kind
        assert not torch.allclose(vae_scores(run, x, kind, 4, seed=1), scores), kind
    plugin = plugin_scores(run, {"x": x, "label": torch.zeros(10, dtype=torch.long)})
    assert plugin.shape == (10,) and torch.isfinite(plugin).all()


def test_iwae_is_the_log_mean_importance_weight_and_bounds_the_elbo():
    """IWAE(K) = -log (1/K) sum_k w_k; one draw (K = 1) scores -log w_k itself, and the K draws
    of one input come in the same order as the inputs repeated K times (one chunk each)."""
    k, x = 2000, tiny_x()
    run = run_of(tiny_vae(), batch_size=k * len(x))
    iwae = vae_scores(run, x, "iwae", k, seed=0)
    elbo = vae_scores(run, x, "elbo", k, seed=0)
    log_weights = -vae_scores(run, x.repeat(k, 1, 1, 1), "iwae", 1, seed=0).view(k, len(x))
    torch.testing.assert_close(-iwae, log_weights.logsumexp(dim=0) - math.log(k))
    # Jensen on the same draws: -log mean w <= -mean log w, per sample
    assert (iwae <= -log_weights.mean(dim=0)).all()
    # E[log w] is the ELBO with its KL in closed form: equal within the Monte-Carlo error
    standard_error = log_weights.std(dim=0) / math.sqrt(k)
    assert ((elbo + log_weights.mean(dim=0)).abs() < 5 * standard_error).all()
    assert (iwae < elbo).all()  # the bound is tighter, sample by sample


@pytest.mark.parametrize(("sigma", "constant"), [(None, 16 / 2 * math.log(math.pi)), (0.5, 0.0)])
def test_with_a_point_posterior_the_elbo_score_is_the_plugin_score(sigma, constant):
    """q(z|x) of std e^-10 samples its mean: the ELBO score becomes the training terms at the
    posterior mean, which for sigma=null leave out (n/2) log pi of -log p(x|z) (n = 16)."""
    model = tiny_vae(sigma)
    with torch.no_grad():
        model.logvar_head.weight.zero_()
        model.logvar_head.bias.fill_(-20.0)
    x = tiny_x()
    run = run_of(model, batch_size=64)
    elbo = vae_scores(run, x, "elbo", 8, seed=0)
    plugin = plugin_scores(run, {"x": x, "label": torch.zeros(len(x), dtype=torch.long)})
    torch.testing.assert_close(elbo - plugin, torch.full_like(plugin, constant), atol=5e-4, rtol=0)
