"""The maths and tasks of aelab-eval on constructed cases with known answers."""

import math

import pytest
import torch
from omegaconf import OmegaConf

from aelab.data.terrain import TerrainGenerator
from aelab.errors import ConfigError
from aelab.eval import anomaly, embedding, generation
from aelab.eval._anomaly_scores import plugin_scores
from aelab.metrics import denoising, detection, probes
from aelab.models.mlp import MLPAutoencoder
from aelab.runs.checkpoints import LoadedRun
from tests.conftest import RecordingOutputs


# --- anomaly ------------------------------------------------------------------------------------
def test_auroc_is_one_for_obvious_anomalies_and_half_for_shuffled_labels():
    generator = torch.Generator().manual_seed(0)
    normal = torch.rand(900, generator=generator)  # scores in [0, 1]
    anomalous = 50 + torch.rand(100, generator=generator)  # far above every normal score
    scores = torch.cat([normal, anomalous]).double()
    is_anomaly = torch.cat([torch.zeros(900), torch.ones(100)]).bool()
    metrics = detection.detection_metrics(scores, is_anomaly, threshold=10.0)
    assert metrics["auroc"] == pytest.approx(1.0)
    assert metrics["average_precision"] == pytest.approx(1.0)
    assert metrics["precision_at_n"] == pytest.approx(1.0)
    assert metrics["f1"] == pytest.approx(1.0)

    shuffled = is_anomaly[torch.randperm(1000, generator=generator)]
    metrics = detection.detection_metrics(scores, shuffled, threshold=10.0)
    assert abs(metrics["auroc"] - 0.5) < 0.08
    assert abs(metrics["average_precision"] - 0.1) < 0.06


def test_auroc_is_not_squashed_by_large_scores():
    # raw scores far above 1 would all become 1.0 through torchmetrics' sigmoid
    scores = torch.tensor([100.0, 101.0, 102.0, 200.0, 201.0]).double()
    is_anomaly = torch.tensor([0, 0, 0, 1, 1]).bool()
    assert detection.detection_metrics(scores, is_anomaly, 150.0)["auroc"] == pytest.approx(1.0)


@pytest.mark.parametrize("contamination", [0.05, 0.1, 0.25])
def test_contamination_threshold_flags_that_fraction_of_training_scores(contamination):
    train = torch.randn(2000, generator=torch.Generator().manual_seed(1)).exp().double()
    threshold = detection.contamination_threshold(train, contamination)
    assert float((train > threshold).double().mean()) == pytest.approx(contamination, abs=1e-3)
    # PyOD: threshold_ = np.percentile(decision_scores_, 100 * (1 - contamination))
    expected = torch.quantile(train, 1 - contamination)
    assert threshold == pytest.approx(float(expected))


def test_contamination_out_of_range_is_a_config_error():
    with pytest.raises(ConfigError, match="anomaly.contamination"):
        detection.contamination_threshold(torch.rand(10).double(), 0.9)


def test_metrics_need_both_kinds_of_sample():
    with pytest.raises(ConfigError, match="both normal and anomalous"):
        detection.detection_metrics(torch.rand(10).double(), torch.zeros(10).bool(), 0.5)


class TinyVAE(MLPAutoencoder):
    """An MLP AE that samples and reports batch-mean recon and KL terms, like a VAE."""

    def sample(self, n: int) -> torch.Tensor:
        return self.decode(torch.randn(n, self.latent_dim))

    def loss_terms(self, batch, train):
        x = batch["x"]
        z = self.encode(x)
        sse = ((self.decode(z) - x) ** 2).flatten(1).sum(dim=1)
        kl = 0.5 * (z**2).sum(dim=1)
        terms = {"recon": 2 * sse.mean(), "kl": kl.mean()}  # recon: a NLL other than the sse
        terms["loss"] = terms["recon"] + terms["kl"]
        return terms, sse, z


def _run(model, datamodule) -> LoadedRun:
    return LoadedRun(model.eval(), datamodule, {}, None, torch.device("cpu"), batch_size=64)


