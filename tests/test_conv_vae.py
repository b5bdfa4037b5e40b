"""The convolutional AE and the VAE: sizes, the KL term, sampling, and runs through aelab-train."""

import math
from pathlib import Path

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from aelab.errors import ConfigError
from aelab.models.conv import ConvAutoencoder
from aelab.models.vae import VariationalAutoencoder, gaussian_kl
from tests.conftest import TINY_TERRAIN, load_results, run_cli

MNIST_T10K = ["data=mnist", "data.split=t10k", "data.download=false"]
MNIST_SIZES = ["data.val_size=50", "data.test_size=50", "data.batch_size=64"]
FEW_STEPS = ["trainer.max_epochs=1", "+trainer.limit_train_batches=2"]


def one_training_step(model: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """One Adam step on `x`; returns the loss terms before it (all parameters must get grads)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    terms, sse, _ = model.loss_terms({"x": x}, train=True)
    terms["loss"].backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, f"{name} got a zero gradient"
    optimizer.step()
    assert sse.shape == (len(x),)
    return terms


# --- the KL term --------------------------------------------------------------------------------
def test_gaussian_kl_matches_the_closed_form_by_hand():
    mu = torch.tensor([[0.0, 1.0, -2.0]])
    logvar = torch.tensor([[0.0, math.log(4.0), -1.0]])
    expected = torch.tensor([[0.0, 0.5 * (1 + 4 - 1 - math.log(4.0)), 0.5 * (4 + math.exp(-1))]])
    torch.testing.assert_close(gaussian_kl(mu, logvar), expected)


def test_gaussian_kl_matches_torch_distributions():
    generator = torch.Generator().manual_seed(0)
    mu = torch.randn(5, 4, generator=generator)
    logvar = torch.randn(5, 4, generator=generator)
    reference = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0))
    torch.testing.assert_close(gaussian_kl(mu, logvar), reference)


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_vae_loss_terms_reduce_as_documented(likelihood):
    torch.manual_seed(0)
    model = VariationalAutoencoder(
        [1, 6, 6],
        3,
        likelihood=likelihood,
        beta=0.5,
        hidden_sizes=[16],
        output_activation="sigmoid",
    ).eval()
    x = torch.rand(4, 1, 6, 6)
    terms, sse, code = model.loss_terms({"x": x}, train=False)
    mu, logvar = model.posterior(x)
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(dim=1).mean()  # summed dims, batch mean
    torch.testing.assert_close(terms["kl"], kl)
    x_mean = model.decode(mu)
    torch.testing.assert_close(sse, ((x_mean - x) ** 2).flatten(1).sum(dim=1))
    if likelihood == "bernoulli":
        recon = torch.nn.functional.binary_cross_entropy(x_mean, x, reduction="sum") / len(x)
    else:
        recon = sse.mean()
    torch.testing.assert_close(terms["recon"], recon, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(terms["loss"], terms["recon"] + 0.5 * terms["kl"])
    torch.testing.assert_close(terms["elbo"], -(terms["recon"] + terms["kl"]))
    torch.testing.assert_close(code, mu)


def test_vae_fixed_sigma_gives_the_gaussian_negative_log_likelihood():
    model = VariationalAutoencoder([1, 3, 3], 2, sigma=0.5, hidden_sizes=[8]).eval()
    x = torch.randn(3, 1, 3, 3)
    terms, sse, _ = model.loss_terms({"x": x}, train=False)
    x_mean = model.decode(model.encode(x))
    nll = -Normal(x_mean, 0.5).log_prob(x).flatten(1).sum(dim=1).mean()
    torch.testing.assert_close(terms["recon"], nll)


# --- sampling, interpolation, the deterministic encoder ------------------------------------------
@pytest.mark.parametrize(
    ("backbone", "shape"), [("mlp", [1, 28, 28]), ("conv", [1, 28, 28]), ("conv", [1, 10, 10])]
)
def test_vae_sample_interpolate_and_encode_shapes(backbone, shape):
    torch.manual_seed(0)
    model = VariationalAutoencoder(
        shape, 4, backbone=backbone, hidden_sizes=[32], channels=[4, 8], fc_sizes=[16]
    )
    x = torch.rand(2, *shape)
    assert model.sample(5).shape == (5, *shape)
    first = model.sample(3, generator=torch.Generator().manual_seed(1))
    again = model.sample(3, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(first, again)
    strip = model.interpolate(x[0], x[1], steps=7)
    assert strip.shape == (7, *shape)
    torch.testing.assert_close(strip[0], model.reconstruct(x[:1])[0])
    torch.testing.assert_close(strip[-1], model.reconstruct(x[1:])[0])
    model.train()  # the encoder is deterministic even in training mode: it gives the mean
    torch.testing.assert_close(model.encode(x), model.posterior(x)[0])
    torch.testing.assert_close(model.embed(x), model.encode(x))
    one_training_step(model, x)


def test_vae_training_samples_the_posterior():
    torch.manual_seed(0)
    model = VariationalAutoencoder([1, 5, 5], 3, hidden_sizes=[8])
    x = torch.randn(8, 1, 5, 5)
    first, _, _ = model.loss_terms({"x": x}, train=True)
    second, _, _ = model.loss_terms({"x": x}, train=True)
    assert first["recon"] != second["recon"]  # a fresh reparameterised sample each time
    evaluated = [model.loss_terms({"x": x}, train=False)[0]["recon"] for _ in range(2)]
    assert evaluated[0] == evaluated[1]


def test_vae_logs_the_kl_of_each_dimension_once_per_epoch():
    model = VariationalAutoencoder([1, 5, 5], 3, hidden_sizes=[8])
    x = torch.randn(8, 1, 5, 5)
    terms, _, _ = model.loss_terms({"x": x}, train=True)
    model.loss_terms({"x": x}, train=True)
    assert model._kl_count == 16
    torch.testing.assert_close(model._kl_sum.sum() / model._kl_count, terms["kl"].detach())


# --- the convolutional AE at every size ----------------------------------------------------------
@pytest.mark.parametrize("shape", [[1, 5, 5], [1, 10, 10], [1, 20, 20], [1, 28, 28], [3, 9, 12]])
@pytest.mark.parametrize("kernel_size", [3, 4])
def test_conv_autoencoder_decodes_to_exactly_the_input_size(shape, kernel_size):
    torch.manual_seed(0)
    model = ConvAutoencoder(
        shape,
        6,
        channels=[4, 8],
        kernel_size=kernel_size,
        output_activation="sigmoid",
        linear_path=False,
    )
    x = torch.rand(3, *shape)
    assert model.encode(x).shape == (3, 6)
    assert model(x).shape == x.shape
    one_training_step(model, x)


def test_conv_autoencoder_depth_follows_the_channels():
    model = ConvAutoencoder([1, 40, 40], 8, channels=[4, 8, 16], fc_sizes=[32])
    convs = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 8, 16]
    assert model.encoder[0].sizes == [(40, 40), (20, 20), (10, 10), (5, 5)]
    assert model(torch.rand(2, 1, 40, 40)).shape == (2, 1, 40, 40)


@pytest.mark.parametrize(
    ("make", "key"),
    [
        (lambda: ConvAutoencoder([1, 10, 10], 4, channels=[]), "model.channels"),
        (lambda: ConvAutoencoder([1, 10, 10], 4, kernel_size=1), "model.kernel_size"),
        (lambda: VariationalAutoencoder([1, 5, 5], 2, backbone="resnet"), "model.backbone"),
        (lambda: VariationalAutoencoder([1, 5, 5], 2, likelihood="poisson"), "model.likelihood"),
        (lambda: VariationalAutoencoder([1, 5, 5], 2, beta=-1.0), "model.beta"),
        (lambda: VariationalAutoencoder([1, 5, 5], 2, sigma=0.0), "model.sigma"),
        (
            lambda: VariationalAutoencoder([1, 5, 5], 2, likelihood="bernoulli"),
            "model.output_activation=sigmoid",
        ),
    ],
)
def test_bad_settings_raise_a_config_error_naming_the_key(make, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        make()


# --- end to end through aelab-train --------------------------------------------------------------
def single_result(tmp_path: Path, process) -> dict:
    assert process.returncode == 0, process.stderr[-3000:]
    (result,) = load_results(tmp_path)
    assert result["status"] == "ok"
    return result


@pytest.mark.parametrize(
    "overrides",
    [["model=conv"], ["model=vae"], ["model=vae", "model.backbone=conv", "data.resolution=5"]],
    ids=["conv", "vae-mlp", "vae-conv-r5"],
)
def test_trains_on_terrain_through_the_cli(tmp_path, overrides):
    process = run_cli(*overrides, *TINY_TERRAIN, *FEW_STEPS, cwd=tmp_path)
    metrics = single_result(tmp_path, process)["metrics"]
    assert math.isfinite(metrics["test/mse"]) and math.isfinite(metrics["test/pca_mse"])
    if "model=vae" in overrides:
        assert {"train/kl", "train/recon", "train/elbo", "kl_dim/0", "val/mse"} <= set(metrics)


@pytest.mark.parametrize(
    "overrides", [["model=conv"], ["model=vae", "model.backbone=conv"]], ids=["conv", "vae-conv"]
)
def test_trains_on_mnist_through_the_cli(tmp_path, mnist_dir, overrides):
    process = run_cli(
        *overrides, *MNIST_T10K, f"data.data_dir={mnist_dir}", *MNIST_SIZES, *FEW_STEPS,
        cwd=tmp_path,
    )  # fmt: skip
    result = single_result(tmp_path, process)
    assert result["input_dim"] == 784
    assert math.isfinite(result["metrics"]["test/mse"])
    model_class = VariationalAutoencoder if "model=vae" in overrides else ConvAutoencoder
    restored = model_class.load_from_checkpoint(result["checkpoint"], weights_only=True)
    assert restored(torch.rand(2, 1, 28, 28)).shape == (2, 1, 28, 28)
    if "model=vae" in overrides:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        tags = set()
        for events in Path(result["tensorboard_dir"]).glob("events.*"):
            accumulator = EventAccumulator(str(events), size_guidance={"images": 0})
            accumulator.Reload()
            tags |= set(accumulator.Tags()["images"])
        assert {"val/samples", "val/interpolation"} <= tags


def test_bernoulli_vae_refuses_data_outside_the_unit_interval():
    model = VariationalAutoencoder(
        [1, 5, 5], 2, likelihood="bernoulli", output_activation="sigmoid", hidden_sizes=[8]
    )
    x_train = torch.rand(4, 1, 5, 5)
    model.start_from_data(x_train, (0.0, 1.0))  # MNIST-like data are fine
    with pytest.raises(ConfigError, match=r"model\.likelihood=gaussian"):
        model.start_from_data(x_train, (-1.5, 2.0))
