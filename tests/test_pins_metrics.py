"""What aelab-train reports beside its model is computed on the right splits: closed-form PCA
fitted on the training split and scored on the test split, and the noise probe's reference,
the expected error of answering the training mean."""

import pytest
import torch
from hydra.utils import instantiate

from aelab.metrics.pca import fit_pca
from tests.conftest import TINY_TERRAIN, load_results, run_cli


@pytest.fixture(scope="module")
def tested(tmp_path_factory) -> tuple[dict, dict[str, torch.Tensor]]:
    """One tiny run's result.json and the inputs of its splits, rebuilt from its config."""
    cwd = tmp_path_factory.mktemp("run")
    done = run_cli(*TINY_TERRAIN, "trainer.max_epochs=1", "torch_threads=1", "~logger", cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    (result,) = load_results(cwd / "outputs")
    datamodule = instantiate(result["config"]["data"])
    datamodule.setup()
    return result, {name: datamodule.split(name)["x"] for name in ("train", "val", "test")}


def pca_mse(fitted_on: torch.Tensor, scored_on: torch.Tensor, m: int, centred: bool) -> float:
    pca = fit_pca(fitted_on, m, centred=centred)
    return float(pca.reconstruction_sse(scored_on).mean()) / scored_on[0].numel()


@pytest.mark.parametrize(("key", "centred"), [("pca_mse", True), ("pca_uncentred_mse", False)])
def test_the_pca_bound_is_fitted_on_train_and_scored_on_test(tested, key, centred):
    result, x = tested
    m, reported = result["latent_dim"], result["metrics"][f"test/{key}"]
    assert reported == pytest.approx(pca_mse(x["train"], x["test"], m, centred), rel=1e-5)
    for fitted_on in ("val", "test"):  # fitted elsewhere, the bound would be another number
        other = pca_mse(x[fitted_on], x["test"], m, centred)
        assert abs(other - reported) > 1e-3 * reported, fitted_on
    metrics = result["metrics"]
    if centred:
        ratio = metrics["test/mse"] / metrics["test/pca_mse"]
        assert metrics["test/mse_over_pca"] == pytest.approx(ratio, rel=1e-5)


def test_the_noise_reference_is_the_expected_error_of_the_training_mean(tested):
    """Uniform noise over the training range [low, high]: answering a constant mu costs
    (high - low)^2 / 12 + mean((mid - mu)^2) per pixel, mid = (low + high) / 2."""
    result, x = tested
    low, high = float(x["train"].min()), float(x["train"].max())

    def expected_error(mu: torch.Tensor) -> float:
        offset = ((low + high) / 2 - mu.flatten().double()) ** 2
        return (high - low) ** 2 / 12 + float(offset.mean())

    metrics = result["metrics"]
    reference = metrics["test/noise_mse_mean"]
    assert reference == pytest.approx(expected_error(x["train"].mean(dim=0)), rel=1e-6)
    other = expected_error(x["test"].mean(dim=0))  # the test split's mean: another number
    assert abs(other - reference) > 1e-4 * reference
    ratio = metrics["test/noise_mse"] / reference
    assert metrics["test/noise_mse_over_mean"] == pytest.approx(ratio, rel=1e-5)