def test_elbo_scores_are_per_sample_recon_plus_kl_terms():
    torch.manual_seed(0)
    model = TinyVAE([1, 4, 4], 3, hidden_sizes=[8]).eval()
    split = {"x": torch.randn(20, 1, 4, 4), "label": torch.zeros(20, dtype=torch.long)}
    scores = plugin_scores(_run(model, None), split)
    with torch.no_grad():
        z = model.encode(split["x"])
        sse = ((model.decode(z) - split["x"]) ** 2).flatten(1).sum(dim=1)
        expected = 2 * sse + 0.5 * (z**2).sum(dim=1)
    torch.testing.assert_close(scores, expected.double(), rtol=1e-5, atol=1e-5)


def test_elbo_score_on_a_plain_autoencoder_is_a_config_error():
    model = MLPAutoencoder([1, 4, 4], 3, hidden_sizes=[8])
    split = {"x": torch.randn(4, 1, 4, 4), "label": torch.zeros(4, dtype=torch.long)}
    with pytest.raises(ConfigError, match="anomaly.score=recon"):
        plugin_scores(_run(model, None), split)


def test_sampling_bias_test_set_is_half_summit_half_wall_mountains():
    from aelab.data.terrain import CLASS_NAMES, PARAM_NAMES, TerrainDataModule

    dm = TerrainDataModule(
        classes={"mountain": 1.0}, mountain_offset="summit", train_size=64, val_size=8, test_size=8
    )
    dm.setup()
    test = anomaly.sampling_bias_test_set(dm, 200, "summit", "wall")
    is_anomaly = test["is_anomaly"].bool()
    assert int(is_anomaly.sum()) == 100 and len(test["x"]) == 200
    assert (test["label"] == CLASS_NAMES.index("mountain")).all()
    offset = test["params"][
        :, [PARAM_NAMES.index("peak_offset_x"), PARAM_NAMES.index("peak_offset_y")]
    ]
    distance = offset.norm(dim=1)
    assert distance[~is_anomaly].max() < 0.3 < distance[is_anomaly].min()
    # standardised with the training statistics: summit windows look like the training split
    assert abs(float(test["x"][~is_anomaly].mean() - dm.split("train")["x"].mean())) < 0.3
    # the very windows of the generator's mountain mixture, seeded [data seed, 100 + half]
    for index, offset in enumerate(("summit", "wall")):
        patches = TerrainGenerator(
            dm.resolution, {"mountain": 1.0}, offset, dm.generator.roughness_scale
        ).generate(100, seed=[dm.seed, 100 + index])
        x = (patches.heights - dm.altitude_mean) / dm.altitude_std
        half = slice(100 * index, 100 * (index + 1))
        torch.testing.assert_close(test["x"][half, 0], torch.as_tensor(x, dtype=torch.float32))
        torch.testing.assert_close(test["params"][half], torch.as_tensor(patches.params).float())


# --- probes -------------------------------------------------------------------------------------
def _descriptors(n: int, seed: int) -> torch.Tensor:
    patches = TerrainGenerator(resolution=6).generate(n, seed=seed)
    return torch.as_tensor(patches.descriptors, dtype=torch.float32)


def test_ridge_probe_recovers_a_linear_map_of_the_descriptors_and_not_noise():
    fit, held_out = _descriptors(1500, 0), _descriptors(800, 1)
    mean, std = fit.mean(dim=0), fit.std(dim=0)  # descriptors span metres to metres per metre
    mixing = torch.randn(6, 8, generator=torch.Generator().manual_seed(2))  # z = D' A, m = 8
    z_fit, z_held = (fit - mean) / std @ mixing, (held_out - mean) / std @ mixing
    r2 = probes.ridge_r2(z_fit, fit, z_held, held_out)
    assert r2.shape == (6,)
    assert (r2 > 0.99).all(), r2

    noise = torch.Generator().manual_seed(3)
    z_fit, z_held = torch.randn(1500, 8, generator=noise), torch.randn(800, 8, generator=noise)
    r2 = probes.ridge_r2(z_fit, fit, z_held, held_out)
    assert (r2.abs() < 0.05).all(), r2


def test_ridge_probe_marks_constant_targets_nan():
    z = torch.randn(100, 3)
    y = torch.stack([z[:, 0], torch.full((100,), 7.0)], dim=1)
    r2 = probes.ridge_r2(z[:50], y[:50], z[50:], y[50:])
    assert r2[0] > 0.99 and math.isnan(r2[1])


def test_label_probe_reads_separable_labels_and_not_noise():
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (600,), generator=generator)
    centres = 4 * torch.randn(4, 5, generator=generator)
    z = centres[labels] + torch.randn(600, 5, generator=generator)
    accuracy = probes.ridge_accuracy(z[:400], labels[:400], z[400:], labels[400:])
    assert accuracy > 0.95
    noise = torch.randn(600, 5, generator=generator)
    accuracy = probes.ridge_accuracy(noise[:400], labels[:400], noise[400:], labels[400:])
    assert accuracy < 0.45


# --- embedding ----------------------------------------------------------------------------------
def test_latent_map_is_the_latent_for_m2_and_its_pca_otherwise():
    z = torch.randn(50, 2)
    coords, axes, share = embedding.latent_map(z)
    torch.testing.assert_close(coords, z.double())
    assert share == 1.0 and axes == ["z1", "z2"]
    flat = torch.randn(200, 6) * torch.tensor([5.0, 3.0, 0.01, 0.01, 0.01, 0.01])
    coords, axes, share = embedding.latent_map(flat)
    assert coords.shape == (200, 2) and share > 0.99 and axes[0] == "latent PC1"


# --- denoising ----------------------------------------------------------------------------------
def test_denoising_curve_rewards_a_perfect_denoiser():
    clean = torch.rand(16, 1, 10, 10, generator=torch.Generator().manual_seed(0))
    rows, pictures = denoising.denoising_curve(
        lambda noisy: clean, clean, [0.1, 0.3], "gaussian", (0.0, 1.0)
    )
    assert [r["level"] for r in rows] == [0.1, 0.3]
    assert rows[0]["psnr_noisy"] == pytest.approx(20.0, abs=0.5)  # sigma 0.1 on a unit range
    assert rows[1]["psnr_noisy"] < rows[0]["psnr_noisy"]
    assert all(r["psnr_denoised"] > 60 and r["ssim_denoised"] > 0.999 for r in rows)
    assert all(r["ssim_noisy"] < 0.95 for r in rows)
    assert len(pictures) == 2 and pictures[0][0].shape == clean.shape


def test_ssim_window_fits_small_patches():
    assert denoising.ssim_kernel(28, 28) == 11
    assert denoising.ssim_kernel(10, 10) == 9
    assert denoising.ssim_kernel(5, 5) == 5


# --- generation ---------------------------------------------------------------------------------
class FakeData:
    render = "gray"
    value_range = (0.0, 1.0)

    def split(self, name):
        x = torch.rand(12, 1, 4, 4, generator=torch.Generator().manual_seed(0))
        return {"x": x, "label": torch.arange(12) % 3}


def test_generation_builds_samples_interpolation_and_traversals():
    model = TinyVAE([1, 4, 4], 3, hidden_sizes=[8])
    settings = {
        "num_samples": 16,
        "per_row": 8,
        "interpolation_steps": 5,
        "traversal_steps": 7,
        "traversal_radius": 3.0,
        "max_dims": 16,
    }
    cfg = OmegaConf.create({"seed": 0, "generation": settings})
    out = RecordingOutputs()
    result = generation.run(_run(model, FakeData()), cfg, out)
    assert result["num_samples"] == 16 and result["traversal_dims"] == 3
    assert [len(r) for r in out.grids["generation_samples"]] == [8, 8]
    strip = out.grids["generation_interpolation"][0]
    assert strip.shape == (7, 1, 4, 4)  # x0, 5 steps, x1
    data = FakeData().split("test")
    i, j = result["interpolation_between"]
    assert data["label"][i] != data["label"][j]
    torch.testing.assert_close(strip[0], data["x"][i])
    rows = out.grids["generation_traversals"]
    assert len(rows) == 3 and all(r.shape == (7, 1, 4, 4) for r in rows)


def test_generation_on_a_plain_autoencoder_is_refused():
    cfg = OmegaConf.create({"seed": 0})
    assert generation.available(_run(TinyVAE([1, 4, 4], 2, hidden_sizes=[8]), None), cfg) is None
    reason = generation.available(_run(MLPAutoencoder([1, 4, 4], 2, hidden_sizes=[8]), None), cfg)
    assert "model=vae" in reason and "MLPAutoencoder" in reason and "\n" not in reason
